//! Secrets from AWS Secrets Manager: the secret documents, a small trait over the store, the
//! Secrets Manager implementation and a cache with rotation candidates.

/// Secrets Manager's staging labels for the secret in force and the one before it.
pub const CURRENT: &str = "AWSCURRENT";
pub const PREVIOUS: &str = "AWSPREVIOUS";

#[derive(Debug, thiserror::Error)]
pub enum SecretStoreError {
    /// The store could not be reached or answered with an error: worth retrying later.
    #[error("the secret store is unavailable: {0}")]
    Unavailable(String),
    /// The secret does not exist or cannot be read with our permissions.
    #[error("the secret {secret_id} cannot be read: {problem}")]
    NotReadable { secret_id: String, problem: String },
}

/// One external system: a store that returns a secret's string value for a staging label.
/// `Ok(None)` means the secret exists but has no version with that label (no rotation under way).
#[async_trait::async_trait]
pub trait SecretStore: Send + Sync {
    async fn secret_string(
        &self,
        secret_id: &str,
        version_stage: &str,
    ) -> Result<Option<String>, SecretStoreError>;
}
