//! An alert request: checked field by field, then turned into its NCCO and create-call request.

use serde::Serialize;
use serde_json::Value;

use super::*;
use crate::observe::logging;
use crate::settings;
use crate::voice::{CallerId, CreateCallRequest, PhoneNumber};
use crate::vonage::ncco::{self, Action, Input, Ncco, NccoError, Talk};

/// The fewest digits a code may have.
pub const MIN_CODE_DIGITS: usize = 4;
/// The most digits a code may have.
pub const MAX_CODE_DIGITS: usize = 10;
/// The longest `text`, as long as one `talk` action may speak.
pub const MAX_TEXT_CHARACTERS: usize = ncco::MAX_TALK_CHARACTERS;
/// The most times a message may be repeated.
pub const MAX_REPEAT: u64 = 10;
/// A code is read twice unless asked otherwise: a callee who missed a digit hears it again.
pub const DEFAULT_CODE_REPEAT: u32 = 2;
/// A text is read once unless asked otherwise.
pub const DEFAULT_TEXT_REPEAT: u32 = 1;

/// The prompt and wait of a confirmed alert. The prompt is English whatever `language` says;
/// `language` picks the voice.
pub const CONFIRM_PROMPT: &str = "Press 1 to confirm that you received this message.";
/// How long the confirmation input waits for a key, in seconds.
pub const CONFIRM_WAIT_SECONDS: u8 = 10;

const KNOWN_FIELDS: [&str; 7] = [
    "to", "from", "code", "text", "language", "repeat", "confirm",
];
/// What to say.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Message {
    /// 4 to 10 digits, read one by one.
    Code(String),
    /// Free text, read as given.
    Text(String),
}

/// A checked alert request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AlertRequest {
    /// The number to call.
    pub to: PhoneNumber,
    /// The caller id to show; `None` uses the configured one.
    pub from: Option<PhoneNumber>,
    /// What to say.
    pub message: Message,
    /// The voice to speak in; `None` uses the configured language.
    pub language: Option<String>,
    /// How many times the message is spoken (the talk's `loop`).
    pub repeat: u32,
    /// Ask the callee to press 1.
    pub confirm: bool,
}

#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq, Serialize)]
#[error("{field}: {message}")]
/// A refused alert input: the field at fault and why, without echoing the value.
pub struct InvalidInput {
    /// The input field at fault; `$` for the input as a whole.
    pub field: String,
    /// Why the field was refused.
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
    /// Checks an alert input field by field; the first fault found is returned.
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
                Some(tag) if settings::is_language_tag(tag) => Ok(tag.to_owned()),
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
