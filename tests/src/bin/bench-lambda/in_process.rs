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
use vonage_voice_lambda::http;
use vonage_voice_lambda::secrets::{InMemorySecretStore, WebhookSecret};
use vonage_voice_lambda::sign::WebhookSigner;
use vonage_voice_lambda::webhook::{EventConfig, EventHandler, SystemClock};

use crate::stack::signed_answered_event;
use crate::stats::{Summary, monotonic_ns};

const SECRET_ID: &str = "bench/webhook";
const API_KEY: &str = "a1b2c3d";

#[derive(Debug, Serialize)]
pub struct InProcessResults {
    /// Microseconds per invocation: event bytes in, HTTP response out.
    pub handler_us: Summary,
    pub log_lines: usize,
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

async fn run(count: usize) -> Result<Vec<f64>, String> {
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
    let handler = EventHandler::new(&config, Arc::new(store), Arc::new(SystemClock));
    if !handler.warm_up().await {
        return Err("the in-process event handler could not read its secret".into());
    }
    let signer = WebhookSigner::new(&secret, API_KEY, Some(application_id))
        .map_err(|error| error.to_string())?;
    let events = signed_events(&signer, count)?;

    let mut timings = Vec::with_capacity(count);
    for bytes in &events {
        let started = monotonic_ns();
        let event: Value = serde_json::from_slice(bytes).map_err(|error| error.to_string())?;
        let request = http::request_from_event(event, http::RequestLimits::default())
            .map_err(|error| error.to_string())?;
        let response = http::serve_event(&handler, request).await;
        let elapsed = monotonic_ns() - started;
        if response.status() != 200 {
            return Err(format!(
                "the in-process event handler answered {}",
                response.status()
            ));
        }
        timings.push(elapsed as f64 / 1_000.0);
    }
    Ok(timings)
}

pub fn measure(count: usize) -> Result<InProcessResults, String> {
    let lines = CountingSink::default();
    let writer = lines.clone();
    // The functions' subscriber (vonage_voice_lambda::logging::init), writing to the sink.
    let subscriber =
        vonage_voice_lambda::logging::json_subscriber(EnvFilter::new("info"), move || {
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
    let log_lines = lines.0.load(Ordering::Relaxed);
    if log_lines < count {
        return Err(format!(
            "{count} events were handled but only {log_lines} log lines written"
        ));
    }
    Ok(InProcessResults {
        handler_us: Summary::of(&timings).ok_or("no in-process invocations")?,
        log_lines,
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_harness_events_are_accepted_by_the_event_handler() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        let timings = runtime
            .block_on(super::run(3))
            .expect("three signed events answered 200");
        assert_eq!(timings.len(), 3);
        assert!(timings.iter().all(|micros| *micros > 0.0));
    }
}
