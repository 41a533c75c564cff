//! Alert outcomes: what became of each call send-alert placed, from the call's signed events.
//!
//! - [`record`]: the alert record send-alert writes when it places a call ([`placed`]);
//! - [`machine`]: the pure state machine that applies one event to a record;
//! - [`store`]: the [`AlertStore`] port, its in-memory implementation, and [`record_event`],
//!   the conditional read-apply-write every instance runs; [`dynamodb`]: the store on the state
//!   table;
//! - [`publish`]: the [`EventPublisher`] port and [`Publisher`], which publishes each change of
//!   state within the webhook's budget; [`eventbridge`]: the publisher on EventBridge;

pub mod dynamodb;
pub mod eventbridge;
pub mod machine;
pub mod placed;
pub mod publish;
pub mod record;
pub mod store;

use crate::settings::{ALERT_RETENTION_DAYS, DEFAULT_ALERT_RETENTION};
use std::time::Duration;

use crate::settings::{self, ConfigError, Settings};

pub use eventbridge::EventBridgePublisher;
pub use machine::{Applied, CallEvent, StateChange, apply};
pub use placed::AlertRecording;
#[cfg(any(test, feature = "test-util"))]
pub use publish::MemoryPublisher;
pub use publish::{AlertChanged, DETAIL_TYPE, EVENT_SOURCE, EventPublisher, Published, Publisher};
pub use record::{AlertRecord, AskedMessage, CallState, Confirmation, NewAlert, TimelineEntry};
#[cfg(any(test, feature = "test-util"))]
pub use store::MemoryAlertStore;
pub use store::{AlertStore, Recorded, Replaced, Replacement, Versioned, record_event};

/// The alert records' settings (send-alert and the event function read them).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutcomeConfig {
    /// How long a record is kept after its last change (`ALERT_RETENTION_DAYS`).
    pub retention: Duration,
    /// What must be left of a webhook's budget, after a wait, to look again for a record not
    /// found: room for the read, the write and the publish.
    pub retry_room: Duration,
}

/// See [`OutcomeConfig::retry_room`].
pub const DEFAULT_RETRY_ROOM: Duration = Duration::from_millis(1000);

impl Default for OutcomeConfig {
    fn default() -> Self {
        Self {
            retention: DEFAULT_ALERT_RETENTION,
            retry_room: DEFAULT_RETRY_ROOM,
        }
    }
}

impl OutcomeConfig {
    /// Reads the retention setting; an error names the setting to fix.
    pub fn from_settings(settings: &impl Settings) -> Result<Self, ConfigError> {
        let days = settings::parsed_or(settings, ALERT_RETENTION_DAYS, 30u64)?;
        if !(1..=3650).contains(&days) {
            return Err(ConfigError::Invalid {
                name: ALERT_RETENTION_DAYS,
                problem: "must be 1 to 3650 days".into(),
            });
        }
        Ok(Self {
            retention: Duration::from_secs(days * 24 * 3600),
            retry_room: DEFAULT_RETRY_ROOM,
        })
    }

    /// When a record last changed at `updated_at` (Unix seconds) expires.
    pub fn expires_at(&self, updated_at: i64) -> i64 {
        updated_at.saturating_add(i64::try_from(self.retention.as_secs()).unwrap_or(i64::MAX))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retention_defaults_to_thirty_days_and_names_its_setting() {
        let config = OutcomeConfig::from_settings(&[("X", "1")]).unwrap();
        assert_eq!(config, OutcomeConfig::default());
        assert_eq!(config.expires_at(100), 100 + 30 * 24 * 3600);
        let config = OutcomeConfig::from_settings(&[(ALERT_RETENTION_DAYS, "2")]).unwrap();
        assert_eq!(config.retention, Duration::from_secs(2 * 24 * 3600));
        for bad in ["0", "4000", "soon"] {
            let error = OutcomeConfig::from_settings(&[(ALERT_RETENTION_DAYS, bad)]).unwrap_err();
            assert!(
                matches!(error, ConfigError::Invalid { name, .. } if name == ALERT_RETENTION_DAYS),
                "{bad}: {error}"
            );
        }
    }
}
