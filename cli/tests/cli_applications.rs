//! `activate` and `status`, run as the operator runs them, against the stateful Applications API
//! fake whose every PUT is checked against Vonage's spec.

use std::process::{Command, Output};

use integration_tests::applications_fake::{ApplicationsFake, FakeQuirks};
use serde_json::{Value, json};

const APP_ID: &str = "aaaaaaaa-bbbb-cccc-dddd-0123456789ab";
const API_KEY: &str = "a1b2c3d4";
const API_SECRET: &str = "Sup3rS3cretApiSecret";
const ANSWER: &str = "https://abc123.execute-api.eu-west-1.amazonaws.com/answer";
const EVENT: &str = "https://abc123.execute-api.eu-west-1.amazonaws.com/event";

/// Voice, messages, rtc and vbc capabilities; signed callbacks dropped, webhooks elsewhere.
fn rich_application() -> Value {
    json!({
        "id": APP_ID,
        "name": "Alerts (production)",
        "keys": {"public_key": "-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkqhkiG9w0BAQEFAAOCA\n-----END PUBLIC KEY-----\n"},
        "capabilities": {
            "voice": {
                "webhooks": {
                    "answer_url": {"address": "https://old.example.com/answer", "http_method": "GET", "connect_timeout": 500, "socket_timeout": 3000},
                    "fallback_answer_url": {"address": "", "http_method": "GET"},
                    "event_url": {"address": "https://old.example.com/event", "http_method": "POST", "socket_timeout": 10000}
                },
                "conversations_ttl": 48,
                "region": "eu-west"
            },
            "messages": {
                "webhooks": {
                    "inbound_url": {"address": "https://example.com/webhooks/inbound", "http_method": "POST"},
                    "status_url": {"address": "https://example.com/webhooks/status", "http_method": "POST"}
                }
            },
            "rtc": {"webhooks": {"event_url": {"address": "https://example.com/webhooks/rtc", "http_method": "POST"}}, "signed_callbacks": false},
            "vbc": {}
        },
        "privacy": {"improve_ai": false},
        "_links": {"self": {"href": format!("/v2/applications/{APP_ID}")}}
    })
}

fn activated() -> Value {
    let mut application = rich_application();
    application["capabilities"]["voice"]["webhooks"]["answer_url"]["address"] = json!(ANSWER);
    application["capabilities"]["voice"]["webhooks"]["event_url"]["address"] = json!(EVENT);
    application["capabilities"]["voice"]["signed_callbacks"] = json!(true);
    application
}

async fn fake(application: Value) -> ApplicationsFake {
    ApplicationsFake::start(
        APP_ID,
        API_KEY,
        API_SECRET,
        application,
        FakeQuirks::default(),
    )
    .await
}

/// The CLI with a clean environment plus `env`.
fn cli(args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vonage-signed-callbacks"))
        .args(args)
        .env_clear()
        .envs(env.iter().copied())
        .output()
        .expect("the CLI runs")
}

fn application_env(base_url: &str) -> Vec<(&'static str, String)> {
    vec![
        ("VONAGE_APPLICATION_ID", APP_ID.to_owned()),
        ("VONAGE_API_KEY", API_KEY.to_owned()),
        ("VONAGE_API_SECRET", API_SECRET.to_owned()),
        ("VONAGE_API_BASE_URL", base_url.to_owned()),
    ]
}

