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

use std::sync::{Arc, Mutex};
use std::time::{Duration, UNIX_EPOCH};

use vonage_voice_lambda::clock::{Clock as _, SystemClock};

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use vonage_voice_lambda::vonage::sign::WebhookSigner;

/// How a call ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// started, ringing, answered, completed
    Completed,
    /// started, ringing, busy
    Busy,
    /// started, ringing, unanswered
    Unanswered,
    /// started, failed
    Failed,
}

impl Outcome {
    /// Reserved test numbers choose the outcome by their last four digits: `…0486` busy,
    /// `…0408` unanswered, `…0500` failed; any other number gets `default`.
    pub fn for_number(number: &str, default: Outcome) -> Outcome {
        match reserved_suffix(number) {
            Some("0486") => Outcome::Busy,
            Some("0408") => Outcome::Unanswered,
            Some("0500") => Outcome::Failed,
            _ => default,
        }
    }

    pub fn statuses(self) -> &'static [&'static str] {
        match self {
            Outcome::Completed => &["started", "ringing", "answered", "completed"],
            Outcome::Busy => &["started", "ringing", "busy"],
            Outcome::Unanswered => &["started", "ringing", "unanswered"],
            Outcome::Failed => &["started", "failed"],
        }
    }
}

/// The last four digits of a number, where reserved test numbers carry their meaning.
fn reserved_suffix(number: &str) -> Option<&str> {
    number.get(number.len().saturating_sub(4)..)
}

/// What the callee does when the call's NCCO asks for a key (an `input` action).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Keypress {
    /// Presses 1, the digit that confirms an alert.
    #[default]
    One,
    /// Presses 2.
    Two,
    /// Presses nothing: the input times out, and Vonage posts it with empty digits.
    Nothing,
}

impl Keypress {
    /// `…0002` presses 2, `…0204` presses nothing; any other number presses 1.
    pub fn for_number(number: &str) -> Keypress {
        match reserved_suffix(number) {
            Some("0002") => Keypress::Two,
            Some("0204") => Keypress::Nothing,
            _ => Keypress::One,
        }
    }

    /// The `dtmf` member of the `input` webhook, as Vonage sends it.
    pub fn dtmf(self) -> Value {
        match self {
            Keypress::One => json!({"digits": "1", "timed_out": false}),
            Keypress::Two => json!({"digits": "2", "timed_out": false}),
            Keypress::Nothing => json!({"digits": "", "timed_out": true}),
        }
    }
}

/// How `POST /v1/calls` is answered once the request has been checked and the call placed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Creation {
    /// `201 Created` with the call's uuids.
    #[default]
    Created,
    /// `504 Gateway Timeout`: the call was placed and plays, but the caller is not told so. What
    /// a gateway answers when Vonage's call logic took the request and did not reply in time.
    GatewayTimeout,
}

impl Creation {
    /// `…0504` is answered 504; any other number 201.
    pub fn for_number(number: &str) -> Creation {
        match reserved_suffix(number) {
            Some("0504") => Creation::GatewayTimeout,
            _ => Creation::Created,
        }
    }
}

/// What the emulator needs to know of the account and the application.
pub struct EmulatorConfig {
    pub application_id: String,
    /// The application's public key (PEM): application JWTs must verify with it.
    pub public_key_pem: String,
    /// Signs the webhooks, with the account's signature secret.
    pub signer: WebhookSigner,
    pub default_outcome: Outcome,
    /// A pause between a call's events, so a person watching sees them arrive in turn.
    pub event_interval: Duration,
    /// False: calls are taken as usual but none of their events is sent, so a flow that waits for
    /// them can be shown to notice the silence.
    pub send_events: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum EmulatorError {
    #[error("the application public key is not a usable RSA PEM key")]
    PublicKey,
    #[error("the HTTP client could not be built: {0}")]
    HttpClient(String),
    #[error("the server failed: {0}")]
    Serve(#[from] std::io::Error),
}

/// One delivery of one webhook, and how our endpoint answered it.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Delivery {
    pub status: String,
    pub url: String,
    pub http_status: Option<u16>,
    pub response_body: String,
    pub error: Option<String>,
    pub attempts: u32,
}

/// A call as the emulator saw it.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct CallRecord {
    pub uuid: String,
    pub conversation_uuid: String,
    pub to: String,
    pub from: Option<String>,
    pub ncco: Value,
    pub event_url: Option<String>,
    pub outcome: Outcome,
    /// What the callee presses when asked for a key.
    #[serde(default)]
    pub keypress: Keypress,
    /// How the create request was answered.
    #[serde(default)]
    pub creation: Creation,
    pub deliveries: Vec<Delivery>,
    /// True once every event of the call has been delivered (or given up on).
    pub finished: bool,
}

