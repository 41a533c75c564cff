use std::time::Duration;

use serde_json::json;

use super::*;
use crate::secrets::{InMemorySecretStore, WebhookSecret};
use crate::state::{
    Delivery, DuplicateKey, KeyKind, MemoryReplayStore, ReplayStore, StateError, StoredAnswer,
};
use crate::vonage::sign::WebhookSigner;

const SECRET_ID: &str = "vonage/webhook";
const SECRET: &str = "current-signature-secret-0123456789";
const NEW_SECRET: &str = "rotated-signature-secret-abcdefghij";
const API_KEY: &str = "a1b2c3d";
const APPLICATION_ID: &str = "aaaaaaaa-bbbb-cccc-dddd-0123456789ab";
const NOW: i64 = 1_800_000_000;
const ANSWERED: &[u8] = br#"{"from":"447700900001","to":"447700900000","uuid":"call-1","conversation_uuid":"CON-1","status":"answered","direction":"inbound","timestamp":"2027-01-15T08:00:00.000Z"}"#;

fn document(secret: &str) -> String {
    WebhookSecret::new(secret, API_KEY, Some(APPLICATION_ID.into())).to_json()
}

pub(super) struct Fixture {
    store: Arc<InMemorySecretStore>,
    /// The duplicate store every handler of this fixture shares, as instances share the table.
    deliveries: Arc<MemoryReplayStore>,
    clock: Arc<ManualClock>,
}

impl Fixture {
    pub(super) fn new() -> Self {
        Self {
            store: Arc::new(InMemorySecretStore::new().with_secret(SECRET_ID, document(SECRET))),
            deliveries: Arc::new(MemoryReplayStore::default()),
            clock: Arc::new(ManualClock::at(NOW)),
        }
    }

    pub(super) fn event_handler(&self, unsigned_statuses: &[&str]) -> EventHandler {
        let config = EventConfig {
            webhook: WebhookConfig::for_secret(SECRET_ID),
            unsigned_statuses: unsigned_statuses.iter().map(|s| s.to_string()).collect(),
        };
        EventHandler::new(
            &config,
            self.store.clone(),
            self.deliveries.clone(),
            self.clock.clone(),
        )
    }

    fn answer_handler(&self, allow_unsigned: bool, event_url: Option<&str>) -> AnswerHandler {
        let settings = [
            (WEBHOOK_SECRET_ID, SECRET_ID),
            (ANSWER_GREETING, "Hello from the test"),
            (
                ANSWER_ALLOW_UNSIGNED,
                if allow_unsigned { "true" } else { "false" },
            ),
            (EVENT_URL, event_url.unwrap_or_default()),
        ];
        let config = AnswerConfig::from_settings(&settings).unwrap();
        AnswerHandler::new(
            &config,
            self.store.clone(),
            self.deliveries.clone(),
            self.clock.clone(),
        )
    }
}

fn signer(secret: &str, api_key: &str) -> WebhookSigner {
    WebhookSigner::new(secret, api_key, Some(APPLICATION_ID.into())).unwrap()
}

pub(super) fn post(body: &[u8], token: Option<String>) -> IncomingWebhook {
    IncomingWebhook {
        authorization: token
            .map(|t| format!("Bearer {t}").into_bytes())
            .into_iter()
            .collect(),
        method: "POST".into(),
        query: None,
        body: body.to_vec(),
        lambda_deadline: None,
    }
}

fn signed_post(body: &[u8], secret: &str, jti: &str) -> IncomingWebhook {
    post(
        body,
        Some(signer(secret, API_KEY).sign_body(body, NOW, jti).unwrap()),
    )
}

fn get(query: &str, token: Option<String>) -> IncomingWebhook {
    IncomingWebhook {
        authorization: token
            .map(|t| format!("Bearer {t}").into_bytes())
            .into_iter()
            .collect(),
        method: "GET".into(),
        query: Some(query.into()),
        body: Vec::new(),
        lambda_deadline: None,
    }
}

