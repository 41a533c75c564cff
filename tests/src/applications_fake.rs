//! A stateful fake of Vonage's Applications API (`GET`/`PUT /v2/applications/{id}`) on wiremock.
//!
//! It keeps one application, checks Basic auth and the id like Vonage does (401, 404), and checks
//! every PUT against the request schema of `updateApplication` in Vonage's own spec
//! (`../shared/vonage-specs/application.v2.yml`, `$ref`s resolved). A PUT that breaks the spec is
//! answered 400 as Vonage would, and recorded as a violation the tests assert on. A PUT that passes
//! replaces the stored application (the server keeps its own `id` and `_links`), so a later GET
//! shows what was written.

use std::sync::{Arc, Mutex, MutexGuard};

use base64::Engine as _;
use serde_json::{Value, json};
use wiremock::matchers::path_regex;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use crate::spec_schema::{RequestBodySchema, read_vonage_spec};

/// The JSON Schema of `PUT /v2/applications/{id}`'s request body, from Vonage's spec.
pub fn put_application_schema() -> RequestBodySchema {
    RequestBodySchema::of(
        &read_vonage_spec("application.v2.yml"),
        "/v2/applications/{id}",
        "put",
    )
}

/// The sample application's id, and the key and secret of the account it belongs to.
pub const SAMPLE_APPLICATION_ID: &str = "aaaaaaaa-bbbb-cccc-dddd-0123456789ab";
pub const SAMPLE_API_KEY: &str = "a1b2c3d4";
pub const SAMPLE_API_SECRET: &str = "Sup3rS3cretApiSecret";

/// An application as `activate` leaves it: voice webhooks at `answer_url` (GET) and `event_url`
/// (POST), signed callbacks on, and a capability the stack does not use (kept by any PUT).
pub fn application_in_place(application_id: &str, answer_url: &str, event_url: &str) -> Value {
    json!({
        "id": application_id,
        "name": "Alerts",
        "capabilities": {
            "voice": {
                "webhooks": {
                    "answer_url": {"address": answer_url, "http_method": "GET"},
                    "event_url": {"address": event_url, "http_method": "POST"}
                },
                "signed_callbacks": true
            },
            "messages": {"webhooks": {"inbound_url": {"address": "https://example.com/in", "http_method": "POST"}}},
            "vbc": {}
        }
    })
}

/// What an edit in the Dashboard leaves of `application`: the name changed, `signed_callbacks`
/// gone.
pub fn edited_in_the_dashboard(mut application: Value) -> Value {
    application["name"] = json!("Alerts (renamed)");
    if let Some(voice) = application["capabilities"]["voice"].as_object_mut() {
        voice.remove("signed_callbacks");
    }
    application
}

/// How the fake behaves besides storing what is PUT.
#[derive(Clone, Debug, Default)]
pub struct FakeQuirks {
    /// GET shows a boolean `signed_callbacks: true` as the string `"true"`, as the spec's
    /// `default` spells it.
    pub signed_callbacks_as_string: bool,
    /// PUT stores everything except `capabilities.voice.signed_callbacks`, like an account where
    /// the preview is not enabled.
    pub drop_signed_callbacks_on_put: bool,
}

struct State {
    application_id: String,
    authorization: String,
    application: Value,
    quirks: FakeQuirks,
    puts: Vec<Value>,
    violations: Vec<String>,
}

struct Responder {
    state: Arc<Mutex<State>>,
    schema: Arc<RequestBodySchema>,
}

fn error_body(kind: &str, title: &str, detail: &str) -> Value {
    json!({
        "type": format!("https://developer.vonage.com/api-errors{kind}"),
        "title": title,
        "detail": detail,
        "instance": "bf0ca0bf927b3b52e3cb03217e1a1ddf"
    })
}

fn accepts_json(request: &Request) -> bool {
    request
        .headers
        .get("accept")
        .and_then(|value| value.to_str().ok())
        .is_none_or(|accept| accept.contains("application/json") || accept.contains("*/*"))
}

impl Respond for Responder {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let mut state = lock(&self.state);
        let authorized = request
            .headers
            .get("authorization")
            .and_then(|value| value.to_str().ok())
            == Some(state.authorization.as_str());
        if !authorized {
            return ResponseTemplate::new(401).set_body_json(error_body(
                "#unauthorized",
                "Invalid credentials supplied",
                "You did not provide correct credentials.",
            ));
        }
        if !accepts_json(request) {
            state
                .violations
                .push("Accept does not allow application/json".into());
            return ResponseTemplate::new(406).set_body_json(error_body(
                "#accept-header",
                "Invalid Accept header",
                "Invalid Accept header provided. Must be one of the following: 'application/json'",
            ));
        }
        let id = request.url.path().rsplit('/').next().unwrap_or_default();
        if id != state.application_id {
            return ResponseTemplate::new(404).set_body_json(error_body(
                "#not-found",
                "Not Found",
                &format!("ID '{id}' does not exist, or you do not have access"),
            ));
        }
        match request.method.as_str() {
            "GET" => ResponseTemplate::new(200).set_body_json(state.shown()),
            "PUT" => self.put(&mut state, request),
            other => ResponseTemplate::new(405).set_body_json(error_body(
                "#wrong-verb",
                "Request method not allowed",
                &format!("Request method '{other}' not supported"),
            )),
        }
    }
}

