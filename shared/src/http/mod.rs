//! The one place that knows `lambda_http`: API Gateway events in, [`IncomingWebhook`]s to the
//! handlers, [`Outcome`]s back out as HTTP responses.
//!
//! `lambda_http` turns an API Gateway event into an `http::Request`, and for the REST API
//! (payload 1.0) that loses two things verification depends on: the order of the query
//! parameters (it keeps them in a hash map, but Vonage hashes a GET webhook's parameters in order)
//! and repeated `Authorization` headers (it merges `headers` over `multiValueHeaders`). [`run`]
//! therefore reads both from the event JSON before handing it to `lambda_http`, and attaches them
//! to the request as [`OriginalRequestParts`]. For the HTTP API (payload 2.0) the raw query string
//! is in the event and `lambda_http` keeps it.
//!
//! Base64 bodies (`isBase64Encoded: true`) are decoded by `lambda_http` into `Body::Binary`
//! before any handler sees them, so hashes are taken over the bytes Vonage sent.

use crate::settings::DEFAULT_MAX_BODY_BYTES;
use std::convert::Infallible;
use std::future::Future;
use std::sync::{Arc, LazyLock};
use std::time::{Duration, Instant};

use lambda_http::aws_lambda_events::apigw::{ApiGatewayProxyRequest, ApiGatewayV2httpRequest};
use lambda_http::http::{HeaderValue, StatusCode, header};
use lambda_http::request::{LambdaRequest, RequestContext};
use lambda_http::{Body, LambdaEvent, Request, RequestExt, Response, Service, service_fn};
use serde::Deserialize as _;
use serde_json::Value;

mod raw_event;

use raw_event::*;

use crate::clock::{Clock, SystemClock};
use crate::deadline::Budget;
use crate::vonage::verify::Rejection;
use crate::webhook::{AnswerHandler, EventHandler, IncomingWebhook, Outcome};

/// The request and response types of [`run`]'s handlers, so callers need no `lambda_http` of
/// their own.
pub use lambda_http::{Body as HttpBody, Request as HttpRequest, Response as HttpResponse};

/// Seconds Vonage is asked to wait before retrying a 503. Vonage retries once regardless; the
/// header tells any other client the refusal is temporary.
pub const RETRY_AFTER_SECONDS: u32 = 5;

/// Request parts read from the raw API Gateway event, where `lambda_http` would lose them.
/// `None` fields mean "take it from the `http::Request`".
#[derive(Clone, Default, PartialEq, Eq)]
pub struct OriginalRequestParts {
    /// The query string in the order the client sent it.
    pub query: Option<String>,
    /// Every `Authorization` value the client sent.
    pub authorization: Option<Vec<Vec<u8>>>,
    /// When Lambda stops this invocation (from the runtime's `Lambda-Runtime-Deadline-Ms`).
    pub deadline: Option<Instant>,
}

/// What the raw event must satisfy before `lambda_http` or any parser sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RequestLimits {
    /// The largest body accepted, in bytes after base64 decoding (`WEBHOOK_MAX_BODY_BYTES`).
    pub max_body_bytes: usize,
}

impl Default for RequestLimits {
    fn default() -> Self {
        Self {
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
        }
    }
}

/// Why an event was answered without reaching a handler.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EventRefusal {
    /// Refused before anything parsed it, so a huge body costs no memory beyond the event.
    #[error("the body is about {bytes} bytes, over the {limit}-byte limit")]
    /// The body is larger than the limit.
    BodyTooLarge {
        /// The body's size.
        bytes: usize,
        /// The largest size accepted.
        limit: usize,
    },
    /// Not an API Gateway request `lambda_http` can take: either it does not deserialize, or
    /// building the `http::Request` from it would panic inside `lambda_http` (which, with
    /// `panic = "abort"`, would end the process).
    #[error("the event is not a usable API Gateway request: {0}")]
    Malformed(&'static str),
}

impl EventRefusal {
    /// A stable name for logs and metrics.
    pub fn reason(&self) -> &'static str {
        match self {
            EventRefusal::BodyTooLarge { .. } => "body_too_large",
            EventRefusal::Malformed(_) => "malformed_event",
        }
    }

    /// The HTTP status the refusal is answered with.
    pub fn status(&self) -> StatusCode {
        match self {
            EventRefusal::BodyTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            EventRefusal::Malformed(_) => StatusCode::BAD_REQUEST,
        }
    }
}

/// Starts the Lambda runtime with `handler` behind API Gateway (REST or HTTP API), like
/// `lambda_http::run`, but checking the raw event first and keeping the request parts
/// `lambda_http` drops (see the module docs).
pub async fn run<H, F>(limits: RequestLimits, handler: H) -> Result<(), lambda_http::Error>
where
    H: Fn(Request) -> F + Send + Sync + 'static,
    F: Future<Output = Response<Body>> + Send + 'static,
{
    let handler = Arc::new(handler);
    lambda_http::lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let handler = Arc::clone(&handler);
        async move {
            let (payload, context) = event.into_parts();
            let correlation = crate::observe::logging::Correlation::of(&context, Some(&payload));
            let reply = crate::observe::logging::observed(
                correlation,
                respond(limits, payload, context, handler),
            )
            .await;
            Ok::<_, lambda_http::Error>(reply)
        }
    }))
    .await
}

