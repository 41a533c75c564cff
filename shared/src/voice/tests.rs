use super::client::*;
use super::jwt::*;
use super::retry::*;
use super::test_keys::*;
use super::*;
use crate::vonage::ncco::{Action, Talk};
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::signature::KeyPair;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::json;

fn decode(token: &str, public_pem: &str) -> jsonwebtoken::TokenData<ApplicationClaims> {
    let mut validation = Validation::new(Algorithm::RS256);
    validation.validate_exp = false;
    jsonwebtoken::decode(
        token,
        &DecodingKey::from_rsa_pem(public_pem.as_bytes()).unwrap(),
        &validation,
    )
    .unwrap()
}

#[test]
fn phone_numbers_keep_digits_and_drop_a_leading_plus_and_spaces() {
    assert_eq!(
        PhoneNumber::parse("+44 7700 900000").unwrap().as_str(),
        "447700900000"
    );
    assert_eq!(PhoneNumber::parse("1234567").unwrap().as_str(), "1234567");
    assert_eq!(
        PhoneNumber::parse("123456789012345").unwrap().as_str(),
        "123456789012345"
    );
}

#[test]
fn phone_numbers_outside_7_to_15_digits_or_with_other_characters_are_refused() {
    assert_eq!(
        PhoneNumber::parse("123456"),
        Err(PhoneNumberError::WrongLength { digits: 6 })
    );
    assert_eq!(
        PhoneNumber::parse("1234567890123456"),
        Err(PhoneNumberError::WrongLength { digits: 16 })
    );
    assert_eq!(
        PhoneNumber::parse(""),
        Err(PhoneNumberError::WrongLength { digits: 0 })
    );
    for bad in [
        "44-7700-900000",
        "4477009000+0",
        "++447700900000",
        "٤٤٧٧٠٠٩٠٠٠٠٠",
        "44770090000a",
    ] {
        assert_eq!(
            PhoneNumber::parse(bad),
            Err(PhoneNumberError::NotDigits),
            "{bad}"
        );
    }
}

fn talk_ncco() -> Ncco {
    Ncco::new(vec![Action::Talk(Talk::new("Disk full"))]).unwrap()
}

#[test]
fn create_call_request_serialises_as_the_voice_api_expects() {
    let request = CreateCallRequest {
        to: PhoneNumber::parse("447700900000").unwrap(),
        from: CallerId::Number(PhoneNumber::parse("447700900001").unwrap()),
        ncco: talk_ncco(),
        event_url: Some("https://example.com/event".into()),
    };
    assert_eq!(
        serde_json::to_value(&request).unwrap(),
        json!({
            "to": [{"type": "phone", "number": "447700900000"}],
            "from": {"type": "phone", "number": "447700900001"},
            "ncco": [{"action": "talk", "text": "Disk full"}],
            "event_url": ["https://example.com/event"]
        })
    );
}

#[test]
fn without_a_caller_id_vonage_picks_a_linked_number() {
    let request = CreateCallRequest {
        to: PhoneNumber::parse("447700900000").unwrap(),
        from: CallerId::RandomLinkedNumber,
        ncco: talk_ncco(),
        event_url: None,
    };
    assert_eq!(
        serde_json::to_value(&request).unwrap(),
        json!({
            "to": [{"type": "phone", "number": "447700900000"}],
            "random_from_number": true,
            "ncco": [{"action": "talk", "text": "Disk full"}]
        })
    );
}

#[test]
fn create_call_response_needs_only_the_uuid() {
    let full: CreateCallResponse = serde_json::from_value(json!({
        "uuid": "63f61863-4a51-4f6b-86e1-46edebcf9356", "status": "started",
        "direction": "outbound", "conversation_uuid": "CON-f972836a", "extra": 1
    }))
    .unwrap();
    assert_eq!(full.conversation_uuid.as_deref(), Some("CON-f972836a"));
    let bare: CreateCallResponse = serde_json::from_value(json!({"uuid": "u"})).unwrap();
    assert_eq!(bare.status, None);
    assert!(serde_json::from_value::<CreateCallResponse>(json!({"status": "started"})).is_err());
}

