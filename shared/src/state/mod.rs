//! State shared by every instance of a function: which webhook deliveries were already answered
//! (and what they were answered), and which alerts were already placed.
//!
//! The ports are here ([`ReplayStore`], [`idempotency::IdempotencyStore`]); the DynamoDB
//! implementations in [`dynamodb`], the in-memory ones in [`memory`], and the two-level replay check
//! (this instance's memory first, then the table) in [`layered`].
//!
//! # What counts as a duplicate, and why one write is enough
//!
//! A webhook is a duplicate when its token's `jti` was seen before, or when its delivery was:
//! an event's `uuid` + status + `timestamp`, or the answer webhook's `uuid` ([`DeliveryId`]),
//! because Vonage may sign a retry of the same delivery afresh, with a new `jti`.
//!
//! Both keys are caught with ONE conditional `PutItem` on the delivery key alone, with the
//! `jti` stored as an attribute:
//!
//! - a token's signature covers `payload_hash`, the SHA-256 of the body (or of the query of a GET),
//!   and the verifier refuses a body that does not match it. So a replayed token, same `jti`,
//!   always comes with the same parameters, hence the same delivery key: its put hits the item
//!   the first delivery wrote. A separate `jti` item would only ever be written alongside a
//!   delivery item it cannot disagree with;
//! - a re-signed retry has a new `jti` but the same delivery, so it hits the same item too;
//! - which key matched is then read from the item the failed put returns
//!   (`ReturnValuesOnConditionCheckFailure=ALL_OLD`, in the same request): the stored `jti` equal
//!   to ours means the very same token again ([`KeyKind::Jti`]), a different one a re-signed
//!   retry ([`KeyKind::Delivery`]);
//! - a webhook whose parameters name no delivery (an event without `uuid` or `timestamp`) is
//!   keyed by its `jti` alone: a replay of its token is caught, a re-signed retry of it cannot be
//!   told from a new event and is not.
//!
//! So a first delivery costs one `PutItem`, a duplicate one `PutItem` that fails its condition and
//! returns the first delivery's item, and a hot replay caught by this instance's memory costs no
//! request. No `GetItem` is needed for it, so the answer function is granted `PutItem` only (the
//! event function also reads alert records: `crate::outcome::dynamodb`).
//!
//! The item holds the first delivery's answer ([`StoredAnswer`]): so the answer must be decided
//! before the write, from the verified request alone, and whatever the webhook does besides
//! answering (recording an outcome, publishing) runs only after the write said [`Delivery::First`].
//! A duplicate gets the stored answer and nothing is processed again.
//!
//! # Expiry
//!
//! Items carry `expires_at` (Unix seconds), DynamoDB's TTL attribute: the token's `iat` plus the
//! freshness window, after which the verifier refuses the token as stale anyway. DynamoDB deletes
//! expired items lazily (often hours later), so every conditional write also accepts an item whose
//! `expires_at` is already past: an expired item never blocks.
//!
//! # Failure
//!
//! Every call is bounded by [`StateConfig::timeout`] and fails with a typed [`StateError`]. The
//! stores decide nothing about failure: the webhook answers from its in-memory check and counts
//! the failure; send-alert places the call anyway unless told to refuse.

pub mod dynamodb;
pub mod idempotency;
pub mod layered;
pub mod memory;

use crate::settings::{DEFAULT_STATE_TIMEOUT, STATE_TABLE_NAME, STATE_TIMEOUT_MS};
use std::fmt;
use std::time::Duration;

use aws_lc_rs::digest;
use serde_json::Value;

use crate::observe::Cause;
use crate::settings::{self, ConfigError, Settings};
use crate::vonage::events::VoiceEvent;

pub use dynamodb::DynamoDbStore;
pub use idempotency::{
    Claim, ClaimRequest, Completion, IdempotencyKey, IdempotencyStore, Operation,
};
pub use layered::{LayeredReplayStore, LocalReplayStore, ReplayCheck, SharedCheck};
#[cfg(any(test, feature = "test-util"))]
pub use memory::MemoryIdempotencyStore;
pub use memory::MemoryReplayStore;

/// Where the shared state lives and how long a call to it may take.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StateConfig {
    /// The table's name (`STATE_TABLE_NAME`).
    pub table_name: String,
    /// The most one state call may take (`STATE_TIMEOUT_MS`).
    pub timeout: Duration,
}

