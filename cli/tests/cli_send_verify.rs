//! `send-event` and `verify`, run as the operator runs them.
//!
//! What `send-event` posts is caught by a wiremock server and checked by our verifier and by
//! Vonage's Python SDK verifier; `verify` is shown a request for every rejection the verifier has
//! and must name that check.

mod common;

use std::path::PathBuf;
use std::process::Command;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use vonage_voice_lambda::vonage::verify::Rejection;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const SECRET: &str = "current-signature-secret-0123456789";
const API_KEY: &str = "a1b2c3d";
const APP_ID: &str = "aaaaaaaa-bbbb-cccc-dddd-0123456789ab";
const NOW: i64 = 1_800_000_000;

fn cli(args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    common::run(args, env, &[SECRET])
}

fn signing_env() -> [(&'static str, &'static str); 3] {
    [
        ("VONAGE_SIGNATURE_SECRET", SECRET),
        ("VONAGE_API_KEY", API_KEY),
        ("VONAGE_APPLICATION_ID", APP_ID),
    ]
}

async fn capture_server(status: u16, answer: &str) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(path("/event"))
        .respond_with(ResponseTemplate::new(status).set_body_string(answer))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/answer"))
        .respond_with(ResponseTemplate::new(200).set_body_string("[]"))
        .mount(&server)
        .await;
    server
}

async fn the_only_request(server: &MockServer) -> Request {
    let mut requests = server.received_requests().await.unwrap_or_default();
    assert_eq!(requests.len(), 1, "exactly one request was sent");
    requests.remove(0)
}

fn authorization(request: &Request) -> String {
    let values: Vec<&str> = request
        .headers
        .get_all("authorization")
        .iter()
        .map(|value| value.to_str().unwrap())
        .collect();
    assert_eq!(values.len(), 1);
    values[0].to_owned()
}

fn bearer(request: &Request) -> String {
    authorization(request)
        .strip_prefix("Bearer ")
        .expect("a Bearer token")
        .to_owned()
}

fn claims_of(token: &str) -> Value {
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

fn our_verifier(request: &Request, now: i64) -> Result<(), Rejection> {
    // Exactly one Authorization header was sent.
    authorization(request);
    common::verify_sent(request, SECRET, API_KEY, APP_ID, now).map(|verified| {
        assert_eq!(verified.claims.api_key.as_deref(), Some(API_KEY));
        assert!(!verified.body_matched_compact_form);
    })
}

/// Vonage's Python SDK: `vonage_jwt.verify_jwt.verify_signature(token, secret)`.
fn vonage_python_sdk_accepts(token: &str, secret: &str) -> bool {
    let output = Command::new("python3")
        .args([
            "-c",
            "import os\n\
             from vonage_jwt.verify_jwt import verify_signature\n\
             print(verify_signature(os.environ['TOKEN'], os.environ['SIGNATURE_SECRET']))",
        ])
        .env("TOKEN", token)
        .env("SIGNATURE_SECRET", secret)
        .output()
        .expect("python3 runs (make test installs vonage-jwt)");
    let printed = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    assert!(
        output.status.success() && (printed == "True" || printed == "False"),
        "the Python SDK check failed: {printed} {}",
        String::from_utf8_lossy(&output.stderr)
    );
    printed == "True"
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn temp_file(name: &str, contents: &[u8]) -> PathBuf {
    let path =
        PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("{}-{name}", uuid::Uuid::new_v4()));
    std::fs::write(&path, contents).unwrap();
    path
}

fn raw_http(request: &Request) -> Vec<u8> {
    let target = match request.url.query() {
        Some(query) => format!("{}?{query}", request.url.path()),
        None => request.url.path().to_owned(),
    };
    let mut text = format!("{} {target} HTTP/1.1\r\n", request.method).into_bytes();
    for (name, value) in &request.headers {
        text.extend_from_slice(name.as_str().as_bytes());
        text.extend_from_slice(b": ");
        text.extend_from_slice(value.as_bytes());
        text.extend_from_slice(b"\r\n");
    }
    text.extend_from_slice(b"\r\n");
    text.extend_from_slice(&request.body);
    text
}

#[tokio::test]
async fn a_sent_event_passes_our_verifier_vonages_sdk_and_verify() {
    let server = capture_server(200, "ok").await;
    let target = format!("{}/event", server.uri());
    let (code, stdout, stderr) = cli(
        &["send-event", &target, "--status", "completed"],
        &signing_env(),
    );
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("answer: 200 OK"), "{stdout}");
    assert!(stdout.trim_end().ends_with("ok"));

    let request = the_only_request(&server).await;
    assert_eq!(request.method.as_str(), "POST");
    let event: Value = serde_json::from_slice(&request.body).unwrap();
    assert_eq!(event["status"], "completed");
    assert!(event["duration"].is_string() && event["uuid"].is_string());
    let token = bearer(&request);
    let claims = claims_of(&token);
    assert_eq!(claims["iss"], "Vonage");
    assert_eq!(claims["api_key"], API_KEY);
    assert_eq!(claims["application_id"], APP_ID);
    assert!(claims.get("exp").is_none(), "Vonage sends no exp");
    assert_eq!(
        claims["payload_hash"],
        hex::encode(Sha256::digest(&request.body))
    );

    assert_eq!(our_verifier(&request, now()), Ok(()));
    assert!(vonage_python_sdk_accepts(&token, SECRET));
    assert!(!vonage_python_sdk_accepts(
        &token,
        "some-other-signature-secret"
    ));

    let capture = temp_file("capture.http", &raw_http(&request));
    let (code, stdout, _) = cli(
        &[
            "verify",
            "--request-file",
            capture.to_str().unwrap(),
            "--expected-api-key",
            API_KEY,
        ],
        &[("VONAGE_SIGNATURE_SECRET", SECRET)],
    );
    assert_eq!(code, 0, "{stdout}");
    assert!(stdout.contains("VERIFIED"));
    assert!(stdout.contains("signed with: --signature-secret"));
    assert!(stdout.contains("payload_hash: matches"));
}

