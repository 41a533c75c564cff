//! send-alert's part: the alert record written when a call is placed.

use serde_json::Value;

use super::OutcomeConfig;
use super::record::{AlertRecord, AskedMessage, NewAlert};
use super::store::AlertStore;
use crate::alert::{AlertError, AlertRequest, AlertSent, Message};
use crate::clock::Clock;
use crate::deadline::Budget;
use crate::observe::logging::capped;

/// Where send-alert records the alerts it places.
#[derive(Clone, Copy)]
pub struct AlertRecording<'a> {
    /// Where alert records are written.
    pub store: &'a dyn AlertStore,
    /// The records' retention.
    pub config: &'a OutcomeConfig,
    /// The clock the request time is read from.
    pub clock: &'a dyn Clock,
}

impl AlertRecording<'_> {
    /// send-alert's outcome, after the record of a placed call was written (see
    /// [`Self::placed`]); an alert not placed writes nothing.
    pub async fn record_if_placed(
        &self,
        alert_id: &str,
        input: &Value,
        outcome: Result<AlertSent, AlertError>,
        budget: &Budget,
    ) -> Result<AlertSent, AlertError> {
        if let Ok(sent) = &outcome {
            self.placed(alert_id, input, sent, budget).await;
        }
        outcome
    }

    /// Writes the record of alert `alert_id`, whose call `sent` was placed for `input`, within
    /// `budget`. A failure is logged: the call rings all the same, and its events are then
    /// logged without an outcome (alert-status answers `not_found`).
    pub async fn placed(&self, alert_id: &str, input: &Value, sent: &AlertSent, budget: &Budget) {
        let Ok(request) = AlertRequest::from_json(input) else {
            return;
        };
        let record = AlertRecord::placed(&NewAlert {
            alert_id,
            call_uuid: &sent.call_uuid,
            to: request.to.as_str(),
            message: match request.message {
                Message::Code(_) => AskedMessage::Code,
                Message::Text(_) => AskedMessage::Text,
            },
            confirm_requested: request.confirm,
            requested_at: self.clock.unix_seconds(),
        });
        let expires_at = self.config.expires_at(record.requested_at);
        let written = budget
            .run(
                "recording the alert",
                self.store.create(&record, expires_at),
            )
            .await;
        let error = match written {
            Ok(Ok(())) => {
                tracing::info!(
                    alert_id = %capped(alert_id),
                    call_uuid = %sent.call_uuid,
                    "alert recorded"
                );
                return;
            }
            Ok(Err(error)) => error.to_string(),
            Err(cut) => cut.to_string(),
        };
        tracing::error!(
            alert_id = %capped(alert_id),
            call_uuid = %sent.call_uuid,
            detail = %error,
            "the alert was placed but not recorded: its outcome will not be known"
        );
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use serde_json::json;

    use super::*;
    use crate::clock::ManualClock;
    use crate::outcome::record::{CallState, Confirmation};
    use crate::outcome::store::MemoryAlertStore;

    #[tokio::test]
    async fn a_placed_call_is_recorded_with_what_was_asked_and_a_masked_number() {
        let store = MemoryAlertStore::default();
        let clock = Arc::new(ManualClock::at(1_800_000_000));
        let config = OutcomeConfig::default();
        let recording = AlertRecording {
            store: &store,
            config: &config,
            clock: clock.as_ref(),
        };
        let sent = AlertSent {
            call_uuid: "call-1".into(),
            conversation_uuid: None,
            status: "started".into(),
        };
        let budget = Budget::lasting(Duration::from_secs(5), clock.clone());
        let input = json!({"to": "447700900123", "code": "4821", "confirm": true});
        let not_placed = Err(AlertError::SecretUnavailable(
            crate::secrets::SecretStoreError::Unavailable("no secret".into()),
        ));
        let outcome = recording
            .record_if_placed("alert-0", &input, not_placed, &budget)
            .await;
        assert!(outcome.is_err());
        assert_eq!(
            store.by_alert("alert-0").await.unwrap(),
            None,
            "nothing placed"
        );
        let outcome = recording
            .record_if_placed("alert-1", &input, Ok(sent.clone()), &budget)
            .await;
        assert_eq!(outcome.unwrap(), sent);
        let stored = store.by_alert("alert-1").await.unwrap().unwrap();
        assert_eq!(stored.version, 1);
        let record = stored.record;
        assert_eq!(record.call_uuid, "call-1");
        assert_eq!(record.to_masked, "********0123");
        assert_eq!(record.message, AskedMessage::Code);
        assert!(record.confirm_requested);
        assert_eq!(record.requested_at, 1_800_000_000);
        assert_eq!(
            (record.state, record.confirmation),
            (CallState::Placed, Confirmation::None)
        );
        let text = serde_json::to_string(&record).unwrap();
        assert!(
            !text.contains("4821") && !text.contains("447700900123"),
            "{text}"
        );
    }
}
