//! The alert store port ([`AlertStore`]), its in-memory implementation, and the one loop that
//! applies an event to a stored record with conditional writes ([`record_event`]).
//!
//! Every stored record carries a version. A write names the version it read and fails when the
//! record has moved since, handing back the newer record; the writer applies its event again on
//! that one. So two instances applying events to the same alert at once never lose each other's
//! writes, and since the machine's outcome does not depend on order, they agree on the result.

#[cfg(any(test, feature = "test-util"))]
use std::collections::HashMap;
#[cfg(any(test, feature = "test-util"))]
use std::sync::{Arc, Mutex};

use super::machine::{Applied, CallEvent, StateChange, apply};
use super::record::AlertRecord;
use crate::state::StateError;

/// A record and the version it was read at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Versioned {
    /// The record.
    pub record: AlertRecord,
    /// Its version, the condition of the next write.
    pub version: u64,
}

/// What a conditional write found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Replaced {
    /// Written at the next version.
    Written,
    /// The record had moved on; here it is as it stands now.
    Conflict(Versioned),
}

/// A conditional write of an alert record: the version it was read at is the write's condition.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Replacement<'a> {
    /// The record to write.
    pub record: &'a AlertRecord,
    /// The version it was read at: the write succeeds only if that is still the stored one.
    pub expected: u64,
    /// Until when it is kept (Unix seconds; see `OutcomeConfig`).
    pub expires_at: i64,
}

impl Replacement<'_> {
    /// The version the record is written at: one past the one it was read at.
    pub fn next_version(&self) -> u64 {
        self.expected + 1
    }

    /// The record as it stands once written.
    pub fn written(&self) -> Versioned {
        Versioned {
            record: self.record.clone(),
            version: self.next_version(),
        }
    }
}

/// A replacement found no record for its call: records are created before any event can move
/// them, so the store holds something this code did not write.
pub(crate) fn nothing_to_replace() -> StateError {
    StateError::Malformed("no record to replace for this call".into())
}

/// Where alert records live. Every instance of every function shares it (DynamoDB in
/// production, on the state table).
#[async_trait::async_trait]
pub trait AlertStore: Send + Sync {
    /// Writes a new record at version 1, findable by its call uuid and by its alert id, kept
    /// until `expires_at` (Unix seconds). A record already stored for the call is left as it is.
    async fn create(&self, record: &AlertRecord, expires_at: i64) -> Result<(), StateError>;
    /// The record of the call `call_uuid`, if one of our alerts placed it.
    async fn by_call(&self, call_uuid: &str) -> Result<Option<Versioned>, StateError>;
    /// The latest record of the alert `alert_id`.
    async fn by_alert(&self, alert_id: &str) -> Result<Option<Versioned>, StateError>;
    /// Writes the record at [`Replacement::next_version`] if the stored one is still at
    /// [`Replacement::expected`].
    async fn replace(&self, write: Replacement<'_>) -> Result<Replaced, StateError>;
}

/// How many times [`record_event`] reads and writes again when other writers keep moving the
/// record. Each retry follows a write that succeeded elsewhere, so running out takes that many
/// other events for one call at the same instant.
pub const MAX_WRITE_ATTEMPTS: u32 = 8;

/// What an event did to the alert store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Recorded {
    /// No alert of ours placed this call (an inbound call, a call placed elsewhere).
    NotOurs,
    /// The event was already recorded.
    Unchanged,
    /// Written; `change` is the change of state this write made, which only this writer saw.
    Updated {
        /// The record as written.
        record: AlertRecord,
        /// Its new version.
        version: u64,
        /// What changed, if the state or confirmation did.
        change: Option<StateChange>,
    },
}

