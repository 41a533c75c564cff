//! Our verifier against Vonage's own: the Python SDK (`vonage_jwt.verify_signature`) and the Node
//! SDK (`@vonage/jwt` `verifySignature`), run as real processes over the same tokens.
//!
//! What must hold:
//! - every genuine token (Vonage's format, matching body, fresh `iat`) that the SDKs accept, we
//!   accept too;
//! - we never accept a token that an SDK refuses;
//! - the body, freshness, issuer and `payload_hash` cases that the SDKs let through, we refuse,
//!   each for its own reason; algorithm tricks are refused by us whatever the SDKs do.

use std::io::Write;
use std::process::{Command, Stdio};
use vonage_voice_lambda::clock::{Clock as _, SystemClock};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use integration_tests::{node_bin, repo_root};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use vonage_voice_lambda::vonage::sign::WebhookSigner;
use vonage_voice_lambda::vonage::verify::{
    CandidateSecrets, Rejection, SignatureSecret, VerificationPolicy, WebhookRequest, verify,
};

const SECRET: &str = "agreement-signature-secret-5f3b9c0e8d7a6f41";
const API_KEY: &str = "a1b2c3d";
const APPLICATION_ID: &str = "aaaaaaaa-bbbb-cccc-dddd-0123456789ab";

fn now() -> i64 {
    SystemClock.unix_seconds()
}

struct Case {
    name: String,
    token: String,
    method: &'static str,
    query: Option<String>,
    body: Vec<u8>,
    /// `None` for genuine requests; otherwise the reason we must refuse it for.
    expected_rejection: Option<&'static str>,
}

fn event_body(status: &str, index: usize) -> Vec<u8> {
    json!({
        "headers": {},
        "from": "447700900001",
        "to": format!("4477009{index:05}"),
        "uuid": format!("aaaaaaaa-bbbb-cccc-dddd-{index:012}"),
        "conversation_uuid": format!("CON-aaaaaaaa-bbbb-cccc-dddd-{index:012}"),
        "status": status,
        "direction": if index.is_multiple_of(2) { "outbound" } else { "inbound" },
        "timestamp": "2027-01-15T08:00:00.000Z",
        "note": "Zürich ☎ \"quoted\" \\ back",
    })
    .to_string()
    .into_bytes()
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn claims(iat: i64, body: &[u8]) -> Value {
    json!({
        "iat": iat,
        "jti": format!("jti-{iat}-{}", sha256_hex(body)[..8].to_owned()),
        "iss": "Vonage",
        "payload_hash": sha256_hex(body),
        "api_key": API_KEY,
        "application_id": APPLICATION_ID,
    })
}

/// HMAC-SHA256 over any header and claims: how the tests build tokens a library would refuse to.
fn sign_raw(header: &Value, claims: &Value) -> String {
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).expect("any key length");
    mac.update(input.as_bytes());
    format!(
        "{input}.{}",
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    )
}

fn hs256() -> Value {
    json!({"alg": "HS256", "typ": "JWT"})
}

fn post(name: &str, token: String, body: Vec<u8>, expected: Option<&'static str>) -> Case {
    Case {
        name: name.to_owned(),
        token,
        method: "POST",
        query: None,
        body,
        expected_rejection: expected,
    }
}

fn genuine_cases(now: i64) -> Vec<Case> {
    let with_app =
        WebhookSigner::new(SECRET, API_KEY, Some(APPLICATION_ID.into())).expect("signer");
    let without_app = WebhookSigner::new(SECRET, API_KEY, None).expect("signer");
    let statuses = [
        "started",
        "ringing",
        "answered",
        "busy",
        "cancelled",
        "unanswered",
        "rejected",
        "failed",
        "completed",
        "record",
        "input",
        "transfer",
        "a-status-from-2030",
    ];
    let ages = [0, 1, 45, 180, 290];
    let mut cases = Vec::new();
    for (index, status) in statuses.iter().enumerate() {
        for (age_index, age) in ages.iter().enumerate() {
            let body = event_body(status, index * 10 + age_index);
            let signer = if age_index.is_multiple_of(2) {
                &with_app
            } else {
                &without_app
            };
            let jti = format!("{status}-{age}");
            let token = signer.sign_body(&body, now - age, &jti).expect("token");
            cases.push(post(
                &format!("genuine {status} {age}s old"),
                token,
                body,
                None,
            ));
        }
    }
    let query = "to=447700900000&from=447700900001&uuid=abc&conversation_uuid=CON-1";
    cases.push(Case {
        name: "genuine GET answer".into(),
        token: with_app.sign_query(query, now, "get-1").expect("token"),
        method: "GET",
        query: Some(query.into()),
        body: Vec::new(),
        expected_rejection: None,
    });
    cases
}