pub(super) fn accepted_event() -> Outcome {
    Outcome::Accepted { ncco: None }
}

#[tokio::test]
async fn a_signed_event_is_accepted_and_its_replay_is_not_processed_again() {
    let fixture = Fixture::new();
    let handler = fixture.event_handler(&[]);
    let request = signed_post(ANSWERED, SECRET, "jti-1");
    assert_eq!(handler.handle(&request).await, accepted_event());
    fixture.clock.advance(Duration::from_secs(30));
    assert_eq!(
        handler.handle(&request).await,
        Outcome::Duplicate {
            matched: KeyKind::Jti,
            ncco: None
        }
    );
    // A different jti for the same body is the same delivery, re-signed (as Vonage's retries
    // may be): a duplicate too.
    assert_eq!(
        handler
            .handle(&signed_post(ANSWERED, SECRET, "jti-2"))
            .await,
        Outcome::Duplicate {
            matched: KeyKind::Delivery,
            ncco: None
        }
    );
}

#[tokio::test]
async fn a_signed_get_event_is_verified_over_its_query() {
    let fixture = Fixture::new();
    let handler = fixture.event_handler(&[]);
    let query = "status=ringing&uuid=call-1&direction=inbound";
    let token = signer(SECRET, API_KEY)
        .sign_query(query, NOW, "jti-get")
        .unwrap();
    assert_eq!(
        handler.handle(&get(query, Some(token.clone()))).await,
        accepted_event()
    );
    // The same token over reordered parameters is a body mismatch.
    let reordered = "uuid=call-1&status=ringing&direction=inbound";
    assert_eq!(
        handler.handle(&get(reordered, Some(token))).await,
        Outcome::Rejected(Rejection::BodyMismatch)
    );
}

#[tokio::test]
async fn unknown_statuses_and_fields_and_even_non_json_bodies_are_accepted_when_signed() {
    let fixture = Fixture::new();
    let handler = fixture.event_handler(&[]);
    let odd = br#"{"uuid":"call-1","status":"teleported","galaxy":{"far":"away"}}"#;
    assert_eq!(
        handler.handle(&signed_post(odd, SECRET, "jti-odd")).await,
        accepted_event()
    );
    let not_json = b"status=answered";
    assert_eq!(
        handler
            .handle(&signed_post(not_json, SECRET, "jti-text"))
            .await,
        accepted_event()
    );
}

#[tokio::test]
async fn refusals_keep_their_reason() {
    let fixture = Fixture::new();
    let handler = fixture.event_handler(&[]);

    let forged = signed_post(ANSWERED, "someone-elses-secret-0123456789", "f-1");
    assert_eq!(
        handler.handle(&forged).await,
        Outcome::Rejected(Rejection::Signature)
    );

    let token = signer(SECRET, API_KEY)
        .sign_body(ANSWERED, NOW, "f-2")
        .unwrap();
    let tampered = post(&ANSWERED[..ANSWERED.len() - 2], Some(token));
    assert_eq!(
        handler.handle(&tampered).await,
        Outcome::Rejected(Rejection::BodyMismatch)
    );

    let other_account = post(
        ANSWERED,
        Some(
            signer(SECRET, "zzzzzzz")
                .sign_body(ANSWERED, NOW, "f-3")
                .unwrap(),
        ),
    );
    assert_eq!(
        handler.handle(&other_account).await,
        Outcome::Rejected(Rejection::Account("api_key"))
    );

    let stale = post(
        ANSWERED,
        Some(
            signer(SECRET, API_KEY)
                .sign_body(ANSWERED, NOW - 301, "f-4")
                .unwrap(),
        ),
    );
    assert_eq!(
        handler.handle(&stale).await,
        Outcome::Rejected(Rejection::Stale)
    );

    let mut two_headers = signed_post(ANSWERED, SECRET, "f-5");
    two_headers.authorization.push(b"Bearer x.y.z".to_vec());
    assert_eq!(
        handler.handle(&two_headers).await,
        Outcome::Rejected(Rejection::MultipleAuthorization)
    );
}

