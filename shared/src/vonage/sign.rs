//! Signing webhooks exactly as Vonage signs them: HS256 over the account's signature secret, with
//! `payload_hash` binding the body. The local Voice emulator and the operator CLI's `send-event`
//! both sign through this one piece, so what they send is what our verifier is tested against.

use aws_lc_rs::digest;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::Serialize;

use crate::vonage::verify::{VONAGE_ISSUER, query_as_compact_json};

#[derive(Debug, thiserror::Error)]
/// Why a webhook could not be signed.
pub enum SignError {
    #[error("the signature secret is empty")]
    /// The signature secret is empty.
    EmptySecret,
    #[error("the token could not be encoded")]
    /// The token could not be encoded.
    Encode,
}

/// Signs webhooks for one account (and optionally one application).
pub struct WebhookSigner {
    key: EncodingKey,
    api_key: String,
    application_id: Option<String>,
}

impl std::fmt::Debug for WebhookSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookSigner")
            .field("api_key", &self.api_key)
            .field("application_id", &self.application_id)
            .finish_non_exhaustive()
    }
}

/// Claim names and order as Vonage sends them.
#[derive(Serialize)]
struct WebhookClaims<'a> {
    iat: i64,
    jti: &'a str,
    iss: &'a str,
    payload_hash: String,
    api_key: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    application_id: Option<&'a str>,
}

impl WebhookSigner {
    /// A signer with the account's secret and ids, as Vonage signs for that application.
    pub fn new(
        signature_secret: &str,
        api_key: impl Into<String>,
        application_id: Option<String>,
    ) -> Result<Self, SignError> {
        if signature_secret.is_empty() {
            return Err(SignError::EmptySecret);
        }
        let key =
            EncodingKey::from_secret(signature_secret.as_bytes()).map_err(|_| SignError::Encode)?;
        Ok(Self {
            key,
            api_key: api_key.into(),
            application_id,
        })
    }

    /// The bearer token for a POST webhook carrying `body`.
    pub fn sign_body(&self, body: &[u8], iat: i64, jti: &str) -> Result<String, SignError> {
        self.sign_digest(hex::encode(digest::digest(&digest::SHA256, body)), iat, jti)
    }

    /// The bearer token for a GET webhook whose parameters are `query` (a raw query string).
    pub fn sign_query(&self, query: &str, iat: i64, jti: &str) -> Result<String, SignError> {
        self.sign_body(query_as_compact_json(query).as_bytes(), iat, jti)
    }

    fn sign_digest(&self, payload_hash: String, iat: i64, jti: &str) -> Result<String, SignError> {
        let claims = WebhookClaims {
            iat,
            jti,
            iss: VONAGE_ISSUER,
            payload_hash,
            api_key: &self.api_key,
            application_id: self.application_id.as_deref(),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.key)
            .map_err(|_| SignError::Encode)
    }
}
