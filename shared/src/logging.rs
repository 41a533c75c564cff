//! Structured JSON logs, one object per line, in step with Lambda's `AWS_LAMBDA_LOG_FORMAT=JSON`.
//!
//! Nothing here decides what is logged; callers log fields they chose, and never a secret, a token
//! or a signature.

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

/// Installs the JSON subscriber once, writing to stdout. The level comes from `RUST_LOG`, then
/// `AWS_LAMBDA_LOG_LEVEL` (set by Lambda's advanced logging controls), then `info`.
pub fn init() {
    let filter = std::env::var("RUST_LOG")
        .ok()
        .or_else(|| std::env::var("AWS_LAMBDA_LOG_LEVEL").ok())
        .map(|level| level.to_ascii_lowercase())
        .and_then(|level| EnvFilter::try_new(level).ok())
        .unwrap_or_else(|| EnvFilter::new("info"));
    let _ = tracing::subscriber::set_global_default(json_subscriber(filter, std::io::stdout));
}

/// The subscriber `init` installs, writing to `writer`: tests and benchmarks read the lines
/// exactly as the functions write them.
pub fn json_subscriber<W>(filter: EnvFilter, writer: W) -> impl tracing::Subscriber + Send + Sync
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(false)
        .with_span_list(false)
        .flatten_event(true)
        .with_target(false)
        // Lambda stamps each line itself; a second timestamp only costs bytes.
        .without_time()
        .with_writer(writer)
        .finish()
}