#[tokio::test]
async fn a_given_body_is_signed_byte_for_byte_and_get_webhooks_sign_their_query() {
    let server = capture_server(204, "").await;
    let body = "{\"status\": \"answered\",\n  \"uuid\": \"x\"}";
    let target = format!("{}/event", server.uri());
    let (code, stdout, _) = cli(
        &[
            "send-event",
            &target,
            "--body",
            body,
            "--iat",
            &NOW.to_string(),
            "--jti",
            "jti-1",
        ],
        &signing_env(),
    );
    assert_eq!(code, 0, "{stdout}");
    let request = the_only_request(&server).await;
    assert_eq!(request.body, body.as_bytes());
    let claims = claims_of(&bearer(&request));
    assert_eq!(claims["iat"], NOW);
    assert_eq!(claims["jti"], "jti-1");
    assert_eq!(our_verifier(&request, NOW), Ok(()));

    let server = capture_server(200, "").await;
    let answer = format!(
        "{}/answer?to=447700900000&from=447700900001&uuid=u-1&conversation_uuid=CON-1",
        server.uri()
    );
    let (code, stdout, _) = cli(&["send-event", &answer, "--method", "get"], &signing_env());
    assert_eq!(code, 0, "{stdout}");
    let request = the_only_request(&server).await;
    assert!(request.body.is_empty());
    assert_eq!(our_verifier(&request, now()), Ok(()));
    assert!(vonage_python_sdk_accepts(&bearer(&request), SECRET));
}

#[tokio::test]
async fn a_refusing_endpoint_makes_send_event_exit_1_and_a_dead_one_exit_3() {
    let server = capture_server(401, "unauthorized").await;
    let (code, stdout, _) = cli(
        &["send-event", &format!("{}/event", server.uri())],
        &signing_env(),
    );
    assert_eq!(code, 1);
    assert!(stdout.contains("answer: 401 Unauthorized"), "{stdout}");
    assert!(stdout.contains("unauthorized"));

    let closed = format!("http://127.0.0.1:{}/event", integration_tests::free_port());
    let (code, _, stderr) = cli(&["send-event", &closed], &signing_env());
    assert_eq!(code, 3, "{stderr}");
    assert!(stderr.contains("127.0.0.1"), "{stderr}");

    let (code, _, stderr) = cli(&["send-event", &closed], &[("VONAGE_API_KEY", API_KEY)]);
    assert_eq!(code, 2);
    assert!(stderr.contains("VONAGE_SIGNATURE_SECRET"), "{stderr}");
}

// ---------------------------------------------------------------------------------------------
// verify: one request per rejection
// ---------------------------------------------------------------------------------------------

const BODY: &str = r#"{"from":"447700900001","to":"447700900000","uuid":"u-1","status":"answered","direction":"outbound"}"#;

fn sign_raw(header: &Value, claims: &Value, secret: &str) -> String {
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(input.as_bytes());
    format!(
        "{input}.{}",
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    )
}

