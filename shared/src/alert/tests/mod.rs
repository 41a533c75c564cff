mod request;

use super::*;
use crate::clock::{ManualClock, SystemClock};
use crate::secrets::InMemorySecretStore;
use crate::settings::{
    ALERT_LANGUAGE, DEFAULT_SECRET_CACHE, EVENT_URL, VONAGE_API_BASE_URL,
    VONAGE_APPLICATION_SECRET_ID, VONAGE_FROM_NUMBER,
};
use crate::voice::{CreateCallRequest, CreateCallResponse};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

const EVENT: &str = "https://hooks.example.com/event";

fn settings() -> HashMap<String, String> {
    HashMap::from([
        (VONAGE_APPLICATION_SECRET_ID.into(), "vonage/app".into()),
        (EVENT_URL.into(), EVENT.into()),
    ])
}

fn config() -> AlertConfig {
    AlertConfig::from_settings(&settings()).unwrap()
}

fn request(input: Value) -> AlertRequest {
    AlertRequest::from_json(&input).unwrap()
}

fn refusal(input: Value) -> InvalidInput {
    AlertRequest::from_json(&input).unwrap_err()
}

#[test]
fn config_defaults_and_random_caller_id() {
    let config = config();
    assert_eq!(config.application_secret_id, "vonage/app");
    assert_eq!(config.event_url, EVENT);
    assert_eq!(config.language, "en-US");
    assert_eq!(config.caller_id, CallerId::RandomLinkedNumber);
    assert_eq!(config.voice.base_url, "https://api.nexmo.com");
}

#[test]
fn config_reads_every_setting() {
    let mut settings = settings();
    settings.insert(
        VONAGE_API_BASE_URL.into(),
        "https://api-eu-3.vonage.com/".into(),
    );
    settings.insert(VONAGE_FROM_NUMBER.into(), "+44 7700 900001".into());
    settings.insert(ALERT_LANGUAGE.into(), "en-GB".into());
    let config = AlertConfig::from_settings(&settings).unwrap();
    assert_eq!(
        config.voice.create_call_url(),
        "https://api-eu-3.vonage.com/v1/calls"
    );
    assert_eq!(
        config.caller_id,
        CallerId::Number(PhoneNumber::parse("447700900001").unwrap())
    );
    assert_eq!(config.language, "en-GB");
}

#[test]
fn config_errors_name_the_variable() {
    let cases = [
        (VONAGE_APPLICATION_SECRET_ID, ""),
        (EVENT_URL, ""),
        (EVENT_URL, "hooks.example.com/event"),
        (VONAGE_API_BASE_URL, "api.nexmo.com"),
        (VONAGE_FROM_NUMBER, "VONAGE"),
        (ALERT_LANGUAGE, "english please"),
    ];
    for (name, value) in cases {
        let mut settings = settings();
        settings.insert(name.into(), value.into());
        let error = AlertConfig::from_settings(&settings).unwrap_err();
        assert!(error.to_string().contains(name), "{name}={value}: {error}");
    }
}

#[test]
fn voice_errors_serialise_with_status_and_body() {
    let unknown = AlertError::from(VoiceApiError::OutcomeUnknown {
        status: Some(502),
        body: "bad gateway".into(),
        reason: "the Voice API failed while handling the request".into(),
    });
    let payload = unknown.to_json();
    assert_eq!(payload["error"], "outcome_unknown");
    assert_eq!(payload["status"], 502);
    assert_eq!(payload["body"], "bad gateway");
    assert!(payload["message"].as_str().unwrap().contains("unknown"));
    let timeout = AlertError::from(VoiceApiError::OutcomeUnknown {
        status: None,
        body: String::new(),
        reason: "no response within 10s".into(),
    });
    assert_eq!(timeout.to_json()["status"], Value::Null);
    let limited = AlertError::from(VoiceApiError::RateLimited {
        attempts: 4,
        body: "{}".into(),
    });
    assert_eq!(limited.to_json()["attempts"], 4);
}

