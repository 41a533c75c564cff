//! What metrics and correlated logs cost, side by side in one run: the event handler in process
//! (as `in_process` times it) served plain, with no metrics recorder and no invocation span, then
//! the same handler over as many fresh events with the EMF recorder installed
//! (`vonage_voice_lambda::observe::metrics::init`, timed: the cold-start cost), each invocation inside its
//! correlation span, its metric lines carrying the ids and flushed (as `logging::observed` does,
//! into the same counting sink as the log lines rather than stdout).
//!
//! The recorder is process-wide and cannot be taken out again, so the plain run goes first.

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde::Serialize;
use serde_json::Value;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::util::SubscriberInitExt;
use vonage_voice_lambda::clock::SystemClock;
use vonage_voice_lambda::observe::logging::{Correlation, observed_then};
use vonage_voice_lambda::observe::remote::{Service, remote_call};
use vonage_voice_lambda::secrets::{InMemorySecretStore, WebhookSecret};
use vonage_voice_lambda::settings::webhook::EventConfig;
use vonage_voice_lambda::state::MemoryReplayStore;
use vonage_voice_lambda::vonage::sign::WebhookSigner;
use vonage_voice_lambda::webhook::EventHandler;
use vonage_voice_lambda::{http, observe::metrics};

use crate::stack::signed_answered_event;
use crate::stats::{Summary, monotonic_ns};

/// At most this much cold start for the recorder's installation.
pub const COLD_START_TARGET_US: f64 = 1_000.0;
/// At most this much per warm invocation for the span, the counters and the metric line.
pub const PER_INVOCATION_TARGET_US: f64 = 20.0;

#[derive(Debug, Serialize)]
pub struct ObservabilityCost {
    /// `metrics::init`: the recorder installed, the units described, the cold start counted.
    pub init_us: f64,
    /// The handler served plain: no recorder, no span (microseconds per invocation).
    pub plain_us: Summary,
    /// The handler served observed: span, counters, the EMF line flushed.
    pub observed_us: Summary,
    /// Lines written in the observed run (log lines and EMF lines).
    pub observed_lines: usize,
    /// EMF lines among them.
    pub metric_lines: usize,
    /// One `remote_call` span around a request that does nothing, inside an observed
    /// invocation at INFO: what each request to another service adds (microseconds).
    pub remote_call_span_us: Summary,
}

/// The most requests to other services one webhook makes: an event of one of our alerts is
/// checked (`PutItem`), its alert read (`GetItem`), the record written (`PutItem`) and the
/// change published (`PutEvents`).
pub const MOST_REMOTE_CALLS_PER_WEBHOOK: usize = 4;

impl ObservabilityCost {
    /// What one warm invocation pays: the difference of the medians, plus the spans of the most
    /// remote calls a webhook makes (the in-process handler makes none).
    pub fn per_invocation_us(&self) -> f64 {
        self.observed_us.median - self.plain_us.median
            + MOST_REMOTE_CALLS_PER_WEBHOOK as f64 * self.remote_call_span_us.median
    }
}

/// Times `count` batches of remote-call spans (each around a request that does nothing) inside
/// one observed invocation, per span.
async fn remote_call_spans(count: usize, sink: &mut LineCounter) -> Vec<f64> {
    const PER_BATCH: u32 = 100;
    let mut context = lambda_http::Context::default();
    context.request_id = uuid::Uuid::new_v4().to_string();
    let correlation = Correlation::of(&context, None);
    let batches = async {
        let mut per_span = Vec::with_capacity(count);
        for _ in 0..count {
            let started = monotonic_ns();
            for _ in 0..PER_BATCH {
                remote_call(Service::DynamoDb, "PutItem", async {}).await;
            }
            per_span.push((monotonic_ns() - started) as f64 / 1_000.0 / f64::from(PER_BATCH));
        }
        per_span
    };
    observed_then(correlation, batches, || metrics::flush_to(sink)).await
}

/// Counts lines, and EMF lines, and drops the bytes.
#[derive(Clone, Default)]
struct LineCounter {
    lines: Arc<AtomicUsize>,
    metric_lines: Arc<AtomicUsize>,
}