struct Emulator {
    config: EmulatorConfig,
    decoding_key: DecodingKey,
    http: reqwest::Client,
    calls: Mutex<Vec<CallRecord>>,
}

/// The emulator's routes, ready to serve.
pub fn router(config: EmulatorConfig) -> Result<Router, EmulatorError> {
    let decoding_key = DecodingKey::from_rsa_pem(config.public_key_pem.as_bytes())
        .map_err(|_| EmulatorError::PublicKey)?;
    // Vonage gives up on a webhook after its socket timeout; 10 s is the event maximum.
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .map_err(|error| EmulatorError::HttpClient(error.to_string()))?;
    let state = Arc::new(Emulator {
        config,
        decoding_key,
        http,
        calls: Mutex::new(Vec::new()),
    });
    Ok(Router::new()
        .route("/v1/calls", post(create_call))
        .route("/_emulator/calls", get(list_calls))
        .route("/_emulator/calls/{uuid}", get(show_call))
        .with_state(state))
}

/// Serves until the listener fails or the process is stopped.
pub async fn serve(
    listener: tokio::net::TcpListener,
    config: EmulatorConfig,
) -> Result<(), EmulatorError> {
    axum::serve(listener, router(config)?).await?;
    Ok(())
}

/// An error answer in the Voice API's problem-details shape.
fn problem(
    status: StatusCode,
    title: &str,
    detail: String,
    invalid: Vec<InvalidParameter>,
) -> Response {
    let mut body = json!({
        "type": format!("https://developer.vonage.com/api-errors#{}", title.to_lowercase().replace(' ', "-")),
        "title": title,
        "detail": detail,
    });
    if !invalid.is_empty() {
        body["invalid_parameters"] = json!(invalid);
    }
    (status, Json(body)).into_response()
}

#[derive(Debug, Serialize, PartialEq)]
pub struct InvalidParameter {
    pub name: String,
    pub reason: String,
}

fn invalid(name: &str, reason: impl Into<String>) -> InvalidParameter {
    InvalidParameter {
        name: name.to_owned(),
        reason: reason.into(),
    }
}

/// The claims an application JWT must carry for the Voice API.
#[derive(Deserialize)]
struct ApplicationClaims {
    application_id: String,
    #[allow(dead_code)] // required to be present; its value is not used
    iat: i64,
    #[allow(dead_code)]
    jti: String,
}

/// Why an application JWT was refused, in words fit for the 401 body.
fn check_application_jwt(state: &Emulator, headers: &HeaderMap) -> Result<(), &'static str> {
    let mut values = headers.get_all(header::AUTHORIZATION).iter();
    let (Some(value), None) = (values.next(), values.next()) else {
        return Err("exactly one Authorization header is required");
    };
    let token = value
        .to_str()
        .ok()
        .and_then(|text| text.strip_prefix("Bearer "))
        .ok_or("the Authorization header must be a Bearer token")?;
    let mut validation = Validation::new(Algorithm::RS256);
    // `exp` is optional for Vonage; when present it is checked.
    validation.required_spec_claims.clear();
    let claims = jsonwebtoken::decode::<ApplicationClaims>(token, &state.decoding_key, &validation)
        .map_err(|_| "the application JWT does not verify with the application's public key")?
        .claims;
    if claims.application_id != state.config.application_id {
        return Err("the JWT is for another application");
    }
    Ok(())
}

