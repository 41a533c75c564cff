//! Publishing each change of an alert's state: the port ([`EventPublisher`]), the event's shape
//! ([`AlertChanged`]), the bounded retries ([`Publisher::publish`]) and an in-memory publisher.
//!
//! A publish never fails the webhook: it is tried for as long as the webhook's budget allows
//! (at most [`MAX_PUBLISH_ATTEMPTS`] times), then given up, logged and counted.

#[cfg(any(test, feature = "test-util"))]
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde::Serialize;

use super::machine::StateChange;
use super::record::{AlertRecord, AskedMessage, CallState, Confirmation};
use crate::deadline::Budget;
use crate::observe::Cause;
use crate::observe::logging::capped;

/// The EventBridge `source` of every event this project publishes.
pub const EVENT_SOURCE: &str = "vonage-voice-lambda.alerts";
/// The EventBridge `detail-type` of a change of an alert's state or confirmation.
pub const DETAIL_TYPE: &str = "Alert state changed";
/// The longest one attempt may take.
pub const PUBLISH_ATTEMPT_TIMEOUT: Duration = Duration::from_millis(800);
/// An attempt is not started with less than this left: it would most likely be cut.
pub const MIN_ATTEMPT_TIME: Duration = Duration::from_millis(50);
/// One log line about publishing `$event`, with the alert's id, state, confirmation and version
/// and the attempts made, then the line's own fields and message.
macro_rules! change_line {
    ($level:ident, $event:expr, $attempts:expr, $($rest:tt)+) => {{
        let event: &AlertChanged = $event;
        tracing::$level!(
            alert_id = %capped(&event.alert_id),
            state = event.state.as_str(),
            confirmation = event.confirmation.as_str(),
            version = event.version,
            attempts = $attempts,
            $($rest)+
        )
    }};
}

/// How many times one change is offered to the bus at the most.
pub const MAX_PUBLISH_ATTEMPTS: u32 = 3;
/// The wait before the second attempt; doubled before each one after it.
pub const FIRST_RETRY_DELAY: Duration = Duration::from_millis(100);

/// The `detail` of an [`EVENT_SOURCE`] / [`DETAIL_TYPE`] event.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AlertChanged {
    /// The alert the change belongs to.
    pub alert_id: String,
    /// The uuid of the alert's call.
    pub call_uuid: String,
    /// The call state after the change.
    pub state: CallState,
    /// The call state before it.
    pub previous_state: CallState,
    /// The confirmation after the change.
    pub confirmation: Confirmation,
    /// The confirmation before it.
    pub previous_confirmation: Confirmation,
    /// Whether the callee was asked to press 1.
    pub confirm_requested: bool,
    /// `confirmation == confirmed`, for rules that match a boolean.
    pub confirmed: bool,
    /// The call has ended.
    pub ended: bool,
    /// What the alert asked the callee, without the code.
    pub message: AskedMessage,
    /// The number called, all but its last four digits masked.
    pub to_masked: String,
    /// When send-alert placed the call, in Unix seconds.
    pub requested_at: i64,
    /// When the change was recorded (Unix seconds).
    pub changed_at: i64,
    /// The record's version after the change: increases with every write, so a consumer can
    /// order the events of one alert.
    pub version: u64,
}

impl AlertChanged {
    /// The event for `change`, which made `record` version `version`.
    pub fn new(record: &AlertRecord, change: &StateChange, version: u64) -> Self {
        Self {
            alert_id: record.alert_id.clone(),
            call_uuid: record.call_uuid.clone(),
            state: change.state,
            previous_state: change.previous_state,
            confirmation: change.confirmation,
            previous_confirmation: change.previous_confirmation,
            confirm_requested: record.confirm_requested,
            confirmed: change.confirmation == Confirmation::Confirmed,
            ended: change.state.is_terminal(),
            message: record.message,
            to_masked: record.to_masked.clone(),
            requested_at: record.requested_at,
            changed_at: record.updated_at,
            version,
        }
    }

    /// The event's `Detail`, as JSON text.
    pub fn detail_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// Why one attempt to publish failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PublishError {
    #[error("no answer within {0:?}")]
    /// The attempt outlasted its time limit.
    Timeout(Duration),
    /// The bus could not be reached or failed on its side: worth another attempt.
    #[error("the event bus is unavailable: {0}")]
    Unavailable(#[source] Cause),
    /// Refused (permissions, a malformed entry): another attempt gets the same answer.
    #[error("the event bus refused the event: {0}")]
    Refused(#[source] Cause),
}

impl PublishError {
    /// A stable name for logs.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Timeout(_) => "timeout",
            Self::Unavailable(_) => "unavailable",
            Self::Refused(_) => "refused",
        }
    }

