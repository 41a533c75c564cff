//! What the API Gateway fixture suites share: the fixtures' secret and clock, loading fixtures as
//! `lambda_http` requests, and handlers over an in-memory secret store.
#![allow(dead_code)] // each suite uses part of it

use std::path::Path;
use std::sync::Arc;

use lambda_http::Request;
use serde_json::Value;
use vonage_voice_lambda::clock::ManualClock;
use vonage_voice_lambda::http::{RequestLimits, request_from_event};
use vonage_voice_lambda::secrets::{InMemorySecretStore, WebhookSecret};
use vonage_voice_lambda::settings::Settings;
use vonage_voice_lambda::settings::WEBHOOK_SECRET_ID;
use vonage_voice_lambda::settings::webhook::{AnswerConfig, EventConfig};
use vonage_voice_lambda::state::MemoryReplayStore;
use vonage_voice_lambda::webhook::{AnswerHandler, EventHandler};

/// The values `tests/fixtures/apigw/README.md` says the fixtures were signed with.
pub const SECRET_ID: &str = "vonage/webhook";
pub const SIGNATURE_SECRET: &str = "fixture-signature-secret-7f3a9c1e5b2d4680";
pub const API_KEY: &str = "a1b2c3d";
pub const APPLICATION_ID: &str = "aaaaaaaa-bbbb-cccc-dddd-0123456789ab";
pub const SIGNED_AT: i64 = 1_800_000_000;

pub const SIGNED_EVENTS: [&str; 6] = [
    "event_v2_post_json.json",
    "event_v2_post_base64.json",
    "event_v2_get_query.json",
    "event_v1_post_json.json",
    "event_v1_post_base64.json",
    "event_v1_get_query.json",
];

pub fn fixture(name: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/apigw")
        .join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|error| panic!("{} cannot be read: {error}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|error| panic!("{name} is not JSON: {error}"))
}

/// The fixture as the function receives it under `http::run`.
pub fn request(name: &str) -> Request {
    request_from_value(fixture(name))
}

pub fn request_from_value(event: Value) -> Request {
    request_from_event(event, RequestLimits::default())
        .expect("the fixture is an API Gateway event lambda_http accepts")
}

/// The `Authorization` header's token in a fixture.
pub fn token_in(event: &Value) -> Option<String> {
    let headers = event["headers"].as_object()?;
    headers
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case("authorization"))
        .and_then(|(_, value)| value.as_str())
        .and_then(|value| value.strip_prefix("Bearer "))
        .map(str::to_owned)
}

pub fn store() -> Arc<InMemorySecretStore> {
    let document = WebhookSecret::new(SIGNATURE_SECRET, API_KEY, Some(APPLICATION_ID.into()));
    Arc::new(InMemorySecretStore::new().with_secret(SECRET_ID, document.to_json()))
}

pub fn clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::at(SIGNED_AT))
}

/// Settings as the function reads them from its environment.
pub struct Env(pub Vec<(&'static str, String)>);

impl Settings for Env {
    fn get(&self, name: &str) -> Option<String> {
        self.0
            .iter()
            .find(|(key, _)| *key == name)
            .map(|(_, value)| value.clone())
    }
}

pub fn env(extra: &[(&'static str, &str)]) -> Env {
    let mut values = vec![(WEBHOOK_SECRET_ID, SECRET_ID.to_owned())];
    values.extend(
        extra
            .iter()
            .map(|(name, value)| (*name, (*value).to_owned())),
    );
    Env(values)
}

pub fn event_handler(
    store: &Arc<InMemorySecretStore>,
    clock: &Arc<ManualClock>,
    extra: &[(&'static str, &str)],
) -> EventHandler {
    let config = EventConfig::from_settings(&env(extra)).expect("valid event settings");
    EventHandler::new(
        &config,
        store.clone(),
        Arc::new(MemoryReplayStore::default()),
        clock.clone(),
    )
}

pub fn answer_handler(
    store: &Arc<InMemorySecretStore>,
    clock: &Arc<ManualClock>,
    extra: &[(&'static str, &str)],
) -> AnswerHandler {
    let config = AnswerConfig::from_settings(&env(extra)).expect("valid answer settings");
    AnswerHandler::new(
        &config,
        store.clone(),
        Arc::new(MemoryReplayStore::default()),
        clock.clone(),
    )
}
