//! Checks on the raw API Gateway event, made before `lambda_http` parses it, and the request
//! parts `lambda_http` would lose, read from it.

use base64::Engine as _;
use lambda_http::http::header;
use lambda_http::request::LambdaRequest;
use serde_json::Value;

use super::*;

/// The body's size as sent, before anything decodes or parses it.
pub(super) fn check_body_size(event: &Value, limits: RequestLimits) -> Result<(), EventRefusal> {
    let Some(body) = event.get("body").and_then(Value::as_str) else {
        return Ok(());
    };
    let base64 = event.get("isBase64Encoded").and_then(Value::as_bool) == Some(true);
    let bytes = if base64 {
        body.len() / 4 * 3
    } else {
        body.len()
    };
    if bytes > limits.max_body_bytes {
        return Err(EventRefusal::BodyTooLarge {
            bytes,
            limit: limits.max_body_bytes,
        });
    }
    Ok(())
}

/// `query_map` (under `lambda_http`) indexes a parameter's first value without checking there is
/// one: an empty list as a parameter's values panics when the query string is rebuilt.
pub(super) fn check_query_maps(event: &Value) -> Result<(), EventRefusal> {
    for field in [
        "queryStringParameters",
        "multiValueQueryStringParameters",
        "pathParameters",
        "stageVariables",
    ] {
        if let Some(Value::Object(parameters)) = event.get(field)
            && parameters
                .values()
                .any(|values| values.as_array().is_some_and(Vec::is_empty))
        {
            return Err(EventRefusal::Malformed(
                "a parameter with an empty list of values",
            ));
        }
    }
    Ok(())
}

/// `lambda_http` builds the request's URI from the `Host` header (or the domain name), the
/// `X-Forwarded-Proto` header, the stage and path and, for payload 2.0, the raw query string, and
/// unwraps each step. This builds the same URI with the same crates and refuses the event when
/// any step would fail, so no caller-controlled header or query can take the process down.
/// `rest_api_query` is the payload-1.0 query as [`rest_api_query`] re-encodes it from the
/// parameter maps: the same form encoding as `lambda_http`'s, so the same length.
pub(super) fn check_request_builds(
    request: &LambdaRequest,
    rest_api_query: Option<&str>,
) -> Result<(), EventRefusal> {
    let (headers, domain_name, stage, path, raw_query) = match request {
        LambdaRequest::ApiGatewayV1(event) => (
            &event.headers,
            event.request_context.domain_name.as_deref(),
            &event.request_context.stage,
            event.path.as_deref().unwrap_or_default(),
            rest_api_query,
        ),
        LambdaRequest::ApiGatewayV2(event) => (
            &event.headers,
            event.request_context.domain_name.as_deref(),
            &event.request_context.stage,
            event.raw_path.as_deref().unwrap_or_default(),
            event.raw_query_string.as_deref(),
        ),
        _ => return Err(EventRefusal::Malformed("not an API Gateway proxy event")),
    };
    let host = headers
        .get(header::HOST)
        .and_then(|value| value.to_str().ok())
        .or(domain_name);
    let path = path_with_stage(stage.as_deref(), path);
    let base = match host {
        None => {
            url::Url::parse(&format!("http://localhost{path}")).map(|url| url.path().to_owned())
        }
        Some(host) => {
            let scheme = headers
                .get("x-forwarded-proto")
                .and_then(|value| value.to_str().ok())
                .unwrap_or("https");
            url::Url::parse(&format!("{scheme}://{host}{path}")).map(|url| url.to_string())
        }
    };
    let mut uri =
        base.map_err(|_| EventRefusal::Malformed("the host, scheme or path is not a URL"))?;
    if let Some(query) = raw_query.filter(|query| !query.is_empty()) {
        uri.push('?');
        uri.push_str(query);
    }
    lambda_http::http::Uri::try_from(uri)
        .map(drop)
        .map_err(|_| EventRefusal::Malformed("the request URI does not parse"))
}

/// The path `lambda_http` puts in the URI: the stage is prefixed unless it is `$default`, already
/// there, or `AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH` is set.
pub(super) fn path_with_stage(stage: Option<&str>, path: &str) -> String {
    if std::env::var_os(crate::settings::AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH).is_some() {
        return path.to_owned();
    }
    match stage {
        None | Some("$default") => path.to_owned(),
        Some(stage) if path.starts_with(&format!("/{stage}/")) => path.to_owned(),
        Some(stage) => format!("/{stage}{path}"),
    }
}

pub(super) fn original_parts(event: &Value) -> OriginalRequestParts {
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
            deadline: None,
        };
    }
    OriginalRequestParts {
        query: rest_api_query(event),
        authorization: Some(rest_api_authorization(event)),
        deadline: None,
    }
}

/// The REST API groups repeated parameters under their first name, in the order the JSON object
/// lists them. Vonage's GET hash keeps each name at its first position with its last value, so
/// re-joining the groups in order reproduces exactly what was hashed.
pub(super) fn rest_api_query(event: &Value) -> Option<String> {
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

pub(super) fn rest_api_authorization(event: &Value) -> Vec<Vec<u8>> {
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
pub(super) fn drop_undecodable_body(event: &mut Value) {
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
