//! What the fuzz targets share: the account the seed corpus is signed for, and an oracle that
//! re-checks an accepted request with none of the verifier's code.
//!
//! The oracle is the targets' definition of "genuinely signed": the token's MAC, computed here
//! with RustCrypto's `hmac`/`sha2` (the verifier uses aws-lc), matches the secret the verifier
//! says matched, and `payload_hash` is the SHA-256 of what the request carried, as the policy's
//! body-hash mode allows. It also re-reads the claims the verifier's other checks rest on
//! (issuer, account, times, a non-empty `jti`).

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde::Deserialize;
use serde_json::Value;
use sha2::{Digest, Sha256};
use vonage_voice_lambda::vonage::verify::{
    BodyHashMode, VerificationPolicy, Verified, WebhookRequest,
};

/// The values `shared/tests/fixtures/apigw/README.md` says the fixture events were signed with;
/// the event-path corpus is those fixtures, so its signed events verify.
pub const SIGNATURE_SECRET: &str = "fixture-signature-secret-7f3a9c1e5b2d4680";
/// A second, valid secret that signed nothing genuine: a rotation's other candidate, or a forger's.
pub const OTHER_SECRET: &str = "someone-elses-signature-secret-0123456789";
pub const SECRET_ID: &str = "vonage/webhook";
pub const API_KEY: &str = "a1b2c3d";
pub const APPLICATION_ID: &str = "aaaaaaaa-bbbb-cccc-dddd-0123456789ab";
pub const SIGNED_AT: i64 = 1_800_000_000;
/// A genuine `answered` event body, as Vonage POSTs it.
pub const ANSWERED: &[u8] = br#"{"from":"447700900001","to":"447700900000","uuid":"63f61863-4a51-4f6b-86e1-46edebcf9356","conversation_uuid":"CON-f972836a-550f-45fa-956c-12a2ab5b7d22","status":"answered","direction":"inbound","timestamp":"2027-01-15T08:00:00.000Z"}"#;

/// HS256 over `signing_input`.
pub fn hs256(secret: &str, signing_input: &[u8]) -> [u8; 32] {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes a key of any length");
    mac.update(signing_input);
    mac.finalize().into_bytes().into()
}

fn sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// What Vonage hashes for a GET webhook, written from its description rather than taken from the
/// crate: the query parameters as a compact JSON object of strings, in order, a repeated name
/// keeping its first position and its last value.
pub fn vonage_query_json(query: &str) -> String {
    let mut object = serde_json::Map::new();
    for (name, value) in form_urlencoded::parse(query.as_bytes()) {
        object.insert(name.into_owned(), Value::String(value.into_owned()));
    }
    Value::Object(object).to_string()
}

fn segment_json(segment: &str) -> Result<serde_json::Map<String, Value>, String> {
    let bytes = URL_SAFE_NO_PAD
        .decode(segment)
        .map_err(|error| format!("segment is not base64url: {error}"))?;
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(object)) => Ok(object),
        other => Err(format!("segment is not a JSON object: {other:?}")),
    }
}

/// The claims the verdict rests on. Read as named fields, not as a whole `Value`: serde_json
/// skips an unknown field without checking its string escapes (a lone surrogate such as
/// `"\ud800"` passes), exactly as the verifier's own struct does, and a genuinely signed token
/// may carry one.
#[derive(Deserialize)]
struct OracleClaims {
    iat: Option<Value>,
    jti: Option<Value>,
    exp: Option<Value>,
    nbf: Option<Value>,
    iss: Option<Value>,
    api_key: Option<Value>,
    application_id: Option<Value>,
    payload_hash: Option<Value>,
}

fn seconds(value: &Value) -> Option<i64> {
    value
        .as_i64()
        .or_else(|| value.as_f64().map(|seconds| seconds.floor() as i64))
}

fn whole_seconds(duration: Duration) -> i64 {
    i64::try_from(duration.as_secs()).unwrap_or(i64::MAX)
}

