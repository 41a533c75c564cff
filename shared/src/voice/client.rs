//! The Voice API over HTTPS: timeouts fitted to the caller's budget, retries only where no call
//! can have been placed.

use crate::observe::remote::{Service, remote_call};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use backon::Retryable;

use super::*;
use crate::deadline::{Budget, DeadlineExceeded};
use crate::observe::error_chain;

#[derive(Clone, Debug, PartialEq)]
/// Where the Voice API is and how long a create-call may take.
pub struct VoiceClientConfig {
    /// Scheme and host, no trailing slash; `/v1/calls` is appended.
    pub base_url: String,
    /// How long connecting may take.
    pub connect_timeout: Duration,
    /// From the start of connecting to the end of the response body.
    pub total_timeout: Duration,
    /// No attempt is started with less time than this left before the invocation's deadline.
    pub min_attempt_time: Duration,
    /// Which failures are retried, and how long to wait.
    pub retry: RetryPolicy,
}

impl VoiceClientConfig {
    /// The defaults, for the API at `base_url`.
    pub fn new(base_url: &str) -> Self {
        Self {
            base_url: base_url.trim_end_matches('/').to_owned(),
            connect_timeout: Duration::from_secs(3),
            total_timeout: Duration::from_secs(10),
            // Vonage answers a create-call in well under a second; an attempt given less would
            // likely be cut after sending, turning a certain "no call" into an unknown outcome.
            min_attempt_time: Duration::from_secs(1),
            retry: RetryPolicy::default(),
        }
    }

    /// The create-call endpoint.
    pub fn create_call_url(&self) -> String {
        format!("{}{CREATE_CALL_PATH}", self.base_url)
    }

    /// How long the next attempt may take: its whole timeout, or what the budget has left if
    /// that is shorter; a deadline error (no call placed) when less than `min_attempt_time` is
    /// left. `attempts_made` is how many attempts came before, for the error.
    pub fn attempt_limit(
        &self,
        budget: &Budget,
        attempts_made: usize,
    ) -> Result<Duration, VoiceApiError> {
        budget
            .step_limit(self.total_timeout, self.min_attempt_time)
            .ok_or_else(|| VoiceApiError::DeadlineExceeded {
                attempts: attempts_made,
                source: DeadlineExceeded::not_started(&format!(
                    "a create-call request (less than {:?} left)",
                    self.min_attempt_time
                )),
            })
    }

    /// Whether a retry may start after waiting `delay`. Retries only follow failures that prove
    /// no call was placed, so one is started only if it can run its whole timeout before the
    /// budget ends: cut short after sending, it would trade that certainty for an unknown outcome.
    pub fn retry_fits(&self, budget: &Budget, delay: Duration) -> bool {
        budget.fits(delay, self.total_timeout)
    }
}

/// The Voice API over HTTPS with reqwest.
#[derive(Clone, Debug)]
pub struct HttpVoiceApi {
    http: reqwest::Client,
    config: VoiceClientConfig,
}

impl HttpVoiceApi {
    /// A client with `config`'s timeouts that follows no redirect.
    pub fn new(config: VoiceClientConfig) -> Result<Self, VoiceApiError> {
        let http = reqwest::Client::builder()
            .connect_timeout(config.connect_timeout)
            .timeout(config.total_timeout)
            // Following a redirect would resend a non-idempotent POST somewhere else.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("vonage-voice-lambda/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|error| VoiceApiError::ClientSetup(Cause::of(error)))?;
        Ok(Self { http, config })
    }

    /// The client's configuration.
    pub fn config(&self) -> &VoiceClientConfig {
        &self.config
    }

    /// One request, given at most `limit` from connecting to the end of the answer.
    async fn attempt(
        &self,
        url: &str,
        signer: &ApplicationJwtSigner,
        body: &[u8],
        limit: Duration,
    ) -> Result<CreateCallResponse, AttemptFailure> {
        let token = signer
            .sign_now()
            .map_err(|error| AttemptFailure::Final(error.into()))?;
        let request = self
            .http
            .post(url)
            .bearer_auth(token.expose())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(reqwest::header::ACCEPT, "application/json")
            .body(body.to_vec())
            .timeout(limit)
            .send();
        let sent = remote_call(Service::VonageVoice, "CreateCall", request).await;
        let response = match sent {
            Ok(response) => response,
            Err(error) => {
                let cut_by_deadline = limit < self.config.total_timeout;
                return Err(classify_send_error(&error, limit, cut_by_deadline));
            }
        };
        let status = response.status();
        let retry_after = retry_after(response.headers());
        let read = response.bytes().await;
        let reply_body = read
            .as_ref()
            .map(|bytes| echoable_body(bytes, &token))
            .unwrap_or_default();
        match status_class(status.as_u16()) {
            StatusClass::Created => {
                let bytes = read.map_err(|error| {
                    AttemptFailure::Final(VoiceApiError::OutcomeUnknown {
                        status: Some(status.as_u16()),
                        body: String::new(),
                        reason: format!(
                            "the response body could not be read ({})",
                            error_chain(&error)
                        ),
                    })
                })?;
                serde_json::from_slice(&bytes).map_err(|_| {
                    AttemptFailure::Final(VoiceApiError::OutcomeUnknown {
                        status: Some(status.as_u16()),
                        body: reply_body,
                        reason: "the call was accepted but the answer carries no call uuid".into(),
                    })
                })
            }
            StatusClass::RateLimited => Err(AttemptFailure::RateLimited {
                body: reply_body,
                retry_after,
            }),
            StatusClass::ServerError => Err(AttemptFailure::Final(VoiceApiError::OutcomeUnknown {
                status: Some(status.as_u16()),
                body: reply_body,
                reason: "the Voice API failed while handling the request".into(),
            })),
            StatusClass::Refused => Err(AttemptFailure::Final(VoiceApiError::Rejected {
                status: status.as_u16(),
                body: reply_body,
            })),
        }
    }
}

