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

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::vonage::verify::{CandidateSecrets, SecretError, SignatureSecret};

/// Secrets Manager's staging labels for the secret in force and the one before it.
pub const CURRENT: &str = "AWSCURRENT";
pub const PREVIOUS: &str = "AWSPREVIOUS";

#[derive(Clone, Debug, thiserror::Error)]
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

/// What a [`CachedSecretStore`] remembers: by secret id and stage, the value and when it was read.
type RememberedReads = HashMap<(String, String), (Option<String>, Instant)>;

/// Remembers each value read through it for `ttl`, so a warm function asks the store once per
/// cache period instead of once per invocation. Failed reads are not remembered.
pub struct CachedSecretStore<S> {
    inner: S,
    ttl: Duration,
    remembered: Mutex<RememberedReads>,
}

impl<S: SecretStore> CachedSecretStore<S> {
    pub fn new(inner: S, ttl: Duration) -> Self {
        Self {
            inner,
            ttl,
            remembered: Mutex::new(HashMap::new()),
        }
    }

    /// A cached read as of `now`; tests pass their own clock.
    pub async fn secret_string_at(
        &self,
        secret_id: &str,
        version_stage: &str,
        now: Instant,
    ) -> Result<Option<String>, SecretStoreError> {
        let key = (secret_id.to_owned(), version_stage.to_owned());
        let fresh = self.remembered.lock().ok().and_then(|remembered| {
            remembered
                .get(&key)
                .filter(|(_, read_at)| now.saturating_duration_since(*read_at) < self.ttl)
                .map(|(value, _)| value.clone())
        });
        if let Some(value) = fresh {
            return Ok(value);
        }
        let value = self.inner.secret_string(secret_id, version_stage).await?;
        if let Ok(mut remembered) = self.remembered.lock() {
            remembered.insert(key, (value.clone(), now));
        }
        Ok(value)
    }
}

#[async_trait::async_trait]
impl<S: SecretStore> SecretStore for CachedSecretStore<S> {
    async fn secret_string(
        &self,
        secret_id: &str,
        version_stage: &str,
    ) -> Result<Option<String>, SecretStoreError> {
        self.secret_string_at(secret_id, version_stage, Instant::now())
            .await
    }

    fn forget(&self, secret_id: &str) {
        if let Ok(mut remembered) = self.remembered.lock() {
            remembered.retain(|(id, _), _| id != secret_id);
        }
        self.inner.forget(secret_id);
    }
}

// ---------------------------------------------------------------------------------------------
// The webhook secret document
// ---------------------------------------------------------------------------------------------

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
    NotJson { line: usize, column: usize },
    #[error("the value is not a JSON object")]
    NotAnObject,
    #[error("`{0}` is missing")]
    MissingField(&'static str),
    #[error("`{0}` must be a non-empty string")]
    InvalidField(&'static str),
}

impl WebhookSecret {
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

    pub fn signature_secret(&self) -> &str {
        &self.signature_secret
    }

    pub fn api_key(&self) -> &str {
        &self.api_key
    }

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
    pub stage: &'static str,
    pub document: WebhookSecret,
    pub candidates: CandidateSecrets,
}

impl WebhookSecretVersion {
    pub fn new(stage: &'static str, document: WebhookSecret) -> Result<Self, SecretError> {
        let key = SignatureSecret::new(stage, document.signature_secret())?;
        Ok(Self {
            stage,
            document,
            candidates: CandidateSecrets::new(vec![key])?,
        })
    }
}

// ---------------------------------------------------------------------------------------------
// The cache
// ---------------------------------------------------------------------------------------------

/// How long fetched secrets are trusted, and how often a failed signature may force a re-read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SecretCacheSettings {
    /// After this long the next request re-reads the secret (`SECRET_CACHE_SECONDS`).
    pub ttl: Duration,
    /// At most one early re-read per this interval when a signature fails with the cached
    /// versions (`SECRET_REFRESH_MIN_INTERVAL_SECONDS`): enough to pick up a rotation at once,
    /// too little for forged requests to hammer Secrets Manager.
    pub refresh_min_interval: Duration,
    /// After a failed read, requests answer from the failure for this long instead of asking
    /// the store again (`SECRET_RETRY_BACKOFF_SECONDS`), so an outage costs one read per
    /// interval rather than one per webhook. Also how soon a read that got `AWSCURRENT` but not
    /// `AWSPREVIOUS` is tried again.
    pub failure_backoff: Duration,
}