/// Applies `event` of call `call_uuid` to its alert, if it has one, with conditional writes
/// (see the module docs). `expires_at` is kept on the record (see `OutcomeConfig`).
pub async fn record_event(
    store: &dyn AlertStore,
    call_uuid: &str,
    event: &CallEvent,
    received_at: i64,
    expires_at: impl Fn(&AlertRecord) -> i64,
) -> Result<Recorded, StateError> {
    let Some(mut current) = store.by_call(call_uuid).await? else {
        return Ok(Recorded::NotOurs);
    };
    for _ in 0..MAX_WRITE_ATTEMPTS {
        let Applied::Updated { record, change } = apply(&current.record, event, received_at) else {
            return Ok(Recorded::Unchanged);
        };
        let write = Replacement {
            record: &record,
            expected: current.version,
            expires_at: expires_at(&record),
        };
        match store.replace(write).await? {
            Replaced::Written => {
                let version = write.next_version();
                return Ok(Recorded::Updated {
                    record,
                    version,
                    change,
                });
            }
            Replaced::Conflict(newer) => current = newer,
        }
    }
    Err(StateError::Unavailable(
        format!("the alert record kept changing under {MAX_WRITE_ATTEMPTS} attempts to write it")
            .into(),
    ))
}

#[cfg(any(test, feature = "test-util"))]
/// Alert records in this process's memory: for unit tests and the local tools.
#[derive(Debug, Default)]
pub struct MemoryAlertStore {
    inner: Mutex<MemoryAlerts>,
}

#[cfg(any(test, feature = "test-util"))]
#[derive(Debug, Default)]
struct MemoryAlerts {
    by_call: HashMap<String, Versioned>,
    call_of_alert: HashMap<String, String>,
}

#[cfg(any(test, feature = "test-util"))]
impl MemoryAlertStore {
    fn lock(&self) -> std::sync::MutexGuard<'_, MemoryAlerts> {
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(any(test, feature = "test-util"))]
#[async_trait::async_trait]
impl AlertStore for MemoryAlertStore {
    async fn create(&self, record: &AlertRecord, _expires_at: i64) -> Result<(), StateError> {
        let mut alerts = self.lock();
        alerts
            .call_of_alert
            .insert(record.alert_id.clone(), record.call_uuid.clone());
        alerts
            .by_call
            .entry(record.call_uuid.clone())
            .or_insert_with(|| Versioned {
                record: record.clone(),
                version: 1,
            });
        Ok(())
    }

    async fn by_call(&self, call_uuid: &str) -> Result<Option<Versioned>, StateError> {
        Ok(self.lock().by_call.get(call_uuid).cloned())
    }

    async fn by_alert(&self, alert_id: &str) -> Result<Option<Versioned>, StateError> {
        let alerts = self.lock();
        Ok(alerts
            .call_of_alert
            .get(alert_id)
            .and_then(|call| alerts.by_call.get(call))
            .cloned())
    }

    async fn replace(&self, write: Replacement<'_>) -> Result<Replaced, StateError> {
        let mut alerts = self.lock();
        let Some(stored) = alerts.by_call.get_mut(&write.record.call_uuid) else {
            return Err(nothing_to_replace());
        };
        if stored.version != write.expected {
            return Ok(Replaced::Conflict(stored.clone()));
        }
        *stored = write.written();
        Ok(Replaced::Written)
    }
}

#[cfg(any(test, feature = "test-util"))]
/// What a [`Hooked`] store does around each `replace`: for tests that make writers race.
#[async_trait::async_trait]
pub trait ReplaceHooks: Send + Sync {
    /// Runs before the write reaches the store; its error is the write's.
    async fn before_replace(&self, write: Replacement<'_>) -> Result<(), StateError>;

    /// Sees what the store answered a write that did not fail.
    fn after_replace(&self, _replaced: &Replaced) {}
}

#[cfg(any(test, feature = "test-util"))]
/// A store that creates and reads on `inner` as it is, and runs `hooks` around each `replace`.
pub struct Hooked<H> {
    /// The store the calls go to.
    pub inner: Arc<dyn AlertStore>,
    /// What runs around each `replace`.
    pub hooks: H,
}

#[cfg(any(test, feature = "test-util"))]
#[async_trait::async_trait]
impl<H: ReplaceHooks> AlertStore for Hooked<H> {
    async fn create(&self, record: &AlertRecord, expires_at: i64) -> Result<(), StateError> {
        self.inner.create(record, expires_at).await
    }

    async fn by_call(&self, call_uuid: &str) -> Result<Option<Versioned>, StateError> {
        self.inner.by_call(call_uuid).await
    }

