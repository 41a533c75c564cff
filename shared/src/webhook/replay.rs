//! The `jti` values this instance has accepted, remembered for as long as their tokens could still
//! pass the freshness check, so a captured request replayed inside that window is noticed.
//!
//! Per instance only: a replay that lands on another Lambda instance is not seen. Catching those
//! would take a shared store (a DynamoDB conditional write), which this deployment does not have.
//!
//! When full, the entry nearest its expiry is dropped early. That is logged at most once per
//! [`FULL_WARNING_INTERVAL_SECONDS`], with how many entries were dropped since the last line, so
//! a flood costs one warning a minute rather than one per request.

use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;

/// Enough for sustained traffic far above one Lambda instance's share of a 5-minute window.
pub const DEFAULT_REPLAY_CAPACITY: usize = 10_000;

/// Least time between two "replay cache full" warnings.
pub const FULL_WARNING_INTERVAL_SECONDS: i64 = 60;

pub struct ReplayCache {
    capacity: usize,
    state: Mutex<Remembered>,
}

#[derive(Default)]
struct Remembered {
    forget_at: HashMap<String, i64>,
    by_forget_at: BTreeSet<(i64, String)>,
    /// When the last "full" warning was logged, and entries dropped early since then.
    last_full_warning: Option<i64>,
    dropped_since_warning: u64,
}

impl Remembered {
    fn remove_first(&mut self) {
        if let Some((_, jti)) = self.by_forget_at.pop_first() {
            self.forget_at.remove(&jti);
        }
    }
}

impl ReplayCache {
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            state: Mutex::new(Remembered::default()),
        }
    }

    /// Records `jti` and tells whether this is its first sighting. It is remembered until
    /// `forget_at` (Unix seconds), after which the verifier refuses its token as stale anyway.
    /// When full, the entry closest to being forgotten makes room.
    pub fn first_sighting(&self, jti: &str, forget_at: i64, now: i64) -> bool {
        let mut state = self.lock();
        while state
            .by_forget_at
            .first()
            .is_some_and(|(when, _)| *when < now)
        {
            state.remove_first();
        }
        if state.forget_at.contains_key(jti) {
            return false;
        }
        if state.forget_at.len() >= self.capacity {
            state.remove_first();
            state.dropped_since_warning += 1;
            let due = state
                .last_full_warning
                .is_none_or(|last| now.saturating_sub(last) >= FULL_WARNING_INTERVAL_SECONDS);
            if due {
                tracing::warn!(
                    capacity = self.capacity,
                    forgotten_early = state.dropped_since_warning,
                    "replay cache full: forgot the jti nearest expiry early"
                );
                state.last_full_warning = Some(now);
                state.dropped_since_warning = 0;
            }
        }
        state.forget_at.insert(jti.to_owned(), forget_at);
        state.by_forget_at.insert((forget_at, jti.to_owned()));
        true
    }

    pub fn len(&self) -> usize {
        self.lock().forget_at.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Remembered> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Default for ReplayCache {
    fn default() -> Self {
        Self::new(DEFAULT_REPLAY_CAPACITY)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_800_000_000;

    #[test]
    fn a_jti_is_new_once_and_a_replay_after() {
        let cache = ReplayCache::default();
        assert!(cache.first_sighting("a", NOW + 300, NOW));
        assert!(!cache.first_sighting("a", NOW + 300, NOW + 10));
        assert!(cache.first_sighting("b", NOW + 300, NOW + 10));
        assert_eq!(cache.len(), 2);
    }

    #[test]
    fn entries_are_forgotten_once_their_token_would_be_stale() {
        let cache = ReplayCache::default();
        assert!(cache.first_sighting("a", NOW + 300, NOW));
        assert!(cache.first_sighting("b", NOW + 600, NOW));
        // Still inside a's window at its last second.
        assert!(!cache.first_sighting("a", NOW + 300, NOW + 300));
        // One second later a is gone, b stays.
        assert!(cache.first_sighting("c", NOW + 900, NOW + 301));
        assert_eq!(cache.len(), 2);
        assert!(!cache.first_sighting("b", NOW + 600, NOW + 301));
        assert!(cache.first_sighting("a", NOW + 900, NOW + 301));
    }

    #[test]
    fn a_full_cache_stays_bounded_by_dropping_the_entry_nearest_expiry() {
        let cache = ReplayCache::new(3);
        assert!(cache.first_sighting("late", NOW + 900, NOW));
        assert!(cache.first_sighting("early", NOW + 100, NOW));
        assert!(cache.first_sighting("middle", NOW + 500, NOW));
        assert!(cache.first_sighting("new", NOW + 300, NOW));
        assert_eq!(cache.len(), 3);
        // "early" made room; the others are still remembered.
        assert!(!cache.first_sighting("late", NOW + 900, NOW));
        assert!(!cache.first_sighting("middle", NOW + 500, NOW));
        assert!(!cache.first_sighting("new", NOW + 300, NOW));
    }

    #[test]
    fn the_cache_can_be_shared_between_threads() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<ReplayCache>();
        let cache = std::sync::Arc::new(ReplayCache::default());
        let firsts: usize = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..4)
                .map(|_| {
                    let cache = cache.clone();
                    scope.spawn(move || usize::from(cache.first_sighting("same", NOW + 300, NOW)))
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).sum()
        });
        assert_eq!(firsts, 1);
    }
}
