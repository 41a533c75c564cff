//! The idempotency port: run an operation once per key, as Powertools for AWS Lambda does.
//!
//! 1. [`IdempotencyStore::begin`] writes an in-progress record unless a live one exists, in one
//!    conditional write. The in-progress record expires at the invocation's deadline, so a
//!    crashed or timed-out invocation does not block its key for longer than it could have run.
//! 2. The operation runs only after [`Claim::Began`].
//! 3. [`IdempotencyStore::complete`] stores its result, live for the deduplication window; a
//!    repeat inside it gets [`Claim::Completed`] with that result and runs nothing.
//!    Or [`IdempotencyStore::release`] removes the in-progress record when the operation
//!    certainly had no effect, so a retry may run it.
//!
//! The record also holds a hash of the payload: the same key with another payload is
//! [`Claim::KeyReused`], whatever state the record is in, so a caller reusing an id by mistake
//! learns it instead of getting someone else's result.

use std::sync::Arc;

use serde_json::Value;

use super::StateError;

/// The key an operation is deduplicated by. The caller derives it (for send-alert:
/// `crate::alert::place::alert_key`); the store only prefixes it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    /// A key as the caller names the operation.
    pub fn new(key: impl Into<String>) -> Self {
        Self(key.into())
    }

    /// The key as given.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The key's item in the shared table, apart from the replay items.
    pub fn record_key(&self) -> String {
        format!("idempotency#{}", self.0)
    }
}

/// What [`IdempotencyStore::begin`] found.
#[derive(Clone, Debug, PartialEq)]
pub enum Claim {
    /// The key is ours: run the operation, then `complete` or `release`.
    Began,
    /// Another invocation holds the key until `expires_at` (Unix seconds): try again later.
    /// Another invocation holds the key until `expires_at` (Unix seconds).
    InProgress {
        /// When the hold ends, in Unix seconds.
        expires_at: i64,
    },
    /// The operation already ran for this payload; this is its result.
    Completed(Value),
    /// A live record holds this key for a different payload.
    KeyReused,
}

/// Where idempotency records live. Each call is one request to the store.
#[async_trait::async_trait]
pub trait IdempotencyStore: Send + Sync {
    /// Marks `key` in progress until `in_progress_expires_at` (Unix seconds, inclusive) unless a
    /// record for it is live at `now_unix`; a record whose `expires_at` is before `now_unix` counts
    /// as absent.
    async fn begin(
        &self,
        key: &IdempotencyKey,
        payload_hash: &str,
        in_progress_expires_at: i64,
        now_unix: i64,
    ) -> Result<Claim, StateError>;

    /// Stores the operation's `result` for `key`, live until `expires_at` (Unix seconds).
    async fn complete(
        &self,
        key: &IdempotencyKey,
        payload_hash: &str,
        result: &Value,
        expires_at: i64,
    ) -> Result<(), StateError>;

    /// Removes the in-progress record `begin` wrote for this payload, so the operation may be
    /// tried again at once. A completed record, or one for another payload, is left alone.
    async fn release(&self, key: &IdempotencyKey, payload_hash: &str) -> Result<(), StateError>;
}

#[async_trait::async_trait]
impl<T: IdempotencyStore + ?Sized> IdempotencyStore for Arc<T> {
    async fn begin(
        &self,
        key: &IdempotencyKey,
        payload_hash: &str,
        in_progress_expires_at: i64,
        now_unix: i64,
    ) -> Result<Claim, StateError> {
        (**self)
            .begin(key, payload_hash, in_progress_expires_at, now_unix)
            .await
    }

    async fn complete(
        &self,
        key: &IdempotencyKey,
        payload_hash: &str,
        result: &Value,
        expires_at: i64,
    ) -> Result<(), StateError> {
        (**self)
            .complete(key, payload_hash, result, expires_at)
            .await
    }

    async fn release(&self, key: &IdempotencyKey, payload_hash: &str) -> Result<(), StateError> {
        (**self).release(key, payload_hash).await
    }
}

/// What a live record says to a new `begin` for `payload_hash`: shared by the stores so they
/// decide alike.
pub(crate) fn claim_on_live_record(
    stored_hash: &str,
    payload_hash: &str,
    completed: Option<Value>,
    expires_at: i64,
) -> Claim {
    if stored_hash != payload_hash {
        return Claim::KeyReused;
    }
    match completed {
        Some(result) => Claim::Completed(result),
        None => Claim::InProgress { expires_at },
    }
}
