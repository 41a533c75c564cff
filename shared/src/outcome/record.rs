//! The alert record: what send-alert asked for, and what the call's signed events made of it.

use serde::{Deserialize, Serialize};

use crate::observe::logging::capped_to;

/// The most events a record keeps. Past it the oldest entry goes and `timeline_dropped` counts
/// it: a call that loops on `input` or retries its webhooks cannot grow an item without bound
/// (DynamoDB's limit is 400 KB an item).
pub const MAX_TIMELINE_ENTRIES: usize = 32;
/// The most characters of an event's kind or timestamp a timeline entry keeps.
pub const MAX_TIMELINE_FIELD_CHARS: usize = 40;

/// Where the call is. `placed → ringing → answered → completed`, or one of the endings that say
/// why it was not answered. Ordered by [`CallState::rank`]: the state only ever moves up.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CallState {
    /// send-alert placed the call (Vonage's `started` says the same).
    Placed,
    /// Vonage reported the call ringing.
    Ringing,
    /// The callee picked up.
    Answered,
    /// The call ended after it was answered (or Vonage closed it without saying more).
    Completed,
    /// The caller side cancelled the call before it was answered.
    Cancelled,
    /// The callee's network gave up ringing (`ringing_timer`).
    Timeout,
    /// Nobody answered.
    Unanswered,
    /// The callee was busy.
    Busy,
    /// The callee's network refused the call.
    Rejected,
    /// The call could not be set up.
    Failed,
}

impl CallState {
    /// Every state, in the order a call may pass through them.
    pub const ALL: [CallState; 10] = [
        CallState::Placed,
        CallState::Ringing,
        CallState::Answered,
        CallState::Completed,
        CallState::Cancelled,
        CallState::Timeout,
        CallState::Unanswered,
        CallState::Busy,
        CallState::Rejected,
        CallState::Failed,
    ];

    /// The state a Voice event's `status` names, if it names one. `started` is `placed`;
    /// `disconnected`, `human`/`machine` and the rest move nothing.
    pub fn from_status(status: &str) -> Option<Self> {
        Some(match status {
            "started" => Self::Placed,
            "ringing" => Self::Ringing,
            "answered" => Self::Answered,
            "completed" => Self::Completed,
            "cancelled" => Self::Cancelled,
            "timeout" => Self::Timeout,
            "unanswered" => Self::Unanswered,
            "busy" => Self::Busy,
            "rejected" => Self::Rejected,
            "failed" => Self::Failed,
            _ => return None,
        })
    }

    /// The state's name in records and events.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Placed => "placed",
            Self::Ringing => "ringing",
            Self::Answered => "answered",
            Self::Completed => "completed",
            Self::Cancelled => "cancelled",
            Self::Timeout => "timeout",
            Self::Unanswered => "unanswered",
            Self::Busy => "busy",
            Self::Rejected => "rejected",
            Self::Failed => "failed",
        }
    }

    /// The call has ended: no event moves it back into progress.
    pub fn is_terminal(self) -> bool {
        self.rank() >= Self::Completed.rank()
    }

    /// The order states are reached in. The endings rank above every state in progress, and
    /// among them `completed` lowest: Vonage may close any call with `completed`, and that must
    /// not hide the `busy` or `unanswered` that said why. The other endings are ranked so that
    /// the outcome does not depend on the order events arrive in: the more specific failure wins.
    pub fn rank(self) -> u8 {
        match self {
            Self::Placed => 0,
            Self::Ringing => 1,
            Self::Answered => 2,
            Self::Completed => 3,
            Self::Cancelled => 4,
            Self::Timeout => 5,
            Self::Unanswered => 6,
            Self::Busy => 7,
            Self::Rejected => 8,
            Self::Failed => 9,
        }
    }
}

/// Whether the callee confirmed, when the alert asked them to (`confirm: true`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Confirmation {
    /// No DTMF input has arrived (yet), or none was asked for.
    None,
    /// A DTMF input arrived with another digit, or none (the input timed out).
    NotConfirmed,
    /// The callee pressed 1.
    Confirmed,
}

impl Confirmation {
    /// The confirmation's name in records and events.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::NotConfirmed => "not_confirmed",
            Self::Confirmed => "confirmed",
        }
    }

    /// `none < not_confirmed < confirmed`: a 1 pressed is never undone by another input.
    pub fn rank(self) -> u8 {
        match self {
            Self::None => 0,
            Self::NotConfirmed => 1,
            Self::Confirmed => 2,
        }
    }
}

/// What the alert said.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AskedMessage {
    /// A one-time code (the code itself is never stored).
    Code,
    /// A text message (not stored either: it may name systems or people).
    Text,
}

/// One event as the record keeps it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimelineEntry {
    /// The event's status, or its kind for events without one (`input`, `notify`, …).
    pub event: String,
    /// Vonage's `timestamp`, when the event had one.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub timestamp: Option<String>,
    /// When the event function received it (Unix seconds).
    pub received_at: i64,
    /// For an `input`: what it decided (`confirmed` or `not_confirmed`). The digits themselves
    /// are not kept.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub confirmation: Option<Confirmation>,
}

impl TimelineEntry {
    /// The same delivery seen twice (a retry that slipped past the duplicate check) is one
    /// entry. Without Vonage's timestamp two events cannot be told to be the same one.
    pub fn same_event(&self, other: &TimelineEntry) -> bool {
        self.timestamp.is_some()
            && self.event == other.event
            && self.timestamp == other.timestamp
            && self.confirmation == other.confirmation
    }
}

