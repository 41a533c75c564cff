//! send-alert against Vonage's contract, and its application JWT against Vonage's own generators.
//!
//! - Prism serves Vonage's Voice spec (`../shared/vonage-specs/voice.v1.yml`) with request
//!   validation; send-alert's real HTTP client places calls against it, and Prism's 201 becomes
//!   the returned call uuid. A malformed request gets 422, which shows the check bites.
//! - The application JWT verifies with the public key and has the same header and claim names as
//!   the tokens of Vonage's Python (`vonage-jwt`) and Node (`@vonage/jwt`) generators, run as
//!   real processes with the same throwaway key.

mod voice_support;

use std::io::Write;
use std::process::{Command, Stdio};

use integration_tests::{Prism, repo_root};
use serde_json::{Value, json};
use voice_support::{
    APPLICATION_ID, alert_config, ample_budget, application_secrets, create_call_schema, jwt_parts,
    keys, test_key, verified_claims, voice_spec, voice_spec_with_full_paths,
};
use vonage_voice_lambda::alert::{AlertConfig, handle_alert, response_payload};
use vonage_voice_lambda::voice::{
    APPLICATION_JWT_LIFETIME, ApplicationJwtSigner, CallerId, HttpVoiceApi, PhoneNumber,
};

fn spec_example(schema: &str) -> Value {
    voice_spec()["components"]["schemas"][schema]["example"].clone()
}

async fn send_alert(config: &AlertConfig, input: Value) -> Value {
    let voice = HttpVoiceApi::new(config.voice.clone()).expect("the HTTP client builds");
    let outcome = handle_alert(
        &input,
        config,
        &application_secrets(),
        &voice,
        &ample_budget(),
    )
    .await;
    response_payload(&outcome)
}

