//! The webhook secret read through the real Secrets Manager client from moto's server.
//!
//! Between the client and moto sits the counting proxy (`integration_tests::fault_proxy`), so "a
//! warm invocation sends nothing to Secrets Manager" is measured on the wire, not inferred from
//! our own code. The client gets dummy credentials and a region on its config
//! loader, not from the process environment.

use std::sync::Arc;
use std::time::Duration;

use aws_sdk_secretsmanager::config::{Credentials, Region};
use aws_sdk_secretsmanager::primitives::Blob;
use integration_tests::fault_proxy::FaultProxy;
use integration_tests::{MotoServer, repo_root};
use serde_json::{Value, json};
use vonage_voice_lambda::clock::{Clock, ManualClock, SystemClock};
use vonage_voice_lambda::http::{
    HttpRequest, RequestLimits, incoming_webhook, request_from_event, serve_answer, serve_event,
};
use vonage_voice_lambda::secrets::{
    CURRENT, PREVIOUS, SecretStore, SecretStoreError, SecretsManagerStore, WebhookSecret,
};
use vonage_voice_lambda::settings::webhook::{AnswerConfig, EventConfig, WebhookConfig};
use vonage_voice_lambda::state::MemoryReplayStore;
use vonage_voice_lambda::vonage::sign::WebhookSigner;
use vonage_voice_lambda::webhook::{
    AnswerHandler, EventHandler, SignedWebhookVerifier, VerificationFailure,
};

const SECRET_ID: &str = "vonage/webhook";
const API_KEY: &str = "a1b2c3d";
const APPLICATION_ID: &str = "aaaaaaaa-bbbb-cccc-dddd-0123456789ab";
const FIRST: &str = "first-signature-secret-0123456789abcdef";
const SECOND: &str = "second-signature-secret-0123456789abcdef";
const THIRD: &str = "third-signature-secret-0123456789abcdef";
const FORGED: &str = "forged-signature-secret-0123456789abcdef";

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// The proxy in front of `moto`, counting what reaches it.
async fn relay_to(moto: &MotoServer) -> FaultProxy {
    FaultProxy::start(&moto.endpoint())
        .await
        .expect("the counting proxy starts")
}

fn aws_loader(endpoint: String) -> aws_config::ConfigLoader {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("testing", "testing", None, None, "moto"))
        .endpoint_url(endpoint)
}

/// A client straight to moto, for setting secrets up (its requests are not counted).
async fn admin_client(moto: &MotoServer) -> aws_sdk_secretsmanager::Client {
    aws_sdk_secretsmanager::Client::new(&aws_loader(moto.endpoint()).load().await)
}

/// The store under test, as the functions build it, reaching moto through the proxy.
async fn store_through(relay: &FaultProxy) -> Arc<SecretsManagerStore> {
    Arc::new(SecretsManagerStore::from_loader(aws_loader(relay.endpoint())).await)
}

fn document(signature_secret: &str) -> String {
    WebhookSecret::new(signature_secret, API_KEY, Some(APPLICATION_ID.into())).to_json()
}

async fn create_secret(admin: &aws_sdk_secretsmanager::Client, signature_secret: &str) {
    admin
        .create_secret()
        .name(SECRET_ID)
        .secret_string(document(signature_secret))
        .send()
        .await
        .expect("moto creates the secret");
}

/// Secrets Manager's rotation step: the new value becomes AWSCURRENT, the old one AWSPREVIOUS.
async fn put_new_version(admin: &aws_sdk_secretsmanager::Client, signature_secret: &str) {
    admin
        .put_secret_value()
        .secret_id(SECRET_ID)
        .secret_string(document(signature_secret))
        .send()
        .await
        .expect("moto stores the new version");
}

fn webhook_config() -> WebhookConfig {
    WebhookConfig::for_secret(SECRET_ID)
        .with_cache(Duration::from_secs(300), Duration::from_secs(10))
}