impl StateConfig {
    /// Reads the state table's settings; an error names the setting to fix.
    pub fn from_settings(settings: &impl Settings) -> Result<Self, ConfigError> {
        let timeout_ms = settings::parsed_or(
            settings,
            STATE_TIMEOUT_MS,
            u64::try_from(DEFAULT_STATE_TIMEOUT.as_millis()).unwrap_or(1000),
        )?;
        if timeout_ms == 0 {
            return Err(ConfigError::Invalid {
                name: STATE_TIMEOUT_MS,
                problem: "must be at least 1 millisecond".into(),
            });
        }
        Ok(Self {
            table_name: settings::required(settings, STATE_TABLE_NAME)?,
            timeout: Duration::from_millis(timeout_ms),
        })
    }
}

/// Why the shared state could not answer. The caller decides what that means for its request.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StateError {
    /// No answer within the budget (a slow or unreachable table).
    #[error("the state table did not answer within {0:?}")]
    Timeout(Duration),
    /// DynamoDB refused for capacity after the SDK's own retries.
    #[error("the state table is throttling: {0}")]
    Throttled(#[source] Cause),
    /// The table could not be reached, or failed on its side: worth trying again later.
    #[error("the state table is unavailable: {0}")]
    Unavailable(#[source] Cause),
    /// The table is missing, the function may not use it, or it refused the request as invalid:
    /// a deployment problem that retrying does not fix.
    #[error("the state table cannot be used: {0}")]
    Misconfigured(#[source] Cause),
    /// An item in the table is not in the shape this code writes.
    #[error("a stored item is malformed: {0}")]
    Malformed(String),
}

impl StateError {
    /// A stable snake_case name for logs and metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Timeout(_) => "timeout",
            Self::Throttled(_) => "throttled",
            Self::Unavailable(_) => "unavailable",
            Self::Misconfigured(_) => "misconfigured",
            Self::Malformed(_) => "malformed",
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Replay: keys, answers, verdicts
// ---------------------------------------------------------------------------------------------

/// One delivery of a webhook, whatever token it came with. Built from the verified parameters.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct DeliveryId {
    /// A JSON array of the parts, so no choice of separator can make two deliveries collide.
    canonical: String,
}

impl DeliveryId {
    /// An event: its call, its status (or kind, for events without one) and its timestamp.
    pub fn event(call_uuid: &str, status: &str, timestamp: &str) -> Self {
        Self {
            canonical: Value::from(vec!["event", call_uuid, status, timestamp]).to_string(),
        }
    }

    /// The answer webhook: Vonage asks once per call, so the call is the delivery.
    pub fn answer(call_uuid: &str) -> Self {
        Self {
            canonical: Value::from(vec!["answer", call_uuid]).to_string(),
        }
    }

    /// The delivery an event webhook carries: `uuid` (or `call_uuid`), its kind (the `status`,
    /// or `input`, `record`… for events that have none) and `timestamp`. `None` when the event
    /// lacks the uuid or the timestamp; its `jti` alone is then the key.
    pub fn of_event(event: &VoiceEvent) -> Option<Self> {
        Some(Self::event(
            event.call_uuid()?,
            event.kind(),
            event.timestamp()?,
        ))
    }

    /// The delivery an answer webhook carries: its `uuid`. `None` when it has none.
    pub fn of_answer(request: &VoiceEvent) -> Option<Self> {
        request.call_uuid().map(Self::answer)
    }
}

/// Shows the parts, which come from a verified request; logs should still cap them.
impl fmt::Debug for DeliveryId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("DeliveryId").field(&self.canonical).finish()
    }
}

/// What identifies a webhook for the duplicate check: its token's `jti`, and its delivery when
/// its parameters name one.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct DuplicateKey {
    jti: String,
    delivery: Option<DeliveryId>,
}

impl DuplicateKey {
    /// The key of a token's delivery, and of the request's own id when it has one.
    pub fn new(jti: impl Into<String>, delivery: Option<DeliveryId>) -> Self {
        Self {
            jti: jti.into(),
            delivery,
        }
    }

    /// The token's `jti`.
    pub fn jti(&self) -> &str {
        &self.jti
    }

    /// The request's own id, when it has one.
    pub fn delivery(&self) -> Option<&DeliveryId> {
        self.delivery.as_ref()
    }

