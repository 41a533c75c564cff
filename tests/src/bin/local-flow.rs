//! `make local`: the whole flow on this machine, told as a short transcript.
//! moto holds fresh secrets, the Vonage emulator takes the call, the functions run under
//! `cargo lambda watch`. Everything started is stopped at the end, on failure and on Ctrl-C.
//!
//! The run ends with `flow::verdict` over what it saw: any event that did not arrive, or any
//! request not answered with exactly its expected status, is one `FAILED step …` line on stderr
//! and a non-zero exit. `EMULATOR_SEND_EVENTS=false make local` shows such a failure.

use std::time::Duration;

use integration_tests::flow::{
    FlowObservation, LocalStack, SEND_EVENTS_SETTING, StackOptions, attacks, send_events_from,
    verdict,
};
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
    let send_events = match send_events_from(std::env::var(SEND_EVENTS_SETTING).ok().as_deref()) {
        Ok(send_events) => send_events,
        Err(problem) => {
            eprintln!("{problem}");
            std::process::exit(2);
        }
    };

    println!("Starting moto (Secrets Manager), the Vonage Voice emulator and cargo lambda watch…");
    let stack = LocalStack::start(StackOptions {
        event_interval: Duration::from_millis(300),
        send_events,
    })
    .await;
    println!(
        "  secrets      stored in moto at {} (fresh signature secret and RSA key)",
        stack.moto_endpoint()
    );
    println!("  emulator     {}", stack.emulator_url());
    if !send_events {
        println!("               ({SEND_EVENTS_SETTING}=false: it sends no events)");
    }
    println!(
        "  functions    {} and {}\n",
        stack.answer_url(),
        stack.event_url()
    );
    let mut observed = FlowObservation::default();

    println!("1. send-alert places a call for a one-time code");
    let request = json!({"to": "447700900000", "code": "4821", "confirm": true});
    say("you →", format!("invoke send-alert {request}"));
    observed.alert_reply = stack.invoke_send_alert(&request).await;
    say("send-alert →", &observed.alert_reply);
    if let Some(uuid) = observed.alert_reply["call_uuid"]
        .as_str()
        .map(str::to_owned)
    {
        println!(
            "\n2. the emulator plays the call and posts its events, signed, to the event function"
        );
        observed.call = stack.finished_call(&uuid, Duration::from_secs(120)).await;
        say("NCCO", &observed.call["ncco"]);
        let deliveries = observed.call["deliveries"].as_array().cloned();
        for delivery in deliveries.iter().flatten() {
            let status = &delivery["http_status"];
            let kind = delivery["status"].as_str().unwrap_or("?");
            let reply = delivery["response_body"].as_str().unwrap_or_default();
            say(
                "emulator →",
                format!("{kind:<10} signed → event function answered {status} {reply}"),
            );
        }
        if deliveries.is_none_or(|deliveries| deliveries.is_empty()) {
            say("emulator →", "(no events)");
        }

        println!("\n3. requests that must be refused");
        let (genuine, refused) = attacks(&stack.credentials.signer(), &uuid);
        let (status, _) = stack
            .post_event(Some(&genuine.authorization), &genuine.body)
            .await;
        observed.genuine_status = Some(status);
        say("you →", format!("a genuine signed event: {status}"));
        for attack in &refused {
            let (status, body) = stack
                .post_event(Some(&attack.authorization), &attack.body)
                .await;
            observed.attacks.push((attack.kind, status));
            say(
                "you →",
                format!("{:<40} {status} {body}", attack.kind.name()),
            );
        }

        println!("\n4. the answer webhook returns an NCCO");
        let (status, body) = stack
            .get_answer(
                "to=447700900001&from=447700900000&uuid=inbound-1&conversation_uuid=CON-inbound-1",
                None,
            )
            .await;
        observed.answer_status = Some(status);
        let ncco: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
        say("answer →", format!("{status} {ncco}"));
    }

    drop(stack);
    println!("\nStopped everything this run started.");
    let failures = verdict(&observed);
    if !failures.is_empty() {
        for failure in &failures {
            eprintln!("FAILED {failure}");
        }
        std::process::exit(1);
    }
    println!("All events accepted, all forged, replayed, stale and tampered requests refused.");
}
