use serde_json::json;

use super::*;
use crate::clock::Clock;
use crate::vonage::ncco::{Action, Ncco, Talk};

fn talk(text: &str) -> Ncco {
    Ncco::new(vec![Action::Talk(Talk::new(text))]).unwrap()
}

fn body_text(response: &Response<Body>) -> String {
    String::from_utf8_lossy(response.body().as_ref()).into_owned()
}

#[test]
fn every_outcome_maps_to_its_status_in_one_place() {
    let cases = [
        (Outcome::Accepted { ncco: None }, 200),
        (
            Outcome::Accepted {
                ncco: Some(talk("Hi")),
            },
            200,
        ),
        (
            Outcome::Duplicate {
                matched: crate::state::KeyKind::Delivery,
                ncco: None,
            },
            200,
        ),
        (Outcome::Rejected(Rejection::MissingToken), 503),
        (Outcome::SecretUnavailable, 503),
        (Outcome::Rejected(Rejection::Signature), 401),
        (Outcome::Rejected(Rejection::Stale), 401),
        (Outcome::Rejected(Rejection::BodyMismatch), 401),
        (Outcome::Rejected(Rejection::Account("api_key")), 401),
        (Outcome::Rejected(Rejection::MultipleAuthorization), 401),
    ];
    for (outcome, status) in cases {
        assert_eq!(status_for(&outcome).as_u16(), status, "{outcome:?}");
        let response = response_for(&outcome);
        assert_eq!(response.status().as_u16(), status, "{outcome:?}");
        assert_eq!(response.headers()[header::CACHE_CONTROL], "no-store");
    }
}