fn attack_cases(now: i64) -> Vec<Case> {
    let body = event_body("answered", 1);
    let other_body = event_body("completed", 1);
    let signer = WebhookSigner::new(SECRET, API_KEY, Some(APPLICATION_ID.into())).expect("signer");
    let genuine = signer.sign_body(&body, now, "attack").expect("token");

    let mut stale = claims(now - 3600, &body);
    stale["jti"] = json!("stale");
    let mut future = claims(now + 3600, &body);
    future["jti"] = json!("future");
    let mut foreign_issuer = claims(now, &body);
    foreign_issuer["iss"] = json!("Attacker");
    let mut no_hash = claims(now, &body);
    no_hash
        .as_object_mut()
        .map(|object| object.remove("payload_hash"));
    let mut no_iat = claims(now, &body);
    no_iat.as_object_mut().map(|object| object.remove("iat"));
    let mut exp_as_string = claims(now, &body);
    exp_as_string["exp"] = json!((now + 600).to_string());

    let unsigned = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#),
        URL_SAFE_NO_PAD.encode(claims(now, &body).to_string())
    );
    let swapped_alg = {
        let (_, rest) = genuine.split_once('.').expect("three segments");
        format!(
            "{}.{rest}",
            URL_SAFE_NO_PAD.encode(r#"{"alg":"HS512","typ":"JWT"}"#)
        )
    };

    vec![
        post(
            "tampered body",
            genuine.clone(),
            other_body,
            Some("body_mismatch"),
        ),
        post(
            "whitespace added to the body",
            genuine,
            [body.as_slice(), b" "].concat(),
            Some("body_mismatch"),
        ),
        post(
            "an hour old",
            sign_raw(&hs256(), &stale),
            body.clone(),
            Some("stale"),
        ),
        post(
            "an hour ahead",
            sign_raw(&hs256(), &future),
            body.clone(),
            Some("future"),
        ),
        post(
            "foreign issuer",
            sign_raw(&hs256(), &foreign_issuer),
            body.clone(),
            Some("issuer"),
        ),
        post(
            "no payload_hash",
            sign_raw(&hs256(), &no_hash),
            body.clone(),
            Some("missing_claim"),
        ),
        post(
            "no iat",
            sign_raw(&hs256(), &no_iat),
            body.clone(),
            Some("missing_claim"),
        ),
        post(
            "exp as a string",
            sign_raw(&hs256(), &exp_as_string),
            body.clone(),
            Some("claim_type"),
        ),
        post("alg none", unsigned, body.clone(), Some("algorithm")),
        post(
            "alg swapped to HS512",
            swapped_alg,
            body.clone(),
            Some("algorithm"),
        ),
        post(
            "HS512 signature",
            sign_raw(&json!({"alg": "HS512", "typ": "JWT"}), &claims(now, &body)),
            body.clone(),
            Some("algorithm"),
        ),
        post(
            "crit header",
            sign_raw(
                &json!({"alg": "HS256", "typ": "JWT", "crit": ["exp"]}),
                &claims(now, &body),
            ),
            body,
            Some("critical_header"),
        ),
    ]
}

