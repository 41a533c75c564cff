//! The event webhook: verify, answer a duplicate as the first time, record the event as one log
//! line, and, for a call one of our alerts placed, move the alert's outcome and publish the change.

use std::sync::Arc;
use std::time::Instant;

use super::{Clock, IncomingWebhook, Outcome, VerificationFailure, VerifiedWebhook, gate::Gate};
use crate::deadline::Budget;
use crate::observe::logging::capped;
use crate::outcome::{
    AlertChanged, AlertStore, CallEvent, OutcomeConfig, Publisher, Recorded, record_event,
};
use crate::secrets::SecretStore;
use crate::settings::webhook::EventConfig;
use crate::state::{Delivery, DeliveryId, ReplayStore, SharedCheck, StoredAnswer};
use crate::vonage::events::VoiceEvent;
use crate::vonage::verify::Rejection;

/// One log line per event webhook, with the event's identifying fields and whatever the caller
/// adds. Phone numbers (`from`/`to`) are left out on purpose. Every field taken from the body is
/// capped: an unsigned event's fields are whatever the caller chose to send.
macro_rules! event_line {
    ($level:ident, $event:expr, $($rest:tt)+) => {{
        let event: Option<&VoiceEvent> = $event;
        let field = |read: fn(&VoiceEvent) -> Option<&str>| event.and_then(read).map(capped);
        tracing::$level!(
            webhook = "event",
            call_uuid = field(VoiceEvent::call_uuid).as_deref(),
            conversation_uuid = field(VoiceEvent::conversation_uuid).as_deref(),
            status = event.map(|event| capped(event.kind())).as_deref(),
            direction = field(VoiceEvent::direction).as_deref(),
            timestamp = field(VoiceEvent::timestamp).as_deref(),
            start_time = field(VoiceEvent::start_time).as_deref(),
            end_time = field(VoiceEvent::end_time).as_deref(),
            $($rest)+
        )
    }};
}

/// The waits before looking again for the record of an outbound call's `started` or `ringing`
/// event when none was found (see [`EventHandler::record_outcome`]).
pub const NOT_FOUND_RETRIES: [std::time::Duration; 2] = [
    std::time::Duration::from_millis(200),
    std::time::Duration::from_millis(400),
];

/// The event webhook: verifies, drops duplicates, applies the event to its alert, answers.
pub struct EventHandler {
    gate: Gate,
    unsigned_statuses: Vec<String>,
    clock: Arc<dyn Clock>,
    outcomes: Option<Outcomes>,
}

/// Where alert outcomes are recorded and published.
pub struct Outcomes {
    /// Where alert records are read and written.
    pub alerts: Arc<dyn AlertStore>,
    /// Publishes each change of an alert's state.
    pub publisher: Arc<Publisher>,
    /// The records' retention and retry room.
    pub config: OutcomeConfig,
}

