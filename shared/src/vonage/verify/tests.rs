use super::*;
// RustCrypto's HMAC and SHA-256 build the test tokens, so they are checked by a second
// implementation rather than by the aws-lc code under test.
use ::hmac::{Hmac, Mac};
use serde_json::json;
use sha2::{Digest, Sha256};

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

// ----- the Authorization header -------------------------------------------------------------

#[test]
fn no_authorization_header_is_a_missing_token() {
    assert_eq!(
        check_with(&[], BODY, &current(), &VerificationPolicy::default()),
        Err(Rejection::MissingToken)
    );
}

#[test]
fn several_authorization_values_are_refused() {
    let jwt = bearer(&token(&claims_for(BODY)));
    assert_eq!(
        check_with(
            &[&jwt, &jwt],
            BODY,
            &current(),
            &VerificationPolicy::default()
        ),
        Err(Rejection::MultipleAuthorization)
    );
}

#[test]
fn other_schemes_are_refused() {
    let jwt = token(&claims_for(BODY));
    assert_eq!(
        check(&format!("Basic {jwt}"), BODY),
        Err(Rejection::NotBearer)
    );
    assert_eq!(check(&jwt, BODY), Err(Rejection::NotBearer));
    assert_eq!(
        check(&format!("Bearer{jwt}"), BODY),
        Err(Rejection::NotBearer)
    );
}

#[test]
fn an_empty_token_is_refused() {
    assert_eq!(check("Bearer", BODY), Err(Rejection::EmptyToken));
    assert_eq!(check("Bearer    ", BODY), Err(Rejection::EmptyToken));
}

#[test]
fn an_oversized_token_is_refused_before_decoding() {
    // Not even base64: the size check must come first.
    let huge = "!".repeat(MAX_TOKEN_BYTES + 1);
    assert_eq!(check(&bearer(&huge), BODY), Err(Rejection::TokenTooLarge));
}

#[test]
fn a_non_utf8_header_is_malformed() {
    let values: [&[u8]; 1] = [b"Bearer \xff\xfe"];
    let request = WebhookRequest {
        authorization: &values,
        method: "POST",
        query: None,
        body: BODY,
    };
    assert_eq!(
        verify(&request, &current(), NOW, &VerificationPolicy::default()),
        Err(Rejection::Malformed)
    );
}

#[test]
fn garbage_tokens_are_malformed() {
    for garbage in ["abc", "a.b", "a.b.c", "....", "!!!.e30.sig"] {
        assert_eq!(
            check(&bearer(garbage), BODY),
            Err(Rejection::Malformed),
            "{garbage}"
        );
    }
}

#[test]
fn the_signature_is_checked_before_the_claims_are_read() {
    // A readable HS256 header with unreadable claims and a bogus signature: the signature fails
    // first, so unsigned input never reaches the claims parser.
    assert_eq!(
        check(&bearer("eyJhbGciOiJIUzI1NiJ9.!!!.sig"), BODY),
        Err(Rejection::Signature)
    );
}

// ----- algorithm and header -------------------------------------------------------------------

#[test]
fn alg_none_is_refused_as_an_algorithm() {
    let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#);
    let claims = URL_SAFE_NO_PAD.encode(claims_for(BODY).to_string());
    assert_eq!(
        check(&bearer(&format!("{header}.{claims}.")), BODY),
        Err(Rejection::Algorithm)
    );
}

#[test]
fn other_algorithms_are_refused() {
    for alg in ["RS256", "HS384", "HS512", "ES256", "EdDSA", "PS256"] {
        let jwt = sign_raw(
            &json!({"alg": alg, "typ": "JWT"}),
            &claims_for(BODY),
            SECRET,
        );
        assert_eq!(
            check(&bearer(&jwt), BODY),
            Err(Rejection::Algorithm),
            "{alg}"
        );
    }
}

