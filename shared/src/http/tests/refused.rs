//! Raw events refused before `lambda_http` sees them: the ones it would panic on, and oversized bodies.

use super::*;

/// Events that `lambda_http` 1.3 cannot turn into a request without panicking, each with the
/// panic's place (reported upstream in the closing note of issue 12).
pub(super) fn events_lambda_http_panics_on() -> Vec<(&'static str, Value)> {
    let mut space_in_query = http_api_event("a=1 2", None, false);
    space_in_query["rawQueryString"] = json!("a=1 2");
    let mut quote_in_query = http_api_event("", None, false);
    quote_in_query["rawQueryString"] = json!("a=\"");
    let quote_host = rest_event(Value::Null, Value::Null, json!({"Host": "\""}), Value::Null);
    let mut empty_host = http_api_event("", None, false);
    empty_host["headers"]["host"] = json!("");
    empty_host["rawPath"] = json!("/");
    let spaced_proto = rest_event(
        Value::Null,
        Value::Null,
        json!({"Host": "example.com", "X-Forwarded-Proto": "ht tp"}),
        Value::Null,
    );
    let empty_proto = rest_event(
        Value::Null,
        Value::Null,
        json!({"Host": "example.com", "X-Forwarded-Proto": ""}),
        Value::Null,
    );
    let mut spaced_host_v2 = http_api_event("", None, false);
    spaced_host_v2["headers"]["host"] = json!("ht tp");
    let empty_values = rest_event(
        json!({"a": "1"}),
        json!({"a": []}),
        Value::Null,
        Value::Null,
    );
    let mut long_query = http_api_event("", None, false);
    long_query["rawQueryString"] = json!(format!("a={}", "b".repeat(70_000)));
    vec![
        (
            "rawQueryString with a space (request.rs:175)",
            space_in_query,
        ),
        (
            "rawQueryString of 70 KB, past http::Uri's limit (request.rs:175)",
            long_query,
        ),
        (
            "rawQueryString with a quote (request.rs:175)",
            quote_in_query,
        ),
        ("payload 1.0 Host of a quote (request.rs:229)", quote_host),
        ("Host of \"\" (request.rs:553)", empty_host),
        (
            "X-Forwarded-Proto of \"ht tp\" (request.rs:553)",
            spaced_proto,
        ),
        ("X-Forwarded-Proto of \"\" (request.rs:553)", empty_proto),
        (
            "payload 2.0 Host of \"ht tp\" (request.rs:553)",
            spaced_host_v2,
        ),
        (
            "multiValueQueryStringParameters entry with no values (query_map lib.rs:168)",
            empty_values,
        ),
    ]
}

#[test]
fn events_lambda_http_would_panic_on_are_refused_as_malformed() {
    for (name, event) in events_lambda_http_panics_on() {
        assert!(
            matches!(
                request_from_event(event, RequestLimits::default()),
                Err(EventRefusal::Malformed(_))
            ),
            "{name}"
        );
    }
}

/// The check is needed for exactly these events: `lambda_http` still panics on each of them.
/// (Should a release fix them, this test says the check can go.)
#[test]
fn lambda_http_itself_still_panics_on_each_refused_event() {
    let quiet = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let panicked: Vec<&str> = events_lambda_http_panics_on()
        .into_iter()
        .filter(|(_, event)| {
            let request: LambdaRequest = serde_json::from_value(event.clone()).unwrap();
            std::panic::catch_unwind(|| Request::from(request)).is_err()
        })
        .map(|(name, _)| name)
        .collect();
    std::panic::set_hook(quiet);
    assert_eq!(
        panicked.len(),
        events_lambda_http_panics_on().len(),
        "{panicked:?}"
    );
}

#[test]
fn ordinary_hosts_schemes_and_queries_still_pass() {
    let mut event = http_api_event("status=answered&uuid=a-b&x=%22q%22&y=a+b", None, false);
    event["headers"]["x-forwarded-proto"] = json!("https");
    assert!(request_from_event(event, RequestLimits::default()).is_ok());
    let rest = rest_event(
        json!({"uuid": "a b \""}),
        json!({"uuid": ["a b \""]}),
        json!({"Host": "voice.example.com:443", "X-Forwarded-Proto": "http"}),
        Value::Null,
    );
    assert!(request_from_event(rest, RequestLimits::default()).is_ok());
}

#[test]
fn a_body_over_the_limit_is_refused_before_any_parse() {
    let limits = RequestLimits {
        max_body_bytes: 1024,
    };
    let at_limit = "a".repeat(1024);
    assert!(request_from_event(http_api_event("", Some(&at_limit), false), limits).is_ok());
    let over = "[],".repeat(400);
    assert_eq!(
        request_from_event(http_api_event("", Some(&over), false), limits).err(),
        Some(EventRefusal::BodyTooLarge {
            bytes: 1200,
            limit: 1024
        })
    );
    // Base64 counts by the decoded size: 1368 characters decode to 1026 bytes.
    let encoded = "YWFh".repeat(342);
    assert!(matches!(
        request_from_event(http_api_event("", Some(&encoded), true), limits),
        Err(EventRefusal::BodyTooLarge { bytes: 1026, .. })
    ));
}
