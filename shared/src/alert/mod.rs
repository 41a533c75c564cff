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
pub mod status;

use std::time::Duration;

use serde::Serialize;
use serde_json::{Value, json};

use crate::deadline::{Budget, DeadlineExceeded};
use crate::observe::logging;
use crate::secrets::{CURRENT, SecretStore};
use crate::settings::{self, ConfigError, Settings};
use crate::voice::{
    ApplicationJwtSigner, CallerId, CreateCallRequest, CredentialsError, DEFAULT_API_BASE_URL,
    PhoneNumber, VoiceApi, VoiceApiError, VoiceClientConfig,
};
use crate::vonage::ncco::{self, Action, Input, Ncco, NccoError, Talk};

pub const APPLICATION_SECRET_ID_SETTING: &str = "VONAGE_APPLICATION_SECRET_ID";
pub const API_BASE_URL_SETTING: &str = "VONAGE_API_BASE_URL";
pub const FROM_NUMBER_SETTING: &str = "VONAGE_FROM_NUMBER";
pub const EVENT_URL_SETTING: &str = "EVENT_URL";
pub const LANGUAGE_SETTING: &str = "ALERT_LANGUAGE";
pub const SECRET_CACHE_SETTING: &str = "SECRET_CACHE_SECONDS";
/// How long a warm send-alert keeps the application secret before reading it again.
pub const DEFAULT_SECRET_CACHE: Duration = Duration::from_secs(300);
pub const DEFAULT_LANGUAGE: &str = "en-US";

pub const MIN_CODE_DIGITS: usize = 4;
pub const MAX_CODE_DIGITS: usize = 10;
pub const MAX_TEXT_CHARACTERS: usize = ncco::MAX_TALK_CHARACTERS;
pub const MAX_REPEAT: u64 = 10;
/// A code is read twice unless asked otherwise: a callee who missed a digit hears it again.
pub const DEFAULT_CODE_REPEAT: u32 = 2;
pub const DEFAULT_TEXT_REPEAT: u32 = 1;

/// The prompt and wait of a confirmed alert. The prompt is English whatever `language` says;
/// `language` picks the voice.
pub const CONFIRM_PROMPT: &str = "Press 1 to confirm that you received this message.";
pub const CONFIRM_WAIT_SECONDS: u8 = 10;

const KNOWN_FIELDS: [&str; 7] = [
    "to", "from", "code", "text", "language", "repeat", "confirm",
];

/// send-alert's settings, read once at cold start.
#[derive(Clone, Debug, PartialEq)]
pub struct AlertConfig {
    pub application_secret_id: String,
    /// From `VONAGE_FROM_NUMBER`; unset means `random_from_number: true`, i.e. one of the
    /// numbers linked to the application (Vonage refuses the call if none is linked).
    pub caller_id: CallerId,
    /// Our deployed event endpoint: the call's events and the confirmation digit come back there,
    /// signed.
    pub event_url: String,
    pub language: String,
    pub voice: VoiceClientConfig,
    /// How long the application secret is kept once read (`SECRET_CACHE_SECONDS`).
    pub secret_cache: Duration,
}