/// A `POST /v1/calls` body as the Voice API accepts it (the fields this emulator understands).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CallRequestBody {
    pub to: Vec<Endpoint>,
    pub from: Option<Endpoint>,
    pub random_from_number: Option<bool>,
    pub ncco: Option<Vec<Value>>,
    pub answer_url: Option<Vec<String>>,
    pub answer_method: Option<String>,
    pub event_url: Option<Vec<String>>,
    pub event_method: Option<String>,
    pub machine_detection: Option<String>,
    pub length_timer: Option<u32>,
    pub ringing_timer: Option<u32>,
}

#[derive(Debug, Deserialize)]
pub struct Endpoint {
    #[serde(rename = "type")]
    pub kind: String,
    pub number: Option<String>,
    #[serde(rename = "dtmfAnswer")]
    pub dtmf_answer: Option<String>,
}

fn is_phone_number(number: &str) -> bool {
    (7..=15).contains(&number.len()) && number.bytes().all(|b| b.is_ascii_digit())
}

fn check_endpoint(name: &str, endpoint: &Endpoint, problems: &mut Vec<InvalidParameter>) {
    if endpoint.kind != "phone" {
        problems.push(invalid(name, "only phone endpoints are emulated"));
        return;
    }
    match endpoint.number.as_deref() {
        Some(number) if is_phone_number(number) => {}
        Some(_) => problems.push(invalid(name, "number must be 7 to 15 digits, no +")),
        None => problems.push(invalid(name, "number is required")),
    }
}

fn check_http_url(url: &str) -> bool {
    url.starts_with("https://") || url.starts_with("http://")
}

/// Every way the body breaks the Voice API's rules, by field name.
pub fn check_call_request(body: &CallRequestBody) -> Vec<InvalidParameter> {
    let mut problems = Vec::new();
    match body.to.as_slice() {
        [] => problems.push(invalid("to", "at least one endpoint is required")),
        endpoints => endpoints
            .iter()
            .for_each(|endpoint| check_endpoint("to", endpoint, &mut problems)),
    }
    match (&body.from, body.random_from_number) {
        (Some(from), None | Some(false)) => check_endpoint("from", from, &mut problems),
        (None, Some(true)) => {}
        (Some(_), Some(true)) => problems.push(invalid(
            "from",
            "from and random_from_number exclude each other",
        )),
        (None, _) => problems.push(invalid("from", "from or random_from_number is required")),
    }
    match (&body.ncco, &body.answer_url) {
        (Some(_), Some(_)) => {
            problems.push(invalid("ncco", "ncco and answer_url exclude each other"))
        }
        (None, None) => problems.push(invalid("ncco", "ncco or answer_url is required")),
        (Some(ncco), None) => check_ncco(ncco, &mut problems),
        (None, Some(urls)) => {
            if urls.len() != 1 || !urls.iter().all(|url| check_http_url(url)) {
                problems.push(invalid("answer_url", "exactly one http(s) URL is required"));
            }
        }
    }
    if let Some(urls) = &body.event_url
        && (urls.len() != 1 || !urls.iter().all(|url| check_http_url(url)))
    {
        problems.push(invalid("event_url", "exactly one http(s) URL is required"));
    }
    for (name, method) in [
        ("answer_method", &body.answer_method),
        ("event_method", &body.event_method),
    ] {
        if method.as_deref().is_some_and(|m| m != "GET" && m != "POST") {
            problems.push(invalid(name, "must be GET or POST"));
        }
    }
    if body
        .machine_detection
        .as_deref()
        .is_some_and(|mode| mode != "continue" && mode != "hangup")
    {
        problems.push(invalid("machine_detection", "must be continue or hangup"));
    }
    if body.length_timer.is_some_and(|t| !(1..=7200).contains(&t)) {
        problems.push(invalid("length_timer", "must be 1 to 7200"));
    }
    if body.ringing_timer.is_some_and(|t| !(1..=120).contains(&t)) {
        problems.push(invalid("ringing_timer", "must be 1 to 120"));
    }
    problems
}

