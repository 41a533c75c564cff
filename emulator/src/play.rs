//! Playing a placed call: its events and DTMF input, signed and posted to the application.

use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use axum::http::header;
use serde_json::{Value, json};
use vonage_voice_lambda::clock::{Clock as _, SystemClock};

use crate::router::{CallRecord, Delivery, Emulator};

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
pub(crate) fn input_body(call: &CallRecord) -> Value {
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

pub(crate) async fn play_call(state: Arc<Emulator>, call: CallRecord) {
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

/// `2027-01-15T08:00:00.000Z` from Unix seconds, as Vonage writes timestamps.
pub fn format_rfc3339(unix_seconds: i64) -> String {
    let instant = UNIX_EPOCH + Duration::from_secs(u64::try_from(unix_seconds).unwrap_or_default());
    humantime::format_rfc3339_millis(instant).to_string()
}