fn run(args: &[&str], env: &[(&'static str, String)]) -> (i32, String, String) {
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let output = cli(args, &env);
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(
        !stdout.contains(API_SECRET) && !stderr.contains(API_SECRET),
        "the API secret was printed:\n{stdout}\n{stderr}"
    );
    (output.status.code().unwrap_or(-1), stdout, stderr)
}

#[tokio::test]
async fn dry_run_prints_the_change_and_sends_no_put() {
    let fake = fake(rich_application()).await;
    let env = application_env(&fake.base_url());
    let (code, stdout, stderr) = run(
        &[
            "activate",
            "--dry-run",
            "--answer-url",
            ANSWER,
            "--event-url",
            EVENT,
        ],
        &env,
    );
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("3 change(s) to make"), "{stdout}");
    assert!(stdout.contains("capabilities.voice.signed_callbacks: (absent) -> true"));
    assert!(stdout.contains(&format!(
        "capabilities.voice.webhooks.answer_url.address: \"https://old.example.com/answer\" -> \"{ANSWER}\""
    )));
    assert!(stdout.contains("dry run: nothing was sent"));
    assert_eq!(
        fake.requests().await,
        [format!("GET /v2/applications/{APP_ID}")]
    );
    assert!(fake.puts().is_empty());
    assert_eq!(fake.application(), rich_application());
}

#[tokio::test]
async fn activate_changes_only_the_intended_fields_and_a_second_run_sends_no_put() {
    let fake = fake(rich_application()).await;
    let mut env = application_env(&fake.base_url());
    // The URLs from the environment this time.
    env.push(("ANSWER_URL", ANSWER.into()));
    env.push(("EVENT_URL", EVENT.into()));

    let (code, stdout, stderr) = run(&["activate"], &env);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("3 change(s) made"), "{stdout}");
    assert!(stdout.contains("confirmed by reading the application back"));
    assert!(stdout.contains("signed callbacks: on"));
    let puts = fake.puts();
    assert_eq!(puts.len(), 1);
    // Key order included: the PUT is the GET with exactly three values changed.
    assert_eq!(puts[0].to_string(), activated().to_string());
    assert_eq!(fake.violations(), Vec::<String>::new());
    let path = format!("/v2/applications/{APP_ID}");
    assert_eq!(
        fake.requests().await,
        [
            format!("GET {path}"),
            format!("PUT {path}"),
            format!("GET {path}")
        ]
    );

    let (code, stdout, _) = run(&["activate"], &env);
    assert_eq!(code, 0);
    assert!(
        stdout.contains("nothing to change, nothing sent"),
        "{stdout}"
    );
    assert_eq!(fake.puts().len(), 1, "the second activation sent a PUT");
}

#[tokio::test]
async fn status_exits_non_zero_when_signed_callbacks_are_off_or_webhooks_point_elsewhere() {
    let fake = fake(activated()).await;
    let env = application_env(&fake.base_url());
    let targets = ["--answer-url", ANSWER, "--event-url", EVENT];

    let (code, stdout, _) = run(&[&["status"], &targets[..]].concat(), &env);
    assert_eq!(code, 0, "{stdout}");
    assert!(stdout.contains("Alerts (production)"));
    assert!(stdout.contains("signed callbacks: on"));
    assert!(stdout.trim_end().ends_with("ok"), "{stdout}");

    // An edit in the Dashboard drops the flag.
    let mut edited = activated();
    edited["capabilities"]["voice"]
        .as_object_mut()
        .unwrap()
        .remove("signed_callbacks");
    fake.set_application(edited);
    let (code, stdout, _) = run(&[&["status"], &targets[..]].concat(), &env);
    assert_eq!(code, 1, "{stdout}");
    assert!(
        stdout.contains("signed callbacks: off (signed_callbacks is missing"),
        "{stdout}"
    );
    assert!(stdout.contains("NOT OK (1 problem(s))"));

    // Flag back on, but the event webhook moved.
    let mut moved = activated();
    moved["capabilities"]["voice"]["webhooks"]["event_url"]["address"] =
        json!("https://other.example.com/event");
    fake.set_application(moved);
    let (code, stdout, _) = run(&[&["status"], &targets[..]].concat(), &env);
    assert_eq!(code, 1);
    assert!(
        stdout.contains(&format!(
            "event_url is https://other.example.com/event, expected {EVENT}"
        )),
        "{stdout}"
    );
    // Without expectations only the flag is judged.
    let (code, _, _) = run(&["status"], &env);
    assert_eq!(code, 0);
    assert!(fake.puts().is_empty(), "status never writes");
}

#[tokio::test]
async fn bad_credentials_unknown_applications_and_network_failures_are_told_apart() {
    let fake = fake(rich_application()).await;

    let mut wrong_secret = application_env(&fake.base_url());
    wrong_secret[2].1 = "wrong-secret".into();
    let (code, _, stderr) = run(&["status"], &wrong_secret);
    assert_eq!(code, 3);
    assert!(
        stderr.contains("refused the API key and secret (401"),
        "{stderr}"
    );

    let mut unknown = application_env(&fake.base_url());
    unknown[0].1 = "no-such-application".into();
    let (code, _, stderr) = run(&["activate"], &unknown);
    assert_eq!(code, 3);
    assert!(
        stderr.contains("knows no application no-such-application") && stderr.contains("404"),
        "{stderr}"
    );

    let closed = format!("http://127.0.0.1:{}", integration_tests::free_port());
    let (code, _, stderr) = run(&["activate"], &application_env(&closed));
    assert_eq!(code, 3);
    assert!(
        stderr.contains("could not be reached") && stderr.contains("127.0.0.1"),
        "{stderr}"
    );
    assert!(fake.puts().is_empty());
}

