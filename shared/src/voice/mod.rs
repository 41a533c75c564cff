//! The Voice API client: the application JWT, `POST /v1/calls` and its retry policy.
//!
//! Placing a call is not idempotent: a second request rings the phone a second time. So only
//! failures that prove the request never reached Vonage's call logic are retried (429, and
//! failures to connect). A 5xx or a timeout after the request was sent leaves the outcome
//! unknown and is reported as such, never retried blindly.
//!
//! The private key and every JWT made from it stay out of `Debug`, `Display`, logs and errors.

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use backon::{ExponentialBuilder, Retryable};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::ser::SerializeMap;
use serde::{Deserialize, Serialize, Serializer};

use crate::deadline::{Budget, DeadlineExceeded};
use crate::vonage::ncco::Ncco;

/// Vonage's global API host; regional hosts (e.g. `https://api-eu-3.vonage.com`) work the same.
pub const DEFAULT_API_BASE_URL: &str = "https://api.nexmo.com";
const CREATE_CALL_PATH: &str = "/v1/calls";

/// Vonage accepts 30 s to 24 h. A token is used for one request straight away, so two minutes
/// leaves room for clock skew while making a leaked token all but worthless.
pub const APPLICATION_JWT_LIFETIME: Duration = Duration::from_secs(120);

/// Error bodies are echoed into our errors; Vonage's are short, anything longer is cut.
const MAX_ECHOED_BODY_CHARS: usize = 2000;

// ---------------------------------------------------------------------------------------------
// Phone numbers and the create-call request

/// A phone number as the Voice API wants it: 7 to 15 ASCII digits, no `+`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct PhoneNumber(String);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PhoneNumberError {
    #[error("must contain only digits, with an optional leading + and spaces")]
    NotDigits,
    #[error("must have 7 to 15 digits, has {digits}")]
    WrongLength { digits: usize },
}

impl PhoneNumber {
    pub const MIN_DIGITS: usize = 7;
    pub const MAX_DIGITS: usize = 15;

    /// Accepts E.164 as people write it ("+44 7700 900000") and keeps only the digits.
    pub fn parse(text: &str) -> Result<Self, PhoneNumberError> {
        let trimmed = text.trim_matches(' ');
        let without_plus = trimmed.strip_prefix('+').unwrap_or(trimmed);
        let digits: String = without_plus.chars().filter(|c| *c != ' ').collect();
        if !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(PhoneNumberError::NotDigits);
        }
        if !(Self::MIN_DIGITS..=Self::MAX_DIGITS).contains(&digits.len()) {
            return Err(PhoneNumberError::WrongLength {
                digits: digits.len(),
            });
        }
        Ok(Self(digits))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Who the callee sees as calling.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CallerId {
    Number(PhoneNumber),
    /// `random_from_number: true`: Vonage picks one of the numbers linked to the application.
    RandomLinkedNumber,
}

/// The body of `POST /v1/calls` for one phone callee and an embedded NCCO.
#[derive(Clone, Debug, PartialEq)]
pub struct CreateCallRequest {
    pub to: PhoneNumber,
    pub from: CallerId,
    pub ncco: Ncco,
    /// Where the call's events go; without it Vonage uses the application's event URL.
    pub event_url: Option<String>,
}

#[derive(Serialize)]
struct PhoneEndpoint<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    number: &'a PhoneNumber,
}

impl<'a> PhoneEndpoint<'a> {
    fn new(number: &'a PhoneNumber) -> Self {
        Self {
            kind: "phone",
            number,
        }
    }
}

impl Serialize for CreateCallRequest {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        // `from` and `random_from_number` are mutually exclusive, hence a hand-written map.
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("to", &[PhoneEndpoint::new(&self.to)])?;
        match &self.from {
            CallerId::Number(number) => map.serialize_entry("from", &PhoneEndpoint::new(number))?,
            CallerId::RandomLinkedNumber => map.serialize_entry("random_from_number", &true)?,
        }
        map.serialize_entry("ncco", &self.ncco)?;
        if let Some(event_url) = &self.event_url {
            map.serialize_entry("event_url", &[event_url])?;
        }
        map.end()
    }
}

