use crate::settings::DEFAULT_API_BASE_URL;
use std::sync::Mutex;
use std::time::Duration;

use serde_json::json;

use super::drift::{Repair, check_drift};
use super::*;

const ANSWER: &str = "https://abc123.execute-api.eu-west-1.amazonaws.com/answer";
const EVENT: &str = "https://abc123.execute-api.eu-west-1.amazonaws.com/event";

/// The application from the seed's "Get Application" step.
fn seed_application() -> Value {
    json!({
        "id": "YOUR_APPLICATION_ID",
        "name": "My app",
        "keys": {"public_key": "YOUR_PUBLIC_KEY"},
        "capabilities": {
            "voice": {
                "webhooks": {
                    "event_url": {"address": "https://example.com", "http_method": "POST"},
                    "fallback_answer_url": {"address": "", "http_method": "GET"},
                    "answer_url": {"address": "https://example.com", "http_method": "GET"}
                }
            }
        },
        "_links": {"self": {"href": "/v2/applications/YOUR_APPLICATION_ID"}}
    })
}

fn targets() -> WebhookTargets {
    WebhookTargets {
        answer_url: Some(ANSWER.into()),
        event_url: Some(EVENT.into()),
        fallback_answer_url: None,
    }
}

fn with_signed_callbacks(value: Value) -> Value {
    let mut application = seed_application();
    application["capabilities"]["voice"]["signed_callbacks"] = value;
    application
}

#[test]
fn plan_matches_the_seeds_update_body_byte_for_byte() {
    let plan = plan_activation(&seed_application(), &WebhookTargets::default()).unwrap();
    // The seed's "Update Application" body: the GET body with signed_callbacks appended to voice.
    let expected = r#"{"id":"YOUR_APPLICATION_ID","name":"My app","keys":{"public_key":"YOUR_PUBLIC_KEY"},"capabilities":{"voice":{"webhooks":{"event_url":{"address":"https://example.com","http_method":"POST"},"fallback_answer_url":{"address":"","http_method":"GET"},"answer_url":{"address":"https://example.com","http_method":"GET"}},"signed_callbacks":true}},"_links":{"self":{"href":"/v2/applications/YOUR_APPLICATION_ID"}}}"#;
    assert_eq!(plan.application.to_string(), expected);
    assert_eq!(
        plan.changes,
        [FieldChange {
            path: "capabilities.voice.signed_callbacks".into(),
            before: None,
            after: json!(true),
        }]
    );
    assert_eq!(
        plan.changes[0].to_string(),
        "capabilities.voice.signed_callbacks: (absent) -> true"
    );
}

#[test]
fn plan_is_empty_when_signed_callbacks_are_already_true() {
    let plan = plan_activation(&with_signed_callbacks(json!(true)), &Default::default()).unwrap();
    assert!(plan.is_empty());
    assert_eq!(plan.application, with_signed_callbacks(json!(true)));
}

#[test]
fn the_string_true_reads_as_on_and_is_sent_back_as_a_boolean_only_when_a_put_is_needed() {
    let stringly = with_signed_callbacks(json!("true"));
    assert!(
        plan_activation(&stringly, &Default::default())
            .unwrap()
            .is_empty()
    );

    let plan = plan_activation(&stringly, &targets()).unwrap();
    assert_eq!(
        plan.application["capabilities"]["voice"]["signed_callbacks"],
        json!(true)
    );
    assert_eq!(plan.changes[0].before, Some(json!("true")));
    assert_eq!(
        plan.changes
            .iter()
            .map(|change| change.path.as_str())
            .collect::<Vec<_>>(),
        [
            "capabilities.voice.signed_callbacks",
            "capabilities.voice.webhooks.answer_url.address",
            "capabilities.voice.webhooks.event_url.address",
        ]
    );
}

#[test]
fn false_and_odd_values_are_replaced_by_true_in_place() {
    for before in [json!(false), json!("false"), json!(1), json!(null)] {
        let current = with_signed_callbacks(before.clone());
        let plan = plan_activation(&current, &Default::default()).unwrap();
        assert_eq!(plan.changes.len(), 1, "{before}");
        assert_eq!(plan.changes[0].before, Some(before.clone()));
        // In place: same key order as before, only the value differs.
        let keys = |value: &Value| {
            value["capabilities"]["voice"]
                .as_object()
                .unwrap()
                .keys()
                .cloned()
                .collect::<Vec<_>>()
        };
        assert_eq!(keys(&plan.application), keys(&current));
    }
}

