//! `vonage-signed-callbacks`: the operator's tool for Vonage signed callbacks.
//!
//! - `activate` turns `signed_callbacks` on (and points the voice webhooks at the stack) with the
//!   Applications API, changing nothing else, and confirms by reading the application back.
//! - `status` says whether that is still so, and exits non-zero when not, for schedules and pipelines.
//! - `send-event` posts a webhook signed exactly as Vonage signs it.
//! - `verify` checks a captured request and names the check that failed.
//! - `alert-status` reads back what became of an alert (its state, confirmation and timeline)
//!   from the stack's state table, as the alert-status function does.
//!
//! Exit codes: 0 all good; 1 checked and found wrong (drift, rejected, non-2xx answer, change not
//! confirmed); 2 bad usage or settings; 3 Vonage, the target or the secret store could not be used.

use std::io::Write;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};
use vonage_voice_lambda::applications::{ActivationError, ApplicationsError, PlanError};
use vonage_voice_lambda::settings::{
    ANSWER_URL, DEFAULT_API_BASE_URL, EVENT_URL, FALLBACK_ANSWER_URL, PAYLOAD_HASH_MODE,
    STATE_TABLE_NAME, VONAGE_API_BASE_URL, VONAGE_API_KEY, VONAGE_API_SECRET,
    VONAGE_APPLICATION_ID, VONAGE_APPLICATION_SECRET_ID, VONAGE_PREVIOUS_SIGNATURE_SECRET,
    VONAGE_SIGNATURE_SECRET, WEBHOOK_MAX_AGE_SECONDS, WEBHOOK_MAX_CLOCK_AHEAD_SECONDS,
    WEBHOOK_SECRET_ID,
};

mod alert_status;
mod application;
pub mod capture;
mod check;
mod send;

#[derive(Debug, Parser)]
#[command(
    name = "vonage-signed-callbacks",
    version,
    about = "Activate and watch Vonage signed callbacks; send and verify signed webhooks",
    after_help = "Exit codes: 0 good; 1 checked and found wrong; 2 bad usage or settings; \
                  3 Vonage, the target or the secret store could not be used."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Turn signed callbacks on, and optionally point the answer and event webhooks at the stack.
    /// Changes nothing else in the application; running it again changes nothing.
    Activate {
        #[command(flatten)]
        application: ApplicationArgs,
        /// Print the change and send nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Say whether signed callbacks are on and the webhooks point where they should; exit 1 when not.
    Status {
        #[command(flatten)]
        application: ApplicationArgs,
    },
    /// Post a webhook signed exactly as Vonage signs it to URL, and print the answer.
    SendEvent(SendEventArgs),
    /// Check a captured webhook request; say which check failed when it does not verify.
    Verify(VerifyArgs),
    /// Print what became of an alert (state, confirmation, timeline) as JSON; exit 1 when no
    /// alert has that id.
    AlertStatus(AlertStatusArgs),
}

#[derive(Debug, Args)]
pub struct AlertStatusArgs {
    /// The alert_id send-alert returned (or the one it was given).
    #[arg(long, conflicts_with = "call_uuid")]
    pub alert_id: Option<String>,
    /// The call's uuid.
    #[arg(long)]
    pub call_uuid: Option<String>,
    /// The stack's state table (its StateTable resource).
    #[arg(long, env = STATE_TABLE_NAME)]
    pub table: String,
    /// Limit for each read of the table.
    #[arg(long, default_value_t = 3000, value_name = "MILLISECONDS")]
    pub timeout_ms: u64,
}

