//! send-alert, once per alert: the key an invocation is deduplicated by, and a wrapper that runs
//! the placing of the call through an [`IdempotencyStore`] with Powertools' semantics.
//!
//! - The key is the input's optional `alert_id` (1 to 128 characters of `[A-Za-z0-9._:-]`), or
//!   else the SHA-256 of the normalised input: the input without `alert_id` and without fields
//!   set to `null` (which read as "not given"), its object keys sorted, written compactly. The
//!   same hash is the payload hash, so an `alert_id` sent again with another input is refused
//!   (`idempotency_key_reused`) rather than answered with another alert's call.
//! - An invalid input is answered as before, without a request to the store.
//! - The key is claimed in progress until the invocation's deadline; the call is placed; the
//!   result is stored for `ALERT_DEDUP_SECONDS`, an `outcome_unknown` result included (it may have
//!   rung the phone: a repeat must not ring it again). A result that certainly placed no call
//!   releases the key, so a retry may place it.
//! - A repeat gets the stored result with `"duplicate": true`; a repeat while the first still
//!   runs gets the retryable `in_progress` error.
//! - If the store fails, the call is placed anyway and the output carries
//!   `"idempotency": "unavailable"` (an alert beats a duplicate), unless
//!   `ALERT_REQUIRE_IDEMPOTENCY=true`, which refuses with the retryable `idempotency_unavailable`.

use std::time::Duration;

use serde_json::{Value, json};

use crate::alert::{AlertError, AlertRequest, AlertSent, InvalidInput, response_payload};
use crate::deadline::Budget;
use crate::observe::logging::capped;
use crate::settings::{self, ConfigError, Settings};
use crate::state::{Claim, IdempotencyKey, IdempotencyStore, sha256_hex};
use crate::webhook::Clock;

pub const ALERT_DEDUP_SECONDS: &str = "ALERT_DEDUP_SECONDS";
pub const ALERT_REQUIRE_IDEMPOTENCY: &str = "ALERT_REQUIRE_IDEMPOTENCY";
pub const DEFAULT_ALERT_DEDUP: Duration = Duration::from_secs(300);

/// The optional input field naming an alert.
pub const ALERT_ID_FIELD: &str = "alert_id";
pub const MAX_ALERT_ID_CHARACTERS: usize = 128;

/// send-alert's idempotency settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AlertIdempotencyConfig {
    /// How long a placed alert's result is kept and returned to repeats (`ALERT_DEDUP_SECONDS`).
    pub dedup_window: Duration,
    /// Refuse to place a call when the store cannot be reached (`ALERT_REQUIRE_IDEMPOTENCY`).
    pub require: bool,
}

impl AlertIdempotencyConfig {
    pub fn from_settings(settings: &impl Settings) -> Result<Self, ConfigError> {
        let dedup_window =
            settings::seconds_or(settings, ALERT_DEDUP_SECONDS, DEFAULT_ALERT_DEDUP)?;
        if dedup_window.is_zero() {
            return Err(ConfigError::Invalid {
                name: ALERT_DEDUP_SECONDS,
                problem: "must be at least 1 second".into(),
            });
        }
        Ok(Self {
            dedup_window,
            require: settings::flag_or(settings, ALERT_REQUIRE_IDEMPOTENCY, false)?,
        })
    }
}

impl Default for AlertIdempotencyConfig {
    fn default() -> Self {
        Self {
            dedup_window: DEFAULT_ALERT_DEDUP,
            require: false,
        }
    }
}

/// What an alert invocation is deduplicated by.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AlertKey {
    pub key: IdempotencyKey,
    /// SHA-256 (hex) of the normalised input without `alert_id`.
    pub payload_hash: String,
    /// True when the caller named the alert; false when the key is the payload hash.
    pub from_alert_id: bool,
    /// The alert's id: the caller's `alert_id`, or else a new UUID. Returned in the payload
    /// (so a repeat gets the first one) and the key of the alert's outcome.
    pub alert_id: String,
}