    /// The one key the stores write (see the module docs): the delivery when there is one, the
    /// `jti` otherwise. Hashed, so its length is fixed whatever the request held, and prefixed,
    /// so replay items and alert items never meet in the shared table.
    pub fn record_key(&self) -> String {
        match &self.delivery {
            Some(delivery) => format!("delivery#{}", sha256_hex(delivery.canonical.as_bytes())),
            None => format!("jti#{}", sha256_hex(self.jti.as_bytes())),
        }
    }

    /// Which key a stored item with `stored_jti` matched: the same token, or the same delivery
    /// re-signed.
    pub fn matched_by(&self, stored_jti: &str) -> KeyKind {
        if stored_jti == self.jti {
            KeyKind::Jti
        } else {
            KeyKind::Delivery
        }
    }
}

/// Which part of a [`DuplicateKey`] was seen before.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyKind {
    /// The very same token again: a network duplicate, or a captured request replayed.
    Jti,
    /// The same delivery under another token: Vonage re-signed a retry.
    Delivery,
}

impl KeyKind {
    /// For the `matched` log field.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Jti => "jti",
            Self::Delivery => "delivery",
        }
    }
}

/// What the first delivery was answered, so a duplicate gets the same: the HTTP status, and the
/// NCCO for the answer webhook and for a DTMF `input` event.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredAnswer {
    /// The HTTP status the first delivery was answered with.
    pub status: u16,
    /// The NCCO it was answered with, if any.
    pub ncco: Option<Value>,
}

impl StoredAnswer {
    /// An event acknowledged with an empty 200.
    pub fn acknowledged() -> Self {
        Self {
            status: 200,
            ncco: None,
        }
    }

    /// A 200 carrying an NCCO.
    pub fn ncco(ncco: Value) -> Self {
        Self {
            status: 200,
            ncco: Some(ncco),
        }
    }
}

/// The verdict on a webhook.
#[derive(Clone, Debug, PartialEq)]
pub enum Delivery {
    /// Not seen before (or only after its record expired): process it. The answer given to the
    /// store is now what any duplicate gets.
    First,
    /// Seen before: answer `first_answer` and process nothing.
    Duplicate {
        /// Which key matched the earlier delivery.
        matched: KeyKind,
        /// What the first delivery was answered, to answer again.
        first_answer: StoredAnswer,
    },
}

/// One webhook delivery for the duplicate check to record: what identifies it, what it is
/// answered, when it arrived and until when its record lives. Every layer of the check is handed
/// the same one.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DeliveryRecord<'a> {
    /// The delivery's key: its token's `jti`, and its delivery when the request names one.
    pub key: &'a DuplicateKey,
    /// What it is answered: what a duplicate of it gets.
    pub answer: &'a StoredAnswer,
    /// When it arrived (Unix seconds): a record whose `expires_at` is before it counts as absent.
    pub seen_at: i64,
    /// The last second (Unix seconds, inclusive) its record is live: the token's `iat` plus the
    /// freshness window.
    pub expires_at: i64,
}

impl<'a> DeliveryRecord<'a> {
    /// The delivery `key`, answered `answer`, seen at `seen_at` and recorded until `expires_at`
    /// (Unix seconds).
    pub fn new(
        key: &'a DuplicateKey,
        answer: &'a StoredAnswer,
        seen_at: i64,
        expires_at: i64,
    ) -> Self {
        Self {
            key,
            answer,
            seen_at,
            expires_at,
        }
    }
}

