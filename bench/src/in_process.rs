//! The warm cost of one event invocation without the Runtime API: the event function's own work
//! on each invocation (parse the API Gateway event, verify, check for a replay, log one JSON line,
//! build the response), timed in this process with the secret already cached.
//!
//! Logging goes through the same JSON formatter the functions install, into a counting sink, so
//! the formatting is paid for and the run can check that each event was logged.

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde::Serialize;
use serde_json::Value;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::util::SubscriberInitExt;
use vonage_voice_lambda::clock::SystemClock;
use vonage_voice_lambda::http;
use vonage_voice_lambda::secrets::{InMemorySecretStore, WebhookSecret};
use vonage_voice_lambda::settings::webhook::EventConfig;
use vonage_voice_lambda::state::MemoryReplayStore;
use vonage_voice_lambda::vonage::sign::WebhookSigner;
use vonage_voice_lambda::webhook::EventHandler;

use crate::stack::signed_answered_event;
use crate::stats::{Summary, monotonic_ns};

const SECRET_ID: &str = "bench/webhook";
const API_KEY: &str = "a1b2c3d";

#[derive(Debug, Serialize)]
pub struct InProcessResults {
    /// Microseconds per invocation: event bytes in, HTTP response out.
    pub handler_us: Summary,
    /// The same invocations split into their steps (microseconds, median per step).
    pub breakdown: Breakdown,
    pub log_lines: usize,
}

/// Where one warm invocation's in-process time goes, each step timed around its own call.
#[derive(Debug, Serialize)]
pub struct Breakdown {
    /// `serde_json` reading the API Gateway event the Runtime API hands over.
    pub event_json_us: Summary,
    /// `http::request_from_event`: the raw-event checks and lambda_http's request.
    pub request_building_us: Summary,
    /// The same event through `lambda_http`'s own deserialiser (`LambdaRequest`, which writes the
    /// event back to text and parses it per variant tried) and conversion: how the request was
    /// built before, without the checks.
    pub lambda_http_request_building_us: Summary,
    /// `http::serve_event`: verification, the duplicate check, the log line and the response.
    pub serve_us: Summary,
    /// `http::serve_event` again over fresh events with logging filtered off, so the difference
    /// is what formatting and writing the JSON log line costs.
    pub serve_without_logging_us: Summary,
}

/// Per-invocation step timings in microseconds.
#[derive(Default)]
struct StepTimings {
    total: Vec<f64>,
    event_json: Vec<f64>,
    request_building: Vec<f64>,
    lambda_http_request_building: Vec<f64>,
    serve: Vec<f64>,
}

/// Counts the lines written through it and drops the bytes.
#[derive(Clone, Default)]
struct CountingSink(Arc<AtomicUsize>);

impl Write for CountingSink {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        let lines = bytes.iter().filter(|byte| **byte == b'\n').count();
        self.0.fetch_add(lines, Ordering::Relaxed);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// `count` distinct signed event invocations, as the Runtime API would deliver them.
fn signed_events(signer: &WebhookSigner, count: usize) -> Result<Vec<Vec<u8>>, String> {
    (0..count)
        .map(|_| {
            let call_uuid = uuid::Uuid::new_v4().to_string();
            let event = signed_answered_event(
                signer,
                "447700900001",
                "447700900000",
                &call_uuid,
                &uuid::Uuid::new_v4().to_string(),
            )?;
            serde_json::to_vec(&event).map_err(|error| error.to_string())
        })
        .collect()
}

async fn run(count: usize) -> Result<StepTimings, String> {
    let secret = format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    );
    let application_id = uuid::Uuid::new_v4().to_string();
    let document = WebhookSecret::new(&secret, API_KEY, Some(application_id.clone())).to_json();
    let store = InMemorySecretStore::new().with_secret(SECRET_ID, document);
    let config = EventConfig::from_settings(&[("VONAGE_WEBHOOK_SECRET_ID", SECRET_ID)])
        .map_err(|error| error.to_string())?;
    let handler = EventHandler::new(
        &config,
        Arc::new(store),
        Arc::new(MemoryReplayStore::default()),
        Arc::new(SystemClock),
    );
    if !handler.warm_up().await {
        return Err("the in-process event handler could not read its secret".into());
    }
    let signer = WebhookSigner::new(&secret, API_KEY, Some(application_id))
        .map_err(|error| error.to_string())?;
    let events = signed_events(&signer, count)?;