/// One alert: written by send-alert when its call is placed, moved by the call's events.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertRecord {
    /// The alert's id (the input's `alert_id`, or the one send-alert made).
    pub alert_id: String,
    /// The uuid of the call placed for it.
    pub call_uuid: String,
    /// The callee's number, all but its last four digits masked.
    pub to_masked: String,
    /// What the alert asked the callee, without the code.
    pub message: AskedMessage,
    /// Whether the callee was asked to press 1.
    pub confirm_requested: bool,
    /// When send-alert placed the call (Unix seconds).
    pub requested_at: i64,
    /// Where the call is now.
    pub state: CallState,
    /// Whether the callee confirmed.
    pub confirmation: Confirmation,
    /// When the confirmation (or its refusal) was received (Unix seconds).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub confirmation_at: Option<i64>,
    /// Vonage's timestamp of the deciding `input` event.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub confirmation_timestamp: Option<String>,
    /// The latest [`MAX_TIMELINE_ENTRIES`] events, in the order they were received.
    pub timeline: Vec<TimelineEntry>,
    /// How many older entries were dropped to keep the bound.
    #[serde(default)]
    pub timeline_dropped: u32,
    /// When the record last changed (Unix seconds).
    pub updated_at: i64,
}

/// What send-alert knows when the call is placed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewAlert<'a> {
    /// The alert's id.
    pub alert_id: &'a str,
    /// The uuid of the placed call.
    pub call_uuid: &'a str,
    /// The number called.
    pub to: &'a str,
    /// What the alert asked the callee, without the code.
    pub message: AskedMessage,
    /// Whether the alert asked for a confirmation digit.
    pub confirm_requested: bool,
    /// When the call was placed, in Unix seconds.
    pub requested_at: i64,
}

impl AlertRecord {
    /// A record in state `placed`, with an empty timeline.
    pub fn placed(new: &NewAlert<'_>) -> Self {
        Self {
            alert_id: new.alert_id.to_owned(),
            call_uuid: new.call_uuid.to_owned(),
            to_masked: mask_number(new.to),
            message: new.message,
            confirm_requested: new.confirm_requested,
            requested_at: new.requested_at,
            state: CallState::Placed,
            confirmation: Confirmation::None,
            confirmation_at: None,
            confirmation_timestamp: None,
            timeline: Vec::new(),
            timeline_dropped: 0,
            updated_at: new.requested_at,
        }
    }

    /// Adds `entry`, dropping the oldest past [`MAX_TIMELINE_ENTRIES`].
    pub(crate) fn push_timeline(&mut self, entry: TimelineEntry) {
        self.timeline.push(entry);
        while self.timeline.len() > MAX_TIMELINE_ENTRIES {
            self.timeline.remove(0);
            self.timeline_dropped = self.timeline_dropped.saturating_add(1);
        }
    }
}

/// A phone number with all but its last four characters replaced by `*`: enough to tell two
/// callees apart in a status, not enough to call anyone.
pub fn mask_number(number: &str) -> String {
    let characters: Vec<char> = number.chars().collect();
    let shown = characters.len().saturating_sub(4);
    characters
        .iter()
        .enumerate()
        .map(|(index, character)| if index < shown { '*' } else { *character })
        .collect()
}

/// `alert-1`, call `call-1` to `447700900123`: a code asking for a confirmation, placed at 100.
#[cfg(test)]
pub(crate) fn sample_record() -> AlertRecord {
    AlertRecord::placed(&NewAlert {
        alert_id: "alert-1",
        call_uuid: "call-1",
        to: "447700900123",
        message: AskedMessage::Code,
        confirm_requested: true,
        requested_at: 100,
    })
}

/// A caller-controlled field cut for the timeline.
pub(crate) fn timeline_field(value: &str) -> String {
    capped_to(value, MAX_TIMELINE_FIELD_CHARS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_masked_but_their_last_four_digits() {
        assert_eq!(mask_number("447700900123"), "********0123");
        assert_eq!(mask_number("123"), "123");
        assert_eq!(mask_number(""), "");
    }

    #[test]
    fn every_status_names_its_state_and_round_trips_through_json() {
        for state in CallState::ALL {
            let status = if state == CallState::Placed {
                "started"
            } else {
                state.as_str()
            };
            assert_eq!(CallState::from_status(status), Some(state));
            let json = serde_json::to_value(state).unwrap();
            assert_eq!(json, state.as_str());
            assert_eq!(serde_json::from_value::<CallState>(json).unwrap(), state);
        }
        for other in [
            "disconnected",
            "human",
            "machine",
            "input",
            "record",
            "notify",
            "",
        ] {
            assert_eq!(CallState::from_status(other), None, "{other}");
        }
        let ranks: std::collections::BTreeSet<u8> =
            CallState::ALL.iter().map(|state| state.rank()).collect();
        assert_eq!(ranks.len(), CallState::ALL.len(), "a total order");
    }

    #[test]
    fn the_timeline_keeps_the_latest_entries_and_counts_the_rest() {
        let mut record = sample_record();
        for second in 0..(MAX_TIMELINE_ENTRIES as i64 + 5) {
            record.push_timeline(TimelineEntry {
                event: "ringing".into(),
                timestamp: None,
                received_at: second,
                confirmation: None,
            });
        }
        assert_eq!(record.timeline.len(), MAX_TIMELINE_ENTRIES);
        assert_eq!(record.timeline_dropped, 5);
        assert_eq!(record.timeline[0].received_at, 5);
    }
}