impl Default for SecretCacheSettings {
    fn default() -> Self {
        Self {
            ttl: Duration::from_secs(300),
            refresh_min_interval: Duration::from_secs(10),
            failure_backoff: Duration::from_secs(5),
        }
    }
}

#[derive(Clone, Debug, thiserror::Error)]
pub enum WebhookSecretError {
    #[error(transparent)]
    Store(#[from] SecretStoreError),
    #[error("the secret {secret_id} could not be read within the webhook's time budget")]
    Timeout { secret_id: String },
    #[error("the secret {secret_id} has no {CURRENT} version")]
    NoCurrentVersion { secret_id: String },
    #[error("the secret {secret_id} ({stage}) is not usable: {problem}")]
    Malformed {
        secret_id: String,
        stage: &'static str,
        problem: SecretDocumentError,
    },
}

/// The versions to verify with: `AWSCURRENT` first, then `AWSPREVIOUS` when a rotation left one
/// that differs from it. Shared, so a request holds its snapshot without holding the cache lock.
pub type SecretVersions = Arc<[WebhookSecretVersion]>;

/// The webhook secret, read at cold start, kept for `ttl`, re-read early (rate-limited) when a
/// signature fails, so a rotated secret works without a redeploy. Time is passed in, so tests
/// step through expiry without sleeping; every read is bounded by the caller's `answer_by`.
pub struct WebhookSecretCache {
    store: Arc<dyn SecretStore>,
    secret_id: String,
    settings: SecretCacheSettings,
    state: tokio::sync::Mutex<CacheState>,
}

#[derive(Default)]
struct CacheState {
    loaded: Option<Loaded>,
    last_forced_refresh: Option<Instant>,
    /// The last read's failure, answered from until `until` without asking the store.
    failed: Option<(WebhookSecretError, Instant)>,
}

struct Loaded {
    versions: SecretVersions,
    fresh_until: Instant,
}

/// What one read of the store found: the versions, and whether `AWSPREVIOUS` could be read
/// (when not, the versions hold `AWSCURRENT` alone and are re-read after the failure backoff).
struct Fetched {
    versions: SecretVersions,
    complete: bool,
}

impl WebhookSecretCache {
    pub fn new(
        store: Arc<dyn SecretStore>,
        secret_id: impl Into<String>,
        settings: SecretCacheSettings,
    ) -> Self {
        Self {
            store,
            secret_id: secret_id.into(),
            settings,
            state: tokio::sync::Mutex::new(CacheState::default()),
        }
    }

    pub fn secret_id(&self) -> &str {
        &self.secret_id
    }

    /// The cached versions, read from the store first when there are none or they are older than
    /// the cache time. Expired versions are not served when the store cannot be read, so a
    /// secret rotated away stops working. A failed read (or one not done by `answer_by`) is
    /// remembered for `failure_backoff`: until then the same error is returned at once.
    pub async fn versions(
        &self,
        now: Instant,
        answer_by: Instant,
    ) -> Result<SecretVersions, WebhookSecretError> {
        let mut state = self.lock_by(answer_by).await?;
        if let Some(loaded) = &state.loaded
            && now < loaded.fresh_until
        {
            return Ok(loaded.versions.clone());
        }
        if let Some(error) = Self::recent_failure(&state, now) {
            return Err(error);
        }
        let trigger = if state.loaded.is_some() {
            "expired"
        } else {
            "cold"
        };
        self.fetch_into(&mut state, trigger, now, answer_by).await
    }