/// The key for `input`, and the input without `alert_id` (what the call is placed from). Refuses
/// only a malformed `alert_id`; any other problem with the input is the request check's to find.
pub fn alert_key(input: &Value) -> Result<(AlertKey, Value), InvalidInput> {
    let mut rest = input.clone();
    let alert_id = match rest.as_object_mut() {
        Some(fields) => fields.shift_remove(ALERT_ID_FIELD),
        None => None,
    };
    let alert_id = match alert_id {
        None | Some(Value::Null) => None,
        Some(Value::String(id)) if is_alert_id(&id) => Some(id),
        Some(_) => {
            return Err(InvalidInput {
                field: ALERT_ID_FIELD.to_owned(),
                message: format!(
                    "must be 1 to {MAX_ALERT_ID_CHARACTERS} characters of letters, digits, '.', '_', ':' and '-'"
                ),
            });
        }
    };
    let payload_hash = sha256_hex(normalised(&rest).as_bytes());
    let key = match &alert_id {
        Some(id) => IdempotencyKey::new(format!("alert:id:{id}")),
        None => IdempotencyKey::new(format!("alert:sha256:{payload_hash}")),
    };
    Ok((
        AlertKey {
            key,
            payload_hash,
            from_alert_id: alert_id.is_some(),
            alert_id: alert_id.unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
        },
        rest,
    ))
}

fn is_alert_id(id: &str) -> bool {
    (1..=MAX_ALERT_ID_CHARACTERS).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'))
}

/// The input as hashed: top-level `null` fields dropped, every object's keys sorted, compact.
pub fn normalised(input: &Value) -> String {
    let mut value = input.clone();
    if let Some(fields) = value.as_object_mut() {
        fields.retain(|_, field| !field.is_null());
    }
    value.sort_all_objects();
    value.to_string()
}

/// When the invocation runs and must end.
#[derive(Clone, Copy)]
pub struct Invocation<'a> {
    pub clock: &'a dyn Clock,
    /// The invocation's time budget (from the Lambda context's deadline): the key is held in
    /// progress until it runs out.
    pub budget: &'a Budget,
}

/// The whole of an idempotent send-alert: `place` is handed the input without `alert_id`, and
/// the alert's id ([`AlertKey::alert_id`]), and places the call (`crate::alert::handle_alert`);
/// its outcome is stored as described in the module docs. Returns the function's payload, with
/// `alert_id` when a call was placed.
pub async fn handle_alert_once<F, Fut>(
    input: &Value,
    config: &AlertIdempotencyConfig,
    store: &dyn IdempotencyStore,
    invocation: Invocation<'_>,
    place: F,
) -> Value
where
    F: FnOnce(Value, String) -> Fut,
    Fut: Future<Output = Result<AlertSent, AlertError>>,
{
    let (key, input) = match alert_key(input) {
        Ok(derived) => derived,
        Err(invalid) => {
            let error = AlertError::InvalidInput(invalid);
            crate::observe::metrics::count(crate::observe::metrics::names::ALERT_FAILED);
            tracing::error!(error = error.kind(), detail = %error, "alert not placed");
            return error.to_json();
        }
    };
    if AlertRequest::from_json(&input).is_err() {
        // Refused before any secret, store or call: nothing to deduplicate.
        return response_payload(&place(input, key.alert_id).await);
    }
    let now = invocation.clock.unix_seconds();
    // Rounded up: the record must not expire while this invocation may still place the call.
    let left = invocation.budget.remaining().as_secs().saturating_add(1);
    let in_progress_until = now.saturating_add(i64::try_from(left).unwrap_or(i64::MAX));
    let claim = store
        .begin(&key.key, &key.payload_hash, in_progress_until, now)
        .await;
    let key_field = if key.from_alert_id {
        ALERT_ID_FIELD
    } else {
        "$"
    };
    match claim {
        Ok(Claim::Began) => {}
        Ok(Claim::Completed(mut stored)) => {
            crate::observe::metrics::count(crate::observe::metrics::names::ALERT_DUPLICATE);
            tracing::info!(
                duplicate = true,
                key = %capped(key.key.as_str()),
                "alert already handled: the stored result is returned and no call is placed"
            );
            stored["duplicate"] = json!(true);
            return stored;
        }
        Ok(Claim::InProgress { expires_at }) => {
            tracing::warn!(key = %capped(key.key.as_str()), "alert in progress elsewhere");
            return json!({
                "error": "in_progress",
                "retryable": true,
                "field": key_field,
                "message": format!("this alert is being placed by another invocation; retry after {expires_at} (Unix seconds)"),
            });
        }
        Ok(Claim::KeyReused) => {
            tracing::warn!(key = %capped(key.key.as_str()), "idempotency key reused with another input");
            return json!({
                "error": "idempotency_key_reused",
                "field": key_field,
                "message": "this key was used for a different alert within the deduplication window",
            });
        }
        Err(error) if config.require => {
            crate::observe::metrics::count(crate::observe::metrics::names::ALERT_FAILED);
            tracing::error!(error = error.kind(), detail = %error, "idempotency store unavailable: alert refused");
            return json!({
                "error": "idempotency_unavailable",
                "retryable": true,
                "message": format!("the idempotency store could not be used ({}); ALERT_REQUIRE_IDEMPOTENCY is set, so no call was placed", error.kind()),
            });
        }
        Err(error) => {
            tracing::warn!(error = error.kind(), detail = %error, "idempotency store unavailable: placing the alert anyway");
            let mut payload = with_alert_id(&place(input, key.alert_id.clone()).await, &key);
            payload["idempotency"] = json!("unavailable");
            return payload;
        }
    }

    let outcome = place(input, key.alert_id.clone()).await;
    let mut payload = with_alert_id(&outcome, &key);
    let recorded = if call_may_have_been_placed(&outcome) {
        let expires_at = invocation
            .clock
            .unix_seconds()
            .saturating_add(i64::try_from(config.dedup_window.as_secs()).unwrap_or(i64::MAX));
        store
            .complete(&key.key, &key.payload_hash, &payload, expires_at)
            .await
    } else {
        store.release(&key.key, &key.payload_hash).await
    };
    if let Err(error) = recorded {
        tracing::warn!(error = error.kind(), detail = %error, "the alert's outcome was not recorded in the idempotency store");
        payload["idempotency"] = json!("unavailable");
    }
    payload
}