/// The 201 answer. Only `uuid` is relied on; the rest is passed on when present.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
pub struct CreateCallResponse {
    pub uuid: String,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub direction: Option<String>,
    #[serde(default)]
    pub conversation_uuid: Option<String>,
}

// ---------------------------------------------------------------------------------------------
// Application credentials and the application JWT

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CredentialsError {
    // serde_json's own messages can quote values, so only the position is kept.
    #[error(
        "the application secret is not a JSON object (problem at line {line}, column {column})"
    )]
    SecretNotJson { line: usize, column: usize },
    #[error("the application secret has no non-empty string field {field}")]
    MissingField { field: &'static str },
    #[error("the application's private key is not a PEM-encoded RSA private key")]
    InvalidPrivateKey,
    #[error("the application JWT could not be signed")]
    SigningFailed,
}

/// The claims of a Voice API application JWT, named as Vonage's own generators name them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApplicationClaims {
    pub application_id: String,
    pub iat: u64,
    pub jti: String,
    pub exp: u64,
}

/// A signed application JWT. Its text is only handed to the HTTP header.
#[derive(Clone, PartialEq, Eq)]
pub struct ApplicationJwt(String);

impl ApplicationJwt {
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

    pub fn application_id(&self) -> &str {
        &self.application_id
    }

    pub fn claims(&self, now_unix_secs: u64, jti: &str) -> ApplicationClaims {
        ApplicationClaims {
            application_id: self.application_id.clone(),
            iat: now_unix_secs,
            jti: jti.to_owned(),
            exp: now_unix_secs + APPLICATION_JWT_LIFETIME.as_secs(),
        }
    }

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
        self.sign(unix_now(), &uuid::Uuid::new_v4().to_string())
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.as_secs())
        .unwrap_or(0)
}

// ---------------------------------------------------------------------------------------------
// The client

#[derive(Debug, thiserror::Error)]
pub enum VoiceApiError {
    /// The request reached Vonage (or may have) and no definite answer came back: the call may
    /// be ringing. Resending could ring the phone twice.
    #[error(
        "the outcome is unknown, the call may have been placed: {reason}{}; check the call log before sending again",
        describe_reply(*.status, .body)
    )]
    OutcomeUnknown {
        status: Option<u16>,
        body: String,
        reason: String,
    },
    /// A definite refusal (4xx other than 429): no call was placed.
    #[error("the Voice API refused the call with status {status}: {body}")]
    Rejected { status: u16, body: String },
    /// Still 429 after every retry: no call was placed.
    #[error("the Voice API was still rate limiting after {attempts} attempts: {body}")]
    RateLimited { attempts: usize, body: String },
    /// No connection after every retry: no call was placed.
    #[error("the Voice API could not be reached after {attempts} attempts: {reason}")]
    Unreachable { attempts: usize, reason: String },
    /// The invocation's deadline came before a request could be sent, or before another attempt
    /// could run its course: no call was placed, and sending again is safe.
    #[error("no call was placed (attempts made: {attempts}): {source}; sending again is safe")]
    DeadlineExceeded {
        attempts: usize,
        source: DeadlineExceeded,
    },
    #[error(transparent)]
    Credentials(#[from] CredentialsError),
    #[error("the HTTP client could not be set up: {0}")]
    ClientSetup(String),
}

fn describe_reply(status: Option<u16>, body: &str) -> String {
    match (status, body.is_empty()) {
        (Some(status), true) => format!(" (status {status}, empty body)"),
        (Some(status), false) => format!(" (status {status}: {body})"),
        (None, _) => String::new(),
    }
}

impl VoiceApiError {
    /// True when Vonage certainly placed no call, so sending again is safe.
    pub fn call_certainly_not_placed(&self) -> bool {
        !matches!(self, Self::OutcomeUnknown { .. })
    }
}

/// One external system: the Voice API.
#[async_trait::async_trait]
pub trait VoiceApi: Send + Sync {
    /// Places the call within `budget`: no attempt runs past it.
    async fn create_call(
        &self,
        signer: &ApplicationJwtSigner,
        request: &CreateCallRequest,
        budget: &Budget,
    ) -> Result<CreateCallResponse, VoiceApiError>;
}

