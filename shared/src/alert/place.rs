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

use crate::settings::{ALERT_DEDUP_SECONDS, ALERT_REQUIRE_IDEMPOTENCY, DEFAULT_ALERT_DEDUP};
use std::time::Duration;

use serde_json::{Value, json};

use crate::alert::{AlertError, AlertRequest, AlertSent, InvalidInput, response_payload};
use crate::clock::Clock;
use crate::deadline::Budget;
use crate::observe::logging::capped;
use crate::settings::{self, ConfigError, Settings};
use crate::state::{Claim, IdempotencyKey, IdempotencyStore, Operation, sha256_hex};

/// The optional input field naming an alert.
pub const ALERT_ID_FIELD: &str = "alert_id";
/// The longest `alert_id` accepted.
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
    /// Reads the idempotency settings; an error names the setting to fix.
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
    /// The record key: the `alert_id` when given, else the payload hash.
    pub key: IdempotencyKey,
    /// SHA-256 (hex) of the normalised input without `alert_id`.
    pub payload_hash: String,
    /// True when the caller named the alert; false when the key is the payload hash.
    pub from_alert_id: bool,
    /// The alert's id: the caller's `alert_id`, or else a new UUID. Returned in the payload
    /// (so a repeat gets the first one) and the key of the alert's outcome.
    pub alert_id: String,
}

impl AlertKey {
    /// The operation the idempotency store keys: this key and payload hash.
    pub fn operation(&self) -> Operation<'_> {
        Operation {
            key: &self.key,
            payload_hash: &self.payload_hash,
        }
    }
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
    /// The clock the record times are read from.
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
        .begin(key.operation().claim(in_progress_until, now))
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
            .complete(key.operation().completed(&payload, expires_at))
            .await
    } else {
        store.release(key.operation()).await
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
mod tests;