fn check_ncco(ncco: &[Value], problems: &mut Vec<InvalidParameter>) {
    if ncco.is_empty() {
        problems.push(invalid("ncco", "at least one action is required"));
    }
    for action in ncco {
        match action.get("action").and_then(Value::as_str) {
            Some("talk") => {
                let text = action
                    .get("text")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                if text.is_empty() || text.chars().count() > 1500 {
                    problems.push(invalid("ncco", "talk text must be 1 to 1500 characters"));
                }
            }
            Some(_) => {}
            None => problems.push(invalid("ncco", "every item needs an action")),
        }
    }
}

async fn create_call(
    State(state): State<Arc<Emulator>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    if let Err(reason) = check_application_jwt(&state, &headers) {
        return problem(
            StatusCode::UNAUTHORIZED,
            "Unauthorized",
            reason.to_owned(),
            Vec::new(),
        );
    }
    let request: CallRequestBody = match serde_json::from_slice(&body) {
        Ok(request) => request,
        Err(error) => {
            return problem(
                StatusCode::BAD_REQUEST,
                "Bad Request",
                format!("the body is not a valid call request: {error}"),
                Vec::new(),
            );
        }
    };
    let problems = check_call_request(&request);
    if !problems.is_empty() {
        return problem(
            StatusCode::BAD_REQUEST,
            "Bad Request",
            "the call request is invalid".into(),
            problems,
        );
    }

    let to = request.to[0].number.clone().unwrap_or_default();
    let record = CallRecord {
        uuid: uuid::Uuid::new_v4().to_string(),
        conversation_uuid: format!("CON-{}", uuid::Uuid::new_v4()),
        from: request.from.as_ref().and_then(|from| from.number.clone()),
        outcome: Outcome::for_number(&to, state.config.default_outcome),
        keypress: Keypress::for_number(&to),
        creation: Creation::for_number(&to),
        to,
        ncco: json!(request.ncco),
        event_url: request
            .event_url
            .as_ref()
            .and_then(|urls| urls.first().cloned()),
        deliveries: Vec::new(),
        finished: false,
    };
    let answer = json!({
        "uuid": record.uuid,
        "status": "started",
        "direction": "outbound",
        "conversation_uuid": record.conversation_uuid,
    });
    if let Ok(mut calls) = state.calls.lock() {
        calls.push(record.clone());
    }
    let creation = record.creation;
    tokio::spawn(play_call(state, record));
    match creation {
        Creation::Created => (StatusCode::CREATED, Json(answer)).into_response(),
        Creation::GatewayTimeout => problem(
            StatusCode::GATEWAY_TIMEOUT,
            "Gateway Timeout",
            "the call service did not answer in time".into(),
            Vec::new(),
        ),
    }
}

fn event_body(call: &CallRecord, status: &str, started_at: i64) -> Value {
    let timestamp = |seconds: i64| format_rfc3339(seconds);
    let mut event = json!({
        "headers": {},
        "from": call.from.clone().unwrap_or_default(),
        "to": call.to,
        "uuid": call.uuid,
        "conversation_uuid": call.conversation_uuid,
        "status": status,
        "direction": "outbound",
        "timestamp": timestamp(SystemClock.unix_seconds()),
    });
    if status == "completed" {
        let ended = SystemClock.unix_seconds();
        event["start_time"] = json!(timestamp(started_at));
        event["end_time"] = json!(timestamp(ended));
        event["duration"] = json!((ended - started_at).to_string());
        event["rate"] = json!("0.01400000");
        event["price"] = json!("0.00023333");
        event["network"] = json!("23410");
    }
    event
}

/// The DTMF input the emulated callee gives when the NCCO asks for one: it presses 1, unless
/// the number is reserved for another [`Keypress`].
fn input_body(call: &CallRecord) -> Value {
    json!({
        "from": call.from.clone().unwrap_or_default(),
        "to": call.to,
        "uuid": call.uuid,
        "conversation_uuid": call.conversation_uuid,
        "dtmf": call.keypress.dtmf(),
        "speech": {"results": []},
        "timestamp": format_rfc3339(SystemClock.unix_seconds()),
    })
}

