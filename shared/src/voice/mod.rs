//! The Voice API client: the application JWT, `POST /v1/calls` and its retry policy.
//!
//! Placing a call is not idempotent: a second request rings the phone a second time. So only
//! failures that prove the request never reached Vonage's call logic are retried (429, and
//! failures to connect). A 5xx or a timeout after the request was sent leaves the outcome
//! unknown and is reported as such, never retried blindly.
//!
//! The private key and every JWT made from it stay out of `Debug`, `Display`, logs and errors.

use std::fmt;
use std::time::Duration;

use serde::ser::SerializeMap;
use serde::{Deserialize, Serialize, Serializer};

mod client;
mod jwt;
mod retry;

pub use client::{HttpVoiceApi, VoiceClientConfig};
pub use jwt::{ApplicationClaims, ApplicationJwt, ApplicationJwtSigner, CredentialsError};
pub use retry::RetryPolicy;

use crate::deadline::{Budget, DeadlineExceeded};
use crate::observe::Cause;
use crate::vonage::ncco::Ncco;

const CREATE_CALL_PATH: &str = "/v1/calls";

/// Vonage accepts 30 s to 24 h. A token is used for one request straight away, so two minutes
/// leaves room for clock skew while making a leaked token all but worthless.
pub const APPLICATION_JWT_LIFETIME: Duration = Duration::from_secs(120);

/// Error bodies are echoed into our errors; Vonage's are short, anything longer is cut.
const MAX_ECHOED_BODY_CHARS: usize = 2000;

// ---------------------------------------------------------------------------------------------
// Phone numbers and the create-call request

/// A phone number as the Voice API wants it: 7 to 15 ASCII digits, no `+`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct PhoneNumber(String);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
/// Why a phone number was refused.
pub enum PhoneNumberError {
    #[error("must contain only digits, with an optional leading + and spaces")]
    /// Something other than ASCII digits.
    NotDigits,
    #[error("must have 7 to 15 digits, has {digits}")]
    /// Fewer than 7 or more than 15 digits.
    WrongLength {
        /// How many digits there were.
        digits: usize,
    },
}

impl PhoneNumber {
    /// The fewest digits accepted.
    pub const MIN_DIGITS: usize = 7;
    /// The most digits accepted (E.164).
    pub const MAX_DIGITS: usize = 15;

    /// Accepts E.164 as people write it ("+44 7700 900000") and keeps only the digits.
    pub fn parse(text: &str) -> Result<Self, PhoneNumberError> {
        let trimmed = text.trim_matches(' ');
        let without_plus = trimmed.strip_prefix('+').unwrap_or(trimmed);
        let digits: String = without_plus.chars().filter(|c| *c != ' ').collect();
        if !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(PhoneNumberError::NotDigits);
        }
        if !(Self::MIN_DIGITS..=Self::MAX_DIGITS).contains(&digits.len()) {
            return Err(PhoneNumberError::WrongLength {
                digits: digits.len(),
            });
        }
        Ok(Self(digits))
    }

    /// The digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Who the callee sees as calling.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CallerId {
    /// This number.
    Number(PhoneNumber),
    /// `random_from_number: true`: Vonage picks one of the numbers linked to the application.
    RandomLinkedNumber,
}

/// The body of `POST /v1/calls` for one phone callee and an embedded NCCO.
#[derive(Clone, Debug, PartialEq)]
pub struct CreateCallRequest {
    /// The number to call.
    pub to: PhoneNumber,
    /// The caller id to show.
    pub from: CallerId,
    /// What the call does when answered.
    pub ncco: Ncco,
    /// Where the call's events go; without it Vonage uses the application's event URL.
    pub event_url: Option<String>,
}

#[derive(Serialize)]
struct PhoneEndpoint<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    number: &'a PhoneNumber,
}

impl<'a> PhoneEndpoint<'a> {
    fn new(number: &'a PhoneNumber) -> Self {
        Self {
            kind: "phone",
            number,
        }
    }
}