#[test]
fn pointing_webhooks_changes_only_their_addresses() {
    let mut current = with_signed_callbacks(json!(true));
    current["capabilities"]["voice"]["webhooks"]["answer_url"] = json!({
        "address": "https://old.example.com/answer",
        "http_method": "POST",
        "connect_timeout": 500,
        "socket_timeout": 3000
    });
    let plan = plan_activation(&current, &targets()).unwrap();

    let mut expected = current.clone();
    expected["capabilities"]["voice"]["webhooks"]["answer_url"]["address"] = json!(ANSWER);
    expected["capabilities"]["voice"]["webhooks"]["event_url"]["address"] = json!(EVENT);
    // Serialised text compares key order too.
    assert_eq!(plan.application.to_string(), expected.to_string());
    assert_eq!(
        plan.changes[0].to_string(),
        format!(
            "capabilities.voice.webhooks.answer_url.address: \"https://old.example.com/answer\" -> \"{ANSWER}\""
        )
    );
    assert_eq!(plan.changes.len(), 2);
}

#[test]
fn absent_webhooks_are_created_with_vonages_usual_methods() {
    let current = json!({"name": "bare", "capabilities": {"voice": {"signed_callbacks": true}}});
    let plan = plan_activation(&current, &targets()).unwrap();
    assert_eq!(
        plan.application,
        json!({"name": "bare", "capabilities": {"voice": {
            "signed_callbacks": true,
            "webhooks": {
                "answer_url": {"address": ANSWER, "http_method": "GET"},
                "event_url": {"address": EVENT, "http_method": "POST"}
            }
        }}})
    );
    assert_eq!(plan.changes[0].before, None);
    assert_eq!(
        plan.changes[0].path,
        "capabilities.voice.webhooks.answer_url"
    );
}

#[test]
fn a_missing_voice_capability_is_added_only_when_both_urls_are_given() {
    let messages_only = json!({
        "name": "messages app",
        "capabilities": {"messages": {"webhooks": {"inbound_url": {"address": "https://m.example.com", "http_method": "POST"}}}}
    });
    assert_eq!(
        plan_activation(&messages_only, &Default::default()),
        Err(PlanError::NoVoiceCapability)
    );
    let answer_only = WebhookTargets {
        answer_url: Some(ANSWER.into()),
        event_url: None,
        fallback_answer_url: None,
    };
    assert_eq!(
        plan_activation(&messages_only, &answer_only),
        Err(PlanError::NoVoiceCapability)
    );

    let plan = plan_activation(&messages_only, &targets()).unwrap();
    assert_eq!(
        plan.application["capabilities"]["messages"],
        messages_only["capabilities"]["messages"]
    );
    assert_eq!(
        plan.application["capabilities"]["voice"]["signed_callbacks"],
        json!(true)
    );
    assert_eq!(
        ApplicationStatus::evaluate(&plan.application, &targets()).problems(),
        Vec::<String>::new()
    );
}

#[test]
fn a_non_object_where_an_object_belongs_is_refused_rather_than_overwritten() {
    assert_eq!(
        plan_activation(&json!([1]), &Default::default()),
        Err(PlanError::NotAnObject)
    );
    assert_eq!(
        plan_activation(
            &json!({"capabilities": {"voice": "yes"}}),
            &Default::default()
        ),
        Err(PlanError::NotAnObjectAt {
            path: "capabilities.voice".into()
        })
    );
    assert_eq!(
        plan_activation(
            &json!({"capabilities": {"voice": {"webhooks": {"answer_url": "https://x"}}}}),
            &targets()
        ),
        Err(PlanError::NotAnObjectAt {
            path: "capabilities.voice.webhooks.answer_url".into()
        })
    );
}