async fn play_call(state: Arc<Emulator>, call: CallRecord) {
    if !state.config.send_events {
        tracing::info!(call_uuid = %call.uuid, "sending events is switched off: none sent");
        mark_finished(&state, &call.uuid);
        return;
    }
    let started_at = SystemClock.unix_seconds();
    let input_url = call
        .ncco
        .as_array()
        .into_iter()
        .flatten()
        .find(|action| action.get("action").and_then(Value::as_str) == Some("input"))
        .and_then(|input| input.get("eventUrl")?.get(0)?.as_str().map(str::to_owned));
    for status in call.outcome.statuses() {
        if !state.config.event_interval.is_zero() {
            tokio::time::sleep(state.config.event_interval).await;
        }
        if let Some(url) = &call.event_url {
            let body = event_body(&call, status, started_at);
            let delivery = deliver(&state, url, status, &body).await;
            record_delivery(&state, &call.uuid, delivery);
        }
        if *status == "answered"
            && let Some(url) = &input_url
        {
            let delivery = deliver(&state, url, "input", &input_body(&call)).await;
            record_delivery(&state, &call.uuid, delivery);
        }
    }
    mark_finished(&state, &call.uuid);
}

/// Every event of the call has been delivered, given up on, or not sent at all.
fn mark_finished(state: &Emulator, uuid: &str) {
    if let Ok(mut calls) = state.calls.lock()
        && let Some(record) = calls.iter_mut().find(|record| record.uuid == uuid)
    {
        record.finished = true;
    }
}

/// Posts one signed webhook; like Vonage, retries once on 429, 503 or 504 or a failed request.
async fn deliver(state: &Emulator, url: &str, status: &str, body: &Value) -> Delivery {
    let bytes = body.to_string();
    let mut delivery = Delivery {
        status: status.to_owned(),
        url: url.to_owned(),
        http_status: None,
        response_body: String::new(),
        error: None,
        attempts: 0,
    };
    for _ in 0..2 {
        delivery.attempts += 1;
        // Each attempt is signed afresh, with its own jti, as a new request would be.
        let token = match state.config.signer.sign_body(
            bytes.as_bytes(),
            SystemClock.unix_seconds(),
            &uuid::Uuid::new_v4().to_string(),
        ) {
            Ok(token) => token,
            Err(error) => {
                delivery.error = Some(error.to_string());
                return delivery;
            }
        };
        let answer = state
            .http
            .post(url)
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .body(bytes.clone())
            .send()
            .await;
        match answer {
            Ok(response) => {
                let code = response.status().as_u16();
                delivery.http_status = Some(code);
                delivery.error = None;
                delivery.response_body = response.text().await.unwrap_or_default();
                if ![429, 503, 504].contains(&code) {
                    return delivery;
                }
            }
            Err(error) => delivery.error = Some(error.to_string()),
        }
    }
    delivery
}

fn record_delivery(state: &Emulator, uuid: &str, delivery: Delivery) {
    tracing::info!(call_uuid = uuid, status = %delivery.status, http_status = ?delivery.http_status, "event delivered");
    if let Ok(mut calls) = state.calls.lock()
        && let Some(record) = calls.iter_mut().find(|record| record.uuid == uuid)
    {
        record.deliveries.push(delivery);
    }
}

async fn list_calls(State(state): State<Arc<Emulator>>) -> Response {
    let calls = state
        .calls
        .lock()
        .map(|calls| calls.clone())
        .unwrap_or_default();
    Json(calls).into_response()
}

async fn show_call(State(state): State<Arc<Emulator>>, Path(uuid): Path<String>) -> Response {
    let found = state
        .calls
        .lock()
        .ok()
        .and_then(|calls| calls.iter().find(|call| call.uuid == uuid).cloned());
    match found {
        Some(call) => Json(call).into_response(),
        None => problem(
            StatusCode::NOT_FOUND,
            "Not Found",
            format!("no call {uuid}"),
            Vec::new(),
        ),
    }
}

