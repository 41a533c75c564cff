//! Verification of a signed webhook against the webhook secret's candidates, re-read on rotation.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::clock::Clock;
use crate::settings::webhook::WebhookConfig;

use crate::deadline::DEADLINE_MARGIN;
use crate::secrets::{SecretStore, SecretVersions, WebhookSecretCache, WebhookSecretError};
use crate::vonage::verify::{Rejection, VerificationPolicy, Verified};

use super::*;

/// Why verification did not produce a verdict on the token.
#[derive(Debug)]
pub enum VerificationFailure {
    /// The token was refused.
    Rejected(Rejection),
    /// The secret could not be read: the request could not be checked.
    SecretUnavailable(WebhookSecretError),
    /// The signature matched no cached version and the early re-read is not due yet
    /// (`SECRET_REFRESH_MIN_INTERVAL_SECONDS`). It may be a forgery, or a secret rotated in the
    /// Dashboard before Secrets Manager: answered 503 so that Vonage retries rather than 401,
    /// which Vonage does not retry and which would lose a genuine event.
    RereadDeferred,
}

impl VerificationFailure {
    /// The stable reason logged for a request that was not accepted.
    pub fn reason(&self) -> &'static str {
        match self {
            VerificationFailure::Rejected(rejection) => rejection.reason(),
            VerificationFailure::SecretUnavailable(WebhookSecretError::Timeout { .. }) => {
                "secret_timeout"
            }
            VerificationFailure::SecretUnavailable(_) => "secret_unavailable",
            VerificationFailure::RereadDeferred => "signature_reread_deferred",
        }
    }

    /// What the handler answers.
    pub fn outcome(&self) -> Outcome {
        match self {
            VerificationFailure::Rejected(rejection) => Outcome::Rejected(rejection.clone()),
            VerificationFailure::SecretUnavailable(_) | VerificationFailure::RereadDeferred => {
                Outcome::SecretUnavailable
            }
        }
    }
}

/// How long the cold-start read may take (Lambda allows 10 s of init).
pub const WARM_UP_BUDGET: Duration = Duration::from_secs(5);

/// Verifies signed webhooks against the cached webhook secret, every version a rotation left in
/// place, re-reading the secret (rate-limited) when no version's signature matches.
pub struct SignedWebhookVerifier {
    secrets: WebhookSecretCache,
    policy: VerificationPolicy,
    response_budget: Duration,
    clock: Arc<dyn Clock>,
}

/// A verified request, and whether the secret had to be re-read to verify it.
#[derive(Debug)]
pub struct VerifiedWebhook {
    /// What verified.
    pub verified: Verified,
    /// Whether the secret was re-read to verify this request.
    pub secret_refreshed: bool,
}

impl SignedWebhookVerifier {
    /// A verifier of `config`'s secret from `store`.
    pub fn new(config: &WebhookConfig, store: Arc<dyn SecretStore>, clock: Arc<dyn Clock>) -> Self {
        Self {
            secrets: WebhookSecretCache::new(store, config.secret_id.clone(), config.secret_cache),
            policy: config.policy.clone(),
            response_budget: config.response_budget,
            clock,
        }
    }

    /// When a request received now must have its answer: inside the response budget and before
    /// Lambda's deadline, whichever comes first.
    pub fn answer_by(&self, incoming: &IncomingWebhook) -> Instant {
        let by_budget = self.clock.instant() + self.response_budget;
        match incoming.lambda_deadline {
            Some(deadline) => {
                by_budget.min(deadline.checked_sub(DEADLINE_MARGIN).unwrap_or(deadline))
            }
            None => by_budget,
        }
    }

    /// The clock the verifier reads.
    pub fn clock(&self) -> &dyn Clock {
        self.clock.as_ref()
    }

    /// Reads the secret now (at cold start) so the first webhook does not wait for it. A failure
    /// is logged and not fatal: requests answer 503 and the next one tries again.
    pub async fn warm_up(&self) -> Result<(), WebhookSecretError> {
        let now = self.clock.instant();
        match self.secrets.versions(now, now + WARM_UP_BUDGET).await {
            Ok(_) => Ok(()),
            Err(error) => {
                tracing::error!(
                    secret_id = %self.secrets.secret_id(),
                    error = %error,
                    "the webhook secret could not be read at cold start; answering 503 until it can"
                );
                Err(error)
            }
        }
    }

    /// Verifies `incoming`, reading the secret no later than `answer_by` (see [`Self::answer_by`]).
    pub async fn verify(
        &self,
        incoming: &IncomingWebhook,
        answer_by: Instant,
    ) -> Result<VerifiedWebhook, VerificationFailure> {
        let now = self.clock.unix_seconds();
        let versions = self
            .secrets
            .versions(self.clock.instant(), answer_by)
            .await
            .map_err(VerificationFailure::SecretUnavailable)?;
        match self.verify_against(&versions, incoming, now) {
            Err(Rejection::Signature) => {}
            other => {
                return other
                    .map(|verified| VerifiedWebhook {
                        verified,
                        secret_refreshed: false,
                    })
                    .map_err(VerificationFailure::Rejected);
            }
        }
        // No version signed it: perhaps the secret was rotated since we read it.
        let fresh = self
            .secrets
            .refresh_after_signature_failure(&versions, self.clock.instant(), answer_by)
            .await
            .map_err(VerificationFailure::SecretUnavailable)?;
        let Some(fresh) = fresh else {
            return Err(VerificationFailure::RereadDeferred);
        };
        self.verify_against(&fresh, incoming, now)
            .map(|verified| VerifiedWebhook {
                verified,
                secret_refreshed: true,
            })
            .map_err(VerificationFailure::Rejected)
    }

    /// Tries each version with the account it belongs to. A version whose signature does not
    /// match passes to the next; any other refusal is final, since the signature did match.
    fn verify_against(
        &self,
        versions: &SecretVersions,
        incoming: &IncomingWebhook,
        now: i64,
    ) -> Result<Verified, Rejection> {
        for version in versions.iter() {
            let policy = VerificationPolicy {
                expected_api_key: Some(version.document.api_key().to_owned()),
                expected_application_id: version.document.application_id().map(str::to_owned),
                ..self.policy.clone()
            };
            match incoming.verify_with(&version.candidates, now, &policy) {
                Err(Rejection::Signature) => continue,
                verdict => return verdict,
            }
        }
        Err(Rejection::Signature)
    }
}