    fn retryable(&self) -> bool {
        !matches!(self, Self::Refused(_))
    }
}

/// Where changes are published (EventBridge in production).
#[async_trait::async_trait]
pub trait EventPublisher: Send + Sync {
    /// One attempt, taking at most `timeout`.
    async fn put(&self, event: &AlertChanged, timeout: Duration) -> Result<(), PublishError>;
}

/// How a publish ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Published {
    /// The bus took the event after `attempts` attempts.
    Sent {
        /// How many attempts were made.
        attempts: u32,
    },
    /// The event was not published; `error` is the last failure.
    GaveUp {
        /// How many attempts were made.
        attempts: u32,
        /// The last failure.
        error: PublishError,
    },
}

/// The publisher a webhook function holds: the port, and counts of what it published and gave
/// up on since the instance started (logged with every failure).
pub struct Publisher {
    port: Box<dyn EventPublisher>,
    sent: AtomicU64,
    failed: AtomicU64,
}

impl Publisher {
    /// A publisher over `port`, with no sends or failures counted yet.
    pub fn new(port: impl EventPublisher + 'static) -> Self {
        Self {
            port: Box::new(port),
            sent: AtomicU64::new(0),
            failed: AtomicU64::new(0),
        }
    }

    /// Events given up on by this instance.
    pub fn failures(&self) -> u64 {
        self.failed.load(Ordering::Relaxed)
    }

    /// Events published by this instance.
    pub fn sent(&self) -> u64 {
        self.sent.load(Ordering::Relaxed)
    }

    /// Publishes `event`, retrying while `budget` leaves time; never returns an error, only
    /// what happened, which it has logged.
    pub async fn publish(&self, event: &AlertChanged, budget: &Budget) -> Published {
        let mut delay = FIRST_RETRY_DELAY;
        let mut attempts = 0;
        let mut last = PublishError::Timeout(Duration::ZERO);
        while attempts < MAX_PUBLISH_ATTEMPTS {
            if attempts > 0 {
                if !budget.fits(delay, MIN_ATTEMPT_TIME) {
                    break;
                }
                tokio::time::sleep(delay).await;
                delay = delay.saturating_mul(2);
            }
            let Some(limit) = budget.step_limit(PUBLISH_ATTEMPT_TIMEOUT, MIN_ATTEMPT_TIME) else {
                break;
            };
            attempts += 1;
            let attempt = tokio::time::timeout(limit, self.port.put(event, limit)).await;
            match attempt.unwrap_or(Err(PublishError::Timeout(limit))) {
                Ok(()) => {
                    self.sent.fetch_add(1, Ordering::Relaxed);
                    change_line!(info, event, attempts, "alert change published");
                    return Published::Sent { attempts };
                }
                Err(error) => {
                    let retryable = error.retryable();
                    last = error;
                    if !retryable {
                        break;
                    }
                }
            }
        }
        let failures = self.failed.fetch_add(1, Ordering::Relaxed) + 1;
        crate::observe::metrics::count(crate::observe::metrics::names::EVENTBRIDGE_FAILURE);
        change_line!(
            error,
            event,
            attempts,
            error = last.kind(),
            detail = %last,
            publish_failures = failures,
            "alert change not published; the record has it"
        );
        Published::GaveUp {
            attempts,
            error: last,
        }
    }
}

#[cfg(any(test, feature = "test-util"))]
/// Events kept in memory, for unit tests: fails the first `fail_first` attempts when told to.
#[derive(Debug, Default)]
pub struct MemoryPublisher {
    events: Mutex<Vec<AlertChanged>>,
    fail_first: AtomicU64,
    refuse: bool,
}

#[cfg(any(test, feature = "test-util"))]
impl MemoryPublisher {
    /// A publisher whose first `attempts` attempts fail as unavailable.
    pub fn failing(attempts: u64) -> Self {
        Self {
            fail_first: AtomicU64::new(attempts),
            ..Self::default()
        }
    }

    /// A publisher that refuses every event.
    pub fn refusing() -> Self {
        Self {
            refuse: true,
            ..Self::default()
        }
    }

    /// Every event published so far, in order.
    pub fn events(&self) -> Vec<AlertChanged> {
        self.events
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }
}

