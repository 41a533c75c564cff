//! Duplicates across instances: the replay store shared through DynamoDB and each instance's own memory.

use super::*;
use crate::settings::DEFAULT_RESPONSE_BUDGET;
use crate::settings::webhook::{EventConfig, WebhookConfig};

#[tokio::test]
async fn an_event_accepted_by_one_instance_is_a_duplicate_at_another() {
    let fixture = Fixture::new();
    let (one, two) = (fixture.event_handler(&[]), fixture.event_handler(&[]));
    let body = event_body("call-9", "ringing", "2027-01-15T08:00:01.000Z");
    assert_eq!(
        one.handle(&signed_body(&body, "a-1")).await,
        accepted_event()
    );
    // The same token at the other instance, and a retry Vonage re-signed with a new jti.
    assert_eq!(
        two.handle(&signed_body(&body, "a-1")).await,
        Outcome::Duplicate {
            matched: KeyKind::Jti,
            ncco: None
        }
    );
    assert_eq!(
        two.handle(&signed_body(&body, "a-2")).await,
        Outcome::Duplicate {
            matched: KeyKind::Delivery,
            ncco: None
        }
    );
    // Another status of the same call is another delivery.
    let answered = event_body("call-9", "answered", "2027-01-15T08:00:02.000Z");
    assert_eq!(
        two.handle(&signed_body(&answered, "a-3")).await,
        accepted_event()
    );
    // A hot replay is caught by the instance's memory without asking the shared store.
    let asked = fixture.deliveries.calls();
    assert!(matches!(
        two.handle(&signed_body(&answered, "a-3")).await,
        Outcome::Duplicate { .. }
    ));
    assert_eq!(fixture.deliveries.calls(), asked);
}

#[tokio::test]
async fn a_duplicate_dtmf_input_gets_the_first_ncco_again() {
    let fixture = Fixture::new();
    let (one, two) = (fixture.event_handler(&[]), fixture.event_handler(&[]));
    let input = br#"{"uuid":"call-7","status":"input","timestamp":"2027-01-15T08:00:05.000Z","dtmf":{"digits":"1","timed_out":false}}"#;
    let Outcome::Accepted { ncco: Some(first) } = one.handle(&signed_body(input, "i-1")).await
    else {
        panic!("an input is answered with an NCCO");
    };
    assert_eq!(
        two.handle(&signed_body(input, "i-2")).await,
        Outcome::Duplicate {
            matched: KeyKind::Delivery,
            ncco: Some(first)
        }
    );
}

#[tokio::test]
async fn with_the_shared_store_down_events_are_processed_and_each_instance_still_remembers() {
    let fixture = Fixture::new();
    fixture.deliveries.fail_with(Some(StateError::Throttled(
        "ProvisionedThroughputExceeded".into(),
    )));
    let (one, two) = (fixture.event_handler(&[]), fixture.event_handler(&[]));
    let body = event_body("call-5", "completed", "2027-01-15T08:01:00.000Z");
    assert_eq!(
        one.handle(&signed_body(&body, "d-1")).await,
        accepted_event()
    );
    // Per instance only while the table is down: the same instance still catches it...
    assert!(matches!(
        one.handle(&signed_body(&body, "d-1")).await,
        Outcome::Duplicate { .. }
    ));
    // ...another instance cannot, and processes it rather than refuse it.
    assert_eq!(
        two.handle(&signed_body(&body, "d-1")).await,
        accepted_event()
    );
}

/// A shared store that never answers.
struct Hanging;

#[async_trait::async_trait]
impl ReplayStore for Hanging {
    async fn first_delivery(&self, _delivery: DeliveryRecord<'_>) -> Result<Delivery, StateError> {
        std::future::pending().await
    }
}

#[tokio::test(start_paused = true)]
async fn a_hanging_shared_store_is_given_up_on_inside_the_budget() {
    let fixture = Fixture::new();
    let config = EventConfig {
        webhook: WebhookConfig::for_secret(SECRET_ID),
        unsigned_statuses: Vec::new(),
    };
    let handler = EventHandler::new(
        &config,
        fixture.store.clone(),
        Arc::new(Hanging),
        fixture.clock.clone(),
    );
    assert!(handler.warm_up().await);
    let started = tokio::time::Instant::now();
    let body = event_body("call-4", "answered", "2027-01-15T08:00:00.000Z");
    assert_eq!(
        handler.handle(&signed_body(&body, "h-1")).await,
        accepted_event()
    );
    assert!(started.elapsed() <= DEFAULT_RESPONSE_BUDGET + Duration::from_millis(10));
}

#[tokio::test]
async fn an_answer_seen_before_gets_the_same_ncco_from_any_instance() {
    let fixture = Fixture::new();
    let one = fixture.answer_handler(true, Some("https://voice.example.com/event"));
    let two = fixture.answer_handler(true, Some("https://voice.example.com/event"));
    let query = "uuid=call-3&conversation_uuid=CON-3&from=447700900001&to=447700900000";
    let sign = |jti: &str| {
        get(
            query,
            Some(signer(SECRET, API_KEY).sign_query(query, NOW, jti).unwrap()),
        )
    };
    let Outcome::Accepted { ncco: Some(first) } = one.handle(&sign("n-1"), None).await else {
        panic!("a signed answer gets its NCCO");
    };
    assert_eq!(
        two.handle(&sign("n-2"), None).await,
        Outcome::Duplicate {
            matched: KeyKind::Delivery,
            ncco: Some(first)
        }
    );
}

#[tokio::test]
async fn unsigned_requests_are_not_recorded_as_deliveries() {
    let fixture = Fixture::new();
    let events = fixture.event_handler(&["input"]);
    let input = br#"{"uuid":"call-8","status":"input","timestamp":"2027-01-15T08:00:05.000Z","dtmf":{"digits":"1","timed_out":false}}"#;
    for _ in 0..2 {
        assert!(matches!(
            events.handle(&post(input, None)).await,
            Outcome::Accepted { ncco: Some(_) }
        ));
    }
    let answers = fixture.answer_handler(true, None);
    for _ in 0..2 {
        assert!(matches!(
            answers.handle(&get("uuid=call-8", None), None).await,
            Outcome::Accepted { ncco: Some(_) }
        ));
    }
    assert_eq!(fixture.deliveries.calls(), 0);
    assert!(fixture.deliveries.is_empty());
}