/// `2027-01-15T08:00:00.000Z` from Unix seconds, as Vonage writes timestamps.
pub fn format_rfc3339(unix_seconds: i64) -> String {
    let instant = UNIX_EPOCH + Duration::from_secs(u64::try_from(unix_seconds).unwrap_or_default());
    humantime::format_rfc3339_millis(instant).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(json: Value) -> CallRequestBody {
        serde_json::from_value(json).unwrap()
    }

    fn valid() -> Value {
        json!({
            "to": [{"type": "phone", "number": "447700900000"}],
            "from": {"type": "phone", "number": "447700900001"},
            "ncco": [{"action": "talk", "text": "Your code is 1, 2, 3, 4"}],
            "event_url": ["http://127.0.0.1:9000/event"]
        })
    }

    #[test]
    fn a_valid_request_has_no_problems() {
        assert!(check_call_request(&body(valid())).is_empty());
    }

    #[test]
    fn broken_requests_name_the_field() {
        let cases = [
            (
                "ncco",
                json!({"answer_url": ["https://example.com/answer"]}),
            ),
            (
                "to",
                json!({"to": [{"type": "phone", "number": "+447700900000"}]}),
            ),
            ("to", json!({"to": []})),
            ("from", json!({"random_from_number": true})),
            ("event_url", json!({"event_url": ["ftp://example.com"]})),
            ("ringing_timer", json!({"ringing_timer": 121})),
            ("length_timer", json!({"length_timer": 0})),
            ("machine_detection", json!({"machine_detection": "maybe"})),
        ];
        for (field, change) in cases {
            let mut request = valid();
            for (key, value) in change.as_object().unwrap() {
                request[key] = value.clone();
            }
            let problems = check_call_request(&body(request));
            assert!(
                problems.iter().any(|p| p.name == field),
                "{field}: {problems:?}"
            );
        }
    }

    #[test]
    fn unknown_fields_are_refused() {
        let mut request = valid();
        request["ncco_url"] = json!("https://example.com");
        assert!(serde_json::from_value::<CallRequestBody>(request).is_err());
    }

    #[test]
    fn reserved_numbers_choose_the_outcome() {
        for (number, default, chosen) in [
            ("447700900123", Outcome::Completed, Outcome::Completed),
            ("15550000486", Outcome::Completed, Outcome::Busy),
            ("15550000408", Outcome::Completed, Outcome::Unanswered),
            ("15550000500", Outcome::Completed, Outcome::Failed),
            ("447700900000", Outcome::Busy, Outcome::Busy),
        ] {
            assert_eq!(Outcome::for_number(number, default), chosen, "{number}");
        }
        assert_eq!(
            Outcome::Completed.statuses(),
            ["started", "ringing", "answered", "completed"]
        );
    }

    #[test]
    fn reserved_numbers_choose_the_keypress_and_the_creation_answer() {
        let record = |to: &str| CallRecord {
            uuid: "u".into(),
            conversation_uuid: "CON-u".into(),
            to: to.into(),
            from: None,
            ncco: Value::Null,
            event_url: None,
            outcome: Outcome::for_number(to, Outcome::Completed),
            keypress: Keypress::for_number(to),
            creation: Creation::for_number(to),
            deliveries: Vec::new(),
            finished: false,
        };
        let pressed = |to: &str| input_body(&record(to))["dtmf"].clone();
        assert_eq!(
            pressed("447700900000"),
            json!({"digits": "1", "timed_out": false})
        );
        assert_eq!(
            pressed("447700900002"),
            json!({"digits": "2", "timed_out": false})
        );
        assert_eq!(
            pressed("447700900204"),
            json!({"digits": "", "timed_out": true})
        );
        for to in ["447700900002", "447700900204", "447700900504"] {
            assert_eq!(record(to).outcome, Outcome::Completed, "{to} is answered");
        }
        assert_eq!(
            Creation::for_number("447700900504"),
            Creation::GatewayTimeout
        );
        for to in [
            "447700900000",
            "447700900500",
            "447700900486",
            "447700900408",
        ] {
            assert_eq!(Creation::for_number(to), Creation::Created, "{to}");
            assert_eq!(Keypress::for_number(to), Keypress::One, "{to}");
        }
    }

    #[test]
    fn timestamps_are_rfc3339_utc() {
        assert_eq!(format_rfc3339(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(format_rfc3339(1_800_000_000), "2027-01-15T08:00:00.000Z");
        assert_eq!(format_rfc3339(951_782_400), "2000-02-29T00:00:00.000Z");
    }
}
