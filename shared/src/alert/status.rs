//! alert-status: an alert read back by its alert id or its call uuid.
//!
//! Input: `{"alert_id":"…"}` or `{"call_uuid":"…"}`. Output: the record's state, whether it was
//! confirmed and when, and its timeline; or `{"error":…}` naming what went wrong
//! (`invalid_input`, `not_found`, `state_unavailable`).

use serde_json::{Value, json};

use crate::deadline::{Budget, DeadlineExceeded};
use crate::observe::logging::capped;
use crate::outcome::record::{AlertRecord, Confirmation};
use crate::outcome::store::{AlertStore, Versioned};
use crate::state::StateError;

/// The longest id either field may hold (an alert id is at most 128 characters).
pub const MAX_ID_CHARACTERS: usize = 128;

/// Which alert is asked for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StatusQuery {
    /// An `alert_id` as send-alert recorded it.
    AlertId(String),
    /// The uuid of the call send-alert placed.
    CallUuid(String),
}

/// Why no status came back.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StatusError {
    #[error("invalid input: {message}")]
    /// The input names no id, or a malformed one.
    InvalidInput {
        /// What is wrong with the input.
        message: String,
    },
    #[error("no alert has {field} {id}")]
    /// No record has this id; `field` says which id was asked for.
    NotFound {
        /// Which id was asked for: `alert_id` or `call_uuid`.
        field: &'static str,
        /// The id asked for.
        id: String,
    },
    #[error("the state table could not be read: {0}")]
    /// The state table failed.
    Unavailable(#[from] StateError),
    #[error(transparent)]
    /// The invocation's deadline came before the read finished.
    DeadlineExceeded(#[from] DeadlineExceeded),
}

impl StatusError {
    /// A stable snake_case name, the `error` field of the payload.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::InvalidInput { .. } => "invalid_input",
            Self::NotFound { .. } => "not_found",
            Self::Unavailable(_) => "state_unavailable",
            Self::DeadlineExceeded(_) => "deadline_exceeded",
        }
    }

    /// The payload alert-status returns for this error.
    pub fn to_json(&self) -> Value {
        let mut payload = json!({"error": self.kind(), "message": self.to_string()});
        if let Self::NotFound { field, id } = self {
            payload[*field] = json!(id);
        }
        payload
    }
}

#[cfg(test)]
mod deadline_tests {
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;
    use crate::clock::ManualClock;
    use crate::outcome::store::MemoryAlertStore;

    #[tokio::test]
    async fn no_time_left_is_a_typed_error_not_a_hang() {
        let budget = Budget::lasting(Duration::ZERO, Arc::new(ManualClock::at(1_800_000_000)));
        let payload = handle_status(
            &json!({"alert_id": "a"}),
            &MemoryAlertStore::default(),
            &budget,
        )
        .await;
        assert_eq!(payload["error"], "deadline_exceeded", "{payload}");
    }
}

impl StatusQuery {
    /// Reads `{"alert_id": …}` or `{"call_uuid": …}`.
    pub fn from_json(input: &Value) -> Result<Self, StatusError> {
        let invalid = |message: &str| StatusError::InvalidInput {
            message: message.to_owned(),
        };
        let fields = input
            .as_object()
            .ok_or_else(|| invalid(r#"expected {"alert_id":"…"} or {"call_uuid":"…"}"#))?;
        if let Some(unknown) = fields
            .keys()
            .find(|name| !matches!(name.as_str(), "alert_id" | "call_uuid"))
        {
            return Err(invalid(&format!(
                "{} is not a known field; expected alert_id or call_uuid",
                capped(unknown)
            )));
        }
        let id = |name: &str| -> Result<Option<String>, StatusError> {
            match fields.get(name) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(id))
                    if (1..=MAX_ID_CHARACTERS).contains(&id.chars().count()) =>
                {
                    Ok(Some(id.clone()))
                }
                Some(_) => Err(invalid(&format!(
                    "{name} must be a string of 1 to {MAX_ID_CHARACTERS} characters"
                ))),
            }
        };
        match (id("alert_id")?, id("call_uuid")?) {
            (Some(alert_id), None) => Ok(Self::AlertId(alert_id)),
            (None, Some(call_uuid)) => Ok(Self::CallUuid(call_uuid)),
            (None, None) => Err(invalid("give alert_id or call_uuid")),
            (Some(_), Some(_)) => Err(invalid("give alert_id or call_uuid, not both")),
        }
    }
}

