use super::*;
use std::time::{Duration, Instant};

const SECRET_ID: &str = "vonage/webhook";

fn document(secret: &str) -> String {
    WebhookSecret::new(secret, "a1b2c3d", Some("app-1".into())).to_json()
}

fn cache_over(store: &Arc<InMemorySecretStore>) -> WebhookSecretCache {
    WebhookSecretCache::new(store.clone(), SECRET_ID, SecretCacheSettings::default())
}

fn stages(versions: &SecretVersions) -> Vec<(&'static str, String)> {
    versions
        .iter()
        .map(|v| (v.stage, v.document.signature_secret().to_owned()))
        .collect()
}

#[test]
fn the_document_reads_required_and_optional_fields() {
    let secret = WebhookSecret::parse(
        r#"{"signature_secret":"s3cr3t","api_key":"a1b2c3d","application_id":"app-1","note":"kept out"}"#,
    )
    .unwrap();
    assert_eq!(secret.signature_secret(), "s3cr3t");
    assert_eq!(secret.api_key(), "a1b2c3d");
    assert_eq!(secret.application_id(), Some("app-1"));

    let pasted = WebhookSecret::parse(
        "{\"signature_secret\":\" s3cr3t\\n\",\"api_key\":\"a1b2c3d \",\"application_id\":\" \"}",
    )
    .unwrap();
    assert_eq!(
        (
            pasted.signature_secret(),
            pasted.api_key(),
            pasted.application_id()
        ),
        ("s3cr3t", "a1b2c3d", None)
    );

    let without_application =
        WebhookSecret::parse(r#"{"signature_secret":"s","api_key":"k","application_id":""}"#)
            .unwrap();
    assert_eq!(without_application.application_id(), None);
    assert_eq!(
        WebhookSecret::parse(&without_application.to_json()).unwrap(),
        without_application
    );
}

#[test]
fn document_errors_name_the_field_and_never_quote_the_value() {
    let cases = [
        (
            "not json s3cr3t",
            SecretDocumentError::NotJson { line: 1, column: 2 },
        ),
        (r#"["s3cr3t"]"#, SecretDocumentError::NotAnObject),
        (
            r#"{"api_key":"k"}"#,
            SecretDocumentError::MissingField("signature_secret"),
        ),
        // The placeholder the stack creates: refused until someone puts real values.
        (
            r#"{"signature_secret":"","api_key":"","application_id":""}"#,
            SecretDocumentError::InvalidField("signature_secret"),
        ),
        (
            r#"{"signature_secret":12345678,"api_key":"k"}"#,
            SecretDocumentError::InvalidField("signature_secret"),
        ),
        (
            r#"{"signature_secret":"s3cr3t"}"#,
            SecretDocumentError::MissingField("api_key"),
        ),
        (
            r#"{"signature_secret":"s3cr3t","api_key":"k","application_id":7}"#,
            SecretDocumentError::InvalidField("application_id"),
        ),
    ];
    for (json, expected) in cases {
        let error = WebhookSecret::parse(json).unwrap_err();
        assert_eq!(error, expected, "{json}");
        let message = error.to_string();
        assert!(
            !message.contains("s3cr3t") && !message.contains("12345678"),
            "{message}"
        );
    }
}

#[test]
fn debug_output_redacts_the_signature_secret() {
    let secret = WebhookSecret::new("s3cr3t-value", "a1b2c3d", None);
    let version = WebhookSecretVersion::new(CURRENT, secret.clone()).unwrap();
    for shown in [format!("{secret:?}"), format!("{version:?}")] {
        assert!(!shown.contains("s3cr3t-value"), "{shown}");
        assert!(shown.contains("a1b2c3d"), "{shown}");
    }
}

#[tokio::test]
async fn the_first_read_fetches_and_later_reads_within_the_cache_time_do_not() {
    let store = Arc::new(InMemorySecretStore::new().with_secret(SECRET_ID, document("one")));
    let cache = cache_over(&store);
    let start = Instant::now();

    let versions = cache.versions(start, far()).await.unwrap();
    assert_eq!(stages(&versions), [(CURRENT, "one".to_owned())]);
    // AWSCURRENT, then AWSPREVIOUS (absent).
    assert_eq!(store.reads(), 2);

    for seconds in [1, 60, 299] {
        cache
            .versions(start + Duration::from_secs(seconds), far())
            .await
            .unwrap();
    }
    assert_eq!(
        store.reads(),
        2,
        "warm reads inside the cache time went to the store"
    );

    cache
        .versions(start + Duration::from_secs(300), far())
        .await
        .unwrap();
    assert_eq!(store.reads(), 4, "the cache time is over: one more fetch");
}

#[tokio::test]
async fn a_rotation_offers_current_then_a_different_previous() {
    let store = Arc::new(InMemorySecretStore::new().with_secret(SECRET_ID, document("old")));
    store.rotate(SECRET_ID, document("new"));
    let versions = cache_over(&store)
        .versions(Instant::now(), far())
        .await
        .unwrap();
    assert_eq!(
        stages(&versions),
        [(CURRENT, "new".to_owned()), (PREVIOUS, "old".to_owned())]
    );
    let labels: Vec<&str> = versions[1]
        .candidates
        .iter()
        .map(|key| key.label())
        .collect();
    assert_eq!(labels, [PREVIOUS]);
}

#[tokio::test]
async fn a_previous_version_equal_to_current_or_unreadable_is_left_out() {
    let store = Arc::new(InMemorySecretStore::new().with_secret(SECRET_ID, document("same")));
    store.put_version(SECRET_ID, PREVIOUS, document("same"));
    let versions = cache_over(&store)
        .versions(Instant::now(), far())
        .await
        .unwrap();
    assert_eq!(versions.len(), 1);

    store.put_version(SECRET_ID, PREVIOUS, "an old plain-text format");
    let versions = cache_over(&store)
        .versions(Instant::now(), far())
        .await
        .unwrap();
    assert_eq!(stages(&versions), [(CURRENT, "same".to_owned())]);
}

#[tokio::test]
async fn a_signature_failure_refetches_at_most_once_per_interval() {
    let store = Arc::new(InMemorySecretStore::new().with_secret(SECRET_ID, document("old")));
    let cache = cache_over(&store);
    let start = Instant::now();
    let cached = cache.versions(start, far()).await.unwrap();
    store.rotate(SECRET_ID, document("new"));
    let reads_before = store.reads();

    let fresh = cache
        .refresh_after_signature_failure(&cached, start + Duration::from_secs(1), far())
        .await
        .unwrap()
        .expect("the first refresh is due");
    assert_eq!(stages(&fresh)[0], (CURRENT, "new".to_owned()));
    assert_eq!(store.reads(), reads_before + 2);

    // Within the interval: no read, whatever is asked.
    let again = cache
        .refresh_after_signature_failure(&fresh, start + Duration::from_secs(10), far())
        .await
        .unwrap();
    assert!(again.is_none());
    assert_eq!(store.reads(), reads_before + 2);

    // The refreshed versions are what the cache now serves, for a whole cache time.
    let served = cache
        .versions(start + Duration::from_secs(200), far())
        .await
        .unwrap();
    assert!(Arc::ptr_eq(&served, &fresh));
    assert_eq!(store.reads(), reads_before + 2);

    // Once the interval has passed, another refresh is allowed.
    let later = cache
        .refresh_after_signature_failure(&fresh, start + Duration::from_secs(11), far())
        .await
        .unwrap();
    assert!(later.is_some());
    assert_eq!(store.reads(), reads_before + 4);
}

#[tokio::test]
async fn a_refresh_is_skipped_when_someone_else_already_replaced_the_versions() {
    let store = Arc::new(InMemorySecretStore::new().with_secret(SECRET_ID, document("old")));
    let cache = cache_over(&store);
    let start = Instant::now();
    let stale = cache.versions(start, far()).await.unwrap();
    let newer = cache
        .versions(start + Duration::from_secs(301), far())
        .await
        .unwrap();
    let reads = store.reads();
    let handed = cache
        .refresh_after_signature_failure(&stale, start + Duration::from_secs(302), far())
        .await
        .unwrap()
        .unwrap();
    assert!(Arc::ptr_eq(&handed, &newer));
    assert_eq!(store.reads(), reads);
}

/// Far enough ahead that no read in these tests runs into it.
fn far() -> Instant {
    Instant::now() + Duration::from_secs(3600)
}

#[tokio::test]
async fn a_failed_read_is_remembered_for_the_backoff_then_tried_again() {
    let store = Arc::new(InMemorySecretStore::new().with_secret(SECRET_ID, document("one")));
    store.set_unavailable(true);
    let cache = cache_over(&store);
    let start = Instant::now();
    assert!(matches!(
        cache.versions(start, far()).await,
        Err(WebhookSecretError::Store(SecretStoreError::Unavailable(_)))
    ));
    let reads_for_one_attempt = store.reads();
    assert_eq!(reads_for_one_attempt, 2, "AWSCURRENT and AWSPREVIOUS");
    // Inside the backoff every request gets the same error without asking the store.
    for second in 0..5 {
        assert!(matches!(
            cache
                .versions(start + Duration::from_secs(second), far())
                .await,
            Err(WebhookSecretError::Store(SecretStoreError::Unavailable(_)))
        ));
    }
    assert_eq!(
        store.reads(),
        reads_for_one_attempt,
        "no read during the backoff"
    );

    store.set_unavailable(false);
    assert!(
        cache
            .versions(start + Duration::from_secs(5), far())
            .await
            .is_ok()
    );

    // Expired versions are not served while the store is down.
    store.set_unavailable(true);
    assert!(
        cache
            .versions(start + Duration::from_secs(305), far())
            .await
            .is_err()
    );
    store.set_unavailable(false);
    assert!(
        cache
            .versions(start + Duration::from_secs(306), far())
            .await
            .is_err(),
        "still inside the backoff of the failure at 305 s"
    );
    assert!(
        cache
            .versions(start + Duration::from_secs(310), far())
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn sixty_webhooks_in_an_outage_cost_one_read_per_backoff_interval() {
    let store = Arc::new(InMemorySecretStore::new().with_secret(SECRET_ID, document("one")));
    store.set_unavailable(true);
    let cache = cache_over(&store);
    let start = Instant::now();
    // Sixty requests spread over 12 seconds: the backoff is 5 s, so reads happen at 0, 5 and 10 s.
    for request in 0..60u64 {
        let now = start + Duration::from_millis(request * 200);
        assert!(cache.versions(now, far()).await.is_err());
    }
    assert_eq!(store.reads(), 3 * 2);
}

#[tokio::test]
async fn a_failure_on_the_previous_version_alone_keeps_the_current_one_working() {
    let store = Arc::new(InMemorySecretStore::new().with_secret(SECRET_ID, document("new")));
    store.put_version(SECRET_ID, PREVIOUS, document("old"));
    store.set_stage_unavailable(PREVIOUS, true);
    let cache = cache_over(&store);
    let start = Instant::now();
    let versions = cache.versions(start, far()).await.unwrap();
    assert_eq!(stages(&versions), [(CURRENT, "new".to_owned())]);

    // Kept only for the backoff, then read again: once AWSPREVIOUS answers, both verify.
    store.set_stage_unavailable(PREVIOUS, false);
    let reads = store.reads();
    let still = cache
        .versions(start + Duration::from_secs(4), far())
        .await
        .unwrap();
    assert!(Arc::ptr_eq(&still, &versions));
    assert_eq!(store.reads(), reads);
    let both = cache
        .versions(start + Duration::from_secs(5), far())
        .await
        .unwrap();
    assert_eq!(
        stages(&both),
        [(CURRENT, "new".to_owned()), (PREVIOUS, "old".to_owned())]
    );
}

#[tokio::test(start_paused = true)]
async fn a_slow_store_is_given_up_on_at_the_deadline_and_backed_off() {
    let store = Arc::new(InMemorySecretStore::new().with_secret(SECRET_ID, document("one")));
    store.set_delay(Duration::from_secs(5));
    let cache = cache_over(&store);
    let started = tokio::time::Instant::now();
    let now = Instant::now();
    let answer_by = now + Duration::from_millis(800);
    assert!(matches!(
        cache.versions(now, answer_by).await,
        Err(WebhookSecretError::Timeout { .. })
    ));
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(800) && waited < Duration::from_secs(1),
        "gave up after {waited:?}"
    );
    // The timeout counts as a failure: the next request inside the backoff does not wait.
    let reads = store.reads();
    let started = tokio::time::Instant::now();
    assert!(
        cache
            .versions(now + Duration::from_secs(1), now + Duration::from_secs(2))
            .await
            .is_err()
    );
    assert_eq!(started.elapsed(), Duration::ZERO);
    assert_eq!(store.reads(), reads);
}

#[tokio::test]
async fn a_failed_forced_refresh_keeps_the_cached_versions() {
    let store = Arc::new(InMemorySecretStore::new().with_secret(SECRET_ID, document("one")));
    let cache = cache_over(&store);
    let start = Instant::now();
    let cached = cache.versions(start, far()).await.unwrap();
    store.set_unavailable(true);
    assert!(
        cache
            .refresh_after_signature_failure(&cached, start, far())
            .await
            .is_err()
    );
    let served = cache
        .versions(start + Duration::from_secs(1), far())
        .await
        .unwrap();
    assert!(Arc::ptr_eq(&served, &cached));
}

#[tokio::test]
async fn missing_and_malformed_secrets_are_errors_that_name_the_secret() {
    let empty = Arc::new(InMemorySecretStore::new());
    let error = cache_over(&empty)
        .versions(Instant::now(), far())
        .await
        .unwrap_err();
    assert!(matches!(
        error,
        WebhookSecretError::Store(SecretStoreError::NotReadable { .. })
    ));

    let no_current = Arc::new(InMemorySecretStore::new());
    no_current.put_version(SECRET_ID, PREVIOUS, document("old"));
    let error = cache_over(&no_current)
        .versions(Instant::now(), far())
        .await
        .unwrap_err();
    assert!(matches!(error, WebhookSecretError::NoCurrentVersion { .. }));

    let placeholder = Arc::new(InMemorySecretStore::new().with_secret(
        SECRET_ID,
        r#"{"signature_secret":"","api_key":"","application_id":""}"#,
    ));
    let error = cache_over(&placeholder)
        .versions(Instant::now(), far())
        .await
        .unwrap_err();
    assert!(
        matches!(error, WebhookSecretError::Malformed { stage: CURRENT, .. }),
        "{error:?}"
    );
    assert!(error.to_string().contains(SECRET_ID), "{error}");
}

#[tokio::test]
async fn a_cached_store_reads_once_per_cache_time_and_again_after_forget() {
    let store = Arc::new(InMemorySecretStore::new().with_secret(SECRET_ID, "value"));
    let cached = CachedSecretStore::new(Arc::clone(&store), Duration::from_secs(300));
    let start = Instant::now();
    for seconds in [0, 1, 299] {
        let value = cached
            .secret_string_at(SECRET_ID, CURRENT, start + Duration::from_secs(seconds))
            .await
            .unwrap();
        assert_eq!(value.as_deref(), Some("value"));
    }
    assert_eq!(
        store.reads(),
        1,
        "warm reads inside the cache time went to the store"
    );

    cached
        .secret_string_at(SECRET_ID, CURRENT, start + Duration::from_secs(300))
        .await
        .unwrap();
    assert_eq!(store.reads(), 2, "the cache time is over: one more read");

    cached.forget(SECRET_ID);
    cached
        .secret_string_at(SECRET_ID, CURRENT, start + Duration::from_secs(301))
        .await
        .unwrap();
    assert_eq!(store.reads(), 3, "a forgotten secret is read again");
}

#[tokio::test]
async fn a_cached_store_does_not_remember_failures() {
    let store = Arc::new(InMemorySecretStore::new().with_secret(SECRET_ID, "value"));
    let cached = CachedSecretStore::new(Arc::clone(&store), Duration::from_secs(300));
    store.set_unavailable(true);
    let start = Instant::now();
    assert!(
        cached
            .secret_string_at(SECRET_ID, CURRENT, start)
            .await
            .is_err()
    );
    store.set_unavailable(false);
    let value = cached
        .secret_string_at(SECRET_ID, CURRENT, start)
        .await
        .unwrap();
    assert_eq!(value.as_deref(), Some("value"));
}
