//! What the CLI's suites share: running the CLI as an operator does, pointing it at moto, and
//! checking a token it signed with our verifier.

// Each suite uses its own part of this module.
#![allow(dead_code)]

use std::process::Command;

use vonage_voice_lambda::vonage::verify::{
    CandidateSecrets, Rejection, SignatureSecret, VerificationPolicy, Verified, WebhookRequest,
    verify,
};
use wiremock::Request;

/// Runs the CLI with `args` and nothing in its environment but `env`: its exit code, stdout and
/// stderr. Fails the test when any of `secrets` was printed.
pub fn run(args: &[&str], env: &[(&str, &str)], secrets: &[&str]) -> (i32, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_vonage-signed-callbacks"))
        .args(args)
        .env_clear()
        .envs(env.iter().copied())
        .output()
        .expect("the CLI runs");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    for secret in secrets {
        assert!(
            !stdout.contains(secret) && !stderr.contains(secret),
            "a secret was printed:\n{stdout}\n{stderr}"
        );
    }
    (output.status.code().unwrap_or(-1), stdout, stderr)
}

/// The AWS SDK's settings that send it to moto at `endpoint`, with moto's test credentials.
pub fn moto_env(endpoint: &str) -> [(&'static str, &str); 4] {
    [
        ("AWS_ENDPOINT_URL", endpoint),
        ("AWS_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
    ]
}

/// Our verifier's verdict at `now` on the token `request` carries, signed with `secret`, for the
/// account `api_key` and the application `application_id`.
pub fn verify_sent(
    request: &Request,
    secret: &str,
    api_key: &str,
    application_id: &str,
    now: i64,
) -> Result<Verified, Rejection> {
    let values: Vec<&[u8]> = request
        .headers
        .get_all("authorization")
        .iter()
        .map(|value| value.as_bytes())
        .collect();
    let secrets =
        CandidateSecrets::new(vec![SignatureSecret::new("current", secret).unwrap()]).unwrap();
    let policy = VerificationPolicy {
        expected_api_key: Some(api_key.into()),
        expected_application_id: Some(application_id.into()),
        ..VerificationPolicy::default()
    };
    let webhook = WebhookRequest {
        authorization: &values,
        method: request.method.as_str(),
        query: request.url.query(),
        body: &request.body,
    };
    verify(&webhook, &secrets, now, &policy)
}
