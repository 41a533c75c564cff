//! The answer webhook: the greeting, the notify to our event URL, signed and unsigned answers.

use super::*;

fn ncco_of(outcome: Outcome) -> serde_json::Value {
    match outcome {
        Outcome::Accepted { ncco: Some(ncco) }
        | Outcome::Duplicate {
            ncco: Some(ncco), ..
        } => ncco.to_json(),
        other => panic!("expected an NCCO, got {other:?}"),
    }
}

#[tokio::test]
async fn an_unsigned_answer_gets_the_greeting_and_a_notify_to_the_derived_event_url() {
    let fixture = Fixture::new();
    let handler = fixture.answer_handler(true, None);
    let query = "to=447700900000&from=447700900001&uuid=call-1&conversation_uuid=CON-1";
    let ncco = ncco_of(
        handler
            .handle(
                &get(query, None),
                Some("https://abc.execute-api.eu-west-1.amazonaws.com/event"),
            )
            .await,
    );
    assert_eq!(
        ncco,
        json!([
            {"action": "talk", "text": "Hello from the test", "language": "en-US"},
            {
                "action": "notify",
                "payload": {"notify": "greeting_played", "uuid": "call-1"},
                "eventUrl": ["https://abc.execute-api.eu-west-1.amazonaws.com/event"],
                "eventMethod": "POST"
            }
        ])
    );
    assert_eq!(
        fixture.store.reads(),
        0,
        "an unsigned answer needs no secret"
    );
}

#[tokio::test]
async fn the_configured_event_url_wins_and_without_any_the_greeting_goes_alone() {
    let fixture = Fixture::new();
    let configured = fixture.answer_handler(true, Some("https://voice.example.com/event"));
    let ncco = ncco_of(
        configured
            .handle(&get("uuid=c", None), Some("https://derived/event"))
            .await,
    );
    assert_eq!(
        ncco[1]["eventUrl"],
        json!(["https://voice.example.com/event"])
    );

    let nowhere = fixture.answer_handler(true, None);
    let ncco = ncco_of(nowhere.handle(&get("uuid=c", None), None).await);
    assert_eq!(ncco.as_array().map(Vec::len), Some(1));
}

#[tokio::test]
async fn a_signed_answer_is_verified_and_a_bad_token_refused() {
    let fixture = Fixture::new();
    let handler = fixture.answer_handler(true, Some("https://voice.example.com/event"));
    let query = "to=447700900000&from=447700900001&uuid=call-1";
    let good = signer(SECRET, API_KEY)
        .sign_query(query, NOW, "ans-1")
        .unwrap();
    let ncco = ncco_of(handler.handle(&get(query, Some(good.clone())), None).await);
    assert_eq!(ncco[0]["action"], "talk");
    // Vonage retries an answer webhook after a timeout; the retry is answered too.
    ncco_of(handler.handle(&get(query, Some(good)), None).await);

    let forged = signer("forged-secret-0000000000000000", API_KEY)
        .sign_query(query, NOW, "ans-2")
        .unwrap();
    assert_eq!(
        handler.handle(&get(query, Some(forged)), None).await,
        Outcome::Rejected(Rejection::Signature)
    );
    let garbage = get(query, Some("not-a-jwt".into()));
    assert_eq!(
        handler.handle(&garbage, None).await,
        Outcome::Rejected(Rejection::Malformed)
    );
}

#[tokio::test]
async fn an_unsigned_answer_is_refused_when_signatures_are_required() {
    let fixture = Fixture::new();
    let handler = fixture.answer_handler(false, None);
    assert_eq!(
        handler.handle(&get("uuid=call-1", None), None).await,
        Outcome::Rejected(Rejection::MissingToken)
    );
}

#[tokio::test]
async fn a_signed_answer_without_a_readable_secret_is_unavailable() {
    let fixture = Fixture::new();
    fixture.store.set_unavailable(true);
    let handler = fixture.answer_handler(true, None);
    let query = "uuid=call-1";
    let token = signer(SECRET, API_KEY)
        .sign_query(query, NOW, "ans-3")
        .unwrap();
    assert_eq!(
        handler.handle(&get(query, Some(token)), None).await,
        Outcome::SecretUnavailable
    );
}

#[test]
fn the_debug_form_of_a_request_hides_the_token() {
    let request = signed_post(ANSWERED, SECRET, "jti-debug");
    let shown = format!("{request:?}");
    assert!(!shown.contains("Bearer"), "{shown}");
    assert!(shown.contains("authorization_values: 1"), "{shown}");
}
