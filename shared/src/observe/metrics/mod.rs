//! CloudWatch metrics in Embedded Metric Format (EMF), through the `metrics` facade and the
//! `metrics_cloudwatch_embedded` recorder: the code counts where an outcome is decided
//! ([`count`], [`rejected`], …), and once per invocation [`flush`] writes one EMF JSON line per
//! dimension set to stdout, beside the JSON logs, where CloudWatch extracts the metrics.
//!
//! Each metric line also carries a `level` and a `timestamp`, so Lambda's log-level filter passes
//! it (see [`names::LEVEL_PROPERTY`]).
//!
//! Names, dimensions and the namespace setting live in [`names`]. Dimensions are low-cardinality
//! only: the function's name and, for refusals, a stable reason from a closed set.
//!
//! Without [`init`] (unit tests, the CLI) the facade has no recorder and every call is a no-op.

pub mod names;

use std::sync::OnceLock;
use std::time::Duration;

use metrics_cloudwatch_embedded::Collector;

use crate::settings::{
    AWS_LAMBDA_FUNCTION_NAME, AWS_LAMBDA_LOG_LEVEL, DEFAULT_METRICS_NAMESPACE, METRICS_NAMESPACE,
    Settings, optional,
};
use names::*;

static COLLECTOR: OnceLock<&'static Collector> = OnceLock::new();

/// Installs the EMF recorder once per process, with the namespace from [`METRICS_NAMESPACE`]
/// (default [`DEFAULT_METRICS_NAMESPACE`]) and `function_name` as the [`FUNCTION_DIMENSION`] of every
/// metric, and counts a [`COLD_START`]. A second call does nothing.
pub fn init(settings: &impl Settings, function_name: &str) {
    if COLLECTOR.get().is_some() {
        return;
    }
    let namespace = optional(settings, METRICS_NAMESPACE)
        .unwrap_or_else(|| DEFAULT_METRICS_NAMESPACE.to_owned());
    let installed = metrics_cloudwatch_embedded::Builder::new()
        .cloudwatch_namespace(namespace)
        .with_dimension(FUNCTION_DIMENSION, function_name.to_owned())
        .init();
    match installed {
        Ok(collector) => {
            let level = optional(settings, AWS_LAMBDA_LOG_LEVEL);
            collector.set_property(LEVEL_PROPERTY, metric_line_level(level.as_deref()));
            let _ = COLLECTOR.set(collector);
            for name in COUNTERS {
                metrics::describe_counter!(*name, metrics::Unit::Count, *name);
            }
            for name in MILLISECOND_HISTOGRAMS {
                metrics::describe_histogram!(*name, metrics::Unit::Milliseconds, *name);
            }
            count(COLD_START);
        }
        Err(error) => tracing::warn!(error = %error, "metrics are off: no recorder"),
    }
}

/// The function's name as Lambda sets it, or `fallback` outside Lambda.
pub fn function_name(settings: &impl Settings, fallback: &str) -> String {
    optional(settings, AWS_LAMBDA_FUNCTION_NAME).unwrap_or_else(|| fallback.to_owned())
}

/// Writes what was counted since the last flush as EMF lines to stdout, in one write so no log
/// line is interleaved. Called once per invocation, before its response is returned.
pub fn flush() {
    flush_to(&mut std::io::stdout().lock());
}

/// [`flush`] into `writer` (benchmarks write where the logs go).
pub fn flush_to(writer: &mut dyn std::io::Write) {
    let Some(collector) = COLLECTOR.get() else {
        return;
    };
    collector.set_property(TIMESTAMP_PROPERTY, rfc3339_now());
    let mut lines = Vec::new();
    if let Err(error) = collector.flush(&mut lines) {
        tracing::warn!(error = %error, "metrics could not be serialised");
        return;
    }
    if !lines.is_empty() {
        let _ = writer.write_all(&lines);
    }
}

/// Now in RFC 3339 (`2026-12-02T15:43:01.123456Z`), as the JSON log format writes it.
fn rfc3339_now() -> String {
    use tracing_subscriber::fmt::{format::Writer, time::FormatTime};
    let mut text = String::with_capacity(32);
    let _ = tracing_subscriber::fmt::time::SystemTime.format_time(&mut Writer::new(&mut text));
    text
}

/// The invocation's correlation ids ride on its metric lines as properties (not dimensions), so
/// a metric line joins its log lines too.
pub fn correlate(correlation: &crate::observe::logging::Correlation) {
    let Some(collector) = COLLECTOR.get() else {
        return;
    };
    collector
        .set_property("lambda_request_id", correlation.lambda_request_id.as_str())
        .set_property(
            "apigw_request_id",
            correlation.apigw_request_id.as_deref().unwrap_or(""),
        )
        .set_property("trace_id", correlation.trace_id.as_deref().unwrap_or(""))
        .remove_property("call_uuid");
}

/// The call's uuid (already capped) as a property of the invocation's metric lines.
pub fn correlate_call(call_uuid: String) {
    if let Some(collector) = COLLECTOR.get() {
        collector.set_property("call_uuid", call_uuid);
    }
}

/// Adds one to the counter `name` (one of [`COUNTERS`]).
pub fn count(name: &'static str) {
    metrics::counter!(name).increment(1);
}

/// Adds `value` to the counter `name`.
pub fn count_by(name: &'static str, value: u64) {
    metrics::counter!(name).increment(value);
}

/// A webhook refused for `reason`, a stable reason from a closed set.
pub fn rejected(reason: &'static str) {
    metrics::counter!(WEBHOOK_REJECTED, REASON_DIMENSION => reason).increment(1);
}

/// One Secrets Manager read that took `elapsed`.
pub fn secret_read(elapsed: Duration) {
    count(SECRET_READ);
    metrics::histogram!(SECRET_READ_LATENCY).record(elapsed.as_secs_f64() * 1000.0);
}

/// A webhook that did not verify: 503 for want of the secret ([`SECRET_UNAVAILABLE`]), or
/// refused ([`WEBHOOK_REJECTED`] by its stable reason). A signature that matched no version while
/// the early re-read is not due is answered 503 too, but it is a refused signature (a forgery, or
/// a rotation done in the wrong order), so it counts as rejected, not as the secret missing.
pub fn verification_failed(failure: &crate::webhook::VerificationFailure) {
    match failure {
        crate::webhook::VerificationFailure::SecretUnavailable(_) => count(SECRET_UNAVAILABLE),
        _ => rejected(failure.reason()),
    }
}

/// An alert call attempted: placed, outcome unknown (the call may ring), or failed.
pub fn alert_attempted(outcome: &Result<crate::alert::AlertSent, crate::alert::AlertError>) {
    use crate::alert::AlertError;
    use crate::voice::VoiceApiError;
    count(match outcome {
        Ok(_) => ALERT_PLACED,
        Err(AlertError::Voice(VoiceApiError::OutcomeUnknown { .. })) => ALERT_OUTCOME_UNKNOWN,
        Err(_) => ALERT_FAILED,
    });
}

/// An alert's confirmation changed: confirmed, or answered without the confirming digit.
pub fn alert_changed(change: &crate::outcome::StateChange) {
    use crate::outcome::Confirmation;
    if change.confirmation == change.previous_confirmation {
        return;
    }
    match change.confirmation {
        Confirmation::Confirmed => count(ALERT_CONFIRMED),
        Confirmation::NotConfirmed => count(ALERT_NOT_CONFIRMED),
        Confirmation::None => {}
    }
}