#[tokio::test]
async fn a_replayed_token_is_refused_as_stale_once_it_leaves_the_window() {
    let fixture = Fixture::new();
    let handler = fixture.event_handler(&[]);
    let request = signed_post(ANSWERED, SECRET, "jti-late");
    assert_eq!(handler.handle(&request).await, accepted_event());
    fixture.clock.advance(Duration::from_secs(301));
    assert_eq!(
        handler.handle(&request).await,
        Outcome::Rejected(Rejection::Stale)
    );
}

#[tokio::test]
async fn unsigned_events_ask_for_a_retry_unless_their_status_is_listed() {
    let fixture = Fixture::new();
    let strict = fixture.event_handler(&[]);
    let input = br#"{"uuid":"call-1","dtmf":{"digits":"1","timed_out":false}}"#;
    assert_eq!(
        strict.handle(&post(input, None)).await,
        Outcome::Rejected(Rejection::MissingToken)
    );

    let lenient = fixture.event_handler(&["input", "human"]);
    // An input webhook is answered with the next NCCO, signed or not.
    let Outcome::Accepted { ncco: Some(reply) } = lenient.handle(&post(input, None)).await else {
        panic!("a listed unsigned input is accepted with an NCCO");
    };
    assert_eq!(reply.to_json()[0]["action"], "talk");
    let human = br#"{"call_uuid":"call-1","status":"human"}"#;
    assert_eq!(lenient.handle(&post(human, None)).await, accepted_event());
    // A listed kind does not open the door to other unsigned statuses.
    assert_eq!(
        lenient.handle(&post(ANSWERED, None)).await,
        Outcome::Rejected(Rejection::MissingToken)
    );
    // Unsigned requests never need the secret.
    assert_eq!(fixture.store.reads(), 0);
}

#[tokio::test]
async fn an_unreadable_secret_is_reported_as_unavailable_and_retried_after_the_backoff() {
    let fixture = Fixture::new();
    fixture.store.set_unavailable(true);
    let handler = fixture.event_handler(&[]);
    assert!(!handler.warm_up().await);
    let reads_at_cold_start = fixture.store.reads();
    let request = signed_post(ANSWERED, SECRET, "jti-down");
    assert_eq!(handler.handle(&request).await, Outcome::SecretUnavailable);
    fixture.store.set_unavailable(false);
    // Inside the backoff the failure is answered from memory, not from the store.
    fixture.clock.advance(Duration::from_secs(4));
    assert_eq!(handler.handle(&request).await, Outcome::SecretUnavailable);
    assert_eq!(fixture.store.reads(), reads_at_cold_start);
    fixture.clock.advance(Duration::from_secs(1));
    assert_eq!(handler.handle(&request).await, accepted_event());
}

#[tokio::test]
async fn a_rotated_secret_works_after_one_refetch_and_the_previous_one_still_works() {
    let fixture = Fixture::new();
    let handler = fixture.event_handler(&[]);
    assert!(handler.warm_up().await);
    let reads_at_cold_start = fixture.store.reads();

    fixture.store.rotate(SECRET_ID, document(NEW_SECRET));
    fixture.clock.advance(Duration::from_secs(1));
    assert_eq!(
        handler.handle(&signed_body_with(NEW_SECRET, "r-1")).await,
        accepted_event()
    );
    assert_eq!(
        fixture.store.reads(),
        reads_at_cold_start + 2,
        "one refetch: current and previous"
    );

    assert_eq!(
        handler.handle(&signed_body_with(SECRET, "r-2")).await,
        accepted_event()
    );
    assert_eq!(
        handler.handle(&signed_body_with(NEW_SECRET, "r-3")).await,
        accepted_event()
    );
    // A forgery right after the refetch does not cause another one. It gets 503, not 401: it
    // might as well be a genuine event signed with a secret newer than the one just read.
    let forged = signed_body_with("forged-secret-0000000000000000", "r-4");
    assert_eq!(handler.handle(&forged).await, Outcome::SecretUnavailable);
    assert_eq!(fixture.store.reads(), reads_at_cold_start + 2);
    // Once the re-read is due again, the forgery is read against a fresh secret and refused.
    fixture.clock.advance(Duration::from_secs(10));
    assert_eq!(
        handler.handle(&forged).await,
        Outcome::Rejected(Rejection::Signature)
    );
    assert_eq!(fixture.store.reads(), reads_at_cold_start + 4);
}

