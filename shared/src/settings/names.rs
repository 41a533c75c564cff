//! Every setting's name (the environment variable) and default, in one place. The parsers are
//! in [`crate::settings`]; each function's settings are read once at cold start by its
//! `…Config::from_settings`.
//!
//! A name's constant is spelled as the variable, except [`WEBHOOK_SECRET_ID`]
//! (`VONAGE_WEBHOOK_SECRET_ID`).

use std::time::Duration;

// The answer and event functions (the webhooks)

/// The Secrets Manager id of the webhook secret (`VONAGE_WEBHOOK_SECRET_ID`).
pub const WEBHOOK_SECRET_ID: &str = "VONAGE_WEBHOOK_SECRET_ID";
/// How long a secret is kept once read, in seconds.
pub const SECRET_CACHE_SECONDS: &str = "SECRET_CACHE_SECONDS";
/// Least time between two re-reads forced by a failed signature, in seconds.
pub const SECRET_REFRESH_MIN_INTERVAL_SECONDS: &str = "SECRET_REFRESH_MIN_INTERVAL_SECONDS";
/// How old a token's `iat` may be, in seconds.
pub const WEBHOOK_MAX_AGE_SECONDS: &str = "WEBHOOK_MAX_AGE_SECONDS";
/// How far ahead of our clock a token's `iat` may be, in seconds.
pub const WEBHOOK_MAX_CLOCK_AHEAD_SECONDS: &str = "WEBHOOK_MAX_CLOCK_AHEAD_SECONDS";
/// How `payload_hash` is matched: `exact` or `exact-or-compact-json`.
pub const PAYLOAD_HASH_MODE: &str = "PAYLOAD_HASH_MODE";
/// Event statuses accepted without a signature (comma-separated).
pub const UNSIGNED_EVENT_STATUSES: &str = "UNSIGNED_EVENT_STATUSES";
/// Whether the answer webhook serves unsigned requests.
pub const ANSWER_ALLOW_UNSIGNED: &str = "ANSWER_ALLOW_UNSIGNED";
/// What the answer webhook says.
pub const ANSWER_GREETING: &str = "ANSWER_GREETING";
/// The language of the answer webhook's greeting.
pub const ANSWER_LANGUAGE: &str = "ANSWER_LANGUAGE";
/// Our event endpoint, when the request cannot tell it.
pub const EVENT_URL: &str = "EVENT_URL";
/// The largest webhook body accepted, in bytes.
pub const WEBHOOK_MAX_BODY_BYTES: &str = "WEBHOOK_MAX_BODY_BYTES";
/// How long a webhook may take to answer, in milliseconds.
pub const WEBHOOK_RESPONSE_BUDGET_MS: &str = "WEBHOOK_RESPONSE_BUDGET_MS";
/// How long after a failed secret read the store is not asked again, in seconds.
pub const SECRET_RETRY_BACKOFF_SECONDS: &str = "SECRET_RETRY_BACKOFF_SECONDS";
/// Vonage's webhooks are a few KB; 64 KiB is ample and keeps a hostile body's parse cheap.
pub const DEFAULT_MAX_BODY_BYTES: usize = 64 * 1024;
/// Inside the answer function's 3 s timeout and Vonage's 5 s (answer) and 10 s (event) default
/// socket timeouts; lower it when the application's socket timeout is lowered.
pub const DEFAULT_RESPONSE_BUDGET: Duration = Duration::from_millis(2500);
/// What the answer webhook says when `ANSWER_GREETING` is unset.
pub const DEFAULT_GREETING: &str =
    "Hello. This call is answered by a signed webhook on AWS Lambda. Goodbye.";
/// The language of spoken text when none is configured.
pub const DEFAULT_LANGUAGE: &str = "en-US";

// send-alert

/// The Secrets Manager id of the application secret.
pub const VONAGE_APPLICATION_SECRET_ID: &str = "VONAGE_APPLICATION_SECRET_ID";
/// The Vonage API host, e.g. a regional one.
pub const VONAGE_API_BASE_URL: &str = "VONAGE_API_BASE_URL";
/// The caller id of alerts; unset uses a number linked to the application.
pub const VONAGE_FROM_NUMBER: &str = "VONAGE_FROM_NUMBER";
/// The language of alerts that name none.
pub const ALERT_LANGUAGE: &str = "ALERT_LANGUAGE";
/// How long a warm send-alert keeps the application secret before reading it again.
pub const DEFAULT_SECRET_CACHE: Duration = Duration::from_secs(300);

// send-alert's idempotency