impl AlertConfig {
    pub fn from_settings(settings: &impl Settings) -> Result<Self, ConfigError> {
        let application_secret_id = settings::required(settings, APPLICATION_SECRET_ID_SETTING)?;
        let base_url = settings::url(settings, API_BASE_URL_SETTING)?
            .unwrap_or_else(|| DEFAULT_API_BASE_URL.to_owned());
        let caller_id = match settings::optional(settings, FROM_NUMBER_SETTING) {
            None => CallerId::RandomLinkedNumber,
            Some(number) => CallerId::Number(PhoneNumber::parse(&number).map_err(|error| {
                ConfigError::Invalid {
                    name: FROM_NUMBER_SETTING,
                    problem: error.to_string(),
                }
            })?),
        };
        let event_url =
            settings::url(settings, EVENT_URL_SETTING)?.ok_or(ConfigError::Missing {
                name: EVENT_URL_SETTING,
            })?;
        let language = settings::optional(settings, LANGUAGE_SETTING)
            .unwrap_or_else(|| DEFAULT_LANGUAGE.to_owned());
        if !is_language_tag(&language) {
            return Err(ConfigError::Invalid {
                name: LANGUAGE_SETTING,
                problem: format!("expected a language tag such as en-US, got {language:?}"),
            });
        }
        let secret_cache =
            settings::seconds_or(settings, SECRET_CACHE_SETTING, DEFAULT_SECRET_CACHE)?;
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

/// What to say.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Message {
    /// 4 to 10 digits, read one by one.
    Code(String),
    Text(String),
}

/// A checked alert request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AlertRequest {
    pub to: PhoneNumber,
    pub from: Option<PhoneNumber>,
    pub message: Message,
    pub language: Option<String>,
    /// How many times the message is spoken (the talk's `loop`).
    pub repeat: u32,
    /// Ask the callee to press 1.
    pub confirm: bool,
}

#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq, Serialize)]
#[error("{field}: {message}")]
pub struct InvalidInput {
    /// The input field at fault; `$` for the input as a whole.
    pub field: String,
    pub message: String,
}

impl InvalidInput {
    fn new(field: &str, message: impl Into<String>) -> Self {
        Self {
            field: field.to_owned(),
            message: message.into(),
        }
    }
}

impl AlertRequest {
    pub fn from_json(input: &Value) -> Result<Self, InvalidInput> {
        let Some(fields) = input.as_object() else {
            return Err(InvalidInput::new(
                "$",
                r#"the input must be a JSON object such as {"to":"447700900000","code":"4821"}"#,
            ));
        };
        if let Some(unknown) = fields
            .keys()
            .find(|name| !KNOWN_FIELDS.contains(&name.as_str()))
        {
            // The name is the caller's: cut and escaped here, so neither the reply's `field` nor
            // the error log line (which shows this error) repeats a name of any length.
            return Err(InvalidInput::new(
                &logging::capped(unknown),
                format!("is not a known field; expected {}", KNOWN_FIELDS.join(", ")),
            ));
        }
        // An explicit null reads as "not given".
        let field = |name: &str| fields.get(name).filter(|value| !value.is_null());

        let to = match field("to") {
            None => return Err(InvalidInput::new("to", "is required")),
            Some(value) => phone_number("to", value)?,
        };
        let from = field("from")
            .map(|value| phone_number("from", value))
            .transpose()?;
        let message = match (field("code"), field("text")) {
            (None, None) => {
                return Err(InvalidInput::new("code", "give either code or text"));
            }
            (Some(_), Some(_)) => {
                return Err(InvalidInput::new(
                    "text",
                    "give either code or text, not both",
                ));
            }
            (Some(code), None) => Message::Code(checked_code(code)?),
            (None, Some(text)) => Message::Text(checked_text(text)?),
        };
        let language = field("language")
            .map(|value| match value.as_str() {
                Some(tag) if is_language_tag(tag) => Ok(tag.to_owned()),
                _ => Err(InvalidInput::new(
                    "language",
                    "must be a language tag such as en-US or de-DE",
                )),
            })
            .transpose()?;
        let repeat = match field("repeat") {
            None => match message {
                Message::Code(_) => DEFAULT_CODE_REPEAT,
                Message::Text(_) => DEFAULT_TEXT_REPEAT,
            },
            Some(value) => value
                .as_u64()
                .filter(|times| (1..=MAX_REPEAT).contains(times))
                .and_then(|times| u32::try_from(times).ok())
                .ok_or_else(|| {
                    InvalidInput::new(
                        "repeat",
                        format!("must be a whole number from 1 to {MAX_REPEAT}"),
                    )
                })?,
        };
        let confirm = match field("confirm") {
            None => false,
            Some(value) => value
                .as_bool()
                .ok_or_else(|| InvalidInput::new("confirm", "must be true or false"))?,
        };
        Ok(Self {
            to,
            from,
            message,
            language,
            repeat,
            confirm,
        })
    }
}