#[tokio::test]
async fn each_secret_version_enforces_its_own_account() {
    let fixture = Fixture::new();
    fixture.store.rotate(
        SECRET_ID,
        WebhookSecret::new(NEW_SECRET, "newkey1", None).to_json(),
    );
    let handler = fixture.event_handler(&[]);
    // The new version has its own api_key and no application_id.
    let new_account = post(
        ANSWERED,
        Some(
            WebhookSigner::new(NEW_SECRET, "newkey1", None)
                .unwrap()
                .sign_body(ANSWERED, NOW, "a-1")
                .unwrap(),
        ),
    );
    assert_eq!(handler.handle(&new_account).await, accepted_event());
    // The previous version keeps its api_key: the new key signed with the old secret is refused.
    let mixed = post(
        ANSWERED,
        Some(
            signer(SECRET, "newkey1")
                .sign_body(ANSWERED, NOW, "a-2")
                .unwrap(),
        ),
    );
    assert_eq!(
        handler.handle(&mixed).await,
        Outcome::Rejected(Rejection::Account("api_key"))
    );
}

fn ncco_of(outcome: Outcome) -> serde_json::Value {
    match outcome {
        Outcome::Accepted { ncco: Some(ncco) }
        | Outcome::Duplicate {
            ncco: Some(ncco), ..
        } => ncco.to_json(),
        other => panic!("expected an NCCO, got {other:?}"),
    }
}

#[tokio::test]
async fn an_unsigned_answer_gets_the_greeting_and_a_notify_to_the_derived_event_url() {
    let fixture = Fixture::new();
    let handler = fixture.answer_handler(true, None);
    let query = "to=447700900000&from=447700900001&uuid=call-1&conversation_uuid=CON-1";
    let ncco = ncco_of(
        handler
            .handle(
                &get(query, None),
                Some("https://abc.execute-api.eu-west-1.amazonaws.com/event"),
            )
            .await,
    );
    assert_eq!(
        ncco,
        json!([
            {"action": "talk", "text": "Hello from the test", "language": "en-US"},
            {
                "action": "notify",
                "payload": {"notify": "greeting_played", "uuid": "call-1"},
                "eventUrl": ["https://abc.execute-api.eu-west-1.amazonaws.com/event"],
                "eventMethod": "POST"
            }
        ])
    );
    assert_eq!(
        fixture.store.reads(),
        0,
        "an unsigned answer needs no secret"
    );
}

#[tokio::test]
async fn the_configured_event_url_wins_and_without_any_the_greeting_goes_alone() {
    let fixture = Fixture::new();
    let configured = fixture.answer_handler(true, Some("https://voice.example.com/event"));
    let ncco = ncco_of(
        configured
            .handle(&get("uuid=c", None), Some("https://derived/event"))
            .await,
    );
    assert_eq!(
        ncco[1]["eventUrl"],
        json!(["https://voice.example.com/event"])
    );

    let nowhere = fixture.answer_handler(true, None);
    let ncco = ncco_of(nowhere.handle(&get("uuid=c", None), None).await);
    assert_eq!(ncco.as_array().map(Vec::len), Some(1));
}

