//! `make local`: the whole flow on this machine, told as a short transcript.
//! moto holds fresh secrets, the Vonage emulator takes the call, the functions run under
//! `cargo lambda watch`. Everything started is stopped at the end, on failure and on Ctrl-C.

use std::time::Duration;

use integration_tests::flow::{LocalStack, StackOptions, attacks};
use serde_json::{Value, json};

fn say(who: &str, what: impl std::fmt::Display) {
    println!("  {who:<12} {what}");
}

#[tokio::main]
async fn main() {
    if let Err(error) = ctrlc::set_handler(|| {
        eprintln!("\ninterrupted: stopping everything this run started");
        integration_tests::stop_all_children();
        std::process::exit(130);
    }) {
        eprintln!("warning: no Ctrl-C handler ({error}); processes are still stopped at the end");
    }

    println!("Starting moto (Secrets Manager), the Vonage Voice emulator and cargo lambda watch…");
    let stack = LocalStack::start(StackOptions {
        event_interval: Duration::from_millis(300),
    })
    .await;
    println!(
        "  secrets      stored in moto at {} (fresh signature secret and RSA key)",
        stack.moto_endpoint()
    );
    println!("  emulator     {}", stack.emulator_url());
    println!(
        "  functions    {} and {}\n",
        stack.answer_url(),
        stack.event_url()
    );

    println!("1. send-alert places a call for a one-time code");
    let request = json!({"to": "447700900000", "code": "4821", "confirm": true});
    say("you →", format!("invoke send-alert {request}"));
    let answer = stack.invoke_send_alert(&request).await;
    say("send-alert →", &answer);
    let Some(uuid) = answer["call_uuid"].as_str() else {
        eprintln!("send-alert did not place the call: {answer}");
        std::process::exit(1);
    };

    println!(
        "\n2. the emulator plays the call and posts its events, signed, to the event function"
    );
    let call = stack.finished_call(uuid, Duration::from_secs(120)).await;
    say("NCCO", &call["ncco"]);
    let mut every_event_accepted = true;
    for delivery in call["deliveries"].as_array().into_iter().flatten() {
        let status = delivery["http_status"].as_u64().unwrap_or_default();
        every_event_accepted &= status == 200;
        let kind = delivery["status"].as_str().unwrap_or("?");
        let reply = delivery["response_body"].as_str().unwrap_or_default();
        say(
            "emulator →",
            format!("{kind:<10} signed → event function answered {status} {reply}"),
        );
    }

    println!("\n3. requests that must be refused");
    let (genuine, refused) = attacks(&stack.credentials.signer(), uuid);
    let (status, _) = stack
        .post_event(Some(&genuine.authorization), &genuine.body)
        .await;
    say("you →", format!("a genuine signed event: {status}"));
    let mut every_attack_refused = true;
    for attack in &refused {
        let (status, body) = stack
            .post_event(Some(&attack.authorization), &attack.body)
            .await;
        every_attack_refused &= status != 200 || body.contains("replay");
        say("you →", format!("{:<40} {status} {body}", attack.name));
    }

    println!("\n4. the answer webhook returns an NCCO");
    let (status, body) = stack
        .get_answer(
            "to=447700900001&from=447700900000&uuid=inbound-1&conversation_uuid=CON-inbound-1",
            None,
        )
        .await;
    let ncco: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    say("answer →", format!("{status} {ncco}"));

    drop(stack);
    println!("\nStopped everything this run started.");
    if !(every_event_accepted && every_attack_refused && status == 200) {
        eprintln!("The flow did not go as it should: see the lines above.");
        std::process::exit(1);
    }
    println!("All events accepted, all forged, replayed, stale and tampered requests refused.");
}
