//! Structured JSON logs, one object per line, in step with Lambda's `AWS_LAMBDA_LOG_FORMAT=JSON`.
//!
//! Nothing here decides what is logged; callers log fields they chose, and never a secret, a token
//! or a signature.

use tracing_subscriber::EnvFilter;

use crate::settings::{AWS_LAMBDA_LOG_LEVEL, RUST_LOG, X_AMZN_TRACE_ID};
use tracing_subscriber::fmt::MakeWriter;

/// Installs the JSON subscriber once, writing to stdout. The level comes from `RUST_LOG`, then
/// [`AWS_LAMBDA_LOG_LEVEL`], then `info`.
pub fn init() {
    let filter = std::env::var(RUST_LOG)
        .ok()
        .or_else(|| std::env::var(AWS_LAMBDA_LOG_LEVEL).ok())
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
        // The invocation's span (see [`Correlation`]) rides on every line as `span`.
        .with_current_span(true)
        .with_span_list(false)
        .flatten_event(true)
        .with_target(false)
        // Each line keeps its RFC 3339 `timestamp`: under Lambda's log-level filter a JSON line
        // without a valid one is filed as INFO whatever its `level`, so at WARN or ERROR the
        // function's own warnings and errors would be dropped.
        .with_writer(writer)
        .finish()
}

/// The identifiers that join one invocation's log lines to each other, to API Gateway's access
/// log and to its X-Ray trace. Every line logged inside [`Correlation::span`] carries them under
/// `span`, with the call's `call_uuid` once [`record_call_uuid`] has read it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Correlation {
    /// Lambda's request id (`Lambda-Runtime-Aws-Request-Id`).
    pub lambda_request_id: String,
    /// API Gateway's `requestContext.requestId`, which its access log's `$context.requestId`
    /// shows; capped, as the event is not ours.
    pub apigw_request_id: Option<String>,
    /// The X-Ray trace header (`Root=1-…;Parent=…;Sampled=…`) Lambda handed the invocation, or
    /// `_X_AMZN_TRACE_ID`.
    pub trace_id: Option<String>,
}

/// The name of the invocation span.
pub const INVOCATION_SPAN: &str = "invocation";

impl Correlation {
    /// The ids of an invocation from its Lambda context and, behind API Gateway, its raw event.
    pub fn of(context: &lambda_http::Context, event: Option<&serde_json::Value>) -> Self {
        let apigw_request_id = event
            .and_then(|event| event.get("requestContext"))
            .and_then(|request_context| request_context.get("requestId"))
            .and_then(serde_json::Value::as_str)
            .map(capped);
        let trace_id = context
            .xray_trace_id
            .clone()
            .or_else(|| std::env::var(X_AMZN_TRACE_ID).ok())
            .map(|trace| capped_to(&trace, TRACE_HEADER_MAX_CHARS));
        Self {
            lambda_request_id: capped(&context.request_id),
            apigw_request_id,
            trace_id,
        }
    }

    /// The span every line of the invocation is logged in.
    pub fn span(&self) -> tracing::Span {
        tracing::info_span!(
            "invocation",
            lambda_request_id = self.lambda_request_id.as_str(),
            apigw_request_id = self.apigw_request_id.as_deref().unwrap_or(""),
            trace_id = self.trace_id.as_deref().unwrap_or(""),
            call_uuid = tracing::field::Empty,
        )
    }
}

/// An X-Ray trace header is about 90 characters; more is not one.
const TRACE_HEADER_MAX_CHARS: usize = 128;

/// The ids of the running invocation, and its call uuid once read: a span opened inside the
/// invocation (a remote call's, see [`crate::observe::remote`]) copies them, because the log
/// format shows only the innermost span of a line.
#[derive(Debug, Default)]
pub(crate) struct InvocationIds {
    pub(crate) correlation: Correlation,
    pub(crate) call_uuid: Option<String>,
}

