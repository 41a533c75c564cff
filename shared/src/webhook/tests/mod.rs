use crate::settings::{ANSWER_ALLOW_UNSIGNED, ANSWER_GREETING, EVENT_URL, WEBHOOK_SECRET_ID};
use std::time::Duration;

use serde_json::json;

use super::*;
use crate::clock::ManualClock;
use crate::secrets::{InMemorySecretStore, WebhookSecret};
use crate::settings::webhook::{AnswerConfig, EventConfig, WebhookConfig};
use crate::state::{Delivery, DeliveryRecord, KeyKind, MemoryReplayStore, ReplayStore, StateError};
use crate::vonage::sign::WebhookSigner;
use std::sync::Arc;

mod answer;
mod duplicates;
mod rotation;

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

pub(in crate::webhook) fn event_body(uuid: &str, status: &str, timestamp: &str) -> Vec<u8> {
    format!(r#"{{"uuid":"{uuid}","conversation_uuid":"CON-1","status":"{status}","direction":"outbound","timestamp":"{timestamp}"}}"#)
        .into_bytes()
}

pub(in crate::webhook) fn signed_body(body: &[u8], jti: &str) -> IncomingWebhook {
    post(
        body,
        Some(signer(SECRET, API_KEY).sign_body(body, NOW, jti).unwrap()),
    )
}

/// An event of its own (a call named after `jti`) signed with `secret` at the fixture clock's
/// current time.
pub(super) fn signed_now(fixture: &Fixture, secret: &str, jti: &str) -> IncomingWebhook {
    signed_at(fixture.clock.unix_seconds(), secret, jti)
}

/// An event of its own (a call named after `jti`) signed with `secret`.
pub(super) fn signed_body_with(secret: &str, jti: &str) -> IncomingWebhook {
    signed_at(NOW, secret, jti)
}

pub(super) fn signed_at(iat: i64, secret: &str, jti: &str) -> IncomingWebhook {
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
