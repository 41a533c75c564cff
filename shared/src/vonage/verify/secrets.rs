//! The secrets a token may be signed with: each one's HMAC key, set up once, and its label.

use std::fmt;

use aws_lc_rs::hmac;

use super::*;

/// One candidate signature secret, with a label that logs may show (never the secret itself).
///
/// The HMAC key is set up once here, not per request: `jsonwebtoken::decode` would rebuild it
/// from the raw bytes on every call, which costs about as much as hashing a small body.
///
/// Labels are usually static (the staging labels), so reporting which secret matched copies
/// nothing.
#[derive(Clone)]
pub struct SignatureSecret {
    pub(super) label: Cow<'static, str>,
    pub(super) key: hmac::Key,
}

impl SignatureSecret {
    /// Refuses an empty secret: an empty HMAC key would make every forged token trivially valid.
    pub fn new(label: impl Into<Cow<'static, str>>, secret: &str) -> Result<Self, SecretError> {
        let label = label.into();
        if secret.is_empty() {
            return Err(SecretError::Empty {
                label: label.into_owned(),
            });
        }
        // Vonage uses the signature secret as raw UTF-8 bytes, not base64.
        let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
        Ok(Self { label, key })
    }

    /// The label logs may show.
    pub fn label(&self) -> &str {
        &self.label
    }
}

impl fmt::Debug for SignatureSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignatureSecret")
            .field("label", &self.label)
            .field("key", &"<redacted>")
            .finish()
    }
}

/// The secrets to try, in order: during a rotation the new one first, the previous one after it.
#[derive(Clone, Debug)]
pub struct CandidateSecrets(Vec<SignatureSecret>);

impl CandidateSecrets {
    /// The secrets to try, in order; at least one.
    pub fn new(secrets: Vec<SignatureSecret>) -> Result<Self, SecretError> {
        if secrets.is_empty() {
            return Err(SecretError::NoneGiven);
        }
        Ok(Self(secrets))
    }

    /// The secrets, in the order they are tried.
    pub fn iter(&self) -> impl Iterator<Item = &SignatureSecret> {
        self.0.iter()
    }

    /// How many secrets there are.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Never true for a list made by [`CandidateSecrets::new`].
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
/// Why candidate secrets could not be set up.
pub enum SecretError {
    #[error("the signature secret `{label}` is empty")]
    /// A secret is empty.
    Empty {
        /// The secret's label.
        label: String,
    },
    #[error("no signature secret was given")]
    /// The list is empty.
    NoneGiven,
}
