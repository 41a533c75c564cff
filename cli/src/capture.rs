//! Captured webhook requests, as an operator has them: raw HTTP (from a proxy, `nc -l`, a test
//! tool) or the API Gateway event the function received (REST API v1 or HTTP API v2 payload).

use base64::Engine as _;
use serde_json::Value;

/// The parts of a received request that verification needs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CapturedRequest {
    pub method: String,
    /// The raw query string, without `?`.
    pub query: Option<String>,
    /// Every Authorization header value, in order.
    pub authorization: Vec<Vec<u8>>,
    /// The body exactly as received (after API Gateway's base64, when it applied one).
    pub body: Vec<u8>,
    /// When API Gateway received it (Unix seconds), when the capture says.
    pub received_at: Option<i64>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CaptureError {
    #[error("the capture is empty")]
    Empty,
    #[error("the first line is not an HTTP request line (\"POST /event HTTP/1.1\")")]
    NoRequestLine,
    #[error(
        "the JSON is not an API Gateway proxy event (no requestContext, httpMethod or version 2.0)"
    )]
    NotAnApiGatewayEvent,
    #[error("the API Gateway event has no HTTP method")]
    NoMethod,
    #[error("the API Gateway event says its body is base64 but it is not")]
    BadBase64,
    #[error("the API Gateway event's `{0}` has an unexpected shape")]
    BadField(&'static str),
}

/// Reads a capture in either form; JSON is taken for an API Gateway event.
pub fn parse_capture(bytes: &[u8]) -> Result<CapturedRequest, CaptureError> {
    let start = bytes
        .iter()
        .position(|byte| !byte.is_ascii_whitespace())
        .ok_or(CaptureError::Empty)?;
    if bytes[start] == b'{'
        && let Ok(Value::Object(event)) = serde_json::from_slice::<Value>(bytes)
    {
        return from_api_gateway(&Value::Object(event));
    }
    from_raw_http(&bytes[start..])
}

/// `METHOD target HTTP/x`, header lines, a blank line, the body. Line ends may be CRLF or LF.
/// A body longer than its Content-Length (an editor's final newline) is cut to it.
pub fn from_raw_http(bytes: &[u8]) -> Result<CapturedRequest, CaptureError> {
    let (head, body) = split_head(bytes);
    let head = String::from_utf8_lossy(head);
    let mut lines = head.split('\n').map(|line| line.trim_end_matches('\r'));
    let request_line = lines.next().ok_or(CaptureError::NoRequestLine)?;
    let mut parts = request_line.split_whitespace();
    let method = parts
        .next()
        .filter(|method| !method.is_empty() && method.bytes().all(|b| b.is_ascii_uppercase()))
        .ok_or(CaptureError::NoRequestLine)?;
    let target = parts.next().ok_or(CaptureError::NoRequestLine)?;
    if !parts
        .next()
        .is_some_and(|version| version.starts_with("HTTP/"))
    {
        return Err(CaptureError::NoRequestLine);
    }
    let mut captured = CapturedRequest {
        method: method.to_owned(),
        query: target.split_once('?').map(|(_, query)| query.to_owned()),
        body: body.to_vec(),
        ..CapturedRequest::default()
    };
    let mut content_length = None;
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let (name, value) = (name.trim(), value.trim());
        if name.eq_ignore_ascii_case("authorization") {
            captured.authorization.push(value.as_bytes().to_vec());
        } else if name.eq_ignore_ascii_case("content-length") {
            content_length = value.parse::<usize>().ok();
        }
    }
    if let Some(length) = content_length
        && captured.body.len() > length
    {
        captured.body.truncate(length);
    }
    Ok(captured)
}

fn split_head(bytes: &[u8]) -> (&[u8], &[u8]) {
    let find = |needle: &[u8]| {
        bytes
            .windows(needle.len())
            .position(|window| window == needle)
    };
    let crlf = find(b"\r\n\r\n").map(|at| (at, 4));
    let lf = find(b"\n\n").map(|at| (at, 2));
    match [crlf, lf].into_iter().flatten().min_by_key(|(at, _)| *at) {
        Some((at, separator)) => (&bytes[..at], &bytes[at + separator..]),
        None => (bytes, &[]),
    }
}