tokio::task_local! {
    static INVOCATION: std::cell::RefCell<InvocationIds>;
}

/// `read` given the running invocation's ids, borrowed (a remote call's span copies them per
/// request), or the empty ids outside [`observed`] (a cold start's secret read).
pub(crate) fn with_invocation_ids<R>(read: impl Fn(&InvocationIds) -> R) -> R {
    INVOCATION
        .try_with(|ids| read(&ids.borrow()))
        .unwrap_or_else(|_| read(&InvocationIds::default()))
}

/// Adds the call's uuid (capped: before verification it is the caller's claim) to the current
/// invocation span, so the lines after this one carry it.
pub fn record_call_uuid(call_uuid: Option<&str>) {
    if let Some(call_uuid) = call_uuid {
        let call_uuid = capped(call_uuid);
        tracing::Span::current().record("call_uuid", call_uuid.as_str());
        let _ = INVOCATION.try_with(|ids| ids.borrow_mut().call_uuid = Some(call_uuid.clone()));
        crate::observe::metrics::correlate_call(call_uuid);
    }
}

/// Runs one invocation inside its [`Correlation::span`], its metric lines carrying the same
/// ids, and then flushes its metrics (`crate::observe::metrics::flush`).
pub async fn observed<F: Future>(correlation: Correlation, invocation: F) -> F::Output {
    observed_then(correlation, invocation, crate::observe::metrics::flush).await
}

/// [`observed`] with `flush` in place of the flush to stdout (the benchmark counts the lines).
pub async fn observed_then<F: Future>(
    correlation: Correlation,
    invocation: F,
    flush: impl FnOnce(),
) -> F::Output {
    use tracing::Instrument as _;
    crate::observe::metrics::correlate(&correlation);
    let span = correlation.span();
    let ids = std::cell::RefCell::new(InvocationIds {
        correlation,
        call_uuid: None,
    });
    let output = INVOCATION.scope(ids, invocation.instrument(span)).await;
    flush();
    output
}

/// The most characters of a caller-controlled value (an unverified request's `uuid`, an unknown
/// input field's name, …) that a log line or a reply repeats.
pub const UNVERIFIED_FIELD_MAX_CHARS: usize = 64;

/// A caller-controlled value made safe to log or echo: at most [`UNVERIFIED_FIELD_MAX_CHARS`]
/// characters, control characters escaped (`\n`, `\u{1b}`), and, when cut, a `…(N chars)` suffix
/// giving the original length so a reader sees the value was longer.
pub fn capped(value: &str) -> String {
    capped_to(value, UNVERIFIED_FIELD_MAX_CHARS)
}

/// [`capped`] with an explicit limit.
pub fn capped_to(value: &str, max_chars: usize) -> String {
    let mut out = String::with_capacity(value.len().min(max_chars * 2));
    for (kept, character) in value.chars().enumerate() {
        if kept == max_chars {
            let total = value.chars().count();
            out.push_str(&format!("…({total} chars)"));
            return out;
        }
        if character.is_control() {
            out.extend(character.escape_default());
        } else {
            out.push(character);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_values_pass_unchanged() {
        assert_eq!(capped("aaaa-bbbb"), "aaaa-bbbb");
        assert_eq!(capped(""), "");
    }

    #[test]
    fn long_values_are_cut_and_say_how_long_they_were() {
        let long = "x".repeat(100_000);
        let cut = capped(&long);
        assert!(cut.starts_with(&"x".repeat(UNVERIFIED_FIELD_MAX_CHARS)));
        assert!(cut.ends_with("…(100000 chars)"), "{cut}");
        assert!(cut.len() < 100);
        assert_eq!(capped_to("abcdef", 3), "abc…(6 chars)");
        assert_eq!(capped_to("abc", 3), "abc");
    }

    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(capped("a\nb\u{1b}[31m"), "a\\nb\\u{1b}[31m");
        assert!(!capped("\r\n\t\0").chars().any(char::is_control));
    }
}