/// Where the application is and how to reach it.
#[derive(Debug, Args)]
pub struct ApplicationArgs {
    /// The Vonage application id.
    #[arg(long, env = VONAGE_APPLICATION_ID)]
    pub application_id: Option<String>,
    /// The account's API key (Basic auth for the Applications API).
    #[arg(long, env = VONAGE_API_KEY)]
    pub api_key: Option<String>,
    /// The account's API secret. Prefer the environment variable to the flag.
    #[arg(long, env = VONAGE_API_SECRET, hide_env_values = true)]
    pub api_secret: Option<String>,
    /// The stack's application secret in Secrets Manager
    /// ({"application_id","private_key","api_key","api_secret"}); fills in what flags leave out.
    #[arg(long, env = VONAGE_APPLICATION_SECRET_ID)]
    pub secret_id: Option<String>,
    #[arg(long, env = VONAGE_API_BASE_URL, default_value = DEFAULT_API_BASE_URL)]
    pub api_base_url: String,
    /// The stack's answer URL: activate points the answer webhook here, status checks it.
    #[arg(long, env = ANSWER_URL)]
    pub answer_url: Option<String>,
    /// The stack's event URL: activate points the event webhook here, status checks it.
    #[arg(long, env = EVENT_URL)]
    pub event_url: Option<String>,
    /// Where Vonage goes when the answer or event webhook fails: activate sets the application's
    /// `fallback_answer_url` here, status checks it. Unset: left as it is (and only checked to be
    /// on the stack's origin).
    #[arg(long, env = FALLBACK_ANSWER_URL)]
    pub fallback_answer_url: Option<String>,
    /// Limit for each request to the Applications API.
    #[arg(long, default_value_t = 30, value_name = "SECONDS")]
    pub timeout_seconds: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum HttpMethod {
    Post,
    Get,
}

/// The signature secret and account, given directly or read from the stack's webhook secret.
#[derive(Debug, Args)]
pub struct SigningArgs {
    /// The account's signature secret. Prefer the environment variable to the flag.
    #[arg(long, env = VONAGE_SIGNATURE_SECRET, hide_env_values = true)]
    pub signature_secret: Option<String>,
    /// The stack's webhook secret in Secrets Manager
    /// ({"signature_secret","api_key","application_id"}); used when no secret is given.
    #[arg(long, env = WEBHOOK_SECRET_ID)]
    pub webhook_secret_id: Option<String>,
}

#[derive(Debug, Args)]
pub struct SendEventArgs {
    /// Where to send it, e.g. https://…/event. With --method get its query string is signed.
    pub url: String,
    #[command(flatten)]
    pub signing: SigningArgs,
    /// The `api_key` claim (required unless it comes from the webhook secret).
    #[arg(long, env = VONAGE_API_KEY)]
    pub api_key: Option<String>,
    /// The `application_id` claim (left out when not given).
    #[arg(long, env = VONAGE_APPLICATION_ID)]
    pub application_id: Option<String>,
    /// The event's `status`; set in --body when one is given (which re-serialises it compactly).
    #[arg(long)]
    pub status: Option<String>,
    /// The exact body to send and sign. Without it a realistic call event is made up.
    #[arg(long, conflicts_with = "body_file")]
    pub body: Option<String>,
    /// Read the exact body to send and sign from a file.
    #[arg(long, value_name = "PATH")]
    pub body_file: Option<std::path::PathBuf>,
    #[arg(long, value_enum, default_value_t = HttpMethod::Post)]
    pub method: HttpMethod,
    /// The token's `iat` (Unix seconds); now when not given.
    #[arg(long, allow_negative_numbers = true)]
    pub iat: Option<i64>,
    /// The token's `jti`; a new UUID when not given.
    #[arg(long)]
    pub jti: Option<String>,
    #[arg(long, default_value_t = 30, value_name = "SECONDS")]
    pub timeout_seconds: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum PayloadHashMode {
    Exact,
    ExactOrCompactJson,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// A captured request: raw HTTP ("POST /event HTTP/1.1", headers, blank line, body) or the
    /// API Gateway event JSON (REST or HTTP API) the function received.
    #[arg(long, value_name = "PATH", conflicts_with_all = ["authorization", "body", "body_file", "query"])]
    pub request_file: Option<std::path::PathBuf>,
    /// An Authorization header value; repeat for a request that carried several.
    #[arg(long)]
    pub authorization: Vec<String>,
    /// The exact body received.
    #[arg(long, conflicts_with = "body_file")]
    pub body: Option<String>,
    /// Read the exact body received from a file.
    #[arg(long, value_name = "PATH")]
    pub body_file: Option<std::path::PathBuf>,
    /// The raw query string received (for GET webhooks), without `?`.
    #[arg(long)]
    pub query: Option<String>,
    /// The request's method.
    #[arg(long, value_enum, default_value_t = HttpMethod::Post)]
    pub method: HttpMethod,
    #[command(flatten)]
    pub signing: SigningArgs,
    /// A second signature secret to try, as during a rotation.
    #[arg(long, env = VONAGE_PREVIOUS_SIGNATURE_SECRET, hide_env_values = true)]
    pub previous_signature_secret: Option<String>,
    /// The `api_key` the token must carry (the webhook secret's when read from it).
    #[arg(long)]
    pub expected_api_key: Option<String>,
    /// The `application_id` the token must carry (the webhook secret's when read from it).
    #[arg(long)]
    pub expected_application_id: Option<String>,
    #[arg(
        long,
        env = WEBHOOK_MAX_AGE_SECONDS,
        default_value_t = 300,
        value_name = "SECONDS"
    )]
    pub max_age_seconds: u64,
    #[arg(
        long,
        env = WEBHOOK_MAX_CLOCK_AHEAD_SECONDS,
        default_value_t = 300,
        value_name = "SECONDS"
    )]
    pub max_clock_ahead_seconds: u64,
    #[arg(long, env = PAYLOAD_HASH_MODE, value_enum, default_value_t = PayloadHashMode::Exact)]
    pub payload_hash_mode: PayloadHashMode,
    /// Check as of this time (Unix seconds). Default: when API Gateway received the captured
    /// event, if the capture says; otherwise now.
    #[arg(long, allow_negative_numbers = true)]
    pub at: Option<i64>,
}