/// One invocation, from the raw API Gateway event to the JSON API Gateway expects back. What
/// [`run`] does per event; the fuzz target and tests drive it directly.
pub async fn respond<H, F>(
    limits: RequestLimits,
    event: Value,
    context: lambda_http::Context,
    handler: Arc<H>,
) -> Value
where
    H: Fn(Request) -> F + Send + Sync + 'static,
    F: Future<Output = Response<Body>> + Send + 'static,
{
    let (lambda_request, mut original) = match lambda_request_from_event(event, limits) {
        Ok(parts) => parts,
        Err(refusal) => {
            crate::observe::metrics::rejected(refusal.reason());
            tracing::warn!(
                outcome = "rejected",
                verified = false,
                reason = refusal.reason(),
                problem = %refusal,
                "webhook refused before parsing"
            );
            return refusal_response(&refusal);
        }
    };
    original.deadline = deadline_instant(context.deadline);
    // lambda_http's own adapter builds the request (and the response in the shape the event's
    // origin expects); the closure only adds what it would lose.
    let mut adapter = lambda_http::Adapter::from(service_fn(move |mut request: Request| {
        request.extensions_mut().insert(original.clone());
        let handler = Arc::clone(&handler);
        async move { Ok::<_, Infallible>(handler(request).await) }
    }));
    let response = match adapter
        .call(LambdaEvent::new(lambda_request, context))
        .await
    {
        Ok(response) => response,
        Err(never) => match never {},
    };
    serde_json::to_value(response).unwrap_or_else(|error| {
        tracing::error!(error = %error, "the response could not be serialised");
        serde_json::json!({"statusCode": 500})
    })
}

/// The response to an event refused before it reached a handler. One shape serves both
/// payload versions: API Gateway reads `statusCode`, `headers` and `body` from either.
fn refusal_response(refusal: &EventRefusal) -> Value {
    let body = match refusal {
        EventRefusal::BodyTooLarge { .. } => r#"{"error":"payload too large"}"#,
        EventRefusal::Malformed(_) => r#"{"error":"bad request"}"#,
    };
    serde_json::json!({
        "statusCode": refusal.status().as_u16(),
        "headers": {"content-type": "application/json", "cache-control": "no-store"},
        "body": body,
        "isBase64Encoded": false,
    })
}

/// Lambda's deadline (Unix milliseconds) as an `Instant`; `None` when the runtime gave none.
/// [`Budget`] reads it, so a meaningless one (`cargo lambda watch` sends 1970) counts as none.
fn deadline_instant(deadline_unix_ms: u64) -> Option<Instant> {
    if deadline_unix_ms == 0 {
        return None;
    }
    // One clock for every invocation, rather than an allocation per request.
    static CLOCK: LazyLock<Arc<dyn Clock>> = LazyLock::new(|| Arc::new(SystemClock));
    Some(Budget::until(deadline_unix_ms, Duration::ZERO, Arc::clone(&CLOCK)).ends_at())
}

#[cfg(any(test, feature = "test-util"))]
/// An API Gateway event (payload 1.0 or 2.0) as the request handlers receive it under [`run`].
/// Tests build requests from event JSON with this.
pub fn request_from_event(event: Value, limits: RequestLimits) -> Result<Request, EventRefusal> {
    let (lambda_request, original) = lambda_request_from_event(event, limits)?;
    let mut request: Request = lambda_request.into();
    request.extensions_mut().insert(original);
    Ok(request)
}

fn lambda_request_from_event(
    mut event: Value,
    limits: RequestLimits,
) -> Result<(LambdaRequest, OriginalRequestParts), EventRefusal> {
    check_body_size(&event, limits)?;
    check_query_maps(&event)?;
    let original = original_parts(&event);
    drop_undecodable_body(&mut event);
    let lambda_request = lambda_request_from_value(event)
        .ok_or(EventRefusal::Malformed("not an API Gateway proxy event"))?;
    check_request_builds(&lambda_request, original.query.as_deref())?;
    Ok((lambda_request, original))
}

/// The variant `LambdaRequest`'s own deserialiser would pick, read straight from the parsed
/// event. That deserialiser writes the event back out as text and parses it again for each
/// variant it tries, payload 1.0 first: measured, the larger part of a warm invocation's time.
/// Payload 1.0 cannot match without `httpMethod` (it has no default), so only an event carrying
/// one is tried as 1.0 first; every other is read as 2.0 alone, as it would have ended up.
fn lambda_request_from_value(event: Value) -> Option<LambdaRequest> {
    if event.get("httpMethod").is_some()
        && let Ok(rest) = ApiGatewayProxyRequest::deserialize(&event)
    {
        return Some(LambdaRequest::ApiGatewayV1(rest));
    }
    ApiGatewayV2httpRequest::deserialize(event)
        .ok()
        .map(LambdaRequest::ApiGatewayV2)
}

