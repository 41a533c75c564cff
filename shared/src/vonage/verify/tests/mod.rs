use super::*;
// RustCrypto's HMAC and SHA-256 build the test tokens, so they are checked by a second
// implementation rather than by the aws-lc code under test.
use ::hmac::{Hmac, Mac};
use serde_json::json;
use sha2::{Digest, Sha256};

mod claims;
mod header;
mod payload_hash;

const SECRET: &str = "current-signature-secret-0123456789";
const PREVIOUS: &str = "previous-signature-secret-9876543210";
const NOW: i64 = 1_800_000_000;
const BODY: &[u8] = br#"{"from":"447700900001","to":"447700900000","uuid":"aaaaaaaa-bbbb-cccc-dddd-0123456789ab","conversation_uuid":"CON-aaaaaaaa-bbbb-cccc-dddd-0123456789ab","status":"answered","direction":"outbound","timestamp":"2027-01-15T08:00:00.000Z"}"#;

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn claims_for(body: &[u8]) -> Value {
    json!({
        "iat": NOW,
        "jti": "c5ba8f24-1a14-4c10-bfdf-3fbe8ce511b5",
        "iss": "Vonage",
        "payload_hash": sha256_hex(body),
        "api_key": "a1b2c3d",
        "application_id": "aaaaaaaa-bbbb-cccc-dddd-0123456789ab"
    })
}

/// Signs any header and claims with HMAC-SHA256, so tests can build tokens jsonwebtoken would
/// refuse to produce (odd headers, wrong claim types).
fn sign_raw(header: &Value, claims: &Value, secret: &str) -> String {
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(signing_input.as_bytes());
    let signature = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
    format!("{signing_input}.{signature}")
}

fn hs256() -> Value {
    json!({"alg": "HS256", "typ": "JWT"})
}

fn token(claims: &Value) -> String {
    sign_raw(&hs256(), claims, SECRET)
}