#[tokio::test(flavor = "multi_thread")]
async fn send_alert_against_prism_returns_the_call_uuid_of_its_201() {
    let prism = Prism::start(&voice_spec_with_full_paths());
    let mut config = alert_config(&prism.base_url());
    let expected = json!({
        "call_uuid": spec_example("uuid"),
        "conversation_uuid": spec_example("conversation_uuid"),
        // Passed on as Vonage gives it: "started" in life, the spec's example here.
        "status": spec_example("status"),
    });
    assert!(
        expected["call_uuid"].is_string(),
        "the spec has an example uuid"
    );

    // A code with `random_from_number`, then a confirmed text alert from a configured number.
    let code = send_alert(&config, json!({"to": "+44 7700 900000", "code": "4821"})).await;
    assert_eq!(code, expected, "Prism accepted the code alert");

    config.caller_id = CallerId::Number(PhoneNumber::parse("447700900001").unwrap());
    let confirmed = send_alert(
        &config,
        json!({"to": "447700900000", "text": "Disk full on db-1", "confirm": true,
               "language": "en-GB", "repeat": 3}),
    )
    .await;
    assert_eq!(
        confirmed, expected,
        "Prism accepted the confirmed text alert"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn prism_refuses_a_malformed_create_call_so_the_check_bites() {
    let prism = Prism::start(&voice_spec_with_full_paths());
    let url = format!("{}/v1/calls", prism.base_url());
    let signer =
        ApplicationJwtSigner::from_pem(APPLICATION_ID, &test_key().private_pem).expect("key loads");
    let token = signer.sign_now().expect("signs");
    let http = reqwest::Client::new();
    let post = |body: Value| {
        http.post(&url)
            .bearer_auth(token.expose())
            .json(&body)
            .send()
    };
    let ncco = json!([{"action": "talk", "text": "Disk full"}]);

    let well_formed = json!({
        "to": [{"type": "phone", "number": "447700900000"}],
        "random_from_number": true,
        "ncco": ncco,
        "event_url": ["https://hooks.example.com/event"],
    });
    assert!(create_call_schema().violations(&well_formed).is_empty());
    assert_eq!(post(well_formed).await.unwrap().status(), 201);

    let malformed = [
        (
            "`to` is not an array",
            json!({"to": {"type": "phone", "number": "447700900000"}, "ncco": ncco}),
        ),
        (
            "`to` is missing",
            json!({"random_from_number": true, "ncco": ncco}),
        ),
        (
            "both `ncco` and `answer_url`",
            json!({
            "to": [{"type": "phone", "number": "447700900000"}], "ncco": ncco,
            "answer_url": ["https://hooks.example.com/answer"]}),
        ),
        (
            "a number too short",
            json!({"to": [{"type": "phone", "number": "12345"}], "ncco": ncco}),
        ),
    ];
    for (what, body) in malformed {
        let response = post(body).await.unwrap();
        assert_eq!(
            response.status(),
            422,
            "Prism let through a request with {what}"
        );
    }

    let unauthenticated = http
        .post(&url)
        .json(&json!({"to": [{"type": "phone", "number": "447700900000"}], "ncco": ncco}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        unauthenticated.status(),
        401,
        "Prism checks the bearer scheme"
    );
}

/// Runs a Vonage generator as a real process: the key on stdin, the token on stdout.
fn vonage_generated_token(program: &str, args: &[&str]) -> String {
    let mut child = Command::new(program)
        .args(args)
        .current_dir(repo_root())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|error| panic!("{program} cannot be started: {error}"));
    child
        .stdin
        .take()
        .expect("stdin is piped")
        .write_all(test_key().private_pem.as_bytes())
        .expect("the generator reads the key");
    let output = child.wait_with_output().expect("the generator runs");
    assert!(
        output.status.success(),
        "{program} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout)
        .expect("a token is ASCII")
        .trim()
        .to_owned()
}

fn assert_same_shape_as(vonage_token: &str, generator: &str) {
    let ours = ApplicationJwtSigner::from_pem(APPLICATION_ID, &test_key().private_pem)
        .expect("key loads")
        .sign_now()
        .expect("signs");
    let (our_header, our_claims) = jwt_parts(ours.expose());
    let (their_header, their_claims) = jwt_parts(vonage_token);

    assert_eq!(
        keys(&our_header),
        keys(&their_header),
        "header names vs {generator}"
    );
    assert_eq!(our_header, their_header, "header values vs {generator}");
    assert_eq!(
        keys(&our_claims),
        keys(&their_claims),
        "claim names vs {generator}"
    );
    assert_eq!(our_claims["application_id"], their_claims["application_id"]);
    for claim in ["iat", "exp"] {
        assert!(our_claims[claim].is_u64(), "{claim} is whole seconds");
        assert!(
            their_claims[claim].is_u64(),
            "{generator}'s {claim} is whole seconds"
        );
    }
    assert!(our_claims["jti"].is_string() && their_claims["jti"].is_string());

    // Both verify with the same public key; ours lives shorter than the SDKs' 15 minutes.
    let ours = verified_claims(ours.expose());
    let theirs = verified_claims(vonage_token);
    assert_eq!(ours.exp - ours.iat, APPLICATION_JWT_LIFETIME.as_secs());
    assert!(ours.exp - ours.iat <= theirs.exp - theirs.iat);
    assert!(
        ours.iat.abs_diff(theirs.iat) <= 60,
        "both use the current time"
    );
}

#[test]
fn application_jwt_has_the_header_and_claims_of_vonages_python_generator() {
    let token = vonage_generated_token(
        "python3",
        &[
            "-c",
            "import sys\n\
             from vonage_jwt import JwtClient\n\
             key = sys.stdin.read()\n\
             print(JwtClient(sys.argv[1], key).generate_application_jwt().decode())",
            APPLICATION_ID,
        ],
    );
    assert_same_shape_as(&token, "vonage-jwt (Python)");
}

#[test]
fn application_jwt_has_the_header_and_claims_of_vonages_node_generator() {
    let token = vonage_generated_token(
        "node",
        &[
            "-e",
            "const { tokenGenerate } = require('@vonage/jwt');\n\
             const key = require('fs').readFileSync(0, 'utf8');\n\
             console.log(tokenGenerate(process.argv[1], key));",
            APPLICATION_ID,
        ],
    );
    assert_same_shape_as(&token, "@vonage/jwt (Node)");
}