#[test]
fn refusals_have_generic_bodies_and_temporary_ones_a_retry_after() {
    let signature = response_for(&Outcome::Rejected(Rejection::Signature));
    let stale = response_for(&Outcome::Rejected(Rejection::Stale));
    assert_eq!(body_text(&signature), r#"{"error":"unauthorized"}"#);
    assert_eq!(
        body_text(&signature),
        body_text(&stale),
        "the reason must not show"
    );
    assert_eq!(signature.headers()[header::WWW_AUTHENTICATE], "Bearer");
    assert!(signature.headers().get(header::RETRY_AFTER).is_none());

    for outcome in [
        Outcome::Rejected(Rejection::MissingToken),
        Outcome::SecretUnavailable,
    ] {
        let response = response_for(&outcome);
        assert_eq!(response.headers()[header::RETRY_AFTER], "5");
        assert_eq!(
            body_text(&response),
            r#"{"error":"temporarily unavailable"}"#
        );
    }
}

#[test]
fn accepted_events_have_an_empty_body_and_answers_their_ncco() {
    let response = response_for(&Outcome::Accepted { ncco: None });
    assert!(response.body().is_empty());
    assert!(response.headers().get(header::CONTENT_TYPE).is_none());
    let ncco = json!([{"action": "talk", "text": "Hi"}]);
    let response = response_for(&Outcome::Accepted {
        ncco: Some(talk("Hi")),
    });
    assert_eq!(response.headers()[header::CONTENT_TYPE], "application/json");
    assert_eq!(
        serde_json::from_str::<Value>(&body_text(&response)).unwrap(),
        ncco
    );
}

fn rest_event(query: Value, multi_query: Value, headers: Value, multi_headers: Value) -> Value {
    json!({
        "resource": "/event",
        "path": "/event",
        "httpMethod": "GET",
        "headers": headers,
        "multiValueHeaders": multi_headers,
        "queryStringParameters": query,
        "multiValueQueryStringParameters": multi_query,
        "requestContext": {
            "stage": "prod",
            "domainName": "a1b2c3d4e5.execute-api.us-east-1.amazonaws.com",
            "httpMethod": "GET",
            "path": "/prod/event",
            "requestId": "r",
            "identity": {}
        },
        "body": null,
        "isBase64Encoded": false
    })
}

#[test]
fn a_rest_api_query_keeps_the_events_order_and_repeated_names() {
    let event = rest_event(
        json!({"zeta": "2", "alpha": "1 +/", "mid": "c"}),
        json!({"zeta": ["1", "2"], "alpha": ["1 +/"], "mid": ["c"]}),
        json!({}),
        json!({}),
    );
    let request = request_from_event(event, RequestLimits::default()).unwrap();
    let incoming = incoming_webhook(&request);
    let query = incoming.query.unwrap();
    assert_eq!(query, "zeta=1&zeta=2&alpha=1+%2B%2F&mid=c");
    // What Vonage would have hashed for `zeta=1&alpha=1+%2B%2F&zeta=2&mid=c`.
    assert_eq!(
        crate::vonage::verify::query_as_compact_json(&query),
        r#"{"zeta":"2","alpha":"1 +/","mid":"c"}"#
    );
}

#[test]
fn every_rest_api_authorization_value_is_kept_so_duplicates_are_seen() {
    let event = rest_event(
        Value::Null,
        Value::Null,
        json!({"Authorization": "Bearer second"}),
        json!({"Authorization": ["Bearer first", "Bearer second"], "Accept": ["*/*"]}),
    );
    let request = request_from_event(event, RequestLimits::default()).unwrap();
    // lambda_http alone keeps only the last one.
    assert_eq!(
        request
            .headers()
            .get_all(header::AUTHORIZATION)
            .iter()
            .count(),
        1
    );
    let incoming = incoming_webhook(&request);
    assert_eq!(
        incoming.authorization,
        [b"Bearer first".to_vec(), b"Bearer second".to_vec()]
    );
    assert_eq!(incoming.query, None);

    let single_only = rest_event(
        Value::Null,
        Value::Null,
        json!({"authorization": "Bearer only"}),
        Value::Null,
    );
    let incoming =
        incoming_webhook(&request_from_event(single_only, RequestLimits::default()).unwrap());
    assert_eq!(incoming.authorization, [b"Bearer only".to_vec()]);
}

fn http_api_event(raw_query: &str, body: Option<&str>, base64: bool) -> Value {
    json!({
        "version": "2.0",
        "routeKey": "POST /event",
        "rawPath": "/event",
        "rawQueryString": raw_query,
        "headers": {"authorization": "Bearer token", "host": "abc.execute-api.eu-west-1.amazonaws.com"},
        "requestContext": {
            "domainName": "abc.execute-api.eu-west-1.amazonaws.com",
            "http": {"method": "POST", "path": "/event", "protocol": "HTTP/1.1", "sourceIp": "1.2.3.4", "userAgent": "x"},
            "requestId": "r",
            "routeKey": "POST /event",
            "stage": "$default",
            "time": "15/Jan/2027:08:00:00 +0000",
            "timeEpoch": 0
        },
        "body": body,
        "isBase64Encoded": base64
    })
}

#[test]
fn an_http_api_request_keeps_its_raw_query_and_decoded_body() {
    let request = request_from_event(
        http_api_event("b=2&a=1%20x", Some("eyJhIjogMX0="), true),
        RequestLimits::default(),
    )
    .unwrap();
    let incoming = incoming_webhook(&request);
    assert_eq!(incoming.method, "POST");
    assert_eq!(incoming.query.as_deref(), Some("b=2&a=1%20x"));
    assert_eq!(incoming.body, br#"{"a": 1}"#);
    assert_eq!(incoming.authorization, [b"Bearer token".to_vec()]);
}

#[test]
fn a_body_flagged_base64_that_does_not_decode_becomes_empty_instead_of_a_panic() {
    let request = request_from_event(
        http_api_event("", Some("%%% not base64"), true),
        RequestLimits::default(),
    )
    .unwrap();
    assert!(incoming_webhook(&request).body.is_empty());
}

#[test]
fn requests_built_by_lambda_http_alone_still_work() {
    // No OriginalRequestParts: the query and headers come from the http::Request.
    let text = http_api_event("x=1", Some("{}"), false).to_string();
    let request = lambda_http::request::from_str(&text).unwrap();
    let incoming = incoming_webhook(&request);
    assert_eq!(incoming.query.as_deref(), Some("x=1"));
    assert_eq!(incoming.body, b"{}");
}

#[test]
fn the_event_url_is_derived_from_domain_and_stage() {
    let derive = |event: Value| {
        event_url_from_request(&request_from_event(event, RequestLimits::default()).unwrap())
    };

    assert_eq!(
        derive(http_api_event("", None, false)).as_deref(),
        Some("https://abc.execute-api.eu-west-1.amazonaws.com/event")
    );

    let mut named_stage = http_api_event("", None, false);
    named_stage["requestContext"]["stage"] = json!("live");
    assert_eq!(
        derive(named_stage).as_deref(),
        Some("https://abc.execute-api.eu-west-1.amazonaws.com/live/event")
    );

    let rest = rest_event(Value::Null, Value::Null, json!({}), json!({}));
    assert_eq!(
        derive(rest).as_deref(),
        Some("https://a1b2c3d4e5.execute-api.us-east-1.amazonaws.com/prod/event")
    );

    // A custom domain hides its base path mapping: no stage is guessed.
    let mut custom = http_api_event("", None, false);
    custom["requestContext"]["domainName"] = json!("voice.example.com");
    custom["requestContext"]["stage"] = json!("live");
    assert_eq!(
        derive(custom).as_deref(),
        Some("https://voice.example.com/event")
    );

    // Something that is not a plain host name is not used.
    let mut odd = http_api_event("", None, false);
    odd["requestContext"]["domainName"] = json!("evil.example/path?");
    assert_eq!(derive(odd), None);
}

#[test]
fn a_payload_v2_event_keeps_its_raw_query_even_when_it_also_names_an_http_method() {
    // cargo-lambda's function-URL emulator serialises 2.0 events with a top-level `httpMethod`
    // and an unordered `queryStringParameters` map; only `rawQueryString` keeps the order signed.
    let event = json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": "/",
        "rawQueryString": "to=447700900001&from=447700900000&uuid=in-1",
        "httpMethod": "GET",
        "headers": {"authorization": "Bearer t"},
        "queryStringParameters": {"uuid": "in-1", "from": "447700900000", "to": "447700900001"},
        "requestContext": {
            "stage": "$default",
            "requestId": "r",
            "domainName": "localhost",
            "http": {"method": "GET", "path": "/", "protocol": "http", "sourceIp": "127.0.0.1"},
            "timeEpoch": 0
        },
        "isBase64Encoded": false
    });
    let request = request_from_event(event, RequestLimits::default()).unwrap();
    let incoming = incoming_webhook(&request);
    assert_eq!(
        incoming.query.as_deref(),
        Some("to=447700900001&from=447700900000&uuid=in-1")
    );
}

