//! The webhook secret document: its fields, checked, and one version of it as the verifier sees it.

use std::fmt;

use serde_json::Value;

use super::*;

/// The contents of the webhook secret. `Debug` never shows the signature secret.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookSecret {
    signature_secret: String,
    api_key: String,
    application_id: Option<String>,
}

/// Why a secret's value is not a usable document. Messages name fields, never their values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretDocumentError {
    #[error("the value is not JSON (line {line}, column {column})")]
    /// The value is not JSON; only the position is kept, never the text.
    NotJson {
        /// The line where the JSON stops parsing.
        line: usize,
        /// The column where the JSON stops parsing.
        column: usize,
    },
    #[error("the value is not a JSON object")]
    /// The value is JSON but not an object.
    NotAnObject,
    #[error("`{0}` is missing")]
    /// A required field is absent or null.
    MissingField(&'static str),
    #[error("`{0}` must be a non-empty string")]
    /// A field is not a non-empty string.
    InvalidField(&'static str),
}

impl WebhookSecret {
    /// A document from its fields; `application_id` is optional.
    pub fn new(
        signature_secret: impl Into<String>,
        api_key: impl Into<String>,
        application_id: Option<String>,
    ) -> Self {
        Self {
            signature_secret: signature_secret.into(),
            api_key: api_key.into(),
            application_id: application_id.filter(|id| !id.is_empty()),
        }
    }

    /// Reads the JSON document. Unknown fields are ignored, so the document can grow.
    ///
    /// The error never quotes the value: a serde message such as "invalid type: integer `…`"
    /// could otherwise carry part of the secret into a log line.
    pub fn parse(json: &str) -> Result<Self, SecretDocumentError> {
        let value: Value =
            serde_json::from_str(json).map_err(|error| SecretDocumentError::NotJson {
                line: error.line(),
                column: error.column(),
            })?;
        let Value::Object(fields) = value else {
            return Err(SecretDocumentError::NotAnObject);
        };
        let required = |name: &'static str| match fields.get(name) {
            None | Some(Value::Null) => Err(SecretDocumentError::MissingField(name)),
            // Surrounding whitespace is a paste accident; Vonage's values never carry it.
            Some(Value::String(text)) if !text.trim().is_empty() => Ok(text.trim().to_owned()),
            Some(_) => Err(SecretDocumentError::InvalidField(name)),
        };
        let signature_secret = required("signature_secret")?;
        let api_key = required("api_key")?;
        // Blank counts as absent: the stack creates the secret with `"application_id": ""`.
        let application_id = match fields.get("application_id") {
            None | Some(Value::Null) => None,
            Some(Value::String(text)) if text.trim().is_empty() => None,
            Some(Value::String(text)) => Some(text.trim().to_owned()),
            Some(_) => return Err(SecretDocumentError::InvalidField("application_id")),
        };
        Ok(Self {
            signature_secret,
            api_key,
            application_id,
        })
    }

    /// The document as stored in Secrets Manager (for tools and tests that create the secret).
    pub fn to_json(&self) -> String {
        let mut object = serde_json::Map::new();
        object.insert(
            "signature_secret".into(),
            self.signature_secret.clone().into(),
        );
        object.insert("api_key".into(), self.api_key.clone().into());
        if let Some(application_id) = &self.application_id {
            object.insert("application_id".into(), application_id.clone().into());
        }
        Value::Object(object).to_string()
    }

    /// The HMAC secret Vonage signs webhooks with.
    pub fn signature_secret(&self) -> &str {
        &self.signature_secret
    }

    /// The account's API key, enforced against the token's `api_key`.
    pub fn api_key(&self) -> &str {
        &self.api_key
    }

    /// The application id, enforced when present.
    pub fn application_id(&self) -> Option<&str> {
        self.application_id.as_deref()
    }
}

impl fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookSecret")
            .field("signature_secret", &"<redacted>")
            .field("api_key", &self.api_key)
            .field("application_id", &self.application_id)
            .finish()
    }
}

/// One version of the webhook secret, ready to verify with: the document, and the candidate list
/// holding its HMAC key, built once rather than on every request. The key's label is the staging
/// label, which is what logs show as "the secret that matched".
#[derive(Clone, Debug)]
pub struct WebhookSecretVersion {
    /// The staging label the version was read under.
    pub stage: &'static str,
    /// The version's document.
    pub document: WebhookSecret,
    /// Its signature secret, ready to verify with.
    pub candidates: CandidateSecrets,
}

impl WebhookSecretVersion {
    /// Sets up the version's verification key; an empty secret is an error.
    pub fn new(stage: &'static str, document: WebhookSecret) -> Result<Self, SecretError> {
        let key = SignatureSecret::new(stage, document.signature_secret())?;
        Ok(Self {
            stage,
            document,
            candidates: CandidateSecrets::new(vec![key])?,
        })
    }
}
