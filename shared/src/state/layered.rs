//! The duplicate check as the webhooks run it: this instance's memory first, then the shared
//! table.
//!
//! - Memory says duplicate: answered from memory, no request (a hot replay costs nothing).
//! - Memory says first: the table is asked. Its verdict stands; when it says duplicate, memory
//!   takes the first delivery's answer, so the next hot replay gets the same one.
//! - The table fails: memory's verdict stands (so this instance still never processes a delivery
//!   twice) and the failure comes back beside it, for the caller to log and count. The caller
//!   processes the webhook: answering beats refusing a delivery nobody else has seen.
//!
//! The first level is any [`LocalReplayStore`] (synchronous and infallible: it is memory); the
//! second any [`ReplayStore`].

use std::sync::Arc;

use super::{Delivery, DeliveryRecord, ReplayStore, StateError};

/// An instance-local record of deliveries that can be checked without a request and corrected
/// when the shared store knew better.
pub trait LocalReplayStore: Send + Sync {
    /// As [`ReplayStore::first_delivery`], in memory.
    fn first_delivery(&self, delivery: DeliveryRecord<'_>) -> Delivery;

    /// Records `first` (the first delivery's answer, as the shared store knew it) for its key,
    /// replacing what this instance recorded.
    fn remember(&self, first: DeliveryRecord<'_>);
}

/// How far the shared store took part in a [`ReplayCheck`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SharedCheck {
    /// The shared store answered; the verdict holds across every instance.
    Consulted,
    /// This instance had already seen the delivery, so the shared store was not asked.
    NotAsked,
    /// The shared store failed; the verdict is this instance's alone.
    Failed(StateError),
}

/// The verdict and how it was reached.
#[derive(Clone, Debug, PartialEq)]
pub struct ReplayCheck {
    /// Whether the delivery was seen before, by either layer.
    pub delivery: Delivery,
    /// What the shared layer did; its failure is reported, not returned.
    pub shared: SharedCheck,
}

impl ReplayCheck {
    /// The shared store's failure, by its stable name, when it failed.
    pub fn state_error(&self) -> Option<&'static str> {
        match &self.shared {
            SharedCheck::Failed(error) => Some(error.kind()),
            _ => None,
        }
    }
}

/// Memory in front of a shared store.
pub struct LayeredReplayStore<Near> {
    near: Near,
    far: Arc<dyn ReplayStore>,
}

impl<Near: LocalReplayStore> LayeredReplayStore<Near> {
    /// Layers `near` (this instance) over `far` (every instance).
    pub fn new(near: Near, far: Arc<dyn ReplayStore>) -> Self {
        Self { near, far }
    }

    /// This instance's layer.
    pub fn near(&self) -> &Near {
        &self.near
    }

    /// The shared layer.
    pub fn far(&self) -> &dyn ReplayStore {
        self.far.as_ref()
    }

    /// Checks and records one verified webhook; see the module docs for who is asked when.
    pub async fn check(&self, delivery: DeliveryRecord<'_>) -> ReplayCheck {
        let near = self.near.first_delivery(delivery);
        if matches!(near, Delivery::Duplicate { .. }) {
            return ReplayCheck {
                delivery: near,
                shared: SharedCheck::NotAsked,
            };
        }
        match self.far.first_delivery(delivery).await {
            Ok(verdict) => {
                if let Delivery::Duplicate { first_answer, .. } = &verdict {
                    self.near.remember(DeliveryRecord {
                        answer: first_answer,
                        ..delivery
                    });
                }
                ReplayCheck {
                    delivery: verdict,
                    shared: SharedCheck::Consulted,
                }
            }
            Err(error) => ReplayCheck {
                delivery: near,
                shared: SharedCheck::Failed(error),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use serde_json::json;

    use super::*;
    use crate::state::{
        DeliveryId, DeliveryRecord, DuplicateKey, KeyKind, MemoryReplayStore, StoredAnswer,
    };

    const NOW: i64 = 1_800_000_000;

    fn key(jti: &str) -> DuplicateKey {
        DuplicateKey::new(jti, Some(DeliveryId::answer("call-1")))
    }

    fn greeting(text: &str) -> StoredAnswer {
        StoredAnswer::ncco(json!([{"action": "talk", "text": text}]))
    }

    type Instance = LayeredReplayStore<MemoryReplayStore>;

    /// `instance` checks the delivery of the token `jti`, answered with `text`.
    async fn check(
        instance: &Instance,
        jti: &str,
        text: &str,
        seen_at: i64,
        expires_at: i64,
    ) -> ReplayCheck {
        let (key, answer) = (key(jti), greeting(text));
        instance
            .check(DeliveryRecord::new(&key, &answer, seen_at, expires_at))
            .await
    }

    /// Two instances: each its own memory, one shared store.
    fn two_instances() -> (Arc<MemoryReplayStore>, Instance, Instance) {
        let shared = Arc::new(MemoryReplayStore::default());
        let a = LayeredReplayStore::new(MemoryReplayStore::default(), shared.clone());
        let b = LayeredReplayStore::new(MemoryReplayStore::default(), shared.clone());
        (shared, a, b)
    }

    #[tokio::test]
    async fn a_hot_replay_is_answered_from_memory_without_asking_the_shared_store() {
        let (shared, a, _) = two_instances();
        let first = check(&a, "jti-1", "one", NOW, NOW + 300).await;
        assert_eq!(first.delivery, Delivery::First);
        assert_eq!(first.shared, SharedCheck::Consulted);
        let again = check(&a, "jti-1", "two", NOW + 1, NOW + 300).await;
        assert_eq!(
            again,
            ReplayCheck {
                delivery: Delivery::Duplicate {
                    matched: KeyKind::Jti,
                    first_answer: greeting("one")
                },
                shared: SharedCheck::NotAsked,
            }
        );
        assert_eq!(shared.calls(), 1);
    }

    #[tokio::test]
    async fn another_instance_finds_the_first_answer_in_the_shared_store_and_keeps_it() {
        let (shared, a, b) = two_instances();
        check(&a, "jti-1", "one", NOW, NOW + 300).await;
        // Vonage re-signed its retry, which lands on the other instance.
        let retry = check(&b, "jti-2", "two", NOW + 5, NOW + 305).await;
        let expected = Delivery::Duplicate {
            matched: KeyKind::Delivery,
            first_answer: greeting("one"),
        };
        assert_eq!(retry.delivery, expected);
        assert_eq!(retry.shared, SharedCheck::Consulted);
        // b's memory now answers like the table, without a request.
        let again = check(&b, "jti-2", "two", NOW + 6, NOW + 305).await;
        assert_eq!(again.shared, SharedCheck::NotAsked);
        assert_eq!(
            again.delivery,
            Delivery::Duplicate {
                matched: KeyKind::Jti,
                first_answer: greeting("one")
            }
        );
        assert_eq!(shared.calls(), 2);
    }

    #[tokio::test]
    async fn when_the_shared_store_fails_memory_still_refuses_a_second_processing() {
        let (shared, a, _) = two_instances();
        shared.fail_with(Some(StateError::Unavailable("connection refused".into())));
        let first = check(&a, "jti-1", "one", NOW, NOW + 300).await;
        assert_eq!(first.delivery, Delivery::First);
        assert_eq!(
            first.shared,
            SharedCheck::Failed(StateError::Unavailable("connection refused".into()))
        );
        let again = check(&a, "jti-1", "one", NOW, NOW + 300).await;
        assert!(matches!(again.delivery, Delivery::Duplicate { .. }));
        assert_eq!(again.shared, SharedCheck::NotAsked);
    }
}
