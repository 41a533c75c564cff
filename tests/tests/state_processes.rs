//! The shared duplicate check (issue 13) across real function processes: the `event` and
//! `answer` binaries run under a local Lambda Runtime API (`integration_tests::runtime_api`),
//! Secrets Manager and the state table in moto, DynamoDB reached through a fault proxy
//! (`integration_tests::fault_proxy`) set with `AWS_ENDPOINT_URL_DYNAMODB`, so each test counts
//! the table requests a webhook costs and can make the table slow or fail.
//!
//! What is asserted is what Vonage and an attacker see from two instances: a delivery accepted by
//! one is a duplicate at the other (same answer, nothing processed twice), and a slow or failing
//! table never turns into a late answer or a 5xx.

use std::path::Path;
use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use axum::http::StatusCode;
use integration_tests::fault_proxy::{Behaviour, FaultProxy};
use integration_tests::flow::sample_event;
use integration_tests::free_port;
use integration_tests::runtime_api::{DEFAULT_DEADLINE, FunctionProcess, HttpReply, Reply};
use integration_tests::webhook_stand::{StandNames, WebhookStand};
use serde_json::{Value, json};
use vonage_voice_lambda::clock::{Clock as _, SystemClock};
use vonage_voice_lambda::settings::STATE_TIMEOUT_MS;
use vonage_voice_lambda::settings::{
    ANSWER_GREETING, WEBHOOK_MAX_AGE_SECONDS, WEBHOOK_RESPONSE_BUDGET_MS,
};
use vonage_voice_lambda::state::dynamodb::{EXPIRES_AT_ATTRIBUTE, KEY_ATTRIBUTE};
use vonage_voice_lambda::state::{DeliveryId, DuplicateKey};

/// The process helper (`process-helper spawner`), built by cargo with this suite.
const HELPER: &str = env!("CARGO_BIN_EXE_process-helper");
const STATE_TABLE: &str = "state-processes-state";
/// The service-specific endpoint setting aws-config reads for DynamoDB alone (the generated
/// client looks up `AWS_ENDPOINT_URL_<service id>` before the shared `AWS_ENDPOINT_URL`).
const DYNAMODB_ENDPOINT: &str = "AWS_ENDPOINT_URL_DYNAMODB";

// ---------------------------------------------------------------------------------------------
// The stand-ins and the functions
// ---------------------------------------------------------------------------------------------

/// One moto (the webhook secret, the state table), the DynamoDB proxy in front of it, the
/// process helper. Secrets Manager is reached straight at moto: only table requests cross the
/// proxy, so its count is the table requests.
struct Stand {
    webhooks: WebhookStand,
    dynamodb: FaultProxy,
    admin: aws_sdk_dynamodb::Client,
}

impl Stand {
    async fn start() -> Self {
        let webhooks = WebhookStand::start(
            Path::new(HELPER),
            StandNames {
                secret_id: "state-processes/vonage-webhooks",
                signature_secret: "state-processes-signature-secret-0123456789abcdef",
                state_table: STATE_TABLE,
                log_prefix: "state",
            },
        )
        .await;
        let admin = aws_sdk_dynamodb::Client::new(&webhooks.aws);
        let dynamodb = FaultProxy::start(&webhooks.moto.endpoint())
            .await
            .expect("the DynamoDB proxy starts");
        Self {
            webhooks,
            dynamodb,
            admin,
        }
    }

    /// Starts `function` (answer or event) on the shared table, reaching DynamoDB at
    /// `dynamodb_endpoint` and everything else at moto, with `settings` added, and waits for its
    /// cold start to finish. Its log is `target/test-logs/state-<log_name>.log`.
    async fn function(
        &self,
        function: &str,
        log_name: &str,
        dynamodb_endpoint: &str,
        settings: &[(&str, &str)],
    ) -> FunctionProcess {
        let mut all = vec![(DYNAMODB_ENDPOINT, dynamodb_endpoint)];
        all.extend_from_slice(settings);
        self.webhooks
            .function(function, log_name, &self.webhooks.moto.endpoint(), &all)
            .await
    }

    /// A payload-2.0 event webhook carrying `body`, signed at `iat` with token id `jti`.
    fn signed_event(&self, body: &[u8], iat: i64, jti: &str) -> Value {
        self.webhooks.signed_event(body, iat, jti)
    }

