//! send-alert's real HTTP client against a wiremock Voice API that misbehaves on cue: 429 then
//! 201, 5xx, a response that never comes, a refused connection, a 4xx. Every request the mock
//! receives is checked against the createCall request schema of Vonage's spec and its bearer
//! JWT is verified with the application's public key.
//!
//! What must hold: only 429 and failures to connect are retried, and then with backoff; a call
//! is placed at most once; a 5xx or a timeout after sending is reported as an unknown outcome with
//! status and body; bad input reaches no server; no key or token reaches a log line or an error.
//! Against the invocation's deadline: the answer always comes before it, `outcome_unknown` when a
//! request was sent and hung, `deadline_exceeded` when nothing (more) could be sent in time.

mod voice_support;

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use integration_tests::free_port;
use serde_json::{Value, json};
use voice_support::{
    alert_config, ample_budget, application_secrets, check_create_call, create_call_schema,
    private_key_lines,
};
use vonage_voice_lambda::alert::{AlertConfig, handle_alert, response_payload};
use vonage_voice_lambda::clock::SystemClock;
use vonage_voice_lambda::deadline::Budget;
use vonage_voice_lambda::voice::{HttpVoiceApi, VoiceClientConfig};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const CREATED: &str = r#"{"uuid":"63f61863-4a51-4f6b-86e1-46edebcf9356","status":"started","direction":"outbound","conversation_uuid":"CON-f972836a-550f-45fa-956c-12a2ab5b7d22"}"#;

fn created() -> ResponseTemplate {
    ResponseTemplate::new(201).set_body_raw(CREATED, "application/json")
}

fn create_call() -> wiremock::MockBuilder {
    Mock::given(method("POST")).and(path("/v1/calls"))
}

async fn send_alert(config: &AlertConfig, input: Value) -> Value {
    let voice = HttpVoiceApi::new(config.voice.clone()).expect("the HTTP client builds");
    let outcome = handle_alert(
        &input,
        config,
        &application_secrets(),
        &voice,
        &ample_budget(),
    )
    .await;
    response_payload(&outcome)
}

fn code_alert() -> Value {
    json!({"to": "447700900000", "code": "4821", "confirm": true})
}

/// Checks every request the mock received against the spec; returns them.
async fn checked_requests(server: &MockServer) -> Vec<Request> {
    let schema = create_call_schema();
    let requests = server
        .received_requests()
        .await
        .expect("the mock records requests");
    for request in &requests {
        check_create_call(&schema, request);
    }
    requests
}

#[tokio::test]
async fn rate_limited_then_created_places_exactly_one_call() {
    let server = MockServer::start().await;
    // A Retry-After far beyond the policy's cap must not stall the alert.
    create_call()
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "30"))
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    create_call()
        .respond_with(created())
        .expect(1)
        .mount(&server)
        .await;

    let started = Instant::now();
    let payload = send_alert(&alert_config(&server.uri()), code_alert()).await;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "Retry-After is capped"
    );

    assert_eq!(
        payload,
        json!({"call_uuid": "63f61863-4a51-4f6b-86e1-46edebcf9356",
               "conversation_uuid": "CON-f972836a-550f-45fa-956c-12a2ab5b7d22",
               "status": "started"})
    );
    let requests = checked_requests(&server).await;
    assert_eq!(requests.len(), 2, "one 429, one 201, nothing after");
    assert_eq!(
        requests[0].body, requests[1].body,
        "the same call is asked for again"
    );
    let first = check_create_call(&create_call_schema(), &requests[0]);
    let second = check_create_call(&create_call_schema(), &requests[1]);
    assert_ne!(first.jti, second.jti, "each attempt carries a fresh token");
    server.verify().await;
}