/// Why a command could not do its job (as opposed to doing it and finding something wrong).
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error("{0}")]
    Usage(String),
    #[error(transparent)]
    Applications(#[from] ApplicationsError),
    #[error(transparent)]
    Plan(#[from] PlanError),
    #[error("{0}")]
    NotConfirmed(String),
    #[error("the secret store: {0}")]
    Secrets(String),
    #[error("{0}")]
    Unreachable(String),
}

impl From<ActivationError> for CliError {
    fn from(error: ActivationError) -> Self {
        match error {
            ActivationError::Api(error) => CliError::Applications(error),
            ActivationError::Plan(error) => CliError::Plan(error),
            not_confirmed @ ActivationError::NotConfirmed { .. } => {
                CliError::NotConfirmed(not_confirmed.to_string())
            }
        }
    }
}

impl CliError {
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Plan(_) | CliError::NotConfirmed(_) => EXIT_FOUND_WRONG,
            CliError::Usage(_) => EXIT_USAGE,
            CliError::Applications(ApplicationsError::InvalidBaseUrl { .. }) => EXIT_USAGE,
            CliError::Applications(_) | CliError::Secrets(_) | CliError::Unreachable(_) => {
                EXIT_UNREACHABLE
            }
        }
    }
}

pub const EXIT_OK: u8 = 0;
pub const EXIT_FOUND_WRONG: u8 = 1;
pub const EXIT_USAGE: u8 = 2;
pub const EXIT_UNREACHABLE: u8 = 3;

/// What a command found: all good, or something wrong (already printed).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Good,
    Wrong,
}

impl Verdict {
    pub fn exit_code(self) -> u8 {
        match self {
            Verdict::Good => EXIT_OK,
            Verdict::Wrong => EXIT_FOUND_WRONG,
        }
    }
}

/// Runs one command, printing its report to `out`.
pub async fn run(cli: Cli, out: &mut dyn Write) -> Result<Verdict, CliError> {
    match cli.command {
        Command::Activate {
            application,
            dry_run,
        } => application::activate(&application, dry_run, out).await,
        Command::Status { application } => application::status(&application, out).await,
        Command::SendEvent(args) => send::send_event(&args, out).await,
        Command::Verify(args) => check::verify(&args, out).await,
        Command::AlertStatus(args) => alert_status::alert_status_command(&args, out).await,
    }
}

fn timeout(seconds: u64) -> Duration {
    Duration::from_secs(seconds.max(1))
}

fn print(out: &mut dyn Write, text: std::fmt::Arguments<'_>) -> Result<(), CliError> {
    writeln!(out, "{text}").map_err(|error| CliError::Unreachable(format!("stdout: {error}")))
}

/// The real clock's Unix seconds.
fn now_unix_seconds() -> i64 {
    use vonage_voice_lambda::clock::Clock as _;
    vonage_voice_lambda::clock::SystemClock.unix_seconds()
}

/// A value given on the command line or in the environment, trimmed; blank counts as absent.
fn given(value: &Option<String>) -> Option<String> {
    value
        .as_deref()
        .map(str::trim)
        .filter(|text| !text.is_empty())
        .map(str::to_owned)
}

/// One version of one of the stack's secrets, read through the project's Secrets Manager store.
/// `Ok(None)`: no version has that label.
async fn read_secret(secret_id: &str, stage: &str) -> Result<Option<String>, CliError> {
    use vonage_voice_lambda::secrets::{SecretStore, SecretsManagerStore};
    SecretsManagerStore::from_environment()
        .await
        .secret_string(secret_id, stage)
        .await
        .map_err(|error| CliError::Secrets(error.to_string()))
}

async fn read_current_secret(secret_id: &str) -> Result<String, CliError> {
    read_secret(secret_id, vonage_voice_lambda::secrets::CURRENT)
        .await?
        .ok_or_else(|| CliError::Secrets(format!("the secret {secret_id} has no current version")))
}