#[tokio::test]
async fn a_signed_answer_is_verified_and_a_bad_token_refused() {
    let fixture = Fixture::new();
    let handler = fixture.answer_handler(true, Some("https://voice.example.com/event"));
    let query = "to=447700900000&from=447700900001&uuid=call-1";
    let good = signer(SECRET, API_KEY)
        .sign_query(query, NOW, "ans-1")
        .unwrap();
    let ncco = ncco_of(handler.handle(&get(query, Some(good.clone())), None).await);
    assert_eq!(ncco[0]["action"], "talk");
    // Vonage retries an answer webhook after a timeout; the retry is answered too.
    ncco_of(handler.handle(&get(query, Some(good)), None).await);

    let forged = signer("forged-secret-0000000000000000", API_KEY)
        .sign_query(query, NOW, "ans-2")
        .unwrap();
    assert_eq!(
        handler.handle(&get(query, Some(forged)), None).await,
        Outcome::Rejected(Rejection::Signature)
    );
    let garbage = get(query, Some("not-a-jwt".into()));
    assert_eq!(
        handler.handle(&garbage, None).await,
        Outcome::Rejected(Rejection::Malformed)
    );
}

#[tokio::test]
async fn an_unsigned_answer_is_refused_when_signatures_are_required() {
    let fixture = Fixture::new();
    let handler = fixture.answer_handler(false, None);
    assert_eq!(
        handler.handle(&get("uuid=call-1", None), None).await,
        Outcome::Rejected(Rejection::MissingToken)
    );
}

#[tokio::test]
async fn a_signed_answer_without_a_readable_secret_is_unavailable() {
    let fixture = Fixture::new();
    fixture.store.set_unavailable(true);
    let handler = fixture.answer_handler(true, None);
    let query = "uuid=call-1";
    let token = signer(SECRET, API_KEY)
        .sign_query(query, NOW, "ans-3")
        .unwrap();
    assert_eq!(
        handler.handle(&get(query, Some(token)), None).await,
        Outcome::SecretUnavailable
    );
}

#[test]
fn the_debug_form_of_a_request_hides_the_token() {
    let request = signed_post(ANSWERED, SECRET, "jti-debug");
    let shown = format!("{request:?}");
    assert!(!shown.contains("Bearer"), "{shown}");
    assert!(shown.contains("authorization_values: 1"), "{shown}");
}

/// An event of its own (a call named after `jti`) signed with `secret` at the fixture clock's
/// current time.
fn signed_now(fixture: &Fixture, secret: &str, jti: &str) -> IncomingWebhook {
    signed_at(fixture.clock.unix_seconds(), secret, jti)
}

/// An event of its own (a call named after `jti`) signed with `secret`.
fn signed_body_with(secret: &str, jti: &str) -> IncomingWebhook {
    signed_at(NOW, secret, jti)
}

fn signed_at(iat: i64, secret: &str, jti: &str) -> IncomingWebhook {
    let body = event_body(
        &format!("call-{jti}"),
        "answered",
        "2027-01-15T08:00:00.000Z",
    );
    post(
        &body,
        Some(signer(secret, API_KEY).sign_body(&body, iat, jti).unwrap()),
    )
}