impl EventHandler {
    /// `deliveries` is the duplicate store every instance shares (DynamoDB in production).
    pub fn new(
        config: &EventConfig,
        secrets: Arc<dyn SecretStore>,
        deliveries: Arc<dyn ReplayStore>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            gate: Gate::new(&config.webhook, secrets, deliveries, Arc::clone(&clock)),
            unsigned_statuses: config.unsigned_statuses.clone(),
            clock,
            outcomes: None,
        }
    }

    /// Records verified events of our alerts' calls in `outcomes` and publishes each change.
    pub fn with_outcomes(mut self, outcomes: Outcomes) -> Self {
        self.outcomes = Some(outcomes);
        self
    }

    /// Reads the secret at cold start; see [`SignedWebhookVerifier::warm_up`].
    pub async fn warm_up(&self) -> bool {
        self.gate.warm_up().await
    }

    /// Decides on one event webhook and logs it.
    ///
    /// The body is parsed only once the token has verified (an unsigned request's body is parsed
    /// to read its status for the allow-list; `crate::http` has already capped its size).
    ///
    /// A verified event seen before, by its `jti` or by its delivery (`uuid` + status +
    /// `timestamp`, which a retry Vonage re-signed still carries) on any instance sharing the
    /// state table, gets the first delivery's answer (200, and the same NCCO for a DTMF
    /// `input`) and is not processed again: an error status would send Vonage to the fallback
    /// URL. A replayed capture gets the same, so it learns nothing and changes nothing.
    pub async fn handle(&self, incoming: &IncomingWebhook) -> Outcome {
        // The lines that follow carry the call's uuid as the request claims it (capped, as it is
        // the caller's claim until the decision line says `verified`), read without parsing the
        // body into anything.
        crate::observe::logging::record_call_uuid(
            VoiceEvent::claimed_call_uuid(
                &incoming.method,
                incoming.query.as_deref(),
                &incoming.body,
            )
            .as_deref(),
        );
        if incoming.is_unsigned() {
            crate::observe::metrics::count(crate::observe::metrics::names::WEBHOOK_UNSIGNED);
            let parsed = VoiceEvent::from_request(
                &incoming.method,
                incoming.query.as_deref(),
                &incoming.body,
            );
            return self.unsigned(parsed.as_ref().ok());
        }

        let answer_by = self.gate.verifier.answer_by(incoming);
        let VerifiedWebhook {
            verified,
            secret_refreshed,
        } = match self.gate.verifier.verify(incoming, answer_by).await {
            Ok(verified) => verified,
            Err(failure) => {
                crate::observe::metrics::verification_failed(&failure);
                match &failure {
                    VerificationFailure::SecretUnavailable(error) => event_line!(
                        error,
                        None,
                        outcome = "secret_unavailable",
                        verified = false,
                        reason = failure.reason(),
                        error = %error,
                        "event webhook not verified: the webhook secret cannot be read in time"
                    ),
                    _ => event_line!(
                        warn,
                        None,
                        outcome = "rejected",
                        verified = false,
                        reason = failure.reason(),
                        "event webhook refused"
                    ),
                }
                return failure.outcome();
            }
        };

        let parsed =
            VoiceEvent::from_request(&incoming.method, incoming.query.as_deref(), &incoming.body);
        let event = parsed.as_ref().ok();
        let reply = event.and_then(VoiceEvent::reply_ncco);
        let answer = reply
            .as_ref()
            .map_or_else(StoredAnswer::acknowledged, |ncco| {
                StoredAnswer::ncco(ncco.to_json())
            });
        let claims = &verified.claims;
        let delivery = event.and_then(DeliveryId::of_event);
        let (check, now) = self
            .gate
            .check_delivery(claims, delivery, &answer, answer_by)
            .await;
        let state_error = check.state_error();
        if let Delivery::Duplicate {
            matched,
            first_answer,
        } = check.delivery
        {
            event_line!(
                info,
                event,
                outcome = "duplicate",
                verified = true,
                duplicate = true,
                matched = matched.as_str(),
                jti = claims.jti.as_str(),
                matched_secret = verified.matched_secret.as_ref(),
                state_error,
                "event webhook seen before: answered as the first time, not processed again"
            );
            // The first answer as stored; one that no longer reads as a valid NCCO is replaced by
            // this delivery's, which is what the first would have been.
            let first = first_answer
                .ncco
                .map(|json| serde_json::from_value(json).ok().or(reply));
            return Outcome::Duplicate {
                matched,
                ncco: first.flatten(),
            };
        }
        if let SharedCheck::Failed(error) = &check.shared {
            event_line!(
                warn,
                event,
                verified = true,
                state_error = error.kind(),
                error = %error,
                "the shared duplicate check failed; this instance's memory alone decided"
            );
        }

        crate::observe::metrics::count(crate::observe::metrics::names::WEBHOOK_VERIFIED);
        event_line!(
            info,
            event,
            outcome = "processed",
            verified = true,
            duplicate = false,
            jti = claims.jti.as_str(),
            iat = claims.iat,
            matched_secret = verified.matched_secret.as_ref(),
            secret_refreshed,
            body_matched_compact_form = verified.body_matched_compact_form,
            state_error,
            parse_error = parsed.as_ref().err().map(tracing::field::display),
            "event webhook"
        );
        // With the table failing, the record would most likely fail too: its time and requests
        // are not spent (the duplicate check's warning above says why nothing was recorded).
        let table_failed = matches!(check.shared, SharedCheck::Failed(_));
        if let (Some(event), false) = (event, table_failed) {
            self.record_outcome(event, now, answer_by).await;
        }
        Outcome::Accepted { ncco: reply }
    }

    /// Applies a verified, first-seen event to its alert, if one of ours placed the call, and
    /// publishes the change it made, all before `answer_by`. Nothing here changes the answer: a
    /// failure is logged (and a failed publish counted) and the webhook is answered as usual.
    async fn record_outcome(&self, event: &VoiceEvent, now: i64, answer_by: Instant) {
        let (Some(outcomes), Some(call_uuid)) = (&self.outcomes, event.call_uuid()) else {
            return;
        };
        let left = answer_by.saturating_duration_since(self.clock.instant());
        let budget = Budget::lasting(left, Arc::clone(&self.clock));
        let call_event = CallEvent::from_voice_event(event);
        let record = || {
            record_event(
                outcomes.alerts.as_ref(),
                call_uuid,
                &call_event,
                now,
                |record| outcomes.config.expires_at(record.updated_at),
            )
        };
        let mut recorded = budget.run("recording the alert outcome", record()).await;
        // An outbound call's first events can come before send-alert, which learns the call's
        // uuid from Vonage's answer, has written its record: look again, within the budget.
        let early =
            event.direction() == Some("outbound") && matches!(event.kind(), "started" | "ringing");
        for wait in NOT_FOUND_RETRIES.iter().filter(|_| early) {
            if !matches!(recorded, Ok(Ok(Recorded::NotOurs)))
                || !budget.fits(*wait, outcomes.config.retry_room)
            {
                break;
            }
            tokio::time::sleep(*wait).await;
            recorded = budget.run("recording the alert outcome", record()).await;
        }
        let (record, version, change) = match recorded {
            Ok(Ok(Recorded::Updated {
                record,
                version,
                change,
            })) => (record, version, change),
            Ok(Ok(Recorded::NotOurs | Recorded::Unchanged)) => return,
            Ok(Err(error)) => {
                event_line!(
                    warn,
                    Some(event),
                    state_error = error.kind(),
                    error = %error,
                    "the alert outcome was not recorded"
                );
                return;
            }
            Err(cut) => {
                event_line!(warn, Some(event), error = %cut, "the alert outcome was not recorded");
                return;
            }
        };
        tracing::info!(
            webhook = "event",
            alert_id = %capped(&record.alert_id),
            call_uuid = %capped(call_uuid),
            state = record.state.as_str(),
            confirmation = record.confirmation.as_str(),
            version,
            changed = change.is_some(),
            "alert outcome recorded"
        );
        if let Some(change) = change {
            crate::observe::metrics::alert_changed(&change);
            let changed = AlertChanged::new(&record, &change, version);
            outcomes.publisher.publish(&changed, &budget).await;
        }
    }

    /// An event without an Authorization header. Vonage says this can happen after an internal
    /// error on its side and that it retries on 5xx, so by default we ask for that retry (503).
    /// Kinds listed in `UNSIGNED_EVENT_STATUSES` (events Vonage does not sign yet) are accepted.
    fn unsigned(&self, event: Option<&VoiceEvent>) -> Outcome {
        let kind = event.map_or("unknown", VoiceEvent::kind);
        if self.unsigned_statuses.iter().any(|allowed| allowed == kind) {
            event_line!(
                info,
                event,
                outcome = "processed",
                verified = false,
                duplicate = false,
                "unsigned event webhook accepted: its status is listed in UNSIGNED_EVENT_STATUSES"
            );
            return Outcome::Accepted {
                ncco: event.and_then(VoiceEvent::reply_ncco),
            };
        }
        crate::observe::metrics::rejected(Rejection::MissingToken.reason());
        event_line!(
            warn,
            event,
            outcome = "rejected",
            verified = false,
            reason = Rejection::MissingToken.reason(),
            "unsigned event webhook: asking Vonage to retry"
        );
        Outcome::Rejected(Rejection::MissingToken)
    }
}
