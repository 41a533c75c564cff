//! API Gateway events as the functions receive them, built from the shared fixtures in
//! `shared/tests/fixtures/apigw/`: one place for the suites and the local flow that hand events
//! to the real binaries.

use serde_json::{Value, json};

use crate::repo_root;

/// A fixture, parsed.
pub fn fixture(name: &str) -> Value {
    let path = repo_root().join("shared/tests/fixtures/apigw").join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|error| panic!("{}: {error}", path.display()));
    serde_json::from_str(&text).expect("the fixture is JSON")
}

/// An unsigned payload-2.0 (HTTP API) POST to the event function carrying `body`.
pub fn event_v2(body: &[u8]) -> Value {
    let mut event = fixture("event_v2_post_json.json");
    let headers = event["headers"].as_object_mut().expect("headers");
    headers.remove("authorization");
    headers.insert("content-length".into(), json!(body.len().to_string()));
    event["body"] = json!(String::from_utf8_lossy(body));
    event
}

/// `event` with `Authorization: <authorization>` (payload 2.0).
pub fn with_authorization(mut event: Value, authorization: &str) -> Value {
    event["headers"]["authorization"] = json!(authorization);
    event
}

/// `event` with a bearer `token` (payload 2.0).
pub fn with_token(event: Value, token: &str) -> Value {
    with_authorization(event, &format!("Bearer {token}"))
}