impl Serialize for CreateCallRequest {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        // `from` and `random_from_number` are mutually exclusive, hence a hand-written map.
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("to", &[PhoneEndpoint::new(&self.to)])?;
        match &self.from {
            CallerId::Number(number) => map.serialize_entry("from", &PhoneEndpoint::new(number))?,
            CallerId::RandomLinkedNumber => map.serialize_entry("random_from_number", &true)?,
        }
        map.serialize_entry("ncco", &self.ncco)?;
        if let Some(event_url) = &self.event_url {
            map.serialize_entry("event_url", &[event_url])?;
        }
        map.end()
    }
}

/// The 201 answer. Only `uuid` is relied on; the rest is passed on when present.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
pub struct CreateCallResponse {
    /// The call's uuid.
    pub uuid: String,
    #[serde(default)]
    /// The call's status, e.g. `started`.
    pub status: Option<String>,
    #[serde(default)]
    /// `outbound`.
    pub direction: Option<String>,
    #[serde(default)]
    /// The call's conversation.
    pub conversation_uuid: Option<String>,
}

// ---------------------------------------------------------------------------------------------
// Application credentials and the application JWT

// The client

#[derive(Debug, thiserror::Error)]
/// Why a create-call did not return a call; each variant says whether one may have been placed.
pub enum VoiceApiError {
    /// The request reached Vonage (or may have) and no definite answer came back: the call may
    /// be ringing. Resending could ring the phone twice.
    #[error(
        "the outcome is unknown, the call may have been placed: {reason}{}; check the call log before sending again",
        describe_reply(*.status, .body)
    )]
    OutcomeUnknown {
        /// The status, when an answer came.
        status: Option<u16>,
        /// The answer's body, shortened, our token cut out.
        body: String,
        /// What happened.
        reason: String,
    },
    /// A definite refusal (4xx other than 429): no call was placed.
    #[error("the Voice API refused the call with status {status}: {body}")]
    /// The status and body of the refusal.
    Rejected {
        /// The HTTP status.
        status: u16,
        /// The answer's body, shortened.
        body: String,
    },
    /// Still 429 after every retry: no call was placed.
    #[error("the Voice API was still rate limiting after {attempts} attempts: {body}")]
    /// How many attempts were made, and the last 429's body.
    RateLimited {
        /// How many attempts were made.
        attempts: usize,
        /// The answer's body, shortened.
        body: String,
    },
    /// No connection after every retry: no call was placed.
    #[error("the Voice API could not be reached after {attempts} attempts: {reason}")]
    /// How many attempts were made, and why the last could not connect.
    Unreachable {
        /// How many attempts were made.
        attempts: usize,
        /// Why the last attempt failed.
        reason: String,
    },
    /// The invocation's deadline came before a request could be sent, or before another attempt
    /// could run its course: no call was placed, and sending again is safe.
    #[error("no call was placed (attempts made: {attempts}): {source}; sending again is safe")]
    DeadlineExceeded {
        /// How many attempts were made before.
        attempts: usize,
        /// Which step the deadline stopped.
        source: DeadlineExceeded,
    },
    #[error(transparent)]
    /// The application's credentials cannot sign: no call was placed.
    Credentials(#[from] CredentialsError),
    #[error("the HTTP client could not be set up: {0}")]
    /// The HTTP client could not be built or the request serialised: no call was placed.
    ClientSetup(#[source] Cause),
}

fn describe_reply(status: Option<u16>, body: &str) -> String {
    match (status, body.is_empty()) {
        (Some(status), true) => format!(" (status {status}, empty body)"),
        (Some(status), false) => format!(" (status {status}: {body})"),
        (None, _) => String::new(),
    }
}

impl VoiceApiError {
    /// True when Vonage certainly placed no call, so sending again is safe.
    pub fn call_certainly_not_placed(&self) -> bool {
        !matches!(self, Self::OutcomeUnknown { .. })
    }
}

/// One external system: the Voice API.
#[async_trait::async_trait]
pub trait VoiceApi: Send + Sync {
    /// Places the call within `budget`: no attempt runs past it.
    async fn create_call(
        &self,
        signer: &ApplicationJwtSigner,
        request: &CreateCallRequest,
        budget: &Budget,
    ) -> Result<CreateCallResponse, VoiceApiError>;
}

#[cfg(test)]
pub(crate) mod test_keys;
#[cfg(test)]
mod tests;
