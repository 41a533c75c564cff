//! The token's claims: types, times, issuer, account, application and jti.

use super::*;

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