fn event_config() -> EventConfig {
    EventConfig {
        webhook: webhook_config(),
        unsigned_statuses: Vec::new(),
    }
}

/// A real HTTP API event (the fixture's shape) carrying `body` signed with `signature_secret`.
fn signed_event(signature_secret: &str, iat: i64, jti: &str) -> HttpRequest {
    let fixture = repo_root().join("shared/tests/fixtures/apigw/event_v2_post_json.json");
    let text = std::fs::read_to_string(&fixture).expect("the API Gateway fixture is readable");
    let mut event: Value = serde_json::from_str(&text).expect("the fixture is JSON");
    let body = format!(
        r#"{{"uuid":"{jti}","conversation_uuid":"CON-{jti}","status":"answered","direction":"inbound","timestamp":"2027-01-15T08:00:00.000Z"}}"#
    );
    let token = WebhookSigner::new(signature_secret, API_KEY, Some(APPLICATION_ID.into()))
        .expect("a signer")
        .sign_body(body.as_bytes(), iat, jti)
        .expect("a token");
    event["body"] = json!(body);
    event["headers"]["authorization"] = json!(format!("Bearer {token}"));
    request_from_event(event, RequestLimits::default()).expect("an API Gateway request")
}

// ---------------------------------------------------------------------------------------------
// The suites
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn cold_start_reads_the_secret_and_warm_invocations_send_nothing_to_moto() {
    let moto = MotoServer::start();
    let relay = relay_to(&moto).await;
    create_secret(&admin_client(&moto).await, FIRST).await;

    let handler = EventHandler::new(
        &event_config(),
        store_through(&relay).await,
        Arc::new(MemoryReplayStore::default()),
        Arc::new(SystemClock),
    );
    assert!(handler.warm_up().await, "the cold-start read succeeds");
    // AWSCURRENT, and AWSPREVIOUS (which a never-rotated secret does not have).
    assert_eq!(relay.get_secret_value_calls(), 2);
    assert_eq!(relay.requests(), 2);

    for invocation in 0..25 {
        let jti = format!("warm-{invocation}");
        let request = signed_event(FIRST, SystemClock.unix_seconds(), &jti);
        let response = serve_event(&handler, request).await;
        assert_eq!(response.status(), 200, "invocation {invocation}");
    }
    assert_eq!(
        relay.requests(),
        2,
        "warm invocations inside the cache time sent requests to Secrets Manager"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn once_the_cache_time_is_over_the_next_request_reads_the_secret_again() {
    let moto = MotoServer::start();
    let relay = relay_to(&moto).await;
    create_secret(&admin_client(&moto).await, FIRST).await;
    let clock = Arc::new(ManualClock::at(SystemClock.unix_seconds()));
    let handler = EventHandler::new(
        &event_config(),
        store_through(&relay).await,
        Arc::new(MemoryReplayStore::default()),
        clock.clone(),
    );

    let respond =
        |jti: &'static str| serve_event(&handler, signed_event(FIRST, clock.unix_seconds(), jti));
    assert_eq!(respond("a").await.status(), 200);
    assert_eq!(relay.get_secret_value_calls(), 2);
    clock.advance(Duration::from_secs(299));
    assert_eq!(respond("b").await.status(), 200);
    assert_eq!(relay.get_secret_value_calls(), 2);
    clock.advance(Duration::from_secs(1));
    assert_eq!(respond("c").await.status(), 200);
    assert_eq!(relay.get_secret_value_calls(), 4);
    assert_eq!(respond("d").await.status(), 200);
    assert_eq!(relay.requests(), 4);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rotated_secret_works_after_one_refetch_and_the_previous_one_keeps_working() {
    let moto = MotoServer::start();
    let relay = relay_to(&moto).await;
    let admin = admin_client(&moto).await;
    create_secret(&admin, FIRST).await;
    let clock = Arc::new(ManualClock::at(SystemClock.unix_seconds()));
    let store = store_through(&relay).await;
    let handler = EventHandler::new(
        &event_config(),
        store.clone(),
        Arc::new(MemoryReplayStore::default()),
        clock.clone(),
    );
    let verifier = SignedWebhookVerifier::new(&webhook_config(), store, clock.clone());
    assert!(handler.warm_up().await);
    assert!(verifier.warm_up().await.is_ok());
    assert_eq!(
        relay.get_secret_value_calls(),
        4,
        "two caches, two reads each"
    );

    put_new_version(&admin, SECOND).await;
    clock.advance(Duration::from_secs(1));
    let now = clock.unix_seconds();

    // Through the HTTP layer: the new secret is accepted after exactly one refetch.
    let response = serve_event(&handler, signed_event(SECOND, now, "http-second")).await;
    assert_eq!(response.status(), 200);
    assert_eq!(relay.get_secret_value_calls(), 6);

    let matched = |request: HttpRequest| {
        let verifier = &verifier;
        async move {
            let incoming = incoming_webhook(&request);
            verifier
                .verify(&incoming, verifier.answer_by(&incoming))
                .await
                .map(|ok| (ok.verified.matched_secret.into_owned(), ok.secret_refreshed))
        }
    };
    let calls = relay.get_secret_value_calls();
    assert_eq!(
        matched(signed_event(SECOND, now, "v-second"))
            .await
            .unwrap(),
        (CURRENT.to_owned(), true)
    );
    assert_eq!(
        relay.get_secret_value_calls(),
        calls + 2,
        "one refetch: AWSCURRENT and AWSPREVIOUS"
    );
    assert_eq!(
        matched(signed_event(FIRST, now, "v-first")).await.unwrap(),
        (PREVIOUS.to_owned(), false)
    );
    // A forgery right after the refetch causes no other read: the re-read is deferred, and the
    // request answered 503 (it could be a genuine event signed with a newer secret).
    assert!(matches!(
        matched(signed_event(FORGED, now, "v-forged")).await,
        Err(VerificationFailure::RereadDeferred)
    ));
    assert_eq!(relay.get_secret_value_calls(), calls + 2);

    // The next rotation retires the first secret.
    put_new_version(&admin, THIRD).await;
    clock.advance(Duration::from_secs(11));
    let now = clock.unix_seconds();
    assert_eq!(
        matched(signed_event(THIRD, now, "v-third")).await.unwrap(),
        (CURRENT.to_owned(), true)
    );
    assert_eq!(
        matched(signed_event(SECOND, now, "v-second-again"))
            .await
            .unwrap(),
        (PREVIOUS.to_owned(), false)
    );
    // The retired secret matches nothing, and the secret was read a moment ago: deferred (503).
    assert!(matches!(
        matched(signed_event(FIRST, now, "v-first-again")).await,
        Err(VerificationFailure::RereadDeferred)
    ));
    assert_eq!(relay.get_secret_value_calls(), calls + 4);

    // The event handler's cache still holds the first rotation: until its cache time is over or
    // a signature fails, the retired secret still verifies there. The third secret's first
    // request refreshes it, and the first secret is refused from then on: 503 while the next
    // re-read is not due, 401 once it is and still nothing matches.
    let response = serve_event(&handler, signed_event(FIRST, now, "http-first")).await;
    assert_eq!(response.status(), 200);
    let response = serve_event(&handler, signed_event(THIRD, now, "http-third")).await;
    assert_eq!(response.status(), 200);
    let response = serve_event(&handler, signed_event(FIRST, now, "http-first-again")).await;
    assert_eq!(response.status(), 503);
    assert_eq!(relay.get_secret_value_calls(), calls + 6);
    clock.advance(Duration::from_secs(10));
    let now = clock.unix_seconds();
    let response = serve_event(&handler, signed_event(FIRST, now, "http-first-late")).await;
    assert_eq!(response.status(), 401);
    assert_eq!(relay.get_secret_value_calls(), calls + 8);
}

#[tokio::test(flavor = "multi_thread")]
async fn with_moto_stopped_signed_webhooks_get_503_and_no_internals() {
    let mut moto = MotoServer::start();
    let relay = relay_to(&moto).await;
    create_secret(&admin_client(&moto).await, FIRST).await;
    let clock = Arc::new(ManualClock::at(SystemClock.unix_seconds()));
    let store = store_through(&relay).await;
    let warm = EventHandler::new(
        &event_config(),
        store.clone(),
        Arc::new(MemoryReplayStore::default()),
        clock.clone(),
    );
    assert!(warm.warm_up().await);

    moto.stop();

    // A cold start without Secrets Manager: the function starts, and answers 503.
    let cold = EventHandler::new(
        &event_config(),
        store.clone(),
        Arc::new(MemoryReplayStore::default()),
        clock.clone(),
    );
    assert!(!cold.warm_up().await);
    let response = serve_event(&cold, signed_event(FIRST, clock.unix_seconds(), "cold")).await;
    assert_eq!(response.status(), 503);
    assert_eq!(response.headers()["retry-after"], "5");
    assert_eq!(
        String::from_utf8_lossy(response.body().as_ref()),
        r#"{"error":"temporarily unavailable"}"#
    );

    // The answer function: unsigned answers need no secret, signed ones do.
    let answer_config = AnswerConfig::from_settings(&[
        ("VONAGE_WEBHOOK_SECRET_ID", SECRET_ID),
        ("EVENT_URL", "https://voice.example.com/event"),
    ])
    .expect("valid answer settings");
    let answers = AnswerHandler::new(
        &answer_config,
        store.clone(),
        Arc::new(MemoryReplayStore::default()),
        clock.clone(),
    );
    let mut unsigned = signed_event(FIRST, clock.unix_seconds(), "answer-unsigned");
    unsigned.headers_mut().remove("authorization");
    assert_eq!(serve_answer(&answers, unsigned).await.status(), 200);
    let signed = signed_event(FIRST, clock.unix_seconds(), "answer-signed");
    assert_eq!(serve_answer(&answers, signed).await.status(), 503);

    // A warm instance keeps working from its cache until the cache time is over, then gets 503
    // rather than trusting a secret that may have been rotated away.
    let response = serve_event(&warm, signed_event(FIRST, clock.unix_seconds(), "warm-1")).await;
    assert_eq!(response.status(), 200);
    clock.advance(Duration::from_secs(300));
    let response = serve_event(&warm, signed_event(FIRST, clock.unix_seconds(), "warm-2")).await;
    assert_eq!(response.status(), 503);

    assert!(matches!(
        store.secret_string(SECRET_ID, CURRENT).await,
        Err(SecretStoreError::Unavailable(_))
    ));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_store_tells_a_missing_version_from_a_missing_secret() {
    let moto = MotoServer::start();
    let admin = admin_client(&moto).await;
    create_secret(&admin, FIRST).await;
    admin
        .create_secret()
        .name("binary-only")
        .secret_binary(Blob::new(vec![0, 1, 2]))
        .send()
        .await
        .expect("moto creates a binary secret");
    let store = SecretsManagerStore::from_loader(aws_loader(moto.endpoint())).await;

    let current = store.secret_string(SECRET_ID, CURRENT).await.unwrap();
    assert_eq!(
        current
            .as_deref()
            .map(WebhookSecret::parse)
            .map(Result::unwrap),
        Some(WebhookSecret::new(
            FIRST,
            API_KEY,
            Some(APPLICATION_ID.into())
        ))
    );
    assert_eq!(
        store.secret_string(SECRET_ID, PREVIOUS).await.unwrap(),
        None
    );
    assert!(matches!(
        store.secret_string("no-such-secret", CURRENT).await,
        Err(SecretStoreError::NotReadable { .. })
    ));
    let binary = store.secret_string("binary-only", CURRENT).await;
    assert!(
        matches!(&binary, Err(SecretStoreError::NotReadable { problem, .. }) if problem.contains("binary")),
        "{binary:?}"
    );
}
