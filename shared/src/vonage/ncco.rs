//! Typed NCCO actions, serialised exactly as the Voice API expects and validated before they leave.
//!
//! `talk` and `input` are the actions an alert or a one-time code needs; `notify` is how the
//! answer's NCCO reports progress to our event endpoint. An NCCO also reads back from the JSON it
//! was written as (a duplicate webhook is answered with the first answer, stored as JSON), and is
//! validated again when it does.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Vonage's limit on `talk.text`, counted without SSML markup.
pub const MAX_TALK_CHARACTERS: usize = 1500;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "lowercase")]
/// One NCCO action, serialised with its `action` name.
pub enum Action {
    /// Speaks text.
    Talk(Talk),
    /// Collects keys or speech.
    Input(Input),
    /// Posts a payload to a URL.
    Notify(Notify),
}

/// Sends `payload` to `event_url` and goes on with the next action.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Notify {
    /// What is posted.
    pub payload: Map<String, Value>,
    /// Where it is posted (exactly one URL).
    #[serde(flatten)]
    pub target: EventTarget,
}

impl Notify {
    /// A `notify` posting `payload` to `event_url`.
    pub fn post(payload: Map<String, Value>, event_url: impl Into<String>) -> Self {
        Self {
            payload,
            target: EventTarget {
                event_method: Some("POST".into()),
                ..EventTarget::to(event_url)
            },
        }
    }
}

/// Where Vonage posts what a `notify` or `input` action sends: `eventUrl` and `eventMethod`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct EventTarget {
    #[serde(rename = "eventUrl", skip_serializing_if = "Vec::is_empty", default)]
    /// The URL, as a one-element list; an `input` without one uses the application's event URL.
    pub event_url: Vec<String>,
    #[serde(
        rename = "eventMethod",
        skip_serializing_if = "Option::is_none",
        default
    )]
    /// The HTTP method; Vonage's default is POST.
    pub event_method: Option<String>,
}

