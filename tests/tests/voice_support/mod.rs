//! What the Voice API suites share: a throwaway RSA key made with openssl, the application
//! secret holding it, the createCall request schema from Vonage's spec, and checks every
//! create-call request must pass.

#![allow(dead_code)]

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use integration_tests::repo_root;
use integration_tests::spec_schema::{RequestBodySchema, read_vonage_spec};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Value, json};
use vonage_voice_lambda::alert::AlertConfig;
use vonage_voice_lambda::deadline::Budget;
use vonage_voice_lambda::secrets::InMemorySecretStore;
use vonage_voice_lambda::voice::{ApplicationClaims, RetryPolicy};

pub const APPLICATION_ID: &str = "aaaaaaaa-bbbb-cccc-dddd-0123456789ab";
pub const SECRET_ID: &str = "vonage/application";
pub const EVENT_URL: &str = "https://hooks.example.com/event";

/// A throwaway key pair for this test run only: PKCS#8 private PEM and SPKI public PEM.
pub struct TestKey {
    pub private_pem: String,
    pub public_pem: String,
}

fn openssl(args: &[&str], input: Option<&str>) -> String {
    let mut child = Command::new("openssl")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("openssl is installed");
    if let Some(input) = input {
        child
            .stdin
            .take()
            .expect("stdin is piped")
            .write_all(input.as_bytes())
            .expect("openssl reads its input");
    } else {
        drop(child.stdin.take());
    }
    let output = child.wait_with_output().expect("openssl runs");
    assert!(
        output.status.success(),
        "openssl {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("openssl writes PEM text")
}

pub fn test_key() -> &'static TestKey {
    static KEY: OnceLock<TestKey> = OnceLock::new();
    KEY.get_or_init(|| {
        let private_pem = openssl(
            &[
                "genpkey",
                "-algorithm",
                "RSA",
                "-pkeyopt",
                "rsa_keygen_bits:2048",
            ],
            None,
        );
        assert!(private_pem.starts_with("-----BEGIN PRIVATE KEY-----"));
        let public_pem = openssl(&["pkey", "-pubout"], Some(&private_pem));
        TestKey {
            private_pem,
            public_pem,
        }
    })
}

/// The base64 lines of the private key: none of them may ever show up in a log or an error.
pub fn private_key_lines() -> Vec<String> {
    test_key()
        .private_pem
        .lines()
        .filter(|line| !line.starts_with("-----"))
        .map(str::to_owned)
        .collect()
}

/// The application secret as Secrets Manager holds it, in an in-memory store.
pub fn application_secrets() -> InMemorySecretStore {
    InMemorySecretStore::new().with_secret(
        SECRET_ID,
        json!({
            "application_id": APPLICATION_ID,
            "private_key": test_key().private_pem,
            "api_key": "a1b2c3d",
            "api_secret": "not-used-by-send-alert",
        })
        .to_string(),
    )
}

/// send-alert's settings pointed at `base_url`, with retries fast enough for tests.
pub fn alert_config(base_url: &str) -> AlertConfig {
    let mut config = AlertConfig::from_settings(&[
        ("VONAGE_APPLICATION_SECRET_ID", SECRET_ID),
        ("VONAGE_API_BASE_URL", base_url),
        ("EVENT_URL", EVENT_URL),
    ])
    .expect("the test settings are valid");
    config.voice.connect_timeout = Duration::from_secs(1);
    config.voice.total_timeout = Duration::from_secs(5);
    config.voice.retry = RetryPolicy {
        first_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(40),
        max_retries: 3,
        jitter: true,
    };
    config
}

/// An invocation's budget that no test here comes near, for the tests not about deadlines.
pub fn ample_budget() -> Budget {
    Budget::lasting(
        Duration::from_secs(30),
        std::sync::Arc::new(vonage_voice_lambda::clock::SystemClock),
    )
}

pub fn voice_spec() -> Value {
    read_vonage_spec("voice.v1.yml")
}

