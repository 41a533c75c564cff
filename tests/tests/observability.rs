//! Observability of the real `event` and `answer` binaries, each run as a process under the local
//! Lambda Runtime API (`integration_tests::runtime_api`), Secrets Manager and DynamoDB in moto,
//! each behind a fault proxy of its own so a test can make one of them fail.
//!
//! What is asserted is what CloudWatch would extract from the functions' stdout: every line with
//! an `_aws` member is checked against the Embedded Metric Format rules
//! (`integration_tests::emf`), and each outcome a handler decides is counted once, in the
//! namespace the `METRICS_NAMESPACE` setting names, with the dimensions
//! `vonage_voice_lambda::observe::metrics::names` declares and the unit it describes.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use axum::http::StatusCode;
use integration_tests::apigw::{event_v2, fixture, with_authorization, with_token};
use integration_tests::emf::{self, Datum};
use integration_tests::fault_proxy::{Behaviour, FaultProxy};
use integration_tests::flow::{API_KEY, LocalStack, StackOptions, build_binaries, sample_event};
use integration_tests::runtime_api::{
    DEFAULT_DEADLINE, FunctionProcess, HttpReply, Launch, fresh_log, lambda_environment,
};
use integration_tests::spawner::Spawner;
use integration_tests::{MotoServer, repo_root};
use serde_json::{Value, json};
use vonage_voice_lambda::clock::{Clock as _, SystemClock};
use vonage_voice_lambda::observe::logging::capped;
use vonage_voice_lambda::observe::metrics::names::{self, *};
use vonage_voice_lambda::secrets::WebhookSecret;
use vonage_voice_lambda::settings::STATE_TABLE_NAME;
use vonage_voice_lambda::settings::{
    SECRET_RETRY_BACKOFF_SECONDS, UNSIGNED_EVENT_STATUSES, WEBHOOK_MAX_BODY_BYTES,
    WEBHOOK_SECRET_ID,
};
use vonage_voice_lambda::vonage::sign::WebhookSigner;

/// The process helper (`bench-lambda spawner`), built by cargo with this suite.
const HELPER: &str = env!("CARGO_BIN_EXE_bench-lambda");
const SECRET_ID: &str = "observability/vonage-webhooks";
const APPLICATION_ID: &str = "aaaaaaaa-bbbb-cccc-dddd-0123456789ab";
const SIGNATURE_SECRET: &str = "observability-signature-secret-0123456789abcdef";
const STATE_TABLE: &str = "observability-state";
/// Not the default, so a metric in the default namespace shows the setting was ignored.
const NAMESPACE: &str = "ObservabilityTest";
const SECRETS_MANAGER_ENDPOINT: &str = "AWS_ENDPOINT_URL_SECRETS_MANAGER";
const DYNAMODB_ENDPOINT: &str = "AWS_ENDPOINT_URL_DYNAMODB";

fn function_binary(name: &str) -> PathBuf {
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| build_binaries(&["answer", "event", "send-alert"]));
    build_folder().join(name)
}

fn build_folder() -> PathBuf {
    Path::new(HELPER)
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| repo_root().join("target/debug"))
}

/// moto with the webhook secret and the state table; a proxy in front of each service.
struct Stand {
    moto: MotoServer,
    secrets: FaultProxy,
    dynamodb: FaultProxy,
    spawner: Spawner,
    signer: WebhookSigner,
}

