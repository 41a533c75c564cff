//! What both webhooks check a request with before deciding on it.

use std::sync::Arc;

use std::time::Instant;

use super::{Clock, Deliveries, SignedWebhookVerifier};
use crate::secrets::SecretStore;
use crate::settings::webhook::WebhookConfig;
use crate::state::ReplayStore;
use crate::state::StoredAnswer;
use crate::state::{DeliveryId, ReplayCheck};
use crate::vonage::verify::VonageClaims;

/// The token check and the duplicate check, built from the same webhook settings.
pub(super) struct Gate {
    /// Verifies the request's token.
    pub(super) verifier: SignedWebhookVerifier,
    /// Remembers verified deliveries until their tokens would be stale.
    pub(super) deliveries: Deliveries,
}

impl Gate {
    /// `deliveries` is the duplicate store every instance shares (DynamoDB in production).
    pub(super) fn new(
        config: &WebhookConfig,
        secrets: Arc<dyn SecretStore>,
        deliveries: Arc<dyn ReplayStore>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            verifier: SignedWebhookVerifier::new(config, secrets, clock),
            deliveries: Deliveries::new(deliveries, config.max_age_seconds()),
        }
    }

    /// Whether the verified request (`claims`, and the `delivery` it is about) came before, read
    /// now on the verifier's clock; a first one is stored with `answer` for its repeats. Returns
    /// that now too, so what the caller records next carries the same instant.
    pub(super) async fn check_delivery(
        &self,
        claims: &VonageClaims,
        delivery: Option<DeliveryId>,
        answer: &StoredAnswer,
        answer_by: Instant,
    ) -> (ReplayCheck, i64) {
        let now = self.verifier.clock().unix_seconds();
        let check = self
            .deliveries
            .check(claims, delivery, answer, now, answer_by)
            .await;
        (check, now)
    }

    /// Reads the secret at cold start; see [`SignedWebhookVerifier::warm_up`].
    pub(super) async fn warm_up(&self) -> bool {
        self.verifier.warm_up().await.is_ok()
    }
}