fn phone_number(field: &str, value: &Value) -> Result<PhoneNumber, InvalidInput> {
    let text = value.as_str().ok_or_else(|| {
        InvalidInput::new(field, "must be a string of digits such as \"447700900000\"")
    })?;
    PhoneNumber::parse(text).map_err(|error| InvalidInput::new(field, error.to_string()))
}

fn checked_code(value: &Value) -> Result<String, InvalidInput> {
    let message = format!("must be a string of {MIN_CODE_DIGITS} to {MAX_CODE_DIGITS} digits");
    let code = value
        .as_str()
        .filter(|code| (MIN_CODE_DIGITS..=MAX_CODE_DIGITS).contains(&code.len()))
        .filter(|code| code.bytes().all(|b| b.is_ascii_digit()))
        .ok_or_else(|| InvalidInput::new("code", message))?;
    Ok(code.to_owned())
}

fn checked_text(value: &Value) -> Result<String, InvalidInput> {
    let text = value
        .as_str()
        .ok_or_else(|| InvalidInput::new("text", "must be a string"))?;
    if text.trim().is_empty() {
        return Err(InvalidInput::new("text", "must not be empty"));
    }
    let length = text.chars().count();
    if length > MAX_TEXT_CHARACTERS {
        return Err(InvalidInput::new(
            "text",
            format!("has {length} characters, more than {MAX_TEXT_CHARACTERS}"),
        ));
    }
    Ok(text.to_owned())
}

/// BCP-47 as Vonage uses it: a 2–3 letter language, then subtags such as a region ("en-US").
fn is_language_tag(tag: &str) -> bool {
    let mut parts = tag.split('-');
    let language_ok = parts
        .next()
        .is_some_and(|p| (2..=3).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_alphabetic()));
    language_ok
        && parts.all(|p| (2..=8).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_alphanumeric()))
}

/// The alert's NCCO: the message (a code digit by digit), repeated; with `confirm`, the message
/// and a prompt can be interrupted by a key, and a one-digit DTMF input posts it to `event_url`.
pub fn build_ncco(
    request: &AlertRequest,
    default_language: &str,
    event_url: &str,
) -> Result<Ncco, NccoError> {
    let language = request.language.as_deref().unwrap_or(default_language);
    let spoken = match &request.message {
        Message::Code(code) => format!("Your code is {}.", ncco::code_as_spoken_digits(code)?),
        Message::Text(text) => text.clone(),
    };
    let mut message = Talk::new(spoken);
    message.language = Some(language.to_owned());
    message.repeat = Some(request.repeat);
    if !request.confirm {
        return Ncco::new(vec![Action::Talk(message)]);
    }
    message.barge_in = Some(true);
    let mut prompt = Talk::new(CONFIRM_PROMPT);
    prompt.language = Some(language.to_owned());
    prompt.barge_in = Some(true);
    Ncco::new(vec![
        Action::Talk(message),
        Action::Talk(prompt),
        Action::Input(Input::dtmf(1, CONFIRM_WAIT_SECONDS, event_url)),
    ])
}

/// The Voice API request for a checked alert.
pub fn create_call_request(
    request: &AlertRequest,
    config: &AlertConfig,
) -> Result<CreateCallRequest, InvalidInput> {
    let ncco = build_ncco(request, &config.language, &config.event_url).map_err(|error| {
        let field = match request.message {
            Message::Code(_) => "code",
            Message::Text(_) => "text",
        };
        // Only reachable for text that is nothing but SSML tags.
        InvalidInput::new(field, error.to_string())
    })?;
    Ok(CreateCallRequest {
        to: request.to.clone(),
        from: request
            .from
            .clone()
            .map(CallerId::Number)
            .unwrap_or_else(|| config.caller_id.clone()),
        ncco,
        event_url: Some(config.event_url.clone()),
    })
}

/// A placed call.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AlertSent {
    pub call_uuid: String,
    pub conversation_uuid: Option<String>,
    pub status: String,
}

