//! The answer and event webhooks' decisions, as plain async functions over a
//! [`SecretStore`](crate::secrets::SecretStore) and a [`Clock`]. Nothing here knows
//! `lambda_http`: `crate::http` turns API Gateway requests into [`IncomingWebhook`]s and
//! [`Outcome`]s into responses, so these handlers are tested with plain values and the HTTP
//! mapping lives in one place.

mod answer;

mod deliveries;
mod event;
mod gate;
mod verifier;

use std::fmt;
use std::time::Instant;

use crate::clock::Clock;

pub use answer::{AnswerHandler, NOTIFY_STEP};
pub use deliveries::Deliveries;
pub use event::{EventHandler, Outcomes};
pub use verifier::{SignedWebhookVerifier, VerificationFailure, VerifiedWebhook, WARM_UP_BUDGET};

use crate::vonage::ncco::Ncco;
use crate::vonage::verify::{
    CandidateSecrets, Rejection, VerificationPolicy, Verified, WebhookRequest, verify,
};

/// The parts of an HTTP request a webhook handler reads, owned and free of framework types.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct IncomingWebhook {
    /// Every `Authorization` header value, in the order received.
    pub authorization: Vec<Vec<u8>>,
    /// The HTTP method.
    pub method: String,
    /// The raw query string without `?`, in the order the client sent it.
    pub query: Option<String>,
    /// The body after API Gateway's base64 encoding has been undone.
    pub body: Vec<u8>,
    /// When Lambda ends the invocation, if known. The handler answers before it.
    pub lambda_deadline: Option<Instant>,
}

impl IncomingWebhook {
    /// True when the request carried no Authorization header at all.
    pub fn is_unsigned(&self) -> bool {
        self.authorization.is_empty()
    }

    fn verify_with(
        &self,
        secrets: &CandidateSecrets,
        now: i64,
        policy: &VerificationPolicy,
    ) -> Result<Verified, Rejection> {
        let authorization: Vec<&[u8]> = self.authorization.iter().map(Vec::as_slice).collect();
        let request = WebhookRequest {
            authorization: &authorization,
            method: &self.method,
            query: self.query.as_deref(),
            body: &self.body,
        };
        verify(&request, secrets, now, policy)
    }
}

/// Shows sizes, never the token.
impl fmt::Debug for IncomingWebhook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IncomingWebhook")
            .field("authorization_values", &self.authorization.len())
            .field("method", &self.method)
            .field("query_bytes", &self.query.as_ref().map(String::len))
            .field("body_bytes", &self.body.len())
            .field("lambda_deadline", &self.lambda_deadline)
            .finish()
    }
}

/// What a handler decided. `crate::http::response_for` is the one place that turns it into a
/// status code and body.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    /// Accepted. `ncco` is the answer webhook's reply (and a DTMF input's); an event is
    /// acknowledged with no body.
    /// Verified (or allowed unsigned) and processed; the NCCO to answer, if any.
    Accepted {
        /// The NCCO to answer, if any.
        ncco: Option<Ncco>,
    },
    /// Verified, and seen before (by `matched`): answered with the first delivery's answer
    /// (`ncco`), nothing processed again.
    Duplicate {
        /// Which key matched the earlier delivery.
        matched: crate::state::KeyKind,
        /// The first delivery's NCCO, answered again.
        ncco: Option<Ncco>,
    },
    /// Refused. `Rejection::MissingToken` means "unsigned where a signature is required".
    Rejected(Rejection),
    /// The webhook secret could not be read, so nothing can be verified right now.
    SecretUnavailable,
}

#[cfg(test)]
mod outcome_tests;
#[cfg(test)]
mod tests;