impl Responder {
    fn put(&self, state: &mut State, request: &Request) -> ResponseTemplate {
        let is_json = request
            .headers
            .get("content-type")
            .and_then(|value| value.to_str().ok())
            .is_some_and(|value| value.starts_with("application/json"));
        if !is_json {
            state
                .violations
                .push("PUT without Content-Type: application/json".into());
            return ResponseTemplate::new(415).set_body_json(error_body(
                "#content-type-header",
                "Unsupported Content-Type header",
                "Unsupported Content-Type header provided. Must be one of the following: 'application/json'",
            ));
        }
        let body: Value = match serde_json::from_slice(&request.body) {
            Ok(body) => body,
            Err(error) => {
                state
                    .violations
                    .push(format!("PUT body is not JSON: {error}"));
                return ResponseTemplate::new(400).set_body_json(error_body(
                    "/application#payload-validation",
                    "Bad Request",
                    "The request failed due to validation errors",
                ));
            }
        };
        state.puts.push(body.clone());
        let violations = self.schema.violations(&body);
        if !violations.is_empty() {
            let invalid: Vec<Value> = violations
                .iter()
                .map(|violation| json!({"name": violation, "reason": "does not match the schema"}))
                .collect();
            state.violations.extend(violations);
            let mut answer = error_body(
                "/application#payload-validation",
                "Bad Request",
                "The request failed due to validation errors",
            );
            answer["invalid_parameters"] = Value::Array(invalid);
            return ResponseTemplate::new(400).set_body_json(answer);
        }
        let mut stored = body;
        for server_owned in ["id", "_links"] {
            match state.application.get(server_owned) {
                Some(value) => stored[server_owned] = value.clone(),
                None => {
                    if let Some(object) = stored.as_object_mut() {
                        object.remove(server_owned);
                    }
                }
            }
        }
        if state.quirks.drop_signed_callbacks_on_put
            && let Some(voice) = stored
                .pointer_mut("/capabilities/voice")
                .and_then(Value::as_object_mut)
        {
            voice.remove("signed_callbacks");
        }
        state.application = stored;
        ResponseTemplate::new(200).set_body_json(state.shown())
    }
}

impl State {
    fn shown(&self) -> Value {
        let mut shown = self.application.clone();
        if self.quirks.signed_callbacks_as_string
            && let Some(flag) = shown.pointer_mut("/capabilities/voice/signed_callbacks")
            && *flag == Value::Bool(true)
        {
            *flag = Value::String("true".into());
        }
        shown
    }
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The running fake.
pub struct ApplicationsFake {
    server: MockServer,
    state: Arc<Mutex<State>>,
}

impl ApplicationsFake {
    /// Serves `application` as application `application_id` of the account `api_key`/`api_secret`.
    pub async fn start(
        application_id: &str,
        api_key: &str,
        api_secret: &str,
        application: Value,
        quirks: FakeQuirks,
    ) -> Self {
        let basic =
            base64::engine::general_purpose::STANDARD.encode(format!("{api_key}:{api_secret}"));
        let state = Arc::new(Mutex::new(State {
            application_id: application_id.to_owned(),
            authorization: format!("Basic {basic}"),
            application,
            quirks,
            puts: Vec::new(),
            violations: Vec::new(),
        }));
        let server = MockServer::start().await;
        Mock::given(path_regex(r"^/v2/applications/[^/]+$"))
            .respond_with(Responder {
                state: Arc::clone(&state),
                schema: Arc::new(put_application_schema()),
            })
            .mount(&server)
            .await;
        Self { server, state }
    }

    /// The base URL to give the client (it appends `/v2/applications/{id}`).
    pub fn base_url(&self) -> String {
        self.server.uri()
    }

    /// The application as stored now (booleans as stored, whatever GET shows).
    pub fn application(&self) -> Value {
        lock(&self.state).application.clone()
    }

    /// Replaces the stored application, e.g. to stand for an edit in the Dashboard.
    pub fn set_application(&self, application: Value) {
        lock(&self.state).application = application;
    }

    /// Every PUT body received, valid or not, in order.
    pub fn puts(&self) -> Vec<Value> {
        lock(&self.state).puts.clone()
    }

    /// Every way a request broke the spec.
    pub fn violations(&self) -> Vec<String> {
        lock(&self.state).violations.clone()
    }

    /// Method and path of every request received, in order.
    pub async fn requests(&self) -> Vec<String> {
        self.server
            .received_requests()
            .await
            .unwrap_or_default()
            .iter()
            .map(|request| format!("{} {}", request.method, request.url.path()))
            .collect()
    }
}