    /// Called when a signature matched none of `tried`. Re-reads the secret unless that was done
    /// less than `refresh_min_interval` ago, and returns the fresh versions (`Ok(None)` when the
    /// re-read is not due). When another request already replaced `tried`, returns those versions
    /// without a read.
    pub async fn refresh_after_signature_failure(
        &self,
        tried: &SecretVersions,
        now: Instant,
        answer_by: Instant,
    ) -> Result<Option<SecretVersions>, WebhookSecretError> {
        let mut state = self.lock_by(answer_by).await?;
        if let Some(loaded) = &state.loaded
            && !Arc::ptr_eq(&loaded.versions, tried)
        {
            return Ok(Some(loaded.versions.clone()));
        }
        if state.last_forced_refresh.is_some_and(|last| {
            now.saturating_duration_since(last) < self.settings.refresh_min_interval
        }) {
            return Ok(None);
        }
        if let Some(error) = Self::recent_failure(&state, now) {
            return Err(error);
        }
        // Counted before the read, so a store that keeps failing is not asked on every forgery.
        state.last_forced_refresh = Some(now);
        self.fetch_into(&mut state, "signature_failure", now, answer_by)
            .await
            .map(Some)
    }

    fn recent_failure(state: &CacheState, now: Instant) -> Option<WebhookSecretError> {
        state
            .failed
            .as_ref()
            .filter(|(_, until)| now < *until)
            .map(|(error, _)| error.clone())
    }

    /// Waits for the cache (another request may be reading the store) no later than `answer_by`.
    async fn lock_by(
        &self,
        answer_by: Instant,
    ) -> Result<tokio::sync::MutexGuard<'_, CacheState>, WebhookSecretError> {
        tokio::time::timeout_at(answer_by.into(), self.state.lock())
            .await
            .map_err(|_| self.timeout())
    }

    fn timeout(&self) -> WebhookSecretError {
        WebhookSecretError::Timeout {
            secret_id: self.secret_id.clone(),
        }
    }

    /// Reads the store, bounded by `answer_by`, and records what it found or how it failed.
    async fn fetch_into(
        &self,
        state: &mut CacheState,
        trigger: &'static str,
        now: Instant,
        answer_by: Instant,
    ) -> Result<SecretVersions, WebhookSecretError> {
        let fetched = tokio::time::timeout_at(answer_by.into(), self.fetch(trigger))
            .await
            .unwrap_or_else(|_| Err(self.timeout()));
        match fetched {
            Ok(Fetched { versions, complete }) => {
                let keep_for = if complete {
                    self.settings.ttl
                } else {
                    self.settings.ttl.min(self.settings.failure_backoff)
                };
                state.loaded = Some(Loaded {
                    versions: versions.clone(),
                    fresh_until: now + keep_for,
                });
                state.failed = None;
                Ok(versions)
            }
            Err(error) => {
                state.failed = Some((error.clone(), now + self.settings.failure_backoff));
                Err(error)
            }
        }
    }

    /// Reads `AWSCURRENT` and `AWSPREVIOUS` side by side: one round trip of waiting, not two.
    async fn fetch(&self, trigger: &'static str) -> Result<Fetched, WebhookSecretError> {
        let (current, previous) = tokio::join!(
            self.store.secret_string(&self.secret_id, CURRENT),
            self.store.secret_string(&self.secret_id, PREVIOUS),
        );
        let current_json = current?.ok_or_else(|| WebhookSecretError::NoCurrentVersion {
            secret_id: self.secret_id.clone(),
        })?;
        let current = self.version(CURRENT, &current_json)?;
        let mut versions = vec![current];
        let mut complete = true;

        match previous {
            Ok(None) => {}
            Ok(Some(previous_json)) => match self.version(PREVIOUS, &previous_json) {
                Ok(previous) if previous.document != versions[0].document => {
                    versions.push(previous);
                }
                Ok(_) => {}
                // An old version in an old format must not take the current one down with it.
                Err(error) => tracing::warn!(
                    secret_id = %self.secret_id,
                    error = %error,
                    "ignoring the previous version of the webhook secret"
                ),
            },
            // Nor may a failed read of the old one: verify with the current one meanwhile.
            Err(error) => {
                complete = false;
                tracing::warn!(
                    secret_id = %self.secret_id,
                    error = %error,
                    "the previous version of the webhook secret could not be read; verifying with the current one and reading again soon"
                );
            }
        }
        tracing::info!(
            secret_id = %self.secret_id,
            trigger,
            versions = versions.len(),
            complete,
            "webhook secret read from the store"
        );
        Ok(Fetched {
            versions: versions.into(),
            complete,
        })
    }

