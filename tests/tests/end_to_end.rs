//! The whole flow through real processes and real HTTP: send-alert under `cargo lambda watch`
//! reads its key from moto, places a call at the Vonage emulator, the emulator posts the call's
//! events signed to the event function, which reads its secret from moto and accepts them.
//! Then forged, stale and tampered requests are refused; a replay is answered 200 and logged as a
//! duplicate, by the same event function and by a second `event` process sharing the state
//! table; the answer webhook returns a valid NCCO; the same alert invoked again returns the first
//! call without placing another; and no process is left behind.

use std::time::Duration;

use integration_tests::flow::{
    ACCEPTED_STATUS, EXPECTED_EVENTS, JtiLog, LocalStack, StackOptions, attacks,
};
use integration_tests::process_group_alive;
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alert_call_events_and_attacks_through_the_local_stack() {
    let stack = LocalStack::start(StackOptions {
        event_interval: Duration::ZERO,
        send_events: true,
    })
    .await;
    let pids = stack.pids();

    // send-alert → the emulator → 201 → the call's uuid comes back.
    let answer = stack
        .invoke_send_alert(&json!({"to": "+44 7700 900000", "code": "4821", "confirm": true}))
        .await;
    assert_eq!(answer["status"], "started", "{answer}");
    let uuid = answer["call_uuid"]
        .as_str()
        .expect("a call uuid")
        .to_owned();
    assert!(
        answer["conversation_uuid"]
            .as_str()
            .is_some_and(|c| c.starts_with("CON-")),
        "{answer}"
    );

    // The emulator saw the normalised number and our NCCO, then delivered every event signed.
    let call = stack.finished_call(&uuid, Duration::from_secs(120)).await;
    assert_eq!(call["finished"], true, "the call did not finish: {call}");
    assert_eq!(call["to"], "447700900000");
    let ncco = call["ncco"].as_array().expect("an embedded NCCO");
    assert!(
        ncco[0]["text"]
            .as_str()
            .is_some_and(|t| t.contains("4, 8, 2, 1")),
        "{ncco:?}"
    );
    assert_eq!(
        ncco.last().map(|a| a["action"].clone()),
        Some(json!("input"))
    );
    let deliveries = call["deliveries"].as_array().expect("deliveries");
    let statuses: Vec<&str> = deliveries
        .iter()
        .filter_map(|d| d["status"].as_str())
        .collect();
    assert_eq!(statuses, EXPECTED_EVENTS);
    // The callee pressed 1: the event function answers the input webhook with the next NCCO.
    let input = &deliveries[3];
    assert!(
        input["response_body"]
            .as_str()
            .is_some_and(|body| body.contains("confirmation is recorded")),
        "{input}"
    );
    for delivery in deliveries {
        assert_eq!(delivery["http_status"], ACCEPTED_STATUS, "{delivery}");
        assert!(
            delivery["url"]
                .as_str()
                .is_some_and(|url| url.starts_with(&stack.event_url()))
        );
    }

    // A genuine request is accepted once; every attack gets exactly its status, the replay 200.
    let (genuine, refused) = attacks(&stack.credentials.signer(), &uuid);
    let (status, _) = stack
        .post_event(Some(&genuine.authorization), &genuine.body)
        .await;
    assert_eq!(status, ACCEPTED_STATUS);
    for attack in &refused {
        let (status, body) = stack
            .post_event(Some(&attack.authorization), &attack.body)
            .await;
        let expected = attack.kind.expected_status();
        assert_eq!(status, expected, "{}: {body}", attack.kind.name());
        assert!(
            !body.contains("signature") && !body.contains("stale"),
            "reason leaked: {body}"
        );
    }
    // The replay's 200 was the first answer repeated, not a second processing.
    let log = stack
        .event_log_for(&genuine.jti, |log| {
            !log.duplicates.is_empty() || log.processed > 1
        })
        .await;
    let once_then_duplicate_by_jti = JtiLog {
        processed: 1,
        duplicates: vec!["jti".into()],
    };
    assert_eq!(
        log,
        once_then_duplicate_by_jti,
        "see {}",
        stack.watch_log().display()
    );

    // A second event process, with a memory that never saw the token, catches it in the table.
    let mut second = stack
        .start_second_event_process(std::path::Path::new(env!("CARGO_BIN_EXE_process-helper")))
        .await
        .expect("a second event process starts");
    let status = second
        .post_event(&genuine.authorization, &genuine.body)
        .await
        .expect("the second event process answers");
    assert_eq!(status, ACCEPTED_STATUS);
    let log = second
        .event_log_for(&genuine.jti, |log| {
            !log.duplicates.is_empty() || log.processed > 0
        })
        .await;
    let caught_by_jti = JtiLog {
        processed: 0,
        duplicates: vec!["jti".into()],
    };
    assert_eq!(log, caught_by_jti, "see {}", second.log_path().display());
    second.stop().await;

    // Unsigned events are not accepted by default: Vonage is asked to retry.
    let (status, _) = stack.post_event(None, &genuine.body).await;
    assert_eq!(status, 503);

    // The answer webhook: unsigned GET allowed by default, a signed one verified, a forged one refused.
    let query = "to=447700900001&from=447700900000&uuid=in-1&conversation_uuid=CON-in-1";
    let (status, body) = stack.get_answer(query, None).await;
    assert_eq!(status, 200, "{body}");
    let ncco: Value = serde_json::from_str(&body).expect("the answer is JSON");
    assert_eq!(ncco[0]["action"], "talk", "{ncco}");
    assert_eq!(ncco[0]["text"], "Hello from your local Vonage stack.");
    let signer = stack.credentials.signer();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default();
    let signed = format!(
        "Bearer {}",
        signer.sign_query(query, now, "answer-1").expect("signs")
    );
    assert_eq!(stack.get_answer(query, Some(&signed)).await.0, 200);
    let tampered_query = query.replace("in-1", "in-2");
    assert_eq!(
        stack.get_answer(&tampered_query, Some(&signed)).await.0,
        401
    );

    // The same input again (no alert_id: its hash is the key) returns the first call, placing none.
    let again = stack
        .invoke_send_alert(&json!({"to": "+44 7700 900000", "code": "4821", "confirm": true}))
        .await;
    assert_eq!(again["call_uuid"], json!(uuid), "{again}");
    assert_eq!(again["duplicate"], true, "{again}");
    assert_eq!(stack.emulator_calls().await, vec![uuid.clone()]);

    drop(stack);
    for pid in pids {
        assert!(
            !process_group_alive(pid),
            "processes of group {pid} still run after the stack stopped"
        );
    }
}

