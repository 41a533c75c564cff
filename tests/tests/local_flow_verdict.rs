//! `make local`'s own verdict against an emulator that sends no events: the local-flow binary is
//! run as `make local` runs it, with `EMULATOR_SEND_EVENTS=false` (moto, the emulator and the
//! functions under `cargo lambda watch`, all real and all stopped by the binary), and must exit
//! non-zero with one clear line naming step 2, where it used to count "all events accepted".

use std::process::Command;

use integration_tests::flow::SEND_EVENTS_SETTING;

#[test]
fn the_local_flow_fails_with_one_clear_line_when_no_event_arrives() {
    let output = Command::new(env!("CARGO_BIN_EXE_local-flow"))
        .env(SEND_EVENTS_SETTING, "false")
        .output()
        .expect("the local-flow binary runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let shown = format!("stdout:\n{stdout}\nstderr:\n{stderr}");

    assert_eq!(output.status.code(), Some(1), "{shown}");
    let failures: Vec<&str> = stderr
        .lines()
        .filter(|line| line.starts_with("FAILED"))
        .collect();
    assert_eq!(failures.len(), 1, "exactly one failure: {shown}");
    assert!(
        failures[0].starts_with(
            "FAILED step 2 (the call's signed events): no started, ringing, answered, input, \
             completed event arrived for call "
        ),
        "{shown}"
    );
    // The call was placed and the other steps still ran and passed: the failure is the silence.
    assert!(stdout.contains("\"status\":\"started\""), "{shown}");
    assert!(stdout.contains("(no events)"), "{shown}");
    assert!(
        stdout.contains("Stopped everything this run started."),
        "{shown}"
    );
    assert!(!stdout.contains("All events accepted"), "{shown}");
}