/// The payload of `outcome`, naming the alert when a call was placed.
fn with_alert_id(outcome: &Result<AlertSent, AlertError>, key: &AlertKey) -> Value {
    let mut payload = response_payload(outcome);
    if outcome.is_ok() {
        payload[ALERT_ID_FIELD] = json!(key.alert_id);
    }
    payload
}

/// Whether a repeat must get this outcome rather than a new call: a placed call, and one that
/// may have been placed.
fn call_may_have_been_placed(outcome: &Result<AlertSent, AlertError>) -> bool {
    match outcome {
        Ok(_) => true,
        Err(AlertError::Voice(error)) => !error.call_certainly_not_placed(),
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::state::{MemoryIdempotencyStore, StateError};
    use crate::voice::VoiceApiError;
    use crate::webhook::ManualClock;

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
        let (same_input, _) =
            alert_key(&json!({"to": "447700900000", "text": "Disk full"})).unwrap();
        assert_eq!(key.payload_hash, same_input.payload_hash);
        let (other_input, _) = alert_key(
            &json!({"alert_id": "disk-full:db-1", "to": "447700900000", "text": "Disk ok"}),
        )
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

    #[tokio::test]
    async fn a_repeat_gets_the_stored_result_and_places_no_second_call() {
        let (store, clock, placer) = (
            MemoryIdempotencyStore::new(),
            ManualClock::at(NOW),
            Placer::new(),
        );
        let config = AlertIdempotencyConfig::default();
        let first = run(
            alert("a1", "Disk full"),
            &config,
            &store,
            &clock,
            &placer,
            placed,
        )
        .await;
        assert_eq!(first["call_uuid"], "call-0");
        assert!(first.get("duplicate").is_none());
        clock.advance(Duration::from_secs(299));
        let repeat = run(
            alert("a1", "Disk full"),
            &config,
            &store,
            &clock,
            &placer,
            placed,
        )
        .await;
        assert_eq!(repeat["call_uuid"], "call-0");
        assert_eq!(repeat["duplicate"], true);
        assert_eq!(placer.calls(), 1);
        // After the window the same alert is a new one.
        clock.advance(Duration::from_secs(2));
        let later = run(
            alert("a1", "Disk full"),
            &config,
            &store,
            &clock,
            &placer,
            placed,
        )
        .await;
        assert_eq!(later["call_uuid"], "call-1");
        assert_eq!(placer.calls(), 2);
    }

    #[tokio::test]
    async fn an_unknown_outcome_is_stored_and_never_placed_again_but_a_refusal_frees_the_key() {
        let (store, clock, placer) = (
            MemoryIdempotencyStore::new(),
            ManualClock::at(NOW),
            Placer::new(),
        );
        let config = AlertIdempotencyConfig::default();
        let first = run(alert("u", "x"), &config, &store, &clock, &placer, unknown).await;
        assert_eq!(first["error"], "outcome_unknown");
        let repeat = run(alert("u", "x"), &config, &store, &clock, &placer, placed).await;
        assert_eq!(repeat["error"], "outcome_unknown");
        assert_eq!(repeat["duplicate"], true);
        assert_eq!(placer.calls(), 1);

        let refused = run(alert("r", "x"), &config, &store, &clock, &placer, rejected).await;
        assert_eq!(refused["error"], "call_rejected");
        let retry = run(alert("r", "x"), &config, &store, &clock, &placer, placed).await;
        assert_eq!(retry["call_uuid"], "call-2");
        assert!(retry.get("duplicate").is_none());
    }

    #[tokio::test]
    async fn in_progress_and_reused_keys_are_refused_without_a_call() {
        let (store, clock, placer) = (
            MemoryIdempotencyStore::new(),
            ManualClock::at(NOW),
            Placer::new(),
        );
        let config = AlertIdempotencyConfig::default();
        let (key, _) = alert_key(&alert("busy", "x")).unwrap();
        // Another invocation holds the key.
        assert_eq!(
            store
                .begin(&key.key, &key.payload_hash, NOW + 30, NOW)
                .await,
            Ok(Claim::Began)
        );
        let busy = run(alert("busy", "x"), &config, &store, &clock, &placer, placed).await;
        assert_eq!(busy["error"], "in_progress");
        assert_eq!(busy["retryable"], true);
        let reused = run(alert("busy", "y"), &config, &store, &clock, &placer, placed).await;
        assert_eq!(reused["error"], "idempotency_key_reused");
        assert_eq!(reused["field"], ALERT_ID_FIELD);
        assert_eq!(placer.calls(), 0);
    }

    #[tokio::test]
    async fn a_store_that_is_down_places_the_call_and_says_so_unless_idempotency_is_required() {
        let (store, clock, placer) = (
            MemoryIdempotencyStore::new(),
            ManualClock::at(NOW),
            Placer::new(),
        );
        store.fail_with(Some(StateError::Unavailable("down".into())));
        let lenient = AlertIdempotencyConfig::default();
        let placed_anyway = run(alert("d", "x"), &lenient, &store, &clock, &placer, placed).await;
        assert_eq!(placed_anyway["call_uuid"], "call-0");
        assert_eq!(placed_anyway["idempotency"], "unavailable");

        let strict = AlertIdempotencyConfig {
            require: true,
            ..lenient
        };
        let refused = run(alert("d", "x"), &strict, &store, &clock, &placer, placed).await;
        assert_eq!(refused["error"], "idempotency_unavailable");
        assert_eq!(refused["retryable"], true);
        assert_eq!(placer.calls(), 1);
    }

    #[tokio::test]
    async fn invalid_input_is_answered_without_touching_the_store() {
        let (store, clock, placer) = (
            MemoryIdempotencyStore::new(),
            ManualClock::at(NOW),
            Placer::new(),
        );
        let config = AlertIdempotencyConfig::default();
        let bad_id = run(
            json!({"alert_id": "no spaces", "to": "447700900000", "code": "4821"}),
            &config,
            &store,
            &clock,
            &placer,
            placed,
        )
        .await;
        assert_eq!(bad_id["error"], "invalid_input");
        assert_eq!(bad_id["field"], ALERT_ID_FIELD);
        let bad_input = run(
            json!({"alert_id": "ok", "to": "447700900000"}),
            &config,
            &store,
            &clock,
            &placer,
            placed,
        )
        .await;
        assert_eq!(bad_input["error"], "invalid_input");
        assert_eq!(bad_input["field"], "code");
        assert_eq!(store.calls(), 0);
    }
}
