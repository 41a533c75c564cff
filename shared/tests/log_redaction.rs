//! Drives both handlers through their accepting and refusing paths with every log line captured
//! (JSON, as in production, at TRACE so nothing is filtered away), then checks that no line holds
//! the signature secret, a token, or any part of a token.

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use serde_json::{Value, json};
use tracing_subscriber::EnvFilter;
use vonage_voice_lambda::http::{RequestLimits, request_from_event};
use vonage_voice_lambda::http::{serve_answer, serve_event};
use vonage_voice_lambda::observe::logging;
use vonage_voice_lambda::secrets::WebhookSecret;
use vonage_voice_lambda::settings::{UNSIGNED_EVENT_STATUSES, WEBHOOK_MAX_BODY_BYTES};
use vonage_voice_lambda::state::{
    Delivery, DeliveryRecord, DuplicateKey, LocalReplayStore, MemoryReplayStore, StoredAnswer,
};
use vonage_voice_lambda::vonage::sign::WebhookSigner;

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn lines(&self) -> Vec<String> {
        String::from_utf8(self.0.lock().unwrap().clone())
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect()
    }
}

/// The format `logging::init()` installs, at every level, written to `captured`.
fn subscriber(captured: &Captured) -> impl tracing::Subscriber + Send + Sync {
    let writer = captured.clone();
    logging::json_subscriber(EnvFilter::new("trace"), move || writer.clone())
}

const ROTATED_SECRET: &str = "rotated-signature-secret-00000000000001";
const FORGING_SECRET: &str = "forging-signature-secret-0000000000000002";