/// A budget no test here comes near.
fn budget() -> Budget {
    Budget::lasting(Duration::from_secs(30), Arc::new(SystemClock))
}

// An in-memory stand-in for the Voice API; the secret store's comes with the secrets module.

fn application_secret() -> InMemorySecretStore {
    InMemorySecretStore::new().with_secret(
        "vonage/app",
        json!({"application_id": "app-1", "private_key": crate::voice::test_keys::test_key_pair().0,
               "api_key": "k", "api_secret": "s"})
        .to_string(),
    )
}

#[derive(Default)]
struct RecordingVoice {
    calls: Mutex<Vec<Value>>,
}

#[async_trait::async_trait]
impl VoiceApi for RecordingVoice {
    async fn create_call(
        &self,
        signer: &ApplicationJwtSigner,
        request: &CreateCallRequest,
        _budget: &Budget,
    ) -> Result<CreateCallResponse, VoiceApiError> {
        assert_eq!(signer.application_id(), "app-1");
        self.calls
            .lock()
            .unwrap()
            .push(serde_json::to_value(request).unwrap());
        Ok(CreateCallResponse {
            uuid: "63f61863-4a51-4f6b-86e1-46edebcf9356".into(),
            status: Some("started".into()),
            direction: Some("outbound".into()),
            conversation_uuid: Some("CON-f972836a-550f-45fa-956c-12a2ab5b7d22".into()),
        })
    }
}

/// A Voice API that refuses every token, as Vonage does for a key that was rotated away.
struct RefusingVoice;

#[async_trait::async_trait]
impl VoiceApi for RefusingVoice {
    async fn create_call(
        &self,
        _signer: &ApplicationJwtSigner,
        _request: &CreateCallRequest,
        _budget: &Budget,
    ) -> Result<CreateCallResponse, VoiceApiError> {
        Err(VoiceApiError::Rejected {
            status: 401,
            body: r#"{"title":"Unauthorized"}"#.into(),
        })
    }
}

#[tokio::test]
async fn warm_alerts_reuse_the_cached_secret_until_vonage_refuses_the_key() {
    use crate::secrets::CachedSecretStore;
    let store = Arc::new(application_secret());
    let cached = CachedSecretStore::new(Arc::clone(&store), DEFAULT_SECRET_CACHE);
    let input = json!({"to": "447700900000", "code": "4821"});
    for _ in 0..3 {
        let outcome = handle_alert(
            &input,
            &config(),
            &cached,
            &RecordingVoice::default(),
            &budget(),
        )
        .await;
        assert!(outcome.is_ok(), "{outcome:?}");
    }
    assert_eq!(store.reads(), 1, "warm invocations read the secret again");

    let refused = handle_alert(&input, &config(), &cached, &RefusingVoice, &budget()).await;
    assert_eq!(response_payload(&refused)["error"], "call_rejected");
    handle_alert(
        &input,
        &config(),
        &cached,
        &RecordingVoice::default(),
        &budget(),
    )
    .await
    .unwrap();
    assert_eq!(store.reads(), 2, "after a 401 the key is read afresh");
}

#[tokio::test]
async fn a_valid_alert_places_one_call_and_returns_its_uuids() {
    let voice = RecordingVoice::default();
    let outcome = handle_alert(
        &json!({"to": "447700900000", "code": "4821"}),
        &config(),
        &application_secret(),
        &voice,
        &budget(),
    )
    .await;
    assert_eq!(
        response_payload(&outcome),
        json!({"call_uuid": "63f61863-4a51-4f6b-86e1-46edebcf9356",
               "conversation_uuid": "CON-f972836a-550f-45fa-956c-12a2ab5b7d22",
               "status": "started"})
    );
    let calls = voice.calls.lock().unwrap();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0]["random_from_number"], true);
    assert_eq!(calls[0]["ncco"][0]["text"], "Your code is 4, 8, 2, 1.");
}