    fn version(
        &self,
        stage: &'static str,
        json: &str,
    ) -> Result<WebhookSecretVersion, WebhookSecretError> {
        let malformed = |problem| WebhookSecretError::Malformed {
            secret_id: self.secret_id.clone(),
            stage,
            problem,
        };
        let document = WebhookSecret::parse(json).map_err(malformed)?;
        WebhookSecretVersion::new(stage, document)
            .map_err(|_| malformed(SecretDocumentError::InvalidField("signature_secret")))
    }
}

// ---------------------------------------------------------------------------------------------
// Stores
// ---------------------------------------------------------------------------------------------

/// AWS Secrets Manager through the SDK. `AWS_ENDPOINT_URL` (read by `aws-config`) points it at
/// moto in tests.
#[derive(Clone, Debug)]
pub struct SecretsManagerStore {
    client: aws_sdk_secretsmanager::Client,
}

impl SecretsManagerStore {
    pub fn new(client: aws_sdk_secretsmanager::Client) -> Self {
        Self { client }
    }

    /// The client from the standard AWS settings (region, credentials, `AWS_ENDPOINT_URL`).
    pub async fn from_environment() -> Self {
        Self::from_loader(crate::aws::environment_loader()).await
    }

    /// The client from `loader` (tests set region, credentials and endpoint on it), with
    /// [`crate::aws::secrets_manager_timeouts`].
    pub async fn from_loader(loader: aws_config::ConfigLoader) -> Self {
        crate::aws::secrets_manager_store(&crate::aws::load(loader).await)
    }
}

#[async_trait::async_trait]
impl SecretStore for SecretsManagerStore {
    async fn secret_string(
        &self,
        secret_id: &str,
        version_stage: &str,
    ) -> Result<Option<String>, SecretStoreError> {
        // A duration for the latency metric only; no decision reads it.
        let started = std::time::Instant::now();
        let response = self
            .client
            .get_secret_value()
            .secret_id(secret_id)
            .version_stage(version_stage)
            .send()
            .await;
        crate::observe::metrics::secret_read(started.elapsed());
        match response {
            Ok(output) => match output.secret_string {
                Some(value) => Ok(Some(value)),
                None => Err(SecretStoreError::NotReadable {
                    secret_id: secret_id.to_owned(),
                    problem: format!("the {version_stage} version holds binary data, not a string"),
                }),
            },
            Err(error) => classify_sdk_error(error, secret_id, version_stage),
        }
    }
}

/// Secrets Manager answers `ResourceNotFoundException` both for a missing secret and for a
/// staging label no version carries. `AWSCURRENT` always exists on a secret, so only for other
/// labels does "not found" mean "no such version".
fn classify_sdk_error(
    error: aws_sdk_secretsmanager::error::SdkError<
        aws_sdk_secretsmanager::operation::get_secret_value::GetSecretValueError,
    >,
    secret_id: &str,
    version_stage: &str,
) -> Result<Option<String>, SecretStoreError> {
    use aws_sdk_secretsmanager::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};

    let SdkError::ServiceError(service_error) = &error else {
        return Err(SecretStoreError::Unavailable(
            DisplayErrorContext(&error).to_string(),
        ));
    };
    let code = service_error.err().code().unwrap_or("Unknown");
    let message = service_error.err().message().unwrap_or_default();
    match code {
        "ResourceNotFoundException" if version_stage != CURRENT => Ok(None),
        "ResourceNotFoundException"
        | "AccessDeniedException"
        | "DecryptionFailure"
        | "InvalidParameterException"
        | "InvalidRequestException" => Err(SecretStoreError::NotReadable {
            secret_id: secret_id.to_owned(),
            problem: format!("{code}: {message}"),
        }),
        _ => Err(SecretStoreError::Unavailable(format!("{code}: {message}"))),
    }
}