fn good_claims() -> Value {
    json!({
        "iat": NOW,
        "jti": "c5ba8f24-1a14-4c10-bfdf-3fbe8ce511b5",
        "iss": "Vonage",
        "payload_hash": hex::encode(Sha256::digest(BODY.as_bytes())),
        "api_key": API_KEY,
        "application_id": APP_ID
    })
}

fn bearer_with(claims: Value) -> String {
    format!(
        "Bearer {}",
        sign_raw(&json!({"alg": "HS256", "typ": "JWT"}), &claims, SECRET)
    )
}

fn with(change: impl FnOnce(&mut Value)) -> String {
    let mut claims = good_claims();
    change(&mut claims);
    bearer_with(claims)
}

/// A request the verifier refuses for `rejection`, as `verify` flags. The match has no wildcard:
/// a new rejection does not compile until it has a case here.
fn case_for(rejection: &Rejection) -> Vec<String> {
    let token = |value: String| vec!["--authorization".to_owned(), value];
    match rejection {
        Rejection::MissingToken => vec![],
        Rejection::MultipleAuthorization => [token(with(|_| ())), token(with(|_| ()))].concat(),
        Rejection::NotBearer => token("Basic YTpi".into()),
        Rejection::EmptyToken => token("Bearer ".into()),
        Rejection::TokenTooLarge => token(format!("Bearer {}", "a".repeat(9000))),
        Rejection::Malformed => token("Bearer not-a-jwt".into()),
        Rejection::Algorithm => token(format!(
            "Bearer {}",
            sign_raw(&json!({"alg": "none"}), &good_claims(), SECRET)
        )),
        Rejection::CriticalHeader => token(format!(
            "Bearer {}",
            sign_raw(
                &json!({"alg": "HS256", "typ": "JWT", "crit": ["exp"]}),
                &good_claims(),
                SECRET
            )
        )),
        Rejection::Signature => token(format!(
            "Bearer {}",
            sign_raw(
                &json!({"alg": "HS256", "typ": "JWT"}),
                &good_claims(),
                "another-accounts-signature-secret"
            )
        )),
        Rejection::ClaimType(_) => token(with(|claims| claims["iat"] = json!("1800000000"))),
        Rejection::MissingClaim(name) => token(with(|claims| {
            claims.as_object_mut().unwrap().remove(*name);
        })),
        Rejection::Expired => token(with(|claims| claims["exp"] = json!(NOW - 10))),
        Rejection::NotYetValid => token(with(|claims| claims["nbf"] = json!(NOW + 1000))),
        Rejection::Stale => token(with(|claims| claims["iat"] = json!(NOW - 1000))),
        Rejection::Future => token(with(|claims| claims["iat"] = json!(NOW + 1000))),
        Rejection::Issuer => token(with(|claims| claims["iss"] = json!("Nexmo"))),
        Rejection::Account(_) => token(with(|claims| claims["api_key"] = json!("zzz999"))),
        Rejection::PayloadHashMalformed => {
            token(with(|claims| claims["payload_hash"] = json!("xyz")))
        }
        Rejection::BodyMismatch => token(with(|claims| {
            claims["payload_hash"] = json!(hex::encode(Sha256::digest(b"{}")));
        })),
    }
}

#[test]
fn verify_names_the_failed_check_for_every_rejection() {
    let mut rejections = Rejection::one_of_each().to_vec();
    // Without a jti no duplicate check is possible: the CLI refuses it as the functions do.
    rejections.push(Rejection::MissingClaim("jti"));
    let at = NOW.to_string();
    let verify_with = |case: Vec<String>| {
        let mut args = vec![
            "verify",
            "--body",
            BODY,
            "--at",
            &at,
            "--expected-api-key",
            API_KEY,
        ];
        args.extend(case.iter().map(String::as_str));
        cli(&args, &[("VONAGE_SIGNATURE_SECRET", SECRET)])
    };
    for rejection in &rejections {
        let (code, stdout, stderr) = verify_with(case_for(rejection));
        assert_eq!(code, 1, "{rejection:?}: {stdout}{stderr}");
        assert!(stdout.contains("REJECTED"), "{rejection:?}: {stdout}");
        assert!(
            stdout.contains(&format!("failed check: {}\n", rejection.reason())),
            "{rejection:?}: {stdout}"
        );
        assert!(
            stdout.contains(&format!("reason: {rejection}\n")),
            "{rejection:?}: {stdout}"
        );
    }

    // The same request with a good token verifies: the cases fail for their own reason only.
    let (code, stdout, _) = verify_with(vec!["--authorization".into(), with(|_| ())]);
    assert_eq!(code, 0, "{stdout}");
    assert!(stdout.contains("VERIFIED"));
}

