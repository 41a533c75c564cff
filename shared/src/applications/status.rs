//! What an application's voice capability says: signed callbacks and where each webhook points.

use std::fmt;

use serde_json::Value;

use super::*;

/// Where the voice webhooks should point. `None` leaves that webhook alone (and unchecked).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WebhookTargets {
    /// The answer URL the application should have.
    pub answer_url: Option<String>,
    /// The event URL the application should have.
    pub event_url: Option<String>,
    /// Where Vonage goes when the answer or event webhook fails (`fallback_answer_url`).
    pub fallback_answer_url: Option<String>,
}

/// What `capabilities.voice.signed_callbacks` says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SignedCallbacks {
    /// `true`, or the string `"true"` (the spec's own `default` spells it as a string).
    On,
    /// `false` or `"false"`.
    Off,
    /// Absent: what the Developer Preview leaves after a Dashboard edit. The spec's documented
    /// default is `true`, but only an explicit `true` is trusted here.
    Missing,
    /// The application has no voice capability at all.
    NoVoiceCapability,
    /// Any other value, as JSON text.
    Unreadable(String),
}

impl SignedCallbacks {
    pub(super) fn of(application: &Value) -> Self {
        let Some(voice) = application.pointer("/capabilities/voice") else {
            return SignedCallbacks::NoVoiceCapability;
        };
        match voice.get("signed_callbacks") {
            None => SignedCallbacks::Missing,
            Some(Value::Bool(true)) => SignedCallbacks::On,
            Some(Value::Bool(false)) => SignedCallbacks::Off,
            Some(Value::String(text)) if text.trim().eq_ignore_ascii_case("true") => {
                SignedCallbacks::On
            }
            Some(Value::String(text)) if text.trim().eq_ignore_ascii_case("false") => {
                SignedCallbacks::Off
            }
            Some(other) => SignedCallbacks::Unreadable(other.to_string()),
        }
    }

    /// True only when signed callbacks are on.
    pub fn is_on(&self) -> bool {
        *self == SignedCallbacks::On
    }
}

impl fmt::Display for SignedCallbacks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SignedCallbacks::On => f.write_str("on"),
            SignedCallbacks::Off => f.write_str("off (signed_callbacks is false)"),
            SignedCallbacks::Missing => {
                f.write_str("off (signed_callbacks is missing, as after an edit in the Dashboard)")
            }
            SignedCallbacks::NoVoiceCapability => {
                f.write_str("off (the application has no voice capability)")
            }
            SignedCallbacks::Unreadable(value) => {
                write!(f, "unknown (signed_callbacks is {value})")
            }
        }
    }
}

/// One voice webhook's address against where it should point.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebhookCheck {
    /// `answer_url`, `event_url` or `fallback_answer_url`.
    pub name: &'static str,
    /// The webhook's address in the application.
    pub actual: Option<String>,
    /// The address it should have; `None` when not checked.
    pub expected: Option<String>,
}

impl WebhookCheck {
    pub(super) fn of(application: &Value, name: &'static str, expected: Option<&String>) -> Self {
        let actual = application
            .pointer(&format!("/capabilities/voice/webhooks/{name}/address"))
            .and_then(Value::as_str)
            .map(str::to_owned);
        Self {
            name,
            actual,
            expected: expected.cloned(),
        }
    }

    /// True when nothing is expected or the address is exactly the expected one.
    pub fn is_ok(&self) -> bool {
        match &self.expected {
            None => true,
            Some(expected) => self.actual.as_deref() == Some(expected.as_str()),
        }
    }
}

impl fmt::Display for WebhookCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let actual = self.actual.as_deref().unwrap_or("(not set)");
        match &self.expected {
            None => write!(f, "{} is {actual} (not checked)", self.name),
            Some(_) if self.is_ok() => write!(f, "{} is {actual}, as expected", self.name),
            Some(expected) => write!(f, "{} is {actual}, expected {expected}", self.name),
        }
    }
}

/// Whether an application is as this stack needs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApplicationStatus {
    /// Whether Vonage signs the callbacks.
    pub signed_callbacks: SignedCallbacks,
    /// Where the answer webhook points.
    pub answer_url: WebhookCheck,
    /// Where the event webhook points.
    pub event_url: WebhookCheck,
    /// Checked only when a fallback URL is expected (`activate --fallback-answer-url`).
    pub fallback_answer_url: WebhookCheck,
    /// Vonage's timeouts and fallback URL against the functions (see [`contract`]).
    pub contract: Contract,
}

impl ApplicationStatus {
    /// Reads an application as the Applications API returns it, against `targets`.
    pub fn evaluate(application: &Value, targets: &WebhookTargets) -> Self {
        Self {
            signed_callbacks: SignedCallbacks::of(application),
            answer_url: WebhookCheck::of(application, "answer_url", targets.answer_url.as_ref()),
            event_url: WebhookCheck::of(application, "event_url", targets.event_url.as_ref()),
            fallback_answer_url: WebhookCheck::of(
                application,
                "fallback_answer_url",
                targets.fallback_answer_url.as_ref(),
            ),
            contract: Contract::evaluate(application, targets.answer_url.as_deref()),
        }
    }

    /// Signed callbacks on and the webhooks pointing here: what activation (and the drift check's
    /// repair) puts right. The [`Contract`] is reported apart, as no repair changes it.
    pub fn is_healthy(&self) -> bool {
        self.signed_callbacks.is_on()
            && self.answer_url.is_ok()
            && self.event_url.is_ok()
            && self.fallback_answer_url.is_ok()
    }

    /// The webhooks whose address differs from the expected one.
    pub fn mismatched_webhooks(&self) -> usize {
        [&self.answer_url, &self.event_url, &self.fallback_answer_url]
            .iter()
            .filter(|check| !check.is_ok())
            .count()
    }

    /// One sentence per thing that is wrong; empty when healthy.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if !self.signed_callbacks.is_on() {
            problems.push(format!("signed callbacks are {}", self.signed_callbacks));
        }
        for check in [&self.answer_url, &self.event_url, &self.fallback_answer_url] {
            if !check.is_ok() {
                problems.push(check.to_string());
            }
        }
        problems
    }

    /// [`Self::problems`] and the [`Contract`]'s: what `status` and the drift check report.
    pub fn report_problems(&self) -> Vec<String> {
        let mut problems = self.problems();
        problems.extend(self.contract.problems.iter().map(ToString::to_string));
        problems
    }
}

/// One field activation changes, for the operator to read before and after.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldChange {
    /// Dotted path, e.g. `capabilities.voice.signed_callbacks`.
    pub path: String,
    /// The value read; `None` when the field was absent.
    pub before: Option<Value>,
    /// The value written.
    pub after: Value,
}

impl fmt::Display for FieldChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.before {
            None => write!(f, "{}: (absent) -> {}", self.path, self.after),
            Some(before) => write!(f, "{}: {before} -> {}", self.path, self.after),
        }
    }
}
