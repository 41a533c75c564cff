//! The CLI reading the stack's own secrets from Secrets Manager (moto's server standing in), so an
//! operator needs no credentials on the command line.

mod common;

use integration_tests::MotoServer;
use integration_tests::applications_fake::{ApplicationsFake, FakeQuirks};
use serde_json::{Value, json};
use wiremock::matchers::path;
use wiremock::{Mock, MockServer, ResponseTemplate};

const APP_ID: &str = "aaaaaaaa-bbbb-cccc-dddd-0123456789ab";
const API_KEY: &str = "a1b2c3d4";
const API_SECRET: &str = "Sup3rS3cretApiSecret";
const OLD_SIGNATURE_SECRET: &str = "old-signature-secret-0123456789";
const NEW_SIGNATURE_SECRET: &str = "new-signature-secret-9876543210";

/// Calls Secrets Manager's JSON API on moto directly (moto does not check signatures).
async fn secrets_manager(moto: &MotoServer, action: &str, body: Value) {
    let response = reqwest::Client::new()
        .post(moto.endpoint())
        .header("X-Amz-Target", format!("secretsmanager.{action}"))
        .header("Content-Type", "application/x-amz-json-1.1")
        .header(
            "Authorization",
            "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/secretsmanager/aws4_request, \
             SignedHeaders=host, Signature=00",
        )
        .body(body.to_string())
        .send()
        .await
        .expect("moto answers");
    assert!(
        response.status().is_success(),
        "{action}: {}",
        response.text().await.unwrap_or_default()
    );
}

fn cli(args: &[&str], moto: &MotoServer, env: &[(&str, &str)]) -> (i32, String, String) {
    let endpoint = moto.endpoint();
    let mut all = common::moto_env(&endpoint).to_vec();
    all.extend_from_slice(env);
    common::run(
        args,
        &all,
        &[API_SECRET, OLD_SIGNATURE_SECRET, NEW_SIGNATURE_SECRET],
    )
}

#[tokio::test]
async fn activate_status_send_event_and_verify_read_the_stacks_secrets() {
    let moto = MotoServer::start();
    secrets_manager(
        &moto,
        "CreateSecret",
        json!({"Name": "vonage/application", "SecretString": json!({
            "application_id": APP_ID,
            "private_key": "-----BEGIN PRIVATE KEY-----\nnot used here\n-----END PRIVATE KEY-----",
            "api_key": API_KEY,
            "api_secret": API_SECRET
        }).to_string()}),
    )
    .await;
    let webhook_secret = |signature_secret: &str| {
        json!({"signature_secret": signature_secret, "api_key": API_KEY, "application_id": APP_ID})
            .to_string()
    };
    secrets_manager(
        &moto,
        "CreateSecret",
        json!({"Name": "vonage/webhook", "SecretString": webhook_secret(OLD_SIGNATURE_SECRET)}),
    )
    .await;
    // A rotation: the old value becomes AWSPREVIOUS.
    secrets_manager(
        &moto,
        "PutSecretValue",
        json!({"SecretId": "vonage/webhook", "SecretString": webhook_secret(NEW_SIGNATURE_SECRET)}),
    )
    .await;

    let application = json!({
        "id": APP_ID,
        "name": "Alerts",
        "capabilities": {"voice": {"webhooks": {
            "answer_url": {"address": "https://example.com/answer", "http_method": "GET"},
            "event_url": {"address": "https://example.com/event", "http_method": "POST"}
        }}}
    });
    let fake = ApplicationsFake::start(
        APP_ID,
        API_KEY,
        API_SECRET,
        application,
        FakeQuirks::default(),
    )
    .await;
    let base_url = fake.base_url();
    let from_secret = [
        ("VONAGE_APPLICATION_SECRET_ID", "vonage/application"),
        ("VONAGE_API_BASE_URL", base_url.as_str()),
    ];
    let (code, stdout, stderr) = cli(&["status"], &moto, &from_secret);
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(
        stdout.contains(&format!("application {APP_ID} (Alerts)")),
        "{stdout}"
    );
    let (code, stdout, stderr) = cli(&["activate"], &moto, &from_secret);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert_eq!(fake.puts().len(), 1);
    assert_eq!(fake.violations(), Vec::<String>::new());
    let (code, _, _) = cli(&["status"], &moto, &from_secret);
    assert_eq!(code, 0);

    // send-event signs with the current version and the account named in the secret.
    let target = MockServer::start().await;
    Mock::given(path("/event"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&target)
        .await;
    let (code, stdout, stderr) = cli(
        &["send-event", &format!("{}/event", target.uri())],
        &moto,
        &[("VONAGE_WEBHOOK_SECRET_ID", "vonage/webhook")],
    );
    assert_eq!(code, 0, "{stdout}{stderr}");
    let requests = target.received_requests().await.unwrap_or_default();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    assert!(common::verify_sent(&requests[0], NEW_SIGNATURE_SECRET, API_KEY, APP_ID, now).is_ok());

    // verify tries both versions, as the deployed functions do during a rotation.
    let signed_with_old = {
        let (code, stdout, _) = cli(
            &[
                "send-event",
                &format!("{}/event", target.uri()),
                "--signature-secret",
                OLD_SIGNATURE_SECRET,
                "--api-key",
                API_KEY,
                "--application-id",
                APP_ID,
            ],
            &moto,
            &[],
        );
        assert_eq!(code, 0, "{stdout}");
        let requests = target.received_requests().await.unwrap_or_default();
        requests[1].clone()
    };
    let old_authorization = signed_with_old.headers.get("authorization").unwrap();
    let body = String::from_utf8(signed_with_old.body.clone()).unwrap();
    let (code, stdout, _) = cli(
        &[
            "verify",
            "--authorization",
            old_authorization.to_str().unwrap(),
            "--body",
            &body,
        ],
        &moto,
        &[("VONAGE_WEBHOOK_SECRET_ID", "vonage/webhook")],
    );
    assert_eq!(code, 0, "{stdout}");
    assert!(stdout.contains("signed with: AWSPREVIOUS"), "{stdout}");

    let (code, _, stderr) = cli(
        &["status"],
        &moto,
        &[("VONAGE_APPLICATION_SECRET_ID", "vonage/missing")],
    );
    assert_eq!(code, 3);
    assert!(stderr.contains("the secret store"), "{stderr}");
    assert!(stderr.contains("vonage/missing"), "{stderr}");
}
