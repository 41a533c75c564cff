//! `make local`: the whole flow on this machine, told as a short transcript.
//! moto holds fresh secrets, the Vonage emulator takes the call, the functions run under
//! `cargo lambda watch`. Everything started is stopped at the end, on failure and on Ctrl-C.
//!
//! The run ends with `flow::verdict` over what it saw: any event that did not arrive, any
//! request not answered with exactly its expected status, a replay not logged as a duplicate, a
//! repeated alert that rang again, or an alert not read back `completed` and `confirmed` with its
//! changes published on EventBridge (never two different changes under one version), is one
//! `FAILED step …` line on stderr and a
//! non-zero exit. The last lines show the alert's final state as alert-status reads it.
//! `EMULATOR_SEND_EVENTS=false make local` shows such a failure.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use integration_tests::flow::{
    AlertRepeat, AttackKind, FlowObservation, JtiLog, LocalStack, OutcomeObservation,
    SEND_EVENTS_SETTING, SecondProcessObservation, StackOptions, attacks, send_events_from,
    verdict,
};
use integration_tests::repo_root;
use serde_json::{Value, json};

fn say(who: &str, what: impl std::fmt::Display) {
    println!("  {who:<12} {what}");
}

/// How the transcript shows what an event function logged about a token.
fn logged(log: &JtiLog) -> String {
    let duplicates = if log.duplicates.is_empty() {
        "not logged duplicate".to_owned()
    } else {
        format!("logged duplicate (matched {})", log.duplicates.join(", "))
    };
    format!(
        "{duplicates}; \"processed\" lines for its jti: {}",
        log.processed
    )
}

/// A path as the transcript shows it: from the repository's root when it is inside it.
fn shown_path(path: &std::path::Path) -> String {
    let root = repo_root();
    path.strip_prefix(&root)
        .unwrap_or(path)
        .display()
        .to_string()
}

