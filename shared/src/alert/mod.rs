//! send-alert: check an alert request, turn it into an NCCO and place the call.
//!
//! Input: `{"to":"447700900000","code":"4821"}` or `{"to":…,"text":"Disk full on db-1"}`, with
//! optional `from`, `language`, `repeat` and `confirm`. Output: the call's uuids, or a
//! structured error naming what went wrong (`{"error":"invalid_input","field":"to",…}`).
//!
//! Every outcome, errors included, is returned as the function's payload rather than as a Lambda
//! function error: an asynchronous invocation that ends in a function error is retried by Lambda,
//! and retrying an unknown outcome could ring the phone twice.

pub mod place;
mod request;
pub mod status;

pub use request::*;

use crate::settings::{
    ALERT_LANGUAGE, DEFAULT_API_BASE_URL, DEFAULT_SECRET_CACHE, EVENT_URL, SECRET_CACHE_SECONDS,
    VONAGE_API_BASE_URL, VONAGE_APPLICATION_SECRET_ID, VONAGE_FROM_NUMBER,
};
use std::time::Duration;

use serde::Serialize;
use serde_json::{Value, json};

use crate::deadline::{Budget, DeadlineExceeded};
use crate::secrets::{CURRENT, SecretStore, SecretStoreError};
use crate::settings::{self, ConfigError, DEFAULT_LANGUAGE, Settings};
use crate::voice::{
    ApplicationJwtSigner, CallerId, CredentialsError, PhoneNumber, VoiceApi, VoiceApiError,
    VoiceClientConfig,
};

/// send-alert's settings, read once at cold start.
#[derive(Clone, Debug, PartialEq)]
pub struct AlertConfig {
    /// The Secrets Manager id of the application secret (`VONAGE_APPLICATION_SECRET_ID`).
    pub application_secret_id: String,
    /// From `VONAGE_FROM_NUMBER`; unset means `random_from_number: true`, i.e. one of the
    /// numbers linked to the application (Vonage refuses the call if none is linked).
    pub caller_id: CallerId,
    /// Our deployed event endpoint: the call's events and the confirmation digit come back there,
    /// signed.
    pub event_url: String,
    /// The voice the message is spoken in, unless a request names one (`ALERT_LANGUAGE`).
    pub language: String,
    /// The Voice API's address, timeouts and retry policy.
    pub voice: VoiceClientConfig,
    /// How long the application secret is kept once read (`SECRET_CACHE_SECONDS`).
    pub secret_cache: Duration,
}

impl AlertConfig {
    /// Reads send-alert's settings; an error names the setting to fix.
    pub fn from_settings(settings: &impl Settings) -> Result<Self, ConfigError> {
        let application_secret_id = settings::required(settings, VONAGE_APPLICATION_SECRET_ID)?;
        let base_url = settings::url(settings, VONAGE_API_BASE_URL)?
            .unwrap_or_else(|| DEFAULT_API_BASE_URL.to_owned());
        let caller_id = match settings::optional(settings, VONAGE_FROM_NUMBER) {
            None => CallerId::RandomLinkedNumber,
            Some(number) => CallerId::Number(PhoneNumber::parse(&number).map_err(|error| {
                ConfigError::Invalid {
                    name: VONAGE_FROM_NUMBER,
                    problem: error.to_string(),
                }
            })?),
        };
        let event_url =
            settings::url(settings, EVENT_URL)?.ok_or(ConfigError::Missing { name: EVENT_URL })?;
        let language = settings::optional(settings, ALERT_LANGUAGE)
            .unwrap_or_else(|| DEFAULT_LANGUAGE.to_owned());
        if !settings::is_language_tag(&language) {
            return Err(ConfigError::Invalid {
                name: ALERT_LANGUAGE,
                problem: format!("expected a language tag such as en-US, got {language:?}"),
            });
        }
        let secret_cache =
            settings::seconds_or(settings, SECRET_CACHE_SECONDS, DEFAULT_SECRET_CACHE)?;
        Ok(Self {
            application_secret_id,
            caller_id,
            event_url,
            language,
            voice: VoiceClientConfig::new(&base_url),
            secret_cache,
        })
    }
}

/// A placed call.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AlertSent {
    /// The placed call's uuid, from the Voice API's answer.
    pub call_uuid: String,
    /// The call's conversation uuid, when the Voice API gave one.
    pub conversation_uuid: Option<String>,
    /// The call's status as the Voice API reported it (usually `started`).
    pub status: String,
}