#[test]
fn application_jwt_is_rs256_and_verifies_with_the_public_key() {
    let token = test_signer().sign(1_700_000_000, "jti-1").unwrap();
    let data = decode(token.expose(), &test_key_pair().1);
    assert_eq!(data.header.alg, Algorithm::RS256);
    assert_eq!(data.header.typ.as_deref(), Some("JWT"));
    assert_eq!(
        data.claims,
        ApplicationClaims {
            application_id: "aaaaaaaa-bbbb-cccc-dddd-0123456789ab".into(),
            iat: 1_700_000_000,
            jti: "jti-1".into(),
            exp: 1_700_000_000 + APPLICATION_JWT_LIFETIME.as_secs(),
        }
    );
}

#[test]
fn application_jwt_lifetime_is_within_vonages_bounds() {
    assert!(APPLICATION_JWT_LIFETIME >= Duration::from_secs(30));
    assert!(APPLICATION_JWT_LIFETIME <= Duration::from_secs(15 * 60));
}

#[test]
fn each_fresh_token_has_its_own_jti_and_the_current_time() {
    let signer = test_signer();
    let first = decode(signer.sign_now().unwrap().expose(), &test_key_pair().1).claims;
    let second = decode(signer.sign_now().unwrap().expose(), &test_key_pair().1).claims;
    assert_ne!(first.jti, second.jti);
    assert!(first.iat.abs_diff(unix_now(&crate::clock::SystemClock)) <= 5);
}

#[test]
fn a_token_from_another_key_does_not_verify() {
    let other = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
    let other_public =
        AsDer::<aws_lc_rs::encoding::PublicKeyX509Der>::as_der(other.public_key()).unwrap();
    let token = test_signer().sign_now().unwrap();
    let mut validation = Validation::new(Algorithm::RS256);
    validation.validate_exp = false;
    let result = jsonwebtoken::decode::<ApplicationClaims>(
        token.expose(),
        &DecodingKey::from_rsa_pem(pem("PUBLIC KEY", other_public.as_ref()).as_bytes()).unwrap(),
        &validation,
    );
    assert!(result.is_err());
}

#[test]
fn credentials_come_from_the_application_secret_json() {
    let (private_pem, public_pem) = test_key_pair();
    let secret = json!({
        "application_id": "app-1", "private_key": private_pem,
        "api_key": "a1b2c3d", "api_secret": "s3cr3t"
    })
    .to_string();
    let signer = ApplicationJwtSigner::from_secret_json(&secret).unwrap();
    assert_eq!(signer.application_id(), "app-1");
    let claims = decode(signer.sign_now().unwrap().expose(), public_pem).claims;
    assert_eq!(claims.application_id, "app-1");
}

#[test]
fn a_key_whose_newlines_were_kept_as_backslash_n_still_loads() {
    let flattened = test_key_pair().0.replace('\n', "\\n");
    assert!(ApplicationJwtSigner::from_pem("app-1", &flattened).is_ok());
}