/// A confirmed, an unanswered and a busy alert, placed through send-alert and played by the
/// emulator (its reserved numbers choose the outcome), end in their states as alert-status reads
/// them back, by alert id and by call uuid; each change was published on EventBridge once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn confirmed_unanswered_and_busy_alerts_end_in_their_states() {
    let stack = LocalStack::start(StackOptions {
        event_interval: Duration::ZERO,
        send_events: true,
    })
    .await;
    // (alert id, callee, confirm asked, final state, confirmation)
    let cases = [
        (
            "e2e-confirmed",
            "447700900000",
            true,
            "completed",
            "confirmed",
        ),
        ("e2e-unanswered", "447700900408", true, "unanswered", "none"),
        ("e2e-busy", "447700900486", false, "busy", "none"),
    ];
    for (alert_id, to, confirm, state, confirmation) in cases {
        let placed = stack
            .invoke_send_alert(&json!({"alert_id": alert_id, "to": to,
                                        "text": "Disk full on db-1", "confirm": confirm}))
            .await;
        assert_eq!(placed["alert_id"], alert_id, "{placed}");
        let uuid = placed["call_uuid"]
            .as_str()
            .expect("a call uuid")
            .to_owned();
        let call = stack.finished_call(&uuid, Duration::from_secs(120)).await;
        assert_eq!(call["finished"], true, "{call}");

        let status = stack
            .invoke_alert_status(&json!({"alert_id": alert_id}))
            .await;
        assert_eq!(status["state"], state, "{alert_id}: {status}");
        assert_eq!(status["confirmation"], confirmation, "{alert_id}: {status}");
        assert_eq!(status["confirmed"], confirmation == "confirmed", "{status}");
        assert_eq!(status["call_uuid"], json!(uuid));
        assert_eq!(status["to_masked"], format!("********{}", &to[8..]));
        let kinds: Vec<&str> = status["timeline"]
            .as_array()
            .expect("a timeline")
            .iter()
            .filter_map(|entry| entry["event"].as_str())
            .collect();
        assert!(kinds.contains(&state), "{alert_id}: {kinds:?}");
        if confirmation == "confirmed" {
            assert!(status["confirmation_at"].is_i64(), "{status}");
        }
        let by_call = stack.invoke_alert_status(&json!({"call_uuid": uuid})).await;
        assert_eq!(by_call, status);
    }
    let unknown = stack
        .invoke_alert_status(&json!({"alert_id": "never-sent"}))
        .await;
    assert_eq!(unknown["error"], "not_found", "{unknown}");

    // ringing, answered, confirmed, completed; ringing, unanswered; ringing, busy.
    let events = stack
        .alert_events(8, Duration::from_secs(30))
        .await
        .expect("the events are read back from moto");
    for (alert_id, _, _, state, confirmation) in cases {
        let ours: Vec<&Value> = events
            .iter()
            .filter(|event| event["detail"]["alert_id"] == alert_id)
            .collect();
        let mut versions: Vec<u64> = ours
            .iter()
            .filter_map(|event| event["detail"]["version"].as_u64())
            .collect();
        versions.sort_unstable();
        versions.dedup();
        assert_eq!(versions.len(), ours.len(), "each change once: {ours:#?}");
        let last = ours
            .iter()
            .max_by_key(|event| event["detail"]["version"].as_u64())
            .unwrap_or_else(|| panic!("no event for {alert_id}: {events:#?}"));
        assert_eq!(last["source"], "vonage-voice-lambda.alerts");
        assert_eq!(last["detail-type"], "Alert state changed");
        assert_eq!(last["detail"]["state"], state, "{alert_id}: {last}");
        assert_eq!(last["detail"]["confirmation"], confirmation, "{alert_id}");
        assert_eq!(last["detail"]["ended"], true);
    }
}
