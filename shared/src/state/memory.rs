//! The stores in memory: one instance's own record of deliveries (the first level of
//! [`super::LayeredReplayStore`], and a stand-in for the table in unit tests), and an idempotency
//! store for unit tests. Same rules as the DynamoDB stores: a record is live through its
//! `expires_at` second, the same key and rules decide which key matched.
//!
//! Both count their calls and can be told to fail, so tests see when a layer is asked and what
//! its caller does when it fails.

use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

#[cfg(any(test, feature = "test-util"))]
use serde_json::Value;

#[cfg(any(test, feature = "test-util"))]
use super::idempotency::claim_on_live_record;
use super::layered::LocalReplayStore;
#[cfg(any(test, feature = "test-util"))]
use super::{Claim, ClaimRequest, Completion, IdempotencyKey, IdempotencyStore, Operation};
use super::{Delivery, DeliveryRecord, ReplayStore, StateError, StoredAnswer};

/// Enough for sustained traffic far above one Lambda instance's share of a 5-minute window.
pub const DEFAULT_MEMORY_REPLAY_CAPACITY: usize = 10_000;

/// Least time between two "records full" warnings: a flood costs one warning a minute, with a
/// count, rather than one per request.
pub const FULL_WARNING_INTERVAL_SECONDS: i64 = 60;

struct Remembered {
    jti: String,
    expires_at: i64,
    answer: StoredAnswer,
}

#[derive(Default)]
struct Deliveries {
    by_key: HashMap<String, Remembered>,
    /// The same entries ordered by expiry, to drop the expired and, when full, the nearest to it.
    by_expiry: BTreeSet<(i64, String)>,
    /// When the last "full" warning was logged, and records dropped early since then.
    last_full_warning: Option<i64>,
    dropped_since_warning: u64,
}

impl Deliveries {
    fn remove(&mut self, key: &str) {
        if let Some(entry) = self.by_key.remove(key) {
            self.by_expiry.remove(&(entry.expires_at, key.to_owned()));
        }
    }

    fn insert(&mut self, key: String, entry: Remembered) {
        self.remove(&key);
        self.by_expiry.insert((entry.expires_at, key.clone()));
        self.by_key.insert(key, entry);
    }

    fn forget_expired(&mut self, now: i64) {
        while let Some((expires_at, key)) = self.by_expiry.first().cloned() {
            if expires_at >= now {
                break;
            }
            self.remove(&key);
        }
    }
}

/// This instance's deliveries, bounded: when full, the record closest to expiry makes room.
pub struct MemoryReplayStore {
    capacity: usize,
    deliveries: Mutex<Deliveries>,
    calls: AtomicUsize,
    failure: Mutex<Option<StateError>>,
}

impl MemoryReplayStore {
    /// A store that keeps at most `capacity` live deliveries.
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            deliveries: Mutex::new(Deliveries::default()),
            calls: AtomicUsize::new(0),
            failure: Mutex::new(None),
        }
    }

    /// How many records are held (expired ones included until the next call drops them).
    pub fn len(&self) -> usize {
        lock(&self.deliveries).by_key.len()
    }

    /// True when no delivery is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How many times `first_delivery` was called through [`ReplayStore`].
    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    /// Makes every [`ReplayStore`] call fail with `failure` (or succeed again with `None`), as
    /// the table would when throttled or unreachable.
    pub fn fail_with(&self, failure: Option<StateError>) {
        *lock(&self.failure) = failure;
    }
}

impl Default for MemoryReplayStore {
    fn default() -> Self {
        Self::new(DEFAULT_MEMORY_REPLAY_CAPACITY)
    }
}

impl LocalReplayStore for MemoryReplayStore {
    fn first_delivery(&self, delivery: DeliveryRecord<'_>) -> Delivery {
        let DeliveryRecord {
            key,
            answer,
            seen_at: now_unix,
            expires_at,
        } = delivery;
        let record_key = key.record_key();
        let mut deliveries = lock(&self.deliveries);
        deliveries.forget_expired(now_unix);
        if let Some(entry) = deliveries.by_key.get(&record_key) {
            return Delivery::Duplicate {
                matched: key.matched_by(&entry.jti),
                first_answer: entry.answer.clone(),
            };
        }
        if deliveries.by_key.len() >= self.capacity
            && let Some((_, nearest)) = deliveries.by_expiry.first().cloned()
        {
            deliveries.remove(&nearest);
            deliveries.dropped_since_warning += 1;
            let due = deliveries
                .last_full_warning
                .is_none_or(|last| now_unix.saturating_sub(last) >= FULL_WARNING_INTERVAL_SECONDS);
            if due {
                tracing::warn!(
                    capacity = self.capacity,
                    forgotten_early = deliveries.dropped_since_warning,
                    "in-memory replay records full: forgot the ones nearest expiry early"
                );
                deliveries.last_full_warning = Some(now_unix);
                deliveries.dropped_since_warning = 0;
            }
        }
        deliveries.insert(
            record_key,
            Remembered {
                jti: key.jti().to_owned(),
                expires_at,
                answer: answer.clone(),
            },
        );
        Delivery::First
    }

