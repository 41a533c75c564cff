//! The state machine: one event applied to one record, as a pure function.
//!
//! The state is the highest-ranked state any event named ([`CallState::rank`]) and the
//! confirmation the highest any `input` decided ([`Confirmation::rank`]). So applying events
//! never moves either backwards, and the outcome is the same whatever order the events arrive in
//! (`ringing` after `answered`, `started` late) and however often one is repeated: two instances
//! applying the same events in different orders agree.

use serde::Serialize;

use super::record::{AlertRecord, CallState, Confirmation, TimelineEntry, timeline_field};
use crate::vonage::events::VoiceEvent;

/// The digit that confirms an alert.
pub const CONFIRM_DIGIT: &str = "1";

/// The parts of a verified Voice event the machine reads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallEvent {
    /// The status, or the kind for events without one (`input`, `notify`, …).
    pub kind: String,
    /// The event's own timestamp, as Vonage sent it.
    pub timestamp: Option<String>,
    /// For an `input`: the keys pressed (`None` or empty when it timed out).
    pub digits: Option<String>,
}

impl CallEvent {
    /// The part of a call event the state machine reads.
    pub fn from_voice_event(event: &VoiceEvent) -> Self {
        Self {
            kind: event.kind().to_owned(),
            timestamp: event.timestamp().map(str::to_owned),
            digits: event.dtmf_digits().map(str::to_owned),
        }
    }

    /// A status event, for tests and simulations.
    pub fn status(kind: &str, timestamp: &str) -> Self {
        Self {
            kind: kind.to_owned(),
            timestamp: Some(timestamp.to_owned()),
            digits: None,
        }
    }

    /// A DTMF `input` event.
    pub fn input(digits: Option<&str>, timestamp: &str) -> Self {
        Self {
            kind: "input".to_owned(),
            timestamp: Some(timestamp.to_owned()),
            digits: digits.map(str::to_owned),
        }
    }

    /// What an `input` decides; `None` for any other event.
    pub fn confirmation(&self) -> Option<Confirmation> {
        (self.kind == "input").then_some(match self.digits.as_deref() {
            Some(CONFIRM_DIGIT) => Confirmation::Confirmed,
            _ => Confirmation::NotConfirmed,
        })
    }

    /// The state the event names. An `input` means the call was answered.
    pub fn state(&self) -> Option<CallState> {
        if self.kind == "input" {
            return Some(CallState::Answered);
        }
        CallState::from_status(&self.kind)
    }
}

/// A change of an alert's state or confirmation: what is published.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StateChange {
    /// The call state before the event.
    pub previous_state: CallState,
    /// The call state after it.
    pub state: CallState,
    /// The confirmation before the event.
    pub previous_confirmation: Confirmation,
    /// The confirmation after it.
    pub confirmation: Confirmation,
}

/// The record after an event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Applied {
    /// The event was already in the timeline and changed nothing: nothing to write.
    Unchanged,
    /// The record to write, and the change of state it made, if any.
    Updated {
        /// The record with the event applied.
        record: AlertRecord,
        /// What changed, if the state or confirmation did.
        change: Option<StateChange>,
    },
}