#[derive(Debug, thiserror::Error)]
/// Why an alert was not placed, or may not have been; each has a stable [`AlertError::kind`].
pub enum AlertError {
    #[error("invalid input: {0}")]
    /// The input was refused before anything was read or sent.
    InvalidInput(#[from] InvalidInput),
    /// The secret store failed or refused the read.
    #[error("the application secret could not be read: {0}")]
    SecretUnavailable(#[source] SecretStoreError),
    /// The application secret has no current version.
    #[error("the application secret could not be read: {secret_id} has no {CURRENT} version")]
    /// The application secret has no current version.
    NoCurrentSecret {
        /// The secret's id.
        secret_id: String,
    },
    /// The deadline came before anything was sent to Vonage: no call was placed.
    #[error("no call was placed: {0}; sending again is safe")]
    DeadlineExceeded(#[from] DeadlineExceeded),
    #[error(transparent)]
    /// The application secret holds no usable key: no call was placed.
    Credentials(#[from] CredentialsError),
    #[error(transparent)]
    /// The Voice API failed or refused; its error says whether a call may have been placed.
    Voice(#[from] VoiceApiError),
}

impl AlertError {
    /// A stable snake_case name, the `error` field of the payload.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::InvalidInput(_) => "invalid_input",
            Self::SecretUnavailable(_) | Self::NoCurrentSecret { .. } => "secret_unavailable",
            Self::DeadlineExceeded(_) | Self::Voice(VoiceApiError::DeadlineExceeded { .. }) => {
                "deadline_exceeded"
            }
            Self::Credentials(_) | Self::Voice(VoiceApiError::Credentials(_)) => {
                "invalid_credentials"
            }
            Self::Voice(VoiceApiError::OutcomeUnknown { .. }) => "outcome_unknown",
            Self::Voice(VoiceApiError::Rejected { .. }) => "call_rejected",
            Self::Voice(VoiceApiError::RateLimited { .. }) => "rate_limited",
            Self::Voice(VoiceApiError::Unreachable { .. }) => "voice_api_unreachable",
            Self::Voice(VoiceApiError::ClientSetup(_)) => "internal",
        }
    }

    /// The payload send-alert returns: `error` names the kind, `field` the input at fault,
    /// `status`/`body` what the Voice API answered.
    pub fn to_json(&self) -> Value {
        let mut payload = json!({"error": self.kind()});
        match self {
            Self::InvalidInput(invalid) => {
                payload["field"] = json!(invalid.field);
                payload["message"] = json!(invalid.message);
                return payload;
            }
            Self::Voice(VoiceApiError::OutcomeUnknown { status, body, .. }) => {
                payload["status"] = json!(status);
                payload["body"] = json!(body);
            }
            Self::Voice(VoiceApiError::Rejected { status, body }) => {
                payload["status"] = json!(status);
                payload["body"] = json!(body);
            }
            Self::Voice(VoiceApiError::RateLimited { attempts, body }) => {
                payload["attempts"] = json!(attempts);
                payload["body"] = json!(body);
            }
            Self::Voice(
                VoiceApiError::Unreachable { attempts, .. }
                | VoiceApiError::DeadlineExceeded { attempts, .. },
            ) => {
                payload["attempts"] = json!(attempts);
            }
            _ => {}
        }
        payload["message"] = json!(self.to_string());
        payload
    }
}

/// The send-alert payload for an outcome.
pub fn response_payload(outcome: &Result<AlertSent, AlertError>) -> Value {
    match outcome {
        Ok(sent) => serde_json::to_value(sent).unwrap_or_default(),
        Err(error) => error.to_json(),
    }
}

/// Reads the application secret's current version, within `budget`, and loads its signing key.
pub async fn load_signer(
    secrets: &dyn SecretStore,
    secret_id: &str,
    budget: &Budget,
) -> Result<ApplicationJwtSigner, AlertError> {
    // The store's own timeouts apply inside; the budget cuts the read shorter when the deadline
    // is nearer than they are.
    let secret = budget
        .run(
            "reading the application secret",
            secrets.secret_string(secret_id, CURRENT),
        )
        .await?
        .map_err(AlertError::SecretUnavailable)?
        .ok_or_else(|| AlertError::NoCurrentSecret {
            secret_id: secret_id.to_owned(),
        })?;
    Ok(ApplicationJwtSigner::from_secret_json(&secret)?)
}

/// Places the call for a checked request, within `budget`.
pub async fn place_alert(
    request: &AlertRequest,
    config: &AlertConfig,
    signer: &ApplicationJwtSigner,
    voice: &dyn VoiceApi,
    budget: &Budget,
) -> Result<AlertSent, AlertError> {
    let call = create_call_request(request, config)?;
    let created = voice.create_call(signer, &call, budget).await?;
    Ok(AlertSent {
        call_uuid: created.uuid,
        conversation_uuid: created.conversation_uuid,
        // A 201 means the call was started, whether or not the answer says so.
        status: created.status.unwrap_or_else(|| "started".to_owned()),
    })
}

/// The whole of send-alert: the input is checked before the secret is read, so a typo costs no
/// Secrets Manager call and a bad secret never hides a bad input. Logs one line.
///
/// `budget` is the invocation's time (see [`Budget::for_invocation`]): the secret read and each
/// Voice API attempt fit inside it, so the caller always gets an answer. Time running out before
/// a request was sent gives `deadline_exceeded` (safe to send again); after a request was sent
/// and before its answer, `outcome_unknown` (never retried: the phone may be ringing).
pub async fn handle_alert(
    input: &Value,
    config: &AlertConfig,
    secrets: &dyn SecretStore,
    voice: &dyn VoiceApi,
    budget: &Budget,
) -> Result<AlertSent, AlertError> {
    let outcome = async {
        let request = AlertRequest::from_json(input)?;
        let signer = load_signer(secrets, &config.application_secret_id, budget).await?;
        place_alert(&request, config, &signer, voice, budget).await
    }
    .await;
    if let Err(AlertError::Voice(VoiceApiError::Rejected { status: 401, .. })) = &outcome {
        // Vonage refused our token: the key may have been rotated, so read it afresh next time.
        secrets.forget(&config.application_secret_id);
    }
    crate::observe::metrics::alert_attempted(&outcome);
    if let Ok(sent) = &outcome {
        crate::observe::logging::record_call_uuid(Some(&sent.call_uuid));
    }
    match &outcome {
        Ok(sent) => tracing::info!(
            call_uuid = %sent.call_uuid,
            conversation_uuid = sent.conversation_uuid.as_deref().unwrap_or(""),
            status = %sent.status,
            "alert call placed"
        ),
        Err(error) => tracing::error!(error = error.kind(), detail = %error, "alert not placed"),
    }
    outcome
}

#[cfg(test)]
mod tests;
