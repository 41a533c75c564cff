//! The event webhook: verify, drop replays, record the event as one log line.

use std::sync::Arc;

use super::{
    Clock, EventConfig, IncomingWebhook, Outcome, ReplayCache, SignedWebhookVerifier,
    VerificationFailure, VerifiedWebhook,
};
use crate::events::VoiceEvent;
use crate::logging::capped;
use crate::secrets::SecretStore;
use crate::verify::Rejection;

/// One log line per event webhook, with the event's identifying fields and whatever the caller
/// adds. Phone numbers (`from`/`to`) are left out on purpose. Every field taken from the body is
/// capped: an unsigned event's fields are whatever the caller chose to send.
macro_rules! event_line {
    ($level:ident, $event:expr, $($rest:tt)+) => {{
        let event: Option<&VoiceEvent> = $event;
        let field = |read: fn(&VoiceEvent) -> Option<&str>| event.and_then(read).map(capped);
        tracing::$level!(
            webhook = "event",
            call_uuid = field(VoiceEvent::call_uuid).as_deref(),
            conversation_uuid = field(VoiceEvent::conversation_uuid).as_deref(),
            status = event.map(|event| capped(event.kind())).as_deref(),
            direction = field(VoiceEvent::direction).as_deref(),
            timestamp = field(VoiceEvent::timestamp).as_deref(),
            start_time = field(VoiceEvent::start_time).as_deref(),
            end_time = field(VoiceEvent::end_time).as_deref(),
            $($rest)+
        )
    }};
}

pub struct EventHandler {
    verifier: SignedWebhookVerifier,
    unsigned_statuses: Vec<String>,
    max_age_seconds: i64,
    replays: ReplayCache,
}

impl EventHandler {
    pub fn new(config: &EventConfig, store: Arc<dyn SecretStore>, clock: Arc<dyn Clock>) -> Self {
        Self {
            verifier: SignedWebhookVerifier::new(&config.webhook, store, clock),
            unsigned_statuses: config.unsigned_statuses.clone(),
            max_age_seconds: config.webhook.max_age_seconds(),
            replays: ReplayCache::default(),
        }
    }

    /// Reads the secret at cold start; see [`SignedWebhookVerifier::warm_up`].
    pub async fn warm_up(&self) -> bool {
        self.verifier.warm_up().await.is_ok()
    }

    /// Decides on one event webhook and logs it.
    ///
    /// The body is parsed only once the token has verified (an unsigned request's body is parsed
    /// to read its status for the allow-list; `crate::http` has already capped its size).
    ///
    /// A replay (a verified token whose `jti` was already accepted here inside the freshness
    /// window) is [`Outcome::Replayed`] → 409 and not processed again. Vonage retries a webhook
    /// only after a timeout or a 429/503/504, so a 409 ends the matter whether the repeat came from
    /// an attacker or from a duplicate delivery of a request we already recorded, and the caller
    /// can see that it was refused.
    pub async fn handle(&self, incoming: &IncomingWebhook) -> Outcome {
        if incoming.is_unsigned() {
            let parsed = VoiceEvent::from_request(
                &incoming.method,
                incoming.query.as_deref(),
                &incoming.body,
            );
            return self.unsigned(parsed.as_ref().ok());
        }

        let VerifiedWebhook {
            verified,
            secret_refreshed,
        } = match self.verifier.verify(incoming).await {
            Ok(verified) => verified,
            Err(failure) => {
                match &failure {
                    VerificationFailure::SecretUnavailable(error) => event_line!(
                        error,
                        None,
                        outcome = "secret_unavailable",
                        verified = false,
                        reason = failure.reason(),
                        error = %error,
                        "event webhook not verified: the webhook secret cannot be read in time"
                    ),
                    _ => event_line!(
                        warn,
                        None,
                        outcome = "rejected",
                        verified = false,
                        reason = failure.reason(),
                        "event webhook refused"
                    ),
                }
                return failure.outcome();
            }
        };

        let parsed =
            VoiceEvent::from_request(&incoming.method, incoming.query.as_deref(), &incoming.body);
        let event = parsed.as_ref().ok();
        let claims = &verified.claims;
        let now = self.verifier.clock().unix_seconds();
        let forget_at = claims.iat.saturating_add(self.max_age_seconds);
        if !self.replays.first_sighting(&claims.jti, forget_at, now) {
            event_line!(
                warn,
                event,
                outcome = "replay",
                verified = true,
                replay = true,
                jti = claims.jti.as_str(),
                matched_secret = verified.matched_secret.as_str(),
                "event webhook replayed: refused, not processed again"
            );
            return Outcome::Replayed;
        }

        event_line!(
            info,
            event,
            outcome = "processed",
            verified = true,
            replay = false,
            jti = claims.jti.as_str(),
            iat = claims.iat,
            matched_secret = verified.matched_secret.as_str(),
            secret_refreshed,
            body_matched_compact_form = verified.body_matched_compact_form,
            parse_error = parsed.as_ref().err().map(tracing::field::display),
            "event webhook"
        );
        Outcome::Accepted {
            ncco: event.and_then(VoiceEvent::reply_ncco),
        }
    }

    /// An event without an Authorization header. Vonage says this can happen after an internal
    /// error on its side and that it retries on 5xx, so by default we ask for that retry (503).
    /// Kinds listed in `UNSIGNED_EVENT_STATUSES` (events Vonage does not sign yet) are accepted.
    fn unsigned(&self, event: Option<&VoiceEvent>) -> Outcome {
        let kind = event.map_or("unknown", VoiceEvent::kind);
        if self.unsigned_statuses.iter().any(|allowed| allowed == kind) {
            event_line!(
                info,
                event,
                outcome = "processed",
                verified = false,
                replay = false,
                "unsigned event webhook accepted: its status is listed in UNSIGNED_EVENT_STATUSES"
            );
            return Outcome::Accepted {
                ncco: event.and_then(VoiceEvent::reply_ncco),
            };
        }
        event_line!(
            warn,
            event,
            outcome = "rejected",
            verified = false,
            reason = Rejection::MissingToken.reason(),
            "unsigned event webhook: asking Vonage to retry"
        );
        Outcome::Rejected(Rejection::MissingToken)
    }
}