/// Capped exponential backoff with jitter, for the failures that are safe to retry.
#[derive(Clone, Debug, PartialEq)]
pub struct RetryPolicy {
    pub first_delay: Duration,
    /// The cap on the exponential part; jitter adds up to as much again, and a 429's
    /// `Retry-After` may lengthen a delay up to this cap.
    pub max_delay: Duration,
    /// Retries after the first attempt.
    pub max_retries: usize,
    pub jitter: bool,
}

impl Default for RetryPolicy {
    /// Vonage allows about 3 call creations a second: a few short waits clear a burst, and the
    /// worst case stays well inside a Lambda timeout of 30 s.
    fn default() -> Self {
        Self {
            first_delay: Duration::from_millis(300),
            max_delay: Duration::from_secs(2),
            max_retries: 3,
            jitter: true,
        }
    }
}

impl RetryPolicy {
    fn backoff(&self) -> ExponentialBuilder {
        let builder = ExponentialBuilder::new()
            .with_factor(2.0)
            .with_min_delay(self.first_delay)
            .with_max_delay(self.max_delay)
            .with_max_times(self.max_retries);
        if self.jitter {
            // backon's own seed is a constant without its `std` feature: every Lambda would
            // then wait in step with the others, which is what jitter is meant to prevent.
            builder
                .with_jitter()
                .with_jitter_seed(uuid::Uuid::new_v4().as_u64_pair().0)
        } else {
            builder
        }
    }

    /// The delays this policy would wait, in order (without `Retry-After`).
    pub fn delays(&self) -> Vec<Duration> {
        use backon::BackoffBuilder;
        self.backoff().build().collect()
    }

