//! The checks a request must pass, as Vonage's Voice API makes them, and its error answers.

use axum::Json;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use jsonwebtoken::{Algorithm, Validation};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::router::Emulator;

/// An error answer in the Voice API's problem-details shape.
pub(crate) fn problem(
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
pub(crate) fn check_application_jwt(
    state: &Emulator,
    headers: &HeaderMap,
) -> Result<(), &'static str> {
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