#[tokio::test]
async fn rate_limited_throughout_gives_up_after_the_retries_and_places_no_call() {
    let server = MockServer::start().await;
    create_call()
        .respond_with(
            ResponseTemplate::new(429).set_body_string(r#"{"title":"Too Many Requests"}"#),
        )
        .mount(&server)
        .await;
    let config = alert_config(&server.uri());
    let payload = send_alert(&config, code_alert()).await;

    let attempts = config.voice.retry.max_retries + 1;
    assert_eq!(payload["error"], "rate_limited");
    assert_eq!(payload["attempts"], attempts);
    assert_eq!(payload["body"], r#"{"title":"Too Many Requests"}"#);
    assert_eq!(checked_requests(&server).await.len(), attempts);
}

#[tokio::test]
async fn a_server_error_is_not_retried_and_the_outcome_is_reported_unknown() {
    for status in [500, 503] {
        let server = MockServer::start().await;
        let body = format!(r#"{{"title":"Internal Error","status":{status}}}"#);
        create_call()
            .respond_with(ResponseTemplate::new(status).set_body_string(body.clone()))
            .expect(1)
            .mount(&server)
            .await;
        let payload = send_alert(&alert_config(&server.uri()), code_alert()).await;

        assert_eq!(payload["error"], "outcome_unknown", "{status}");
        assert_eq!(payload["status"], status);
        assert_eq!(payload["body"], body);
        let message = payload["message"].as_str().unwrap();
        assert!(message.contains("may have been placed"), "{message}");
        assert!(message.contains(&format!("status {status}")), "{message}");
        assert_eq!(
            checked_requests(&server).await.len(),
            1,
            "{status} is not retried"
        );
        server.verify().await;
    }
}

#[tokio::test]
async fn a_timeout_after_sending_is_not_retried_and_the_outcome_is_reported_unknown() {
    let server = MockServer::start().await;
    create_call()
        .respond_with(created().set_delay(Duration::from_secs(10)))
        .expect(1)
        .mount(&server)
        .await;
    let mut config = alert_config(&server.uri());
    config.voice.total_timeout = Duration::from_millis(300);

    let started = Instant::now();
    let payload = send_alert(&config, code_alert()).await;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "the total timeout applies"
    );

    assert_eq!(payload["error"], "outcome_unknown");
    assert_eq!(payload["status"], Value::Null);
    let message = payload["message"].as_str().unwrap();
    assert!(message.contains("no response within 300ms"), "{message}");
    assert_eq!(
        checked_requests(&server).await.len(),
        1,
        "a timeout is not retried"
    );
}

#[tokio::test]
async fn a_refused_connection_is_retried_then_reported_unreachable() {
    // Nothing listens on this port: every attempt fails to connect, so nothing was sent.
    let config = alert_config(&format!("http://127.0.0.1:{}", free_port()));
    let payload = send_alert(&config, code_alert()).await;
    assert_eq!(payload["error"], "voice_api_unreachable");
    assert_eq!(payload["attempts"], config.voice.retry.max_retries + 1);
}

#[tokio::test]
async fn a_client_error_is_a_definite_refusal_and_not_retried() {
    let server = MockServer::start().await;
    create_call()
        .respond_with(ResponseTemplate::new(401).set_body_string(r#"{"title":"Unauthorized"}"#))
        .expect(1)
        .mount(&server)
        .await;
    let payload = send_alert(&alert_config(&server.uri()), code_alert()).await;
    assert_eq!(payload["error"], "call_rejected");
    assert_eq!(payload["status"], 401);
    assert_eq!(payload["body"], r#"{"title":"Unauthorized"}"#);
    assert_eq!(checked_requests(&server).await.len(), 1);
}

#[tokio::test]
async fn a_201_without_a_call_uuid_is_not_retried_and_reported_unknown() {
    let server = MockServer::start().await;
    create_call()
        .respond_with(ResponseTemplate::new(201).set_body_string("<html>accepted</html>"))
        .expect(1)
        .mount(&server)
        .await;
    let payload = send_alert(&alert_config(&server.uri()), code_alert()).await;
    assert_eq!(payload["error"], "outcome_unknown");
    assert_eq!(payload["status"], 201);
    assert_eq!(payload["body"], "<html>accepted</html>");
    assert_eq!(checked_requests(&server).await.len(), 1);
}

#[tokio::test]
async fn each_invalid_input_field_is_named_and_reaches_no_server() {
    let server = MockServer::start().await;
    create_call()
        .respond_with(created())
        .expect(0)
        .mount(&server)
        .await;
    let config = alert_config(&server.uri());
    let cases = [
        (json!(["447700900000", "4821"]), "$"),
        (json!({"code": "4821"}), "to"),
        (json!({"to": "44 7700 9000 0000 12", "code": "4821"}), "to"),
        (json!({"to": "+44 (7700) 900000", "code": "4821"}), "to"),
        (
            json!({"to": "447700900000", "from": "VONAGE", "code": "4821"}),
            "from",
        ),
        (json!({"to": "447700900000"}), "code"),
        (json!({"to": "447700900000", "code": "123"}), "code"),
        (json!({"to": "447700900000", "code": "12345678901"}), "code"),
        (
            json!({"to": "447700900000", "code": "4821", "text": "Disk full"}),
            "text",
        ),
        (
            json!({"to": "447700900000", "text": "x".repeat(1501)}),
            "text",
        ),
        (
            json!({"to": "447700900000", "text": "Disk full", "language": "en_US"}),
            "language",
        ),
        (
            json!({"to": "447700900000", "text": "Disk full", "repeat": 0}),
            "repeat",
        ),
        (
            json!({"to": "447700900000", "text": "Disk full", "confirm": 1}),
            "confirm",
        ),
        (
            json!({"to": "447700900000", "text": "Disk full", "callback": "x"}),
            "callback",
        ),
    ];
    for (input, field) in cases {
        let payload = send_alert(&config, input.clone()).await;
        assert_eq!(payload["error"], "invalid_input", "{input}");
        assert_eq!(payload["field"], field, "{input}: {payload}");
        assert!(payload["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    assert!(checked_requests(&server).await.is_empty());
    server.verify().await;
}

#[tokio::test]
async fn a_5_mb_unknown_field_name_gives_a_short_reply_and_short_log_lines() {
    let logs = captured_logs();
    let server = MockServer::start().await;
    create_call()
        .respond_with(created())
        .expect(0)
        .mount(&server)
        .await;
    let name = format!("callback{}", "x".repeat(5 * 1024 * 1024));
    let mut input = code_alert();
    input[name.as_str()] = json!("https://example.com");
    let payload = send_alert(&alert_config(&server.uri()), input).await;

    assert_eq!(payload["error"], "invalid_input");
    let field = payload["field"].as_str().unwrap();
    let message = payload["message"].as_str().unwrap();
    assert!(field.len() < 200, "{} bytes of field", field.len());
    assert!(message.len() < 200, "{} bytes of message", message.len());
    assert!(
        field.starts_with("callbackxxxx"),
        "names the field: {field}"
    );
    let logged = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    let line = logged
        .lines()
        .find(|line| line.contains("invalid_input") && line.contains("callbackxxxx"))
        .expect("the refusal was logged, naming the field");
    assert!(line.len() < 1000, "a {} byte log line", line.len());
    assert!(
        !logged.contains(&"x".repeat(1000)),
        "the name was logged whole"
    );
    server.verify().await;
}

/// The deadline Lambda would give an invocation started now with `timeout`: Unix milliseconds,
/// from the wall clock, as the Runtime API computes it.
fn lambda_deadline_in(timeout: Duration) -> u64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    u64::try_from((now + timeout).as_millis()).unwrap()
}

async fn send_alert_by(config: &AlertConfig, input: Value, deadline_unix_ms: u64) -> Value {
    let voice = HttpVoiceApi::new(config.voice.clone()).expect("the HTTP client builds");
    let budget = Budget::for_invocation(deadline_unix_ms, Arc::new(SystemClock));
    let outcome = handle_alert(&input, config, &application_secrets(), &voice, &budget).await;
    response_payload(&outcome)
}

#[tokio::test]
async fn a_hanging_voice_api_is_answered_before_the_deadline_as_an_unknown_outcome() {
    let server = MockServer::start().await;
    // Accepts the call, then never answers within any timeout in play.
    create_call()
        .respond_with(created().set_delay(Duration::from_secs(60)))
        .mount(&server)
        .await;
    let mut config = alert_config(&server.uri());
    // The production timeout, longer than the whole invocation: only the deadline can cut it.
    config.voice.total_timeout = VoiceClientConfig::new(&server.uri()).total_timeout;

    let started = Instant::now();
    let payload = send_alert_by(
        &config,
        code_alert(),
        lambda_deadline_in(Duration::from_secs(3)),
    )
    .await;
    let elapsed = started.elapsed();

    assert!(
        elapsed < Duration::from_secs(3),
        "answered after {elapsed:?}, past the 3 s deadline"
    );
    assert_eq!(payload["error"], "outcome_unknown", "{payload}");
    assert_eq!(payload["status"], Value::Null);
    let message = payload["message"].as_str().unwrap();
    assert!(message.contains("may have been placed"), "{message}");
    assert!(message.contains("deadline"), "{message}");
    assert_eq!(
        checked_requests(&server).await.len(),
        1,
        "no second create-call after the first hung"
    );
}

#[tokio::test]
async fn no_retry_starts_that_could_not_finish_before_the_deadline() {
    let server = MockServer::start().await;
    create_call()
        .respond_with(
            ResponseTemplate::new(429).set_body_string(r#"{"title":"Too Many Requests"}"#),
        )
        .mount(&server)
        .await;
    // Attempts may take 5 s; the deadline leaves at most 2.5 s after the first 429.
    let config = alert_config(&server.uri());
    let payload = send_alert_by(
        &config,
        code_alert(),
        lambda_deadline_in(Duration::from_secs(3)),
    )
    .await;

    assert_eq!(payload["error"], "deadline_exceeded", "{payload}");
    assert_eq!(payload["attempts"], 1);
    let message = payload["message"].as_str().unwrap();
    assert!(message.contains("no call was placed"), "{message}");
    assert!(message.contains("429"), "{message}");
    assert_eq!(checked_requests(&server).await.len(), 1);
}

#[tokio::test]
async fn a_deadline_too_near_for_any_attempt_sends_nothing() {
    let server = MockServer::start().await;
    create_call()
        .respond_with(created())
        .expect(0)
        .mount(&server)
        .await;
    // After the margin, less than the minimum an attempt needs is left.
    let config = alert_config(&server.uri());
    let payload = send_alert_by(
        &config,
        code_alert(),
        lambda_deadline_in(Duration::from_millis(1_200)),
    )
    .await;

    assert_eq!(payload["error"], "deadline_exceeded", "{payload}");
    let message = payload["message"].as_str().unwrap();
    assert!(message.contains("sending again is safe"), "{message}");
    assert!(checked_requests(&server).await.is_empty());
    server.verify().await;
}

/// A Vonage that echoes the bearer token it was sent into its error body.
struct EchoesTheToken {
    status: u16,
}

impl Respond for EchoesTheToken {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let authorization = request
            .headers
            .get("authorization")
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default();
        ResponseTemplate::new(self.status)
            .set_body_json(json!({"title": "Error", "detail": format!("you sent {authorization}")}))
    }
}

#[derive(Clone, Default)]
struct CapturedLogs(Arc<Mutex<Vec<u8>>>);

impl Write for CapturedLogs {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Every log line of this test binary from the first call on, at every level (hyper's included).
/// Global rather than per-thread: tracing caches callsite interest across threads, so a
/// thread-local subscriber misses events when other tests run in parallel.
fn captured_logs() -> &'static CapturedLogs {
    static LOGS: OnceLock<CapturedLogs> = OnceLock::new();
    LOGS.get_or_init(|| {
        let logs = CapturedLogs::default();
        let subscriber = tracing_subscriber::fmt()
            .json()
            .with_max_level(tracing::Level::TRACE)
            .with_writer({
                let logs = logs.clone();
                move || logs.clone()
            })
            .finish();
        tracing::subscriber::set_global_default(subscriber)
            .expect("nothing else in this test binary installs a subscriber");
        logs
    })
}

#[tokio::test]
async fn neither_the_key_nor_a_token_reaches_a_log_line_or_an_error() {
    let logs = captured_logs();
    let server = MockServer::start().await;
    create_call()
        .respond_with(EchoesTheToken { status: 429 })
        .up_to_n_times(1)
        .mount(&server)
        .await;
    create_call()
        .respond_with(EchoesTheToken { status: 500 })
        .mount(&server)
        .await;
    let payload = send_alert(&alert_config(&server.uri()), code_alert()).await;
    assert_eq!(payload["error"], "outcome_unknown");

    let logged = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(logged.contains("retrying"), "the retry was logged");
    assert!(
        logged.contains("outcome_unknown") && logged.contains("you sent Bearer [redacted]"),
        "this alert's outcome was logged, the echoed token cut out: {logged}"
    );
    let requests = checked_requests(&server).await;
    assert_eq!(requests.len(), 2);
    let shown = format!("{payload}\n{logged}");
    for request in &requests {
        let token = request.headers["authorization"]
            .to_str()
            .unwrap()
            .trim_start_matches("Bearer ");
        let signature = token.rsplit('.').next().unwrap();
        assert!(!shown.contains(signature), "a token leaked: {shown}");
    }
    for line in private_key_lines() {
        assert!(!shown.contains(&line), "the private key leaked");
    }
    assert!(
        shown.contains("[redacted]"),
        "the echoed token was cut out: {shown}"
    );
}