#[tokio::test]
async fn no_log_line_carries_a_secret_a_token_or_a_signature() {
    let captured = Captured::default();
    let _guard = tracing::subscriber::set_default(subscriber(&captured));
    let mut tokens: Vec<String> = Vec::new();

    let (store, clock) = (store(), clock());
    let events = event_handler(&store, &clock, &[(UNSIGNED_EVENT_STATUSES, "input")]);
    let answers = answer_handler(&store, &clock, &[]);
    assert!(events.warm_up().await);

    // Accepted, then replayed.
    for name in SIGNED_EVENTS {
        tokens.extend(token_in(&fixture(name)));
        assert_eq!(serve_event(&events, request(name)).await.status(), 200);
    }
    assert_eq!(
        serve_event(&events, request("event_v2_post_json.json"))
            .await
            .status(),
        200
    );
    // Accepted unsigned, and refused unsigned.
    assert_eq!(
        serve_event(&events, request("event_v2_post_unsigned_input.json"))
            .await
            .status(),
        200
    );
    let mut unsigned_answered = fixture("event_v2_post_json.json");
    unsigned_answered["headers"]
        .as_object_mut()
        .unwrap()
        .remove("authorization");
    assert_eq!(
        serve_event(&events, request_from_value(unsigned_answered))
            .await
            .status(),
        503
    );

    // Refused: body changed; forged (which also forces a secret refresh); stale.
    let mut tampered = fixture("event_v1_post_json.json");
    tampered["body"] = json!(
        tampered["body"]
            .as_str()
            .unwrap()
            .replace("inbound", "outbound")
    );
    assert_eq!(
        serve_event(&events, request_from_value(tampered))
            .await
            .status(),
        401
    );
    let body = br#"{"uuid":"forged-call","status":"answered"}"#;
    let forged = WebhookSigner::new(FORGING_SECRET, API_KEY, None)
        .unwrap()
        .sign_body(body, SIGNED_AT, "forged-jti")
        .unwrap();
    tokens.push(forged.clone());
    let mut forged_event = fixture("event_v2_post_json.json");
    forged_event["body"] = json!(String::from_utf8_lossy(body));
    forged_event["headers"]["authorization"] = json!(format!("Bearer {forged}"));
    assert_eq!(
        serve_event(&events, request_from_value(forged_event))
            .await
            .status(),
        401
    );

    // A rotation: the new secret verifies after a refetch.
    store.rotate(
        SECRET_ID,
        WebhookSecret::new(ROTATED_SECRET, API_KEY, Some(APPLICATION_ID.into())).to_json(),
    );
    clock.advance(Duration::from_secs(11));
    let rotated_body = br#"{"uuid":"rotated-call","status":"completed"}"#;
    let rotated = WebhookSigner::new(ROTATED_SECRET, API_KEY, Some(APPLICATION_ID.into()))
        .unwrap()
        .sign_body(rotated_body, SIGNED_AT + 11, "rotated-jti")
        .unwrap();
    tokens.push(rotated.clone());
    let mut rotated_event = fixture("event_v2_post_json.json");
    rotated_event["body"] = json!(String::from_utf8_lossy(rotated_body));
    rotated_event["headers"]["authorization"] = json!(format!("Bearer {rotated}"));
    assert_eq!(
        serve_event(&events, request_from_value(rotated_event))
            .await
            .status(),
        200
    );

    clock.advance(Duration::from_secs(300));
    assert_eq!(
        serve_event(&events, request("event_v1_post_base64.json"))
            .await
            .status(),
        401
    );

    // Answers: unsigned, signed (stale by now, so refused), and with the store down.
    assert_eq!(
        serve_answer(&answers, request("answer_v2_get_unsigned.json"))
            .await
            .status(),
        200
    );
    tokens.extend(token_in(&fixture("answer_v1_get_signed.json")));
    assert_eq!(
        serve_answer(&answers, request("answer_v1_get_signed.json"))
            .await
            .status(),
        401
    );
    store.set_unavailable(true);
    let fresh_answers = answer_handler(&store, &common::clock(), &[]);
    assert_eq!(
        serve_answer(&fresh_answers, request("answer_v2_post_base64_signed.json"))
            .await
            .status(),
        503
    );
    tokens.extend(token_in(&fixture("answer_v2_post_base64_signed.json")));

    let lines = captured.lines();
    let parsed: Vec<Value> = lines
        .iter()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|_| panic!("not JSON: {line}")))
        .collect();

    // The capture saw what matters, so its silence about secrets means something.
    let has = |check: &dyn Fn(&Value) -> bool| parsed.iter().any(check);
    assert!(has(&|l| l["outcome"] == "processed"
        && l["matched_secret"] == "AWSCURRENT"
        && l["call_uuid"] == "63f61863-4a51-4f6b-86e1-46edebcf9356"
        && l["jti"] == "6b1c7b2e-0001-4c10-bfdf-3fbe8ce511b5"
        && l["status"] == "answered"
        && l["direction"] == "inbound"
        && l["timestamp"] == "2027-01-15T08:00:00.000Z"));
    assert!(has(&|l| l["outcome"] == "processed"
        && l["status"] == "completed"
        && l["start_time"] == "2027-01-15T08:00:00.000Z"
        && l["end_time"] == "2027-01-15T08:00:09.000Z"));
    assert!(has(&|l| l["outcome"] == "duplicate"
        && l["duplicate"] == true
        && l["matched"] == "jti"));
    assert!(has(&|l| l["outcome"] == "processed"
        && l["verified"] == false
        && l["status"] == "input"));
    assert!(has(&|l| l["reason"] == "missing_token"));
    assert!(has(&|l| l["reason"] == "body_mismatch"));
    // A refused request's body is never parsed, so nothing the forger wrote is logged.
    assert!(has(
        &|l| l["reason"] == "signature" && l["call_uuid"].is_null()
    ));
    assert!(!lines.iter().any(|line| line.contains("forged-call")));
    assert!(has(&|l| l["reason"] == "stale"));
    assert!(has(
        &|l| l["call_uuid"] == "rotated-call" && l["secret_refreshed"] == true
    ));
    assert!(has(
        &|l| l["outcome"] == "secret_unavailable" && l["webhook"] == "answer"
    ));
    assert!(has(
        &|l| l["webhook"] == "answer" && l["outcome"] == "answered"
    ));

    let mut forbidden: Vec<String> = vec![
        SIGNATURE_SECRET.into(),
        ROTATED_SECRET.into(),
        FORGING_SECRET.into(),
    ];
    for token in &tokens {
        forbidden.push(token.clone());
        // Each part on its own: the claims segment, and the signature.
        forbidden.extend(token.split('.').skip(1).map(str::to_owned));
    }
    assert!(lines.len() >= 15, "{} lines captured", lines.len());
    for line in &lines {
        for needle in &forbidden {
            assert!(
                !line.contains(needle.as_str()),
                "a log line leaks {needle:?}: {line}"
            );
        }
        assert!(
            !line.contains("Bearer"),
            "a log line shows an Authorization value: {line}"
        );
    }
}

