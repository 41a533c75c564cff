//! The Authorization header, and the token's algorithm and header.

use super::*;

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
