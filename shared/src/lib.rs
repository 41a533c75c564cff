//! Vonage Voice calls with signed webhooks on AWS Lambda.
//!
//! The functions in `functions/*` only wire things up; every decision is made here, in plain
//! functions that take plain values, so each one is testable without AWS or HTTP.
//!
//! The crate is grouped by concern, one concern per file:
//! - [`settings`]: every setting's name, default and parser; [`clock`]: the one clock;
//!   [`deadline`]: time budgets for remote calls; [`http`]: `lambda_http` in and out;
//!   [`observe`]: JSON logs and EMF metrics; [`aws`]: the AWS SDK configuration.
//! - [`vonage`]: the protocol (webhook verification, signing, typed NCCO actions, call events).
//! - Ports with a real and an in-memory implementation: [`secrets`], [`state`], [`outcome`]
//!   (alert records and their EventBridge publisher), [`voice`] (the Voice API),
//!   [`applications`] (the Applications API).
//! - The functions' decisions: [`webhook`] (answer and event), [`alert`] (send-alert and
//!   alert-status), [`applications::drift`] (drift-check).
//!
//! Unit tests live beside the code they test: a `#[cfg(test)] mod tests { … }` at the end of a
//! small file, or `#[cfg(test)] mod tests;` in a sibling `tests.rs` (or a `tests/` folder) when
//! they would push the file past 500 lines. Helpers that only tests use (manual clock, fixed
//! configurations, in-memory stand-ins used by no binary) sit behind the `test-util` feature.

#![warn(missing_docs)]

pub mod alert;
pub mod applications;
pub mod aws;
pub mod clock;
pub mod deadline;
pub mod http;
pub mod observe;
pub mod outcome;
pub mod secrets;
pub mod settings;
pub mod state;
pub mod voice;
pub mod vonage;
pub mod webhook;