fn secrets(list: &[(&'static str, &str)]) -> CandidateSecrets {
    CandidateSecrets::new(
        list.iter()
            .map(|(label, secret)| SignatureSecret::new(*label, secret).unwrap())
            .collect(),
    )
    .unwrap()
}

fn current() -> CandidateSecrets {
    secrets(&[("AWSCURRENT", SECRET)])
}

fn check_with(
    authorization: &[&str],
    body: &[u8],
    secrets: &CandidateSecrets,
    policy: &VerificationPolicy,
) -> Result<Verified, Rejection> {
    let values: Vec<&[u8]> = authorization.iter().map(|v| v.as_bytes()).collect();
    let request = WebhookRequest {
        authorization: &values,
        method: "POST",
        query: None,
        body,
    };
    verify(&request, secrets, NOW, policy)
}

fn check(authorization: &str, body: &[u8]) -> Result<Verified, Rejection> {
    check_with(
        &[authorization],
        body,
        &current(),
        &VerificationPolicy::default(),
    )
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

fn with_claim(name: &str, value: Value) -> String {
    let mut claims = claims_for(BODY);
    claims[name] = value;
    token(&claims)
}

fn without_claim(name: &str) -> String {
    let mut claims = claims_for(BODY);
    claims.as_object_mut().unwrap().remove(name);
    token(&claims)
}

// ----- acceptance -------------------------------------------------------------------------

#[test]
fn a_genuine_vonage_token_is_accepted_with_its_claims() {
    let verified = check(&bearer(&token(&claims_for(BODY))), BODY).unwrap();
    assert_eq!(verified.matched_secret, "AWSCURRENT");
    assert!(!verified.body_matched_compact_form);
    assert_eq!(
        verified.claims,
        VonageClaims {
            iat: NOW,
            jti: "c5ba8f24-1a14-4c10-bfdf-3fbe8ce511b5".into(),
            iss: "Vonage".into(),
            api_key: Some("a1b2c3d".into()),
            application_id: Some("aaaaaaaa-bbbb-cccc-dddd-0123456789ab".into()),
            exp: None,
            nbf: None,
        }
    );
}

#[test]
fn the_bearer_scheme_is_case_insensitive_and_whitespace_tolerated() {
    let jwt = token(&claims_for(BODY));
    for value in [
        format!("bearer {jwt}"),
        format!("BEARER {jwt}"),
        format!("  Bearer   {jwt}  "),
        format!("Bearer\t{jwt}"),
    ] {
        assert!(check(&value, BODY).is_ok(), "{value:?}");
    }
}

#[test]
fn tokens_signed_by_our_own_signer_are_accepted() {
    let signer = crate::vonage::sign::WebhookSigner::new(SECRET, "a1b2c3d", None).unwrap();
    let jwt = signer.sign_body(BODY, NOW, "jti-1").unwrap();
    assert!(check(&bearer(&jwt), BODY).is_ok());
}

#[test]
fn upper_case_payload_hash_is_accepted() {
    let jwt = with_claim("payload_hash", json!(sha256_hex(BODY).to_uppercase()));
    assert!(check(&bearer(&jwt), BODY).is_ok());
}

#[test]
fn iat_at_the_edges_of_both_windows_is_accepted() {
    for iat in [NOW - 300, NOW + 300] {
        let jwt = with_claim("iat", json!(iat));
        assert!(check(&bearer(&jwt), BODY).is_ok(), "iat {iat}");
    }
}

#[test]
fn fractional_iat_is_a_number_and_accepted() {
    let jwt = with_claim("iat", json!(NOW as f64 + 0.25));
    assert_eq!(check(&bearer(&jwt), BODY).unwrap().claims.iat, NOW);
}

#[test]
fn a_future_exp_is_accepted() {
    let jwt = with_claim("exp", json!(NOW + 60));
    assert_eq!(
        check(&bearer(&jwt), BODY).unwrap().claims.exp,
        Some(NOW + 60)
    );
}

#[test]
fn application_id_is_optional_when_not_configured() {
    assert!(check(&bearer(&without_claim("application_id")), BODY).is_ok());
}

#[test]
fn configured_account_and_application_that_match_are_accepted() {
    let policy = VerificationPolicy {
        expected_api_key: Some("a1b2c3d".into()),
        expected_application_id: Some("aaaaaaaa-bbbb-cccc-dddd-0123456789ab".into()),
        ..VerificationPolicy::default()
    };
    let jwt = bearer(&token(&claims_for(BODY)));
    assert!(check_with(&[&jwt], BODY, &current(), &policy).is_ok());
}

#[test]
fn separate_windows_for_past_and_future_are_honoured() {
    let policy = VerificationPolicy {
        max_age: Duration::from_secs(60),
        max_clock_ahead: Duration::from_secs(10),
        ..VerificationPolicy::default()
    };
    let old = bearer(&with_claim("iat", json!(NOW - 61)));
    let ahead = bearer(&with_claim("iat", json!(NOW + 11)));
    let fine = bearer(&with_claim("iat", json!(NOW - 60)));
    assert_eq!(
        check_with(&[&old], BODY, &current(), &policy),
        Err(Rejection::Stale)
    );
    assert_eq!(
        check_with(&[&ahead], BODY, &current(), &policy),
        Err(Rejection::Future)
    );
    assert!(check_with(&[&fine], BODY, &current(), &policy).is_ok());
}

// ----- signature ------------------------------------------------------------------------------

#[test]
fn an_empty_signature_segment_is_refused() {
    let jwt = token(&claims_for(BODY));
    let unsigned = &jwt[..=jwt.rfind('.').unwrap()];
    assert_eq!(check(&bearer(unsigned), BODY), Err(Rejection::Signature));
}

#[test]
fn truncated_and_over_long_signatures_are_refused() {
    let jwt = token(&claims_for(BODY));
    // 43 base64 characters carry the 32-byte MAC; 40 decode cleanly to 30 bytes.
    let truncated = &jwt[..jwt.len() - 3];
    assert_eq!(check(&bearer(truncated), BODY), Err(Rejection::Signature));
    for chopped in 1..=2 {
        let short = &jwt[..jwt.len() - chopped];
        assert!(
            matches!(
                check(&bearer(short), BODY),
                Err(Rejection::Signature | Rejection::Malformed)
            ),
            "{chopped}"
        );
    }
    let longer = format!("{jwt}AAAA");
    assert_eq!(check(&bearer(&longer), BODY), Err(Rejection::Signature));
    let far_longer = format!("{jwt}{}", "A".repeat(200));
    assert_eq!(check(&bearer(&far_longer), BODY), Err(Rejection::Signature));
    let not_base64 = format!("{jwt}!");
    assert_eq!(check(&bearer(&not_base64), BODY), Err(Rejection::Malformed));
}

#[test]
fn a_token_signed_with_another_secret_is_refused() {
    let jwt = sign_raw(&hs256(), &claims_for(BODY), "someone-else");
    assert_eq!(check(&bearer(&jwt), BODY), Err(Rejection::Signature));
}

#[test]
fn tampered_claims_break_the_signature() {
    let jwt = token(&claims_for(BODY));
    let parts: Vec<&str> = jwt.split('.').collect();
    let mut claims = claims_for(BODY);
    claims["api_key"] = json!("attacker");
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(claims.to_string()),
        parts[2]
    );
    assert_eq!(check(&bearer(&forged), BODY), Err(Rejection::Signature));
}

#[test]
fn rotation_accepts_the_previous_secret_only_while_listed() {
    let old_token = bearer(&sign_raw(&hs256(), &claims_for(BODY), PREVIOUS));
    let both = secrets(&[("AWSCURRENT", SECRET), ("AWSPREVIOUS", PREVIOUS)]);
    let verified = check_with(&[&old_token], BODY, &both, &VerificationPolicy::default()).unwrap();
    assert_eq!(verified.matched_secret, "AWSPREVIOUS");

    let new_token = bearer(&token(&claims_for(BODY)));
    let verified = check_with(&[&new_token], BODY, &both, &VerificationPolicy::default()).unwrap();
    assert_eq!(verified.matched_secret, "AWSCURRENT");

    assert_eq!(
        check_with(
            &[&old_token],
            BODY,
            &current(),
            &VerificationPolicy::default()
        ),
        Err(Rejection::Signature)
    );
}