async fn respond_with_ok(limits: RequestLimits, event: Value) -> Value {
    let handler =
        Arc::new(|_request: Request| async { response_for(&Outcome::Accepted { ncco: None }) });
    respond(limits, event, lambda_http::Context::default(), handler).await
}

#[tokio::test]
async fn refused_events_are_answered_with_a_status_and_never_reach_the_handler() {
    for (name, event) in events_lambda_http_panics_on() {
        let response = respond_with_ok(RequestLimits::default(), event).await;
        assert_eq!(response["statusCode"], 400, "{name}");
        assert_eq!(response["body"], r#"{"error":"bad request"}"#, "{name}");
    }
    let huge = "[],".repeat(30_000);
    let response = respond_with_ok(
        RequestLimits::default(),
        http_api_event("", Some(&huge), false),
    )
    .await;
    assert_eq!(response["statusCode"], 413);
    let not_an_event = respond_with_ok(RequestLimits::default(), json!({"hello": 1})).await;
    assert_eq!(not_an_event["statusCode"], 400);
    let good = respond_with_ok(RequestLimits::default(), http_api_event("a=1", None, false)).await;
    assert_eq!(good["statusCode"], 200, "{good}");
}

#[test]
fn the_lambda_deadline_reaches_the_handler_as_an_instant() {
    assert_eq!(deadline_instant(0), None);
    let in_two_seconds = u64::try_from(SystemClock.unix_millis()).unwrap() + 2000;
    // What `cargo lambda watch` sends: no real deadline, so only the response budget applies.
    let watch = deadline_instant(600_000).unwrap();
    assert!(watch > Instant::now() + Duration::from_secs(600));
    let deadline = deadline_instant(in_two_seconds).unwrap();
    let left = deadline.saturating_duration_since(Instant::now());
    assert!(
        left > Duration::from_millis(1000) && left <= Duration::from_millis(2000),
        "{left:?}"
    );
}

/// Reading the event straight from its parsed form picks the variant, and fills it with the
/// contents, that `LambdaRequest`'s own deserialiser does, for every fixture and shape here, and
/// refuses what it refuses.
#[test]
fn the_request_is_read_as_lambda_http_reads_it() {
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/apigw");
    let mut events: Vec<(String, Value)> = std::fs::read_dir(&fixtures)
        .expect("the API Gateway fixtures")
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| {
            path.extension()
                .is_some_and(|extension| extension == "json")
        })
        .map(|path| {
            let text = std::fs::read_to_string(&path).expect("a readable fixture");
            let event = serde_json::from_str(&text).expect("a JSON fixture");
            (path.display().to_string(), event)
        })
        .collect();
    assert!(events.len() >= 10, "{} fixtures", events.len());
    events.extend([
        (
            "payload 1.0".to_owned(),
            rest_event(
                json!({"a": "b"}),
                json!({"a": ["b"]}),
                json!({"host": "h"}),
                json!({"host": ["h"]}),
            ),
        ),
        (
            "payload 2.0".to_owned(),
            http_api_event("a=b", Some("{}"), false),
        ),
        ("2.0 with httpMethod".to_owned(), {
            let mut event = http_api_event("a=b", None, false);
            event["httpMethod"] = json!("GET");
            event
        }),
        ("httpMethod not a method".to_owned(), {
            let mut event = http_api_event("", None, false);
            event["httpMethod"] = json!(5);
            event
        }),
        ("an empty object".to_owned(), json!({})),
        ("an array".to_owned(), json!([])),
        ("a string".to_owned(), json!("event")),
        (
            "1.0 without a request context".to_owned(),
            json!({"httpMethod": "POST", "path": "/"}),
        ),
    ]);
    // Compared as JSON objects: the query maps are hash maps, whose order differs per instance.
    let contents = |request: Option<LambdaRequest>| match request {
        Some(LambdaRequest::ApiGatewayV1(rest)) => Some(("1.0", serde_json::to_value(rest).ok())),
        Some(LambdaRequest::ApiGatewayV2(http)) => Some(("2.0", serde_json::to_value(http).ok())),
        Some(_) => Some(("another kind", None)),
        None => None,
    };
    for (name, event) in events {
        let theirs = contents(serde_json::from_value::<LambdaRequest>(event.clone()).ok());
        let ours = contents(lambda_request_from_value(event));
        assert_eq!(ours, theirs, "{name}");
    }
}

mod refused;

use refused::events_lambda_http_panics_on;
