//! send-alert once per alert, through real processes: send-alert under `cargo lambda watch` with
//! its idempotency records in moto's DynamoDB, placing calls at the Vonage emulator, whose call
//! list shows how many calls really reached the Voice API; then two more send-alert processes of
//! their own (two Lambda instances, each with its own memory) on the same table.

use std::path::Path;
use std::time::Duration;

use integration_tests::flow::{LocalStack, StackOptions};
use serde_json::{Value, json};

/// Calls the emulator received whose spoken text is `text`.
async fn calls_speaking(stack: &LocalStack, text: &str) -> usize {
    let calls: Vec<Value> = reqwest::get(format!("{}/_emulator/calls", stack.emulator_url()))
        .await
        .expect("the emulator answers")
        .json()
        .await
        .expect("the emulator lists calls as JSON");
    calls
        .iter()
        .filter(|call| call["ncco"][0]["text"] == text)
        .count()
}

fn alert(id: &str, text: &str) -> Value {
    json!({"alert_id": id, "to": "447700900000", "text": text})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_alert_reaches_the_voice_api_once_and_returns_the_same_call() {
    let stack = LocalStack::start(StackOptions {
        event_interval: Duration::ZERO,
        send_events: true,
    })
    .await;

    // Sequentially: the repeat gets the first call's uuid and places nothing.
    let first = stack
        .invoke_send_alert(&alert("disk-full:db-1", "Disk full on db-1"))
        .await;
    assert_eq!(first["status"], "started", "{first}");
    assert!(first.get("duplicate").is_none(), "{first}");
    let repeat = stack
        .invoke_send_alert(&alert("disk-full:db-1", "Disk full on db-1"))
        .await;
    assert_eq!(repeat["call_uuid"], first["call_uuid"], "{repeat}");
    assert_eq!(repeat["duplicate"], true, "{repeat}");
    assert_eq!(calls_speaking(&stack, "Disk full on db-1").await, 1);

    // The same key for another alert is refused, and places nothing.
    let reused = stack
        .invoke_send_alert(&alert("disk-full:db-1", "Disk full on db-2"))
        .await;
    assert_eq!(reused["error"], "idempotency_key_reused", "{reused}");
    assert_eq!(calls_speaking(&stack, "Disk full on db-2").await, 0);

    // Without an alert_id the input itself is the key.
    let input = json!({"to": "447700900000", "text": "Queue backed up"});
    let unnamed = stack.invoke_send_alert(&input).await;
    let again = stack.invoke_send_alert(&input).await;
    assert_eq!(again["call_uuid"], unnamed["call_uuid"], "{again}");
    assert_eq!(again["duplicate"], true, "{again}");

    // Concurrently: whichever way the invocations interleave, one call is placed; every answer is
    // that call, or the retryable in_progress error while it was being placed.
    let concurrent = alert("cpu-high:web-3", "CPU high on web-3");
    let (a, b) = tokio::join!(
        stack.invoke_send_alert(&concurrent),
        stack.invoke_send_alert(&concurrent)
    );
    assert_eq!(calls_speaking(&stack, "CPU high on web-3").await, 1);
    the_one_call(&a, &b);

    // From two processes at once: whichever instance wins, one call reaches the Voice API, and a
    // later invocation at either instance returns that call.
    let helper = Path::new(env!("CARGO_BIN_EXE_process-helper"));
    let mut first_instance = stack
        .start_send_alert_instance(helper, "first")
        .await
        .expect("a first send-alert instance starts");
    let mut second_instance = stack
        .start_send_alert_instance(helper, "second")
        .await
        .expect("a second send-alert instance starts");
    let across = alert("memory-high:db-7", "Memory high on db-7");
    let (a, b) = tokio::join!(
        first_instance.invoke(&across),
        second_instance.invoke(&across)
    );
    let (a, b) = (
        a.expect("the first instance answers"),
        b.expect("the second instance answers"),
    );
    assert_eq!(calls_speaking(&stack, "Memory high on db-7").await, 1);
    let call_uuid = the_one_call(&a, &b);
    for instance in [&mut first_instance, &mut second_instance] {
        let later = instance
            .invoke(&across)
            .await
            .expect("the instance answers");
        assert_eq!(later["call_uuid"], call_uuid, "{later}");
        assert_eq!(later["duplicate"], true, "{later}");
    }
    assert_eq!(calls_speaking(&stack, "Memory high on db-7").await, 1);
    first_instance.stop().await;
    second_instance.stop().await;
}

/// Two answers to the same alert invoked at the same time: at least one is the call placed,
/// both that placed it name the same call, and any other is the retryable `in_progress` error.
/// Returns the call's uuid.
fn the_one_call(a: &Value, b: &Value) -> Value {
    let placed: Vec<&Value> = [a, b]
        .into_iter()
        .filter(|answer| answer["call_uuid"].is_string())
        .collect();
    assert!(!placed.is_empty(), "{a} {b}");
    assert!(
        placed
            .iter()
            .all(|answer| answer["call_uuid"] == placed[0]["call_uuid"]),
        "{a} {b}"
    );
    for answer in [a, b] {
        assert!(
            answer["call_uuid"].is_string() || answer["error"] == "in_progress",
            "{answer}"
        );
    }
    placed[0]["call_uuid"].clone()
}