impl Write for LineCounter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        for line in bytes
            .split(|byte| *byte == b'\n')
            .filter(|line| !line.is_empty())
        {
            self.lines.fetch_add(1, Ordering::Relaxed);
            if line.starts_with(b"{\"_aws\"") {
                self.metric_lines.fetch_add(1, Ordering::Relaxed);
            }
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

async fn handler_with_events(count: usize) -> Result<(EventHandler, Vec<Value>), String> {
    let secret = format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    );
    let application_id = uuid::Uuid::new_v4().to_string();
    let api_key = "b2c3d4e";
    let secret_id = "bench/observability";
    let document = WebhookSecret::new(&secret, api_key, Some(application_id.clone())).to_json();
    let config = EventConfig::from_settings(&[("VONAGE_WEBHOOK_SECRET_ID", secret_id)])
        .map_err(|error| error.to_string())?;
    let handler = EventHandler::new(
        &config,
        Arc::new(InMemorySecretStore::new().with_secret(secret_id, document)),
        Arc::new(MemoryReplayStore::default()),
        Arc::new(SystemClock),
    );
    if !handler.warm_up().await {
        return Err("the observed event handler could not read its secret".into());
    }
    let signer =
        WebhookSigner::new(&secret, api_key, Some(application_id)).map_err(|e| e.to_string())?;
    let events = (0..count * 2)
        .map(|_| {
            signed_answered_event(
                &signer,
                "447700900001",
                "447700900000",
                &uuid::Uuid::new_v4().to_string(),
                &uuid::Uuid::new_v4().to_string(),
            )
        })
        .collect::<Result<_, _>>()?;
    Ok((handler, events))
}

/// One invocation from the parsed event to the response; `observed` wraps it as `http::run`
/// does.
async fn serve(
    handler: &EventHandler,
    event: Value,
    observed: Option<&mut LineCounter>,
) -> Result<f64, String> {
    let started = monotonic_ns();
    let status = match observed {
        None => {
            let request = http::request_from_event(event, http::RequestLimits::default())
                .map_err(|error| error.to_string())?;
            http::serve_event(handler, request).await.status()
        }
        Some(sink) => {
            let mut context = lambda_http::Context::default();
            context.request_id = uuid::Uuid::new_v4().to_string();
            context.xray_trace_id =
                Some("Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1".into());
            let correlation = Correlation::of(&context, Some(&event));
            let invocation = async {
                let request = http::request_from_event(event, http::RequestLimits::default())
                    .map_err(|error| error.to_string())?;
                Ok::<_, String>(http::serve_event(handler, request).await.status())
            };
            observed_then(correlation, invocation, || metrics::flush_to(sink)).await?
        }
    };
    if status != 200 {
        return Err(format!("the event handler answered {status}"));
    }
    Ok((monotonic_ns() - started) as f64 / 1_000.0)
}

pub fn measure(count: usize) -> Result<ObservabilityCost, String> {
    let sink = LineCounter::default();
    let writer = sink.clone();
    let subscriber =
        vonage_voice_lambda::observe::logging::json_subscriber(EnvFilter::new("info"), move || {
            writer.clone()
        });
    let counted = sink.clone();
    std::thread::spawn(move || {
        let _logging = subscriber.set_default();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|error| error.to_string())?;
        runtime.block_on(async move {
            let (handler, mut events) = handler_with_events(count).await?;
            let observed_events = events.split_off(count);
            let mut plain = Vec::with_capacity(count);
            for event in events {
                plain.push(serve(&handler, event, None).await?);
            }
            let before = counted.lines.load(Ordering::Relaxed);
            let started = monotonic_ns();
            metrics::init(
                &[(vonage_voice_lambda::settings::METRICS_NAMESPACE, "Bench")],
                "event",
            );
            let init_us = (monotonic_ns() - started) as f64 / 1_000.0;
            let mut observed = Vec::with_capacity(count);
            let mut emf = counted.clone();
            for event in observed_events {
                observed.push(serve(&handler, event, Some(&mut emf)).await?);
            }
            let spans = remote_call_spans(count, &mut emf).await;
            let summary = |values: &[f64]| Summary::of(values).ok_or("no invocations");
            Ok(ObservabilityCost {
                init_us,
                plain_us: summary(&plain)?,
                observed_us: summary(&observed)?,
                observed_lines: counted.lines.load(Ordering::Relaxed) - before,
                metric_lines: counted.metric_lines.load(Ordering::Relaxed),
                remote_call_span_us: summary(&spans)?,
            })
        })
    })
    .join()
    .map_err(|_| "the observability measurement panicked".to_owned())?
    .and_then(|cost: ObservabilityCost| {
        if cost.metric_lines < count {
            return Err(format!(
                "{count} observed invocations wrote only {} metric lines",
                cost.metric_lines
            ));
        }
        Ok(cost)
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn both_runs_serve_every_event_and_the_observed_one_writes_metric_lines() {
        let cost = super::measure(5).expect("measured");
        assert_eq!(cost.plain_us.samples, 5);
        assert_eq!(cost.observed_us.samples, 5);
        assert!(cost.metric_lines >= 5, "{cost:?}");
        assert!(
            cost.observed_lines >= 10,
            "a log line and a metric line each: {cost:?}"
        );
        assert!(cost.init_us > 0.0);
        assert_eq!(cost.remote_call_span_us.samples, 5);
        assert!(cost.remote_call_span_us.median > 0.0, "{cost:?}");
    }
}
