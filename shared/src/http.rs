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

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;

use base64::Engine as _;
use lambda_http::http::{HeaderValue, StatusCode, header};
use lambda_http::request::{LambdaRequest, RequestContext};
use lambda_http::{Body, LambdaEvent, Request, RequestExt, Response, Service, service_fn};
use serde_json::Value;

use crate::verify::Rejection;
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
}

/// Starts the Lambda runtime with `handler` behind API Gateway (REST or HTTP API), like
/// `lambda_http::run`, but keeping the request parts `lambda_http` drops (see the module docs).
pub async fn run<H, F>(handler: H) -> Result<(), lambda_http::Error>
where
    H: Fn(Request) -> F + Send + Sync + 'static,
    F: Future<Output = Response<Body>> + Send + 'static,
{
    let handler = Arc::new(handler);
    lambda_http::lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let handler = Arc::clone(&handler);
        async move {
            let (payload, context) = event.into_parts();
            let (lambda_request, original) = lambda_request_from_event(payload)?;
            // lambda_http's own adapter builds the request (and later the response in the shape
            // the event's origin expects); the closure only adds what it would lose.
            let mut adapter =
                lambda_http::Adapter::from(service_fn(move |mut request: Request| {
                    request.extensions_mut().insert(original.clone());
                    let handler = Arc::clone(&handler);
                    async move { Ok::<_, Infallible>(handler(request).await) }
                }));
            match adapter
                .call(LambdaEvent::new(lambda_request, context))
                .await
            {
                Ok(response) => Ok::<_, lambda_http::Error>(response),
                Err(never) => match never {},
            }
        }
    }))
    .await
}

/// An API Gateway event (payload 1.0 or 2.0) as the request handlers receive it under [`run`].
/// Tests build requests from event JSON with this.
pub fn request_from_event(event: Value) -> Result<Request, lambda_http::Error> {
    let (lambda_request, original) = lambda_request_from_event(event)?;
    let mut request: Request = lambda_request.into();
    request.extensions_mut().insert(original);
    Ok(request)
}

fn lambda_request_from_event(
    mut event: Value,
) -> Result<(LambdaRequest, OriginalRequestParts), lambda_http::Error> {
    let original = original_parts(&event);
    drop_undecodable_body(&mut event);
    let lambda_request = serde_json::from_value::<LambdaRequest>(event)?;
    Ok((lambda_request, original))
}

fn original_parts(event: &Value) -> OriginalRequestParts {
    // Only payload 2.0 carries `rawPath`. `httpMethod` is no test: some producers of 2.0 events
    // (cargo-lambda's emulator among them) add it too.
    let is_http_api_v2 = event.get("rawPath").is_some();
    if is_http_api_v2 {
        return OriginalRequestParts {
            query: event
                .get("rawQueryString")
                .and_then(Value::as_str)
                .map(str::to_owned),
            authorization: None,
        };
    }
    OriginalRequestParts {
        query: rest_api_query(event),
        authorization: Some(rest_api_authorization(event)),
    }
}

/// The REST API groups repeated parameters under their first name, in the order the JSON object
/// lists them. Vonage's GET hash keeps each name at its first position with its last value, so
/// re-joining the groups in order reproduces exactly what was hashed.
fn rest_api_query(event: &Value) -> Option<String> {
    let mut query = form_urlencoded::Serializer::new(String::new());
    let mut any = false;
    let mut append = |name: &str, value: &Value| {
        if let Some(value) = value.as_str() {
            query.append_pair(name, value);
            any = true;
        }
    };
    if let Some(Value::Object(multi)) = event.get("multiValueQueryStringParameters") {
        for (name, values) in multi {
            for value in values.as_array().into_iter().flatten() {
                append(name, value);
            }
        }
    } else if let Some(Value::Object(single)) = event.get("queryStringParameters") {
        for (name, value) in single {
            append(name, value);
        }
    }
    any.then(|| query.finish())
}

fn rest_api_authorization(event: &Value) -> Vec<Vec<u8>> {
    let values_named_authorization = |headers: Option<&Value>| -> Vec<Vec<u8>> {
        let Some(Value::Object(headers)) = headers else {
            return Vec::new();
        };
        headers
            .iter()
            .filter(|(name, _)| name.eq_ignore_ascii_case(header::AUTHORIZATION.as_str()))
            .flat_map(|(_, value)| match value {
                Value::Array(values) => values.iter().filter_map(Value::as_str).collect(),
                Value::String(value) => vec![value.as_str()],
                _ => Vec::new(),
            })
            .map(|value| value.as_bytes().to_vec())
            .collect()
    };
    let multi = values_named_authorization(event.get("multiValueHeaders"));
    if multi.is_empty() {
        values_named_authorization(event.get("headers"))
    } else {
        multi
    }
}

/// `lambda_http` panics on a body flagged base64 that does not decode. API Gateway never sends
/// one, but a malformed event should cost a refusal, not the process: the body is emptied, so a
/// signed request fails its body hash.
fn drop_undecodable_body(event: &mut Value) {
    let flagged = event.get("isBase64Encoded").and_then(Value::as_bool) == Some(true);
    let decodes = |body: &str| {
        base64::engine::general_purpose::STANDARD
            .decode(body)
            .is_ok()
    };
    if flagged
        && event
            .get("body")
            .and_then(Value::as_str)
            .is_some_and(|b| !decodes(b))
    {
        tracing::warn!("the event's base64 body does not decode; treating it as empty");
        event["body"] = Value::String(String::new());
        event["isBase64Encoded"] = Value::Bool(false);
    }
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
        Outcome::Accepted { .. } => StatusCode::OK,
        Outcome::Replayed => StatusCode::CONFLICT,
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
        Outcome::Accepted { ncco: Some(ncco) } => json_response(ncco.to_string()),
        Outcome::Accepted { ncco: None } => Response::new(Body::Empty),
        Outcome::Replayed => json_response(r#"{"error":"already processed"}"#.into()),
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
