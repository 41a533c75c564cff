//! The [`SecretStore`] in memory, for unit tests and local runs.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use super::*;

/// A store in memory, for unit tests and local runs. It counts reads and can be made
/// unavailable, so tests can see when the cache goes to the store.
#[derive(Default)]
pub struct InMemorySecretStore {
    values: Mutex<HashMap<String, HashMap<String, String>>>,
    reads: AtomicUsize,
    unavailable: AtomicBool,
    /// Staging labels whose reads fail while the others succeed.
    unavailable_stages: Mutex<Vec<String>>,
    /// How long each read takes (tokio time, so paused-clock tests pass it instantly).
    delay: Mutex<Duration>,
}

impl InMemorySecretStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Stores `value` as the `AWSCURRENT` version of a new secret.
    pub fn with_secret(self, secret_id: &str, value: impl Into<String>) -> Self {
        self.put_version(secret_id, CURRENT, value);
        self
    }

    /// Sets the value of `secret_id` under the staging label `stage`.
    pub fn put_version(&self, secret_id: &str, stage: &str, value: impl Into<String>) {
        self.lock()
            .entry(secret_id.to_owned())
            .or_default()
            .insert(stage.to_owned(), value.into());
    }

    /// What Secrets Manager's `PutSecretValue` does to the labels: the current version becomes
    /// `AWSPREVIOUS`, the new one `AWSCURRENT`.
    pub fn rotate(&self, secret_id: &str, value: impl Into<String>) {
        let mut values = self.lock();
        let stages = values.entry(secret_id.to_owned()).or_default();
        if let Some(current) = stages.remove(CURRENT) {
            stages.insert(PREVIOUS.to_owned(), current);
        }
        stages.insert(CURRENT.to_owned(), value.into());
    }

    /// While `unavailable`, every read fails as an unreachable store would.
    pub fn set_unavailable(&self, unavailable: bool) {
        self.unavailable.store(unavailable, Ordering::SeqCst);
    }

    /// Makes reads of one staging label fail (`true`) or succeed again (`false`).
    pub fn set_stage_unavailable(&self, stage: &str, unavailable: bool) {
        let mut stages = self
            .unavailable_stages
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        stages.retain(|listed| listed != stage);
        if unavailable {
            stages.push(stage.to_owned());
        }
    }

    /// Makes every read take `delay` before it answers.
    pub fn set_delay(&self, delay: Duration) {
        *self
            .delay
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = delay;
    }

    /// How many times `secret_string` was called.
    pub fn reads(&self) -> usize {
        self.reads.load(Ordering::SeqCst)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, HashMap<String, String>>> {
        self.values
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[async_trait::async_trait]
impl SecretStore for InMemorySecretStore {
    async fn secret_string(
        &self,
        secret_id: &str,
        version_stage: &str,
    ) -> Result<Option<String>, SecretStoreError> {
        self.reads.fetch_add(1, Ordering::SeqCst);
        let delay = *self
            .delay
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        let stage_down = self
            .unavailable_stages
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .iter()
            .any(|stage| stage == version_stage);
        if stage_down || self.unavailable.load(Ordering::SeqCst) {
            return Err(SecretStoreError::Unavailable(
                "the in-memory store is switched off".into(),
            ));
        }
        match self.lock().get(secret_id) {
            None => Err(SecretStoreError::NotReadable {
                secret_id: secret_id.to_owned(),
                problem: "no such secret".into(),
            }),
            Some(stages) => Ok(stages.get(version_stage).cloned()),
        }
    }
}