/// How long a placed alert's result is returned to repeats, in seconds.
pub const ALERT_DEDUP_SECONDS: &str = "ALERT_DEDUP_SECONDS";
/// Whether send-alert refuses to place a call while the idempotency store is down.
pub const ALERT_REQUIRE_IDEMPOTENCY: &str = "ALERT_REQUIRE_IDEMPOTENCY";
/// How long a placed alert's result is kept when `ALERT_DEDUP_SECONDS` is unset.
pub const DEFAULT_ALERT_DEDUP: Duration = Duration::from_secs(300);

// The shared state table

/// The DynamoDB table every function shares (answer, event, send-alert).
pub const STATE_TABLE_NAME: &str = "STATE_TABLE_NAME";
/// The most one state call may take, in milliseconds, retries included.
pub const STATE_TIMEOUT_MS: &str = "STATE_TIMEOUT_MS";
/// One second: Vonage's tightest socket timeout (the answer webhook's, at most 5 s, often less)
/// must still cover the secret, the verification, this call and the answer.
pub const DEFAULT_STATE_TIMEOUT: Duration = Duration::from_secs(1);

// Alert outcomes

/// How long an alert record is kept after its last change, in days.
pub const ALERT_RETENTION_DAYS: &str = "ALERT_RETENTION_DAYS";
/// How long an alert record is kept when `ALERT_RETENTION_DAYS` is unset.
pub const DEFAULT_ALERT_RETENTION: Duration = Duration::from_secs(30 * 24 * 3600);

// The Vonage APIs (send-alert, drift-check, the CLI)

/// Vonage's global API host; regional hosts (e.g. `https://api-eu-3.vonage.com`) work the same.
pub const DEFAULT_API_BASE_URL: &str = "https://api.nexmo.com";

// The CLI (its flags' environment variables)

/// The Vonage application's id.
pub const VONAGE_APPLICATION_ID: &str = "VONAGE_APPLICATION_ID";
/// The Vonage account's API key.
pub const VONAGE_API_KEY: &str = "VONAGE_API_KEY";
/// The Vonage account's API secret.
pub const VONAGE_API_SECRET: &str = "VONAGE_API_SECRET";
/// The answer webhook's URL the application is set to.
pub const ANSWER_URL: &str = "ANSWER_URL";
/// The fallback answer URL the application is set to.
pub const FALLBACK_ANSWER_URL: &str = "FALLBACK_ANSWER_URL";
/// The signature secret itself (the functions read it from [`WEBHOOK_SECRET_ID`] instead).
pub const VONAGE_SIGNATURE_SECRET: &str = "VONAGE_SIGNATURE_SECRET";
/// The previous signature secret, accepted while a rotation is under way.
pub const VONAGE_PREVIOUS_SIGNATURE_SECRET: &str = "VONAGE_PREVIOUS_SIGNATURE_SECRET";

// drift-check

/// Where the answer webhook should point; unset leaves it unchecked.
pub const EXPECTED_ANSWER_URL: &str = "EXPECTED_ANSWER_URL";
/// Where the event webhook should point; unset leaves it unchecked.
pub const EXPECTED_EVENT_URL: &str = "EXPECTED_EVENT_URL";
/// Whether drift-check puts a drifted application back (default false).
pub const DRIFT_AUTO_REPAIR: &str = "DRIFT_AUTO_REPAIR";

// Observability (every function)

/// The CloudWatch namespace of the functions' metrics (a template parameter).
pub const METRICS_NAMESPACE: &str = "METRICS_NAMESPACE";
/// The metrics' namespace when [`METRICS_NAMESPACE`] is absent.
pub const DEFAULT_METRICS_NAMESPACE: &str = "VonageSignedCallbacks";
/// The log filter for local runs (`tracing`'s directive syntax); it wins over
/// [`AWS_LAMBDA_LOG_LEVEL`].
pub const RUST_LOG: &str = "RUST_LOG";
/// The application log level Lambda's advanced logging controls set (`ApplicationLogLevel`).
pub const AWS_LAMBDA_LOG_LEVEL: &str = "AWS_LAMBDA_LOG_LEVEL";
/// The function's name, set by Lambda; the metrics' `FunctionName` dimension.
pub const AWS_LAMBDA_FUNCTION_NAME: &str = "AWS_LAMBDA_FUNCTION_NAME";
/// The X-Ray trace header of the current invocation, set by Lambda when the context has none.
pub const X_AMZN_TRACE_ID: &str = "_X_AMZN_TRACE_ID";
/// Set to serve paths without API Gateway's stage prefix (read by `lambda_http` too).
pub const AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH: &str = "AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH";