/// The README's rotation, in its order, with events in flight at every step: Secrets Manager
/// first, then the Vonage Dashboard. Several warm instances, each with its own cache, see events
/// signed with the old secret until the Dashboard changes and with the new one after, some
/// retried late with the old one. Not one is refused.
#[tokio::test]
async fn the_documented_rotation_loses_no_event() {
    let fixture = Fixture::new();
    let instances: Vec<EventHandler> = (0..3).map(|_| fixture.event_handler(&[])).collect();
    for instance in &instances {
        assert!(instance.warm_up().await);
    }
    let mut sent = 0;
    let mut send_to_all = |secret: &'static str| {
        let requests: Vec<IncomingWebhook> = (0..instances.len())
            .map(|_| {
                sent += 1;
                signed_now(&fixture, secret, &format!("jti-{sent}"))
            })
            .collect();
        requests
    };

    // Before: the old secret everywhere.
    for (instance, request) in instances.iter().zip(send_to_all(SECRET)) {
        assert_eq!(instance.handle(&request).await, accepted_event());
    }
    // Step 1: Secrets Manager gets the new value (AWSCURRENT new, AWSPREVIOUS old). Vonage still
    // signs with the old one; caches expire at different times and re-read both versions.
    fixture.store.rotate(SECRET_ID, document(NEW_SECRET));
    for step in 0..4 {
        fixture.clock.advance(Duration::from_secs(100));
        let requests = send_to_all(SECRET);
        let outcomes = handle_on_each(&instances, &requests).await;
        assert!(
            outcomes.iter().all(|outcome| *outcome == accepted_event()),
            "step {step}: {outcomes:?}"
        );
    }
    // Step 2: the Dashboard changes. New events arrive signed with the new secret on every
    // instance, while retries of old deliveries still carry the old one.
    fixture.clock.advance(Duration::from_secs(1));
    for round in 0..3 {
        let new_ones = send_to_all(NEW_SECRET);
        let old_ones = send_to_all(SECRET);
        let outcomes = handle_on_each(&instances, &new_ones).await;
        let late = handle_on_each(&instances, &old_ones).await;
        assert!(
            outcomes
                .iter()
                .chain(&late)
                .all(|outcome| *outcome == accepted_event()),
            "round {round}: {outcomes:?} {late:?}"
        );
        fixture.clock.advance(Duration::from_secs(2));
    }
}

/// One request to each instance (each with its own cache, as separate Lambda instances have).
async fn handle_on_each(instances: &[EventHandler], requests: &[IncomingWebhook]) -> Vec<Outcome> {
    let mut outcomes = Vec::new();
    for (instance, request) in instances.iter().zip(requests) {
        outcomes.push(instance.handle(request).await);
    }
    outcomes
}

/// In the other order (Dashboard first), a new-secret event that arrives while the early re-read
/// is not yet due is answered 503, which Vonage retries, instead of 401, which it does not.
#[tokio::test]
async fn a_new_secret_seen_while_the_reread_is_deferred_gets_a_retryable_answer() {
    let fixture = Fixture::new();
    let handler = fixture.event_handler(&[]);
    assert!(handler.warm_up().await);
    // Dashboard first: Vonage signs with the new secret, Secrets Manager does not have it yet.
    let first = signed_now(&fixture, NEW_SECRET, "d-1");
    assert_eq!(
        handler.handle(&first).await,
        Outcome::Rejected(Rejection::Signature),
        "read again, and still not there"
    );
    fixture.store.rotate(SECRET_ID, document(NEW_SECRET));
    fixture.clock.advance(Duration::from_secs(3));
    let second = signed_now(&fixture, NEW_SECRET, "d-2");
    assert_eq!(handler.handle(&second).await, Outcome::SecretUnavailable);
    assert_eq!(
        crate::http::status_for(&Outcome::SecretUnavailable).as_u16(),
        503
    );
    // Vonage's retry after the interval finds the new secret.
    fixture.clock.advance(Duration::from_secs(10));
    assert_eq!(handler.handle(&second).await, accepted_event());
}

#[tokio::test]
async fn a_token_without_jti_is_refused_by_both_webhooks() {
    let fixture = Fixture::new();
    let claims = json!({
        "iat": NOW, "iss": "Vonage", "api_key": API_KEY, "application_id": APPLICATION_ID,
        "payload_hash": hex::encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, ANSWERED)),
    });
    let token = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(SECRET.as_bytes()).unwrap(),
    )
    .unwrap();
    let request = post(ANSWERED, Some(token.clone()));
    let refused = Outcome::Rejected(Rejection::MissingClaim("jti"));
    let events = fixture.event_handler(&[]);
    assert_eq!(events.handle(&request).await, refused);
    assert_eq!(events.handle(&request).await, refused, "and again");
    let answers = fixture.answer_handler(true, None);
    assert_eq!(answers.handle(&request, None).await, refused);
}