/// The handler's view of a request.
pub fn incoming_webhook(request: &Request) -> IncomingWebhook {
    let original = request.extensions().get::<OriginalRequestParts>();
    let authorization = original
        .and_then(|parts| parts.authorization.clone())
        .unwrap_or_else(|| {
            request
                .headers()
                .get_all(header::AUTHORIZATION)
                .iter()
                .map(|value| value.as_bytes().to_vec())
                .collect()
        });
    let query = match original {
        Some(OriginalRequestParts {
            query: Some(query), ..
        }) => Some(query.clone()),
        _ => request.uri().query().map(str::to_owned),
    }
    .filter(|query| !query.is_empty());
    IncomingWebhook {
        authorization,
        method: request.method().as_str().to_owned(),
        query,
        body: request.body().as_ref().to_vec(),
        lambda_deadline: original.and_then(|parts| parts.deadline),
    }
}

/// Our event endpoint as seen from this request: `https://<domain>[/<stage>]/event`. The domain is
/// API Gateway's `requestContext.domainName` (the `Host` header only when that is absent). The
/// stage is added for an `execute-api` domain with a named stage, where it is part of the URL;
/// not for `$default` or a custom domain, whose base path mapping the event does not show — set
/// `EVENT_URL` there.
pub fn event_url_from_request(request: &Request) -> Option<String> {
    let (domain, stage) = match request.request_context_ref()? {
        RequestContext::ApiGatewayV1(context) => (&context.domain_name, &context.stage),
        RequestContext::ApiGatewayV2(context) => (&context.domain_name, &context.stage),
        _ => return None,
    };
    let host = domain
        .as_deref()
        .or_else(|| {
            request
                .headers()
                .get(header::HOST)
                .and_then(|value| value.to_str().ok())
        })
        .filter(|host| is_plain_host(host))?;
    let stage_path = match stage.as_deref() {
        Some(stage)
            if stage != "$default" && is_execute_api_host(host) && is_path_segment(stage) =>
        {
            format!("/{stage}")
        }
        _ => String::new(),
    };
    Some(format!("https://{host}{stage_path}/event"))
}

fn is_plain_host(host: &str) -> bool {
    !host.is_empty()
        && host.len() <= 253
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-.:".contains(&b))
}

fn is_execute_api_host(host: &str) -> bool {
    host.contains(".execute-api.") && host.ends_with(".amazonaws.com")
}

fn is_path_segment(text: &str) -> bool {
    !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
}

/// The HTTP status for each outcome. Every status the webhooks answer with is decided here.
pub fn status_for(outcome: &Outcome) -> StatusCode {
    match outcome {
        // A duplicate gets what the first delivery got: an error would send Vonage to the
        // fallback URL, and the first one was answered 200.
        Outcome::Accepted { .. } | Outcome::Duplicate { .. } => StatusCode::OK,
        // Vonage retries on 5xx: an unsigned request is, per Vonage, a rare hiccup on its side,
        // and a missing secret is ours; either may succeed on the retry.
        Outcome::Rejected(Rejection::MissingToken) | Outcome::SecretUnavailable => {
            StatusCode::SERVICE_UNAVAILABLE
        }
        Outcome::Rejected(_) => StatusCode::UNAUTHORIZED,
    }
}

/// The response for an outcome. Refusals carry a fixed, generic body: the reason goes to the log
/// only.
pub fn response_for(outcome: &Outcome) -> Response<Body> {
    let status = status_for(outcome);
    let mut response = match outcome {
        Outcome::Accepted { ncco: Some(ncco) }
        | Outcome::Duplicate {
            ncco: Some(ncco), ..
        } => json_response(ncco.to_json().to_string()),
        Outcome::Accepted { ncco: None } | Outcome::Duplicate { ncco: None, .. } => {
            Response::new(Body::Empty)
        }
        Outcome::Rejected(Rejection::MissingToken) | Outcome::SecretUnavailable => {
            let mut response = json_response(r#"{"error":"temporarily unavailable"}"#.into());
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECONDS));
            response
        }
        Outcome::Rejected(_) => {
            let mut response = json_response(r#"{"error":"unauthorized"}"#.into());
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            response
        }
    };
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn json_response(body: String) -> Response<Body> {
    let mut response = Response::new(Body::Text(body));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// The event function's request handler.
pub async fn serve_event(handler: &EventHandler, request: Request) -> Response<Body> {
    let incoming = incoming_webhook(&request);
    response_for(&handler.handle(&incoming).await)
}

/// The answer function's request handler.
pub async fn serve_answer(handler: &AnswerHandler, request: Request) -> Response<Body> {
    let incoming = incoming_webhook(&request);
    let event_url = event_url_from_request(&request);
    response_for(&handler.handle(&incoming, event_url.as_deref()).await)
}

#[cfg(test)]
mod tests;