    let mut timings = StepTimings::default();
    let micros = |from: u64, to: u64| (to - from) as f64 / 1_000.0;
    for bytes in &events {
        let event: Value = serde_json::from_slice(bytes).map_err(|error| error.to_string())?;
        let started = monotonic_ns();
        let request: lambda_http::Request =
            serde_json::from_value::<lambda_http::request::LambdaRequest>(event)
                .map_err(|error| format!("lambda_http refused the event: {error}"))?
                .into();
        timings
            .lambda_http_request_building
            .push(micros(started, monotonic_ns()));
        drop(std::hint::black_box(request));

        let started = monotonic_ns();
        let event: Value = serde_json::from_slice(bytes).map_err(|error| error.to_string())?;
        let parsed = monotonic_ns();
        let request = http::request_from_event(event, http::RequestLimits::default())
            .map_err(|error| error.to_string())?;
        let built = monotonic_ns();
        let response = http::serve_event(&handler, request).await;
        let served = monotonic_ns();
        if response.status() != 200 {
            return Err(format!(
                "the in-process event handler answered {}",
                response.status()
            ));
        }
        timings.total.push(micros(started, served));
        timings.event_json.push(micros(started, parsed));
        timings.request_building.push(micros(parsed, built));
        timings.serve.push(micros(built, served));
    }
    Ok(timings)
}

/// Runs `count` invocations on a thread whose log lines go through the functions' JSON
/// subscriber, filtered by `filter`, into a sink counting them.
fn run_logged(filter: &str, count: usize) -> Result<(StepTimings, usize), String> {
    let lines = CountingSink::default();
    let writer = lines.clone();
    // The functions' subscriber (vonage_voice_lambda::observe::logging::init), writing to the sink.
    let subscriber =
        vonage_voice_lambda::observe::logging::json_subscriber(EnvFilter::new(filter), move || {
            writer.clone()
        });
    let timings = std::thread::spawn(move || {
        let _logging = subscriber.set_default();
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|error| error.to_string())?
            .block_on(run(count))
    })
    .join()
    .map_err(|_| "the in-process measurement panicked".to_owned())??;
    Ok((timings, lines.0.load(Ordering::Relaxed)))
}

pub fn measure(count: usize) -> Result<InProcessResults, String> {
    let (timings, log_lines) = run_logged("info", count)?;
    if log_lines < count {
        return Err(format!(
            "{count} events were handled but only {log_lines} log lines written"
        ));
    }
    let (unlogged, unlogged_lines) = run_logged("off", count)?;
    if unlogged_lines != 0 {
        return Err(format!(
            "logging was filtered off but {unlogged_lines} lines were written"
        ));
    }
    let summary = |values: &[f64]| Summary::of(values).ok_or("no in-process invocations");
    Ok(InProcessResults {
        handler_us: summary(&timings.total)?,
        breakdown: Breakdown {
            event_json_us: summary(&timings.event_json)?,
            request_building_us: summary(&timings.request_building)?,
            lambda_http_request_building_us: summary(&timings.lambda_http_request_building)?,
            serve_us: summary(&timings.serve)?,
            serve_without_logging_us: summary(&unlogged.serve)?,
        },
        log_lines,
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_harness_events_are_accepted_by_the_event_handler() {
        // Under the functions' subscriber, as the measurement runs: a thread with none would let
        // tracing cache "never" for the handler's log lines while another test counts them.
        let (timings, lines) =
            super::run_logged("info", 3).expect("three signed events answered 200");
        assert!(lines >= 3, "a log line per event at least: {lines}");
        assert_eq!(timings.total.len(), 3);
        assert!(timings.total.iter().all(|micros| *micros > 0.0));
        for (step, total) in timings.serve.iter().zip(&timings.total) {
            assert!(step <= total, "a step took longer than the invocation");
        }
    }
}
