//! The drift check's run against the stateful Applications API fake (every PUT checked against
//! Vonage's spec), with the application secret in an in-memory store.

use std::sync::Arc;
use std::time::{Duration, Instant};

use integration_tests::applications_fake::{
    self, ApplicationsFake, FakeQuirks, SAMPLE_API_KEY, SAMPLE_API_SECRET, SAMPLE_APPLICATION_ID,
    application_in_place,
};
use serde_json::{Value, json};
use vonage_voice_lambda::applications::drift::Repair;
use vonage_voice_lambda::applications::{SignedCallbacks, WebhookTargets};
use vonage_voice_lambda::secrets::InMemorySecretStore;

use vonage_voice_lambda::applications::drift::{
    DriftCheckConfig, DriftCheckError, DriftCheckRun, metric_values, run_check, summary,
};
use vonage_voice_lambda::clock::SystemClock;
use vonage_voice_lambda::deadline::Budget;
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

const APP_ID: &str = SAMPLE_APPLICATION_ID;
const API_KEY: &str = SAMPLE_API_KEY;
const API_SECRET: &str = SAMPLE_API_SECRET;
const SECRET_ID: &str = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:app";
const ANSWER: &str = "https://abc123.execute-api.eu-west-1.amazonaws.com/answer";
const EVENT: &str = "https://abc123.execute-api.eu-west-1.amazonaws.com/event";

fn in_place() -> Value {
    application_in_place(APP_ID, ANSWER, EVENT)
}

fn edited_in_the_dashboard() -> Value {
    applications_fake::edited_in_the_dashboard(in_place())
}

fn store(api_secret: &str) -> InMemorySecretStore {
    InMemorySecretStore::new().with_secret(
        SECRET_ID,
        json!({
            "application_id": APP_ID,
            "private_key": "-----BEGIN PRIVATE KEY-----\nnot read\n-----END PRIVATE KEY-----",
            "api_key": API_KEY,
            "api_secret": api_secret
        })
        .to_string(),
    )
}

fn config(base_url: &str, auto_repair: bool) -> DriftCheckConfig {
    DriftCheckConfig {
        application_secret_id: SECRET_ID.into(),
        api_base_url: base_url.into(),
        targets: WebhookTargets {
            answer_url: Some(ANSWER.into()),
            event_url: Some(EVENT.into()),
            fallback_answer_url: None,
        },
        auto_repair,
    }
}

/// More time than any run here needs.
fn budget() -> Budget {
    Budget::lasting(Duration::from_secs(30), Arc::new(SystemClock))
}

fn metrics(outcome: &Result<DriftCheckRun, DriftCheckError>) -> Value {
    Value::Object(
        metric_values(outcome)
            .into_iter()
            .map(|(name, value)| (name.to_owned(), serde_json::json!(value)))
            .collect(),
    )
}

#[tokio::test]
async fn drift_is_reported_and_left_alone_unless_repair_is_switched_on() {
    let fake = ApplicationsFake::start(
        APP_ID,
        API_KEY,
        API_SECRET,
        edited_in_the_dashboard(),
        FakeQuirks::default(),
    )
    .await;
    let secrets = store(API_SECRET);

    let outcome = run_check(&config(&fake.base_url(), false), &secrets, &budget()).await;
    let run = outcome.as_ref().unwrap();
    assert_eq!(run.application_id, APP_ID);
    assert_eq!(run.report.found.signed_callbacks, SignedCallbacks::Missing);
    assert_eq!(run.report.repair, Repair::Disabled);
    assert!(fake.puts().is_empty(), "report only: nothing written");
    let line = metrics(&outcome);
    assert_eq!(line["SignedCallbacksOff"], 1);
    assert_eq!(line["WebhookMismatches"], 0);
    assert_eq!(line["DriftRepaired"], 0);
    assert_eq!(summary(run)["healthy"], false);

    let outcome = run_check(&config(&fake.base_url(), true), &secrets, &budget()).await;
    let run = outcome.as_ref().unwrap();
    assert!(matches!(&run.report.repair, Repair::Applied { changes } if changes.len() == 1));
    assert_eq!(metrics(&outcome)["DriftRepaired"], 1);
    // Put back as it was, the Dashboard's rename kept.
    let mut repaired = edited_in_the_dashboard();
    repaired["capabilities"]["voice"]["signed_callbacks"] = json!(true);
    assert_eq!(fake.application().to_string(), repaired.to_string());
    assert_eq!(fake.violations(), Vec::<String>::new());

    let outcome = run_check(&config(&fake.base_url(), true), &secrets, &budget()).await;
    assert_eq!(outcome.as_ref().unwrap().report.repair, Repair::NotNeeded);
    assert_eq!(metrics(&outcome)["SignedCallbacksOff"], 0);
    assert_eq!(fake.puts().len(), 1, "a healthy application is not written");
}