#[tokio::test(start_paused = true)]
async fn a_slow_secret_store_is_answered_503_inside_the_budget_and_the_lambda_deadline() {
    let fixture = Fixture::new();
    let handler = fixture.event_handler(&[]);
    fixture.store.set_delay(Duration::from_secs(5));
    // Budget 2.5 s by default; Lambda's deadline 1.5 s away wins, less the 500 ms margin.
    let mut request = signed_now(&fixture, SECRET, "slow-1");
    request.lambda_deadline = Some(std::time::Instant::now() + Duration::from_millis(1500));
    let started = tokio::time::Instant::now();
    assert_eq!(handler.handle(&request).await, Outcome::SecretUnavailable);
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(990) && waited <= Duration::from_millis(1010),
        "{waited:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn without_a_lambda_deadline_the_response_budget_bounds_a_slow_secret_read() {
    let fixture = Fixture::new();
    let handler = fixture.event_handler(&[]);
    fixture.store.set_delay(Duration::from_secs(5));
    let started = tokio::time::Instant::now();
    let request = signed_now(&fixture, SECRET, "slow-2");
    assert_eq!(handler.handle(&request).await, Outcome::SecretUnavailable);
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(2490) && waited <= Duration::from_millis(2510),
        "{waited:?}"
    );
}

// ----- duplicates across instances ------------------------------------------------------------