#[test]
fn secret_problems_are_named_without_echoing_the_secret() {
    assert_eq!(
        ApplicationJwtSigner::from_secret_json(r#"{"application_id":"a"}"#).unwrap_err(),
        CredentialsError::MissingField {
            field: "private_key"
        }
    );
    assert_eq!(
        ApplicationJwtSigner::from_secret_json(r#"{"private_key":"k","application_id":""}"#)
            .unwrap_err(),
        CredentialsError::MissingField {
            field: "application_id"
        }
    );
    let broken = r#"{"application_id":"a","private_key":"TOPSECRETKEYTEXT"#;
    let error = ApplicationJwtSigner::from_secret_json(broken).unwrap_err();
    assert!(matches!(error, CredentialsError::SecretNotJson { .. }));
    assert!(!error.to_string().contains("TOPSECRET"), "{error}");
}

#[test]
fn a_bad_private_key_is_refused_without_being_echoed() {
    let garbled = "-----BEGIN PRIVATE KEY-----\nTOPSECRETKEYTEXTAAAA\n-----END PRIVATE KEY-----\n";
    let not_pem = "TOPSECRETKEYTEXT";
    // A real key's PEM cut short: right armour, broken DER.
    let truncated = {
        let (private_pem, _) = test_key_pair();
        let lines: Vec<&str> = private_pem.lines().collect();
        format!(
            "{}\n{}\n{}\n",
            lines[0],
            lines[1..4].join("\n"),
            lines[lines.len() - 1]
        )
    };
    for key in [garbled, not_pem, truncated.as_str()] {
        let error = ApplicationJwtSigner::from_pem("app-1", key).unwrap_err();
        assert_eq!(error, CredentialsError::InvalidPrivateKey);
        assert!(!error.to_string().contains("TOPSECRET"));
        assert!(!VoiceApiError::from(error).to_string().contains("TOPSECRET"));
    }
}

#[test]
fn debug_output_redacts_the_key_and_tokens() {
    let signer = test_signer();
    let token = signer.sign_now().unwrap();
    let key_body = test_key_pair().0.lines().nth(1).unwrap().to_owned();
    let debugged = format!("{signer:?} {token:?}");
    assert!(!debugged.contains(&key_body), "{debugged}");
    assert!(!debugged.contains(token.expose()), "{debugged}");
    assert!(debugged.contains("[redacted]"));
}

#[test]
fn an_echoed_token_is_cut_from_error_bodies_and_long_bodies_are_shortened() {
    let token = test_signer().sign_now().unwrap();
    let body = format!(
        "{{\"title\":\"Unauthorized\",\"token\":\"{}\"}}",
        token.expose()
    );
    let echoed = echoable_body(body.as_bytes(), &token);
    assert!(!echoed.contains(token.expose()));
    assert!(echoed.contains("[redacted]"));
    let long = "x".repeat(MAX_ECHOED_BODY_CHARS + 10);
    assert_eq!(
        echoable_body(long.as_bytes(), &token).chars().count(),
        MAX_ECHOED_BODY_CHARS + 1
    );
}

#[test]
fn only_429_is_retried_among_statuses_and_5xx_means_unknown() {
    assert_eq!(status_class(201), StatusClass::Created);
    assert_eq!(status_class(429), StatusClass::RateLimited);
    for status in [500, 502, 503, 504] {
        assert_eq!(status_class(status), StatusClass::ServerError, "{status}");
    }
    for status in [301, 400, 401, 403, 404, 422] {
        assert_eq!(status_class(status), StatusClass::Refused, "{status}");
    }
}

#[test]
fn backoff_doubles_up_to_the_cap_and_stops_after_max_retries() {
    let policy = RetryPolicy {
        first_delay: Duration::from_millis(100),
        max_delay: Duration::from_millis(350),
        max_retries: 4,
        jitter: false,
    };
    // backon multiplies in f32: compare whole milliseconds.
    let millis: Vec<u128> = policy.delays().iter().map(Duration::as_millis).collect();
    assert_eq!(millis, [100, 200, 350, 350]);
}

#[test]
fn jitter_stays_between_the_delay_and_twice_it_and_varies() {
    let policy = RetryPolicy {
        first_delay: Duration::from_millis(100),
        max_delay: Duration::from_millis(400),
        max_retries: 3,
        jitter: true,
    };
    let runs: Vec<Vec<Duration>> = (0..8).map(|_| policy.delays()).collect();
    for delays in &runs {
        for (delay, base) in delays.iter().zip([100u128, 200, 400]) {
            let millis = delay.as_millis();
            assert!(
                millis >= base && millis <= base * 2,
                "{delay:?} for {base}ms"
            );
        }
    }
    assert!(
        runs.iter().any(|delays| *delays != runs[0]),
        "jitter is seeded afresh"
    );
}

#[test]
fn retry_after_lengthens_a_delay_but_never_past_the_cap() {
    let policy = RetryPolicy {
        max_delay: Duration::from_secs(2),
        ..RetryPolicy::default()
    };
    let computed = Duration::from_millis(300);
    assert_eq!(policy.delay_after_rate_limit(computed, None), computed);
    assert_eq!(
        policy.delay_after_rate_limit(computed, Some(Duration::from_secs(1))),
        Duration::from_secs(1)
    );
    assert_eq!(
        policy.delay_after_rate_limit(computed, Some(Duration::from_secs(60))),
        Duration::from_secs(2)
    );
    assert_eq!(
        policy.delay_after_rate_limit(computed, Some(Duration::ZERO)),
        computed
    );
}

#[test]
fn outcome_unknown_says_so_with_status_and_body() {
    let error = VoiceApiError::OutcomeUnknown {
        status: Some(500),
        body: r#"{"title":"Internal Error"}"#.into(),
        reason: "the Voice API failed while handling the request".into(),
    };
    let text = error.to_string();
    assert!(text.contains("outcome is unknown"), "{text}");
    assert!(text.contains("status 500"), "{text}");
    assert!(text.contains("Internal Error"), "{text}");
    assert!(!error.call_certainly_not_placed());
    assert!(
        VoiceApiError::Rejected {
            status: 400,
            body: String::new()
        }
        .call_certainly_not_placed()
    );
}

#[test]
fn each_attempt_gets_its_timeout_or_the_time_left_and_none_starts_with_too_little() {
    use crate::clock::ManualClock;
    let clock = std::sync::Arc::new(ManualClock::at(1_800_000_000));
    let config = VoiceClientConfig::new("https://api.nexmo.com");
    let budget = Budget::lasting(Duration::from_secs(25), clock.clone());
    assert_eq!(
        config.attempt_limit(&budget, 0).unwrap(),
        config.total_timeout
    );
    clock.advance(Duration::from_secs(22));
    assert_eq!(
        config.attempt_limit(&budget, 0).unwrap(),
        Duration::from_secs(3)
    );
    clock.advance(Duration::from_millis(2_500));
    let error = config.attempt_limit(&budget, 2).unwrap_err();
    assert!(
        matches!(error, VoiceApiError::DeadlineExceeded { attempts: 2, .. }),
        "{error}"
    );
    assert!(error.call_certainly_not_placed());
    let text = error.to_string();
    assert!(text.contains("no call was placed"), "{text}");
    assert!(text.contains("deadline"), "{text}");
}

#[test]
fn a_retry_starts_only_when_its_wait_and_whole_attempt_fit() {
    use crate::clock::ManualClock;
    let clock = std::sync::Arc::new(ManualClock::at(1_800_000_000));
    let config = VoiceClientConfig::new("https://api.nexmo.com");
    let budget = Budget::lasting(Duration::from_secs(29), clock.clone());
    // Every default backoff fits after a quick failure at the start of an invocation.
    let policy = RetryPolicy {
        jitter: false,
        ..RetryPolicy::default()
    };
    let waited: Duration = policy.delays().iter().sum();
    assert!(config.retry_fits(&budget, waited * 2));
    clock.advance(Duration::from_secs(18));
    assert!(config.retry_fits(&budget, Duration::from_secs(1)));
    assert!(!config.retry_fits(&budget, Duration::from_millis(1_001)));
}

#[test]
fn base_url_loses_its_trailing_slash() {
    assert_eq!(
        VoiceClientConfig::new("https://api-eu-3.vonage.com/").create_call_url(),
        "https://api-eu-3.vonage.com/v1/calls"
    );
}
