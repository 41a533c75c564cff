//! Caches over a [`SecretStore`]: [`CachedSecretStore`] remembers each read for a while, and
//! [`WebhookSecretCache`] holds the webhook secret's verification candidates and re-reads on rotation.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::*;

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
    /// A cache over `inner` that keeps each value for `ttl`.
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
/// Why the webhook secret's candidates could not be had.
pub enum WebhookSecretError {
    #[error(transparent)]
    /// The store failed or refused the read.
    Store(#[from] SecretStoreError),
    #[error("the secret {secret_id} could not be read within the webhook's time budget")]
    /// The read did not finish within the webhook's budget.
    Timeout {
        /// The secret's id.
        secret_id: String,
    },
    #[error("the secret {secret_id} has no {CURRENT} version")]
    /// The secret has no current version.
    NoCurrentVersion {
        /// The secret's id.
        secret_id: String,
    },
    #[error("the secret {secret_id} ({stage}) is not usable: {problem}")]
    /// A version is not a usable webhook secret document.
    Malformed {
        /// The secret read.
        secret_id: String,
        /// The staging label of the version at fault.
        stage: &'static str,
        /// What is wrong with it.
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
    /// A cache of `secret_id` read from `store`, empty until first asked.
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

    /// The secret this cache reads.
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
