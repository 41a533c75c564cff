use std::sync::Arc;

use serde_json::json;

use super::*;
use crate::state::{DeliveryId, DeliveryRecord, DuplicateKey, KeyKind, Operation};

const NOW: i64 = 1_800_000_000;

fn key(jti: &str, call: &str) -> DuplicateKey {
    DuplicateKey::new(jti, Some(DeliveryId::event(call, "answered", "t")))
}

fn first(store: &MemoryReplayStore, key: &DuplicateKey, expires: i64, now: i64) -> Delivery {
    LocalReplayStore::first_delivery(
        store,
        DeliveryRecord::new(key, &StoredAnswer::acknowledged(), now, expires),
    )
}

#[test]
fn a_delivery_is_first_once_and_then_a_duplicate_with_the_first_answer() {
    let store = MemoryReplayStore::default();
    let ncco = StoredAnswer::ncco(json!([{"action": "talk", "text": "hi"}]));
    let k = key("jti-1", "call-1");
    assert_eq!(
        LocalReplayStore::first_delivery(&store, DeliveryRecord::new(&k, &ncco, NOW, NOW + 300)),
        Delivery::First
    );
    // The same token again, with another answer offered: the first one comes back.
    assert_eq!(
        first(&store, &k, NOW + 300, NOW + 1),
        Delivery::Duplicate {
            matched: KeyKind::Jti,
            first_answer: ncco.clone()
        }
    );
    // A re-signed retry of the same delivery.
    assert_eq!(
        first(&store, &key("jti-2", "call-1"), NOW + 310, NOW + 10),
        Delivery::Duplicate {
            matched: KeyKind::Delivery,
            first_answer: ncco
        }
    );
    assert_eq!(
        first(&store, &key("jti-3", "call-2"), NOW + 300, NOW),
        Delivery::First
    );
    assert_eq!(store.len(), 2);
}

#[test]
fn a_record_is_live_through_its_last_second_and_gone_after() {
    let store = MemoryReplayStore::default();
    let k = key("jti-1", "call-1");
    assert_eq!(first(&store, &k, NOW + 300, NOW), Delivery::First);
    assert!(matches!(
        first(&store, &k, NOW + 300, NOW + 300),
        Delivery::Duplicate { .. }
    ));
    assert_eq!(first(&store, &k, NOW + 601, NOW + 301), Delivery::First);
}

#[test]
fn a_full_store_forgets_the_record_nearest_expiry() {
    let store = MemoryReplayStore::new(2);
    assert_eq!(
        first(&store, &key("a", "a"), NOW + 900, NOW),
        Delivery::First
    );
    assert_eq!(
        first(&store, &key("b", "b"), NOW + 100, NOW),
        Delivery::First
    );
    assert_eq!(
        first(&store, &key("c", "c"), NOW + 500, NOW),
        Delivery::First
    );
    assert_eq!(store.len(), 2);
    assert!(matches!(
        first(&store, &key("a", "a"), NOW + 900, NOW),
        Delivery::Duplicate { .. }
    ));
    assert!(matches!(
        first(&store, &key("c", "c"), NOW + 500, NOW),
        Delivery::Duplicate { .. }
    ));
    assert_eq!(
        first(&store, &key("b", "b"), NOW + 100, NOW),
        Delivery::First
    );
}

#[test]
fn remember_replaces_the_answer_a_duplicate_gets() {
    let store = MemoryReplayStore::default();
    let k = key("jti-2", "call-1");
    assert_eq!(first(&store, &k, NOW + 300, NOW), Delivery::First);
    let theirs = StoredAnswer::ncco(json!([{"action": "talk", "text": "first"}]));
    store.remember(DeliveryRecord::new(&k, &theirs, NOW, NOW + 300));
    assert_eq!(
        first(&store, &k, NOW + 300, NOW),
        Delivery::Duplicate {
            matched: KeyKind::Jti,
            first_answer: theirs
        }
    );
    assert_eq!(store.len(), 1);
}

