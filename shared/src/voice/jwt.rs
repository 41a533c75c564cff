//! The application's credentials and the RS256 application JWT the Voice API wants.

use std::fmt;

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::{Deserialize, Serialize};

use super::*;
use crate::clock::{Clock, SystemClock};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
/// Why the application's credentials cannot sign. Never quotes the key.
pub enum CredentialsError {
    // serde_json's own messages can quote values, so only the position is kept.
    #[error(
        "the application secret is not a JSON object (problem at line {line}, column {column})"
    )]
    /// The secret is not JSON; only the position is kept.
    SecretNotJson {
        /// The line where the JSON stops parsing.
        line: usize,
        /// The column where the JSON stops parsing.
        column: usize,
    },
    #[error("the application secret has no non-empty string field {field}")]
    /// A required field is absent or blank.
    MissingField {
        /// The field's name.
        field: &'static str,
    },
    #[error("the application's private key is not a PEM-encoded RSA private key")]
    /// The key is not a PEM-encoded RSA private key.
    InvalidPrivateKey,
    #[error("the application JWT could not be signed")]
    /// Signing failed.
    SigningFailed,
}

/// The claims of a Voice API application JWT, named as Vonage's own generators name them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApplicationClaims {
    /// The application the token is for.
    pub application_id: String,
    /// Issued at, in Unix seconds.
    pub iat: u64,
    /// A unique id for this token.
    pub jti: String,
    /// Expiry, in Unix seconds.
    pub exp: u64,
}

/// A signed application JWT. Its text is only handed to the HTTP header.
#[derive(Clone, PartialEq, Eq)]
pub struct ApplicationJwt(String);

impl ApplicationJwt {
    /// The token's text, for the `Authorization` header only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ApplicationJwt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApplicationJwt([redacted])")
    }
}

/// Signs RS256 application JWTs with the application's private key.
#[derive(Clone)]
pub struct ApplicationJwtSigner {
    application_id: String,
    key: EncodingKey,
}

impl fmt::Debug for ApplicationJwtSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApplicationJwtSigner")
            .field("application_id", &self.application_id)
            .field("key", &"[redacted]")
            .finish()
    }
}

impl ApplicationJwtSigner {
    /// Loads a PKCS#8 (or PKCS#1) PEM RSA key and proves it can sign before anything relies on it.
    pub fn from_pem(application_id: &str, private_key_pem: &str) -> Result<Self, CredentialsError> {
        let application_id = application_id.trim();
        if application_id.is_empty() {
            return Err(CredentialsError::MissingField {
                field: "application_id",
            });
        }
        // A key pasted into JSON by hand sometimes keeps its newlines as the two characters `\n`.
        let pem = if private_key_pem.contains('\n') {
            private_key_pem.to_owned()
        } else {
            private_key_pem.replace("\\n", "\n")
        };
        let key = EncodingKey::from_rsa_pem(pem.as_bytes())
            .map_err(|_| CredentialsError::InvalidPrivateKey)?;
        let signer = Self {
            application_id: application_id.to_owned(),
            key,
        };
        // jsonwebtoken only parses the key when signing: sign once so a bad key fails here.
        signer
            .sign(0, "key-check")
            .map_err(|_| CredentialsError::InvalidPrivateKey)?;
        Ok(signer)
    }

    /// Reads the `application_id` and `private_key` fields of the application secret's JSON.
    pub fn from_secret_json(secret: &str) -> Result<Self, CredentialsError> {
        let document: serde_json::Map<String, serde_json::Value> = serde_json::from_str(secret)
            .map_err(|error| CredentialsError::SecretNotJson {
                line: error.line(),
                column: error.column(),
            })?;
        let field = |name: &'static str| {
            document
                .get(name)
                .and_then(serde_json::Value::as_str)
                .filter(|value| !value.trim().is_empty())
                .ok_or(CredentialsError::MissingField { field: name })
        };
        Self::from_pem(field("application_id")?, field("private_key")?)
    }

    /// The application the signer signs for.
    pub fn application_id(&self) -> &str {
        &self.application_id
    }

    /// The claims of a token issued at `now_unix_secs` with id `jti`.
    pub fn claims(&self, now_unix_secs: u64, jti: &str) -> ApplicationClaims {
        ApplicationClaims {
            application_id: self.application_id.clone(),
            iat: now_unix_secs,
            jti: jti.to_owned(),
            exp: now_unix_secs + APPLICATION_JWT_LIFETIME.as_secs(),
        }
    }

    /// Signs a token issued at `now_unix_secs` with id `jti`.
    pub fn sign(&self, now_unix_secs: u64, jti: &str) -> Result<ApplicationJwt, CredentialsError> {
        jsonwebtoken::encode(
            &Header::new(Algorithm::RS256),
            &self.claims(now_unix_secs, jti),
            &self.key,
        )
        .map(ApplicationJwt)
        .map_err(|_| CredentialsError::SigningFailed)
    }

    /// A fresh token: the current time and a random `jti`.
    pub fn sign_now(&self) -> Result<ApplicationJwt, CredentialsError> {
        self.sign(unix_now(&SystemClock), &uuid::Uuid::new_v4().to_string())
    }
}

// ---------------------------------------------------------------------------------------------

/// The clock's Unix seconds as a JWT's `iat` (0 before the epoch).
pub(super) fn unix_now(clock: &dyn Clock) -> u64 {
    u64::try_from(clock.unix_seconds()).unwrap_or(0)
}