    fn remember(&self, first: DeliveryRecord<'_>) {
        let mut deliveries = lock(&self.deliveries);
        let key = first.key;
        let record_key = key.record_key();
        // Keeps the jti of the record it replaces, if any: the first delivery's token is not
        // known here, and ours is at least one that was really sent.
        let jti = deliveries
            .by_key
            .get(&record_key)
            .map_or_else(|| key.jti().to_owned(), |entry| entry.jti.clone());
        deliveries.insert(
            record_key,
            Remembered {
                jti,
                expires_at: first.expires_at,
                answer: first.answer.clone(),
            },
        );
    }
}

#[async_trait::async_trait]
impl ReplayStore for MemoryReplayStore {
    async fn first_delivery(&self, delivery: DeliveryRecord<'_>) -> Result<Delivery, StateError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        if let Some(failure) = lock(&self.failure).clone() {
            return Err(failure);
        }
        Ok(LocalReplayStore::first_delivery(self, delivery))
    }
}

// ---------------------------------------------------------------------------------------------
// Idempotency
// ---------------------------------------------------------------------------------------------

#[cfg(any(test, feature = "test-util"))]
struct IdempotencyRecord {
    payload_hash: String,
    expires_at: i64,
    /// `None` while in progress.
    result: Option<Value>,
}

#[cfg(any(test, feature = "test-util"))]
/// Idempotency records in memory, for unit tests of what send-alert does with each claim.
#[derive(Default)]
pub struct MemoryIdempotencyStore {
    records: Mutex<HashMap<String, IdempotencyRecord>>,
    calls: AtomicUsize,
    failure: Mutex<Option<StateError>>,
}

#[cfg(any(test, feature = "test-util"))]
impl MemoryIdempotencyStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// How many calls (`begin`, `complete`, `release`) were made.
    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    /// Makes every call fail with `failure` (or succeed again with `None`).
    pub fn fail_with(&self, failure: Option<StateError>) {
        *lock(&self.failure) = failure;
    }

    /// The stored result for `key`, if it completed.
    pub fn result(&self, key: &IdempotencyKey) -> Option<Value> {
        lock(&self.records)
            .get(&key.record_key())
            .and_then(|record| record.result.clone())
    }

    fn call(&self) -> Result<(), StateError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        match lock(&self.failure).clone() {
            Some(failure) => Err(failure),
            None => Ok(()),
        }
    }
}

#[cfg(any(test, feature = "test-util"))]
#[async_trait::async_trait]
impl IdempotencyStore for MemoryIdempotencyStore {
    async fn begin(&self, request: ClaimRequest<'_>) -> Result<Claim, StateError> {
        self.call()?;
        let Operation { key, payload_hash } = request.operation;
        let mut records = lock(&self.records);
        let record_key = key.record_key();
        if let Some(record) = records.get(&record_key)
            && record.expires_at >= request.now
        {
            return Ok(claim_on_live_record(
                &record.payload_hash,
                payload_hash,
                record.result.clone(),
                record.expires_at,
            ));
        }
        records.insert(
            record_key,
            IdempotencyRecord {
                payload_hash: payload_hash.to_owned(),
                expires_at: request.in_progress_until,
                result: None,
            },
        );
        Ok(Claim::Began)
    }

    async fn complete(&self, completion: Completion<'_>) -> Result<(), StateError> {
        self.call()?;
        let Operation { key, payload_hash } = completion.operation;
        lock(&self.records).insert(
            key.record_key(),
            IdempotencyRecord {
                payload_hash: payload_hash.to_owned(),
                expires_at: completion.expires_at,
                result: Some(completion.result.clone()),
            },
        );
        Ok(())
    }

    async fn release(&self, operation: Operation<'_>) -> Result<(), StateError> {
        self.call()?;
        let mut records = lock(&self.records);
        let record_key = operation.key.record_key();
        if records.get(&record_key).is_some_and(|record| {
            record.result.is_none() && record.payload_hash == operation.payload_hash
        }) {
            records.remove(&record_key);
        }
        Ok(())
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests;
