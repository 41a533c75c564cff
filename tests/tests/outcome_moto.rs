//! Alert outcomes through the real DynamoDB and EventBridge clients against moto's server over
//! HTTP: two instances writing one alert at once end in the right state, each change is published
//! once (read back through a rule to an SQS queue), and an unreachable or silent EventBridge
//! still leaves the webhook answered 200 within its budget.

use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use integration_tests::event_tap::EventTap;
use integration_tests::{MotoServer, create_state_table, free_port, moto_loader};
use serde_json::Value;
use vonage_voice_lambda::aws;
use vonage_voice_lambda::clock::{Clock, SystemClock};
use vonage_voice_lambda::http::status_for;
use vonage_voice_lambda::outcome::store::{Hooked, ReplaceHooks};
use vonage_voice_lambda::outcome::{
    AlertRecord, AlertStore, AskedMessage, CallEvent, CallState, Confirmation,
    EventBridgePublisher, NewAlert, OutcomeConfig, Publisher, Recorded, Replaced, Replacement,
    record_event,
};
use vonage_voice_lambda::secrets::{InMemorySecretStore, WebhookSecret};
use vonage_voice_lambda::settings::webhook::{EventConfig, WebhookConfig};
use vonage_voice_lambda::state::{DynamoDbStore, StateConfig, StateError};
use vonage_voice_lambda::vonage::sign::WebhookSigner;
use vonage_voice_lambda::webhook::{EventHandler, IncomingWebhook, Outcome, Outcomes};

const TABLE: &str = "vonage-state";
const SECRET_ID: &str = "vonage/webhook";
const SECRET: &str = "outcome-signature-secret-0123456789";
const API_KEY: &str = "a1b2c3d";
const APPLICATION_ID: &str = "aaaaaaaa-bbbb-cccc-dddd-0123456789ab";
const CALL: &str = "call-outcome-1";

fn state_config() -> StateConfig {
    StateConfig {
        table_name: TABLE.into(),
        timeout: Duration::from_millis(1000),
    }
}

/// A store as a function builds it: its own configuration load, its own client.
async fn store(endpoint: &str) -> Arc<DynamoDbStore> {
    let sdk = aws::load(moto_loader(endpoint)).await;
    Arc::new(aws::webhook_state_store(&sdk, &state_config()))
}

async fn moto_with_table_and_tap() -> (MotoServer, EventTap) {
    let moto = MotoServer::start();
    let sdk = moto_loader(&moto.endpoint()).load().await;
    create_state_table(&aws_sdk_dynamodb::Client::new(&sdk), TABLE).await;
    let tap = EventTap::create(&sdk, "alert-changes")
        .await
        .expect("moto creates the queue and the rule");
    (moto, tap)
}

fn new_alert(confirm: bool) -> AlertRecord {
    AlertRecord::placed(&NewAlert {
        alert_id: "alert-outcome-1",
        call_uuid: CALL,
        to: "447700900123",
        message: AskedMessage::Code,
        confirm_requested: confirm,
        requested_at: SystemClock.unix_seconds(),
    })
}

fn at(second: u32) -> String {
    format!("2027-01-15T08:00:{second:02}.000Z")
}

/// An instance's hooks that hold its first conditional writes until every writer has read the
/// record: so all of them read the same version and all but one write must fail their condition
/// in DynamoDB (moto), whatever the scheduling.
struct AllReadFirst {
    barrier: Arc<tokio::sync::Barrier>,
    arrivals: Arc<AtomicUsize>,
    writers: usize,
    conflicts: Arc<AtomicUsize>,
}

#[async_trait::async_trait]
impl ReplaceHooks for AllReadFirst {
    async fn before_replace(&self, _write: Replacement<'_>) -> Result<(), StateError> {
        if self.arrivals.fetch_add(1, Ordering::SeqCst) < self.writers {
            self.barrier.wait().await;
        }
        Ok(())
    }