#[test]
fn rejections_come_with_the_numbers_behind_them() {
    let at = NOW.to_string();
    let run = |extra: &[&str]| {
        let args = [&["verify", "--at", &at][..], extra].concat();
        cli(&args, &[("VONAGE_SIGNATURE_SECRET", SECRET)]).1
    };
    let stale = with(|claims| claims["iat"] = json!(NOW - 1000));
    let stdout = run(&["--body", BODY, "--authorization", &stale]);
    assert!(
        stdout.contains(&format!(
            "iat {} is 1000 s before the check time {NOW}; the limit is 300 s",
            NOW - 1000
        )),
        "{stdout}"
    );
    // A larger window (or an earlier --at) lets the same request through.
    let stdout = run(&[
        "--body",
        BODY,
        "--authorization",
        &stale,
        "--max-age-seconds",
        "1200",
    ]);
    assert!(stdout.contains("VERIFIED"), "{stdout}");

    // Re-indented in transit: the exact bytes differ, the compact form matches.
    let pretty =
        serde_json::to_string_pretty(&serde_json::from_str::<Value>(BODY).unwrap()).unwrap();
    let stdout = run(&["--body", &pretty, "--authorization", &with(|_| ())]);
    assert!(stdout.contains("failed check: body_mismatch"), "{stdout}");
    assert!(stdout.contains("the compact form matches"), "{stdout}");
    let stdout = run(&[
        "--body",
        &pretty,
        "--authorization",
        &with(|_| ()),
        "--payload-hash-mode",
        "exact-or-compact-json",
    ]);
    assert!(
        stdout.contains("payload_hash: matches the body's compact JSON form"),
        "{stdout}"
    );

    let stdout = run(&[
        "--body",
        BODY,
        "--authorization",
        &with(|_| ()),
        "--expected-application-id",
        "other-app",
    ]);
    assert!(
        stdout.contains(&format!(
            "the token's application_id is \"{APP_ID}\", expected other-app"
        )),
        "{stdout}"
    );

    // A rotation: the old secret is still accepted when given as the previous one.
    let old = format!(
        "Bearer {}",
        sign_raw(
            &json!({"alg": "HS256", "typ": "JWT"}),
            &good_claims(),
            "previous-signature-secret-xyz"
        )
    );
    let stdout = run(&["--body", BODY, "--authorization", &old]);
    assert!(
        stdout.contains("tried 1 secret(s): --signature-secret"),
        "{stdout}"
    );
    let stdout = run(&[
        "--body",
        BODY,
        "--authorization",
        &old,
        "--previous-signature-secret",
        "previous-signature-secret-xyz",
    ]);
    assert!(
        stdout.contains("signed with: --previous-signature-secret"),
        "{stdout}"
    );
}

#[test]
fn api_gateway_events_are_checked_as_of_their_receipt() {
    let event = json!({
        "version": "2.0",
        "routeKey": "POST /event",
        "rawPath": "/event",
        "rawQueryString": "",
        "headers": {"authorization": with(|_| ()), "content-type": "application/json"},
        "requestContext": {"http": {"method": "POST", "path": "/event"}, "timeEpoch": (NOW + 2) * 1000},
        "body": STANDARD.encode(BODY),
        "isBase64Encoded": true
    });
    let file = temp_file("event.json", event.to_string().as_bytes());
    let file = file.to_str().unwrap();
    let (code, stdout, _) = cli(
        &["verify", "--request-file", file],
        &[("VONAGE_SIGNATURE_SECRET", SECRET)],
    );
    assert_eq!(code, 0, "{stdout}");
    assert!(stdout.contains("when API Gateway received it"), "{stdout}");
    assert!(
        stdout.contains("iat 1800000000 (2 s before the check time)"),
        "{stdout}"
    );

    // Checked a day later instead, the same capture is long stale.
    let a_day_later = (NOW + 86_400).to_string();
    let (code, stdout, _) = cli(
        &["verify", "--request-file", file, "--at", &a_day_later],
        &[("VONAGE_SIGNATURE_SECRET", SECRET)],
    );
    assert_eq!(code, 1);
    assert!(stdout.contains("failed check: stale"), "{stdout}");

    let junk = temp_file("junk.txt", b"hello");
    let (code, _, stderr) = cli(
        &["verify", "--request-file", junk.to_str().unwrap()],
        &[("VONAGE_SIGNATURE_SECRET", SECRET)],
    );
    assert_eq!(code, 2);
    assert!(stderr.contains("is not a captured request"), "{stderr}");
}