#[tokio::test]
async fn concurrent_calls_on_one_key_make_exactly_one_first() {
    let store = Arc::new(MemoryReplayStore::default());
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                let k = key(&format!("jti-{i}"), "call-1");
                ReplayStore::first_delivery(
                    &*store,
                    DeliveryRecord::new(&k, &StoredAnswer::acknowledged(), NOW, NOW + 300),
                )
                .await
            })
        })
        .collect();
    let mut firsts = 0;
    for task in tasks {
        if task.await.unwrap().unwrap() == Delivery::First {
            firsts += 1;
        }
    }
    assert_eq!(firsts, 1);
    assert_eq!(store.calls(), 8);
}

#[tokio::test]
async fn a_failing_store_says_why() {
    let store = MemoryReplayStore::default();
    store.fail_with(Some(StateError::Throttled("slow down".into())));
    let result = ReplayStore::first_delivery(
        &store,
        DeliveryRecord::new(&key("j", "c"), &StoredAnswer::acknowledged(), NOW, NOW),
    )
    .await;
    assert_eq!(result, Err(StateError::Throttled("slow down".into())));
    assert!(store.is_empty());
}

#[tokio::test]
async fn idempotency_runs_the_powertools_states() {
    let store = MemoryIdempotencyStore::new();
    let k = IdempotencyKey::new("alert-1");
    assert_eq!(
        store
            .begin(Operation::new(&k, "h1").claim(NOW + 30, NOW))
            .await,
        Ok(Claim::Began)
    );
    assert_eq!(
        store
            .begin(Operation::new(&k, "h1").claim(NOW + 40, NOW + 5))
            .await,
        Ok(Claim::InProgress {
            expires_at: NOW + 30
        })
    );
    assert_eq!(
        store
            .begin(Operation::new(&k, "h2").claim(NOW + 40, NOW + 5))
            .await,
        Ok(Claim::KeyReused)
    );
    let result = json!({"call_uuid": "call-1"});
    store
        .complete(Operation::new(&k, "h1").completed(&result, NOW + 300))
        .await
        .unwrap();
    assert_eq!(
        store
            .begin(Operation::new(&k, "h1").claim(NOW + 40, NOW + 10))
            .await,
        Ok(Claim::Completed(result.clone()))
    );
    assert_eq!(
        store
            .begin(Operation::new(&k, "h2").claim(NOW + 40, NOW + 10))
            .await,
        Ok(Claim::KeyReused)
    );
    // release never removes a completed record.
    store.release(Operation::new(&k, "h1")).await.unwrap();
    assert_eq!(store.result(&k), Some(result));
    // Once the window has passed the key is free, for any payload.
    assert_eq!(
        store
            .begin(Operation::new(&k, "h2").claim(NOW + 400, NOW + 301))
            .await,
        Ok(Claim::Began)
    );
    assert_eq!(store.calls(), 8);
}

#[tokio::test]
async fn an_expired_or_released_in_progress_record_frees_the_key() {
    let store = MemoryIdempotencyStore::new();
    let k = IdempotencyKey::new("alert-1");
    assert_eq!(
        store
            .begin(Operation::new(&k, "h").claim(NOW + 30, NOW))
            .await,
        Ok(Claim::Began)
    );
    // The invocation died at its deadline; the next one may go ahead.
    assert_eq!(
        store
            .begin(Operation::new(&k, "h").claim(NOW + 61, NOW + 31))
            .await,
        Ok(Claim::Began)
    );
    // A release for another payload leaves the record alone; for ours it frees the key.
    store.release(Operation::new(&k, "other")).await.unwrap();
    assert!(matches!(
        store
            .begin(Operation::new(&k, "h").claim(NOW + 61, NOW + 32))
            .await,
        Ok(Claim::InProgress { .. })
    ));
    store.release(Operation::new(&k, "h")).await.unwrap();
    assert_eq!(
        store
            .begin(Operation::new(&k, "h").claim(NOW + 62, NOW + 32))
            .await,
        Ok(Claim::Began)
    );
    store.fail_with(Some(StateError::Timeout(std::time::Duration::from_secs(1))));
    assert!(matches!(
        store
            .begin(Operation::new(&k, "h").claim(NOW + 62, NOW + 32))
            .await,
        Err(StateError::Timeout(_))
    ));
}
