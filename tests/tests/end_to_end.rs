//! The whole flow through real processes and real HTTP: send-alert under `cargo lambda watch`
//! reads its key from moto, places a call at the Vonage emulator, the emulator posts the call's
//! events signed to the event function, which reads its secret from moto and accepts them.
//! Then forged, replayed, stale and tampered requests are refused, the answer webhook returns a
//! valid NCCO, and no process is left behind.

use std::time::Duration;

use integration_tests::flow::{
    ACCEPTED_STATUS, EXPECTED_EVENTS, LocalStack, StackOptions, attacks,
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

    // A genuine request is accepted once; every attack is refused.
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

    drop(stack);
    for pid in pids {
        assert!(
            !process_group_alive(pid),
            "processes of group {pid} still run after the stack stopped"
        );
    }
}