    async fn by_alert(&self, alert_id: &str) -> Result<Option<Versioned>, StateError> {
        self.inner.by_alert(alert_id).await
    }

    async fn replace(&self, write: Replacement<'_>) -> Result<Replaced, StateError> {
        self.hooks.before_replace(write).await?;
        let replaced = self.inner.replace(write).await?;
        self.hooks.after_replace(&replaced);
        Ok(replaced)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};

    use super::*;
    use crate::outcome::record::{CallState, Confirmation, sample_record as new_alert};

    #[tokio::test]
    async fn an_event_for_a_call_that_is_not_ours_touches_nothing() {
        let store = MemoryAlertStore::default();
        store.create(&new_alert(), 1_000).await.unwrap();
        let event = CallEvent::status("answered", "2027-01-15T08:00:04.000Z");
        let recorded = record_event(&store, "someone-elses", &event, 200, |_| 1_000).await;
        assert_eq!(recorded, Ok(Recorded::NotOurs));
        let stored = store.by_alert("alert-1").await.unwrap().unwrap();
        assert_eq!(stored.version, 1);
        assert_eq!(stored.record, new_alert());
        assert_eq!(store.by_alert("alert-2").await, Ok(None));
    }

    #[tokio::test]
    async fn events_move_the_record_and_a_repeat_writes_nothing() {
        let store = MemoryAlertStore::default();
        store.create(&new_alert(), 1_000).await.unwrap();
        let answered = CallEvent::status("answered", "2027-01-15T08:00:04.000Z");
        let Ok(Recorded::Updated {
            version, change, ..
        }) = record_event(&store, "call-1", &answered, 200, |_| 1_000).await
        else {
            panic!("not written");
        };
        assert_eq!(version, 2);
        assert_eq!(change.unwrap().state, CallState::Answered);
        assert_eq!(
            record_event(&store, "call-1", &answered, 201, |_| 1_000).await,
            Ok(Recorded::Unchanged)
        );
        let input = CallEvent::input(Some("1"), "2027-01-15T08:00:09.000Z");
        record_event(&store, "call-1", &input, 202, |_| 1_000)
            .await
            .unwrap();
        let stored = store.by_call("call-1").await.unwrap().unwrap();
        assert_eq!(stored.version, 3);
        assert_eq!(stored.record.confirmation, Confirmation::Confirmed);
    }

    /// Lets another writer in between the first read and the first write.
    struct InterfereOnce {
        store: Arc<MemoryAlertStore>,
        interfered: AtomicBool,
    }

    #[async_trait::async_trait]
    impl ReplaceHooks for InterfereOnce {
        async fn before_replace(&self, write: Replacement<'_>) -> Result<(), StateError> {
            if !self.interfered.swap(true, Ordering::SeqCst) {
                let other = CallEvent::input(Some("1"), "2027-01-15T08:00:09.000Z");
                let call = &write.record.call_uuid;
                record_event(self.store.as_ref(), call, &other, 150, |_| 1_000).await?;
            }
            Ok(())
        }
    }

    #[tokio::test]
    async fn a_writer_that_lost_the_race_applies_its_event_on_the_winners_record() {
        let inner = Arc::new(MemoryAlertStore::default());
        let store = Hooked {
            inner: inner.clone(),
            hooks: InterfereOnce {
                store: inner,
                interfered: AtomicBool::new(false),
            },
        };
        store.create(&new_alert(), 1_000).await.unwrap();
        let completed = CallEvent::status("completed", "2027-01-15T08:00:12.000Z");
        let recorded = record_event(&store, "call-1", &completed, 200, |_| 1_000)
            .await
            .unwrap();
        let Recorded::Updated {
            record,
            version,
            change,
        } = recorded
        else {
            panic!("not written");
        };
        assert_eq!(version, 3, "written after the other writer's version 2");
        assert_eq!(record.state, CallState::Completed);
        assert_eq!(record.confirmation, Confirmation::Confirmed, "not lost");
        assert_eq!(record.timeline.len(), 2);
        // The change this writer publishes is its own: the confirmation was the other's.
        let change = change.unwrap();
        assert_eq!(change.previous_state, CallState::Answered);
        assert_eq!(change.previous_confirmation, Confirmation::Confirmed);
    }
}