    /// A 429's `Retry-After` may lengthen the computed delay, never beyond `max_delay`.
    fn delay_after_rate_limit(
        &self,
        computed: Duration,
        retry_after: Option<Duration>,
    ) -> Duration {
        match retry_after {
            Some(asked) => computed.max(asked.min(self.max_delay)),
            None => computed,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct VoiceClientConfig {
    /// Scheme and host, no trailing slash; `/v1/calls` is appended.
    pub base_url: String,
    pub connect_timeout: Duration,
    /// From the start of connecting to the end of the response body.
    pub total_timeout: Duration,
    /// No attempt is started with less time than this left before the invocation's deadline.
    pub min_attempt_time: Duration,
    pub retry: RetryPolicy,
}

impl VoiceClientConfig {
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
    pub fn new(config: VoiceClientConfig) -> Result<Self, VoiceApiError> {
        let http = reqwest::Client::builder()
            .connect_timeout(config.connect_timeout)
            .timeout(config.total_timeout)
            // Following a redirect would resend a non-idempotent POST somewhere else.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("vonage-voice-lambda/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|error| VoiceApiError::ClientSetup(error_chain(&error)))?;
        Ok(Self { http, config })
    }

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
        let sent = self
            .http
            .post(url)
            .bearer_auth(token.expose())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(reqwest::header::ACCEPT, "application/json")
            .body(body.to_vec())
            .timeout(limit)
            .send()
            .await;
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
            VoiceApiError::ClientSetup(format!("request not serialisable: {error}"))
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
enum StatusClass {
    Created,
    RateLimited,
    ServerError,
    Refused,
}

fn status_class(status: u16) -> StatusClass {
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
fn echoable_body(bytes: &[u8], token: &ApplicationJwt) -> String {
    let text = String::from_utf8_lossy(bytes).replace(token.expose(), "[redacted]");
    let mut chars = text.chars();
    let mut echoed: String = chars.by_ref().take(MAX_ECHOED_BODY_CHARS).collect();
    if chars.next().is_some() {
        echoed.push('…');
    }
    echoed
}

/// An error with its sources, e.g. "error sending request: client error (Connect): refused".
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::vonage::ncco::{Action, Talk};
    use aws_lc_rs::encoding::AsDer;
    use aws_lc_rs::signature::KeyPair;
    use base64::Engine;
    use jsonwebtoken::{DecodingKey, Validation};
    use serde_json::json;
    use std::sync::OnceLock;

    /// A throwaway 2048-bit key pair made once per test run: (PKCS#8 private PEM, SPKI public PEM).
    pub(crate) fn test_key_pair() -> &'static (String, String) {
        static KEYS: OnceLock<(String, String)> = OnceLock::new();
        KEYS.get_or_init(|| {
            let pair = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048)
                .expect("aws-lc generates an RSA key");
            let private = AsDer::<aws_lc_rs::encoding::Pkcs8V1Der>::as_der(&pair)
                .expect("the key has a PKCS#8 form");
            let public = AsDer::<aws_lc_rs::encoding::PublicKeyX509Der>::as_der(pair.public_key())
                .expect("the public key has an X.509 form");
            (
                pem("PRIVATE KEY", private.as_ref()),
                pem("PUBLIC KEY", public.as_ref()),
            )
        })
    }

    fn pem(label: &str, der: &[u8]) -> String {
        let body = base64::engine::general_purpose::STANDARD.encode(der);
        let lines: Vec<&str> = body
            .as_bytes()
            .chunks(64)
            .map(|chunk| std::str::from_utf8(chunk).unwrap())
            .collect();
        format!(
            "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
            lines.join("\n")
        )
    }

    pub(crate) fn test_signer() -> ApplicationJwtSigner {
        ApplicationJwtSigner::from_pem("aaaaaaaa-bbbb-cccc-dddd-0123456789ab", &test_key_pair().0)
            .unwrap()
    }

    fn decode(token: &str, public_pem: &str) -> jsonwebtoken::TokenData<ApplicationClaims> {
        let mut validation = Validation::new(Algorithm::RS256);
        validation.validate_exp = false;
        jsonwebtoken::decode(
            token,
            &DecodingKey::from_rsa_pem(public_pem.as_bytes()).unwrap(),
            &validation,
        )
        .unwrap()
    }

    #[test]
    fn phone_numbers_keep_digits_and_drop_a_leading_plus_and_spaces() {
        assert_eq!(
            PhoneNumber::parse("+44 7700 900000").unwrap().as_str(),
            "447700900000"
        );
        assert_eq!(PhoneNumber::parse("1234567").unwrap().as_str(), "1234567");
        assert_eq!(
            PhoneNumber::parse("123456789012345").unwrap().as_str(),
            "123456789012345"
        );
    }

    #[test]
    fn phone_numbers_outside_7_to_15_digits_or_with_other_characters_are_refused() {
        assert_eq!(
            PhoneNumber::parse("123456"),
            Err(PhoneNumberError::WrongLength { digits: 6 })
        );
        assert_eq!(
            PhoneNumber::parse("1234567890123456"),
            Err(PhoneNumberError::WrongLength { digits: 16 })
        );
        assert_eq!(
            PhoneNumber::parse(""),
            Err(PhoneNumberError::WrongLength { digits: 0 })
        );
        for bad in [
            "44-7700-900000",
            "4477009000+0",
            "++447700900000",
            "٤٤٧٧٠٠٩٠٠٠٠٠",
            "44770090000a",
        ] {
            assert_eq!(
                PhoneNumber::parse(bad),
                Err(PhoneNumberError::NotDigits),
                "{bad}"
            );
        }
    }

    fn talk_ncco() -> Ncco {
        Ncco::new(vec![Action::Talk(Talk::new("Disk full"))]).unwrap()
    }

    #[test]
    fn create_call_request_serialises_as_the_voice_api_expects() {
        let request = CreateCallRequest {
            to: PhoneNumber::parse("447700900000").unwrap(),
            from: CallerId::Number(PhoneNumber::parse("447700900001").unwrap()),
            ncco: talk_ncco(),
            event_url: Some("https://example.com/event".into()),
        };
        assert_eq!(
            serde_json::to_value(&request).unwrap(),
            json!({
                "to": [{"type": "phone", "number": "447700900000"}],
                "from": {"type": "phone", "number": "447700900001"},
                "ncco": [{"action": "talk", "text": "Disk full"}],
                "event_url": ["https://example.com/event"]
            })
        );
    }

    #[test]
    fn without_a_caller_id_vonage_picks_a_linked_number() {
        let request = CreateCallRequest {
            to: PhoneNumber::parse("447700900000").unwrap(),
            from: CallerId::RandomLinkedNumber,
            ncco: talk_ncco(),
            event_url: None,
        };
        assert_eq!(
            serde_json::to_value(&request).unwrap(),
            json!({
                "to": [{"type": "phone", "number": "447700900000"}],
                "random_from_number": true,
                "ncco": [{"action": "talk", "text": "Disk full"}]
            })
        );
    }

    #[test]
    fn create_call_response_needs_only_the_uuid() {
        let full: CreateCallResponse = serde_json::from_value(json!({
            "uuid": "63f61863-4a51-4f6b-86e1-46edebcf9356", "status": "started",
            "direction": "outbound", "conversation_uuid": "CON-f972836a", "extra": 1
        }))
        .unwrap();
        assert_eq!(full.conversation_uuid.as_deref(), Some("CON-f972836a"));
        let bare: CreateCallResponse = serde_json::from_value(json!({"uuid": "u"})).unwrap();
        assert_eq!(bare.status, None);
        assert!(
            serde_json::from_value::<CreateCallResponse>(json!({"status": "started"})).is_err()
        );
    }

    #[test]
    fn application_jwt_is_rs256_and_verifies_with_the_public_key() {
        let token = test_signer().sign(1_700_000_000, "jti-1").unwrap();
        let data = decode(token.expose(), &test_key_pair().1);
        assert_eq!(data.header.alg, Algorithm::RS256);
        assert_eq!(data.header.typ.as_deref(), Some("JWT"));
        assert_eq!(
            data.claims,
            ApplicationClaims {
                application_id: "aaaaaaaa-bbbb-cccc-dddd-0123456789ab".into(),
                iat: 1_700_000_000,
                jti: "jti-1".into(),
                exp: 1_700_000_000 + APPLICATION_JWT_LIFETIME.as_secs(),
            }
        );
    }

    #[test]
    fn application_jwt_lifetime_is_within_vonages_bounds() {
        assert!(APPLICATION_JWT_LIFETIME >= Duration::from_secs(30));
        assert!(APPLICATION_JWT_LIFETIME <= Duration::from_secs(15 * 60));
    }

    #[test]
    fn each_fresh_token_has_its_own_jti_and_the_current_time() {
        let signer = test_signer();
        let first = decode(signer.sign_now().unwrap().expose(), &test_key_pair().1).claims;
        let second = decode(signer.sign_now().unwrap().expose(), &test_key_pair().1).claims;
        assert_ne!(first.jti, second.jti);
        assert!(first.iat.abs_diff(unix_now()) <= 5);
    }

    #[test]
    fn a_token_from_another_key_does_not_verify() {
        let other = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
        let other_public =
            AsDer::<aws_lc_rs::encoding::PublicKeyX509Der>::as_der(other.public_key()).unwrap();
        let token = test_signer().sign_now().unwrap();
        let mut validation = Validation::new(Algorithm::RS256);
        validation.validate_exp = false;
        let result = jsonwebtoken::decode::<ApplicationClaims>(
            token.expose(),
            &DecodingKey::from_rsa_pem(pem("PUBLIC KEY", other_public.as_ref()).as_bytes())
                .unwrap(),
            &validation,
        );
        assert!(result.is_err());
    }

    #[test]
    fn credentials_come_from_the_application_secret_json() {
        let (private_pem, public_pem) = test_key_pair();
        let secret = json!({
            "application_id": "app-1", "private_key": private_pem,
            "api_key": "a1b2c3d", "api_secret": "s3cr3t"
        })
        .to_string();
        let signer = ApplicationJwtSigner::from_secret_json(&secret).unwrap();
        assert_eq!(signer.application_id(), "app-1");
        let claims = decode(signer.sign_now().unwrap().expose(), public_pem).claims;
        assert_eq!(claims.application_id, "app-1");
    }

    #[test]
    fn a_key_whose_newlines_were_kept_as_backslash_n_still_loads() {
        let flattened = test_key_pair().0.replace('\n', "\\n");
        assert!(ApplicationJwtSigner::from_pem("app-1", &flattened).is_ok());
    }

    #[test]
    fn secret_problems_are_named_without_echoing_the_secret() {
        assert_eq!(
            ApplicationJwtSigner::from_secret_json(r#"{"application_id":"a"}"#).unwrap_err(),
            CredentialsError::MissingField {
                field: "private_key"
            }
        );
        assert_eq!(
            ApplicationJwtSigner::from_secret_json(r#"{"private_key":"k","application_id":""}"#)
                .unwrap_err(),
            CredentialsError::MissingField {
                field: "application_id"
            }
        );
        let broken = r#"{"application_id":"a","private_key":"TOPSECRETKEYTEXT"#;
        let error = ApplicationJwtSigner::from_secret_json(broken).unwrap_err();
        assert!(matches!(error, CredentialsError::SecretNotJson { .. }));
        assert!(!error.to_string().contains("TOPSECRET"), "{error}");
    }

    #[test]
    fn a_bad_private_key_is_refused_without_being_echoed() {
        let garbled =
            "-----BEGIN PRIVATE KEY-----\nTOPSECRETKEYTEXTAAAA\n-----END PRIVATE KEY-----\n";
        let not_pem = "TOPSECRETKEYTEXT";
        // A real key's PEM cut short: right armour, broken DER.
        let truncated = {
            let (private_pem, _) = test_key_pair();
            let lines: Vec<&str> = private_pem.lines().collect();
            format!(
                "{}\n{}\n{}\n",
                lines[0],
                lines[1..4].join("\n"),
                lines[lines.len() - 1]
            )
        };
        for key in [garbled, not_pem, truncated.as_str()] {
            let error = ApplicationJwtSigner::from_pem("app-1", key).unwrap_err();
            assert_eq!(error, CredentialsError::InvalidPrivateKey);
            assert!(!error.to_string().contains("TOPSECRET"));
            assert!(!VoiceApiError::from(error).to_string().contains("TOPSECRET"));
        }
    }

    #[test]
    fn debug_output_redacts_the_key_and_tokens() {
        let signer = test_signer();
        let token = signer.sign_now().unwrap();
        let key_body = test_key_pair().0.lines().nth(1).unwrap().to_owned();
        let debugged = format!("{signer:?} {token:?}");
        assert!(!debugged.contains(&key_body), "{debugged}");
        assert!(!debugged.contains(token.expose()), "{debugged}");
        assert!(debugged.contains("[redacted]"));
    }

    #[test]
    fn an_echoed_token_is_cut_from_error_bodies_and_long_bodies_are_shortened() {
        let token = test_signer().sign_now().unwrap();
        let body = format!(
            "{{\"title\":\"Unauthorized\",\"token\":\"{}\"}}",
            token.expose()
        );
        let echoed = echoable_body(body.as_bytes(), &token);
        assert!(!echoed.contains(token.expose()));
        assert!(echoed.contains("[redacted]"));
        let long = "x".repeat(MAX_ECHOED_BODY_CHARS + 10);
        assert_eq!(
            echoable_body(long.as_bytes(), &token).chars().count(),
            MAX_ECHOED_BODY_CHARS + 1
        );
    }

    #[test]
    fn only_429_is_retried_among_statuses_and_5xx_means_unknown() {
        assert_eq!(status_class(201), StatusClass::Created);
        assert_eq!(status_class(429), StatusClass::RateLimited);
        for status in [500, 502, 503, 504] {
            assert_eq!(status_class(status), StatusClass::ServerError, "{status}");
        }
        for status in [301, 400, 401, 403, 404, 422] {
            assert_eq!(status_class(status), StatusClass::Refused, "{status}");
        }
    }

    #[test]
    fn backoff_doubles_up_to_the_cap_and_stops_after_max_retries() {
        let policy = RetryPolicy {
            first_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(350),
            max_retries: 4,
            jitter: false,
        };
        // backon multiplies in f32: compare whole milliseconds.
        let millis: Vec<u128> = policy.delays().iter().map(Duration::as_millis).collect();
        assert_eq!(millis, [100, 200, 350, 350]);
    }

    #[test]
    fn jitter_stays_between_the_delay_and_twice_it_and_varies() {
        let policy = RetryPolicy {
            first_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(400),
            max_retries: 3,
            jitter: true,
        };
        let runs: Vec<Vec<Duration>> = (0..8).map(|_| policy.delays()).collect();
        for delays in &runs {
            for (delay, base) in delays.iter().zip([100u128, 200, 400]) {
                let millis = delay.as_millis();
                assert!(
                    millis >= base && millis <= base * 2,
                    "{delay:?} for {base}ms"
                );
            }
        }
        assert!(
            runs.iter().any(|delays| *delays != runs[0]),
            "jitter is seeded afresh"
        );
    }

    #[test]
    fn retry_after_lengthens_a_delay_but_never_past_the_cap() {
        let policy = RetryPolicy {
            max_delay: Duration::from_secs(2),
            ..RetryPolicy::default()
        };
        let computed = Duration::from_millis(300);
        assert_eq!(policy.delay_after_rate_limit(computed, None), computed);
        assert_eq!(
            policy.delay_after_rate_limit(computed, Some(Duration::from_secs(1))),
            Duration::from_secs(1)
        );
        assert_eq!(
            policy.delay_after_rate_limit(computed, Some(Duration::from_secs(60))),
            Duration::from_secs(2)
        );
        assert_eq!(
            policy.delay_after_rate_limit(computed, Some(Duration::ZERO)),
            computed
        );
    }

    #[test]
    fn outcome_unknown_says_so_with_status_and_body() {
        let error = VoiceApiError::OutcomeUnknown {
            status: Some(500),
            body: r#"{"title":"Internal Error"}"#.into(),
            reason: "the Voice API failed while handling the request".into(),
        };
        let text = error.to_string();
        assert!(text.contains("outcome is unknown"), "{text}");
        assert!(text.contains("status 500"), "{text}");
        assert!(text.contains("Internal Error"), "{text}");
        assert!(!error.call_certainly_not_placed());
        assert!(
            VoiceApiError::Rejected {
                status: 400,
                body: String::new()
            }
            .call_certainly_not_placed()
        );
    }

    #[test]
    fn each_attempt_gets_its_timeout_or_the_time_left_and_none_starts_with_too_little() {
        use crate::webhook::ManualClock;
        let clock = std::sync::Arc::new(ManualClock::at(1_800_000_000));
        let config = VoiceClientConfig::new("https://api.nexmo.com");
        let budget = Budget::lasting(Duration::from_secs(25), clock.clone());
        assert_eq!(
            config.attempt_limit(&budget, 0).unwrap(),
            config.total_timeout
        );
        clock.advance(Duration::from_secs(22));
        assert_eq!(
            config.attempt_limit(&budget, 0).unwrap(),
            Duration::from_secs(3)
        );
        clock.advance(Duration::from_millis(2_500));
        let error = config.attempt_limit(&budget, 2).unwrap_err();
        assert!(
            matches!(error, VoiceApiError::DeadlineExceeded { attempts: 2, .. }),
            "{error}"
        );
        assert!(error.call_certainly_not_placed());
        let text = error.to_string();
        assert!(text.contains("no call was placed"), "{text}");
        assert!(text.contains("deadline"), "{text}");
    }

    #[test]
    fn a_retry_starts_only_when_its_wait_and_whole_attempt_fit() {
        use crate::webhook::ManualClock;
        let clock = std::sync::Arc::new(ManualClock::at(1_800_000_000));
        let config = VoiceClientConfig::new("https://api.nexmo.com");
        let budget = Budget::lasting(Duration::from_secs(29), clock.clone());
        // Every default backoff fits after a quick failure at the start of an invocation.
        let policy = RetryPolicy {
            jitter: false,
            ..RetryPolicy::default()
        };
        let waited: Duration = policy.delays().iter().sum();
        assert!(config.retry_fits(&budget, waited * 2));
        clock.advance(Duration::from_secs(18));
        assert!(config.retry_fits(&budget, Duration::from_secs(1)));
        assert!(!config.retry_fits(&budget, Duration::from_millis(1_001)));
    }

    #[test]
    fn base_url_loses_its_trailing_slash() {
        assert_eq!(
            VoiceClientConfig::new("https://api-eu-3.vonage.com/").create_call_url(),
            "https://api-eu-3.vonage.com/v1/calls"
        );
    }
}
