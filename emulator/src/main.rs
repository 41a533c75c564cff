//! `vonage-voice-emulator`: serves the Voice API's create-call endpoint on loopback and plays each
//! call's signed events to its `event_url`. Secrets come from the environment, never from flags,
//! so they stay out of process listings.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use vonage_voice_emulator::{EmulatorConfig, Outcome, serve};
use vonage_voice_lambda::vonage::sign::WebhookSigner;

#[derive(Parser)]
#[command(version, about)]
struct Args {
    /// Address to listen on.
    #[arg(long, env = "EMULATOR_LISTEN", default_value = "127.0.0.1:4020")]
    listen: String,
    /// The Vonage application's id; application JWTs must carry it.
    #[arg(long, env = "EMULATOR_APPLICATION_ID")]
    application_id: String,
    /// The application's public key (PEM file).
    #[arg(long, env = "EMULATOR_PUBLIC_KEY_FILE")]
    public_key_file: PathBuf,
    /// The account's API key, put in each webhook's `api_key` claim.
    #[arg(long, env = "EMULATOR_API_KEY")]
    api_key: String,
    /// How calls end unless the number called is a reserved test number.
    #[arg(
        long,
        env = "EMULATOR_OUTCOME",
        value_enum,
        default_value = "completed"
    )]
    outcome: Outcome,
    /// Milliseconds between a call's events.
    #[arg(long, env = "EMULATOR_EVENT_INTERVAL_MS", default_value_t = 0)]
    event_interval_ms: u64,
    /// `false`: take calls but send none of their events (to see a flow notice they are missing).
    #[arg(long, env = "EMULATOR_SEND_EVENTS", default_value_t = true, action = clap::ArgAction::Set)]
    send_events: bool,
}

#[tokio::main]
async fn main() -> ExitCode {
    vonage_voice_lambda::observe::logging::init();
    let args = Args::parse();
    match run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("vonage-voice-emulator: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> Result<(), String> {
    let secret = std::env::var("EMULATOR_SIGNATURE_SECRET").map_err(|_| {
        "EMULATOR_SIGNATURE_SECRET is required (the account's signature secret)".to_owned()
    })?;
    let public_key_pem = std::fs::read_to_string(&args.public_key_file)
        .map_err(|error| format!("cannot read {}: {error}", args.public_key_file.display()))?;
    let signer = WebhookSigner::new(&secret, args.api_key, Some(args.application_id.clone()))
        .map_err(|error| format!("EMULATOR_SIGNATURE_SECRET: {error}"))?;
    let config = EmulatorConfig {
        application_id: args.application_id,
        public_key_pem,
        signer,
        default_outcome: args.outcome,
        event_interval: Duration::from_millis(args.event_interval_ms),
        send_events: args.send_events,
    };
    let listener = tokio::net::TcpListener::bind(&args.listen)
        .await
        .map_err(|error| format!("cannot listen on {}: {error}", args.listen))?;
    tracing::info!(listen = %args.listen, "Vonage Voice emulator ready");
    serve(listener, config)
        .await
        .map_err(|error| error.to_string())
}