/// An API Gateway proxy event: HTTP API (payload 2.0) or REST API (1.0).
pub fn from_api_gateway(event: &Value) -> Result<CapturedRequest, CaptureError> {
    let is_v2 = event.get("version").and_then(Value::as_str) == Some("2.0");
    let is_v1 = event.get("httpMethod").is_some();
    if !is_v2 && !is_v1 && event.get("requestContext").is_none() {
        return Err(CaptureError::NotAnApiGatewayEvent);
    }
    let method = event
        .pointer("/requestContext/http/method")
        .or_else(|| event.get("httpMethod"))
        .and_then(Value::as_str)
        .ok_or(CaptureError::NoMethod)?
        .to_ascii_uppercase();
    let received_ms = event
        .pointer("/requestContext/timeEpoch")
        .or_else(|| event.pointer("/requestContext/requestTimeEpoch"))
        .and_then(Value::as_i64);
    Ok(CapturedRequest {
        method,
        query: api_gateway_query(event)?,
        authorization: api_gateway_authorization(event)?,
        body: api_gateway_body(event)?,
        received_at: received_ms.map(|ms| ms.div_euclid(1000)),
    })
}

fn api_gateway_authorization(event: &Value) -> Result<Vec<Vec<u8>>, CaptureError> {
    let mut values = Vec::new();
    // REST APIs keep every value of a repeated header here; HTTP APIs join them with commas.
    if let Some(headers) = event.get("multiValueHeaders").filter(|v| !v.is_null()) {
        let headers = headers
            .as_object()
            .ok_or(CaptureError::BadField("multiValueHeaders"))?;
        for (name, list) in headers {
            if name.eq_ignore_ascii_case("authorization") {
                let list = list
                    .as_array()
                    .ok_or(CaptureError::BadField("multiValueHeaders"))?;
                for value in list {
                    let value = value
                        .as_str()
                        .ok_or(CaptureError::BadField("multiValueHeaders"))?;
                    values.push(value.as_bytes().to_vec());
                }
            }
        }
        return Ok(values);
    }
    if let Some(headers) = event.get("headers").filter(|v| !v.is_null()) {
        let headers = headers
            .as_object()
            .ok_or(CaptureError::BadField("headers"))?;
        for (name, value) in headers {
            if name.eq_ignore_ascii_case("authorization") {
                let value = value.as_str().ok_or(CaptureError::BadField("headers"))?;
                values.push(value.as_bytes().to_vec());
            }
        }
    }
    Ok(values)
}

fn api_gateway_query(event: &Value) -> Result<Option<String>, CaptureError> {
    if let Some(raw) = event.get("rawQueryString") {
        let raw = raw
            .as_str()
            .ok_or(CaptureError::BadField("rawQueryString"))?;
        return Ok((!raw.is_empty()).then(|| raw.to_owned()));
    }
    // REST APIs hand over decoded parameters only; they are encoded again in their order.
    let mut pairs: Vec<(String, String)> = Vec::new();
    if let Some(parameters) = event
        .get("multiValueQueryStringParameters")
        .filter(|v| !v.is_null())
    {
        let field = "multiValueQueryStringParameters";
        for (name, list) in parameters
            .as_object()
            .ok_or(CaptureError::BadField(field))?
        {
            for value in list.as_array().ok_or(CaptureError::BadField(field))? {
                let value = value.as_str().ok_or(CaptureError::BadField(field))?;
                pairs.push((name.clone(), value.to_owned()));
            }
        }
    } else if let Some(parameters) = event.get("queryStringParameters").filter(|v| !v.is_null()) {
        let field = "queryStringParameters";
        for (name, value) in parameters
            .as_object()
            .ok_or(CaptureError::BadField(field))?
        {
            let value = value.as_str().ok_or(CaptureError::BadField(field))?;
            pairs.push((name.clone(), value.to_owned()));
        }
    }
    if pairs.is_empty() {
        return Ok(None);
    }
    let mut query = form_urlencoded::Serializer::new(String::new());
    for (name, value) in &pairs {
        query.append_pair(name, value);
    }
    Ok(Some(query.finish()))
}