#[derive(Debug, thiserror::Error)]
pub enum AlertError {
    #[error("invalid input: {0}")]
    InvalidInput(#[from] InvalidInput),
    #[error("the application secret could not be read: {0}")]
    SecretUnavailable(String),
    /// The deadline came before anything was sent to Vonage: no call was placed.
    #[error("no call was placed: {0}; sending again is safe")]
    DeadlineExceeded(#[from] DeadlineExceeded),
    #[error(transparent)]
    Credentials(#[from] CredentialsError),
    #[error(transparent)]
    Voice(#[from] VoiceApiError),
}

impl AlertError {
    /// A stable snake_case name, the `error` field of the payload.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::InvalidInput(_) => "invalid_input",
            Self::SecretUnavailable(_) => "secret_unavailable",
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
        .map_err(|error| AlertError::SecretUnavailable(error.to_string()))?
        .ok_or_else(|| {
            AlertError::SecretUnavailable(format!("{secret_id} has no {CURRENT} version"))
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
mod tests {
    use super::*;
    use crate::secrets::InMemorySecretStore;
    use crate::voice::CreateCallResponse;
    use crate::webhook::{ManualClock, SystemClock};
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex};

    const EVENT: &str = "https://hooks.example.com/event";

    fn settings() -> HashMap<String, String> {
        HashMap::from([
            (APPLICATION_SECRET_ID_SETTING.into(), "vonage/app".into()),
            (EVENT_URL_SETTING.into(), EVENT.into()),
        ])
    }

    fn config() -> AlertConfig {
        AlertConfig::from_settings(&settings()).unwrap()
    }

    fn request(input: Value) -> AlertRequest {
        AlertRequest::from_json(&input).unwrap()
    }

    fn refusal(input: Value) -> InvalidInput {
        AlertRequest::from_json(&input).unwrap_err()
    }

    #[test]
    fn config_defaults_and_random_caller_id() {
        let config = config();
        assert_eq!(config.application_secret_id, "vonage/app");
        assert_eq!(config.event_url, EVENT);
        assert_eq!(config.language, "en-US");
        assert_eq!(config.caller_id, CallerId::RandomLinkedNumber);
        assert_eq!(config.voice.base_url, "https://api.nexmo.com");
    }

    #[test]
    fn config_reads_every_setting() {
        let mut settings = settings();
        settings.insert(
            API_BASE_URL_SETTING.into(),
            "https://api-eu-3.vonage.com/".into(),
        );
        settings.insert(FROM_NUMBER_SETTING.into(), "+44 7700 900001".into());
        settings.insert(LANGUAGE_SETTING.into(), "en-GB".into());
        let config = AlertConfig::from_settings(&settings).unwrap();
        assert_eq!(
            config.voice.create_call_url(),
            "https://api-eu-3.vonage.com/v1/calls"
        );
        assert_eq!(
            config.caller_id,
            CallerId::Number(PhoneNumber::parse("447700900001").unwrap())
        );
        assert_eq!(config.language, "en-GB");
    }

    #[test]
    fn config_errors_name_the_variable() {
        let cases = [
            (APPLICATION_SECRET_ID_SETTING, ""),
            (EVENT_URL_SETTING, ""),
            (EVENT_URL_SETTING, "hooks.example.com/event"),
            (API_BASE_URL_SETTING, "api.nexmo.com"),
            (FROM_NUMBER_SETTING, "VONAGE"),
            (LANGUAGE_SETTING, "english please"),
        ];
        for (name, value) in cases {
            let mut settings = settings();
            settings.insert(name.into(), value.into());
            let error = AlertConfig::from_settings(&settings).unwrap_err();
            assert!(error.to_string().contains(name), "{name}={value}: {error}");
        }
    }

    #[test]
    fn a_code_is_read_digit_by_digit_twice() {
        let ncco = build_ncco(
            &request(json!({"to": "447700900000", "code": "4821"})),
            "en-US",
            EVENT,
        )
        .unwrap();
        assert_eq!(
            ncco.to_json(),
            json!([{"action": "talk", "text": "Your code is 4, 8, 2, 1.",
                    "language": "en-US", "loop": 2}])
        );
    }

    #[test]
    fn text_is_read_as_given_once_in_the_requested_language() {
        let ncco = build_ncco(
            &request(
                json!({"to": "447700900000", "text": "Disk full on db-1", "language": "en-GB"}),
            ),
            "en-US",
            EVENT,
        )
        .unwrap();
        assert_eq!(
            ncco.to_json(),
            json!([{"action": "talk", "text": "Disk full on db-1", "language": "en-GB", "loop": 1}])
        );
    }

    #[test]
    fn confirm_adds_barge_in_talks_and_a_one_digit_input_posting_to_our_event_url() {
        let ncco = build_ncco(
            &request(json!({"to": "447700900000", "code": "4821", "repeat": 3, "confirm": true})),
            "en-US",
            EVENT,
        )
        .unwrap();
        assert_eq!(
            ncco.to_json(),
            json!([
                {"action": "talk", "text": "Your code is 4, 8, 2, 1.", "language": "en-US",
                 "loop": 3, "bargeIn": true},
                {"action": "talk", "text": CONFIRM_PROMPT, "language": "en-US", "bargeIn": true},
                {"action": "input", "type": ["dtmf"],
                 "dtmf": {"maxDigits": 1, "timeOut": CONFIRM_WAIT_SECONDS},
                 "eventUrl": [EVENT]}
            ])
        );
    }

    #[test]
    fn the_call_goes_to_the_normalised_number_with_our_event_url() {
        let call = create_call_request(
            &request(json!({"to": "+44 7700 900000", "from": "447700900009", "text": "hi"})),
            &config(),
        )
        .unwrap();
        let body = serde_json::to_value(&call).unwrap();
        assert_eq!(
            body["to"],
            json!([{"type": "phone", "number": "447700900000"}])
        );
        assert_eq!(
            body["from"],
            json!({"type": "phone", "number": "447700900009"})
        );
        assert_eq!(body["event_url"], json!([EVENT]));
        assert!(body.get("random_from_number").is_none());
    }

    #[test]
    fn without_from_the_configured_caller_id_is_used() {
        let call = create_call_request(
            &request(json!({"to": "447700900000", "text": "hi"})),
            &config(),
        )
        .unwrap();
        assert_eq!(call.from, CallerId::RandomLinkedNumber);
    }

    #[test]
    fn boundaries_that_are_accepted() {
        for input in [
            json!({"to": "1234567", "code": "1234"}),
            json!({"to": "123456789012345", "code": "1234567890"}),
            json!({"to": "447700900000", "text": "é".repeat(MAX_TEXT_CHARACTERS)}),
            json!({"to": "447700900000", "text": "x", "repeat": 1, "confirm": false}),
            json!({"to": "447700900000", "text": "x", "repeat": MAX_REPEAT, "from": null}),
            json!({"to": "447700900000", "text": "x", "language": "cmn-CN"}),
        ] {
            assert!(AlertRequest::from_json(&input).is_ok(), "{input}");
        }
    }

    /// Each bad input, the field it must be blamed on.
    fn invalid_inputs() -> Vec<(Value, &'static str)> {
        vec![
            (json!("447700900000"), "$"),
            (json!({"code": "4821"}), "to"),
            (json!({"to": "123456", "code": "4821"}), "to"),
            (json!({"to": "1234567890123456", "code": "4821"}), "to"),
            (json!({"to": "44-7700-900000", "code": "4821"}), "to"),
            (json!({"to": 447700900000u64, "code": "4821"}), "to"),
            (
                json!({"to": "447700900000", "from": "12", "code": "4821"}),
                "from",
            ),
            (
                json!({"to": "447700900000", "from": "sender", "code": "4821"}),
                "from",
            ),
            (json!({"to": "447700900000"}), "code"),
            (
                json!({"to": "447700900000", "code": "4821", "text": "hi"}),
                "text",
            ),
            (json!({"to": "447700900000", "code": "123"}), "code"),
            (json!({"to": "447700900000", "code": "12345678901"}), "code"),
            (json!({"to": "447700900000", "code": "48a1"}), "code"),
            (json!({"to": "447700900000", "code": 4821}), "code"),
            (json!({"to": "447700900000", "text": ""}), "text"),
            (json!({"to": "447700900000", "text": "   "}), "text"),
            (
                json!({"to": "447700900000", "text": "a".repeat(MAX_TEXT_CHARACTERS + 1)}),
                "text",
            ),
            (
                json!({"to": "447700900000", "text": "<speak></speak>"}),
                "text",
            ),
            (
                json!({"to": "447700900000", "text": "hi", "language": "English"}),
                "language",
            ),
            (
                json!({"to": "447700900000", "text": "hi", "language": 1}),
                "language",
            ),
            (
                json!({"to": "447700900000", "text": "hi", "repeat": 0}),
                "repeat",
            ),
            (
                json!({"to": "447700900000", "text": "hi", "repeat": 11}),
                "repeat",
            ),
            (
                json!({"to": "447700900000", "text": "hi", "repeat": 1.5}),
                "repeat",
            ),
            (
                json!({"to": "447700900000", "text": "hi", "confirm": "yes"}),
                "confirm",
            ),
            (
                json!({"to": "447700900000", "text": "hi", "txet": "typo"}),
                "txet",
            ),
        ]
    }

    #[test]
    fn each_invalid_field_is_named() {
        for (input, field) in invalid_inputs() {
            // "<speak></speak>" passes the request check and is caught building the NCCO.
            let refused = match AlertRequest::from_json(&input) {
                Err(invalid) => invalid,
                Ok(request) => create_call_request(&request, &config()).unwrap_err(),
            };
            assert_eq!(refused.field, field, "{input}: {refused}");
            assert!(!refused.message.is_empty());
        }
    }

    #[test]
    fn an_unknown_field_name_of_any_length_comes_back_cut_and_still_recognisable() {
        let name = format!("callback{}", "x".repeat(5 * 1024 * 1024));
        let mut input = json!({"to": "447700900000", "code": "4821"});
        input[name.as_str()] = json!("https://example.com");
        let payload = AlertError::from(refusal(input)).to_json();
        let field = payload["field"].as_str().unwrap();
        let message = payload["message"].as_str().unwrap();
        assert!(field.len() < 200, "{} bytes of field", field.len());
        assert!(message.len() < 200, "{} bytes of message", message.len());
        assert!(field.starts_with("callbackxxxx"), "{field}");
        assert!(
            field.ends_with(&format!("({} chars)", name.len())),
            "says how long the name was: {field}"
        );
        assert!(message.contains("not a known field"), "{message}");

        let mut input = json!({"to": "447700900000", "code": "4821"});
        input["bad\nname\u{1b}[31m"] = json!(1);
        assert_eq!(refusal(input).field, "bad\\nname\\u{1b}[31m");
    }

    #[test]
    fn invalid_input_serialises_with_error_field_and_message() {
        let error = AlertError::from(refusal(json!({"to": "12", "code": "4821"})));
        let payload = error.to_json();
        assert_eq!(payload["error"], "invalid_input");
        assert_eq!(payload["field"], "to");
        assert!(
            payload["message"]
                .as_str()
                .unwrap()
                .contains("7 to 15 digits")
        );
    }

    #[test]
    fn voice_errors_serialise_with_status_and_body() {
        let unknown = AlertError::from(VoiceApiError::OutcomeUnknown {
            status: Some(502),
            body: "bad gateway".into(),
            reason: "the Voice API failed while handling the request".into(),
        });
        let payload = unknown.to_json();
        assert_eq!(payload["error"], "outcome_unknown");
        assert_eq!(payload["status"], 502);
        assert_eq!(payload["body"], "bad gateway");
        assert!(payload["message"].as_str().unwrap().contains("unknown"));
        let timeout = AlertError::from(VoiceApiError::OutcomeUnknown {
            status: None,
            body: String::new(),
            reason: "no response within 10s".into(),
        });
        assert_eq!(timeout.to_json()["status"], Value::Null);
        let limited = AlertError::from(VoiceApiError::RateLimited {
            attempts: 4,
            body: "{}".into(),
        });
        assert_eq!(limited.to_json()["attempts"], 4);
    }

    /// A budget no test here comes near.
    fn budget() -> Budget {
        Budget::lasting(Duration::from_secs(30), Arc::new(SystemClock))
    }

    // An in-memory stand-in for the Voice API; the secret store's comes with the secrets module.

    fn application_secret() -> InMemorySecretStore {
        InMemorySecretStore::new().with_secret(
            "vonage/app",
            json!({"application_id": "app-1", "private_key": crate::voice::test_keys::test_key_pair().0,
                   "api_key": "k", "api_secret": "s"})
            .to_string(),
        )
    }

    #[derive(Default)]
    struct RecordingVoice {
        calls: Mutex<Vec<Value>>,
    }

    #[async_trait::async_trait]
    impl VoiceApi for RecordingVoice {
        async fn create_call(
            &self,
            signer: &ApplicationJwtSigner,
            request: &CreateCallRequest,
            _budget: &Budget,
        ) -> Result<CreateCallResponse, VoiceApiError> {
            assert_eq!(signer.application_id(), "app-1");
            self.calls
                .lock()
                .unwrap()
                .push(serde_json::to_value(request).unwrap());
            Ok(CreateCallResponse {
                uuid: "63f61863-4a51-4f6b-86e1-46edebcf9356".into(),
                status: Some("started".into()),
                direction: Some("outbound".into()),
                conversation_uuid: Some("CON-f972836a-550f-45fa-956c-12a2ab5b7d22".into()),
            })
        }
    }

    /// A Voice API that refuses every token, as Vonage does for a key that was rotated away.
    struct RefusingVoice;

    #[async_trait::async_trait]
    impl VoiceApi for RefusingVoice {
        async fn create_call(
            &self,
            _signer: &ApplicationJwtSigner,
            _request: &CreateCallRequest,
            _budget: &Budget,
        ) -> Result<CreateCallResponse, VoiceApiError> {
            Err(VoiceApiError::Rejected {
                status: 401,
                body: r#"{"title":"Unauthorized"}"#.into(),
            })
        }
    }

    #[tokio::test]
    async fn warm_alerts_reuse_the_cached_secret_until_vonage_refuses_the_key() {
        use crate::secrets::CachedSecretStore;
        let store = Arc::new(application_secret());
        let cached = CachedSecretStore::new(Arc::clone(&store), DEFAULT_SECRET_CACHE);
        let input = json!({"to": "447700900000", "code": "4821"});
        for _ in 0..3 {
            let outcome = handle_alert(
                &input,
                &config(),
                &cached,
                &RecordingVoice::default(),
                &budget(),
            )
            .await;
            assert!(outcome.is_ok(), "{outcome:?}");
        }
        assert_eq!(store.reads(), 1, "warm invocations read the secret again");

        let refused = handle_alert(&input, &config(), &cached, &RefusingVoice, &budget()).await;
        assert_eq!(response_payload(&refused)["error"], "call_rejected");
        handle_alert(
            &input,
            &config(),
            &cached,
            &RecordingVoice::default(),
            &budget(),
        )
        .await
        .unwrap();
        assert_eq!(store.reads(), 2, "after a 401 the key is read afresh");
    }

    #[tokio::test]
    async fn a_valid_alert_places_one_call_and_returns_its_uuids() {
        let voice = RecordingVoice::default();
        let outcome = handle_alert(
            &json!({"to": "447700900000", "code": "4821"}),
            &config(),
            &application_secret(),
            &voice,
            &budget(),
        )
        .await;
        assert_eq!(
            response_payload(&outcome),
            json!({"call_uuid": "63f61863-4a51-4f6b-86e1-46edebcf9356",
                   "conversation_uuid": "CON-f972836a-550f-45fa-956c-12a2ab5b7d22",
                   "status": "started"})
        );
        let calls = voice.calls.lock().unwrap();
        assert_eq!(calls.len(), 1);
        assert_eq!(calls[0]["random_from_number"], true);
        assert_eq!(calls[0]["ncco"][0]["text"], "Your code is 4, 8, 2, 1.");
    }

    #[tokio::test]
    async fn invalid_input_reads_no_secret_and_places_no_call() {
        let voice = RecordingVoice::default();
        let secrets = application_secret();
        let outcome = handle_alert(
            &json!({"to": "447700900000", "code": "12"}),
            &config(),
            &secrets,
            &voice,
            &budget(),
        )
        .await;
        assert_eq!(response_payload(&outcome)["field"], "code");
        assert_eq!(secrets.reads(), 0);
        assert!(voice.calls.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_missing_or_broken_secret_places_no_call_and_echoes_no_key() {
        let voice = RecordingVoice::default();
        let input = json!({"to": "447700900000", "text": "hi"});
        let absent = InMemorySecretStore::new();
        let outcome = handle_alert(&input, &config(), &absent, &voice, &budget()).await;
        assert_eq!(response_payload(&outcome)["error"], "secret_unavailable");

        let no_current_version = InMemorySecretStore::new();
        no_current_version.put_version("vonage/app", crate::secrets::PREVIOUS, "{}");
        let outcome = handle_alert(&input, &config(), &no_current_version, &voice, &budget()).await;
        assert_eq!(response_payload(&outcome)["error"], "secret_unavailable");

        let broken = InMemorySecretStore::new().with_secret(
            "vonage/app",
            json!({"application_id": "app-1",
                   "private_key": "-----BEGIN PRIVATE KEY-----\nTOPSECRET\n-----END PRIVATE KEY-----"})
            .to_string(),
        );
        let outcome = handle_alert(&input, &config(), &broken, &voice, &budget()).await;
        let payload = response_payload(&outcome);
        assert_eq!(payload["error"], "invalid_credentials");
        assert!(!payload.to_string().contains("TOPSECRET"), "{payload}");
        assert!(voice.calls.lock().unwrap().is_empty());
    }

    /// A Secrets Manager that never answers.
    struct HangingSecrets;

    #[async_trait::async_trait]
    impl SecretStore for HangingSecrets {
        async fn secret_string(
            &self,
            _secret_id: &str,
            _version_stage: &str,
        ) -> Result<Option<String>, crate::secrets::SecretStoreError> {
            std::future::pending().await
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_secret_read_that_outlasts_the_budget_is_cut_and_no_call_is_placed() {
        let voice = RecordingVoice::default();
        let clock = Arc::new(ManualClock::at(1_800_000_000));
        // Deadline 3 s ahead: 2 s of budget after the whole-second rounding and the margin,
        // give or take the rounding.
        let budget = Budget::for_invocation(1_800_000_003_000, clock);
        let started = tokio::time::Instant::now();
        let outcome = handle_alert(
            &json!({"to": "447700900000", "code": "4821"}),
            &config(),
            &HangingSecrets,
            &voice,
            &budget,
        )
        .await;
        assert!(
            started.elapsed() <= Duration::from_secs(3),
            "answered before the deadline"
        );
        let payload = response_payload(&outcome);
        assert_eq!(payload["error"], "deadline_exceeded", "{payload}");
        let message = payload["message"].as_str().unwrap();
        assert!(
            message.contains("reading the application secret"),
            "{message}"
        );
        assert!(message.contains("no call was placed"), "{message}");
        assert!(voice.calls.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_spent_budget_reads_no_secret_and_places_no_call() {
        let voice = RecordingVoice::default();
        let secrets = application_secret();
        let clock = Arc::new(ManualClock::at(1_800_000_000));
        let spent = Budget::for_invocation(1_800_000_000_000, clock);
        let outcome = handle_alert(
            &json!({"to": "447700900000", "code": "4821"}),
            &config(),
            &secrets,
            &voice,
            &spent,
        )
        .await;
        assert_eq!(response_payload(&outcome)["error"], "deadline_exceeded");
        assert_eq!(secrets.reads(), 0);
        assert!(voice.calls.lock().unwrap().is_empty());
    }
}
