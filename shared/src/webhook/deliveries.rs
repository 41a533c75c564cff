//! The webhooks' duplicate check: this instance's memory first, then the table every instance
//! shares (`crate::state`), bounded by the webhook's time budget.

use std::sync::Arc;
use std::time::Instant;

use crate::observe::metrics;
use crate::state::{
    Delivery, DeliveryId, DeliveryRecord, DuplicateKey, LayeredReplayStore, MemoryReplayStore,
    ReplayCheck, ReplayStore, SharedCheck, StateError, StoredAnswer,
};
use crate::vonage::verify::VonageClaims;

/// The deliveries one webhook function has seen: its own, and through the shared store, every
/// instance's.
pub struct Deliveries {
    layers: LayeredReplayStore<MemoryReplayStore>,
    /// How long a token verifies after its `iat`: how long its delivery is remembered.
    max_age_seconds: i64,
}

impl Deliveries {
    /// Deliveries remembered here and in `shared`, each until its token would be stale.
    pub fn new(shared: Arc<dyn ReplayStore>, max_age_seconds: i64) -> Self {
        Self {
            layers: LayeredReplayStore::new(MemoryReplayStore::default(), shared),
            max_age_seconds,
        }
    }

    /// Records the verified delivery of a token with `claims` (and, when the request names one,
    /// `delivery`), whose answer will be `answer`, unless it was seen before. It is remembered
    /// until the token would be stale. The shared store gets what is left of the webhook's
    /// budget (its own timeout still applies); past `answer_by` the check stands on this
    /// instance's memory, and the failure comes back in [`ReplayCheck::shared`] for the caller
    /// to log. A duplicate is counted in the metrics.
    pub async fn check(
        &self,
        claims: &VonageClaims,
        delivery: Option<DeliveryId>,
        answer: &StoredAnswer,
        now_unix: i64,
        answer_by: Instant,
    ) -> ReplayCheck {
        let key = DuplicateKey::new(claims.jti.as_str(), delivery);
        let record = DeliveryRecord {
            key: &key,
            answer,
            seen_at: now_unix,
            expires_at: claims.iat.saturating_add(self.max_age_seconds),
        };
        let left = answer_by.saturating_duration_since(Instant::now());
        let checked = tokio::time::timeout_at(answer_by.into(), self.layers.check(record)).await;
        // Cut while the table was asked: memory had already called it a first delivery.
        let check = checked.unwrap_or(ReplayCheck {
            delivery: Delivery::First,
            shared: SharedCheck::Failed(StateError::Timeout(left)),
        });
        if matches!(check.delivery, Delivery::Duplicate { .. }) {
            metrics::count(metrics::names::WEBHOOK_DUPLICATE);
        }
        check
    }
}