/// Checks that a request the verifier accepted is genuine. `secrets` maps each candidate's label
/// to its secret. Returns why it is not, for the crash report.
pub fn check_accepted(
    request: &WebhookRequest<'_>,
    secrets: &[(&str, &str)],
    now: i64,
    policy: &VerificationPolicy,
    verified: &Verified,
) -> Result<(), String> {
    let [value] = request.authorization else {
        return Err(format!(
            "accepted with {} Authorization values",
            request.authorization.len()
        ));
    };
    let value = std::str::from_utf8(value).map_err(|_| "Authorization is not UTF-8")?;
    let (scheme, token) = value
        .trim()
        .split_once([' ', '\t'])
        .ok_or("Authorization has no scheme and token")?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(format!("accepted scheme {scheme:?}"));
    }
    let token = token.trim();
    let segments: Vec<&str> = token.split('.').collect();
    let [header, claims, signature] = segments[..] else {
        return Err(format!("accepted a token of {} segments", segments.len()));
    };

    // The MAC: canonical base64url of HS256(secret, header.claims) for the secret that matched.
    let secret = secrets
        .iter()
        .find(|(label, _)| *label == verified.matched_secret)
        .map(|(_, secret)| *secret)
        .ok_or_else(|| format!("matched an unknown secret {:?}", verified.matched_secret))?;
    let signing_input = &token[..header.len() + 1 + claims.len()];
    let expected = URL_SAFE_NO_PAD.encode(hs256(secret, signing_input.as_bytes()));
    if signature != expected {
        return Err(format!(
            "signature {signature:?} is not HS256 with `{}` ({expected:?})",
            verified.matched_secret
        ));
    }

    let header = segment_json(header).map_err(|error| format!("header: {error}"))?;
    if header.get("alg") != Some(&Value::from("HS256")) {
        return Err(format!("accepted header {header:?}"));
    }
    // `"crit": null` and `"b64": null` are accepted today (jsonwebtoken reads null as absent),
    // though RFC 7515 allows only an array and a boolean there. Only the holder of the secret can
    // send either, so the oracle lets them through and catches any other value.
    let set = |name: &str| header.get(name).is_some_and(|value| !value.is_null());
    if set("crit") || set("b64") {
        return Err(format!("accepted header {header:?}"));
    }

    let claims: OracleClaims = URL_SAFE_NO_PAD
        .decode(claims)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .ok_or("accepted claims that are not a JSON object")?;
    if claims.iss != Some(Value::from("Vonage")) {
        return Err(format!("accepted iss {:?}", claims.iss));
    }
    let iat = claims
        .iat
        .as_ref()
        .and_then(seconds)
        .ok_or("accepted without a numeric iat")?;
    if iat != verified.claims.iat {
        return Err(format!("iat {iat} reported as {}", verified.claims.iat));
    }
    // Without a `jti` a replay could not be told from a new delivery.
    match &claims.jti {
        Some(Value::String(jti)) if !jti.is_empty() && *jti == verified.claims.jti => {}
        other => return Err(format!("accepted jti {other:?}")),
    }
    let oldest = now.saturating_sub(whole_seconds(policy.max_age));
    let newest = now.saturating_add(whole_seconds(policy.max_clock_ahead));
    if !(oldest..=newest).contains(&iat) {
        return Err(format!("accepted iat {iat} outside {oldest}..={newest}"));
    }
    if let Some(exp) = &claims.exp {
        let exp = seconds(exp).ok_or("accepted a non-numeric exp")?;
        if exp <= now {
            return Err(format!("accepted exp {exp} at {now}"));
        }
    }
    if let Some(nbf) = &claims.nbf {
        let nbf = seconds(nbf).ok_or("accepted a non-numeric nbf")?;
        if nbf > newest {
            return Err(format!("accepted nbf {nbf} at {now}"));
        }
    }
    for (name, expected, actual) in [
        ("api_key", &policy.expected_api_key, &claims.api_key),
        (
            "application_id",
            &policy.expected_application_id,
            &claims.application_id,
        ),
    ] {
        if let Some(expected) = expected
            && actual.as_ref() != Some(&Value::from(expected.as_str()))
        {
            return Err(format!("accepted {name} {actual:?}"));
        }
    }

    // The body: payload_hash is the SHA-256 of what the request carried.
    let payload_hash = claims
        .payload_hash
        .as_ref()
        .and_then(Value::as_str)
        .ok_or("accepted without a string payload_hash")?;
    let mut claimed = [0u8; 32];
    hex::decode_to_slice(payload_hash, &mut claimed)
        .map_err(|_| format!("accepted payload_hash {payload_hash:?}"))?;
    let compact = verified.body_matched_compact_form;
    let matches = if request.method.eq_ignore_ascii_case("GET") {
        !compact
            && sha256(vonage_query_json(request.query.unwrap_or_default()).as_bytes()) == claimed
    } else if sha256(request.body) == claimed {
        !compact
    } else {
        compact
            && policy.body_hash == BodyHashMode::ExactOrCompactJson
            && serde_json::from_slice::<Value>(request.body)
                .is_ok_and(|body| sha256(body.to_string().as_bytes()) == claimed)
    };
    if !matches {
        return Err(format!(
            "payload_hash {payload_hash} does not cover the {} request (compact form: {compact})",
            request.method
        ));
    }
    Ok(())
}