#[test]
fn missing_settings_are_usage_errors_that_name_the_variable() {
    let (code, _, stderr) = run(
        &["status"],
        &[
            ("VONAGE_APPLICATION_ID", APP_ID.into()),
            ("VONAGE_API_KEY", API_KEY.into()),
        ],
    );
    assert_eq!(code, 2);
    assert!(stderr.contains("no API secret"), "{stderr}");
    assert!(stderr.contains("VONAGE_API_SECRET"), "{stderr}");

    let mut env = application_env("http://127.0.0.1:9");
    env.push((
        "ANSWER_URL",
        "abc123.execute-api.eu-west-1.amazonaws.com/answer".into(),
    ));
    let (code, _, stderr) = run(&["activate"], &env);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("--answer-url must be an absolute http(s) URL"),
        "{stderr}"
    );
}

#[tokio::test]
async fn status_exits_1_when_vonage_gives_up_before_a_function_or_the_fallback_leaves_the_stack() {
    let mut application = activated();
    let webhooks = &mut application["capabilities"]["voice"]["webhooks"];
    // Both are values Vonage accepts (the PUT schema of its spec), and both break the contract:
    // Vonage stops reading the answer webhook after 2 s while the function may run 3 s, and a
    // failed webhook sends the call somewhere this stack neither verifies nor logs.
    webhooks["answer_url"]["socket_timeout"] = json!(2000);
    webhooks["fallback_answer_url"] =
        json!({"address": "https://elsewhere.example.com/fallback", "http_method": "GET"});
    assert_eq!(
        integration_tests::applications_fake::put_application_schema().violations(&application),
        Vec::<String>::new()
    );
    let fake = fake(application).await;
    let env = application_env(&fake.base_url());
    let targets = ["--answer-url", ANSWER, "--event-url", EVENT];
    let (code, stdout, _) = run(&[&["status"], &targets[..]].concat(), &env);
    assert_eq!(code, 1, "{stdout}");
    assert!(stdout.contains("signed callbacks: on"), "{stdout}");
    assert!(
        stdout.contains("answer_url: the function may run 3000 ms, longer than the 2000 ms"),
        "{stdout}"
    );
    assert!(
        stdout.contains(
            "fallback_answer_url is https://elsewhere.example.com/fallback, outside this stack"
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains(
            "fallback_answer_url: https://elsewhere.example.com/fallback, connect_timeout 1000 ms, \
             socket_timeout 5000 ms (Vonage's default)"
        ),
        "{stdout}"
    );
    assert!(stdout.contains("NOT OK (2 problem(s))"), "{stdout}");

    // The dry run shows the same, and still sends nothing.
    let (_, stdout, _) = run(&[&["activate", "--dry-run"], &targets[..]].concat(), &env);
    assert!(
        stdout.contains("PROBLEM: fallback_answer_url is"),
        "{stdout}"
    );
    assert!(fake.puts().is_empty());
}

#[tokio::test]
async fn activate_sets_the_fallback_answer_url_and_status_checks_it() {
    let fake = fake(activated()).await;
    let env = application_env(&fake.base_url());
    let fallback = "https://abc123.execute-api.eu-west-1.amazonaws.com/answer";
    let targets = [
        "--answer-url",
        ANSWER,
        "--event-url",
        EVENT,
        "--fallback-answer-url",
        fallback,
    ];
    let (code, stdout, _) = run(&[&["activate"], &targets[..]].concat(), &env);
    assert_eq!(code, 0, "{stdout}");
    assert!(
        stdout.contains("capabilities.voice.webhooks.fallback_answer_url"),
        "{stdout}"
    );
    let puts = fake.puts();
    assert_eq!(puts.len(), 1);
    assert_eq!(
        puts[0]["capabilities"]["voice"]["webhooks"]["fallback_answer_url"]["address"],
        fallback
    );
    assert_eq!(
        fake.violations(),
        Vec::<String>::new(),
        "a PUT Vonage's spec accepts"
    );

    let (code, stdout, _) = run(&[&["status"], &targets[..]].concat(), &env);
    assert_eq!(code, 0, "{stdout}");
    assert!(
        stdout.contains(&format!("fallback_answer_url is {fallback}, as expected")),
        "{stdout}"
    );
    let elsewhere = [
        "--answer-url",
        ANSWER,
        "--event-url",
        EVENT,
        "--fallback-answer-url",
        "https://abc123.execute-api.eu-west-1.amazonaws.com/other",
    ];
    let (code, stdout, _) = run(&[&["status"], &elsewhere[..]].concat(), &env);
    assert_eq!(code, 1, "{stdout}");
}
