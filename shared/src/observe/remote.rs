//! A span around every call to another service (Secrets Manager, DynamoDB, EventBridge, the
//! Vonage APIs), named `remote_call` with the `service` and `operation`.
//!
//! What it gives:
//! - any line logged inside the call (the AWS SDK's and reqwest's own, at DEBUG) names the
//!   service and the operation, and still carries the invocation's correlation ids, which the
//!   span copies because the JSON format shows only a line's innermost span;
//! - at DEBUG, one `remote call` line per call with its `elapsed_ms`, so an operator sees where
//!   a slow invocation spent its time without a tracing backend;
//! - a subscriber layer added later (OpenTelemetry to X-Ray, for one) gets one span per call.
//!
//! The span is enabled at INFO, so that layer sees it whatever the log level; creating it costs
//! about a microsecond, measured by `make bench` (the observability rows).

use std::time::Instant;

use tracing::Instrument as _;

use crate::observe::logging::with_invocation_ids;

/// The services the functions call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Service {
    /// AWS Secrets Manager: the webhook secret and the application's credentials.
    SecretsManager,
    /// Amazon DynamoDB: the state table.
    DynamoDb,
    /// Amazon EventBridge: alert changes.
    EventBridge,
    /// Vonage's Voice API: creating a call.
    VonageVoice,
    /// Vonage's Applications API: reading and updating the application.
    VonageApplications,
}

impl Service {
    /// The `service` field of the span and of the `remote call` line.
    pub const fn name(self) -> &'static str {
        match self {
            Self::SecretsManager => "secretsmanager",
            Self::DynamoDb => "dynamodb",
            Self::EventBridge => "eventbridge",
            Self::VonageVoice => "vonage-voice",
            Self::VonageApplications => "vonage-applications",
        }
    }
}

/// The message of the DEBUG line each call ends with.
pub const REMOTE_CALL_MESSAGE: &str = "remote call";

/// The span's name.
pub const REMOTE_CALL_SPAN: &str = "remote_call";

/// Runs `call` (one request to `service`, e.g. `operation` `"PutItem"`) inside its span, then
/// logs at DEBUG how long it took.
pub async fn remote_call<F: Future>(
    service: Service,
    operation: &'static str,
    call: F,
) -> F::Output {
    let started = Instant::now();
    let output = call.instrument(span(service, operation)).await;
    tracing::debug!(
        service = service.name(),
        operation,
        elapsed_ms = started.elapsed().as_secs_f64() * 1000.0,
        "{REMOTE_CALL_MESSAGE}"
    );
    output
}

fn span(service: Service, operation: &'static str) -> tracing::Span {
    with_invocation_ids(|ids| {
        tracing::info_span!(
            "remote_call",
            service = service.name(),
            operation,
            lambda_request_id = ids.correlation.lambda_request_id.as_str(),
            apigw_request_id = ids.correlation.apigw_request_id.as_deref().unwrap_or(""),
            trace_id = ids.correlation.trace_id.as_deref().unwrap_or(""),
            call_uuid = ids.call_uuid.as_deref(),
        )
    })
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use serde_json::Value;
    use tracing_subscriber::EnvFilter;

    use super::*;
    use crate::observe::logging::{Correlation, json_subscriber, observed, record_call_uuid};

    /// Collects what the functions' subscriber writes.
    #[derive(Clone, Default)]
    struct Lines(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Lines {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0
                .lock()
                .map_err(|_| std::io::ErrorKind::Other)?
                .extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Lines {
        fn parsed(&self) -> Vec<Value> {
            let bytes = self.0.lock().expect("not poisoned").clone();
            String::from_utf8(bytes)
                .expect("UTF-8")
                .lines()
                .map(|line| serde_json::from_str(line).expect("a JSON line"))
                .collect()
        }
    }

    fn run_logged(level: &str, work: impl Future<Output = ()>) -> Vec<Value> {
        let lines = Lines::default();
        let writer = lines.clone();
        let subscriber = json_subscriber(EnvFilter::new(level), move || writer.clone());
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a runtime");
        tracing::subscriber::with_default(subscriber, || runtime.block_on(work));
        lines.parsed()
    }

    fn correlation() -> Correlation {
        Correlation {
            lambda_request_id: "lambda-1".into(),
            apigw_request_id: Some("apigw-1".into()),
            trace_id: Some("Root=1-abc".into()),
        }
    }

    #[test]
    fn a_line_inside_a_remote_call_names_it_and_keeps_the_invocations_ids() {
        let lines = run_logged(
            "debug",
            observed(correlation(), async {
                record_call_uuid(Some("call-1"));
                remote_call(Service::DynamoDb, "PutItem", async {
                    tracing::warn!("inside");
                })
                .await;
            }),
        );
        let inside = lines
            .iter()
            .find(|line| line["message"] == "inside")
            .expect("the line inside");
        let span = &inside["span"];
        assert_eq!(span["name"], REMOTE_CALL_SPAN, "{inside}");
        assert_eq!(span["service"], "dynamodb");
        assert_eq!(span["operation"], "PutItem");
        assert_eq!(span["lambda_request_id"], "lambda-1");
        assert_eq!(span["apigw_request_id"], "apigw-1");
        assert_eq!(span["trace_id"], "Root=1-abc");
        assert_eq!(span["call_uuid"], "call-1");

        let timed = lines
            .iter()
            .find(|line| line["message"] == REMOTE_CALL_MESSAGE)
            .expect("the remote call line");
        assert_eq!(timed["level"], "DEBUG");
        assert_eq!(timed["service"], "dynamodb");
        assert_eq!(timed["operation"], "PutItem");
        assert!(
            timed["elapsed_ms"].as_f64().is_some_and(|ms| ms >= 0.0),
            "{timed}"
        );
        assert_eq!(
            timed["span"]["name"], "invocation",
            "logged in the invocation: {timed}"
        );
        assert_eq!(timed["span"]["call_uuid"], "call-1");
    }

    #[test]
    fn at_info_a_remote_call_adds_no_line() {
        let lines = run_logged(
            "info",
            observed(correlation(), async {
                remote_call(Service::SecretsManager, "GetSecretValue", async {}).await;
                tracing::info!("after");
            }),
        );
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert_eq!(lines[0]["message"], "after");
        assert_eq!(lines[0]["span"]["name"], "invocation");
    }

    #[test]
    fn outside_an_invocation_the_span_has_no_ids() {
        let lines = run_logged(
            "debug",
            remote_call(Service::VonageVoice, "CreateCall", async {
                tracing::info!("cold start read");
            }),
        );
        let inside = lines
            .iter()
            .find(|line| line["message"] == "cold start read")
            .expect("the line");
        assert_eq!(inside["span"]["service"], "vonage-voice");
        assert_eq!(inside["span"]["lambda_request_id"], "");
        assert!(inside["span"].get("call_uuid").is_none(), "{inside}");
    }
}