/// Reads the alert `query` names.
pub async fn alert_status(
    store: &dyn AlertStore,
    query: &StatusQuery,
) -> Result<Versioned, StatusError> {
    let (found, field, id) = match query {
        StatusQuery::AlertId(id) => (store.by_alert(id).await?, "alert_id", id),
        StatusQuery::CallUuid(id) => (store.by_call(id).await?, "call_uuid", id),
    };
    found.ok_or_else(|| StatusError::NotFound {
        field,
        id: capped(id),
    })
}

/// The status payload of a record.
pub fn status_json(found: &Versioned) -> Value {
    let record: &AlertRecord = &found.record;
    json!({
        "alert_id": record.alert_id,
        "call_uuid": record.call_uuid,
        "state": record.state,
        "ended": record.state.is_terminal(),
        "confirm_requested": record.confirm_requested,
        "confirmation": record.confirmation,
        "confirmed": record.confirmation == Confirmation::Confirmed,
        "confirmation_at": record.confirmation_at,
        "confirmation_timestamp": record.confirmation_timestamp,
        "message": record.message,
        "to_masked": record.to_masked,
        "requested_at": record.requested_at,
        "updated_at": record.updated_at,
        "version": found.version,
        "timeline": record.timeline,
        "timeline_dropped": record.timeline_dropped,
    })
}

/// The whole of alert-status: the payload for `input`, an error payload included, within
/// `budget` (the invocation's deadline; the store's own timeout applies to each read). Logs one
/// line.
pub async fn handle_status(input: &Value, store: &dyn AlertStore, budget: &Budget) -> Value {
    let outcome = match StatusQuery::from_json(input) {
        Ok(query) => budget
            .run("reading the alert", alert_status(store, &query))
            .await
            .map_err(StatusError::from)
            .and_then(|found| found),
        Err(error) => Err(error),
    };
    match outcome {
        Ok(found) => {
            tracing::info!(
                alert_id = %capped(&found.record.alert_id),
                state = found.record.state.as_str(),
                confirmation = found.record.confirmation.as_str(),
                "alert status read"
            );
            status_json(&found)
        }
        Err(error) => {
            tracing::warn!(error = error.kind(), detail = %error, "alert status not read");
            error.to_json()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use crate::outcome::machine::CallEvent;
    use crate::outcome::record::sample_record;
    use crate::outcome::store::{MemoryAlertStore, record_event};

    #[tokio::test]
    async fn an_alert_is_read_by_either_id_and_an_unknown_one_is_a_typed_error() {
        let clock = std::sync::Arc::new(ManualClock::at(1_800_000_000));
        let budget = Budget::lasting(std::time::Duration::from_secs(5), clock);
        let store = MemoryAlertStore::default();
        let record = AlertRecord {
            alert_id: "disk-full".into(),
            ..sample_record()
        };
        store.create(&record, 1_000).await.unwrap();
        let input = CallEvent::input(Some("1"), "2027-01-15T08:00:09.000Z");
        record_event(&store, "call-1", &input, 150, |_| 1_000)
            .await
            .unwrap();

        let by_alert = handle_status(&json!({"alert_id": "disk-full"}), &store, &budget).await;
        let by_call = handle_status(&json!({"call_uuid": "call-1"}), &store, &budget).await;
        assert_eq!(by_alert, by_call);
        assert_eq!(by_alert["state"], "answered");
        assert_eq!(by_alert["confirmation"], "confirmed");
        assert_eq!(by_alert["confirmed"], true);
        assert_eq!(by_alert["confirmation_at"], 150);
        assert_eq!(by_alert["timeline"][0]["event"], "input");
        assert_eq!(by_alert["to_masked"], "********0123");

        let unknown = handle_status(&json!({"alert_id": "nope"}), &store, &budget).await;
        assert_eq!(
            unknown,
            json!({"error": "not_found", "alert_id": "nope", "message": "no alert has alert_id nope"})
        );
        for bad in [
            json!({}),
            json!([]),
            json!({"alert_id": "a", "call_uuid": "b"}),
            json!({"alert_id": 7}),
            json!({"alert_id": ""}),
            json!({"alert_id": "x".repeat(129)}),
            json!({"id": "a"}),
        ] {
            let refused = handle_status(&bad, &store, &budget).await;
            assert_eq!(refused["error"], "invalid_input", "{bad}");
        }
    }
}
