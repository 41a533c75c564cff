//! The event and answer handlers called directly with requests built from API Gateway event JSON
//! (REST API payload 1.0 and HTTP API payload 2.0; plain and base64 bodies; GET and POST), exactly
//! as `http::run` builds them in the deployed functions.

mod common;

use std::time::Duration;

use common::*;
use lambda_http::request::LambdaRequest;
use lambda_http::{Body, Response};
use serde_json::{Value, json};
use vonage_voice_lambda::http::{serve_answer, serve_event};
use vonage_voice_lambda::settings::{ANSWER_ALLOW_UNSIGNED, EVENT_URL, UNSIGNED_EVENT_STATUSES};

fn body_of(response: &Response<Body>) -> String {
    String::from_utf8_lossy(response.body().as_ref()).into_owned()
}

#[test]
fn the_fixtures_are_the_api_gateway_payloads_they_claim_to_be() {
    for name in [
        "event_v1_post_json.json",
        "event_v1_post_base64.json",
        "event_v1_get_query.json",
        "answer_v1_get_signed.json",
    ] {
        let event: LambdaRequest = serde_json::from_value(fixture(name)).unwrap();
        assert!(
            matches!(event, LambdaRequest::ApiGatewayV1(_)),
            "{name}: {event:?}"
        );
    }
    for name in [
        "event_v2_post_json.json",
        "event_v2_post_base64.json",
        "event_v2_get_query.json",
        "event_v2_post_unsigned_input.json",
        "answer_v2_get_unsigned.json",
        "answer_v2_post_base64_signed.json",
    ] {
        let event: LambdaRequest = serde_json::from_value(fixture(name)).unwrap();
        assert!(
            matches!(event, LambdaRequest::ApiGatewayV2(_)),
            "{name}: {event:?}"
        );
    }
}

#[tokio::test]
async fn every_signed_event_fixture_is_accepted_with_an_empty_200() {
    let (store, clock) = (store(), clock());
    let handler = event_handler(&store, &clock, &[]);
    for name in SIGNED_EVENTS {
        let response = serve_event(&handler, request(name)).await;
        assert_eq!(response.status(), 200, "{name}: {}", body_of(&response));
        assert!(response.body().is_empty(), "{name}");
    }
}

#[tokio::test]
async fn a_second_delivery_of_the_same_token_gets_the_first_answer() {
    let (store, clock) = (store(), clock());
    let handler = event_handler(&store, &clock, &[]);
    let first = serve_event(&handler, request("event_v2_post_json.json")).await;
    clock.advance(Duration::from_secs(20));
    let again = serve_event(&handler, request("event_v2_post_json.json")).await;
    assert_eq!(
        (first.status().as_u16(), again.status().as_u16()),
        (200, 200)
    );
    assert_eq!(body_of(&again), body_of(&first));
}

