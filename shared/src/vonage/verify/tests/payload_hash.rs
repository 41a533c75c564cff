//! The payload hash: the body (or a GET's query) must be the bytes that were signed.

use super::*;

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
    let all = Rejection::one_of_each();
    let reasons: std::collections::HashSet<_> = all.iter().map(Rejection::reason).collect();
    assert_eq!(reasons.len(), all.len());
}
