//! Secrets from AWS Secrets Manager: the secret documents, a small trait over the store, the
//! Secrets Manager implementation and a cache with rotation candidates.
//!
//! The webhook secret (`VONAGE_WEBHOOK_SECRET_ID`) is one JSON document:
//!
//! ```json
//! {"signature_secret": "…", "api_key": "a1b2c3d", "application_id": "aaaaaaaa-…"}
//! ```
//!
//! `signature_secret` and `api_key` are required; `application_id` may be absent or blank. The
//! verifier enforces the `api_key` (and the `application_id` when given) of the version whose
//! signature matched. The application's private key lives in another secret, so the webhook
//! functions are never granted it.
//!
//! One error type per layer: [`SecretStoreError`] when the store cannot answer,
//! [`SecretDocumentError`] when a value is not the document expected, and
//! [`WebhookSecretError`] when the webhook's verification candidates cannot be had (it carries
//! either of the others). Setting up a verification key has its own
//! [`SecretError`] in the protocol layer.

mod cache;
mod document;
#[cfg(any(test, feature = "test-util"))]
mod memory;
mod secrets_manager;

pub use cache::*;
pub use document::*;
#[cfg(any(test, feature = "test-util"))]
pub use memory::*;
pub use secrets_manager::*;

use std::sync::Arc;

use crate::vonage::verify::{CandidateSecrets, SecretError, SignatureSecret};

/// Secrets Manager's staging labels for the secret in force and the one before it.
pub const CURRENT: &str = "AWSCURRENT";
/// The staging label of the version before the current one.
pub const PREVIOUS: &str = "AWSPREVIOUS";

#[derive(Clone, Debug, thiserror::Error)]
/// Why the store could not answer.
pub enum SecretStoreError {
    /// The store could not be reached or answered with an error: worth retrying later.
    #[error("the secret store is unavailable: {0}")]
    Unavailable(String),
    /// The secret does not exist or cannot be read with our permissions.
    #[error("the secret {secret_id} cannot be read: {problem}")]
    /// The secret id, and what the store said.
    NotReadable {
        /// The secret's id.
        secret_id: String,
        /// What went wrong.
        problem: String,
    },
}

/// One external system: a store that returns a secret's string value for a staging label.
/// `Ok(None)` means the secret exists but has no version with that label (no rotation under way).
#[async_trait::async_trait]
pub trait SecretStore: Send + Sync {
    /// The value of `secret_id` under `version_stage`.
    async fn secret_string(
        &self,
        secret_id: &str,
        version_stage: &str,
    ) -> Result<Option<String>, SecretStoreError>;

    /// Drops anything remembered of `secret_id`, so the next read asks the store (for example
    /// after Vonage refused a key that may have been rotated). Stores that remember nothing
    /// have nothing to drop.
    fn forget(&self, _secret_id: &str) {}
}

#[async_trait::async_trait]
impl<T: SecretStore + ?Sized> SecretStore for Arc<T> {
    async fn secret_string(
        &self,
        secret_id: &str,
        version_stage: &str,
    ) -> Result<Option<String>, SecretStoreError> {
        (**self).secret_string(secret_id, version_stage).await
    }

    fn forget(&self, secret_id: &str) {
        (**self).forget(secret_id);
    }
}

#[cfg(test)]
mod tests;
