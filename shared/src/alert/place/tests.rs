use crate::settings::{ALERT_DEDUP_SECONDS, ALERT_REQUIRE_IDEMPOTENCY};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::*;
use crate::clock::ManualClock;
use crate::state::{MemoryIdempotencyStore, StateError};
use crate::voice::VoiceApiError;

const NOW: i64 = 1_800_000_000;
const DEADLINE_MS: u64 = (NOW as u64 + 30) * 1000 + 500;

#[test]
fn settings_default_to_five_minutes_and_placing_when_the_store_is_down() {
    let config = AlertIdempotencyConfig::from_settings(&[("X", "1")]).unwrap();
    assert_eq!(config, AlertIdempotencyConfig::default());
    assert_eq!(config.dedup_window, Duration::from_secs(300));
    assert!(!config.require);
    let config = AlertIdempotencyConfig::from_settings(&[
        (ALERT_DEDUP_SECONDS, "60"),
        (ALERT_REQUIRE_IDEMPOTENCY, "true"),
    ])
    .unwrap();
    assert_eq!(config.dedup_window, Duration::from_secs(60));
    assert!(config.require);
    for (name, value) in [
        (ALERT_DEDUP_SECONDS, "0"),
        (ALERT_DEDUP_SECONDS, "soon"),
        (ALERT_REQUIRE_IDEMPOTENCY, "maybe"),
    ] {
        let error = AlertIdempotencyConfig::from_settings(&[(name, value)]).unwrap_err();
        assert!(
            matches!(error, ConfigError::Invalid { name: n, .. } if n == name),
            "{error}"
        );
    }
}

#[test]
fn an_alert_id_is_the_key_and_is_taken_out_of_the_input() {
    let (key, rest) = alert_key(
        &json!({"alert_id": "disk-full:db-1", "to": "447700900000", "text": "Disk full"}),
    )
    .unwrap();
    assert_eq!(key.key, IdempotencyKey::new("alert:id:disk-full:db-1"));
    assert!(key.from_alert_id);
    assert_eq!(rest, json!({"to": "447700900000", "text": "Disk full"}));
    // The payload hash is the input's, so the same id with another input is told apart.
    let (same_input, _) = alert_key(&json!({"to": "447700900000", "text": "Disk full"})).unwrap();
    assert_eq!(key.payload_hash, same_input.payload_hash);
    let (other_input, _) =
        alert_key(&json!({"alert_id": "disk-full:db-1", "to": "447700900000", "text": "Disk ok"}))
            .unwrap();
    assert_eq!(other_input.key, key.key);
    assert_ne!(other_input.payload_hash, key.payload_hash);
}

