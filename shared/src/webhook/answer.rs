//! The answer webhook: reply to an inbound call with the greeting NCCO.

use std::sync::Arc;

use serde_json::Map;

use super::{Clock, IncomingWebhook, Outcome, VerificationFailure, gate::Gate};
use crate::observe::logging::capped;
use crate::secrets::SecretStore;
use crate::settings::EVENT_URL;
use crate::settings::webhook::AnswerConfig;
use crate::state::{Delivery, DeliveryId, ReplayStore, StoredAnswer};
use crate::vonage::events::{NOTIFY_MARKER, VoiceEvent};
use crate::vonage::ncco::{Action, Ncco, Notify};
use crate::vonage::verify::Rejection;

/// What the `notify` action reports when the greeting has been spoken.
pub const NOTIFY_STEP: &str = "greeting_played";

/// The answer webhook: verifies (or allows unsigned), then answers the greeting NCCO.
pub struct AnswerHandler {
    gate: Gate,
    allow_unsigned: bool,
    greeting: Ncco,
    configured_event_url: Option<String>,
}

impl AnswerHandler {
    /// `deliveries` is the duplicate store every instance shares (DynamoDB in production).
    pub fn new(
        config: &AnswerConfig,
        secrets: Arc<dyn SecretStore>,
        deliveries: Arc<dyn ReplayStore>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            gate: Gate::new(&config.webhook, secrets, deliveries, clock),
            allow_unsigned: config.allow_unsigned,
            greeting: config.greeting.clone(),
            configured_event_url: config.event_url.clone(),
        }
    }

    /// Reads the secret at cold start; see [`SignedWebhookVerifier::warm_up`].
    pub async fn warm_up(&self) -> bool {
        self.gate.warm_up().await
    }

    /// Decides on one answer webhook and logs it. `request_event_url` is the event endpoint
    /// derived from the request (host and stage); `EVENT_URL`, when set, wins over it.
    ///
    /// A token, when present, must verify. A request without one is answered when
    /// `ANSWER_ALLOW_UNSIGNED` is true (the default: Vonage's preview does not sign the answer
    /// webhook); otherwise it is refused like an unsigned event (503, so Vonage retries). A
    /// verified answer seen before (same `jti`, or the same call `uuid`, on any instance) gets
    /// the first delivery's NCCO again: Vonage retries the answer webhook after a timeout, and
    /// refusing the retry would drop the call.
    pub async fn handle(
        &self,
        incoming: &IncomingWebhook,
        request_event_url: Option<&str>,
    ) -> Outcome {
        let (event_url, event_url_source) = match (&self.configured_event_url, request_event_url) {
            (Some(configured), _) => (Some(configured.as_str()), EVENT_URL),
            (None, Some(derived)) => (Some(derived), "request"),
            (None, None) => (None, "none"),
        };
        // The call's identifiers, capped for the log: until the request verifies (or is answered
        // unsigned) its query is the caller's choice. The lines after this carry the uuid.
        let call =
            VoiceEvent::from_request(&incoming.method, incoming.query.as_deref(), &incoming.body)
                .ok();
        let call_uuid = call
            .as_ref()
            .and_then(VoiceEvent::call_uuid)
            .map(str::to_owned);
        let conversation_uuid = call
            .as_ref()
            .and_then(VoiceEvent::conversation_uuid)
            .map(capped);
        crate::observe::logging::record_call_uuid(call_uuid.as_deref());

        if incoming.is_unsigned() {
            crate::observe::metrics::count(crate::observe::metrics::names::WEBHOOK_UNSIGNED);
            if !self.allow_unsigned {
                crate::observe::metrics::rejected(Rejection::MissingToken.reason());
                tracing::warn!(
                    webhook = "answer",
                    outcome = "rejected",
                    verified = false,
                    reason = Rejection::MissingToken.reason(),
                    "unsigned answer webhook refused: ANSWER_ALLOW_UNSIGNED is false"
                );
                return Outcome::Rejected(Rejection::MissingToken);
            }
            tracing::info!(
                webhook = "answer",
                outcome = "answered",
                verified = false,
                call_uuid = call_uuid.as_deref().map(capped),
                conversation_uuid,
                event_url_source,
                "unsigned answer webhook answered"
            );
            return Outcome::Accepted {
                ncco: Some(self.ncco(event_url, call_uuid.as_deref())),
            };
        }

        let answer_by = self.gate.verifier.answer_by(incoming);
        match self.gate.verifier.verify(incoming, answer_by).await {
            Ok(verified) => {
                let ncco = self.ncco(event_url, call_uuid.as_deref());
                let claims = &verified.verified.claims;
                let delivery = call_uuid.as_deref().map(DeliveryId::answer);
                let answer = StoredAnswer::ncco(ncco.to_json());
                let (check, _) = self
                    .gate
                    .check_delivery(claims, delivery, &answer, answer_by)
                    .await;
                let state_error = check.state_error();
                if let Delivery::Duplicate {
                    matched,
                    first_answer,
                } = check.delivery
                {
                    tracing::info!(
                        webhook = "answer",
                        outcome = "duplicate",
                        verified = true,
                        duplicate = true,
                        matched = matched.as_str(),
                        call_uuid = call_uuid.as_deref().map(capped),
                        jti = claims.jti.as_str(),
                        state_error,
                        "answer webhook seen before: answered with the first NCCO"
                    );
                    // The first answer as stored; one that no longer reads as a valid NCCO is
                    // replaced by this one, which is what the first would have been.
                    let first = first_answer
                        .ncco
                        .and_then(|json| serde_json::from_value::<Ncco>(json).ok());
                    return Outcome::Duplicate {
                        matched,
                        ncco: first.or(Some(ncco)),
                    };
                }
                crate::observe::metrics::count(crate::observe::metrics::names::WEBHOOK_VERIFIED);
                tracing::info!(
                    webhook = "answer",
                    outcome = "answered",
                    verified = true,
                    call_uuid = call_uuid.as_deref().map(capped),
                    conversation_uuid,
                    jti = verified.verified.claims.jti.as_str(),
                    matched_secret = verified.verified.matched_secret.as_ref(),
                    secret_refreshed = verified.secret_refreshed,
                    event_url_source,
                    duplicate = false,
                    state_error,
                    "answer webhook answered"
                );
                Outcome::Accepted { ncco: Some(ncco) }
            }
            Err(failure) => {
                crate::observe::metrics::verification_failed(&failure);
                match &failure {
                    VerificationFailure::SecretUnavailable(error) => tracing::error!(
                        webhook = "answer",
                        outcome = "secret_unavailable",
                        verified = false,
                        reason = failure.reason(),
                        error = %error,
                        "answer webhook not verified: the webhook secret cannot be read in time"
                    ),
                    _ => tracing::warn!(
                        webhook = "answer",
                        outcome = "rejected",
                        verified = false,
                        reason = failure.reason(),
                        "answer webhook refused"
                    ),
                }
                failure.outcome()
            }
        }
    }

    /// The greeting, then a `notify` to our event endpoint once it has been spoken. Without any
    /// event URL, or with one the `notify` action refuses, the greeting goes alone.
    fn ncco(&self, event_url: Option<&str>, call_uuid: Option<&str>) -> Ncco {
        let Some(event_url) = event_url else {
            return self.greeting.clone();
        };
        let mut payload = Map::new();
        payload.insert(NOTIFY_MARKER.into(), NOTIFY_STEP.into());
        // Echoed to Vonage only when it looks like a call id: an unsigned request's query is
        // the caller's choice, and the NCCO is no place for 100 KB of it.
        if let Some(uuid) = call_uuid.filter(|uuid| looks_like_call_id(uuid)) {
            payload.insert("uuid".into(), uuid.into());
        }
        let notify = Action::Notify(Notify::post(payload, event_url));
        self.greeting
            .followed_by(vec![notify])
            .unwrap_or_else(|error| {
                tracing::warn!(error = %error, "no notify action: the event URL is not usable");
                self.greeting.clone()
            })
    }
}

fn looks_like_call_id(text: &str) -> bool {
    (1..=64).contains(&text.len())
        && text
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-')
}