    /// A payload-2.0 answer webhook (GET) for `call_uuid`, its query signed with token id `jti`.
    fn signed_answer(&self, call_uuid: &str, jti: &str) -> Value {
        self.webhooks
            .signed_answer(call_uuid, SystemClock.unix_seconds(), jti)
    }

    /// The `expires_at` of the table item a delivery wrote, read straight from moto.
    async fn stored_expiry(&self, key: &DuplicateKey) -> Option<i64> {
        let item = self
            .admin
            .get_item()
            .table_name(STATE_TABLE)
            .key(KEY_ATTRIBUTE, AttributeValue::S(key.record_key()))
            .send()
            .await
            .expect("moto reads the state table")
            .item?;
        item.get(EXPIRES_AT_ATTRIBUTE)
            .and_then(|value| value.as_n().ok())
            .and_then(|number| number.parse().ok())
    }
}

fn fresh_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

fn now() -> i64 {
    SystemClock.unix_seconds()
}

/// A DTMF `input` event: the event function answers it with an NCCO.
fn dtmf_input(call_uuid: &str) -> Vec<u8> {
    json!({
        "from": "447700900001",
        "to": "447700900000",
        "uuid": call_uuid,
        "conversation_uuid": format!("CON-{call_uuid}"),
        "dtmf": {"digits": "1", "timed_out": false},
        "speech": {"results": []},
        "timestamp": "2027-01-15T08:00:05.000Z",
    })
    .to_string()
    .into_bytes()
}

/// Invokes `process` with `event` and returns the raw reply (for its timing).
async fn invoke(process: &mut FunctionProcess, event: &Value) -> Reply {
    process
        .invoke_next(
            serde_json::to_vec(event).expect("an event serialises"),
            DEFAULT_DEADLINE,
        )
        .await
        .unwrap_or_else(|problem| panic!("{}: {problem}", process.name()))
}

/// Invokes `process` with `event` and returns its HTTP answer.
async fn answer(process: &mut FunctionProcess, event: &Value) -> HttpReply {
    let name = process.name().to_owned();
    invoke(process, event)
        .await
        .http()
        .unwrap_or_else(|problem| panic!("{name}: {problem}"))
}

/// The webhook decision lines (those with an `outcome`) `process` wrote after `mark`.
fn outcome_lines(process: &FunctionProcess, mark: u64) -> Vec<Value> {
    process
        .log_lines_since(mark)
        .expect("the log is readable")
        .iter()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|line| line.get("outcome").is_some())
        .collect()
}

/// The one decision line `process` wrote after `mark`.
fn the_outcome_line(process: &FunctionProcess, mark: u64) -> Value {
    let mut lines = outcome_lines(process, mark);
    assert_eq!(
        lines.len(),
        1,
        "{}: expected one decision line: {lines:#?}",
        process.name()
    );
    lines.remove(0)
}

/// Every line (decision or not) `process` wrote after `mark`, parsed.
fn all_lines(process: &FunctionProcess, mark: u64) -> Vec<Value> {
    process
        .log_lines_since(mark)
        .expect("the log is readable")
        .iter()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .collect()
}