    fn after_replace(&self, replaced: &Replaced) {
        if matches!(replaced, Replaced::Conflict(_)) {
            self.conflicts.fetch_add(1, Ordering::SeqCst);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_writing_one_alert_at_once_lose_nothing() {
    let (moto, _tap) = moto_with_table_and_tap().await;
    let (one, two) = (store(&moto.endpoint()).await, store(&moto.endpoint()).await);
    one.create(&new_alert(true), 2_000_000_000).await.unwrap();

    // A call's events, out of order, each written by its own writer, alternately on the two
    // instances, all at once.
    let events = [
        CallEvent::status("completed", &at(12)),
        CallEvent::input(Some("1"), &at(9)),
        CallEvent::status("ringing", &at(1)),
        CallEvent::status("answered", &at(4)),
        CallEvent::status("human", &at(5)),
        CallEvent::status("started", &at(0)),
    ];
    let barrier = Arc::new(tokio::sync::Barrier::new(events.len()));
    let arrivals = Arc::new(AtomicUsize::new(0));
    let conflicts = Arc::new(AtomicUsize::new(0));
    let writers: Vec<_> = events
        .iter()
        .enumerate()
        .map(|(index, event)| {
            let instance = if index % 2 == 0 { &one } else { &two };
            let store = Hooked {
                inner: instance.clone(),
                hooks: AllReadFirst {
                    barrier: barrier.clone(),
                    arrivals: arrivals.clone(),
                    writers: events.len(),
                    conflicts: conflicts.clone(),
                },
            };
            let event = event.clone();
            tokio::spawn(
                async move { record_event(&store, CALL, &event, 1, |_| 2_000_000_000).await },
            )
        })
        .collect();
    let mut changes = Vec::new();
    for writer in writers {
        match writer.await.expect("the writer ran") {
            Ok(Recorded::Updated { change, .. }) => changes.extend(change),
            other => panic!("an event was not written: {other:?}"),
        }
    }

    let stored = two.by_alert("alert-outcome-1").await.unwrap().unwrap();
    assert_eq!(stored.record.state, CallState::Completed);
    assert_eq!(stored.record.confirmation, Confirmation::Confirmed);
    assert_eq!(
        stored.record.timeline.len(),
        events.len(),
        "every event kept: {stored:?}"
    );
    assert_eq!(stored.version, 7, "one write per event, none lost");
    let conflicts = conflicts.load(Ordering::SeqCst);
    eprintln!("conditional writes refused and redone: {conflicts}");
    assert!(
        conflicts >= events.len() - 1,
        "all read version 1, so all but one first write failed: {conflicts}"
    );
    assert!(
        changes
            .iter()
            .any(|change| change.state == CallState::Completed),
        "{changes:?}"
    );
}

fn handler(
    secrets: Arc<InMemorySecretStore>,
    store: Arc<DynamoDbStore>,
    publisher: Arc<Publisher>,
) -> EventHandler {
    let config = EventConfig {
        webhook: WebhookConfig::for_secret(SECRET_ID),
        unsigned_statuses: Vec::new(),
    };
    EventHandler::new(&config, secrets, store.clone(), Arc::new(SystemClock)).with_outcomes(
        Outcomes {
            alerts: store,
            publisher,
            config: OutcomeConfig::default(),
        },
    )
}

fn secrets() -> Arc<InMemorySecretStore> {
    let document = WebhookSecret::new(SECRET, API_KEY, Some(APPLICATION_ID.into())).to_json();
    Arc::new(InMemorySecretStore::new().with_secret(SECRET_ID, document))
}

fn signed(body: &str, jti: &str) -> IncomingWebhook {
    let token = WebhookSigner::new(SECRET, API_KEY, Some(APPLICATION_ID.into()))
        .expect("a signer")
        .sign_body(body.as_bytes(), SystemClock.unix_seconds(), jti)
        .expect("a token");
    IncomingWebhook {
        authorization: vec![format!("Bearer {token}").into_bytes()],
        method: "POST".into(),
        query: None,
        body: body.as_bytes().to_vec(),
        lambda_deadline: None,
    }
}

fn status_body(status: &str, timestamp: &str) -> String {
    format!(
        r#"{{"uuid":"{CALL}","conversation_uuid":"CON-1","status":"{status}","direction":"outbound","timestamp":"{timestamp}"}}"#
    )
}

fn input_body(digits: &str, timestamp: &str) -> String {
    format!(
        r#"{{"uuid":"{CALL}","conversation_uuid":"CON-1","dtmf":{{"digits":"{digits}","timed_out":false}},"timestamp":"{timestamp}"}}"#
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn each_change_is_published_once_whichever_instance_made_it() {
    let (moto, tap) = moto_with_table_and_tap().await;
    let sdk = aws::load(moto_loader(&moto.endpoint())).await;
    let publisher = || Arc::new(Publisher::new(aws::event_publisher(&sdk)));
    let (store_one, store_two) = (store(&moto.endpoint()).await, store(&moto.endpoint()).await);
    store_one
        .create(&new_alert(true), 2_000_000_000)
        .await
        .unwrap();
    let (publisher_one, publisher_two) = (publisher(), publisher());
    let one = handler(secrets(), store_one, publisher_one.clone());
    let two = handler(secrets(), store_two, publisher_two.clone());

    // Vonage's deliveries, a late ringing and two re-signed retries among them, shared out
    // between the instances.
    let deliveries = [
        (&one, status_body("started", &at(0)), "d-1"),
        (&two, status_body("answered", &at(4)), "d-2"),
        (&one, status_body("answered", &at(4)), "d-2-retry"),
        (&one, status_body("ringing", &at(1)), "d-3"),
        (&two, input_body("1", &at(9)), "d-4"),
        (&one, input_body("1", &at(9)), "d-4-retry"),
        (&two, status_body("completed", &at(12)), "d-5"),
    ];
    for (instance, body, jti) in &deliveries {
        let outcome = instance.handle(&signed(body, jti)).await;
        assert_eq!(status_for(&outcome), 200, "{jti}: {outcome:?}");
    }

    let events = tap.drain(3, Duration::from_secs(15)).await.unwrap();
    let late = tap.drain(1, Duration::from_secs(2)).await.unwrap();
    assert!(late.is_empty(), "published more than once: {late:?}");
    let seen: Vec<(String, String, u64)> = events
        .iter()
        .map(|event| {
            assert_eq!(event["source"], "vonage-voice-lambda.alerts", "{event}");
            assert_eq!(event["detail-type"], "Alert state changed", "{event}");
            let detail = &event["detail"];
            (
                detail["state"].as_str().unwrap_or_default().to_owned(),
                detail["confirmation"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                detail["version"].as_u64().unwrap_or_default(),
            )
        })
        .collect();
    let mut sorted = seen.clone();
    sorted.sort_by_key(|(_, _, version)| *version);
    let pairs: Vec<(&str, &str)> = sorted
        .iter()
        .map(|(state, confirmation, _)| (state.as_str(), confirmation.as_str()))
        .collect();
    assert_eq!(
        pairs,
        [
            ("answered", "none"),
            ("answered", "confirmed"),
            ("completed", "confirmed"),
        ],
        "{events:#?}"
    );
    let completed = sorted.last().map(|_| &events).and_then(|events| {
        events
            .iter()
            .find(|event| event["detail"]["state"] == "completed")
    });
    let detail: &Value = &completed.expect("the completed event")["detail"];
    assert_eq!(detail["alert_id"], "alert-outcome-1");
    assert_eq!(detail["confirmed"], true);
    assert_eq!(detail["ended"], true);
    assert_eq!(detail["to_masked"], "********0123");
    assert_eq!(publisher_one.failures() + publisher_two.failures(), 0);
    assert_eq!(publisher_one.sent() + publisher_two.sent(), 3);
}

/// The webhook's answer, its time, and the publisher that failed, for a bus at `endpoint`.
async fn with_bus_at(bus_endpoint: &str) -> (Outcome, Duration, Arc<Publisher>, AlertRecord) {
    let moto = MotoServer::start();
    let sdk = moto_loader(&moto.endpoint()).load().await;
    create_state_table(&aws_sdk_dynamodb::Client::new(&sdk), TABLE).await;
    let store = store(&moto.endpoint()).await;
    store
        .create(&new_alert(false), 2_000_000_000)
        .await
        .unwrap();
    let bus_sdk = aws::load(moto_loader(bus_endpoint)).await;
    let publisher = Arc::new(Publisher::new(EventBridgePublisher::from_sdk_config(
        &bus_sdk,
        vonage_voice_lambda::outcome::publish::PUBLISH_ATTEMPT_TIMEOUT,
    )));
    let handler = handler(secrets(), store.clone(), publisher.clone());
    let started = Instant::now();
    let outcome = handler
        .handle(&signed(&status_body("busy", &at(3)), "busy-1"))
        .await;
    let elapsed = started.elapsed();
    eprintln!("event bus at {bus_endpoint}: the webhook answered in {elapsed:?}");
    let record = store.by_call(CALL).await.unwrap().unwrap().record;
    (outcome, elapsed, publisher, record)
}

#[tokio::test]
async fn an_unreachable_event_bus_never_fails_the_webhook() {
    // Nothing listens on this port: every attempt is refused at once.
    let closed = format!("http://127.0.0.1:{}", free_port());
    let (outcome, elapsed, publisher, record) = with_bus_at(&closed).await;
    assert_eq!(status_for(&outcome), 200, "{outcome:?}");
    assert!(matches!(outcome, Outcome::Accepted { ncco: None }));
    assert_eq!(record.state, CallState::Busy, "recorded all the same");
    assert_eq!(publisher.failures(), 1, "given up once, and counted");
    assert!(elapsed < Duration::from_millis(2500), "{elapsed:?}");
}

#[tokio::test]
async fn a_silent_event_bus_costs_no_more_than_the_webhooks_budget() {
    // Accepts connections (the kernel's backlog) and never answers.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", silent.local_addr().unwrap());
    let (outcome, elapsed, publisher, record) = with_bus_at(&endpoint).await;
    assert_eq!(status_for(&outcome), 200, "{outcome:?}");
    assert_eq!(record.state, CallState::Busy);
    assert_eq!(publisher.failures(), 1);
    // The response budget (2.5 s by default) bounds the whole webhook, publishing included;
    // room is left for the secret, the duplicate check and the record on a loaded machine.
    assert!(elapsed < Duration::from_millis(2500 + 500), "{elapsed:?}");
    assert!(
        elapsed >= Duration::from_millis(1000),
        "it waited for the bus: {elapsed:?}"
    );
    drop(silent);
}

/// The README's example rule, exactly: alerts that asked for a confirmation and ended without one.
fn escalation_pattern() -> Value {
    serde_json::json!({
        "source": ["vonage-voice-lambda.alerts"],
        "detail-type": ["Alert state changed"],
        "detail": {
            "ended": [true],
            "confirm_requested": [true],
            "confirmed": [false]
        }
    })
}

/// The JSON blocks of the README.
fn readme_json_blocks() -> Vec<Value> {
    let readme = std::fs::read_to_string(integration_tests::repo_root().join("README.md"))
        .expect("the README is readable");
    readme
        .split("```json")
        .skip(1)
        .filter_map(|block| block.split("```").next())
        .filter_map(|block| serde_json::from_str(block).ok())
        .collect()
}

#[tokio::test]
async fn the_readmes_escalation_rule_matches_exactly_the_alerts_that_ended_unconfirmed() {
    assert!(
        readme_json_blocks().contains(&escalation_pattern()),
        "the README shows the rule this test checks"
    );
    let moto = MotoServer::start();
    let sdk = aws::load(moto_loader(&moto.endpoint())).await;
    let escalations = EventTap::for_rule(&sdk, "escalations", "escalate", &escalation_pattern())
        .await
        .expect("moto creates the rule and its queue");
    let publisher = Publisher::new(aws::event_publisher(&sdk));
    let budget = vonage_voice_lambda::deadline::Budget::lasting(
        Duration::from_secs(10),
        Arc::new(SystemClock),
    );
    // (alert, confirm asked, state reached, confirmation): escalated?
    let cases = [
        (
            "completed-unconfirmed",
            true,
            CallState::Completed,
            Confirmation::NotConfirmed,
            true,
        ),
        ("busy", true, CallState::Busy, Confirmation::None, true),
        (
            "completed-confirmed",
            true,
            CallState::Completed,
            Confirmation::Confirmed,
            false,
        ),
        (
            "still-ringing",
            true,
            CallState::Ringing,
            Confirmation::None,
            false,
        ),
        (
            "no-confirmation-asked",
            false,
            CallState::Completed,
            Confirmation::None,
            false,
        ),
    ];
    for (alert_id, confirm, state, confirmation, _) in cases {
        let record = AlertRecord {
            alert_id: alert_id.into(),
            ..new_alert(confirm)
        };
        let change = vonage_voice_lambda::outcome::StateChange {
            previous_state: CallState::Placed,
            state,
            previous_confirmation: Confirmation::None,
            confirmation,
        };
        let event = vonage_voice_lambda::outcome::AlertChanged::new(&record, &change, 2);
        let sent = publisher.publish(&event, &budget).await;
        assert!(
            matches!(sent, vonage_voice_lambda::outcome::Published::Sent { .. }),
            "{sent:?}"
        );
    }
    let escalated = escalations.drain(2, Duration::from_secs(10)).await.unwrap();
    let late = escalations.drain(1, Duration::from_secs(2)).await.unwrap();
    let mut ids: Vec<&str> = escalated
        .iter()
        .chain(&late)
        .filter_map(|event| event["detail"]["alert_id"].as_str())
        .collect();
    ids.sort_unstable();
    let mut expected: Vec<&str> = cases
        .iter()
        .filter(|case| case.4)
        .map(|case| case.0)
        .collect();
    expected.sort_unstable();
    assert_eq!(ids, expected);
}