#[cfg(any(test, feature = "test-util"))]
#[async_trait::async_trait]
impl EventPublisher for MemoryPublisher {
    async fn put(&self, event: &AlertChanged, _timeout: Duration) -> Result<(), PublishError> {
        if self.refuse {
            return Err(PublishError::Refused("AccessDeniedException".into()));
        }
        let failing = self
            .fail_first
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |left| {
                left.checked_sub(1)
            })
            .is_ok();
        if failing {
            return Err(PublishError::Unavailable("connection refused".into()));
        }
        self.events
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push(event.clone());
        Ok(())
    }
}

#[async_trait::async_trait]
impl<T: EventPublisher + ?Sized> EventPublisher for std::sync::Arc<T> {
    async fn put(&self, event: &AlertChanged, timeout: Duration) -> Result<(), PublishError> {
        (**self).put(event, timeout).await
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::clock::Clock;
    use crate::outcome::record::sample_record;

    /// Reads tokio's (paused) time, so that a budget runs out as the test's time passes.
    struct TokioClock;

    impl Clock for TokioClock {
        fn unix_seconds(&self) -> i64 {
            1_800_000_000
        }
        fn instant(&self) -> std::time::Instant {
            tokio::time::Instant::now().into_std()
        }
    }

    fn event() -> AlertChanged {
        let record = sample_record();
        let change = StateChange {
            previous_state: CallState::Answered,
            state: CallState::Completed,
            previous_confirmation: Confirmation::None,
            confirmation: Confirmation::NotConfirmed,
        };
        AlertChanged::new(&record, &change, 4)
    }

    fn budget(length: Duration) -> Budget {
        Budget::lasting(length, Arc::new(TokioClock))
    }

    #[test]
    fn the_detail_has_the_documented_shape() {
        let detail: serde_json::Value = serde_json::from_str(&event().detail_json()).unwrap();
        assert_eq!(
            detail,
            serde_json::json!({
                "alert_id": "alert-1", "call_uuid": "call-1",
                "state": "completed", "previous_state": "answered",
                "confirmation": "not_confirmed", "previous_confirmation": "none",
                "confirm_requested": true, "confirmed": false, "ended": true,
                "message": "code", "to_masked": "********0123",
                "requested_at": 100, "changed_at": 100, "version": 4
            })
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_failing_bus_is_retried_within_the_budget_then_given_up_and_counted() {
        let port = Arc::new(MemoryPublisher::failing(2));
        let publisher = Publisher::new(Arc::clone(&port));
        let sent = publisher
            .publish(&event(), &budget(Duration::from_secs(3)))
            .await;
        assert_eq!(sent, Published::Sent { attempts: 3 });
        assert_eq!(port.events().len(), 1);
        assert_eq!((publisher.sent(), publisher.failures()), (1, 0));

        let port = Arc::new(MemoryPublisher::failing(10));
        let publisher = Publisher::new(Arc::clone(&port));
        let gave_up = publisher
            .publish(&event(), &budget(Duration::from_secs(3)))
            .await;
        assert!(
            matches!(gave_up, Published::GaveUp { attempts: 3, .. }),
            "{gave_up:?}"
        );
        assert_eq!(publisher.failures(), 1);

        // A refusal is not retried; no time left, no attempt.
        let publisher = Publisher::new(MemoryPublisher::refusing());
        let refused = publisher
            .publish(&event(), &budget(Duration::from_secs(3)))
            .await;
        assert!(matches!(
            refused,
            Published::GaveUp {
                attempts: 1,
                error: PublishError::Refused(_)
            }
        ));
        let publisher = Publisher::new(MemoryPublisher::default());
        let late = publisher.publish(&event(), &budget(Duration::ZERO)).await;
        assert!(matches!(late, Published::GaveUp { attempts: 0, .. }));
    }

    /// A bus that never answers.
    struct Hanging;

    #[async_trait::async_trait]
    impl EventPublisher for Hanging {
        async fn put(&self, _: &AlertChanged, _: Duration) -> Result<(), PublishError> {
            std::future::pending().await
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_hanging_bus_costs_no_more_than_the_budget() {
        let publisher = Publisher::new(Hanging);
        let started = tokio::time::Instant::now();
        let budget = budget(Duration::from_millis(1_000));
        let outcome = publisher.publish(&event(), &budget).await;
        assert!(matches!(
            outcome,
            Published::GaveUp {
                error: PublishError::Timeout(_),
                ..
            }
        ));
        assert!(
            started.elapsed() <= Duration::from_millis(1_000),
            "{:?}",
            started.elapsed()
        );
        assert_eq!(publisher.failures(), 1);
    }
}