fn api_gateway_body(event: &Value) -> Result<Vec<u8>, CaptureError> {
    let body = match event.get("body") {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::String(body)) => body,
        Some(_) => return Err(CaptureError::BadField("body")),
    };
    if event.get("isBase64Encoded").and_then(Value::as_bool) == Some(true) {
        base64::engine::general_purpose::STANDARD
            .decode(body)
            .map_err(|_| CaptureError::BadBase64)
    } else {
        Ok(body.clone().into_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn raw_http_with_crlf_keeps_the_exact_body_and_every_authorization() {
        let capture = b"POST /event?x=1 HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer one\r\nauthorization:  Bearer two \r\nContent-Length: 8\r\n\r\n{\"a\": 1}\n";
        let request = parse_capture(capture).unwrap();
        assert_eq!(request.method, "POST");
        assert_eq!(request.query.as_deref(), Some("x=1"));
        assert_eq!(
            request.authorization,
            [b"Bearer one".to_vec(), b"Bearer two".to_vec()]
        );
        // Content-Length cuts off the newline an editor adds at the end of the file.
        assert_eq!(request.body, b"{\"a\": 1}");
    }

    #[test]
    fn raw_http_with_lf_and_no_content_length_keeps_everything_after_the_blank_line() {
        let request =
            parse_capture(b"\nPOST /event HTTP/1.1\nauthorization: Bearer t\n\n{\"a\":1}\n")
                .unwrap();
        assert_eq!(request.body, b"{\"a\":1}\n");
        assert_eq!(request.query, None);
        let get = parse_capture(b"GET /answer?to=447700900000&from=447700900001 HTTP/1.1\nHost: x")
            .unwrap();
        assert_eq!(get.method, "GET");
        assert_eq!(
            get.query.as_deref(),
            Some("to=447700900000&from=447700900001")
        );
        assert!(get.body.is_empty() && get.authorization.is_empty());
    }

    #[test]
    fn text_that_is_not_a_request_is_refused() {
        assert_eq!(parse_capture(b"  \n"), Err(CaptureError::Empty));
        assert_eq!(
            parse_capture(b"hello world"),
            Err(CaptureError::NoRequestLine)
        );
        assert_eq!(
            parse_capture(br#"{"a":1}"#),
            Err(CaptureError::NotAnApiGatewayEvent)
        );
    }

    #[test]
    fn http_api_events_give_method_raw_query_base64_body_and_receipt_time() {
        let event = json!({
            "version": "2.0",
            "rawPath": "/event",
            "rawQueryString": "",
            "headers": {"authorization": "Bearer t", "content-type": "application/json"},
            "requestContext": {"http": {"method": "POST"}, "timeEpoch": 1_800_000_000_123_i64},
            "body": "eyJhIjogMX0=",
            "isBase64Encoded": true
        });
        let request = from_api_gateway(&event).unwrap();
        assert_eq!(request.method, "POST");
        assert_eq!(request.query, None);
        assert_eq!(request.authorization, [b"Bearer t".to_vec()]);
        assert_eq!(request.body, b"{\"a\": 1}");
        assert_eq!(request.received_at, Some(1_800_000_000));

        let mut broken = event.clone();
        broken["body"] = json!("not base64!");
        assert_eq!(from_api_gateway(&broken), Err(CaptureError::BadBase64));
    }

    #[test]
    fn rest_api_events_use_multi_value_headers_and_re_encode_the_query() {
        let event = json!({
            "httpMethod": "GET",
            "headers": {"Authorization": "Bearer last"},
            "multiValueHeaders": {"Authorization": ["Bearer first", "Bearer last"]},
            "queryStringParameters": {"to": "447700900000", "from": "a b"},
            "multiValueQueryStringParameters": {"to": ["447700900000"], "from": ["a b"]},
            "requestContext": {"requestTimeEpoch": 1_800_000_000_999_i64},
            "body": null,
            "isBase64Encoded": false
        });
        let request = from_api_gateway(&event).unwrap();
        assert_eq!(request.method, "GET");
        assert_eq!(request.query.as_deref(), Some("to=447700900000&from=a+b"));
        assert_eq!(request.authorization.len(), 2);
        assert!(request.body.is_empty());
        assert_eq!(request.received_at, Some(1_800_000_000));
    }
}