#[test]
fn alg_swapped_in_the_header_of_a_valid_token_is_refused() {
    let jwt = token(&claims_for(BODY));
    let (_, rest) = jwt.split_once('.').unwrap();
    let swapped = format!(
        "{}.{rest}",
        URL_SAFE_NO_PAD.encode(r#"{"alg":"HS512","typ":"JWT"}"#)
    );
    assert_eq!(check(&bearer(&swapped), BODY), Err(Rejection::Algorithm));
}

#[test]
fn any_crit_header_is_refused() {
    for crit in [json!(["b64"]), json!(["exp"]), json!([])] {
        let header = json!({"alg": "HS256", "typ": "JWT", "crit": crit, "b64": true});
        let jwt = sign_raw(&header, &claims_for(BODY), SECRET);
        assert_eq!(
            check(&bearer(&jwt), BODY),
            Err(Rejection::CriticalHeader),
            "{crit}"
        );
    }
}

#[test]
fn an_rfc7797_b64_header_is_refused_even_without_crit() {
    for b64 in [json!(false), json!(true)] {
        let header = json!({"alg": "HS256", "typ": "JWT", "b64": b64});
        let jwt = sign_raw(&header, &claims_for(BODY), SECRET);
        assert_eq!(
            check(&bearer(&jwt), BODY),
            Err(Rejection::Malformed),
            "{b64}"
        );
    }
}

#[test]
fn a_header_accepted_earlier_does_not_let_a_different_one_through() {
    // The same thread verifies a good token first, so its header is the one remembered.
    let good = token(&claims_for(BODY));
    assert!(check(&bearer(&good), BODY).is_ok());
    for header in [
        json!({"alg": "HS512", "typ": "JWT"}),
        json!({"alg": "HS256", "typ": "JWT", "crit": ["b64"], "b64": true}),
    ] {
        let jwt = sign_raw(&header, &claims_for(BODY), SECRET);
        assert!(
            matches!(
                check(&bearer(&jwt), BODY),
                Err(Rejection::Algorithm | Rejection::CriticalHeader)
            ),
            "{header}"
        );
        // A refused header is not remembered: the good token's header still passes, and the
        // refused one is refused again.
        assert!(check(&bearer(&good), BODY).is_ok());
        assert!(check(&bearer(&jwt), BODY).is_err());
    }
}

#[test]
fn extra_segments_are_malformed_even_after_the_header_was_accepted() {
    let good = token(&claims_for(BODY));
    assert!(check(&bearer(&good), BODY).is_ok());
    let (header, rest) = good.split_once('.').unwrap();
    for extra in [
        format!("{header}.{rest}.AAAA"),
        format!("{header}.e30.{rest}"),
        format!("{header}.{}", rest.split_once('.').unwrap().1),
    ] {
        assert_eq!(
            check(&bearer(&extra), BODY),
            Err(Rejection::Malformed),
            "{extra}"
        );
    }
}

#[test]
fn an_empty_secret_is_refused_at_configuration_time() {
    assert_eq!(
        SignatureSecret::new("AWSCURRENT", "").unwrap_err(),
        SecretError::Empty {
            label: "AWSCURRENT".into()
        }
    );
    assert_eq!(
        CandidateSecrets::new(vec![]).unwrap_err(),
        SecretError::NoneGiven
    );
}

#[test]
fn secrets_never_show_in_debug_output() {
    let shown = format!("{:?}", current());
    assert!(!shown.contains(SECRET), "{shown}");
    assert!(shown.contains("AWSCURRENT"));
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

// ----- claims ---------------------------------------------------------------------------------

#[test]
fn time_claims_that_are_not_numbers_are_refused() {
    for name in ["exp", "nbf", "iat"] {
        let jwt = with_claim(name, json!((NOW + 60).to_string()));
        assert_eq!(
            check(&bearer(&jwt), BODY),
            Err(Rejection::ClaimType(name)),
            "{name}"
        );
        for wrong in [
            json!(null),
            json!(true),
            json!([NOW]),
            json!({"seconds": NOW}),
        ] {
            let jwt = with_claim(name, wrong.clone());
            assert_eq!(
                check(&bearer(&jwt), BODY),
                Err(Rejection::ClaimType(name)),
                "{name} {wrong}"
            );
        }
    }
}

#[test]
fn fractional_and_huge_time_claims_are_read_as_numbers() {
    // A NumericDate may carry fractions; they are rounded down, to the older whole second.
    let jwt = with_claim("iat", json!(NOW as f64 - 299.5));
    assert!(check(&bearer(&jwt), BODY).is_ok());
    let jwt = with_claim("iat", json!(NOW as f64 - 300.5));
    assert_eq!(check(&bearer(&jwt), BODY), Err(Rejection::Stale));
    // Beyond i64: a number, and far in the future.
    let jwt = with_claim("iat", json!(u64::MAX));
    assert_eq!(check(&bearer(&jwt), BODY), Err(Rejection::Future));
}

#[test]
fn string_claims_that_are_arrays_or_objects_are_refused() {
    for name in ["iss", "jti", "api_key", "application_id", "payload_hash"] {
        for wrong in [json!(["Vonage"]), json!({"name": "Vonage"}), json!(false)] {
            assert_eq!(
                check(&bearer(&with_claim(name, wrong.clone())), BODY),
                Err(Rejection::ClaimType(name)),
                "{name} {wrong}"
            );
        }
    }
}

#[test]
fn a_past_exp_is_refused() {
    let jwt = with_claim("exp", json!(NOW - 1));
    assert_eq!(check(&bearer(&jwt), BODY), Err(Rejection::Expired));
    let jwt = with_claim("exp", json!(NOW));
    assert_eq!(check(&bearer(&jwt), BODY), Err(Rejection::Expired));
}

#[test]
fn an_nbf_beyond_the_skew_is_refused() {
    let jwt = with_claim("nbf", json!(NOW + 301));
    assert_eq!(check(&bearer(&jwt), BODY), Err(Rejection::NotYetValid));
    let jwt = with_claim("nbf", json!(NOW + 300));
    assert!(check(&bearer(&jwt), BODY).is_ok());
}

#[test]
fn iat_301_seconds_old_is_stale() {
    let jwt = with_claim("iat", json!(NOW - 301));
    assert_eq!(check(&bearer(&jwt), BODY), Err(Rejection::Stale));
}

#[test]
fn iat_301_seconds_ahead_is_future() {
    let jwt = with_claim("iat", json!(NOW + 301));
    assert_eq!(check(&bearer(&jwt), BODY), Err(Rejection::Future));
}

#[test]
fn a_missing_iat_is_refused() {
    assert_eq!(
        check(&bearer(&without_claim("iat")), BODY),
        Err(Rejection::MissingClaim("iat"))
    );
}

#[test]
fn extreme_iat_values_do_not_overflow() {
    for iat in [
        json!(i64::MIN),
        json!(i64::MAX),
        json!(1e300),
        json!(-1e300),
    ] {
        let result = check(&bearer(&with_claim("iat", iat.clone())), BODY);
        assert!(
            matches!(result, Err(Rejection::Stale | Rejection::Future)),
            "{iat}: {result:?}"
        );
    }
}

#[test]
fn the_issuer_must_be_vonage() {
    for iss in ["vonage", "Nexmo", ""] {
        let jwt = with_claim("iss", json!(iss));
        assert_eq!(check(&bearer(&jwt), BODY), Err(Rejection::Issuer), "{iss}");
    }
    assert_eq!(
        check(&bearer(&without_claim("iss")), BODY),
        Err(Rejection::MissingClaim("iss"))
    );
    assert_eq!(
        check(&bearer(&with_claim("iss", json!(1))), BODY),
        Err(Rejection::ClaimType("iss"))
    );
}

#[test]
fn another_account_or_application_is_refused_when_configured() {
    let policy = VerificationPolicy {
        expected_api_key: Some("a1b2c3d".into()),
        expected_application_id: Some("aaaaaaaa-bbbb-cccc-dddd-0123456789ab".into()),
        ..VerificationPolicy::default()
    };
    let other_key = bearer(&with_claim("api_key", json!("zzzzzzz")));
    let other_app = bearer(&with_claim("application_id", json!("another-app")));
    let no_key = bearer(&without_claim("api_key"));
    let no_app = bearer(&without_claim("application_id"));
    for (jwt, field) in [
        (&other_key, "api_key"),
        (&no_key, "api_key"),
        (&other_app, "application_id"),
        (&no_app, "application_id"),
    ] {
        assert_eq!(
            check_with(&[jwt], BODY, &current(), &policy),
            Err(Rejection::Account(field))
        );
    }
}

#[test]
fn a_token_without_jti_is_refused() {
    // Without a jti no duplicate check could be made, so the same request would pass twice.
    assert_eq!(
        check(&bearer(&without_claim("jti")), BODY),
        Err(Rejection::MissingClaim("jti"))
    );
    assert_eq!(
        check(&bearer(&with_claim("jti", json!(""))), BODY),
        Err(Rejection::MissingClaim("jti"))
    );
    assert_eq!(
        check(&bearer(&with_claim("jti", json!(null))), BODY),
        Err(Rejection::ClaimType("jti"))
    );
}

#[test]
fn a_non_string_jti_is_refused() {
    assert_eq!(
        check(&bearer(&with_claim("jti", json!(7))), BODY),
        Err(Rejection::ClaimType("jti"))
    );
}

// ----- payload hash ---------------------------------------------------------------------------

#[test]
fn one_changed_body_byte_is_a_mismatch() {
    let jwt = bearer(&token(&claims_for(BODY)));
    let mut tampered = BODY.to_vec();
    let position = tampered.iter().position(|b| *b == b'7').unwrap();
    tampered[position] = b'8';
    assert_eq!(check(&jwt, &tampered), Err(Rejection::BodyMismatch));
}

#[test]
fn a_whitespace_only_change_is_a_mismatch_by_default() {
    let jwt = bearer(&token(&claims_for(BODY)));
    let spaced = String::from_utf8(BODY.to_vec())
        .unwrap()
        .replace(",\"", ", \"");
    assert_eq!(check(&jwt, spaced.as_bytes()), Err(Rejection::BodyMismatch));
    let trailing_newline = [BODY, b"\n"].concat();
    assert_eq!(check(&jwt, &trailing_newline), Err(Rejection::BodyMismatch));
}

#[test]
fn compact_json_mode_accepts_reformatting_but_not_changed_content() {
    let policy = VerificationPolicy {
        body_hash: BodyHashMode::ExactOrCompactJson,
        ..VerificationPolicy::default()
    };
    let jwt = bearer(&token(&claims_for(BODY)));
    let spaced = String::from_utf8(BODY.to_vec())
        .unwrap()
        .replace(",\"", ",\n  \"");
    let verified = check_with(&[&jwt], spaced.as_bytes(), &current(), &policy).unwrap();
    assert!(verified.body_matched_compact_form);

    let changed = spaced.replace("answered", "completed");
    assert_eq!(
        check_with(&[&jwt], changed.as_bytes(), &current(), &policy),
        Err(Rejection::BodyMismatch)
    );
}

#[test]
fn payload_hash_of_the_wrong_length_or_alphabet_is_refused_without_panic() {
    let full = sha256_hex(BODY);
    for bad in [
        String::new(),
        full[..63].to_string(),
        full[..62].to_string(),
        format!("{full}00"),
        format!("{}zz", &full[..62]),
    ] {
        assert_eq!(
            check(&bearer(&with_claim("payload_hash", json!(bad))), BODY),
            Err(Rejection::PayloadHashMalformed),
            "{bad:?}"
        );
    }
}

#[test]
fn a_missing_or_non_string_payload_hash_is_refused() {
    assert_eq!(
        check(&bearer(&without_claim("payload_hash")), BODY),
        Err(Rejection::MissingClaim("payload_hash"))
    );
    assert_eq!(
        check(&bearer(&with_claim("payload_hash", json!(12))), BODY),
        Err(Rejection::ClaimType("payload_hash"))
    );
}

#[test]
fn get_webhooks_hash_the_query_as_compact_json_in_order() {
    let query = "to=447700900000&from=447700900001&uuid=abc&conversation_uuid=CON-1&note=a%20b+c";
    let hashed = r#"{"to":"447700900000","from":"447700900001","uuid":"abc","conversation_uuid":"CON-1","note":"a b c"}"#;
    assert_eq!(query_as_compact_json(query), hashed);

    let mut claims = claims_for(b"");
    claims["payload_hash"] = json!(sha256_hex(hashed.as_bytes()));
    let jwt = bearer(&token(&claims));
    let values = [jwt.as_bytes()];
    let get = |query: &str| {
        verify(
            &WebhookRequest {
                authorization: &values,
                method: "GET",
                query: Some(query),
                body: b"",
            },
            &current(),
            NOW,
            &VerificationPolicy::default(),
        )
    };
    assert!(get(query).is_ok());
    let reordered =
        "from=447700900001&to=447700900000&uuid=abc&conversation_uuid=CON-1&note=a%20b+c";
    assert_eq!(get(reordered), Err(Rejection::BodyMismatch));
    assert_eq!(
        get(&query.replace("abc", "abd")),
        Err(Rejection::BodyMismatch)
    );
}

#[test]
fn every_rejection_has_a_distinct_reason() {
    let all = [
        Rejection::MissingToken,
        Rejection::MultipleAuthorization,
        Rejection::NotBearer,
        Rejection::EmptyToken,
        Rejection::TokenTooLarge,
        Rejection::Malformed,
        Rejection::Algorithm,
        Rejection::CriticalHeader,
        Rejection::Signature,
        Rejection::ClaimType("iat"),
        Rejection::MissingClaim("iat"),
        Rejection::Expired,
        Rejection::NotYetValid,
        Rejection::Stale,
        Rejection::Future,
        Rejection::Issuer,
        Rejection::Account("api_key"),
        Rejection::PayloadHashMalformed,
        Rejection::BodyMismatch,
    ];
    let reasons: std::collections::HashSet<_> = all.iter().map(Rejection::reason).collect();
    assert_eq!(reasons.len(), all.len());
}
