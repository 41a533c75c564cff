//! Observability of the real function binaries, each run as a process under the local Lambda
//! Runtime API (`integration_tests::runtime_api`): `event` and `answer` with Secrets Manager and
//! DynamoDB in moto, each behind a fault proxy of its own so a test can make one of them fail;
//! send-alert and `event` beside the local stack (the emulator placing the calls), EventBridge
//! failing behind a proxy; `drift-check` against the Applications API fake, its secret in moto.
//!
//! What is asserted is what CloudWatch would extract from the functions' stdout: every line with
//! an `_aws` member is checked against the Embedded Metric Format rules
//! (`integration_tests::emf`), and each outcome a handler decides is counted once, in the
//! namespace the `METRICS_NAMESPACE` setting names, with the dimensions
//! `vonage_voice_lambda::observe::metrics::names` declares and the unit it describes.

use std::path::Path;
use std::sync::OnceLock;

use axum::http::StatusCode;
use integration_tests::apigw::{event_v2, fixture, with_authorization, with_token};
use integration_tests::applications_fake::{
    ApplicationsFake, FakeQuirks, SAMPLE_API_KEY, SAMPLE_API_SECRET, SAMPLE_APPLICATION_ID,
    application_in_place, edited_in_the_dashboard,
};
use integration_tests::emf::{self, Datum};
use integration_tests::fault_proxy::{Behaviour, FaultProxy};
use integration_tests::flow::{
    LocalStack, SendAlertInstance, StackOptions, build_binaries, sample_event,
};
use integration_tests::runtime_api::{
    DEFAULT_DEADLINE, FunctionProcess, HttpReply, Launch, Reply, fresh_log, lambda_environment,
};
use integration_tests::spawner::Spawner;
use integration_tests::webhook_stand::{StandNames, WebhookStand};
use serde_json::{Value, json};
use vonage_voice_lambda::clock::{Clock as _, SystemClock};
use vonage_voice_lambda::observe::logging::capped;
use vonage_voice_lambda::observe::metrics::names::{self, *};
use vonage_voice_lambda::observe::remote::REMOTE_CALL_MESSAGE;
use vonage_voice_lambda::settings::{
    DEFAULT_METRICS_NAMESPACE, DRIFT_AUTO_REPAIR, EXPECTED_ANSWER_URL, EXPECTED_EVENT_URL,
    METRICS_NAMESPACE, SECRET_RETRY_BACKOFF_SECONDS, UNSIGNED_EVENT_STATUSES, VONAGE_API_BASE_URL,
    VONAGE_APPLICATION_SECRET_ID, WEBHOOK_MAX_BODY_BYTES,
};

/// The process helper (`process-helper spawner`), built by cargo with this suite.
const HELPER: &str = env!("CARGO_BIN_EXE_process-helper");
/// Not the default, so a metric in the default namespace shows the setting was ignored.
const NAMESPACE: &str = "ObservabilityTest";
const SECRETS_MANAGER_ENDPOINT: &str = "AWS_ENDPOINT_URL_SECRETS_MANAGER";
const DYNAMODB_ENDPOINT: &str = "AWS_ENDPOINT_URL_DYNAMODB";

/// moto with the webhook secret and the state table; a proxy in front of each service.
struct Stand {
    webhooks: WebhookStand,
    secrets: FaultProxy,
    dynamodb: FaultProxy,
}

impl Stand {
    async fn start() -> Self {
        let webhooks = WebhookStand::start(
            Path::new(HELPER),
            StandNames {
                secret_id: "observability/vonage-webhooks",
                signature_secret: "observability-signature-secret-0123456789abcdef",
                state_table: "observability-state",
                log_prefix: "observability",
            },
        )
        .await;
        let secrets = FaultProxy::start(&webhooks.moto.endpoint())
            .await
            .expect("the proxy starts");
        let dynamodb = FaultProxy::start(&webhooks.moto.endpoint())
            .await
            .expect("the proxy starts");
        Self {
            webhooks,
            secrets,
            dynamodb,
        }
    }

    /// Starts `function` with `settings` and waits for its cold start to finish. Its log is
    /// `target/test-logs/observability-<log_name>.log`.
    async fn function(
        &self,
        function: &str,
        log_name: &str,
        settings: &[(&str, &str)],
    ) -> FunctionProcess {
        let (secrets, dynamodb) = (self.secrets.endpoint(), self.dynamodb.endpoint());
        let mut all = vec![
            (SECRETS_MANAGER_ENDPOINT, secrets.as_str()),
            (DYNAMODB_ENDPOINT, dynamodb.as_str()),
            (METRICS_NAMESPACE, NAMESPACE),
        ];
        all.extend_from_slice(settings);
        self.webhooks
            .function(function, log_name, &self.webhooks.moto.endpoint(), &all)
            .await
    }

    /// A signed `answered` event of a new call.
    fn answered_event(&self) -> Value {
        self.signed_event(&sample_event(&fresh_id(), "answered"))
    }

    fn signed_event(&self, body: &[u8]) -> Value {
        self.webhooks
            .signed_event(body, SystemClock.unix_seconds(), &fresh_id())
    }

    fn signed_answer(&self, call_uuid: &str) -> Value {
        self.webhooks
            .signed_answer(call_uuid, SystemClock.unix_seconds(), &fresh_id())
    }
}

fn answer_event(query: &str, call_uuid: &str) -> Value {
    let mut event = fixture("answer_v2_get_unsigned.json");
    event["rawQueryString"] = json!(query);
    event["queryStringParameters"]["uuid"] = json!(call_uuid);
    event["queryStringParameters"]["conversation_uuid"] = json!(format!("CON-{call_uuid}"));
    event
}

fn fresh_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// What one invocation wrote: its answer (an HTTP response from a webhook), its log lines
/// parsed, and the EMF data in them.
struct Invoked<R = HttpReply> {
    reply: R,
    lines: Vec<Value>,
    data: Vec<Datum>,
}

impl<R> Invoked<R> {
    /// The sum of `name` for this function, with `reason` when the metric carries one.
    fn count(&self, function: &str, name: &str, reason: Option<&str>) -> f64 {
        let mut dimensions = vec![(FUNCTION_DIMENSION, function)];
        if let Some(reason) = reason {
            dimensions.push((REASON_DIMENSION, reason));
        }
        emf::total(&self.data, name, &dimensions)
    }

    /// The `reason` the decision line logged.
    fn logged_reason(&self) -> String {
        self.lines
            .iter()
            .find_map(|line| line["reason"].as_str())
            .unwrap_or_else(|| panic!("no line gives a reason: {:#?}", self.lines))
            .to_owned()
    }

    /// Only `expected` (name, count) were counted, besides `also` names that may appear.
    fn assert_counted(
        &self,
        function: &str,
        expected: &[(&str, Option<&str>, f64)],
        also: &[&str],
    ) {
        for (name, reason, count) in expected {
            assert_eq!(
                self.count(function, name, *reason),
                *count,
                "{name} {reason:?}: {:#?}",
                self.data
            );
        }
        for datum in &self.data {
            assert!(
                expected.iter().any(|(name, _, _)| *name == datum.name)
                    || also.contains(&datum.name.as_str()),
                "unexpected metric: {datum:?}"
            );
        }
    }
}