/// The shared duplicate check. One call records the delivery if it is new and tells whether it
/// was; it is atomic across every instance using the same store.
#[async_trait::async_trait]
pub trait ReplayStore: Send + Sync {
    /// Records `delivery` unless a record for its key is still live when it was seen, in which
    /// case that record's answer comes back.
    async fn first_delivery(&self, delivery: DeliveryRecord<'_>) -> Result<Delivery, StateError>;
}

/// Lower-case hex SHA-256, for keys of fixed length.
pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(digest::digest(&digest::SHA256, bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_default_to_a_one_second_budget_and_name_their_variable() {
        let config = StateConfig::from_settings(&[(STATE_TABLE_NAME, "state")]).unwrap();
        assert_eq!(
            config,
            StateConfig {
                table_name: "state".into(),
                timeout: Duration::from_secs(1)
            }
        );
        let config =
            StateConfig::from_settings(&[(STATE_TABLE_NAME, "t"), (STATE_TIMEOUT_MS, "250")])
                .unwrap();
        assert_eq!(config.timeout, Duration::from_millis(250));
        assert_eq!(
            StateConfig::from_settings(&[(STATE_TIMEOUT_MS, "250")]),
            Err(ConfigError::Missing {
                name: STATE_TABLE_NAME
            })
        );
        for bad in ["0", "-1", "fast"] {
            let error =
                StateConfig::from_settings(&[(STATE_TABLE_NAME, "t"), (STATE_TIMEOUT_MS, bad)])
                    .unwrap_err();
            assert!(
                matches!(error, ConfigError::Invalid { name, .. } if name == STATE_TIMEOUT_MS),
                "{bad}: {error}"
            );
        }
    }

    #[test]
    fn the_record_key_is_the_delivery_when_known_and_the_jti_otherwise() {
        let delivery = DeliveryId::event("call-1", "answered", "2027-01-15T08:00:00.000Z");
        let first = DuplicateKey::new("jti-1", Some(delivery.clone()));
        let resigned = DuplicateKey::new("jti-2", Some(delivery));
        assert_eq!(first.record_key(), resigned.record_key());
        assert!(first.record_key().starts_with("delivery#"));
        assert_eq!(first.record_key().len(), "delivery#".len() + 64);

        let bare = DuplicateKey::new("jti-1", None);
        assert!(bare.record_key().starts_with("jti#"));
        assert_ne!(bare.record_key(), first.record_key());
        assert_ne!(
            DuplicateKey::new("jti-2", None).record_key(),
            bare.record_key()
        );
    }

    #[test]
    fn delivery_parts_cannot_run_into_each_other() {
        // With a plain separator these two would be the same text.
        let a = DeliveryId::event("call#1", "answered", "t");
        let b = DeliveryId::event("call", "1#answered", "t");
        assert_ne!(a, b);
        assert_ne!(
            DuplicateKey::new("j", Some(a)).record_key(),
            DuplicateKey::new("j", Some(b)).record_key()
        );
        assert_ne!(
            DeliveryId::answer("call-1"),
            DeliveryId::event("call-1", "", "")
        );
    }

    #[test]
    fn deliveries_are_read_from_the_verified_parameters() {
        let event = VoiceEvent::from_json(
            br#"{"uuid":"call-1","status":"answered","timestamp":"2027-01-15T08:00:00.000Z"}"#,
        )
        .unwrap();
        assert_eq!(
            DeliveryId::of_event(&event),
            Some(DeliveryId::event(
                "call-1",
                "answered",
                "2027-01-15T08:00:00.000Z"
            ))
        );
        // A DTMF input has no status: its kind stands in.
        let input = VoiceEvent::from_json(
            br#"{"uuid":"call-1","dtmf":{"digits":"1"},"timestamp":"2027-01-15T08:00:09.000Z"}"#,
        )
        .unwrap();
        assert_eq!(
            DeliveryId::of_event(&input),
            Some(DeliveryId::event(
                "call-1",
                "input",
                "2027-01-15T08:00:09.000Z"
            ))
        );
        let no_timestamp =
            VoiceEvent::from_json(br#"{"uuid":"call-1","status":"ringing"}"#).unwrap();
        assert_eq!(DeliveryId::of_event(&no_timestamp), None);

        let answer = VoiceEvent::from_query("to=447700900000&uuid=call-9&conversation_uuid=CON-1");
        assert_eq!(
            DeliveryId::of_answer(&answer),
            Some(DeliveryId::answer("call-9"))
        );
        assert_eq!(DeliveryId::of_answer(&VoiceEvent::from_query("to=1")), None);
    }

    #[test]
    fn the_stored_jti_tells_a_replay_from_a_resigned_retry() {
        let key = DuplicateKey::new("jti-1", Some(DeliveryId::answer("call-1")));
        assert_eq!(key.matched_by("jti-1"), KeyKind::Jti);
        assert_eq!(key.matched_by("jti-0"), KeyKind::Delivery);
        assert_eq!(KeyKind::Jti.as_str(), "jti");
        assert_eq!(KeyKind::Delivery.as_str(), "delivery");
    }
}