#[test]
fn without_an_alert_id_the_key_is_the_hash_of_the_normalised_input() {
    let (key, rest) = alert_key(&json!({"to": "447700900000", "code": "4821"})).unwrap();
    assert!(!key.from_alert_id);
    assert_eq!(
        key.payload_hash,
        sha256_hex(br#"{"code":"4821","to":"447700900000"}"#)
    );
    assert_eq!(
        key.key.as_str(),
        format!("alert:sha256:{}", key.payload_hash)
    );
    assert_eq!(rest, json!({"to": "447700900000", "code": "4821"}));
    // Key order, whitespace, explicit nulls and a null alert_id do not make another alert.
    for same in [
        r#"{"code":"4821","to":"447700900000"}"#,
        r#"{ "to" : "447700900000", "code": "4821", "from": null }"#,
        r#"{"alert_id": null, "code":"4821","to":"447700900000"}"#,
    ] {
        let (other, _) = alert_key(&serde_json::from_str(same).unwrap()).unwrap();
        assert_eq!(
            (&other.key, &other.payload_hash, other.from_alert_id),
            (&key.key, &key.payload_hash, key.from_alert_id),
            "{same}"
        );
        assert_ne!(
            other.alert_id, key.alert_id,
            "a new id for each unnamed alert"
        );
    }
    let (different, _) = alert_key(&json!({"to": "447700900000", "code": "4822"})).unwrap();
    assert_ne!(different.key, key.key);
    assert_eq!(
        normalised(&json!({"b": {"z": 1, "a": [{"y": 2, "x": null}]}, "a": null})),
        r#"{"b":{"a":[{"x":null,"y":2}],"z":1}}"#
    );
}

#[test]
fn a_malformed_alert_id_is_refused_by_name() {
    let longest = "a".repeat(MAX_ALERT_ID_CHARACTERS);
    assert!(alert_key(&json!({"alert_id": longest})).is_ok());
    assert!(alert_key(&json!({"alert_id": "A-z_0.9:x"})).is_ok());
    let too_long = "a".repeat(MAX_ALERT_ID_CHARACTERS + 1);
    for bad in [
        json!(""),
        json!(too_long),
        json!("has space"),
        json!("slash/no"),
        json!("é"),
        json!(42),
        json!(["a"]),
    ] {
        let error = alert_key(&json!({"alert_id": bad, "to": "1"})).unwrap_err();
        assert_eq!(error.field, ALERT_ID_FIELD, "{bad}");
    }
}

// ---- the wrapper, with the memory store and a stand-in for placing the call ----

struct Placer {
    calls: AtomicUsize,
}

impl Placer {
    fn new() -> Arc<Self> {
        Arc::new(Self {
            calls: AtomicUsize::new(0),
        })
    }

    fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
}

async fn run(
    input: Value,
    config: &AlertIdempotencyConfig,
    store: &MemoryIdempotencyStore,
    clock: &ManualClock,
    placer: &Arc<Placer>,
    outcome: fn(usize) -> Result<AlertSent, AlertError>,
) -> Value {
    let budget = Budget::until(
        DEADLINE_MS,
        Duration::ZERO,
        Arc::new(ManualClock::at(clock.unix_seconds())),
    );
    let invocation = Invocation {
        clock,
        budget: &budget,
    };
    let placer = placer.clone();
    handle_alert_once(
        &input,
        config,
        store,
        invocation,
        move |input, _| async move {
            assert!(input.get(ALERT_ID_FIELD).is_none(), "alert_id is ours");
            let n = placer.calls.fetch_add(1, Ordering::SeqCst);
            match AlertRequest::from_json(&input) {
                Err(invalid) => Err(AlertError::InvalidInput(invalid)),
                Ok(_) => outcome(n),
            }
        },
    )
    .await
}

fn placed(n: usize) -> Result<AlertSent, AlertError> {
    Ok(AlertSent {
        call_uuid: format!("call-{n}"),
        conversation_uuid: None,
        status: "started".into(),
    })
}

fn unknown(_: usize) -> Result<AlertSent, AlertError> {
    Err(AlertError::Voice(VoiceApiError::OutcomeUnknown {
        status: Some(500),
        body: String::new(),
        reason: "server error".into(),
    }))
}

fn rejected(_: usize) -> Result<AlertSent, AlertError> {
    Err(AlertError::Voice(VoiceApiError::Rejected {
        status: 400,
        body: "bad".into(),
    }))
}

fn alert(id: &str, text: &str) -> Value {
    json!({"alert_id": id, "to": "447700900000", "text": text})
}

/// A fresh store, a clock at [`NOW`] and a placer that has placed nothing.
struct Fixture {
    store: MemoryIdempotencyStore,
    clock: ManualClock,
    placer: Arc<Placer>,
}

fn fixture() -> Fixture {
    Fixture {
        store: MemoryIdempotencyStore::new(),
        clock: ManualClock::at(NOW),
        placer: Placer::new(),
    }
}

impl Fixture {
    /// One invocation with `input` under `config`, the call's result made by `outcome`.
    async fn run(
        &self,
        input: Value,
        config: &AlertIdempotencyConfig,
        outcome: fn(usize) -> Result<AlertSent, AlertError>,
    ) -> Value {
        run(
            input,
            config,
            &self.store,
            &self.clock,
            &self.placer,
            outcome,
        )
        .await
    }
}

#[tokio::test]
async fn a_repeat_gets_the_stored_result_and_places_no_second_call() {
    let fx = fixture();
    let config = AlertIdempotencyConfig::default();
    let first = fx.run(alert("a1", "Disk full"), &config, placed).await;
    assert_eq!(first["call_uuid"], "call-0");
    assert!(first.get("duplicate").is_none());
    fx.clock.advance(Duration::from_secs(299));
    let repeat = fx.run(alert("a1", "Disk full"), &config, placed).await;
    assert_eq!(repeat["call_uuid"], "call-0");
    assert_eq!(repeat["duplicate"], true);
    assert_eq!(fx.placer.calls(), 1);
    // After the window the same alert is a new one.
    fx.clock.advance(Duration::from_secs(2));
    let later = fx.run(alert("a1", "Disk full"), &config, placed).await;
    assert_eq!(later["call_uuid"], "call-1");
    assert_eq!(fx.placer.calls(), 2);
}

#[tokio::test]
async fn an_unknown_outcome_is_stored_and_never_placed_again_but_a_refusal_frees_the_key() {
    let fx = fixture();
    let config = AlertIdempotencyConfig::default();
    let first = fx.run(alert("u", "x"), &config, unknown).await;
    assert_eq!(first["error"], "outcome_unknown");
    let repeat = fx.run(alert("u", "x"), &config, placed).await;
    assert_eq!(repeat["error"], "outcome_unknown");
    assert_eq!(repeat["duplicate"], true);
    assert_eq!(fx.placer.calls(), 1);

    let refused = fx.run(alert("r", "x"), &config, rejected).await;
    assert_eq!(refused["error"], "call_rejected");
    let retry = fx.run(alert("r", "x"), &config, placed).await;
    assert_eq!(retry["call_uuid"], "call-2");
    assert!(retry.get("duplicate").is_none());
}

#[tokio::test]
async fn in_progress_and_reused_keys_are_refused_without_a_call() {
    let fx = fixture();
    let config = AlertIdempotencyConfig::default();
    let (key, _) = alert_key(&alert("busy", "x")).unwrap();
    // Another invocation holds the key.
    assert_eq!(
        fx.store.begin(key.operation().claim(NOW + 30, NOW)).await,
        Ok(Claim::Began)
    );
    let busy = fx.run(alert("busy", "x"), &config, placed).await;
    assert_eq!(busy["error"], "in_progress");
    assert_eq!(busy["retryable"], true);
    let reused = fx.run(alert("busy", "y"), &config, placed).await;
    assert_eq!(reused["error"], "idempotency_key_reused");
    assert_eq!(reused["field"], ALERT_ID_FIELD);
    assert_eq!(fx.placer.calls(), 0);
}

#[tokio::test]
async fn a_store_that_is_down_places_the_call_and_says_so_unless_idempotency_is_required() {
    let fx = fixture();
    fx.store
        .fail_with(Some(StateError::Unavailable("down".into())));
    let lenient = AlertIdempotencyConfig::default();
    let placed_anyway = fx.run(alert("d", "x"), &lenient, placed).await;
    assert_eq!(placed_anyway["call_uuid"], "call-0");
    assert_eq!(placed_anyway["idempotency"], "unavailable");

    let strict = AlertIdempotencyConfig {
        require: true,
        ..lenient
    };
    let refused = fx.run(alert("d", "x"), &strict, placed).await;
    assert_eq!(refused["error"], "idempotency_unavailable");
    assert_eq!(refused["retryable"], true);
    assert_eq!(fx.placer.calls(), 1);
}

#[tokio::test]
async fn invalid_input_is_answered_without_touching_the_store() {
    let fx = fixture();
    let config = AlertIdempotencyConfig::default();
    let bad_id = fx
        .run(
            json!({"alert_id": "no spaces", "to": "447700900000", "code": "4821"}),
            &config,
            placed,
        )
        .await;
    assert_eq!(bad_id["error"], "invalid_input");
    assert_eq!(bad_id["field"], ALERT_ID_FIELD);
    let bad_input = fx
        .run(
            json!({"alert_id": "ok", "to": "447700900000"}),
            &config,
            placed,
        )
        .await;
    assert_eq!(bad_input["error"], "invalid_input");
    assert_eq!(bad_input["field"], "code");
    assert_eq!(fx.store.calls(), 0);
}
