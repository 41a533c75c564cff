//! The reserved test numbers and what each makes the callee or the Voice API do.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// How a call ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// started, ringing, answered, completed
    Completed,
    /// started, ringing, busy
    Busy,
    /// started, ringing, unanswered
    Unanswered,
    /// started, failed
    Failed,
}

impl Outcome {
    /// Reserved test numbers choose the outcome by their last four digits: `…0486` busy,
    /// `…0408` unanswered, `…0500` failed; any other number gets `default`.
    pub fn for_number(number: &str, default: Outcome) -> Outcome {
        match reserved_suffix(number) {
            Some("0486") => Outcome::Busy,
            Some("0408") => Outcome::Unanswered,
            Some("0500") => Outcome::Failed,
            _ => default,
        }
    }

    pub fn statuses(self) -> &'static [&'static str] {
        match self {
            Outcome::Completed => &["started", "ringing", "answered", "completed"],
            Outcome::Busy => &["started", "ringing", "busy"],
            Outcome::Unanswered => &["started", "ringing", "unanswered"],
            Outcome::Failed => &["started", "failed"],
        }
    }
}

/// The last four digits of a number, where reserved test numbers carry their meaning.
fn reserved_suffix(number: &str) -> Option<&str> {
    number.get(number.len().saturating_sub(4)..)
}

/// What the callee does when the call's NCCO asks for a key (an `input` action).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Keypress {
    /// Presses 1, the digit that confirms an alert.
    #[default]
    One,
    /// Presses 2.
    Two,
    /// Presses nothing: the input times out, and Vonage posts it with empty digits.
    Nothing,
}

impl Keypress {
    /// `…0002` presses 2, `…0204` presses nothing; any other number presses 1.
    pub fn for_number(number: &str) -> Keypress {
        match reserved_suffix(number) {
            Some("0002") => Keypress::Two,
            Some("0204") => Keypress::Nothing,
            _ => Keypress::One,
        }
    }

    /// The `dtmf` member of the `input` webhook, as Vonage sends it.
    pub fn dtmf(self) -> Value {
        match self {
            Keypress::One => json!({"digits": "1", "timed_out": false}),
            Keypress::Two => json!({"digits": "2", "timed_out": false}),
            Keypress::Nothing => json!({"digits": "", "timed_out": true}),
        }
    }
}

/// How `POST /v1/calls` is answered once the request has been checked and the call placed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Creation {
    /// `201 Created` with the call's uuids.
    #[default]
    Created,
    /// `504 Gateway Timeout`: the call was placed and plays, but the caller is not told so. What
    /// a gateway answers when Vonage's call logic took the request and did not reply in time.
    GatewayTimeout,
}

impl Creation {
    /// `…0504` is answered 504; any other number 201.
    pub fn for_number(number: &str) -> Creation {
        match reserved_suffix(number) {
            Some("0504") => Creation::GatewayTimeout,
            _ => Creation::Created,
        }
    }
}
