//! A local stand-in for Vonage's Voice API, for laptops and CI without a Vonage account.
//!
//! `POST /v1/calls` checks the application JWT against the application's public key and the body
//! against the shape the Voice API accepts, answers 201 as Vonage does, and then plays the call:
//! it posts the call's events to its `event_url`, each signed exactly as Vonage signs them (with
//! the same [`WebhookSigner`] the operator CLI's `send-event` uses).
//!
//! Reserved test numbers, by their last four digits, let a test ask for what a real callee or a
//! real Voice API may do; any other number is answered 201 and its callee picks up and presses 1
//! when the NCCO asks for a key (or the call ends as `--outcome` says):
//!
//! | number ends in | what happens |
//! |---|---|
//! | `0486` | the callee is busy ([`Outcome::Busy`]) |
//! | `0408` | the callee does not answer ([`Outcome::Unanswered`]) |
//! | `0500` | the call fails ([`Outcome::Failed`]) |
//! | `0002` | the callee answers and presses 2, not the confirming 1 ([`Keypress::Two`]) |
//! | `0204` | the callee answers and presses nothing: the input times out ([`Keypress::Nothing`]) |
//! | `0504` | `POST /v1/calls` is answered `504 Gateway Timeout`, yet the call is placed and plays ([`Creation::GatewayTimeout`]) |
//!
//! A reserved number changes nothing else: the JWT and the body are checked first, and a request
//! Vonage would refuse is refused whatever the number. `GET /_emulator/calls` shows every call
//! and what each event delivery was answered with.

mod checks;
mod numbers;
mod play;
mod router;
#[cfg(test)]
mod tests;

pub use checks::{CallRequestBody, Endpoint, InvalidParameter, check_call_request};
pub use numbers::{Creation, Keypress, Outcome};
pub use play::format_rfc3339;
pub use router::{CallRecord, Delivery, EmulatorConfig, EmulatorError, router, serve};
