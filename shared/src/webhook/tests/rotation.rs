//! Secret rotation without losing an event, and answers inside the response budget.

use super::*;

/// The README's rotation, in its order, with events in flight at every step: Secrets Manager
/// first, then the Vonage Dashboard. Several warm instances, each with its own cache, see events
/// signed with the old secret until the Dashboard changes and with the new one after, some
/// retried late with the old one. Not one is refused.
#[tokio::test]
async fn the_documented_rotation_loses_no_event() {
    let fixture = Fixture::new();
    let instances: Vec<EventHandler> = (0..3).map(|_| fixture.event_handler(&[])).collect();
    for instance in &instances {
        assert!(instance.warm_up().await);
    }
    let mut sent = 0;
    let mut send_to_all = |secret: &'static str| {
        let requests: Vec<IncomingWebhook> = (0..instances.len())
            .map(|_| {
                sent += 1;
                signed_now(&fixture, secret, &format!("jti-{sent}"))
            })
            .collect();
        requests
    };

    // Before: the old secret everywhere.
    for (instance, request) in instances.iter().zip(send_to_all(SECRET)) {
        assert_eq!(instance.handle(&request).await, accepted_event());
    }
    // Step 1: Secrets Manager gets the new value (AWSCURRENT new, AWSPREVIOUS old). Vonage still
    // signs with the old one; caches expire at different times and re-read both versions.
    fixture.store.rotate(SECRET_ID, document(NEW_SECRET));
    for step in 0..4 {
        fixture.clock.advance(Duration::from_secs(100));
        let requests = send_to_all(SECRET);
        let outcomes = handle_on_each(&instances, &requests).await;
        assert!(
            outcomes.iter().all(|outcome| *outcome == accepted_event()),
            "step {step}: {outcomes:?}"
        );
    }
    // Step 2: the Dashboard changes. New events arrive signed with the new secret on every
    // instance, while retries of old deliveries still carry the old one.
    fixture.clock.advance(Duration::from_secs(1));
    for round in 0..3 {
        let new_ones = send_to_all(NEW_SECRET);
        let old_ones = send_to_all(SECRET);
        let outcomes = handle_on_each(&instances, &new_ones).await;
        let late = handle_on_each(&instances, &old_ones).await;
        assert!(
            outcomes
                .iter()
                .chain(&late)
                .all(|outcome| *outcome == accepted_event()),
            "round {round}: {outcomes:?} {late:?}"
        );
        fixture.clock.advance(Duration::from_secs(2));
    }
}

/// One request to each instance (each with its own cache, as separate Lambda instances have).
async fn handle_on_each(instances: &[EventHandler], requests: &[IncomingWebhook]) -> Vec<Outcome> {
    let mut outcomes = Vec::new();
    for (instance, request) in instances.iter().zip(requests) {
        outcomes.push(instance.handle(request).await);
    }
    outcomes
}

/// In the other order (Dashboard first), a new-secret event that arrives while the early re-read
/// is not yet due is answered 503, which Vonage retries, instead of 401, which it does not.
#[tokio::test]
async fn a_new_secret_seen_while_the_reread_is_deferred_gets_a_retryable_answer() {
    let fixture = Fixture::new();
    let handler = fixture.event_handler(&[]);
    assert!(handler.warm_up().await);
    // Dashboard first: Vonage signs with the new secret, Secrets Manager does not have it yet.
    let first = signed_now(&fixture, NEW_SECRET, "d-1");
    assert_eq!(
        handler.handle(&first).await,
        Outcome::Rejected(Rejection::Signature),
        "read again, and still not there"
    );
    fixture.store.rotate(SECRET_ID, document(NEW_SECRET));
    fixture.clock.advance(Duration::from_secs(3));
    let second = signed_now(&fixture, NEW_SECRET, "d-2");
    assert_eq!(handler.handle(&second).await, Outcome::SecretUnavailable);
    assert_eq!(
        crate::http::status_for(&Outcome::SecretUnavailable).as_u16(),
        503
    );
    // Vonage's retry after the interval finds the new secret.
    fixture.clock.advance(Duration::from_secs(10));
    assert_eq!(handler.handle(&second).await, accepted_event());
}

#[tokio::test]
async fn a_token_without_jti_is_refused_by_both_webhooks() {
    let fixture = Fixture::new();
    let claims = json!({
        "iat": NOW, "iss": "Vonage", "api_key": API_KEY, "application_id": APPLICATION_ID,
        "payload_hash": hex::encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, ANSWERED)),
    });
    let token = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(SECRET.as_bytes()).unwrap(),
    )
    .unwrap();
    let request = post(ANSWERED, Some(token.clone()));
    let refused = Outcome::Rejected(Rejection::MissingClaim("jti"));
    let events = fixture.event_handler(&[]);
    assert_eq!(events.handle(&request).await, refused);
    assert_eq!(events.handle(&request).await, refused, "and again");
    let answers = fixture.answer_handler(true, None);
    assert_eq!(answers.handle(&request, None).await, refused);
}

#[tokio::test(start_paused = true)]
async fn a_slow_secret_store_is_answered_503_inside_the_budget_and_the_lambda_deadline() {
    let fixture = Fixture::new();
    let handler = fixture.event_handler(&[]);
    fixture.store.set_delay(Duration::from_secs(5));
    // Budget 2.5 s by default; Lambda's deadline 1.5 s away wins, less the 500 ms margin.
    let mut request = signed_now(&fixture, SECRET, "slow-1");
    request.lambda_deadline = Some(std::time::Instant::now() + Duration::from_millis(1500));
    let started = tokio::time::Instant::now();
    assert_eq!(handler.handle(&request).await, Outcome::SecretUnavailable);
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(990) && waited <= Duration::from_millis(1010),
        "{waited:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn without_a_lambda_deadline_the_response_budget_bounds_a_slow_secret_read() {
    let fixture = Fixture::new();
    let handler = fixture.event_handler(&[]);
    fixture.store.set_delay(Duration::from_secs(5));
    let started = tokio::time::Instant::now();
    let request = signed_now(&fixture, SECRET, "slow-2");
    assert_eq!(handler.handle(&request).await, Outcome::SecretUnavailable);
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(2490) && waited <= Duration::from_millis(2510),
        "{waited:?}"
    );
}