fn run_sdk(program: &str, args: &[String], cases: &[Case]) -> Vec<String> {
    let input: Vec<Value> = cases
        .iter()
        .map(|case| json!({"token": case.token, "secret": SECRET}))
        .collect();
    let mut child = Command::new(program)
        .args(args)
        .current_dir(repo_root())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|error| panic!("{program} could not start ({error}); run `make test`"));
    child
        .stdin
        .take()
        .expect("piped stdin")
        .write_all(Value::Array(input).to_string().as_bytes())
        .expect("the SDK runner reads its input");
    let output = child.wait_with_output().expect("the SDK runner finishes");
    assert!(output.status.success(), "{program} failed: {output:?}");
    let verdicts: Vec<String> =
        serde_json::from_slice(&output.stdout).expect("a JSON array of verdicts");
    assert_eq!(verdicts.len(), cases.len());
    verdicts
}

fn python_sdk(cases: &[Case]) -> Vec<String> {
    let script = repo_root().join("tests/sdk/vonage_sdk_verify.py");
    run_sdk("python3", &[script.display().to_string()], cases)
}

fn node_sdk(cases: &[Case]) -> Vec<String> {
    // The runner resolves @vonage/jwt from the repository's node_modules.
    node_bin("prism");
    let script = repo_root().join("tests/sdk/vonage_sdk_verify.cjs");
    run_sdk("node", &[script.display().to_string()], cases)
}

fn ours(case: &Case, now: i64) -> Result<(), Rejection> {
    let secrets = CandidateSecrets::new(vec![
        SignatureSecret::new("AWSCURRENT", SECRET).expect("secret"),
    ])
    .expect("one secret");
    let policy = VerificationPolicy {
        expected_api_key: Some(API_KEY.into()),
        ..VerificationPolicy::default()
    };
    let authorization = format!("Bearer {}", case.token);
    let values = [authorization.as_bytes()];
    let request = WebhookRequest {
        authorization: &values,
        method: case.method,
        query: case.query.as_deref(),
        body: &case.body,
    };
    verify(&request, &secrets, now, &policy).map(|_| ())
}

#[test]
fn genuine_tokens_accepted_by_vonage_sdks_are_accepted_by_ours() {
    let now = now();
    let cases = genuine_cases(now);
    let python = python_sdk(&cases);
    let node = node_sdk(&cases);
    for (index, case) in cases.iter().enumerate() {
        assert_eq!(python[index], "accept", "Python SDK on {}", case.name);
        assert_eq!(node[index], "accept", "Node SDK on {}", case.name);
        assert_eq!(ours(case, now), Ok(()), "ours on {}", case.name);
    }
}

#[test]
fn ours_refuses_what_the_sdks_let_through_and_never_accepts_what_they_refuse() {
    let now = now();
    let cases = attack_cases(now);
    let python = python_sdk(&cases);
    let node = node_sdk(&cases);
    let mut let_through = Vec::new();
    for (index, case) in cases.iter().enumerate() {
        let verdict = ours(case, now);
        let expected = case
            .expected_rejection
            .expect("attack cases name their rejection");
        assert_eq!(
            verdict.as_ref().map_err(Rejection::reason),
            Err(expected),
            "ours on {}",
            case.name
        );
        if python[index] == "accept" || node[index] == "accept" {
            let_through.push(case.name.as_str());
        }
        println!(
            "{:<32} python={:<7} node={:<7} ours={expected}",
            case.name, python[index], node[index]
        );
    }
    // The SDKs check the signature only: these pass them, which is why ours checks more.
    for name in [
        "tampered body",
        "whitespace added to the body",
        "an hour old",
        "an hour ahead",
        "foreign issuer",
        "no payload_hash",
        "exp as a string",
        "crit header",
    ] {
        assert!(
            let_through.contains(&name),
            "an SDK was expected to accept {name}: {let_through:?}"
        );
    }
}

#[test]
fn forged_signatures_are_refused_by_everyone() {
    let now = now();
    let body = event_body("answered", 7);
    let forger = WebhookSigner::new("not-the-account-secret", API_KEY, None).expect("signer");
    let cases = vec![post(
        "forged",
        forger.sign_body(&body, now, "forged").expect("token"),
        body,
        Some("signature"),
    )];
    assert_eq!(python_sdk(&cases), ["reject"]);
    assert_eq!(node_sdk(&cases), ["reject"]);
    assert_eq!(ours(&cases[0], now), Err(Rejection::Signature));
}
