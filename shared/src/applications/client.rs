//! The Applications API over HTTPS with `reqwest`.

use crate::observe::remote::{Service, remote_call};
use std::fmt;
use std::time::Duration;

use serde_json::Value;

use super::*;

/// The Applications API over HTTPS with `reqwest`.
pub struct HttpApplicationsApi {
    client: reqwest::Client,
    base_url: reqwest::Url,
    credentials: ApiCredentials,
}

impl fmt::Debug for HttpApplicationsApi {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpApplicationsApi")
            .field("base_url", &self.base_url.as_str())
            .field("credentials", &self.credentials)
            .finish_non_exhaustive()
    }
}

impl HttpApplicationsApi {
    /// `timeout` bounds each whole request; connecting gets at most five seconds of it.
    pub fn new(
        base_url: &str,
        credentials: ApiCredentials,
        timeout: Duration,
    ) -> Result<Self, ApplicationsError> {
        let invalid = || ApplicationsError::InvalidBaseUrl {
            url: base_url.to_owned(),
        };
        let base_url = reqwest::Url::parse(base_url).map_err(|_| invalid())?;
        if !matches!(base_url.scheme(), "http" | "https") || base_url.cannot_be_a_base() {
            return Err(invalid());
        }
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(5)))
            .build()
            .map_err(|error| ApplicationsError::Network(Cause::of(error)))?;
        Ok(Self {
            client,
            base_url,
            credentials,
        })
    }

    /// The application's URL. The id is one path segment, percent-encoded, so an odd id can never
    /// reach another path.
    pub(super) fn application_url(&self, application_id: &str) -> reqwest::Url {
        let mut url = self.base_url.clone();
        if let Ok(mut segments) = url.path_segments_mut() {
            segments
                .pop_if_empty()
                .extend(["v2", "applications", application_id]);
        }
        url
    }

    fn request(&self, method: reqwest::Method, application_id: &str) -> reqwest::RequestBuilder {
        self.client
            .request(method, self.application_url(application_id))
            .basic_auth(
                &self.credentials.api_key,
                Some(&self.credentials.api_secret),
            )
            .header(reqwest::header::ACCEPT, "application/json")
    }

    async fn application_from(
        &self,
        sent: Result<reqwest::Response, reqwest::Error>,
        application_id: &str,
    ) -> Result<Value, ApplicationsError> {
        let response = sent.map_err(|error| ApplicationsError::Network(Cause::of(error)))?;
        let status = response.status().as_u16();
        let body = response
            .text()
            .await
            .map_err(|error| ApplicationsError::Network(Cause::of(error)))?;
        match status {
            200..=299 => match serde_json::from_str::<Value>(&body) {
                Ok(application @ Value::Object(_)) => Ok(application),
                Ok(_) => Err(ApplicationsError::InvalidResponse {
                    status,
                    problem: "the JSON is not an object".into(),
                }),
                Err(error) => Err(ApplicationsError::InvalidResponse {
                    status,
                    problem: format!("not JSON ({error})"),
                }),
            },
            401 => Err(ApplicationsError::BadCredentials),
            404 => Err(ApplicationsError::UnknownApplication {
                application_id: application_id.to_owned(),
            }),
            _ => Err(ApplicationsError::Unexpected {
                status,
                body: self.quotable(&body),
            }),
        }
    }

    /// An error body fit for a message: shortened, and with the secret removed should a server
    /// ever echo it.
    pub(super) fn quotable(&self, body: &str) -> String {
        let mut text: String = body.chars().take(MAX_QUOTED_BODY_CHARS).collect();
        if body.chars().count() > MAX_QUOTED_BODY_CHARS {
            text.push('…');
        }
        if self.credentials.api_secret.is_empty() {
            text
        } else {
            text.replace(&self.credentials.api_secret, "<redacted>")
        }
    }
}

#[async_trait::async_trait]
impl ApplicationsApi for HttpApplicationsApi {
    async fn get_application(&self, application_id: &str) -> Result<Value, ApplicationsError> {
        let request = self.request(reqwest::Method::GET, application_id).send();
        let sent = remote_call(Service::VonageApplications, "GetApplication", request).await;
        self.application_from(sent, application_id).await
    }

    async fn put_application(
        &self,
        application_id: &str,
        application: &Value,
    ) -> Result<Value, ApplicationsError> {
        let request = self
            .request(reqwest::Method::PUT, application_id)
            .json(application)
            .send();
        let sent = remote_call(Service::VonageApplications, "UpdateApplication", request).await;
        self.application_from(sent, application_id).await
    }
}