/// The JSON Schema of createCall's request body, from Vonage's spec.
pub fn create_call_schema() -> RequestBodySchema {
    RequestBodySchema::of(&voice_spec(), "/", "post")
}

/// A copy of the Voice spec, under `target/`, whose paths carry the `/v1/calls` prefix that the
/// original keeps in its server URL, so Prism serves createCall where the client posts it.
/// Written once per test process, before any Prism reads it.
pub fn voice_spec_with_full_paths() -> PathBuf {
    static FILE: OnceLock<PathBuf> = OnceLock::new();
    FILE.get_or_init(write_voice_spec_with_full_paths).clone()
}

fn write_voice_spec_with_full_paths() -> PathBuf {
    let mut spec = voice_spec();
    let paths = spec["paths"]
        .as_object()
        .expect("the spec has paths")
        .iter()
        .map(|(path, item)| {
            let full = format!("/v1/calls{}", path.trim_end_matches('/'));
            (full, item.clone())
        })
        .collect::<serde_json::Map<_, _>>();
    spec["paths"] = Value::Object(paths);
    spec["servers"] = json!([{"url": "https://api.nexmo.com"}]);
    let folder = repo_root().join("target/test-specs");
    std::fs::create_dir_all(&folder).expect("target/test-specs can be created");
    let file = folder.join(format!("voice.v1.full-paths.{}.json", std::process::id()));
    std::fs::write(&file, serde_json::to_vec_pretty(&spec).expect("JSON"))
        .expect("the derived spec can be written");
    file
}

fn decode_part(part: &str) -> Value {
    let bytes = URL_SAFE_NO_PAD
        .decode(part)
        .expect("a JWT part is base64url");
    serde_json::from_slice(&bytes).expect("a JWT part is JSON")
}

/// A JWT's header and claims, decoded without checking anything.
pub fn jwt_parts(token: &str) -> (Value, Value) {
    let mut parts = token.split('.');
    let header = decode_part(parts.next().expect("a header"));
    let claims = decode_part(parts.next().expect("claims"));
    (header, claims)
}

/// Verifies an application JWT's RS256 signature with the test key's public half.
pub fn verified_claims(token: &str) -> ApplicationClaims {
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_required_spec_claims(&["exp"]);
    let key =
        DecodingKey::from_rsa_pem(test_key().public_pem.as_bytes()).expect("the public key is PEM");
    jsonwebtoken::decode(token, &key, &validation)
        .unwrap_or_else(|error| panic!("the application JWT does not verify: {error}"))
        .claims
}

pub fn keys(object: &Value) -> Vec<String> {
    let mut keys: Vec<String> = object
        .as_object()
        .expect("a JSON object")
        .keys()
        .cloned()
        .collect();
    keys.sort();
    keys
}

/// Everything a create-call request must be: `POST /v1/calls`, a JSON body that conforms to
/// the spec, and a bearer application JWT that verifies with the application's public key.
/// Returns the verified claims.
pub fn check_create_call(
    schema: &RequestBodySchema,
    request: &wiremock::Request,
) -> ApplicationClaims {
    assert_eq!(request.method.as_str(), "POST");
    assert_eq!(request.url.path(), "/v1/calls");
    assert_eq!(
        request
            .headers
            .get("content-type")
            .and_then(|value| value.to_str().ok()),
        Some("application/json")
    );
    let body: Value = request.body_json().expect("the body is JSON");
    let violations = schema.violations(&body);
    assert!(
        violations.is_empty(),
        "{body} breaks the spec: {violations:?}"
    );
    let authorization = request
        .headers
        .get("authorization")
        .and_then(|value| value.to_str().ok())
        .expect("an Authorization header");
    let token = authorization
        .strip_prefix("Bearer ")
        .expect("a bearer token");
    let (header, claims) = jwt_parts(token);
    assert_eq!(header, json!({"alg": "RS256", "typ": "JWT"}));
    assert_eq!(keys(&claims), ["application_id", "exp", "iat", "jti"]);
    let verified = verified_claims(token);
    assert_eq!(verified.application_id, APPLICATION_ID);
    verified
}