/// The process helper the second event process is forked from (`process-helper spawner`): built
/// like the functions, into the folder this binary runs from.
fn spawner_helper() -> Result<PathBuf, String> {
    let status = Command::new(env!("CARGO"))
        .current_dir(repo_root())
        .args([
            "build",
            "--quiet",
            "-p",
            "integration-tests",
            "--bin",
            "process-helper",
        ])
        .status()
        .map_err(|error| format!("cargo did not run: {error}"))?;
    if !status.success() {
        return Err(format!("cargo build of process-helper failed ({status})"));
    }
    let folder = std::env::current_exe()
        .map_err(|error| format!("this binary's path is unknown: {error}"))?
        .parent()
        .map(PathBuf::from)
        .ok_or("this binary has no folder")?;
    Ok(folder.join("process-helper"))
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
        "  functions    {} and {}",
        stack.answer_url(),
        stack.event_url()
    );
    println!("  their logs   {}\n", shown_path(stack.watch_log()));
    let mut observed = FlowObservation::default();

    println!("1. send-alert places a call for a one-time code");
    // Named, so that step 5 can invoke the same alert again.
    let request = json!({"alert_id": "local-otp-4821", "to": "447700900000", "code": "4821",
                         "confirm": true});
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

        println!(
            "\n3. forged requests refused, replays answered as the first time and not processed again"
        );
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
            let shown = if attack.kind == AttackKind::Replayed {
                // Settled once the replay's line is there, or as soon as a second processing is.
                let log = stack
                    .event_log_for(&genuine.jti, |log| {
                        !log.duplicates.is_empty() || log.processed > 1
                    })
                    .await;
                let shown = format!("{status} (empty body), {}", logged(&log));
                observed.genuine_log = Some(log);
                shown
            } else {
                format!("{status} {body}")
            };
            say("you →", format!("{:<40} {shown}", attack.kind.name()));
        }
        let second = match spawner_helper() {
            Ok(helper) => stack.start_second_event_process(&helper).await,
            Err(problem) => Err(problem),
        };
        let (answer, log, where_logged) = match second {
            Ok(mut second) => {
                let answer = second
                    .post_event(&genuine.authorization, &genuine.body)
                    .await;
                let log = second
                    .event_log_for(&genuine.jti, |log| {
                        !log.duplicates.is_empty() || log.processed > 0
                    })
                    .await;
                let where_logged = shown_path(second.log_path());
                second.stop().await;
                (answer, log, where_logged)
            }
            Err(problem) => (Err(problem), JtiLog::default(), String::new()),
        };
        let shown = match &answer {
            Ok(status) => format!("{status} (empty body), {}", logged(&log)),
            Err(problem) => format!("no answer: {problem}"),
        };
        say(
            "you →",
            format!("{:<40} {shown}", "replayed to a second event process"),
        );
        say(
            "",
            "(the real event binary under the Runtime API harness: its own memory, the same \
             DynamoDB table)",
        );
        if !where_logged.is_empty() {
            say("", format!("(its log: {where_logged})"));
        }
        observed.second_process = Some(SecondProcessObservation { answer, log });

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

        println!("\n5. the same alert invoked again rings once");
        say("you →", format!("invoke send-alert {request}"));
        let reply = stack.invoke_send_alert(&request).await;
        say("send-alert →", &reply);
        let emulator_calls = stack.emulator_calls().await;
        say(
            "emulator",
            format!(
                "calls taken in the whole run: {} [{}]",
                emulator_calls.len(),
                emulator_calls.join(", ")
            ),
        );
        observed.alert_repeat = Some(AlertRepeat {
            reply,
            emulator_calls,
        });

        println!(
            "\n6. the alert's outcome, read back with alert-status, and the EventBridge events \
             it published (read from moto through a rule to an SQS queue)"
        );
        let alert_id = observed.alert_reply["alert_id"]
            .as_str()
            .unwrap_or_default();
        let query = json!({"alert_id": alert_id});
        say("you →", format!("invoke alert-status {query}"));
        let status = stack.invoke_alert_status(&query).await;
        say(
            "alert-status →",
            format!(
                "state {}, confirmation {} (at {}), {} timeline entries",
                status["state"],
                status["confirmation"],
                status["confirmation_at"],
                status["timeline"].as_array().map_or(0, Vec::len)
            ),
        );
        for entry in status["timeline"].as_array().into_iter().flatten() {
            say("", format!("timeline: {entry}"));
        }
        // ringing, answered, answered + confirmed, completed: one event per change.
        let events = stack.alert_events(4, Duration::from_secs(20)).await;
        match &events {
            Ok(events) if events.is_empty() => say("EventBridge →", "(no events)"),
            Ok(events) => {
                for event in events {
                    let detail = &event["detail"];
                    say(
                        "EventBridge →",
                        format!(
                            "{} / {}: v{} {} → {}, confirmation {}",
                            event["source"].as_str().unwrap_or("?"),
                            event["detail-type"].as_str().unwrap_or("?"),
                            detail["version"],
                            detail["previous_state"].as_str().unwrap_or("?"),
                            detail["state"].as_str().unwrap_or("?"),
                            detail["confirmation"].as_str().unwrap_or("?"),
                        ),
                    );
                }
            }
            Err(problem) => say("EventBridge →", format!("not read: {problem}")),
        }
        observed.outcome = Some(OutcomeObservation { status, events });
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
    println!(
        "All events accepted; forged, stale and tampered requests refused; the replay answered \
         200 and caught as a duplicate by both event processes, processed once; the repeated \
         alert rang once; each change of the alert published."
    );
    if let Some(outcome) = &observed.outcome {
        let events = outcome.events.as_ref().map_or(0, Vec::len);
        println!(
            "Alert {}: {}, {} (read back with alert-status; {events} EventBridge events)",
            observed.alert_reply["alert_id"].as_str().unwrap_or("?"),
            outcome.status["state"].as_str().unwrap_or("?"),
            outcome.status["confirmation"].as_str().unwrap_or("?"),
        );
    }
}
