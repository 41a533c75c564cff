//! Vonage's Applications API v2, for the one thing this project needs from it: keeping
//! `capabilities.voice.signed_callbacks` on and the voice webhooks pointing at our stack.
//!
//! `PUT /v2/applications/{id}` replaces the whole application, and the Developer Preview drops
//! `signed_callbacks` whenever someone edits the application in the Dashboard. So the application
//! is handled as an untyped JSON document: activation changes only the fields it means to change,
//! in place and in their original key order, and writes everything else back as it was read. A
//! capability or field this code has never heard of survives the round trip.

use std::fmt;

use serde_json::Value;

use crate::deadline::{Budget, DeadlineExceeded};
use crate::observe::Cause;

mod activation;
mod client;
pub mod contract;
pub mod drift;
mod status;

use crate::secrets::SecretDocumentError;
pub use activation::*;
pub use client::*;
pub use contract::{Contract, ContractProblem};
pub use status::*;

/// Error bodies are quoted in messages up to this many characters.
const MAX_QUOTED_BODY_CHARS: usize = 1000;

/// The account's API key and secret, for `Authorization: Basic`.
#[derive(Clone)]
pub struct ApiCredentials {
    api_key: String,
    api_secret: String,
}

impl ApiCredentials {
    /// Credentials from the account's API key and secret.
    pub fn new(api_key: impl Into<String>, api_secret: impl Into<String>) -> Self {
        Self {
            api_key: api_key.into(),
            api_secret: api_secret.into(),
        }
    }

    /// The API key (the secret is never handed out).
    pub fn api_key(&self) -> &str {
        &self.api_key
    }
}

impl fmt::Debug for ApiCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiCredentials")
            .field("api_key", &self.api_key)
            .field("api_secret", &"<redacted>")
            .finish()
    }
}

/// What the Applications API needs from the application secret (`VONAGE_APPLICATION_SECRET_ID`,
/// `{"application_id","private_key","api_key","api_secret"}`). The private key is never read here.
#[derive(Clone, Debug)]
pub struct ApplicationApiAccess {
    /// The application to check or change.
    pub application_id: String,
    /// The account's API key and secret.
    pub credentials: ApiCredentials,
}

impl ApplicationApiAccess {
    /// Errors name the field, never its value.
    pub fn from_secret_json(json: &str) -> Result<Self, SecretDocumentError> {
        let value: Value =
            serde_json::from_str(json).map_err(|error| SecretDocumentError::NotJson {
                line: error.line(),
                column: error.column(),
            })?;
        let fields = value.as_object().ok_or(SecretDocumentError::NotAnObject)?;
        let required = |name: &'static str| match fields.get(name) {
            None | Some(Value::Null) => Err(SecretDocumentError::MissingField(name)),
            Some(Value::String(text)) if !text.trim().is_empty() => Ok(text.trim().to_owned()),
            Some(_) => Err(SecretDocumentError::InvalidField(name)),
        };
        Ok(Self {
            application_id: required("application_id")?,
            credentials: ApiCredentials::new(required("api_key")?, required("api_secret")?),
        })
    }
}

/// Why a call to the Applications API failed. No variant ever carries the API secret.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ApplicationsError {
    #[error(
        "the Applications API refused the API key and secret (401 Unauthorized): check that they \
         are the key and secret of the account that owns the application"
    )]
    /// 401 or 403: the API key and secret were refused.
    BadCredentials,
    #[error(
        "the Applications API knows no application {application_id} for this API key \
         (404 Not Found): check the application id and that it belongs to this account"
    )]
    /// 404: no such application in this account.
    UnknownApplication {
        /// The application's id.
        application_id: String,
    },
    #[error("the Applications API could not be reached: {0}")]
    /// No answer: DNS, TLS, connection or timeout, with its causes.
    Network(#[source] Cause),
    #[error("the Applications API answered {status}: {body}")]
    /// Any other status, with the start of its body.
    Unexpected {
        /// The HTTP status.
        status: u16,
        /// The answer's body, shortened.
        body: String,
    },
    #[error(
        "the Applications API answered {status} with a body that is not an application: {problem}"
    )]
    /// A 2xx whose body is not an application.
    InvalidResponse {
        /// The HTTP status.
        status: u16,
        /// What went wrong.
        problem: String,
    },
    #[error("the Applications API base URL {url:?} is not an absolute http(s) URL")]
    /// The base URL is not an http(s) URL.
    InvalidBaseUrl {
        /// The URL given.
        url: String,
    },
    #[error(transparent)]
    /// The caller's deadline came first.
    DeadlineExceeded(#[from] DeadlineExceeded),
}

/// One external system: reading and replacing an application.
#[async_trait::async_trait]
pub trait ApplicationsApi: Send + Sync {
    /// `GET /v2/applications/{id}`: the application as Vonage returns it.
    async fn get_application(&self, application_id: &str) -> Result<Value, ApplicationsError>;

    /// `PUT /v2/applications/{id}` with the whole application; returns Vonage's answer.
    async fn put_application(
        &self,
        application_id: &str,
        application: &Value,
    ) -> Result<Value, ApplicationsError>;
}

/// An [`ApplicationsApi`] whose every call fits in a [`Budget`] (an invocation's time): each call
/// gets the shorter of the client's own timeout and the time left, and none is started once the
/// budget is spent. Activation only ever PUTs the whole application, so a PUT cut short is safe
/// to send again.
pub struct WithinBudget<'a> {
    /// The API to call.
    pub api: &'a dyn ApplicationsApi,
    /// The budget every call must fit in.
    pub budget: &'a Budget,
}

#[async_trait::async_trait]
impl ApplicationsApi for WithinBudget<'_> {
    async fn get_application(&self, application_id: &str) -> Result<Value, ApplicationsError> {
        self.budget
            .run(
                "reading the application",
                self.api.get_application(application_id),
            )
            .await?
    }

    async fn put_application(
        &self,
        application_id: &str,
        application: &Value,
    ) -> Result<Value, ApplicationsError> {
        self.budget
            .run(
                "writing the application back",
                self.api.put_application(application_id, application),
            )
            .await?
    }
}

#[cfg(test)]
mod tests;