#[async_trait::async_trait]
impl VoiceApi for HttpVoiceApi {
    async fn create_call(
        &self,
        signer: &ApplicationJwtSigner,
        request: &CreateCallRequest,
        budget: &Budget,
    ) -> Result<CreateCallResponse, VoiceApiError> {
        let body = serde_json::to_vec(request).map_err(|error| {
            VoiceApiError::ClientSetup(Cause::described(
                format!("request not serialisable: {error}"),
                error,
            ))
        })?;
        let url = self.config.create_call_url();
        let attempts = AtomicUsize::new(0);
        // Set when a retry was due but could not have finished before the deadline.
        let out_of_time = AtomicBool::new(false);
        let policy = &self.config.retry;
        let result = (|| async {
            let limit = self
                .config
                .attempt_limit(budget, attempts.load(Ordering::Relaxed))
                .map_err(AttemptFailure::Final)?;
            attempts.fetch_add(1, Ordering::Relaxed);
            self.attempt(&url, signer, &body, limit).await
        })
        .retry(policy.backoff())
        .sleep(tokio::time::sleep)
        .when(AttemptFailure::is_retryable)
        .adjust(|failure, delay| {
            let delay = match failure {
                AttemptFailure::RateLimited { retry_after, .. } => {
                    delay.map(|computed| policy.delay_after_rate_limit(computed, *retry_after))
                }
                _ => delay,
            }?;
            if self.config.retry_fits(budget, delay) {
                Some(delay)
            } else {
                out_of_time.store(true, Ordering::Relaxed);
                None
            }
        })
        .notify(|failure, delay| {
            tracing::warn!(
                attempt = attempts.load(Ordering::Relaxed),
                delay_ms = delay.as_millis() as u64,
                failure = failure.kind(),
                "create-call attempt failed before reaching Vonage's call logic; retrying"
            );
        })
        .await;
        let attempts = attempts.load(Ordering::Relaxed);
        result.map_err(|failure| {
            if out_of_time.load(Ordering::Relaxed) {
                VoiceApiError::DeadlineExceeded {
                    attempts,
                    source: DeadlineExceeded::not_started(&format!(
                        "another create-call attempt (the last one {})",
                        failure.describe()
                    )),
                }
            } else {
                failure.into_error(attempts)
            }
        })
    }
}

/// How one attempt ended, when it did not return a call.
#[derive(Debug)]
enum AttemptFailure {
    RateLimited {
        body: String,
        retry_after: Option<Duration>,
    },
    /// No connection was made, so the request was never sent.
    ConnectFailed {
        reason: String,
    },
    Final(VoiceApiError),
}

impl AttemptFailure {
    fn is_retryable(&self) -> bool {
        matches!(self, Self::RateLimited { .. } | Self::ConnectFailed { .. })
    }

    fn kind(&self) -> &'static str {
        match self {
            Self::RateLimited { .. } => "rate_limited",
            Self::ConnectFailed { .. } => "connect_failed",
            Self::Final(_) => "final",
        }
    }

    /// What happened, for a sentence: "the last one …".
    fn describe(&self) -> String {
        match self {
            Self::RateLimited { .. } => "was answered 429 Too Many Requests".to_owned(),
            Self::ConnectFailed { reason } => format!("could not connect: {reason}"),
            Self::Final(error) => format!("failed: {error}"),
        }
    }

    fn into_error(self, attempts: usize) -> VoiceApiError {
        match self {
            Self::RateLimited { body, .. } => VoiceApiError::RateLimited { attempts, body },
            Self::ConnectFailed { reason } => VoiceApiError::Unreachable { attempts, reason },
            Self::Final(error) => error,
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
pub(super) enum StatusClass {
    Created,
    RateLimited,
    ServerError,
    Refused,
}

pub(super) fn status_class(status: u16) -> StatusClass {
    match status {
        200..=299 => StatusClass::Created,
        429 => StatusClass::RateLimited,
        500..=599 => StatusClass::ServerError,
        // 1xx/3xx (redirects are not followed) and the other 4xx: the call was not created.
        _ => StatusClass::Refused,
    }
}

/// `limit` is the time the attempt was given; `cut_by_deadline` says it was less than the
/// client's own timeout because the invocation's deadline was near.
fn classify_send_error(
    error: &reqwest::Error,
    limit: Duration,
    cut_by_deadline: bool,
) -> AttemptFailure {
    if error.is_connect() {
        return AttemptFailure::ConnectFailed {
            reason: error_chain(error),
        };
    }
    let reason = if error.is_timeout() && cut_by_deadline {
        format!("no response within {limit:.1?}, all the invocation's deadline left")
    } else if error.is_timeout() {
        format!("no response within {limit:?}")
    } else {
        format!(
            "the exchange failed after connecting ({})",
            error_chain(error)
        )
    };
    AttemptFailure::Final(VoiceApiError::OutcomeUnknown {
        status: None,
        body: String::new(),
        reason,
    })
}

/// `Retry-After` in whole seconds (the HTTP-date form is not used by Vonage and is ignored).
fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
        .map(Duration::from_secs)
}

/// A reply body safe to put into an error: our own token cut out should it be echoed, and
/// shortened.
pub(super) fn echoable_body(bytes: &[u8], token: &ApplicationJwt) -> String {
    let text = String::from_utf8_lossy(bytes).replace(token.expose(), "[redacted]");
    let mut chars = text.chars();
    let mut echoed: String = chars.by_ref().take(MAX_ECHOED_BODY_CHARS).collect();
    if chars.next().is_some() {
        echoed.push('…');
    }
    echoed
}