impl Stand {
    async fn start() -> Self {
        let moto = MotoServer::start();
        let aws = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_secretsmanager::config::Credentials::new(
                "testing", "testing", None, None, "moto",
            ))
            .endpoint_url(moto.endpoint())
            .load()
            .await;
        integration_tests::create_state_table(&aws_sdk_dynamodb::Client::new(&aws), STATE_TABLE)
            .await;
        aws_sdk_secretsmanager::Client::new(&aws)
            .create_secret()
            .name(SECRET_ID)
            .secret_string(
                WebhookSecret::new(SIGNATURE_SECRET, API_KEY, Some(APPLICATION_ID.into()))
                    .to_json(),
            )
            .send()
            .await
            .expect("moto stores the webhook secret");
        let secrets = FaultProxy::start(&moto.endpoint())
            .await
            .expect("the proxy starts");
        let dynamodb = FaultProxy::start(&moto.endpoint())
            .await
            .expect("the proxy starts");
        let spawner = Spawner::start(Path::new(HELPER))
            .await
            .expect("the process helper starts");
        let signer = WebhookSigner::new(SIGNATURE_SECRET, API_KEY, Some(APPLICATION_ID.into()))
            .expect("a signer");
        Self {
            moto,
            secrets,
            dynamodb,
            spawner,
            signer,
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
        let log =
            fresh_log(&format!("observability-{log_name}")).expect("the log file can be emptied");
        let mut env = lambda_environment(function, &build_folder(), &self.moto.endpoint());
        env.push((SECRETS_MANAGER_ENDPOINT.to_owned(), self.secrets.endpoint()));
        env.push((DYNAMODB_ENDPOINT.to_owned(), self.dynamodb.endpoint()));
        env.push((WEBHOOK_SECRET_ID.to_owned(), SECRET_ID.to_owned()));
        env.push((STATE_TABLE_NAME.to_owned(), STATE_TABLE.to_owned()));
        env.push((METRICS_NAMESPACE.to_owned(), NAMESPACE.to_owned()));
        env.extend(
            settings
                .iter()
                .map(|(name, value)| ((*name).to_owned(), (*value).to_owned())),
        );
        FunctionProcess::start(
            &self.spawner,
            Launch {
                name: function.to_owned(),
                program: function_binary(function),
                args: Vec::new(),
                env,
                log,
            },
        )
        .await
        .unwrap_or_else(|problem| panic!("{function} starts: {problem}"))
    }

    fn signed_event(&self, body: &[u8]) -> Value {
        let token = self
            .signer
            .sign_body(body, SystemClock.unix_seconds(), &fresh_id())
            .expect("signs");
        with_token(event_v2(body), &token)
    }

    fn signed_answer(&self, call_uuid: &str) -> Value {
        let query = format!(
            "to=447700900000&from=447700900001&uuid={call_uuid}&conversation_uuid=CON-{call_uuid}"
        );
        let token = self
            .signer
            .sign_query(&query, SystemClock.unix_seconds(), &fresh_id())
            .expect("signs");
        with_token(answer_event(&query, call_uuid), &token)
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

/// What one invocation wrote: its HTTP answer, its log lines parsed, and the EMF data in them.
struct Invoked {
    reply: HttpReply,
    lines: Vec<Value>,
    data: Vec<Datum>,
}

impl Invoked {
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

async fn invoke(process: &mut FunctionProcess, event: &Value) -> Invoked {
    let mark = process.log_mark();
    let reply = process
        .invoke_next(
            serde_json::to_vec(event).expect("an event serialises"),
            DEFAULT_DEADLINE,
        )
        .await
        .and_then(|reply| reply.http())
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
    let on_memory = invoke(
        &mut process,
        &stand.signed_event(&sample_event(&fresh_id(), "answered")),
    )
    .await;
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
    let event = stand.signed_event(&sample_event(&fresh_id(), "answered"));
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
    let warm = stand.signed_event(&sample_event(&fresh_id(), "answered"));
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alert_outcomes_are_counted_where_they_are_decided() {
    let stack = LocalStack::start(StackOptions {
        event_interval: std::time::Duration::ZERO,
        send_events: true,
    })
    .await;
    let mut send_alert = stack
        .start_send_alert_instance(Path::new(HELPER), "observability")
        .await
        .expect("send-alert starts");
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
    let mut confirmed = 0.0;
    for _ in 0..100 {
        let watched: Vec<Value> = std::fs::read_to_string(stack.watch_log())
            .unwrap_or_default()
            .lines()
            .filter_map(|line| serde_json::from_str(line).ok())
            .collect();
        confirmed = total_over_functions(&watched, ALERT_CONFIRMED);
        if confirmed > 0.0 {
            break;
        }
        // cargo lambda watch copies the function's output to its log on its own time.
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(confirmed, 1.0);
    send_alert.stop().await;
}