/// Asserts `line` says `outcome` for the call `call_uuid`, and that a duplicate says which key
/// matched.
fn assert_outcome(line: &Value, outcome: &str, call_uuid: &str, matched: Option<&str>) {
    assert_eq!(line["outcome"], outcome, "{line:#}");
    assert_eq!(line["call_uuid"], call_uuid, "{line:#}");
    match matched {
        Some(matched) => {
            assert_eq!(line["duplicate"], true, "{line:#}");
            assert_eq!(line["matched"], matched, "{line:#}");
        }
        None => assert_eq!(line["duplicate"], false, "{line:#}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Two instances on one table
// ---------------------------------------------------------------------------------------------

/// The freshness window the processes run with: the table item must expire with it.
const MAX_AGE_SECONDS: i64 = 240;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delivery_accepted_by_one_event_process_is_a_duplicate_at_another() {
    let stand = Stand::start().await;
    let max_age = MAX_AGE_SECONDS.to_string();
    let settings = [(WEBHOOK_MAX_AGE_SECONDS, max_age.as_str())];
    let table = stand.dynamodb.endpoint();
    let mut a = stand.function("event", "event-a", &table, &settings).await;
    let mut b = stand.function("event", "event-b", &table, &settings).await;
    let requests = || stand.dynamodb.requests();

    // A status event: accepted by A, then its very token at B, then a re-signed retry at B.
    let call = fresh_id();
    let body = sample_event(&call, "answered");
    let iat = now();
    let first = stand.signed_event(&body, iat, &fresh_id());
    let before = requests();
    let reply = answer(&mut a, &first).await;
    assert_eq!(
        (reply.status, reply.body.as_str()),
        (200, ""),
        "A: {reply:?}"
    );
    assert_eq!(
        requests() - before,
        2,
        "A's first delivery: one PutItem, and one GetItem for the call's alert record"
    );
    assert_outcome(&the_outcome_line(&a, 0), "processed", &call, None);

    let (mark, before) = (b.log_mark(), requests());
    let reply = answer(&mut b, &first).await;
    assert_eq!(
        (reply.status, reply.body.as_str()),
        (200, ""),
        "B: {reply:?}"
    );
    assert_eq!(requests() - before, 1, "B asks the table once");
    assert_outcome(&the_outcome_line(&b, mark), "duplicate", &call, Some("jti"));

    let resigned = stand.signed_event(&body, now(), &fresh_id());
    let (mark, before) = (b.log_mark(), requests());
    let reply = answer(&mut b, &resigned).await;
    assert_eq!(
        (reply.status, reply.body.as_str()),
        (200, ""),
        "B: {reply:?}"
    );
    assert_eq!(
        requests() - before,
        0,
        "B remembers the delivery the table told it of: no request"
    );
    assert_outcome(
        &the_outcome_line(&b, mark),
        "duplicate",
        &call,
        Some("delivery"),
    );

    // The table item expires with the first token's freshness window.
    let delivery = DeliveryId::event(&call, "answered", "2027-01-15T08:00:00.000Z");
    assert_eq!(
        stand
            .stored_expiry(&DuplicateKey::new("any jti", Some(delivery)))
            .await,
        Some(iat + MAX_AGE_SECONDS),
        "the item's TTL attribute"
    );

    // A DTMF input accepted by A, and a re-signed retry that reaches B first: only the table
    // knows it (by its delivery), and B answers the same NCCO (its log line says it did not
    // process the input; the NCCO itself would be the same either way).
    let input_call = fresh_id();
    let input = dtmf_input(&input_call);
    let before = requests();
    let first_reply = answer(&mut a, &stand.signed_event(&input, now(), &fresh_id())).await;
    assert_eq!(first_reply.status, 200, "A: {first_reply:?}");
    let first_ncco: Value = serde_json::from_str(&first_reply.body).expect("A answers an NCCO");
    assert_eq!(first_ncco[0]["action"], "talk", "{first_ncco:#}");
    let mark = b.log_mark();
    let reply = answer(&mut b, &stand.signed_event(&input, now(), &fresh_id())).await;
    assert_eq!(reply.status, 200, "B: {reply:?}");
    assert_eq!(
        serde_json::from_str::<Value>(&reply.body).ok(),
        Some(first_ncco),
        "B answers the retry with the first NCCO"
    );
    assert_eq!(
        requests() - before,
        3,
        "A: one PutItem and the alert record's GetItem; B: one PutItem"
    );
    assert_outcome(
        &the_outcome_line(&b, mark),
        "duplicate",
        &input_call,
        Some("delivery"),
    );

    // Across both processes, each delivery was processed exactly once.
    let processed: Vec<(String, String)> = outcome_lines(&a, 0)
        .into_iter()
        .chain(outcome_lines(&b, 0))
        .filter(|line| line["outcome"] == "processed")
        .map(|line| {
            (
                line["call_uuid"].as_str().unwrap_or_default().to_owned(),
                line["status"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        processed,
        vec![
            (call.clone(), "answered".to_owned()),
            (input_call.clone(), "input".to_owned())
        ],
        "processed lines in A and B"
    );
    a.stop().await.expect("A stops");
    b.stop().await.expect("B stops");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_webhook_answered_by_one_process_gets_the_same_ncco_from_another() {
    let stand = Stand::start().await;
    let table = stand.dynamodb.endpoint();
    // Different greetings: B's own NCCO would differ from A's, so the same body proves B
    // answered from the table.
    let mut a = stand
        .function(
            "answer",
            "answer-a",
            &table,
            &[(ANSWER_GREETING, "Hello from instance A.")],
        )
        .await;
    let mut b = stand
        .function(
            "answer",
            "answer-b",
            &table,
            &[(ANSWER_GREETING, "Hello from instance B.")],
        )
        .await;
    let call = fresh_id();
    let request = stand.signed_answer(&call, &fresh_id());

    let mark = a.log_mark();
    let first = answer(&mut a, &request).await;
    assert_eq!(first.status, 200, "A: {first:?}");
    let first_ncco: Value = serde_json::from_str(&first.body).expect("A answers an NCCO");
    assert!(
        first.body.contains("Hello from instance A."),
        "A's own NCCO: {first_ncco:#}"
    );
    let line = the_outcome_line(&a, mark);
    assert_eq!(line["outcome"], "answered", "{line:#}");
    assert_eq!(line["duplicate"], false, "{line:#}");

    let mark = b.log_mark();
    let again = answer(&mut b, &request).await;
    assert_eq!(again.status, 200, "B: {again:?}");
    assert_eq!(
        serde_json::from_str::<Value>(&again.body).ok(),
        Some(first_ncco),
        "B answers with A's NCCO"
    );
    let line = the_outcome_line(&b, mark);
    assert_eq!(line["outcome"], "duplicate", "{line:#}");
    assert_eq!(line["duplicate"], true, "{line:#}");
    assert_eq!(line["matched"], "jti", "{line:#}");
    assert_eq!(line["call_uuid"], call.as_str(), "{line:#}");
    a.stop().await.expect("A stops");
    b.stop().await.expect("B stops");
}

// ---------------------------------------------------------------------------------------------
// DynamoDB slow or down
// ---------------------------------------------------------------------------------------------

/// Far past the webhook's budget: an answer that waited for the table would show it.
const SLOW_TABLE: Duration = Duration::from_secs(5);
const TIGHT_BUDGET_MS: &str = "1000";
const TIGHT_STATE_TIMEOUT_MS: &str = "500";
/// The 1 s budget plus a generous margin for a loaded machine; well under [`SLOW_TABLE`].
const ANSWERED_WITHIN_TIGHT_BUDGET: Duration = Duration::from_secs(2);

/// Asserts `reply` is an empty 200 that arrived within `within`; returns the HTTP answer.
fn assert_acknowledged_within(reply: &Reply, within: Duration, what: &str) -> HttpReply {
    let elapsed = reply.elapsed();
    let http = reply
        .http()
        .unwrap_or_else(|problem| panic!("{what}: {problem}"));
    assert!(
        http.status == 200 && elapsed < within,
        "{what}: {http:?} after {elapsed:?}, expected 200 within {within:?}"
    );
    http
}

/// Asserts `process` logged, after `mark`, the WARN line about the failed shared check and one
/// `processed` line for `call_uuid` carrying a `state_error`; returns the error kind.
fn assert_processed_on_memory(process: &FunctionProcess, mark: u64, call_uuid: &str) -> String {
    let line = the_outcome_line(process, mark);
    assert_outcome(&line, "processed", call_uuid, None);
    let kind = line["state_error"]
        .as_str()
        .unwrap_or_else(|| panic!("no state_error on {line:#}"))
        .to_owned();
    let warned = all_lines(process, mark).into_iter().any(|line| {
        line["level"] == "WARN"
            && line["state_error"] == kind.as_str()
            && line["message"]
                .as_str()
                .is_some_and(|message| message.starts_with("the shared duplicate check failed"))
    });
    assert!(
        warned,
        "{}: no WARN line for the failed check",
        process.name()
    );
    kind
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_dynamodb_slow_an_event_is_answered_in_budget_and_a_hot_replay_is_still_caught() {
    let stand = Stand::start().await;
    let mut process = stand
        .function(
            "event",
            "event-slow-table",
            &stand.dynamodb.endpoint(),
            &[
                (WEBHOOK_RESPONSE_BUDGET_MS, TIGHT_BUDGET_MS),
                (STATE_TIMEOUT_MS, TIGHT_STATE_TIMEOUT_MS),
            ],
        )
        .await;
    stand.dynamodb.set(Behaviour::Delay(SLOW_TABLE));

    let call = fresh_id();
    let event = stand.signed_event(&sample_event(&call, "answered"), now(), &fresh_id());
    let (mark, before) = (process.log_mark(), stand.dynamodb.requests());
    let reply = invoke(&mut process, &event).await;
    assert_acknowledged_within(&reply, ANSWERED_WITHIN_TIGHT_BUDGET, "the first delivery");
    assert_eq!(
        stand.dynamodb.requests() - before,
        1,
        "the table was asked (through {DYNAMODB_ENDPOINT}) and not asked again"
    );
    let kind = assert_processed_on_memory(&process, mark, &call);
    assert_eq!(kind, "timeout");

    // The same token again, to the same process: its memory catches it, with no request.
    let (mark, before) = (process.log_mark(), stand.dynamodb.requests());
    let reply = invoke(&mut process, &event).await;
    assert_acknowledged_within(&reply, ANSWERED_WITHIN_TIGHT_BUDGET, "the hot replay");
    assert_eq!(stand.dynamodb.requests() - before, 0, "memory answered");
    assert_outcome(
        &the_outcome_line(&process, mark),
        "duplicate",
        &call,
        Some("jti"),
    );
    process.stop().await.expect("the process stops");
}

/// The default budget (2.5 s) plus margin.
const ANSWERED_WITHIN_DEFAULT_BUDGET: Duration = Duration::from_millis(3500);
const WEBHOOKS_IN_OUTAGE: usize = 4;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_dynamodb_down_events_are_processed_on_memory_never_a_5xx() {
    let stand = Stand::start().await;
    // The production budgets (2.5 s for the webhook, 1 s for the table).
    let mut process = stand
        .function("event", "event-table-500", &stand.dynamodb.endpoint(), &[])
        .await;
    stand
        .dynamodb
        .set(Behaviour::Fail(StatusCode::INTERNAL_SERVER_ERROR));

    let mut per_webhook = Vec::new();
    let mut kinds = Vec::new();
    let mut times = Vec::new();
    let mut replay = None;
    for index in 0..WEBHOOKS_IN_OUTAGE {
        let call = fresh_id();
        let event = stand.signed_event(&sample_event(&call, "answered"), now(), &fresh_id());
        let (mark, before) = (process.log_mark(), stand.dynamodb.requests());
        let reply = invoke(&mut process, &event).await;
        assert_acknowledged_within(
            &reply,
            ANSWERED_WITHIN_DEFAULT_BUDGET,
            &format!("webhook {index} with the table answering 500"),
        );
        per_webhook.push(stand.dynamodb.requests() - before);
        times.push(reply.elapsed());
        kinds.push(assert_processed_on_memory(&process, mark, &call));
        replay.get_or_insert((call, event));
    }
    eprintln!(
        "with DynamoDB answering 500, per webhook: table requests {per_webhook:?}, \
         state_error {kinds:?}, answered after {times:?}"
    );
    // The webhooks' table client makes one attempt: a failed check costs one request, not the
    // SDK's three (`aws::webhook_state_store`).
    assert!(
        per_webhook.iter().all(|requests| *requests == 1),
        "table requests per webhook {per_webhook:?}: exactly one each"
    );

    // A replay in the outage is still caught by memory, with no request.
    let (call, event) = replay.expect("a webhook was sent");
    let (mark, before) = (process.log_mark(), stand.dynamodb.requests());
    let reply = invoke(&mut process, &event).await;
    assert_acknowledged_within(&reply, ANSWERED_WITHIN_DEFAULT_BUDGET, "a replay");
    assert_eq!(stand.dynamodb.requests() - before, 0, "memory answered");
    assert_outcome(
        &the_outcome_line(&process, mark),
        "duplicate",
        &call,
        Some("jti"),
    );
    process.stop().await.expect("the process stops");

    // Nothing listening where DynamoDB should be: the same answer.
    let nowhere = format!("http://127.0.0.1:{}", free_port());
    let mut process = stand
        .function("event", "event-table-unreachable", &nowhere, &[])
        .await;
    let call = fresh_id();
    let event = stand.signed_event(&sample_event(&call, "answered"), now(), &fresh_id());
    let mark = process.log_mark();
    let reply = invoke(&mut process, &event).await;
    assert_acknowledged_within(
        &reply,
        ANSWERED_WITHIN_DEFAULT_BUDGET,
        "a webhook with nothing listening for DynamoDB",
    );
    let kind = assert_processed_on_memory(&process, mark, &call);
    eprintln!(
        "with nothing listening for DynamoDB: state_error {kind}, answered after {:?}",
        reply.elapsed()
    );
    process.stop().await.expect("the process stops");
}
