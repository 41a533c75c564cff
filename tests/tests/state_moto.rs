//! The shared state through the real DynamoDB client against moto's server over HTTP: replay
//! records shared by instances with separate memories, their TTL values, the number of requests a
//! webhook costs, atomicity under concurrent writers, Powertools-style idempotency records, and
//! typed errors inside the budget when the table is slow or gone.
//!
//! Requests are counted by an SDK interceptor on the store's client, which sees every HTTP
//! request the client transmits (retries included) with its `x-amz-target` operation.

use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::error::BoxError;
use aws_sdk_dynamodb::types::AttributeValue;
use integration_tests::{MotoServer, create_state_table, free_port, moto_loader};
use serde_json::json;
use vonage_voice_lambda::aws;
use vonage_voice_lambda::state::dynamodb::{EXPIRES_AT_ATTRIBUTE, KEY_ATTRIBUTE};
use vonage_voice_lambda::state::{
    Claim, Delivery, DeliveryId, DeliveryRecord, DuplicateKey, DynamoDbStore, IdempotencyKey,
    IdempotencyStore, KeyKind, LayeredReplayStore, MemoryReplayStore, Operation, ReplayStore,
    SharedCheck, StateConfig, StateError, StoredAnswer,
};

const TABLE: &str = "vonage-state";
const NOW: i64 = 1_800_000_000;
/// The freshness window: a token signed at `iat` is refused as stale after `iat + MAX_AGE`.
const MAX_AGE: i64 = 300;
const BUDGET: Duration = Duration::from_millis(500);
/// Room for scheduling on a loaded machine; the budget itself is what is asserted against.
const MARGIN: Duration = Duration::from_millis(1000);

fn state_config() -> StateConfig {
    StateConfig {
        table_name: TABLE.into(),
        timeout: BUDGET,
    }
}

/// Operations the client transmitted, by `x-amz-target` (e.g. `DynamoDB_20120810.PutItem`).
#[derive(Debug, Default, Clone)]
struct RequestLog(Arc<Mutex<Vec<String>>>);

impl RequestLog {
    fn operations(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }

    fn clear(&self) {
        self.0.lock().unwrap().clear();
    }
}

impl Intercept for RequestLog {
    fn name(&self) -> &'static str {
        "RequestLog"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let target = context
            .request()
            .headers()
            .get("x-amz-target")
            .unwrap_or("?")
            .trim_start_matches("DynamoDB_20120810.")
            .to_owned();
        self.0.lock().unwrap().push(target);
        Ok(())
    }
}

/// A store as a function builds it (its own configuration load), logging its requests.
async fn store_at(endpoint: &str) -> (DynamoDbStore, RequestLog) {
    let sdk = aws::load(moto_loader(endpoint)).await;
    let log = RequestLog::default();
    let config = DynamoDbStore::client_config(&sdk, &state_config())
        .interceptor(log.clone())
        .build();
    let client = aws_sdk_dynamodb::Client::from_conf(config);
    (DynamoDbStore::new(client, &state_config()), log)
}

async fn admin(moto: &MotoServer) -> aws_sdk_dynamodb::Client {
    aws_sdk_dynamodb::Client::new(&moto_loader(&moto.endpoint()).load().await)
}

async fn moto_with_table() -> (MotoServer, aws_sdk_dynamodb::Client) {
    let moto = MotoServer::start();
    let admin = admin(&moto).await;
    create_state_table(&admin, TABLE).await;
    (moto, admin)
}

async fn stored_item(
    admin: &aws_sdk_dynamodb::Client,
    record_key: String,
) -> std::collections::HashMap<String, AttributeValue> {
    admin
        .get_item()
        .table_name(TABLE)
        .key(KEY_ATTRIBUTE, AttributeValue::S(record_key))
        .consistent_read(true)
        .send()
        .await
        .expect("moto answers GetItem")
        .item
        .expect("the item exists")
}

fn event_key(jti: &str, call: &str) -> DuplicateKey {
    DuplicateKey::new(
        jti,
        Some(DeliveryId::event(
            call,
            "answered",
            "2027-01-15T08:00:00.000Z",
        )),
    )
}

fn ncco(text: &str) -> StoredAnswer {
    StoredAnswer::ncco(json!([{"action": "talk", "text": text}]))
}