pub(super) fn event_body(uuid: &str, status: &str, timestamp: &str) -> Vec<u8> {
    format!(r#"{{"uuid":"{uuid}","conversation_uuid":"CON-1","status":"{status}","direction":"outbound","timestamp":"{timestamp}"}}"#)
        .into_bytes()
}

pub(super) fn signed_body(body: &[u8], jti: &str) -> IncomingWebhook {
    post(
        body,
        Some(signer(SECRET, API_KEY).sign_body(body, NOW, jti).unwrap()),
    )
}

#[tokio::test]
async fn an_event_accepted_by_one_instance_is_a_duplicate_at_another() {
    let fixture = Fixture::new();
    let (one, two) = (fixture.event_handler(&[]), fixture.event_handler(&[]));
    let body = event_body("call-9", "ringing", "2027-01-15T08:00:01.000Z");
    assert_eq!(
        one.handle(&signed_body(&body, "a-1")).await,
        accepted_event()
    );
    // The same token at the other instance, and a retry Vonage re-signed with a new jti.
    assert_eq!(
        two.handle(&signed_body(&body, "a-1")).await,
        Outcome::Duplicate {
            matched: KeyKind::Jti,
            ncco: None
        }
    );
    assert_eq!(
        two.handle(&signed_body(&body, "a-2")).await,
        Outcome::Duplicate {
            matched: KeyKind::Delivery,
            ncco: None
        }
    );
    // Another status of the same call is another delivery.
    let answered = event_body("call-9", "answered", "2027-01-15T08:00:02.000Z");
    assert_eq!(
        two.handle(&signed_body(&answered, "a-3")).await,
        accepted_event()
    );
    // A hot replay is caught by the instance's memory without asking the shared store.
    let asked = fixture.deliveries.calls();
    assert!(matches!(
        two.handle(&signed_body(&answered, "a-3")).await,
        Outcome::Duplicate { .. }
    ));
    assert_eq!(fixture.deliveries.calls(), asked);
}

#[tokio::test]
async fn a_duplicate_dtmf_input_gets_the_first_ncco_again() {
    let fixture = Fixture::new();
    let (one, two) = (fixture.event_handler(&[]), fixture.event_handler(&[]));
    let input = br#"{"uuid":"call-7","status":"input","timestamp":"2027-01-15T08:00:05.000Z","dtmf":{"digits":"1","timed_out":false}}"#;
    let Outcome::Accepted { ncco: Some(first) } = one.handle(&signed_body(input, "i-1")).await
    else {
        panic!("an input is answered with an NCCO");
    };
    assert_eq!(
        two.handle(&signed_body(input, "i-2")).await,
        Outcome::Duplicate {
            matched: KeyKind::Delivery,
            ncco: Some(first)
        }
    );
}

#[tokio::test]
async fn with_the_shared_store_down_events_are_processed_and_each_instance_still_remembers() {
    let fixture = Fixture::new();
    fixture.deliveries.fail_with(Some(StateError::Throttled(
        "ProvisionedThroughputExceeded".into(),
    )));
    let (one, two) = (fixture.event_handler(&[]), fixture.event_handler(&[]));
    let body = event_body("call-5", "completed", "2027-01-15T08:01:00.000Z");
    assert_eq!(
        one.handle(&signed_body(&body, "d-1")).await,
        accepted_event()
    );
    // Per instance only while the table is down: the same instance still catches it...
    assert!(matches!(
        one.handle(&signed_body(&body, "d-1")).await,
        Outcome::Duplicate { .. }
    ));
    // ...another instance cannot, and processes it rather than refuse it.
    assert_eq!(
        two.handle(&signed_body(&body, "d-1")).await,
        accepted_event()
    );
}

/// A shared store that never answers.
struct Hanging;

#[async_trait::async_trait]
impl ReplayStore for Hanging {
    async fn first_delivery(
        &self,
        _key: &DuplicateKey,
        _expires_at_unix: i64,
        _answer: &StoredAnswer,
        _now_unix: i64,
    ) -> Result<Delivery, StateError> {
        std::future::pending().await
    }
}

#[tokio::test(start_paused = true)]
async fn a_hanging_shared_store_is_given_up_on_inside_the_budget() {
    let fixture = Fixture::new();
    let config = EventConfig {
        webhook: WebhookConfig::for_secret(SECRET_ID),
        unsigned_statuses: Vec::new(),
    };
    let handler = EventHandler::new(
        &config,
        fixture.store.clone(),
        Arc::new(Hanging),
        fixture.clock.clone(),
    );
    assert!(handler.warm_up().await);
    let started = tokio::time::Instant::now();
    let body = event_body("call-4", "answered", "2027-01-15T08:00:00.000Z");
    assert_eq!(
        handler.handle(&signed_body(&body, "h-1")).await,
        accepted_event()
    );
    assert!(started.elapsed() <= DEFAULT_RESPONSE_BUDGET + Duration::from_millis(10));
}

#[tokio::test]
async fn an_answer_seen_before_gets_the_same_ncco_from_any_instance() {
    let fixture = Fixture::new();
    let one = fixture.answer_handler(true, Some("https://voice.example.com/event"));
    let two = fixture.answer_handler(true, Some("https://voice.example.com/event"));
    let query = "uuid=call-3&conversation_uuid=CON-3&from=447700900001&to=447700900000";
    let sign = |jti: &str| {
        get(
            query,
            Some(signer(SECRET, API_KEY).sign_query(query, NOW, jti).unwrap()),
        )
    };
    let Outcome::Accepted { ncco: Some(first) } = one.handle(&sign("n-1"), None).await else {
        panic!("a signed answer gets its NCCO");
    };
    assert_eq!(
        two.handle(&sign("n-2"), None).await,
        Outcome::Duplicate {
            matched: KeyKind::Delivery,
            ncco: Some(first)
        }
    );
}

#[tokio::test]
async fn unsigned_requests_are_not_recorded_as_deliveries() {
    let fixture = Fixture::new();
    let events = fixture.event_handler(&["input"]);
    let input = br#"{"uuid":"call-8","status":"input","timestamp":"2027-01-15T08:00:05.000Z","dtmf":{"digits":"1","timed_out":false}}"#;
    for _ in 0..2 {
        assert!(matches!(
            events.handle(&post(input, None)).await,
            Outcome::Accepted { ncco: Some(_) }
        ));
    }
    let answers = fixture.answer_handler(true, None);
    for _ in 0..2 {
        assert!(matches!(
            answers.handle(&get("uuid=call-8", None), None).await,
            Outcome::Accepted { ncco: Some(_) }
        ));
    }
    assert_eq!(fixture.deliveries.calls(), 0);
    assert!(fixture.deliveries.is_empty());
}