#[tokio::test]
async fn webhooks_moved_elsewhere_count_as_drift_and_are_pointed_back() {
    let mut moved = in_place();
    moved["capabilities"]["voice"]["webhooks"]["event_url"]["address"] =
        json!("https://old-stack.example.com/event");
    let fake =
        ApplicationsFake::start(APP_ID, API_KEY, API_SECRET, moved, FakeQuirks::default()).await;
    let secrets = store(API_SECRET);

    let outcome = run_check(&config(&fake.base_url(), false), &secrets, &budget()).await;
    let line = metrics(&outcome);
    assert_eq!(line["SignedCallbacksOff"], 0);
    assert_eq!(line["WebhookMismatches"], 1);

    run_check(&config(&fake.base_url(), true), &secrets, &budget())
        .await
        .unwrap();
    assert_eq!(fake.application(), in_place());
}

#[tokio::test]
async fn a_repair_that_does_not_stick_is_reported_as_failed() {
    let fake = ApplicationsFake::start(
        APP_ID,
        API_KEY,
        API_SECRET,
        edited_in_the_dashboard(),
        FakeQuirks {
            drop_signed_callbacks_on_put: true,
            ..FakeQuirks::default()
        },
    )
    .await;
    let outcome = run_check(
        &config(&fake.base_url(), true),
        &store(API_SECRET),
        &budget(),
    )
    .await;
    let run = outcome.as_ref().unwrap();
    assert!(
        matches!(&run.report.repair, Repair::Failed { .. }),
        "{run:?}"
    );
    let line = metrics(&outcome);
    assert_eq!(line["DriftRepairFailed"], 1);
    assert_eq!(line["SignedCallbacksOff"], 1);
}

#[tokio::test]
async fn unreadable_secrets_and_refused_credentials_fail_the_run_and_count() {
    let fake = ApplicationsFake::start(
        APP_ID,
        API_KEY,
        API_SECRET,
        in_place(),
        FakeQuirks::default(),
    )
    .await;

    let outcome = run_check(
        &config(&fake.base_url(), false),
        &store("wrong-secret"),
        &budget(),
    )
    .await;
    let error = outcome.as_ref().unwrap_err();
    assert_eq!(error.kind(), "bad_credentials");
    assert_eq!(metrics(&outcome)["DriftCheckFailed"], 1);

    // The stack creates the secret with blank fields for the operator to fill in.
    let unfilled = InMemorySecretStore::new().with_secret(
        SECRET_ID,
        r#"{"application_id":"","private_key":"","api_key":"","api_secret":""}"#,
    );
    let error = run_check(&config(&fake.base_url(), false), &unfilled, &budget())
        .await
        .unwrap_err();
    assert_eq!(error.kind(), "secret");
    assert!(error.to_string().contains("application_id"), "{error}");

    let missing = InMemorySecretStore::new();
    let error = run_check(&config(&fake.base_url(), false), &missing, &budget())
        .await
        .unwrap_err();
    assert!(error.to_string().contains(SECRET_ID), "{error}");
    assert!(fake.puts().is_empty());
}

#[tokio::test]
async fn a_hanging_applications_api_is_cut_at_the_deadline_and_the_run_still_reports() {
    // Answers after a minute: longer than the client's own 10 s timeout and the deadline.
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(60)))
        .mount(&server)
        .await;
    // What Lambda would give an invocation started now with a 3 s timeout (Unix milliseconds).
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    let deadline_ms = u64::try_from((now + Duration::from_secs(3)).as_millis()).unwrap();
    let budget = Budget::for_invocation(deadline_ms, Arc::new(SystemClock));

    let started = Instant::now();
    let outcome = run_check(&config(&server.uri(), true), &store(API_SECRET), &budget).await;
    let elapsed = started.elapsed();
    assert!(
        elapsed < Duration::from_secs(3),
        "answered before the 3 s deadline, after {elapsed:?}"
    );
    let error = outcome.as_ref().unwrap_err();
    assert_eq!(error.kind(), "deadline_exceeded", "{error}");
    assert!(
        error.to_string().contains("reading the application"),
        "{error}"
    );
    assert_eq!(metrics(&outcome)["DriftCheckFailed"], 1);
    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 1, "one GET, no PUT after it was cut");

    let spent = Budget::lasting(Duration::ZERO, Arc::new(SystemClock));
    let error = run_check(&config(&server.uri(), true), &store(API_SECRET), &spent)
        .await
        .unwrap_err();
    assert_eq!(error.kind(), "deadline_exceeded");
    assert_eq!(
        server.received_requests().await.unwrap().len(),
        1,
        "nothing sent once spent"
    );
}