#[tokio::test]
async fn invalid_input_reads_no_secret_and_places_no_call() {
    let voice = RecordingVoice::default();
    let secrets = application_secret();
    let outcome = handle_alert(
        &json!({"to": "447700900000", "code": "12"}),
        &config(),
        &secrets,
        &voice,
        &budget(),
    )
    .await;
    assert_eq!(response_payload(&outcome)["field"], "code");
    assert_eq!(secrets.reads(), 0);
    assert!(voice.calls.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_missing_or_broken_secret_places_no_call_and_echoes_no_key() {
    let voice = RecordingVoice::default();
    let input = json!({"to": "447700900000", "text": "hi"});
    let absent = InMemorySecretStore::new();
    let outcome = handle_alert(&input, &config(), &absent, &voice, &budget()).await;
    assert_eq!(response_payload(&outcome)["error"], "secret_unavailable");

    let no_current_version = InMemorySecretStore::new();
    no_current_version.put_version("vonage/app", crate::secrets::PREVIOUS, "{}");
    let outcome = handle_alert(&input, &config(), &no_current_version, &voice, &budget()).await;
    assert_eq!(response_payload(&outcome)["error"], "secret_unavailable");

    let broken = InMemorySecretStore::new().with_secret(
        "vonage/app",
        json!({"application_id": "app-1",
               "private_key": "-----BEGIN PRIVATE KEY-----\nTOPSECRET\n-----END PRIVATE KEY-----"})
        .to_string(),
    );
    let outcome = handle_alert(&input, &config(), &broken, &voice, &budget()).await;
    let payload = response_payload(&outcome);
    assert_eq!(payload["error"], "invalid_credentials");
    assert!(!payload.to_string().contains("TOPSECRET"), "{payload}");
    assert!(voice.calls.lock().unwrap().is_empty());
}

/// A Secrets Manager that never answers.
struct HangingSecrets;

#[async_trait::async_trait]
impl SecretStore for HangingSecrets {
    async fn secret_string(
        &self,
        _secret_id: &str,
        _version_stage: &str,
    ) -> Result<Option<String>, crate::secrets::SecretStoreError> {
        std::future::pending().await
    }
}

#[tokio::test(start_paused = true)]
async fn a_secret_read_that_outlasts_the_budget_is_cut_and_no_call_is_placed() {
    let voice = RecordingVoice::default();
    let clock = Arc::new(ManualClock::at(1_800_000_000));
    // Deadline 3 s ahead: 2 s of budget after the whole-second rounding and the margin,
    // give or take the rounding.
    let budget = Budget::for_invocation(1_800_000_003_000, clock);
    let started = tokio::time::Instant::now();
    let outcome = handle_alert(
        &json!({"to": "447700900000", "code": "4821"}),
        &config(),
        &HangingSecrets,
        &voice,
        &budget,
    )
    .await;
    assert!(
        started.elapsed() <= Duration::from_secs(3),
        "answered before the deadline"
    );
    let payload = response_payload(&outcome);
    assert_eq!(payload["error"], "deadline_exceeded", "{payload}");
    let message = payload["message"].as_str().unwrap();
    assert!(
        message.contains("reading the application secret"),
        "{message}"
    );
    assert!(message.contains("no call was placed"), "{message}");
    assert!(voice.calls.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_spent_budget_reads_no_secret_and_places_no_call() {
    let voice = RecordingVoice::default();
    let secrets = application_secret();
    let clock = Arc::new(ManualClock::at(1_800_000_000));
    let spent = Budget::for_invocation(1_800_000_000_000, clock);
    let outcome = handle_alert(
        &json!({"to": "447700900000", "code": "4821"}),
        &config(),
        &secrets,
        &voice,
        &spent,
    )
    .await;
    assert_eq!(response_payload(&outcome)["error"], "deadline_exceeded");
    assert_eq!(secrets.reads(), 0);
    assert!(voice.calls.lock().unwrap().is_empty());
}