/// Invokes a webhook function with `event`: [`invoke_function`], its answer read as HTTP.
async fn invoke(process: &mut FunctionProcess, event: &Value) -> Invoked {
    let invoked = invoke_function(process, event).await;
    let reply = invoked
        .reply
        .http()
        .unwrap_or_else(|problem| panic!("{}: {problem}", process.name()));
    Invoked {
        reply,
        lines: invoked.lines,
        data: invoked.data,
    }
}

/// Invokes `process` with `event` and reads what it wrote meanwhile: every line one JSON object,
/// every metric line valid EMF with a level and timestamp Lambda's filter reads, and every datum
/// in [`NAMESPACE`], with its declared unit and dimensions, `FunctionName` the function's.
async fn invoke_function(process: &mut FunctionProcess, event: &Value) -> Invoked<Reply> {
    let mark = process.log_mark();
    let reply = process
        .invoke_next(
            serde_json::to_vec(event).expect("an event serialises"),
            DEFAULT_DEADLINE,
        )
        .await
        .unwrap_or_else(|problem| panic!("{}: {problem}", process.name()));
    let lines: Vec<Value> = process
        .log_lines_since(mark)
        .expect("the log is readable")
        .iter()
        .map(|line| {
            serde_json::from_str(line)
                .unwrap_or_else(|_| panic!("every stdout line is one JSON object: {line}"))
        })
        .collect();
    let data = emf::data(&lines);
    for line in lines.iter().filter(|line| line.get("_aws").is_some()) {
        assert_lambda_can_read_its_level(line);
    }
    for datum in &data {
        assert_eq!(datum.namespace, NAMESPACE, "{datum:?}");
        let unit = if names::MILLISECOND_HISTOGRAMS.contains(&datum.name.as_str()) {
            "Milliseconds"
        } else {
            assert!(names::COUNTERS.contains(&datum.name.as_str()), "{datum:?}");
            "Count"
        };
        assert_eq!(datum.unit.as_deref(), Some(unit), "{datum:?}");
        let mut declared: Vec<&str> = names::dimensions(&datum.name).to_vec();
        declared.sort();
        let emitted: Vec<&str> = datum
            .dimensions
            .iter()
            .map(|(name, _)| name.as_str())
            .collect();
        assert_eq!(emitted, declared, "{datum:?}");
        assert_eq!(
            datum.dimensions[0],
            (FUNCTION_DIMENSION.to_owned(), process.name().to_owned()),
            "{datum:?}"
        );
    }
    Invoked { reply, lines, data }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_event_function_counts_each_outcome_in_emf() {
    let stand = Stand::start().await;
    let mut process = stand
        .function("event", "event-emf", &[(WEBHOOK_MAX_BODY_BYTES, "4096")])
        .await;

    // Accepted, and the cold start's secret read and the cold start itself ride on the first
    // invocation's flush.
    let body = sample_event(&fresh_id(), "answered");
    let event = stand.signed_event(&body);
    let first = invoke(&mut process, &event).await;
    assert_eq!(first.reply.status, 200);
    first.assert_counted(
        "event",
        &[(WEBHOOK_VERIFIED, None, 1.0), (COLD_START, None, 1.0)],
        &[SECRET_READ, SECRET_READ_LATENCY],
    );
    assert!(first.count("event", SECRET_READ, None) >= 1.0);
    let latencies = first
        .data
        .iter()
        .find(|datum| datum.name == SECRET_READ_LATENCY)
        .expect("the secret read's latency");
    assert!(latencies.values.iter().all(|ms| *ms >= 0.0));

    // The same delivery again: a duplicate, nothing else; the cold start is not counted again.
    let again = invoke(&mut process, &event).await;
    assert_eq!(again.reply.status, 200);
    again.assert_counted("event", &[(WEBHOOK_DUPLICATE, None, 1.0)], &[]);

    // A token that is no JWT: rejected by the reason the log gives.
    let garbage = with_authorization(event_v2(&body), "Bearer not.a.jwt");
    let rejected = invoke(&mut process, &garbage).await;
    assert_eq!(rejected.reply.status, 401);
    let reason = rejected.logged_reason();
    rejected.assert_counted("event", &[(WEBHOOK_REJECTED, Some(&reason), 1.0)], &[]);

    // Unsigned, and its status not listed: counted as unsigned and as rejected.
    let unsigned = invoke(
        &mut process,
        &event_v2(&sample_event(&fresh_id(), "ringing")),
    )
    .await;
    assert_eq!(unsigned.reply.status, 503);
    unsigned.assert_counted(
        "event",
        &[
            (WEBHOOK_UNSIGNED, None, 1.0),
            (WEBHOOK_REJECTED, Some("missing_token"), 1.0),
        ],
        &[],
    );

    // Refused before parsing.
    let mut huge = event_v2(&sample_event(&fresh_id(), "answered"));
    huge["body"] = json!("x".repeat(8 * 1024));
    let too_large = invoke(&mut process, &huge).await;
    assert_eq!(too_large.reply.status, 413);
    too_large.assert_counted(
        "event",
        &[(WEBHOOK_REJECTED, Some("body_too_large"), 1.0)],
        &[],
    );

    // DynamoDB down: still verified and processed on memory, and the failures counted.
    stand
        .dynamodb
        .set(Behaviour::Fail(StatusCode::INTERNAL_SERVER_ERROR));
    let on_memory = invoke(&mut process, &stand.answered_event()).await;
    assert_eq!(on_memory.reply.status, 200);
    on_memory.assert_counted(
        "event",
        &[(WEBHOOK_VERIFIED, None, 1.0)],
        &[DYNAMODB_FAILURE],
    );
    assert!(on_memory.count("event", DYNAMODB_FAILURE, None) >= 1.0);
    stand.dynamodb.set(Behaviour::Forward);
    process.stop().await.expect("the process stops");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_without_its_secret_is_counted_as_secret_unavailable() {
    let stand = Stand::start().await;
    stand
        .secrets
        .set(Behaviour::Fail(StatusCode::INTERNAL_SERVER_ERROR));
    let mut process = stand
        .function(
            "event",
            "event-emf-no-secret",
            &[(SECRET_RETRY_BACKOFF_SECONDS, "0")],
        )
        .await;
    let event = stand.answered_event();
    let unavailable = invoke(&mut process, &event).await;
    assert_eq!(unavailable.reply.status, 503);
    assert_eq!(unavailable.logged_reason(), "secret_unavailable");
    unavailable.assert_counted(
        "event",
        &[(SECRET_UNAVAILABLE, None, 1.0), (COLD_START, None, 1.0)],
        &[SECRET_READ, SECRET_READ_LATENCY],
    );
    process.stop().await.expect("the process stops");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_answer_function_counts_signed_and_unsigned_webhooks_apart() {
    let stand = Stand::start().await;
    let mut process = stand.function("answer", "answer-emf", &[]).await;
    let call_uuid = fresh_id();
    let signed = invoke(&mut process, &stand.signed_answer(&call_uuid)).await;
    assert_eq!(signed.reply.status, 200);
    signed.assert_counted(
        "answer",
        &[(WEBHOOK_VERIFIED, None, 1.0), (COLD_START, None, 1.0)],
        &[SECRET_READ, SECRET_READ_LATENCY],
    );
    let uuid = fresh_id();
    let query =
        format!("to=447700900000&from=447700900001&uuid={uuid}&conversation_uuid=CON-{uuid}");
    let unsigned = invoke(&mut process, &answer_event(&query, &uuid)).await;
    assert_eq!(
        unsigned.reply.status, 200,
        "ANSWER_ALLOW_UNSIGNED is on by default"
    );
    unsigned.assert_counted("answer", &[(WEBHOOK_UNSIGNED, None, 1.0)], &[]);
    process.stop().await.expect("the process stops");
}

// ---------------------------------------------------------------------------------------------
// Metric lines under Lambda's log-level filter
// ---------------------------------------------------------------------------------------------

/// The level Lambda's log-level filter files a JSON line under, as its documentation puts it
/// (docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs-log-level.html): the `level`
/// field if it is a valid level, INFO if it is invalid or missing, and INFO as well when the
/// line has no valid RFC 3339 `timestamp`.
fn filed_level(line: &Value) -> &str {
    let level = line[LEVEL_PROPERTY]
        .as_str()
        .and_then(|level| {
            LAMBDA_LOG_LEVELS
                .iter()
                .find(|known| known.eq_ignore_ascii_case(level))
        })
        .copied();
    match level {
        Some(level)
            if line[TIMESTAMP_PROPERTY]
                .as_str()
                .is_some_and(is_rfc3339_utc) =>
        {
            level
        }
        _ => "INFO",
    }
}

/// Whether Lambda sends `line` to CloudWatch Logs under `application_log_level`: it sends a line
/// filed at that level or a less detailed one.
fn lambda_sends(line: &Value, application_log_level: &str) -> bool {
    let rank = |level: &str| LAMBDA_LOG_LEVELS.iter().position(|known| *known == level);
    rank(filed_level(line)) >= rank(application_log_level)
}

/// `2026-12-02T15:43:01.123456Z`: a date, `T`, a time with optional fraction, `Z`.
fn is_rfc3339_utc(text: &str) -> bool {
    let bytes = text.as_bytes();
    let shape = b"dddd-dd-ddTdd:dd:dd";
    let digits_at = |range: std::ops::Range<usize>| {
        bytes
            .get(range)
            .is_some_and(|part| part.iter().all(u8::is_ascii_digit))
    };
    bytes.len() > shape.len()
        && shape.iter().zip(bytes).all(|(want, got)| {
            if *want == b'd' {
                got.is_ascii_digit()
            } else {
                want == got
            }
        })
        && text.ends_with('Z')
        && match &text[shape.len()..text.len() - 1] {
            "" => true,
            fraction => fraction.starts_with('.') && digits_at(shape.len() + 1..text.len() - 1),
        }
}

/// A metric line carries a `level` Lambda knows and an RFC 3339 `timestamp` within a second of
/// its own `_aws.Timestamp`.
fn assert_lambda_can_read_its_level(line: &Value) {
    let level = line[LEVEL_PROPERTY].as_str().unwrap_or_default();
    assert!(LAMBDA_LOG_LEVELS.contains(&level), "no level: {line}");
    let timestamp = line[TIMESTAMP_PROPERTY].as_str().unwrap_or_default();
    assert!(is_rfc3339_utc(timestamp), "no RFC 3339 timestamp: {line}");
    let seconds = line["_aws"]["Timestamp"].as_i64().expect("EMF checked it") / 1000;
    assert!(
        (seconds - 1..=seconds + 1)
            .map(vonage_voice_emulator::format_rfc3339)
            .any(|near| near[..19] == timestamp[..19]),
        "{timestamp} is not the line's time: {line}"
    );
    assert_eq!(filed_level(line), level, "{line}");
}

#[test]
fn the_filter_model_files_lines_as_the_documentation_says() {
    let at = |level: &str, timestamp: &str| json!({"level": level, "timestamp": timestamp});
    let now = "2026-12-02T15:43:01.123456Z";
    assert_eq!(filed_level(&at("ERROR", now)), "ERROR");
    assert_eq!(filed_level(&at("warn", "2026-12-02T15:43:01Z")), "WARN");
    assert_eq!(filed_level(&json!({"_aws": {}})), "INFO", "no level");
    assert_eq!(filed_level(&at("LOUD", now)), "INFO", "not a level");
    assert_eq!(filed_level(&at("ERROR", "")), "INFO", "no timestamp");
    assert_eq!(filed_level(&at("ERROR", "2026-12-02 15:43:01")), "INFO");
    assert!(!lambda_sends(&json!({"_aws": {}}), "WARN"));
    assert!(lambda_sends(&json!({"_aws": {}}), "INFO"));
    assert!(lambda_sends(&at("ERROR", now), "WARN"));
    assert!(!lambda_sends(&at("WARN", now), "ERROR"));
}

/// With `AWS_LAMBDA_LOG_LEVEL` at WARN or at ERROR (what `LogLevel` sets through the template's
/// `ApplicationLogLevel`), the event function's metric lines carry that level and a timestamp:
/// Lambda's filter, as documented, sends them, and they are still valid EMF with every count.
/// Its own log lines carry a timestamp too, so a warning is filed as WARN and sent, not filed
/// as INFO and dropped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metric_lines_pass_lambdas_filter_at_warn_and_error() {
    let stand = Stand::start().await;
    for level in ["WARN", "ERROR"] {
        let mut process = stand
            .function(
                "event",
                &format!("event-emf-{}", level.to_lowercase()),
                &[(vonage_voice_lambda::settings::AWS_LAMBDA_LOG_LEVEL, level)],
            )
            .await;
        let accepted = invoke(&mut process, &stand.answered_event()).await;
        assert_eq!(accepted.reply.status, 200);
        accepted.assert_counted(
            "event",
            &[(WEBHOOK_VERIFIED, None, 1.0), (COLD_START, None, 1.0)],
            &[SECRET_READ, SECRET_READ_LATENCY],
        );
        let refused = invoke(
            &mut process,
            &with_authorization(event_v2(b"{}"), "Bearer not.a.jwt"),
        )
        .await;
        assert_eq!(refused.reply.status, 401);
        for invoked in [&accepted, &refused] {
            let metric_lines: Vec<&Value> = invoked
                .lines
                .iter()
                .filter(|line| line.get("_aws").is_some())
                .collect();
            assert!(!metric_lines.is_empty(), "{level}: {:#?}", invoked.lines);
            for line in metric_lines {
                assert_eq!(line[LEVEL_PROPERTY], level, "{line}");
                assert!(lambda_sends(line, level), "{level} drops {line}");
            }
            // The INFO decision lines are the function's own to leave out at this level; every
            // line it writes is filed under its own level, so a warning or error is sent.
            for line in invoked
                .lines
                .iter()
                .filter(|line| line.get("_aws").is_none())
            {
                assert_ne!(line["level"], "INFO", "{level}: {line}");
                assert_eq!(Some(filed_level(line)), line["level"].as_str(), "{line}");
                assert!(lambda_sends(line, level), "{level} drops {line}");
            }
        }
        if level == "WARN" {
            assert!(
                refused.lines.iter().any(|line| line["level"] == "WARN"),
                "a refusal is logged at WARN and Lambda sends it: {:#?}",
                refused.lines
            );
        }
        assert_eq!(refused.data.len(), 1, "{:#?}", refused.data);
        assert_eq!(refused.data[0].name, WEBHOOK_REJECTED);
        process.stop().await.expect("the process stops");
    }
}

// ---------------------------------------------------------------------------------------------
// Correlated logs
// ---------------------------------------------------------------------------------------------

/// The correlation ids of one line: a log line carries them in its `span` (the invocation's),
/// a metric line as properties at its root.
fn ids(line: &Value) -> [String; 4] {
    let holder = if line.get("_aws").is_some() {
        line
    } else {
        &line["span"]
    };
    [
        "lambda_request_id",
        "apigw_request_id",
        "trace_id",
        "call_uuid",
    ]
    .map(|name| {
        holder[name]
            .as_str()
            .unwrap_or_else(|| panic!("no {name}: {line}"))
            .to_owned()
    })
}

/// Every line of `invoked` carries the same four ids: a Lambda request id, API Gateway's request
/// id from `event`, an X-Ray trace id and `call_uuid` (as logged: capped). Returns them.
fn assert_correlated(invoked: &Invoked, event: &Value, call_uuid: &str) -> [String; 4] {
    assert!(
        invoked.lines.len() >= 2,
        "a decision line and a metric line: {:#?}",
        invoked.lines
    );
    let first = ids(&invoked.lines[0]);
    for line in &invoked.lines {
        assert_eq!(ids(line), first, "{line}");
    }
    let [lambda_request_id, apigw_request_id, trace_id, logged_uuid] = &first;
    assert!(!lambda_request_id.is_empty());
    assert_eq!(
        apigw_request_id,
        event["requestContext"]["requestId"]
            .as_str()
            .expect("the fixture has one")
    );
    assert!(trace_id.starts_with("Root=1-"), "{trace_id}");
    assert_eq!(*logged_uuid, capped(call_uuid));
    first
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_line_of_an_invocation_carries_its_correlation_ids() {
    let stand = Stand::start().await;
    let mut process = stand
        .function(
            "event",
            "event-correlated",
            &[
                (UNSIGNED_EVENT_STATUSES, "completed"),
                (WEBHOOK_MAX_BODY_BYTES, "1048576"),
            ],
        )
        .await;

    // The cold start's lines belong to no invocation; a first one lets them reach the log.
    let warm = stand.answered_event();
    assert_eq!(invoke(&mut process, &warm).await.reply.status, 200);

    let call_uuid = fresh_id();
    let mut event = stand.signed_event(&sample_event(&call_uuid, "answered"));
    event["requestContext"]["requestId"] = json!("apigw-request-1");
    let signed = invoke(&mut process, &event).await;
    assert_eq!(signed.reply.status, 200);
    let first = assert_correlated(&signed, &event, &call_uuid);

    let other_uuid = fresh_id();
    let mut second_event = stand.signed_event(&sample_event(&other_uuid, "completed"));
    second_event["requestContext"]["requestId"] = json!("apigw-request-2");
    let second = invoke(&mut process, &second_event).await;
    let next = assert_correlated(&second, &second_event, &other_uuid);
    assert_ne!(
        next[0], first[0],
        "each invocation its own Lambda request id"
    );
    assert_ne!(next[2], first[2], "each invocation its own trace");

    // An unverified 100 KB uuid and status are cut, in the span and in the decision line.
    let huge = |prefix: &str| format!("{prefix}-{}", "0123456789abcdef".repeat(6250));
    let (uuid, status) = (huge("uuid"), huge("status"));
    let mut body: Value = serde_json::from_slice(&sample_event(&uuid, "completed")).expect("JSON");
    body["status"] = json!(status);
    let unsigned_event = event_v2(&serde_json::to_vec(&body).expect("serialises"));
    let unsigned = invoke(&mut process, &unsigned_event).await;
    assert_eq!(
        unsigned.reply.status, 503,
        "an unlisted status is not accepted unsigned"
    );
    assert_correlated(&unsigned, &unsigned_event, &uuid);
    for line in &unsigned.lines {
        let text = line.to_string();
        assert!(text.len() < 2048, "{} bytes: {}", text.len(), &text[..200]);
        if let Some(logged) = line.get("status") {
            assert_eq!(logged, &json!(capped(&status)));
        }
    }
    assert!(
        unsigned
            .lines
            .iter()
            .any(|line| line.get("status").is_some()),
        "the decision line names the status: {:#?}",
        unsigned.lines
    );
    process.stop().await.expect("the process stops");
}

/// At DEBUG, each request the event function makes ends with a `remote call` line naming the
/// service and the operation with its time, logged in the invocation with its ids. (That a line
/// logged inside a call's span keeps the ids is a unit test of `observe::remote`: here the SDK's
/// own debug lines sit in the SDK's spans.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_debug_each_remote_call_is_timed_in_the_invocations_log() {
    let stand = Stand::start().await;
    let mut process = stand
        .function(
            "event",
            "event-remote-calls",
            &[(vonage_voice_lambda::settings::AWS_LAMBDA_LOG_LEVEL, "DEBUG")],
        )
        .await;
    // The cold start's lines (its secret read among them) reach the log with the first.
    let warm = stand.answered_event();
    assert_eq!(invoke(&mut process, &warm).await.reply.status, 200);

    let call_uuid = fresh_id();
    let mut event = stand.signed_event(&sample_event(&call_uuid, "answered"));
    event["requestContext"]["requestId"] = json!("apigw-remote-1");
    let invoked = invoke(&mut process, &event).await;
    assert_eq!(invoked.reply.status, 200);

    let mut calls = Vec::new();
    for line in &invoked.lines {
        if line["message"] == REMOTE_CALL_MESSAGE {
            assert_eq!(line["level"], "DEBUG", "{line}");
            assert!(
                line["elapsed_ms"].as_f64().is_some_and(|ms| ms > 0.0),
                "{line}"
            );
            assert_eq!(line["span"]["name"], "invocation", "{line}");
            assert_eq!(line["span"]["apigw_request_id"], "apigw-remote-1", "{line}");
            assert_eq!(line["span"]["call_uuid"], json!(call_uuid), "{line}");
            calls.push((line["service"].to_string(), line["operation"].to_string()));
        }
    }
    // The duplicate check's conditional put, then the look for the call's alert; the secret
    // was read at cold start.
    let dynamodb = |operation: &str| (r#""dynamodb""#.to_owned(), format!(r#""{operation}""#));
    assert_eq!(
        calls,
        [dynamodb("PutItem"), dynamodb("GetItem")],
        "{:#?}",
        invoked.lines
    );
    process.stop().await.expect("the process stops");
}

// ---------------------------------------------------------------------------------------------
// Alert outcomes, through the local stack: send-alert as a process of its own, the Vonage
// emulator playing the call, the event function under `cargo lambda watch`
// ---------------------------------------------------------------------------------------------

/// The EMF data in `lines` for `name`, summed over whatever function emitted it, after checking
/// each line against the EMF rules and each datum's unit and dimensions against the declared.
fn total_over_functions(lines: &[Value], name: &str) -> f64 {
    let data = emf::data(lines);
    for datum in &data {
        let unit = if names::MILLISECOND_HISTOGRAMS.contains(&datum.name.as_str()) {
            "Milliseconds"
        } else {
            "Count"
        };
        assert_eq!(datum.unit.as_deref(), Some(unit), "{datum:?}");
        let emitted: Vec<&str> = datum
            .dimensions
            .iter()
            .map(|(name, _)| name.as_str())
            .collect();
        let mut declared = names::dimensions(&datum.name).to_vec();
        declared.sort();
        assert_eq!(emitted, declared, "{datum:?}");
    }
    data.iter()
        .filter(|datum| datum.name == name)
        .flat_map(|datum| datum.values.iter())
        .sum()
}

/// The local stack, with events sent at once, and a send-alert process of its own labelled
/// `label`, whose log the tests read.
async fn alert_stack(label: &str) -> (LocalStack, SendAlertInstance) {
    let stack = LocalStack::start(StackOptions {
        event_interval: std::time::Duration::ZERO,
        send_events: true,
    })
    .await;
    let send_alert = stack
        .start_send_alert_instance(Path::new(HELPER), label)
        .await
        .expect("send-alert starts");
    (stack, send_alert)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alert_outcomes_are_counted_where_they_are_decided() {
    let (stack, mut send_alert) = alert_stack("observability").await;
    let alert = json!({"alert_id": "obs-confirmed", "to": "447700900000",
                       "text": "Disk full on db-1", "confirm": true});
    let placed = send_alert.invoke(&alert).await.expect("answered");
    let call_uuid = placed["call_uuid"].as_str().expect("a call").to_owned();
    let again = send_alert.invoke(&alert).await.expect("answered");
    assert_eq!(again["duplicate"], true, "{again}");
    let refused = send_alert
        .invoke(&json!({"to": "not a number", "text": "x"}))
        .await
        .expect("answered");
    assert!(refused.get("error").is_some(), "{refused}");
    let lines = send_alert.log_lines().expect("its log");
    assert_eq!(total_over_functions(&lines, ALERT_PLACED), 1.0);
    assert_eq!(total_over_functions(&lines, ALERT_DUPLICATE), 1.0);
    assert_eq!(total_over_functions(&lines, ALERT_FAILED), 1.0);
    assert_eq!(total_over_functions(&lines, ALERT_OUTCOME_UNKNOWN), 0.0);

    // The callee pressed 1 (the emulator's answer when a confirmation is asked): the event
    // function counts it where it records it.
    let call = stack
        .finished_call(&call_uuid, std::time::Duration::from_secs(120))
        .await;
    assert_eq!(call["finished"], true, "{call}");
    let status = stack
        .invoke_alert_status(&json!({"alert_id": "obs-confirmed"}))
        .await;
    assert_eq!(status["confirmation"], "confirmed", "{status}");
    assert_eq!(
        watched_count(&stack, "event", ALERT_CONFIRMED, 1.0).await,
        1.0
    );
    assert_eq!(
        watched_count(&stack, "event", ALERT_NOT_CONFIRMED, 0.0).await,
        0.0
    );
    send_alert.stop().await;
}

/// The sum of `name` in `lines`, every EMF line checked as [`total_over_functions`] checks it,
/// and each datum of `name` checked to be in the default namespace (the local stack sets no
/// `METRICS_NAMESPACE`) with `function` as its only dimension.
fn counted(lines: &[Value], function: &str, name: &str) -> f64 {
    let total = total_over_functions(lines, name);
    for datum in emf::data(lines).iter().filter(|datum| datum.name == name) {
        assert_eq!(datum.namespace, DEFAULT_METRICS_NAMESPACE, "{datum:?}");
        assert_eq!(
            datum.dimensions,
            [(FUNCTION_DIMENSION.to_owned(), function.to_owned())],
            "{datum:?}"
        );
    }
    total
}

/// [`counted`] over what the functions under `cargo lambda watch` wrote, once it reaches
/// `expected` (at once for 0) or after 10 s: cargo lambda watch copies a function's output to its
/// log on its own time, so the lines are looked for again until they come; a count that stays
/// short fails the caller's assertion.
async fn watched_count(stack: &LocalStack, function: &str, name: &str, expected: f64) -> f64 {
    let mut attempts = 0;
    loop {
        let watched: Vec<Value> = std::fs::read_to_string(stack.watch_log())
            .unwrap_or_default()
            .lines()
            .filter_map(|line| serde_json::from_str(line).ok())
            .collect();
        let total = counted(&watched, function, name);
        attempts += 1;
        if total >= expected || attempts == 100 {
            return total;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// The emulator answers a create-call to a number ending in `0504` with `504 Gateway Timeout`
/// after placing the call: send-alert cannot know whether the phone rings, says so, counts
/// `AlertOutcomeUnknown` (not placed, not failed), and answers a repeat from what it stored
/// without ringing the phone again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_create_call_answered_504_is_counted_as_outcome_unknown() {
    let (stack, mut send_alert) = alert_stack("observability-unknown").await;
    let alert = json!({"alert_id": "obs-unknown", "to": "447700900504",
                       "text": "Disk full on db-1"});
    let unknown = send_alert.invoke(&alert).await.expect("answered");
    assert_eq!(unknown["error"], "outcome_unknown", "{unknown}");
    assert_eq!(unknown["status"], 504, "{unknown}");
    let again = send_alert.invoke(&alert).await.expect("answered");
    assert_eq!(again["duplicate"], true, "{again}");
    assert_eq!(again["error"], "outcome_unknown", "{again}");
    assert_eq!(
        stack.emulator_calls().await.len(),
        1,
        "the call was placed once, though send-alert could not know it"
    );

    let lines = send_alert.log_lines().expect("its log");
    assert_eq!(counted(&lines, "send-alert", ALERT_OUTCOME_UNKNOWN), 1.0);
    assert_eq!(counted(&lines, "send-alert", ALERT_DUPLICATE), 1.0);
    assert_eq!(counted(&lines, "send-alert", ALERT_PLACED), 0.0);
    assert_eq!(counted(&lines, "send-alert", ALERT_FAILED), 0.0);
    send_alert.stop().await;
}

/// Callees who answer without the confirming digit: one presses 2 (`…0002`), one presses nothing
/// until the input times out (`…0204`). The event function records each as not confirmed and
/// counts `AlertNotConfirmed` once per alert, `AlertConfirmed` never.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_without_the_confirming_digit_is_counted_as_not_confirmed() {
    let (stack, mut send_alert) = alert_stack("observability-not-confirmed").await;
    let cases = [
        ("obs-pressed-2", "447700900002"),
        ("obs-no-input", "447700900204"),
    ];
    for (count, (alert_id, to)) in (1..).zip(cases) {
        let placed = send_alert
            .invoke(&json!({"alert_id": alert_id, "to": to,
                            "text": "Disk full on db-1", "confirm": true}))
            .await
            .expect("answered");
        let call_uuid = placed["call_uuid"].as_str().expect("a call").to_owned();
        let call = stack
            .finished_call(&call_uuid, std::time::Duration::from_secs(120))
            .await;
        assert_eq!(call["finished"], true, "{call}");
        let status = stack
            .invoke_alert_status(&json!({"alert_id": alert_id}))
            .await;
        assert_eq!(status["state"], "completed", "{alert_id}: {status}");
        assert_eq!(
            status["confirmation"], "not_confirmed",
            "{alert_id}: {status}"
        );
        assert_eq!(
            watched_count(&stack, "event", ALERT_NOT_CONFIRMED, f64::from(count)).await,
            f64::from(count),
            "{alert_id}"
        );
    }
    assert_eq!(
        watched_count(&stack, "event", ALERT_CONFIRMED, 0.0).await,
        0.0
    );
    let lines = send_alert.log_lines().expect("its log");
    assert_eq!(counted(&lines, "send-alert", ALERT_PLACED), 2.0);
    send_alert.stop().await;
}

// ---------------------------------------------------------------------------------------------
// EventBridge failing under the event function, for an alert of the local stack
// ---------------------------------------------------------------------------------------------

/// The changes of `call_uuid` on moto's bus (read back through the stack's rule and queue), as
/// (state, version), once: the bus may carry one twice, when an attempt timed out after EventBridge
/// took it and the retry put it again (consumers order and deduplicate by version).
async fn published_changes(stack: &LocalStack, call_uuid: &str) -> Vec<(String, u64)> {
    let mut changes: Vec<(String, u64)> = stack
        .alert_events(1, std::time::Duration::from_secs(10))
        .await
        .expect("moto's queue answers")
        .iter()
        .filter(|event| event["detail"]["call_uuid"] == call_uuid)
        .map(|event| {
            (
                event["detail"]["state"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                event["detail"]["version"].as_u64().unwrap_or_default(),
            )
        })
        .collect();
    changes.dedup();
    changes
}

/// A verified event of `alert_id`'s call, on a process's first invocation, whose change could
/// not be published: answered 200 all the same, `EventBridgeFailure` counted once beside
/// `WebhookVerified` and the cold start's, and the give-up logged at ERROR naming the alert, as
/// unavailable, with at least one attempt. Returns the attempts it logged.
fn assert_publish_given_up(invoked: &Invoked, alert_id: &str) -> u64 {
    assert_eq!(
        invoked.reply.status, 200,
        "the publish never fails the webhook"
    );
    invoked.assert_counted(
        "event",
        &[
            (EVENTBRIDGE_FAILURE, None, 1.0),
            (WEBHOOK_VERIFIED, None, 1.0),
            (COLD_START, None, 1.0),
        ],
        &[SECRET_READ, SECRET_READ_LATENCY],
    );
    let line = invoked
        .lines
        .iter()
        .find(|line| {
            line["message"]
                .as_str()
                .is_some_and(|message| message.starts_with("alert change not published"))
        })
        .unwrap_or_else(|| panic!("no publish failure logged: {:#?}", invoked.lines));
    assert_eq!(line["level"], "ERROR", "{line}");
    assert_eq!(line["alert_id"], alert_id, "{line}");
    assert_eq!(line["error"], "unavailable", "{line}");
    let attempts = line["attempts"].as_u64().expect("the attempts made");
    assert!(attempts >= 1, "{line}");
    attempts
}

/// An alert's call goes on while EventBridge fails. send-alert (a process of its own) places the
/// call on the emulator, which sends no events, and records the alert in the stack's table; an
/// `event` process of its own gets the call's events, its EventBridge endpoint
/// (`AWS_ENDPOINT_URL_EVENTBRIDGE`) a fault proxy in front of moto. While the proxy answers 500
/// the change is recorded, the publish tried as the budget allows and given up: the webhook is
/// answered 200 and `EventBridgeFailure` counted once. A second `event` process whose EventBridge
/// endpoint refuses connections does the same. With the proxy forwarding again, the next change
/// reaches moto's bus and nothing is counted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_publish_eventbridge_fails_or_refuses_is_counted_and_the_webhook_still_answers() {
    let stack = LocalStack::start(StackOptions {
        event_interval: std::time::Duration::ZERO,
        send_events: false,
    })
    .await;
    let mut send_alert = stack
        .start_send_alert_instance(Path::new(HELPER), "observability-eventbridge")
        .await
        .expect("send-alert starts");
    let alert_id = "obs-eventbridge";
    let placed = send_alert
        .invoke(&json!({"alert_id": alert_id, "to": "447700900000",
                        "text": "Disk full on db-1"}))
        .await
        .expect("answered");
    let call_uuid = placed["call_uuid"].as_str().expect("a call").to_owned();
    send_alert.stop().await;

    let eventbridge = FaultProxy::start(&stack.moto_endpoint())
        .await
        .expect("the proxy starts");
    eventbridge.set(Behaviour::Fail(StatusCode::INTERNAL_SERVER_ERROR));
    let settings = |endpoint: String| {
        [
            (EVENTBRIDGE_ENDPOINT, endpoint),
            (METRICS_NAMESPACE, NAMESPACE.to_owned()),
        ]
    };
    let mut failing = stack
        .start_event_instance(
            Path::new(HELPER),
            "emf-eventbridge-500",
            &settings(eventbridge.endpoint()),
        )
        .await
        .expect("event starts");
    let signer = stack.credentials.signer();
    let signed = |status: &str| {
        let body = sample_event(&call_uuid, status);
        let token = signer
            .sign_body(&body, SystemClock.unix_seconds(), &fresh_id())
            .expect("signs");
        with_token(event_v2(&body), &token)
    };

    let ringing = invoke(&mut failing.process, &signed("ringing")).await;
    let attempts = assert_publish_given_up(&ringing, alert_id);
    assert_eq!(
        eventbridge.requests() as u64,
        attempts,
        "each attempt reached EventBridge's endpoint"
    );

    // Nothing listens where this one's EventBridge is: every connection is refused.
    let refused_endpoint = format!("http://127.0.0.1:{}", integration_tests::free_port());
    let mut refusing = stack
        .start_event_instance(
            Path::new(HELPER),
            "emf-eventbridge-refused",
            &settings(refused_endpoint),
        )
        .await
        .expect("event starts");
    let answered = invoke(&mut refusing.process, &signed("answered")).await;
    assert_publish_given_up(&answered, alert_id);
    refusing.stop().await;

    // EventBridge back: the next change is published and no failure counted.
    eventbridge.set(Behaviour::Forward);
    let completed = invoke(&mut failing.process, &signed("completed")).await;
    assert_eq!(completed.reply.status, 200);
    completed.assert_counted("event", &[(WEBHOOK_VERIFIED, None, 1.0)], &[]);
    assert_eq!(completed.count("event", EVENTBRIDGE_FAILURE, None), 0.0);
    assert_eq!(
        published_changes(&stack, &call_uuid).await,
        [("completed".to_owned(), 4)],
        "only the change made while EventBridge answered reached the bus (the record's fourth \
         version: placed, ringing, answered, completed)"
    );
    failing.stop().await;
}

// ---------------------------------------------------------------------------------------------
// The drift check, the real binary under the Runtime API harness
// ---------------------------------------------------------------------------------------------

const DRIFT_ANSWER_URL: &str = "https://abc123.execute-api.us-east-1.amazonaws.com/answer";
const DRIFT_EVENT_URL: &str = "https://abc123.execute-api.us-east-1.amazonaws.com/event";
const EVENTBRIDGE_ENDPOINT: &str = "AWS_ENDPOINT_URL_EVENTBRIDGE";

/// The application secret as the operator fills it in.
fn application_secret() -> Value {
    json!({
        "application_id": SAMPLE_APPLICATION_ID,
        "private_key": "-----BEGIN PRIVATE KEY-----\nnot read\n-----END PRIVATE KEY-----",
        "api_key": SAMPLE_API_KEY,
        "api_secret": SAMPLE_API_SECRET,
    })
}

fn in_place() -> Value {
    application_in_place(SAMPLE_APPLICATION_ID, DRIFT_ANSWER_URL, DRIFT_EVENT_URL)
}

/// Edited in the Dashboard (signed callbacks gone), and its event webhook moved elsewhere.
fn drifted() -> Value {
    let mut application = edited_in_the_dashboard(in_place());
    application["capabilities"]["voice"]["webhooks"]["event_url"]["address"] =
        json!("https://old-stack.example.com/event");
    application
}

/// The Applications API fake serving `application`.
async fn applications_api(application: Value, quirks: FakeQuirks) -> ApplicationsFake {
    ApplicationsFake::start(
        SAMPLE_APPLICATION_ID,
        SAMPLE_API_KEY,
        SAMPLE_API_SECRET,
        application,
        quirks,
    )
    .await
}

/// What EventBridge Scheduler hands the function when the schedule has no input of its own (the
/// template gives none): a scheduled event. The function reads nothing from it.
fn scheduled_event() -> Value {
    json!({
        "version": "0",
        "id": fresh_id(),
        "detail-type": "Scheduled Event",
        "source": "aws.scheduler",
        "account": "123456789012",
        "time": "2026-12-02T06:00:00Z",
        "region": "us-east-1",
        "resources": ["arn:aws:scheduler:us-east-1:123456789012:schedule/default/observability-drift-check"],
        "detail": "{}"
    })
}

/// moto holding the application secret, a fault proxy in front of its Secrets Manager, and the
/// process helper that starts `drift-check`.
struct DriftStand {
    moto: integration_tests::MotoServer,
    secrets: aws_sdk_secretsmanager::Client,
    secrets_proxy: FaultProxy,
    spawner: Spawner,
}

/// The application secret's name in moto.
const APPLICATION_SECRET_ID: &str = "observability/vonage-application";

impl DriftStand {
    /// Starts moto with `secret` as the application secret.
    async fn start(secret: &Value) -> Self {
        let moto = integration_tests::MotoServer::start();
        let aws = integration_tests::moto_loader(&moto.endpoint())
            .load()
            .await;
        let secrets = aws_sdk_secretsmanager::Client::new(&aws);
        secrets
            .create_secret()
            .name(APPLICATION_SECRET_ID)
            .secret_string(secret.to_string())
            .send()
            .await
            .expect("moto stores the application secret");
        let secrets_proxy = FaultProxy::start(&moto.endpoint())
            .await
            .expect("the proxy starts");
        let spawner = Spawner::start(Path::new(HELPER))
            .await
            .expect("the process helper starts");
        Self {
            moto,
            secrets,
            secrets_proxy,
            spawner,
        }
    }

    /// Replaces the application secret's value.
    async fn put_secret(&self, secret: &Value) {
        self.secrets
            .put_secret_value()
            .secret_id(APPLICATION_SECRET_ID)
            .secret_string(secret.to_string())
            .send()
            .await
            .expect("moto stores the new value");
    }

    /// Starts `drift-check` as Lambda would, its settings as the template gives them (the
    /// application secret, `api`'s URL, the stack's webhook URLs), Secrets Manager behind the
    /// stand's proxy, with `settings` added. Its log is
    /// `target/test-logs/observability-<log_name>.log`.
    async fn function(
        &self,
        log_name: &str,
        api: &ApplicationsFake,
        settings: &[(&str, &str)],
    ) -> FunctionProcess {
        static BUILT: OnceLock<()> = OnceLock::new();
        BUILT.get_or_init(|| build_binaries(&["drift-check"]));
        let build_folder = Path::new(HELPER).parent().expect("the helper's folder");
        let log = fresh_log(&format!("observability-{log_name}")).expect("the log is emptied");
        let mut env = lambda_environment("drift-check", build_folder, &self.moto.endpoint());
        let (secrets, base_url) = (self.secrets_proxy.endpoint(), api.base_url());
        let fixed = [
            (SECRETS_MANAGER_ENDPOINT, secrets.as_str()),
            (VONAGE_APPLICATION_SECRET_ID, APPLICATION_SECRET_ID),
            (VONAGE_API_BASE_URL, base_url.as_str()),
            (EXPECTED_ANSWER_URL, DRIFT_ANSWER_URL),
            (EXPECTED_EVENT_URL, DRIFT_EVENT_URL),
            (METRICS_NAMESPACE, NAMESPACE),
        ];
        env.extend(
            fixed
                .iter()
                .chain(settings)
                .map(|(name, value)| ((*name).to_owned(), (*value).to_owned())),
        );
        FunctionProcess::start(
            &self.spawner,
            Launch {
                name: "drift-check".to_owned(),
                program: build_folder.join("drift-check"),
                args: Vec::new(),
                env,
                log,
            },
        )
        .await
        .unwrap_or_else(|problem| panic!("drift-check starts: {problem}"))
    }
}

/// The run's summary, which the function answers the invocation with.
fn summary(invoked: &Invoked<Reply>) -> Value {
    match &invoked.reply {
        Reply::Response { body, .. } => serde_json::from_slice(body).expect("a JSON summary"),
        Reply::Error { body, .. } => panic!(
            "the run failed: {}; {:#?}",
            String::from_utf8_lossy(body),
            invoked.lines
        ),
    }
}

/// The counts of one successful run, each 0 or 1 as given (`WebhookMismatches` the number of
/// webhooks moved; a count of 0 is left out of the line), with `ColdStart` on a process's first
/// and the one read of the application secret, and no other metric.
fn assert_drift_counted(
    run: &Invoked<Reply>,
    [
        found,
        signed_callbacks_off,
        mismatches,
        repaired,
        repair_failed,
    ]: [f64; 5],
    cold_start: bool,
) {
    let mut expected = vec![
        (DRIFT_FOUND, None, found),
        (SIGNED_CALLBACKS_OFF, None, signed_callbacks_off),
        (WEBHOOK_MISMATCHES, None, mismatches),
        (DRIFT_REPAIRED, None, repaired),
        (DRIFT_REPAIR_FAILED, None, repair_failed),
        (DRIFT_CHECK_FAILED, None, 0.0),
    ];
    if cold_start {
        expected.push((COLD_START, None, 1.0));
    }
    run.assert_counted(
        "drift-check",
        &expected,
        &[SECRET_READ, SECRET_READ_LATENCY],
    );
    assert_eq!(
        run.count("drift-check", SECRET_READ, None),
        1.0,
        "each run reads the application secret once"
    );
}

/// Drift with `DRIFT_AUTO_REPAIR` off: found, counted, left alone. Put back by hand, the next run
/// finds and counts nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_drift_check_counts_drift_it_finds_in_emf() {
    let stand = DriftStand::start(&application_secret()).await;
    let api = applications_api(drifted(), FakeQuirks::default()).await;
    let mut process = stand.function("drift-check-found", &api, &[]).await;

    let found = invoke_function(&mut process, &scheduled_event()).await;
    assert_eq!(summary(&found)["repair"], "disabled");
    assert_drift_counted(&found, [1.0, 1.0, 1.0, 0.0, 0.0], true);
    assert!(api.puts().is_empty(), "report only: nothing written");

    api.set_application(in_place());
    let healthy = invoke_function(&mut process, &scheduled_event()).await;
    assert_eq!(summary(&healthy)["healthy"], true);
    assert_drift_counted(&healthy, [0.0; 5], false);
    process.stop().await.expect("the process stops");
}

/// With `DRIFT_AUTO_REPAIR=true`: the application put back (every PUT valid by Vonage's spec)
/// and `DriftRepaired` counted; against an account that drops `signed_callbacks` on PUT, the
/// repair does not stick and `DriftRepairFailed` is counted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_drift_check_counts_repairs_and_failed_repairs_in_emf() {
    let stand = DriftStand::start(&application_secret()).await;
    let api = applications_api(drifted(), FakeQuirks::default()).await;
    let mut process = stand
        .function("drift-check-repaired", &api, &[(DRIFT_AUTO_REPAIR, "true")])
        .await;
    let repaired = invoke_function(&mut process, &scheduled_event()).await;
    assert_eq!(summary(&repaired)["repair"], "applied");
    assert_drift_counted(&repaired, [1.0, 1.0, 1.0, 1.0, 0.0], true);
    assert_eq!(api.violations(), Vec::<String>::new());
    assert_eq!(
        api.application()["capabilities"]["voice"]["signed_callbacks"],
        true
    );
    process.stop().await.expect("the process stops");

    let dropping = applications_api(
        drifted(),
        FakeQuirks {
            drop_signed_callbacks_on_put: true,
            ..FakeQuirks::default()
        },
    )
    .await;
    let mut process = stand
        .function(
            "drift-check-repair-failed",
            &dropping,
            &[(DRIFT_AUTO_REPAIR, "true")],
        )
        .await;
    let failed = invoke_function(&mut process, &scheduled_event()).await;
    assert_eq!(summary(&failed)["repair"], "failed");
    assert_drift_counted(&failed, [1.0, 1.0, 1.0, 0.0, 1.0], true);
    process.stop().await.expect("the process stops");
}

/// A run that cannot read the application's credentials fails the invocation (Lambda retries
/// it) and counts `DriftCheckFailed`, nothing else: with Secrets Manager answering 500, and with
/// the secret as the stack creates it (blank fields). Once the secret is filled in, the next run
/// checks the application and counts `DriftCheckFailed` 0.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drift_check_without_its_credentials_counts_drift_check_failed_in_emf() {
    let blank = json!({"application_id": "", "private_key": "", "api_key": "", "api_secret": ""});
    let stand = DriftStand::start(&blank).await;
    let api = applications_api(in_place(), FakeQuirks::default()).await;
    let mut process = stand.function("drift-check-failed", &api, &[]).await;

    stand
        .secrets_proxy
        .set(Behaviour::Fail(StatusCode::INTERNAL_SERVER_ERROR));
    let unavailable = invoke_function(&mut process, &scheduled_event()).await;
    assert_check_failed(&unavailable, &[(COLD_START, None, 1.0)]);
    assert!(stand.secrets_proxy.get_secret_value_calls() >= 1);

    stand.secrets_proxy.set(Behaviour::Forward);
    let unfilled = invoke_function(&mut process, &scheduled_event()).await;
    assert_check_failed(&unfilled, &[]);
    assert!(
        api.requests().await.is_empty(),
        "no credentials, no request"
    );

    stand.put_secret(&application_secret()).await;
    let checked = invoke_function(&mut process, &scheduled_event()).await;
    assert_eq!(summary(&checked)["healthy"], true);
    assert_drift_counted(&checked, [0.0; 5], false);
    process.stop().await.expect("the process stops");
}

/// The invocation failed as one that could not read the application secret, logged so, and
/// counted `DriftCheckFailed` once with nothing else but `also` and the secret's reads.
fn assert_check_failed(run: &Invoked<Reply>, also: &[(&str, Option<&str>, f64)]) {
    let Reply::Error { body, .. } = &run.reply else {
        panic!("the run did not fail: {:?}", run.reply);
    };
    let error: Value = serde_json::from_slice(body).expect("Lambda's error document");
    assert!(
        error["errorMessage"]
            .as_str()
            .is_some_and(|message| message.contains("the application secret cannot be read")),
        "{error}"
    );
    assert!(
        run.lines
            .iter()
            .any(|line| line["error_kind"] == "secret" && line["level"] == "ERROR"),
        "{:#?}",
        run.lines
    );
    let mut expected = vec![(DRIFT_CHECK_FAILED, None, 1.0)];
    expected.extend_from_slice(also);
    run.assert_counted(
        "drift-check",
        &expected,
        &[SECRET_READ, SECRET_READ_LATENCY],
    );
}