// ---------------------------------------------------------------------------------------------
// Replay
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn a_first_delivery_costs_one_put_and_a_duplicate_one_put_that_returns_the_first_answer() {
    let (moto, admin) = moto_with_table().await;
    let (store, log) = store_at(&moto.endpoint()).await;
    let iat = NOW - 20;
    let key = DuplicateKey::new("jti-1", Some(DeliveryId::answer("call-1")));

    let first = store
        .first_delivery(DeliveryRecord::new(
            &key,
            &ncco("hello"),
            NOW,
            iat + MAX_AGE,
        ))
        .await
        .unwrap();
    assert_eq!(first, Delivery::First);
    assert_eq!(log.operations(), ["PutItem"]);

    // The item: the TTL attribute is the token's iat plus the freshness window.
    let item = stored_item(&admin, key.record_key()).await;
    assert_eq!(
        item[EXPIRES_AT_ATTRIBUTE],
        AttributeValue::N((iat + MAX_AGE).to_string())
    );
    assert_eq!(item["jti"], AttributeValue::S("jti-1".into()));

    // The same token again: one more PutItem, no GetItem, and the first answer comes back.
    log.clear();
    let again = store
        .first_delivery(DeliveryRecord::new(
            &key,
            &ncco("something else"),
            NOW + 1,
            iat + MAX_AGE,
        ))
        .await
        .unwrap();
    assert_eq!(
        again,
        Delivery::Duplicate {
            matched: KeyKind::Jti,
            first_answer: ncco("hello")
        }
    );
    assert_eq!(log.operations(), ["PutItem"]);

    // An event acknowledged with an empty 200 is stored without an NCCO.
    let event = event_key("jti-2", "call-2");
    store
        .first_delivery(DeliveryRecord::new(
            &event,
            &StoredAnswer::acknowledged(),
            NOW,
            NOW + MAX_AGE,
        ))
        .await
        .unwrap();
    assert_eq!(
        store
            .first_delivery(DeliveryRecord::new(&event, &ncco("x"), NOW, NOW + MAX_AGE))
            .await
            .unwrap(),
        Delivery::Duplicate {
            matched: KeyKind::Jti,
            first_answer: StoredAnswer::acknowledged()
        }
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn instances_with_separate_memory_share_the_table() {
    let (moto, _admin) = moto_with_table().await;
    let (store_a, log_a) = store_at(&moto.endpoint()).await;
    let (store_b, log_b) = store_at(&moto.endpoint()).await;
    let a = LayeredReplayStore::new(MemoryReplayStore::default(), Arc::new(store_a));
    let b = LayeredReplayStore::new(MemoryReplayStore::default(), Arc::new(store_b));

    let accepted = a
        .check(DeliveryRecord::new(
            &event_key("jti-1", "call-1"),
            &StoredAnswer::acknowledged(),
            NOW,
            NOW + MAX_AGE,
        ))
        .await;
    assert_eq!(accepted.delivery, Delivery::First);
    assert_eq!(accepted.shared, SharedCheck::Consulted);

    // The same request at the other instance.
    let replayed = b
        .check(DeliveryRecord::new(
            &event_key("jti-1", "call-1"),
            &StoredAnswer::acknowledged(),
            NOW + 2,
            NOW + MAX_AGE,
        ))
        .await;
    assert_eq!(
        replayed.delivery,
        Delivery::Duplicate {
            matched: KeyKind::Jti,
            first_answer: StoredAnswer::acknowledged()
        }
    );
    assert_eq!(replayed.shared, SharedCheck::Consulted);

    // Vonage re-signs its retry of the same event (a new jti, the same delivery), and it lands
    // on a third instance.
    let (store_c, _) = store_at(&moto.endpoint()).await;
    let c = LayeredReplayStore::new(MemoryReplayStore::default(), Arc::new(store_c));
    let resigned = c
        .check(DeliveryRecord::new(
            &event_key("jti-9", "call-1"),
            &StoredAnswer::acknowledged(),
            NOW + 10,
            NOW + 10 + MAX_AGE,
        ))
        .await;
    assert!(
        matches!(
            resigned.delivery,
            Delivery::Duplicate {
                matched: KeyKind::Delivery,
                ..
            }
        ),
        "{resigned:?}"
    );
    assert_eq!(resigned.shared, SharedCheck::Consulted);

    // A hot replay at a is answered from memory: no request.
    log_a.clear();
    let hot = a
        .check(DeliveryRecord::new(
            &event_key("jti-1", "call-1"),
            &StoredAnswer::acknowledged(),
            NOW + 3,
            NOW + MAX_AGE,
        ))
        .await;
    assert_eq!(hot.shared, SharedCheck::NotAsked);
    assert!(log_a.operations().is_empty());
    // One request per webhook an instance could not answer from memory.
    assert_eq!(log_b.operations(), ["PutItem"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_expired_record_no_longer_counts_even_before_dynamodb_deletes_it() {
    let (moto, _admin) = moto_with_table().await;
    let (store, _) = store_at(&moto.endpoint()).await;
    let key = event_key("jti-1", "call-1");
    let answer = StoredAnswer::acknowledged();
    assert_eq!(
        store
            .first_delivery(DeliveryRecord::new(&key, &answer, NOW, NOW + MAX_AGE))
            .await,
        Ok(Delivery::First)
    );
    // Live through its last second...
    assert!(matches!(
        store
            .first_delivery(DeliveryRecord::new(
                &key,
                &answer,
                NOW + MAX_AGE,
                NOW + MAX_AGE
            ))
            .await,
        Ok(Delivery::Duplicate { .. })
    ));
    // ...and overwritten the second after, though moto (like DynamoDB for a while) still holds it.
    assert_eq!(
        store
            .first_delivery(DeliveryRecord::new(
                &key,
                &answer,
                NOW + MAX_AGE + 1,
                NOW + 2 * MAX_AGE
            ))
            .await,
        Ok(Delivery::First)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_deliveries_of_one_event_make_exactly_one_first() {
    let (moto, _admin) = moto_with_table().await;
    let mut tasks = Vec::new();
    for i in 0..8 {
        // Each writer its own client, as separate instances have.
        let (store, _) = store_at(&moto.endpoint()).await;
        tasks.push(tokio::spawn(async move {
            store
                .first_delivery(DeliveryRecord::new(
                    &event_key(&format!("jti-{i}"), "call-1"),
                    &ncco(&format!("answer {i}")),
                    NOW,
                    NOW + MAX_AGE,
                ))
                .await
        }));
    }
    let mut firsts = 0;
    let mut answers = Vec::new();
    for task in tasks {
        match task.await.unwrap().unwrap() {
            Delivery::First => firsts += 1,
            Delivery::Duplicate {
                matched,
                first_answer,
            } => {
                assert_eq!(matched, KeyKind::Delivery);
                answers.push(first_answer);
            }
        }
    }
    assert_eq!(firsts, 1);
    // Every duplicate got the one winner's answer.
    assert_eq!(answers.len(), 7);
    assert!(
        answers.windows(2).all(|pair| pair[0] == pair[1]),
        "{answers:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// Idempotency
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn idempotency_records_go_through_powertools_states_one_request_each() {
    let (moto, admin) = moto_with_table().await;
    let (store, log) = store_at(&moto.endpoint()).await;
    let key = IdempotencyKey::new("alert:id:disk-full");
    let deadline = NOW + 30;

    assert_eq!(
        store
            .begin(Operation::new(&key, "h1").claim(deadline, NOW))
            .await,
        Ok(Claim::Began)
    );
    let item = stored_item(&admin, key.record_key()).await;
    assert_eq!(
        item[EXPIRES_AT_ATTRIBUTE],
        AttributeValue::N(deadline.to_string()),
        "in progress until the invocation's deadline"
    );
    assert_eq!(
        store
            .begin(Operation::new(&key, "h1").claim(NOW + 40, NOW + 5))
            .await,
        Ok(Claim::InProgress {
            expires_at: deadline
        })
    );
    assert_eq!(
        store
            .begin(Operation::new(&key, "h2").claim(NOW + 40, NOW + 5))
            .await,
        Ok(Claim::KeyReused)
    );

    let result = json!({"call_uuid": "call-1", "conversation_uuid": "CON-1", "status": "started"});
    store
        .complete(Operation::new(&key, "h1").completed(&result, NOW + 10 + 300))
        .await
        .unwrap();
    let item = stored_item(&admin, key.record_key()).await;
    assert_eq!(
        item[EXPIRES_AT_ATTRIBUTE],
        AttributeValue::N((NOW + 310).to_string()),
        "completed for the deduplication window"
    );
    assert_eq!(
        store
            .begin(Operation::new(&key, "h1").claim(NOW + 50, NOW + 20))
            .await,
        Ok(Claim::Completed(result.clone()))
    );
    assert_eq!(
        store
            .begin(Operation::new(&key, "h2").claim(NOW + 50, NOW + 20))
            .await,
        Ok(Claim::KeyReused)
    );
    // A completed record is never released.
    store.release(Operation::new(&key, "h1")).await.unwrap();
    assert_eq!(
        store
            .begin(Operation::new(&key, "h1").claim(NOW + 50, NOW + 20))
            .await,
        Ok(Claim::Completed(result))
    );
    // After the window the key is free again.
    assert_eq!(
        store
            .begin(Operation::new(&key, "h2").claim(NOW + 400, NOW + 311))
            .await,
        Ok(Claim::Began)
    );
    assert!(
        log.operations()
            .iter()
            .all(|operation| operation == "PutItem" || operation == "DeleteItem"),
        "{:?}",
        log.operations()
    );
    assert_eq!(log.operations().len(), 9);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_in_progress_record_frees_its_key_when_released_or_past_the_deadline() {
    let (moto, _admin) = moto_with_table().await;
    let (store, _) = store_at(&moto.endpoint()).await;
    let key = IdempotencyKey::new("alert:id:x");
    assert_eq!(
        store
            .begin(Operation::new(&key, "h").claim(NOW + 30, NOW))
            .await,
        Ok(Claim::Began)
    );
    // The invocation that held it died at its deadline.
    assert_eq!(
        store
            .begin(Operation::new(&key, "h").claim(NOW + 61, NOW + 31))
            .await,
        Ok(Claim::Began)
    );
    // Released for another payload: kept. For its own: gone.
    store.release(Operation::new(&key, "other")).await.unwrap();
    assert!(matches!(
        store
            .begin(Operation::new(&key, "h").claim(NOW + 62, NOW + 32))
            .await,
        Ok(Claim::InProgress { .. })
    ));
    store.release(Operation::new(&key, "h")).await.unwrap();
    assert_eq!(
        store
            .begin(Operation::new(&key, "h").claim(NOW + 62, NOW + 32))
            .await,
        Ok(Claim::Began)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_begins_on_one_key_let_exactly_one_invocation_run() {
    let (moto, _admin) = moto_with_table().await;
    let mut tasks = Vec::new();
    for _ in 0..6 {
        let (store, _) = store_at(&moto.endpoint()).await;
        tasks.push(tokio::spawn(async move {
            store
                .begin(
                    Operation::new(&IdempotencyKey::new("alert:id:same"), "h").claim(NOW + 30, NOW),
                )
                .await
        }));
    }
    let mut claims = Vec::new();
    for task in tasks {
        claims.push(task.await.unwrap().unwrap());
    }
    assert_eq!(
        claims
            .iter()
            .filter(|claim| **claim == Claim::Began)
            .count(),
        1,
        "{claims:?}"
    );
    assert!(
        claims
            .iter()
            .all(|claim| matches!(claim, Claim::Began | Claim::InProgress { .. }))
    );
}

// ---------------------------------------------------------------------------------------------
// Failure
// ---------------------------------------------------------------------------------------------

/// Calls `first_delivery` and `begin`, asserting each fails with a typed error within the budget.
async fn assert_fails_in_budget(store: &DynamoDbStore) -> Vec<StateError> {
    let mut errors = Vec::new();
    let started = Instant::now();
    let replay = store
        .first_delivery(DeliveryRecord::new(
            &event_key("jti-1", "call-1"),
            &StoredAnswer::acknowledged(),
            NOW,
            NOW + MAX_AGE,
        ))
        .await;
    assert!(
        started.elapsed() < BUDGET + MARGIN,
        "{:?}",
        started.elapsed()
    );
    errors.push(replay.expect_err("no table to write to"));
    let started = Instant::now();
    let begin = store
        .begin(Operation::new(&IdempotencyKey::new("k"), "h").claim(NOW + 30, NOW))
        .await;
    assert!(
        started.elapsed() < BUDGET + MARGIN,
        "{:?}",
        started.elapsed()
    );
    errors.push(begin.expect_err("no table to write to"));
    errors
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stopped_table_is_a_typed_error_inside_the_budget_and_the_webhook_goes_on_from_memory() {
    let (mut moto, _admin) = moto_with_table().await;
    let (store, _) = store_at(&moto.endpoint()).await;
    let layered = LayeredReplayStore::new(MemoryReplayStore::default(), Arc::new(store.clone()));
    assert_eq!(
        layered
            .check(DeliveryRecord::new(
                &event_key("jti-0", "call-0"),
                &StoredAnswer::acknowledged(),
                NOW,
                NOW + MAX_AGE
            ))
            .await
            .shared,
        SharedCheck::Consulted
    );
    moto.stop();

    for error in assert_fails_in_budget(&store).await {
        assert!(
            matches!(error, StateError::Unavailable(_) | StateError::Timeout(_)),
            "{error:?}"
        );
    }
    let started = Instant::now();
    let check = layered
        .check(DeliveryRecord::new(
            &event_key("jti-1", "call-1"),
            &StoredAnswer::acknowledged(),
            NOW,
            NOW + MAX_AGE,
        ))
        .await;
    assert!(started.elapsed() < BUDGET + MARGIN);
    assert_eq!(check.delivery, Delivery::First);
    assert!(matches!(check.shared, SharedCheck::Failed(_)), "{check:?}");
    // Still never twice on this instance.
    let again = layered
        .check(DeliveryRecord::new(
            &event_key("jti-1", "call-1"),
            &StoredAnswer::acknowledged(),
            NOW,
            NOW + MAX_AGE,
        ))
        .await;
    assert!(matches!(again.delivery, Delivery::Duplicate { .. }));
}

#[tokio::test(flavor = "multi_thread")]
async fn nothing_listening_is_a_typed_error_inside_the_budget() {
    let (store, _) = store_at(&format!("http://127.0.0.1:{}", free_port())).await;
    for error in assert_fails_in_budget(&store).await {
        assert!(
            matches!(error, StateError::Unavailable(_) | StateError::Timeout(_)),
            "{error:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_table_that_accepts_but_never_answers_times_out_at_the_budget() {
    // Accepts connections and reads nothing back: a table slowed past the budget.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    let held = Arc::new(Mutex::new(Vec::new()));
    let holder = held.clone();
    std::thread::spawn(move || {
        for connection in listener.incoming().flatten() {
            holder.lock().unwrap().push(connection);
        }
    });
    let (store, _) = store_at(&format!("http://{address}")).await;
    for error in assert_fails_in_budget(&store).await {
        assert_eq!(error, StateError::Timeout(BUDGET));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_missing_table_is_a_misconfiguration_not_an_outage() {
    let moto = MotoServer::start();
    // moto loads its DynamoDB backend on the first request, which can take longer than the budget.
    let tables = admin(&moto).await.list_tables().send().await.unwrap();
    assert!(tables.table_names().is_empty());
    let (store, _) = store_at(&moto.endpoint()).await;
    for error in assert_fails_in_budget(&store).await {
        assert!(matches!(error, StateError::Misconfigured(_)), "{error:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn both_clients_come_from_one_configuration_load() {
    let (moto, _admin) = moto_with_table().await;
    let (secrets, state) =
        aws::secrets_and_state(moto_loader(&moto.endpoint()), &state_config()).await;
    assert_eq!(state.table(), TABLE);
    assert_eq!(
        state
            .first_delivery(DeliveryRecord::new(
                &event_key("j", "c"),
                &StoredAnswer::acknowledged(),
                NOW,
                NOW + MAX_AGE
            ))
            .await,
        Ok(Delivery::First)
    );
    // The Secrets Manager client reaches the same moto: a missing secret is "not readable", not
    // "unavailable".
    use vonage_voice_lambda::secrets::{SecretStore, SecretStoreError};
    assert!(matches!(
        secrets.secret_string("absent", "AWSCURRENT").await,
        Err(SecretStoreError::NotReadable { .. })
    ));
}
