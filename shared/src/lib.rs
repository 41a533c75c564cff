//! Vonage Voice calls with signed webhooks on AWS Lambda.
//!
//! The functions in `functions/*` only wire things up; every decision is made here, in plain
//! functions that take plain values, so each one is testable without AWS or HTTP.

pub mod alert;
pub mod alert_idempotency;
pub mod applications;
pub mod aws;
pub mod config;
pub mod deadline;
pub mod events;
pub mod http;
pub mod logging;
pub mod metrics;
pub mod ncco;
pub mod outcome;
pub mod secrets;
pub mod sign;
pub mod state;
pub mod verify;
pub mod voice;
pub mod webhook;