/// A store in memory, for unit tests and local runs. It counts reads and can be made
/// unavailable, so tests can see when the cache goes to the store.
#[derive(Default)]
pub struct InMemorySecretStore {
    values: Mutex<HashMap<String, HashMap<String, String>>>,
    reads: AtomicUsize,
    unavailable: AtomicBool,
    /// Staging labels whose reads fail while the others succeed.
    unavailable_stages: Mutex<Vec<String>>,
    /// How long each read takes (tokio time, so paused-clock tests pass it instantly).
    delay: Mutex<Duration>,
}

impl InMemorySecretStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// Stores `value` as the `AWSCURRENT` version of a new secret.
    pub fn with_secret(self, secret_id: &str, value: impl Into<String>) -> Self {
        self.put_version(secret_id, CURRENT, value);
        self
    }

    pub fn put_version(&self, secret_id: &str, stage: &str, value: impl Into<String>) {
        self.lock()
            .entry(secret_id.to_owned())
            .or_default()
            .insert(stage.to_owned(), value.into());
    }

    /// What Secrets Manager's `PutSecretValue` does to the labels: the current version becomes
    /// `AWSPREVIOUS`, the new one `AWSCURRENT`.
    pub fn rotate(&self, secret_id: &str, value: impl Into<String>) {
        let mut values = self.lock();
        let stages = values.entry(secret_id.to_owned()).or_default();
        if let Some(current) = stages.remove(CURRENT) {
            stages.insert(PREVIOUS.to_owned(), current);
        }
        stages.insert(CURRENT.to_owned(), value.into());
    }

    pub fn set_unavailable(&self, unavailable: bool) {
        self.unavailable.store(unavailable, Ordering::SeqCst);
    }

    /// Makes reads of one staging label fail (`true`) or succeed again (`false`).
    pub fn set_stage_unavailable(&self, stage: &str, unavailable: bool) {
        let mut stages = self
            .unavailable_stages
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        stages.retain(|listed| listed != stage);
        if unavailable {
            stages.push(stage.to_owned());
        }
    }

    /// Makes every read take `delay` before it answers.
    pub fn set_delay(&self, delay: Duration) {
        *self
            .delay
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = delay;
    }

    /// How many times `secret_string` was called.
    pub fn reads(&self) -> usize {
        self.reads.load(Ordering::SeqCst)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, HashMap<String, String>>> {
        self.values
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[async_trait::async_trait]
impl SecretStore for InMemorySecretStore {
    async fn secret_string(
        &self,
        secret_id: &str,
        version_stage: &str,
    ) -> Result<Option<String>, SecretStoreError> {
        self.reads.fetch_add(1, Ordering::SeqCst);
        let delay = *self
            .delay
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        let stage_down = self
            .unavailable_stages
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .iter()
            .any(|stage| stage == version_stage);
        if stage_down || self.unavailable.load(Ordering::SeqCst) {
            return Err(SecretStoreError::Unavailable(
                "the in-memory store is switched off".into(),
            ));
        }
        match self.lock().get(secret_id) {
            None => Err(SecretStoreError::NotReadable {
                secret_id: secret_id.to_owned(),
                problem: "no such secret".into(),
            }),
            Some(stages) => Ok(stages.get(version_stage).cloned()),
        }
    }
}

#[cfg(test)]
mod tests;