impl EventTarget {
    /// `event_url`, with Vonage's default method.
    pub fn to(event_url: impl Into<String>) -> Self {
        Self {
            event_url: vec![event_url.into()],
            event_method: None,
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
/// Speaks text with Vonage's text-to-speech.
pub struct Talk {
    /// What to say.
    pub text: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    /// The BCP 47 language (and so the voice) to speak in.
    pub language: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    /// The voice's style within the language.
    pub style: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    /// Whether to use the premium voice.
    pub premium: Option<bool>,
    /// How many times to speak the text; 0 repeats until the call ends.
    #[serde(rename = "loop", skip_serializing_if = "Option::is_none")]
    pub repeat: Option<u32>,
    /// Volume, from -1 to 1.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub level: Option<f32>,
    #[serde(rename = "bargeIn", skip_serializing_if = "Option::is_none")]
    /// Whether a key press or speech interrupts the text (needs a following `input`).
    pub barge_in: Option<bool>,
}

impl Talk {
    /// Speaks `text` with Vonage's defaults.
    pub fn new(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            ..Self::default()
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
/// What an `input` action collects.
pub enum InputType {
    /// Keypad digits.
    Dtmf,
    /// Speech.
    Speech,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
/// Collects keys (or speech) and posts them to `event_url`.
pub struct Input {
    #[serde(rename = "type")]
    /// What to collect.
    pub kinds: Vec<InputType>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    /// How keys are collected.
    pub dtmf: Option<DtmfSettings>,
    /// Where the input is posted; no URL uses the application's event URL.
    #[serde(flatten)]
    pub target: EventTarget,
}

impl Input {
    /// A DTMF input that waits for `max_digits` keys and posts them to `event_url`.
    pub fn dtmf(max_digits: u8, time_out_seconds: u8, event_url: impl Into<String>) -> Self {
        Self {
            kinds: vec![InputType::Dtmf],
            dtmf: Some(DtmfSettings {
                max_digits: Some(max_digits),
                time_out: Some(time_out_seconds),
                submit_on_hash: None,
            }),
            target: EventTarget::to(event_url),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
/// How an `input` action collects keys.
pub struct DtmfSettings {
    #[serde(rename = "maxDigits", skip_serializing_if = "Option::is_none")]
    /// How many keys to wait for, 1 to 20.
    pub max_digits: Option<u8>,
    /// Seconds of silence after the last key before the input ends (0–10).
    #[serde(rename = "timeOut", skip_serializing_if = "Option::is_none")]
    pub time_out: Option<u8>,
    #[serde(rename = "submitOnHash", skip_serializing_if = "Option::is_none")]
    /// Whether `#` ends the input early.
    pub submit_on_hash: Option<bool>,
}

/// A validated list of actions. Serialises as the JSON array Vonage expects, and reads back only
/// through the same validation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Ncco(#[serde(deserialize_with = "validated")] Vec<Action>);

fn validated<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Vec<Action>, D::Error> {
    let actions = Vec::<Action>::deserialize(deserializer)?;
    Ncco::new(actions)
        .map(|ncco| ncco.0)
        .map_err(serde::de::Error::custom)
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
/// Why a list of actions is not an NCCO Vonage would accept; `index` is the action's place.
pub enum NccoError {
    #[error("an NCCO needs at least one action")]
    /// No actions.
    Empty,
    #[error("action {index}: talk text is empty")]
    /// A `talk` without text.
    EmptyText {
        /// The action's place in the list, from 0.
        index: usize,
    },
    #[error("action {index}: talk text has {length} characters, more than {MAX_TALK_CHARACTERS}")]
    /// A `talk` longer than Vonage speaks.
    TextTooLong {
        /// The action's place in the list, from 0.
        index: usize,
        /// The text's length, in characters.
        length: usize,
    },
    #[error("action {index}: level must be between -1 and 1")]
    /// A `talk` level outside -1 to 1.
    LevelOutOfRange {
        /// The action's place in the list, from 0.
        index: usize,
    },
    #[error("action {index}: bargeIn needs an input action after the talk actions that follow it")]
    /// A `talk` with barge-in not followed by an `input`.
    BargeInWithoutInput {
        /// The action's place in the list, from 0.
        index: usize,
    },
    #[error("action {index}: input needs at least one type")]
    /// An `input` that collects nothing.
    InputWithoutType {
        /// The action's place in the list, from 0.
        index: usize,
    },
    #[error("action {index}: dtmf maxDigits must be 1 to 20")]
    /// An `input` waiting for more than 20 or no keys.
    MaxDigitsOutOfRange {
        /// The action's place in the list, from 0.
        index: usize,
    },
    #[error("action {index}: dtmf timeOut must be 0 to 10 seconds")]
    /// An `input` timeout outside 0 to 10 seconds.
    TimeOutOutOfRange {
        /// The action's place in the list, from 0.
        index: usize,
    },
    #[error("action {index}: notify needs exactly one http(s) eventUrl")]
    /// A `notify` without exactly one URL.
    NotifyUrl {
        /// The action's place in the list, from 0.
        index: usize,
    },
    #[error("a one-time code must be digits only")]
    /// A code to read that is not all digits.
    CodeNotDigits,
}

impl Ncco {
    /// The NCCO of `actions`, checked as Vonage would check it.
    pub fn new(actions: Vec<Action>) -> Result<Self, NccoError> {
        if actions.is_empty() {
            return Err(NccoError::Empty);
        }
        for (index, action) in actions.iter().enumerate() {
            match action {
                Action::Talk(talk) => validate_talk(index, talk, &actions[index + 1..])?,
                Action::Input(input) => validate_input(index, input)?,
                Action::Notify(notify) => validate_notify(index, notify)?,
            }
        }
        Ok(Self(actions))
    }

    /// The actions, in order.
    pub fn actions(&self) -> &[Action] {
        &self.0
    }

    /// This NCCO's actions followed by `more`, validated as a whole.
    pub fn followed_by(&self, more: Vec<Action>) -> Result<Self, NccoError> {
        Self::new(self.0.iter().cloned().chain(more).collect())
    }

    /// The NCCO as the JSON array Vonage reads.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_default()
    }
}

fn validate_talk(index: usize, talk: &Talk, following: &[Action]) -> Result<(), NccoError> {
    let length = spoken_length(&talk.text);
    if length == 0 {
        return Err(NccoError::EmptyText { index });
    }
    if length > MAX_TALK_CHARACTERS {
        return Err(NccoError::TextTooLong { index, length });
    }
    if talk
        .level
        .is_some_and(|level| !(-1.0..=1.0).contains(&level))
    {
        return Err(NccoError::LevelOutOfRange { index });
    }
    if talk.barge_in == Some(true) {
        let next_non_talk = following.iter().find(|a| !matches!(a, Action::Talk(_)));
        if !matches!(next_non_talk, Some(Action::Input(_))) {
            return Err(NccoError::BargeInWithoutInput { index });
        }
    }
    Ok(())
}

fn validate_input(index: usize, input: &Input) -> Result<(), NccoError> {
    if input.kinds.is_empty() {
        return Err(NccoError::InputWithoutType { index });
    }
    if let Some(dtmf) = &input.dtmf {
        if dtmf.max_digits.is_some_and(|d| !(1..=20).contains(&d)) {
            return Err(NccoError::MaxDigitsOutOfRange { index });
        }
        if dtmf.time_out.is_some_and(|t| t > 10) {
            return Err(NccoError::TimeOutOutOfRange { index });
        }
    }
    Ok(())
}

fn validate_notify(index: usize, notify: &Notify) -> Result<(), NccoError> {
    let url_ok = |url: &String| {
        url::Url::parse(url).is_ok_and(|url| matches!(url.scheme(), "https" | "http"))
    };
    if notify.target.event_url.len() != 1 || !notify.target.event_url.iter().all(url_ok) {
        return Err(NccoError::NotifyUrl { index });
    }
    Ok(())
}

/// Characters that count against Vonage's limit: the text without SSML tags.
fn spoken_length(text: &str) -> usize {
    let mut inside_tag = false;
    let mut count = 0;
    for character in text.chars() {
        match character {
            '<' => inside_tag = true,
            '>' if inside_tag => inside_tag = false,
            _ if !inside_tag => count += 1,
            _ => {}
        }
    }
    count
}

/// Text that text-to-speech reads one digit at a time: "4821" becomes "4, 8, 2, 1".
/// Read as a plain number, a code would be spoken as "four thousand eight hundred…".
pub fn code_as_spoken_digits(code: &str) -> Result<String, NccoError> {
    if code.is_empty() || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Err(NccoError::CodeNotDigits);
    }
    let digits: Vec<String> = code.chars().map(String::from).collect();
    Ok(digits.join(", "))
}

#[cfg(test)]
mod tests;