/// Applies `event`, received at `received_at` (Unix seconds), to `record`.
pub fn apply(record: &AlertRecord, event: &CallEvent, received_at: i64) -> Applied {
    let confirmation = event.confirmation();
    let entry = TimelineEntry {
        event: timeline_field(&event.kind),
        timestamp: event.timestamp.as_deref().map(timeline_field),
        received_at,
        confirmation,
    };
    if record.timeline.iter().any(|seen| seen.same_event(&entry)) {
        return Applied::Unchanged;
    }
    let mut next = record.clone();
    next.push_timeline(entry);
    next.updated_at = received_at.max(record.updated_at);
    if let Some(state) = event.state()
        && state.rank() > next.state.rank()
    {
        next.state = state;
    }
    if let Some(confirmation) = confirmation
        && confirmation.rank() > next.confirmation.rank()
    {
        next.confirmation = confirmation;
        next.confirmation_at = Some(received_at);
        next.confirmation_timestamp = event.timestamp.as_deref().map(timeline_field);
    }
    let change = (next.state != record.state || next.confirmation != record.confirmation)
        .then_some(StateChange {
            previous_state: record.state,
            state: next.state,
            previous_confirmation: record.confirmation,
            confirmation: next.confirmation,
        });
    Applied::Updated {
        record: next,
        change,
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::outcome::record::{MAX_TIMELINE_ENTRIES, sample_record as placed};

    fn run(events: &[CallEvent]) -> AlertRecord {
        let mut record = placed();
        for (index, event) in events.iter().enumerate() {
            if let Applied::Updated { record: next, .. } = apply(&record, event, 200 + index as i64)
            {
                record = next;
            }
        }
        record
    }

    fn at(second: u32) -> String {
        format!("2027-01-15T08:00:{second:02}.000Z")
    }

    #[test]
    fn every_status_moves_a_placed_alert_to_its_state() {
        for state in CallState::ALL {
            let status = if state == CallState::Placed {
                "started"
            } else {
                state.as_str()
            };
            let applied = apply(&placed(), &CallEvent::status(status, &at(1)), 201);
            let Applied::Updated { record, change } = applied else {
                panic!("{status}: unchanged");
            };
            assert_eq!(record.state, state, "{status}");
            assert_eq!(record.timeline.len(), 1);
            assert_eq!(record.timeline[0].event, status);
            assert_eq!(record.state.is_terminal(), state.rank() >= 3);
            if state == CallState::Placed {
                assert_eq!(change, None, "started says what send-alert said");
            } else {
                assert_eq!(
                    change,
                    Some(StateChange {
                        previous_state: CallState::Placed,
                        state,
                        previous_confirmation: Confirmation::None,
                        confirmation: Confirmation::None,
                    })
                );
            }
        }
    }

    #[test]
    fn the_happy_path_goes_placed_ringing_answered_completed_confirmed() {
        let record = run(&[
            CallEvent::status("started", &at(0)),
            CallEvent::status("ringing", &at(1)),
            CallEvent::status("answered", &at(4)),
            CallEvent::input(Some("1"), &at(9)),
            CallEvent::status("completed", &at(12)),
        ]);
        assert_eq!(record.state, CallState::Completed);
        assert_eq!(record.confirmation, Confirmation::Confirmed);
        assert_eq!(record.confirmation_at, Some(203));
        assert_eq!(
            record.confirmation_timestamp.as_deref(),
            Some(at(9).as_str())
        );
        assert_eq!(record.timeline.len(), 5);
        assert_eq!(
            record.timeline[3].confirmation,
            Some(Confirmation::Confirmed)
        );
    }

    #[test]
    fn another_digit_or_none_is_not_confirmed_and_a_one_wins_over_it() {
        for digits in [Some("2"), Some(""), Some("11"), None] {
            let record = run(&[CallEvent::input(digits, &at(9))]);
            assert_eq!(
                record.confirmation,
                Confirmation::NotConfirmed,
                "{digits:?}"
            );
            assert_eq!(record.state, CallState::Answered, "an input means answered");
        }
        let record = run(&[
            CallEvent::input(Some("1"), &at(9)),
            CallEvent::input(Some("3"), &at(10)),
        ]);
        assert_eq!(record.confirmation, Confirmation::Confirmed);
        assert_eq!(record.confirmation_at, Some(200));
        let record = run(&[
            CallEvent::input(Some("3"), &at(9)),
            CallEvent::input(Some("1"), &at(10)),
        ]);
        assert_eq!(record.confirmation, Confirmation::Confirmed);
        assert_eq!(record.confirmation_at, Some(201));
    }

    #[test]
    fn late_events_never_move_the_state_back() {
        let record = run(&[
            CallEvent::status("answered", &at(4)),
            CallEvent::status("ringing", &at(1)),
            CallEvent::status("started", &at(0)),
        ]);
        assert_eq!(record.state, CallState::Answered);
        assert_eq!(record.timeline.len(), 3, "every event is kept");
        let record = run(&[
            CallEvent::status("busy", &at(3)),
            CallEvent::status("completed", &at(4)),
            CallEvent::status("ringing", &at(1)),
        ]);
        assert_eq!(
            record.state,
            CallState::Busy,
            "completed does not hide busy"
        );
    }

    #[test]
    fn a_repeated_event_changes_nothing_and_other_events_only_the_timeline() {
        let record = run(&[CallEvent::status("ringing", &at(1))]);
        assert_eq!(
            apply(&record, &CallEvent::status("ringing", &at(1)), 300),
            Applied::Unchanged
        );
        let Applied::Updated { record, change } =
            apply(&record, &CallEvent::status("machine", &at(2)), 300)
        else {
            panic!("a new event is kept");
        };
        assert_eq!(change, None);
        assert_eq!(record.state, CallState::Ringing);
        assert_eq!(record.timeline.len(), 2);
    }

    #[test]
    fn caller_controlled_fields_are_cut_in_the_timeline() {
        let long = "x".repeat(10_000);
        let record = run(&[CallEvent::status(&long, &long)]);
        assert!(record.timeline[0].event.chars().count() < 60);
        assert!(
            record.timeline[0]
                .timestamp
                .as_ref()
                .unwrap()
                .chars()
                .count()
                < 60
        );
    }

    fn a_calls_events() -> Vec<CallEvent> {
        let mut events: Vec<CallEvent> = ["started", "ringing", "answered", "completed"]
            .iter()
            .zip(0..)
            .map(|(status, second)| CallEvent::status(status, &at(second)))
            .collect();
        for (status, second) in [("busy", 10), ("unanswered", 11), ("timeout", 12)] {
            events.push(CallEvent::status(status, &at(second)));
        }
        events.push(CallEvent::input(Some("1"), &at(20)));
        events.push(CallEvent::input(Some("2"), &at(21)));
        events.push(CallEvent::status("disconnected", &at(22)));
        events
    }

    proptest! {
        /// No order of a call's events, with repeats, moves the state or the confirmation
        /// backwards, and every order ends in the same state.
        #[test]
        fn no_order_of_a_calls_events_moves_the_state_backwards(
            picks in proptest::collection::vec(0usize..10, 0..24),
            order in Just(()).prop_perturb(|_, mut rng| {
                let mut order: Vec<usize> = (0..24).collect();
                for i in (1..order.len()).rev() {
                    order.swap(i, (rng.next_u32() as usize) % (i + 1));
                }
                order
            }),
        ) {
            let all = a_calls_events();
            let events: Vec<CallEvent> = picks.iter().map(|&i| all[i].clone()).collect();
            let mut record = placed();
            for (index, event) in events.iter().enumerate() {
                if let Applied::Updated { record: next, change } =
                    apply(&record, event, 200 + index as i64)
                {
                    prop_assert!(next.state.rank() >= record.state.rank());
                    prop_assert!(next.confirmation.rank() >= record.confirmation.rank());
                    prop_assert_eq!(change.is_some(),
                        next.state != record.state || next.confirmation != record.confirmation);
                    prop_assert!(next.timeline.len() <= MAX_TIMELINE_ENTRIES);
                    record = next;
                }
            }
            let shuffled: Vec<CallEvent> = order
                .iter()
                .filter_map(|&i| events.get(i).cloned())
                .collect();
            let other = run(&shuffled);
            prop_assert_eq!(other.state, record.state);
            prop_assert_eq!(other.confirmation, record.confirmation);
        }
    }
}