#[test]
fn status_reads_every_spelling_of_signed_callbacks() {
    let read = |application: &Value| ApplicationStatus::evaluate(application, &Default::default());
    assert_eq!(
        read(&with_signed_callbacks(json!(true))).signed_callbacks,
        SignedCallbacks::On
    );
    assert_eq!(
        read(&with_signed_callbacks(json!("true"))).signed_callbacks,
        SignedCallbacks::On
    );
    assert_eq!(
        read(&with_signed_callbacks(json!("FALSE"))).signed_callbacks,
        SignedCallbacks::Off
    );
    assert_eq!(
        read(&seed_application()).signed_callbacks,
        SignedCallbacks::Missing
    );
    assert_eq!(
        read(&json!({"capabilities": {}})).signed_callbacks,
        SignedCallbacks::NoVoiceCapability
    );
    assert_eq!(
        read(&with_signed_callbacks(json!({"on": true}))).signed_callbacks,
        SignedCallbacks::Unreadable(r#"{"on":true}"#.into())
    );
    assert!(read(&with_signed_callbacks(json!(true))).is_healthy());
    assert!(!read(&seed_application()).is_healthy());
}

#[test]
fn status_names_each_webhook_that_points_elsewhere() {
    let status = ApplicationStatus::evaluate(&with_signed_callbacks(json!(true)), &targets());
    assert!(!status.is_healthy());
    assert_eq!(status.mismatched_webhooks(), 2);
    assert_eq!(
        status.problems(),
        [
            format!("answer_url is https://example.com, expected {ANSWER}"),
            format!("event_url is https://example.com, expected {EVENT}"),
        ]
    );

    let unchecked = ApplicationStatus::evaluate(&seed_application(), &Default::default());
    assert_eq!(
        unchecked.problems(),
        [
            "signed callbacks are off (signed_callbacks is missing, as after an edit in the Dashboard)"
        ]
    );
    assert_eq!(
        unchecked.answer_url.to_string(),
        "answer_url is https://example.com (not checked)"
    );
}

#[test]
fn application_ids_stay_one_path_segment_under_any_base_path() {
    let api = HttpApplicationsApi::new(
        "http://127.0.0.1:9/prefix/",
        ApiCredentials::new("key", "secret"),
        Duration::from_secs(1),
    )
    .unwrap();
    assert_eq!(
        api.application_url("aaaaaaaa-bbbb").as_str(),
        "http://127.0.0.1:9/prefix/v2/applications/aaaaaaaa-bbbb"
    );
    assert_eq!(
        api.application_url("../../x?y#z").as_str(),
        "http://127.0.0.1:9/prefix/v2/applications/..%2F..%2Fx%3Fy%23z"
    );
    let root = HttpApplicationsApi::new(
        DEFAULT_API_BASE_URL,
        ApiCredentials::new("key", "secret"),
        Duration::from_secs(1),
    )
    .unwrap();
    assert_eq!(
        root.application_url("id").as_str(),
        "https://api.nexmo.com/v2/applications/id"
    );
}

#[test]
fn base_urls_that_are_not_http_are_refused() {
    for url in [
        "api.nexmo.com",
        "ftp://api.nexmo.com",
        "mailto:ops@example.com",
        "",
    ] {
        assert_eq!(
            HttpApplicationsApi::new(url, ApiCredentials::new("k", "s"), Duration::from_secs(1))
                .unwrap_err(),
            ApplicationsError::InvalidBaseUrl { url: url.into() }
        );
    }
}

#[test]
fn the_api_secret_never_shows_in_debug_output_or_quoted_bodies() {
    let credentials = ApiCredentials::new("a1b2c3d", "s3cr3t-api-secret");
    let api = HttpApplicationsApi::new(
        "http://127.0.0.1:9",
        credentials.clone(),
        Duration::from_secs(1),
    )
    .unwrap();
    assert!(!format!("{credentials:?}").contains("s3cr3t"));
    assert!(!format!("{api:?}").contains("s3cr3t"));
    let quoted = api.quotable(r#"{"detail":"bad secret s3cr3t-api-secret"}"#);
    assert_eq!(quoted, r#"{"detail":"bad secret <redacted>"}"#);
    let long = api.quotable(&"x".repeat(5000));
    assert_eq!(long.chars().count(), MAX_QUOTED_BODY_CHARS + 1);
}

#[test]
fn api_access_is_read_from_the_application_secret_without_quoting_it() {
    let access = ApplicationApiAccess::from_secret_json(
        r#"{"application_id":"app-1","private_key":"-----BEGIN PRIVATE KEY-----\nX\n-----END PRIVATE KEY-----","api_key":"a1b2c3d","api_secret":"s3cr3t"}"#,
    )
    .unwrap();
    assert_eq!(access.application_id, "app-1");
    assert_eq!(access.credentials.api_key(), "a1b2c3d");
    assert!(!format!("{access:?}").contains("s3cr3t"));
    assert!(!format!("{access:?}").contains("PRIVATE"));

    let without_api_secret = r#"{"application_id":"app-1","private_key":"k","api_key":"a1b2c3d"}"#;
    assert_eq!(
        ApplicationApiAccess::from_secret_json(without_api_secret).unwrap_err(),
        SecretDocumentError::MissingField("api_secret")
    );
    let numeric = r#"{"application_id":"app-1","api_key":"a","api_secret":12345678}"#;
    let error = ApplicationApiAccess::from_secret_json(numeric).unwrap_err();
    assert_eq!(error, SecretDocumentError::InvalidField("api_secret"));
    assert!(!error.to_string().contains("12345678"));
    assert!(matches!(
        ApplicationApiAccess::from_secret_json("not json s3cr3t"),
        Err(SecretDocumentError::NotJson { .. })
    ));
}

mod remote;
