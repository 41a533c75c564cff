//! The emulator's routes and the state they share: the account, the application and the calls.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use jsonwebtoken::DecodingKey;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use vonage_voice_lambda::vonage::sign::WebhookSigner;

use crate::checks::{CallRequestBody, check_application_jwt, check_call_request, problem};
use crate::numbers::{Creation, Keypress, Outcome};
use crate::play::play_call;

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

/// What every route shares: the configuration, the key JWTs must verify with, and the calls.
pub(crate) struct Emulator {
    pub(crate) config: EmulatorConfig,
    pub(crate) decoding_key: DecodingKey,
    pub(crate) http: reqwest::Client,
    pub(crate) calls: Mutex<Vec<CallRecord>>,
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