/// Caller-controlled fields of requests nobody verified reach the log cut to
/// `logging::UNVERIFIED_FIELD_MAX_CHARS` characters, with control characters escaped.
#[tokio::test]
async fn unverified_fields_are_cut_in_the_log() {
    let captured = Captured::default();
    let _guard = tracing::subscriber::set_default(subscriber(&captured));
    let (store, clock) = (store(), clock());
    let events = event_handler(
        &store,
        &clock,
        &[
            (UNSIGNED_EVENT_STATUSES, "input"),
            (WEBHOOK_MAX_BODY_BYTES, "1048576"),
        ],
    );
    let answers = answer_handler(&store, &clock, &[]);
    let long_uuid = format!("\u{1b}[31m{}", "u".repeat(100_000));

    let mut unsigned_input = fixture("event_v2_post_unsigned_input.json");
    unsigned_input["body"] = json!(
        json!({"uuid": long_uuid, "status": "input", "conversation_uuid": "c".repeat(100_000)})
            .to_string()
    );
    let limits = RequestLimits {
        max_body_bytes: 1_048_576,
    };
    let request = request_from_event(unsigned_input, limits).unwrap();
    assert_eq!(serve_event(&events, request).await.status(), 200);

    let mut unsigned_answer = fixture("answer_v2_get_unsigned.json");
    // 50 KB: the most a query can hold, since `http::Uri` refuses 64 KiB and beyond (such an
    // event is refused as malformed before it gets here).
    unsigned_answer["rawQueryString"] = json!(format!("uuid={}", "u".repeat(50_000)));
    let response = serve_answer(&answers, request_from_value(unsigned_answer)).await;
    assert_eq!(response.status(), 200);
    let ncco = String::from_utf8_lossy(response.body().as_ref()).into_owned();
    assert!(ncco.len() < 2_000, "the uuid is not echoed into the NCCO");

    let lines = captured.lines();
    assert!(lines.len() >= 2);
    for line in &lines {
        assert!(line.len() < 2_000, "{} bytes: {}", line.len(), &line[..200]);
    }
    let parsed: Vec<Value> = lines
        .iter()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let event_line = parsed
        .iter()
        .find(|line| line["webhook"] == "event")
        .unwrap();
    let call_uuid = event_line["call_uuid"].as_str().unwrap();
    assert!(call_uuid.starts_with("\\u{1b}[31muuu"), "{call_uuid}");
    assert!(call_uuid.ends_with("…(100005 chars)"), "{call_uuid}");
    let answer_line = parsed
        .iter()
        .find(|line| line["webhook"] == "answer")
        .unwrap();
    assert!(
        answer_line["call_uuid"]
            .as_str()
            .unwrap()
            .ends_with("…(50000 chars)")
    );
}

/// Full in-memory delivery records warn once per interval with a count, not once per request.
#[test]
fn full_delivery_records_warn_once_a_minute() {
    let captured = Captured::default();
    let _guard = tracing::subscriber::set_default(subscriber(&captured));
    let records = MemoryReplayStore::new(10);
    let now = 1_800_000_000;
    let answer = StoredAnswer::acknowledged();
    for n in 0..20_000 {
        // 20,000 deliveries over 100 seconds.
        let key = DuplicateKey::new(format!("jti-{n}"), None);
        let delivery = LocalReplayStore::first_delivery(
            &records,
            DeliveryRecord::new(&key, &answer, now + n / 200, now + 300),
        );
        assert_eq!(delivery, Delivery::First);
    }
    let warnings: Vec<Value> = captured
        .lines()
        .iter()
        .map(|line| serde_json::from_str::<Value>(line).unwrap())
        .filter(|line| line["level"] == "WARN")
        .collect();
    assert_eq!(warnings.len(), 2, "{warnings:?}");
    assert_eq!(warnings[0]["forgotten_early"], 1);
    // The second line, a minute later, counts everything dropped since the first: every
    // sighting from the 12th to the 12,000th.
    assert_eq!(warnings[1]["forgotten_early"], 60 * 200 - 10);
}