#[tokio::test]
async fn a_changed_body_or_query_is_refused_with_a_generic_401() {
    let (store, clock) = (store(), clock());
    let handler = event_handler(&store, &clock, &[]);

    let mut plain = fixture("event_v1_post_json.json");
    let body = plain["body"]
        .as_str()
        .unwrap()
        .replace("answered", "completed");
    plain["body"] = json!(body);

    let mut base64_body = fixture("event_v2_post_base64.json");
    base64_body["body"] = json!("eyJzdGF0dXMiOiJjb21wbGV0ZWQifQ==");

    let mut query = fixture("event_v2_get_query.json");
    let raw = query["rawQueryString"]
        .as_str()
        .unwrap()
        .replace("ringing", "answered");
    query["rawQueryString"] = json!(raw);

    for event in [plain, base64_body, query] {
        let response = serve_event(&handler, request_from_value(event)).await;
        assert_eq!(response.status(), 401);
        assert_eq!(body_of(&response), r#"{"error":"unauthorized"}"#);
    }
}

#[tokio::test]
async fn a_rest_api_get_is_verified_in_the_parameter_order_the_event_lists() {
    let (store, clock) = (store(), clock());
    let handler = event_handler(&store, &clock, &[]);
    // Listing the same parameters in another order changes what Vonage's hash covers: this shows
    // the order comes from the event JSON, not from a hash map.
    let mut reordered = fixture("event_v1_get_query.json");
    let parameters = reordered["multiValueQueryStringParameters"]
        .as_object()
        .unwrap()
        .clone();
    let reversed: serde_json::Map<String, Value> = parameters.into_iter().rev().collect();
    reordered["multiValueQueryStringParameters"] = Value::Object(reversed);
    let response = serve_event(&handler, request_from_value(reordered)).await;
    assert_eq!(response.status(), 401);

    let response = serve_event(&handler, request("event_v1_get_query.json")).await;
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn a_stale_token_is_refused() {
    let (store, clock) = (store(), clock());
    let handler = event_handler(&store, &clock, &[]);
    clock.advance(Duration::from_secs(301));
    let response = serve_event(&handler, request("event_v1_post_base64.json")).await;
    assert_eq!(response.status(), 401);
}

#[tokio::test]
async fn an_unsigned_event_asks_for_a_retry_unless_its_status_may_come_unsigned() {
    let (store, clock) = (store(), clock());
    let strict = event_handler(&store, &clock, &[]);
    let response = serve_event(&strict, request("event_v2_post_unsigned_input.json")).await;
    assert_eq!(response.status(), 503);
    assert_eq!(response.headers()["retry-after"], "5");

    let lenient = event_handler(
        &store,
        &clock,
        &[(UNSIGNED_EVENT_STATUSES, "input,transfer")],
    );
    let response = serve_event(&lenient, request("event_v2_post_unsigned_input.json")).await;
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn without_the_secret_a_signed_event_gets_503_and_no_internals() {
    let (store, clock) = (store(), clock());
    store.set_unavailable(true);
    let handler = event_handler(&store, &clock, &[]);
    let response = serve_event(&handler, request("event_v2_post_json.json")).await;
    assert_eq!(response.status(), 503);
    assert_eq!(body_of(&response), r#"{"error":"temporarily unavailable"}"#);
    assert!(response.headers().contains_key("retry-after"));
}

fn ncco(response: &Response<Body>) -> Value {
    assert_eq!(response.status(), 200, "{}", body_of(response));
    assert_eq!(response.headers()["content-type"], "application/json");
    serde_json::from_str(&body_of(response)).unwrap()
}

#[tokio::test]
async fn an_unsigned_answer_gets_the_greeting_pointing_at_the_http_api_event_route() {
    let (store, clock) = (store(), clock());
    let handler = answer_handler(&store, &clock, &[]);
    let ncco = ncco(&serve_answer(&handler, request("answer_v2_get_unsigned.json")).await);
    assert_eq!(ncco[0]["action"], "talk");
    assert_eq!(ncco[0]["language"], "en-US");
    assert_eq!(ncco[1]["action"], "notify");
    assert_eq!(
        ncco[1]["eventUrl"],
        json!(["https://r4nd0m1d.execute-api.eu-west-1.amazonaws.com/event"])
    );
    assert_eq!(
        ncco[1]["payload"]["uuid"],
        "63f61863-4a51-4f6b-86e1-46edebcf9356"
    );
}

#[tokio::test]
async fn signed_answers_are_verified_and_point_at_their_stages_event_route() {
    let (store, clock) = (store(), clock());
    let handler = answer_handler(&store, &clock, &[(ANSWER_ALLOW_UNSIGNED, "false")]);
    let rest = ncco(&serve_answer(&handler, request("answer_v1_get_signed.json")).await);
    assert_eq!(
        rest[1]["eventUrl"],
        json!(["https://a1b2c3d4e5.execute-api.us-east-1.amazonaws.com/prod/event"])
    );
    // The same call through another API (and another deployment, with its own state table):
    // within one deployment a second answer for the call would get the first one's NCCO again.
    let other = answer_handler(&store, &clock, &[(ANSWER_ALLOW_UNSIGNED, "false")]);
    let http = ncco(&serve_answer(&other, request("answer_v2_post_base64_signed.json")).await);
    assert_eq!(
        http[1]["eventUrl"],
        json!(["https://r4nd0m1d.execute-api.eu-west-1.amazonaws.com/live/event"])
    );

    let unsigned = serve_answer(&handler, request("answer_v2_get_unsigned.json")).await;
    assert_eq!(unsigned.status(), 503);
}

#[tokio::test]
async fn a_configured_event_url_is_used_as_is() {
    let (store, clock) = (store(), clock());
    let handler = answer_handler(
        &store,
        &clock,
        &[(EVENT_URL, "https://voice.example.com/event")],
    );
    let ncco = ncco(&serve_answer(&handler, request("answer_v1_get_signed.json")).await);
    assert_eq!(
        ncco[1]["eventUrl"],
        json!(["https://voice.example.com/event"])
    );
}

#[tokio::test]
async fn an_answer_with_a_bad_token_is_refused() {
    let (store, clock) = (store(), clock());
    let handler = answer_handler(&store, &clock, &[]);
    let mut forged = fixture("answer_v1_get_signed.json");
    let token = token_in(&forged).unwrap();
    // Same header and claims, signature of another key.
    let (unsigned_part, _) = token.rsplit_once('.').unwrap();
    let bad = format!("Bearer {unsigned_part}.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
    forged["headers"]["Authorization"] = json!(bad);
    forged["multiValueHeaders"]["Authorization"] = json!([bad]);
    let response = serve_answer(&handler, request_from_value(forged)).await;
    assert_eq!(response.status(), 401);
    assert_eq!(body_of(&response), r#"{"error":"unauthorized"}"#);
}
