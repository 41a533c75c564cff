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

/// The operation a call to an [`IdempotencyStore`] is about: its key, and the hash of the
/// payload it runs for (the same key with another payload is [`Claim::KeyReused`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Operation<'a> {
    /// What the operation is deduplicated by.
    pub key: &'a IdempotencyKey,
    /// The hash of its payload.
    pub payload_hash: &'a str,
}

impl<'a> Operation<'a> {
    /// The operation `key`, run for the payload hashed `payload_hash`.
    pub fn new(key: &'a IdempotencyKey, payload_hash: &'a str) -> Self {
        Self { key, payload_hash }
    }

    /// A claim on this operation's key at `now`, held until `in_progress_until` (Unix seconds).
    pub fn claim(self, in_progress_until: i64, now: i64) -> ClaimRequest<'a> {
        ClaimRequest {
            operation: self,
            in_progress_until,
            now,
        }
    }

    /// This operation's `result`, to keep until `expires_at` (Unix seconds).
    pub fn completed(self, result: &'a Value, expires_at: i64) -> Completion<'a> {
        Completion {
            operation: self,
            result,
            expires_at,
        }
    }
}

/// A claim on an operation's key, as [`IdempotencyStore::begin`] asks for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClaimRequest<'a> {
    /// The operation to run once.
    pub operation: Operation<'a>,
    /// The last second (Unix seconds, inclusive) the in-progress record holds the key: the
    /// invocation's deadline.
    pub in_progress_until: i64,
    /// The time of the request (Unix seconds): a record whose `expires_at` is before it counts as
    /// absent.
    pub now: i64,
}

/// An operation's result, as [`IdempotencyStore::complete`] stores it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Completion<'a> {
    /// The operation that ran.
    pub operation: Operation<'a>,
    /// Its result: what a repeat gets.
    pub result: &'a Value,
    /// The last second (Unix seconds, inclusive) a repeat gets it: the deduplication window.
    pub expires_at: i64,
}

/// Where idempotency records live. Each call is one request to the store.
#[async_trait::async_trait]
pub trait IdempotencyStore: Send + Sync {
    /// Marks the operation's key in progress unless a record for it is live at `request.now`.
    async fn begin(&self, request: ClaimRequest<'_>) -> Result<Claim, StateError>;

    /// Stores the operation's result, live until the completion's `expires_at`.
    async fn complete(&self, completion: Completion<'_>) -> Result<(), StateError>;

    /// Removes the in-progress record `begin` wrote for this payload, so the operation may be
    /// tried again at once. A completed record, or one for another payload, is left alone.
    async fn release(&self, operation: Operation<'_>) -> Result<(), StateError>;
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
