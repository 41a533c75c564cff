//! The Applications API client and activation against the stateful fake, whose every PUT is
//! checked against the `updateApplication` request schema in Vonage's spec.

use std::time::Duration;

use integration_tests::applications_fake::{ApplicationsFake, FakeQuirks, put_application_schema};
use serde_json::{Value, json};
use vonage_voice_lambda::applications::drift::{Repair, check_drift};
use vonage_voice_lambda::applications::{
    ActivationError, ActivationOutcome, ApiCredentials, ApplicationsApi, ApplicationsError,
    HttpApplicationsApi, SignedCallbacks, WebhookTargets, activate,
};
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

const APP_ID: &str = "aaaaaaaa-bbbb-cccc-dddd-0123456789ab";
const API_KEY: &str = "a1b2c3d4";
const API_SECRET: &str = "Sup3rS3cretApiSecret";
const ANSWER: &str = "https://abc123.execute-api.eu-west-1.amazonaws.com/answer";
const EVENT: &str = "https://abc123.execute-api.eu-west-1.amazonaws.com/event";

/// An application using voice, messages, rtc, vbc, video and meetings, with fields the spec lists
/// and one it does not, and signed callbacks dropped (as after a Dashboard edit).
fn rich_application() -> Value {
    json!({
        "id": APP_ID,
        "name": "Alerts (production)",
        "keys": {"public_key": "-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkqhkiG9w0BAQEFAAOCA\n-----END PUBLIC KEY-----\n"},
        "capabilities": {
            "voice": {
                "webhooks": {
                    "answer_url": {"address": "https://old.example.com/answer", "http_method": "GET", "connect_timeout": 500, "socket_timeout": 3000},
                    "fallback_answer_url": {"address": "https://fallback.example.com/answer", "http_method": "GET", "connect_timeout": 1000, "socket_timeout": 5000},
                    "event_url": {"address": "https://old.example.com/event", "http_method": "POST", "connect_timeout": 1000, "socket_timeout": 10000}
                },
                "conversations_ttl": 48,
                "leg_persistence_time": 7,
                "region": "eu-west"
            },
            "messages": {
                "webhooks": {
                    "inbound_url": {"address": "https://example.com/webhooks/inbound", "http_method": "POST"},
                    "status_url": {"address": "https://example.com/webhooks/status", "http_method": "POST"}
                },
                "version": "v1",
                "authenticate_inbound_media": true
            },
            "rtc": {
                "webhooks": {"event_url": {"address": "https://example.com/webhooks/rtc", "http_method": "POST"}},
                "signed_callbacks": false
            },
            "vbc": {},
            "video": {
                "webhooks": {"archive_status": {"address": "https://example.com/webhooks/archive", "active": true}},
                "storage": {"server_side_encryption": false, "end_to_end_encryption": false}
            }
        },
        "privacy": {"improve_ai": false},
        "_links": {"self": {"href": format!("/v2/applications/{APP_ID}")}}
    })
}

fn targets() -> WebhookTargets {
    WebhookTargets {
        answer_url: Some(ANSWER.into()),
        event_url: Some(EVENT.into()),
        fallback_answer_url: None,
    }
}

fn client(base_url: &str, api_secret: &str) -> HttpApplicationsApi {
    HttpApplicationsApi::new(
        base_url,
        ApiCredentials::new(API_KEY, api_secret),
        Duration::from_secs(5),
    )
    .unwrap()
}

async fn fake(application: Value, quirks: FakeQuirks) -> ApplicationsFake {
    ApplicationsFake::start(APP_ID, API_KEY, API_SECRET, application, quirks).await
}

#[test]
fn the_put_schema_check_resolves_refs_and_catches_what_vonage_would_refuse() {
    let schema = put_application_schema();
    let mut valid = rich_application();
    valid["capabilities"]["voice"]["signed_callbacks"] = json!(true);
    assert_eq!(schema.violations(&valid), Vec::<String>::new());

    let broken = |pointer: &str, value: Value| {
        let mut body = valid.clone();
        *body.pointer_mut(pointer).unwrap() = value;
        schema.violations(&body)
    };
    // The spec's `default: 'true'` is a string; the schema's type is boolean. A string is refused.
    let string_flag = broken("/capabilities/voice/signed_callbacks", json!("true"));
    assert_eq!(string_flag.len(), 1, "{string_flag:?}");
    assert!(string_flag[0].starts_with("/capabilities/voice/signed_callbacks"));
    // `region` is a `$ref` to VoiceRegion's enum, `video` a `$ref` to VideoResponse: both resolved.
    assert_eq!(broken("/capabilities/voice/region", json!("mars")).len(), 1);
    assert_eq!(
        broken(
            "/capabilities/video/storage/server_side_encryption",
            json!("yes")
        )
        .len(),
        1
    );
    assert_eq!(
        broken(
            "/capabilities/voice/webhooks/answer_url/http_method",
            json!("PATCH")
        )
        .len(),
        1
    );
    assert_eq!(
        broken(
            "/capabilities/voice/webhooks/answer_url/connect_timeout",
            json!(100)
        )
        .len(),
        1
    );
    let mut nameless = valid.clone();
    nameless.as_object_mut().unwrap().remove("name");
    assert_eq!(schema.violations(&nameless).len(), 1);
}

#[tokio::test]
async fn activation_round_trips_a_rich_application_changing_only_the_intended_fields() {
    let fake = fake(rich_application(), FakeQuirks::default()).await;
    let api = client(&fake.base_url(), API_SECRET);

    let outcome = activate(&api, APP_ID, &targets(), false).await.unwrap();
    let ActivationOutcome::Applied { changes, status } = outcome else {
        panic!("expected Applied, got {outcome:?}");
    };
    assert!(status.is_healthy(), "{status:?}");
    assert_eq!(
        changes.iter().map(ToString::to_string).collect::<Vec<_>>(),
        [
            "capabilities.voice.signed_callbacks: (absent) -> true".to_owned(),
            format!(
                "capabilities.voice.webhooks.answer_url.address: \"https://old.example.com/answer\" -> \"{ANSWER}\""
            ),
            format!(
                "capabilities.voice.webhooks.event_url.address: \"https://old.example.com/event\" -> \"{EVENT}\""
            ),
        ]
    );

    let mut expected = rich_application();
    expected["capabilities"]["voice"]["webhooks"]["answer_url"]["address"] = json!(ANSWER);
    expected["capabilities"]["voice"]["webhooks"]["event_url"]["address"] = json!(EVENT);
    expected["capabilities"]["voice"]["signed_callbacks"] = json!(true);
    let puts = fake.puts();
    assert_eq!(puts.len(), 1);
    // Compared as text, so key order counts too; rtc's own signed_callbacks stays false.
    assert_eq!(puts[0].to_string(), expected.to_string());
    assert_eq!(fake.violations(), Vec::<String>::new());
    assert_eq!(fake.application(), expected);
    let path = format!("/v2/applications/{APP_ID}");
    assert_eq!(
        fake.requests().await,
        [
            format!("GET {path}"),
            format!("PUT {path}"),
            format!("GET {path}")
        ]
    );

    let again = activate(&api, APP_ID, &targets(), false).await.unwrap();
    assert!(matches!(again, ActivationOutcome::AlreadyInPlace(_)));
    assert_eq!(fake.puts().len(), 1, "a second activation sends no PUT");
    assert_eq!(fake.requests().await.len(), 4);
}

#[tokio::test]
async fn a_dry_run_reads_but_never_writes() {
    let fake = fake(rich_application(), FakeQuirks::default()).await;
    let api = client(&fake.base_url(), API_SECRET);
    let outcome = activate(&api, APP_ID, &targets(), true).await.unwrap();
    let ActivationOutcome::DryRun(plan) = outcome else {
        panic!("expected a dry run, got {outcome:?}");
    };
    assert_eq!(plan.changes.len(), 3);
    assert_eq!(
        fake.requests().await,
        [format!("GET /v2/applications/{APP_ID}")]
    );
    assert_eq!(fake.application(), rich_application());
}

#[tokio::test]
async fn the_string_true_counts_as_on_and_goes_back_as_a_boolean() {
    let mut application = rich_application();
    application["capabilities"]["voice"]["signed_callbacks"] = json!(true);
    let fake = fake(
        application,
        FakeQuirks {
            signed_callbacks_as_string: true,
            ..FakeQuirks::default()
        },
    )
    .await;
    let api = client(&fake.base_url(), API_SECRET);

    let unchanged = WebhookTargets::default();
    let outcome = activate(&api, APP_ID, &unchanged, false).await.unwrap();
    assert!(
        matches!(&outcome, ActivationOutcome::AlreadyInPlace(status) if status.signed_callbacks == SignedCallbacks::On),
        "{outcome:?}"
    );
    assert!(fake.puts().is_empty());

    // Moving the webhooks needs a PUT: it must carry the boolean the schema requires.
    activate(&api, APP_ID, &targets(), false).await.unwrap();
    let puts = fake.puts();
    assert_eq!(puts.len(), 1);
    assert_eq!(
        puts[0]["capabilities"]["voice"]["signed_callbacks"],
        json!(true)
    );
    assert_eq!(fake.violations(), Vec::<String>::new());
}

#[tokio::test]
async fn a_put_that_does_not_stick_is_reported_not_claimed() {
    let fake = fake(
        rich_application(),
        FakeQuirks {
            drop_signed_callbacks_on_put: true,
            ..FakeQuirks::default()
        },
    )
    .await;
    let api = client(&fake.base_url(), API_SECRET);
    let error = activate(&api, APP_ID, &targets(), false).await.unwrap_err();
    assert!(
        matches!(&error, ActivationError::NotConfirmed { problems } if problems.len() == 1),
        "{error:?}"
    );
    assert!(error.to_string().contains("signed_callbacks is missing"));
}

#[tokio::test]
async fn bad_credentials_unknown_applications_and_dead_hosts_get_their_own_errors() {
    let fake = fake(rich_application(), FakeQuirks::default()).await;

    let wrong_secret = client(&fake.base_url(), "not-the-secret");
    let error = get_error(&wrong_secret, APP_ID).await;
    assert_eq!(error, ApplicationsError::BadCredentials);
    assert!(error.to_string().contains("401"));

    let api = client(&fake.base_url(), API_SECRET);
    let error = get_error(&api, "no-such-app").await;
    assert_eq!(
        error,
        ApplicationsError::UnknownApplication {
            application_id: "no-such-app".into()
        }
    );
    assert!(error.to_string().contains("no-such-app"));

    // A port that was free a moment ago: nothing listens there.
    let closed = format!("http://127.0.0.1:{}", integration_tests::free_port());
    let error = get_error(&client(&closed, API_SECRET), APP_ID).await;
    let ApplicationsError::Network(problem) = &error else {
        panic!("expected a network error, got {error:?}");
    };
    let problem = problem.as_str();
    assert!(problem.contains("127.0.0.1"), "{problem}");
    assert!(
        problem.to_ascii_lowercase().contains("connect"),
        "the cause is named: {problem}"
    );

    for error in [
        ApplicationsError::BadCredentials,
        error,
        ApplicationsError::UnknownApplication {
            application_id: "x".into(),
        },
    ] {
        assert!(!error.to_string().contains(API_SECRET));
        assert!(!format!("{error:?}").contains(API_SECRET));
    }
}

#[tokio::test]
async fn other_statuses_are_reported_with_the_body_and_without_the_secret() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(503)
                .set_body_string(format!("upstream said no to {API_KEY}:{API_SECRET}")),
        )
        .mount(&server)
        .await;
    let error = get_error(&client(&server.uri(), API_SECRET), APP_ID).await;
    assert_eq!(
        error,
        ApplicationsError::Unexpected {
            status: 503,
            body: format!("upstream said no to {API_KEY}:<redacted>")
        }
    );
}

#[tokio::test]
async fn the_drift_check_sees_a_dashboard_edit_and_repairs_it_only_when_asked() {
    let mut healthy = rich_application();
    healthy["capabilities"]["voice"]["signed_callbacks"] = json!(true);
    healthy["capabilities"]["voice"]["webhooks"]["answer_url"]["address"] = json!(ANSWER);
    healthy["capabilities"]["voice"]["webhooks"]["event_url"]["address"] = json!(EVENT);
    let fake = fake(healthy.clone(), FakeQuirks::default()).await;
    let api = client(&fake.base_url(), API_SECRET);

    let report = check_drift(&api, APP_ID, &targets(), true).await.unwrap();
    assert_eq!(report.repair, Repair::NotNeeded);

    // Someone renames the application in the Dashboard: the preview drops signed_callbacks.
    let mut edited = healthy.clone();
    edited["name"] = json!("Alerts (prod)");
    edited["capabilities"]["voice"]
        .as_object_mut()
        .unwrap()
        .remove("signed_callbacks");
    fake.set_application(edited.clone());

    let report = check_drift(&api, APP_ID, &targets(), false).await.unwrap();
    assert_eq!(report.found.signed_callbacks, SignedCallbacks::Missing);
    assert_eq!(report.repair, Repair::Disabled);
    assert!(fake.puts().is_empty());

    let report = check_drift(&api, APP_ID, &targets(), true).await.unwrap();
    assert!(matches!(&report.repair, Repair::Applied { changes } if changes.len() == 1));
    let mut repaired = edited;
    repaired["capabilities"]["voice"]["signed_callbacks"] = json!(true);
    assert_eq!(fake.application().to_string(), repaired.to_string());
    assert_eq!(fake.violations(), Vec::<String>::new());
}

/// The error `get_application` ends in, for tests that expect one.
async fn get_error(api: &HttpApplicationsApi, id: &str) -> ApplicationsError {
    match api.get_application(id).await {
        Ok(application) => panic!("expected an error, got {application}"),
        Err(error) => error,
    }
}

/// The first object in Vonage's spec whose `properties` has `webhook`, and in it the `default`
/// of its `socket_timeout`.
fn spec_socket_default(spec: &Value, webhook: &str) -> Option<u64> {
    match spec {
        Value::Object(object) => {
            if let Some(found) = object
                .get("properties")
                .and_then(|properties| properties.get(webhook))
                .and_then(|webhook| webhook.pointer("/properties/socket_timeout/default"))
                .and_then(Value::as_u64)
            {
                return Some(found);
            }
            object
                .values()
                .find_map(|value| spec_socket_default(value, webhook))
        }
        Value::Array(values) => values
            .iter()
            .find_map(|value| spec_socket_default(value, webhook)),
        _ => None,
    }
}

#[test]
fn the_contract_uses_the_socket_timeouts_vonages_spec_defaults_to() {
    use vonage_voice_lambda::applications::contract;
    let spec = integration_tests::spec_schema::read_vonage_spec("application.v2.yml");
    assert_eq!(
        spec_socket_default(&spec, "answer_url"),
        Some(contract::DEFAULT_ANSWER_SOCKET_TIMEOUT_MS)
    );
    assert_eq!(
        spec_socket_default(&spec, "event_url"),
        Some(contract::DEFAULT_EVENT_SOCKET_TIMEOUT_MS)
    );
    assert_eq!(
        spec_socket_default(&spec, "fallback_answer_url"),
        Some(contract::DEFAULT_FALLBACK_SOCKET_TIMEOUT_MS)
    );
}

#[tokio::test]
async fn the_drift_check_reports_vonages_timeouts_and_fallback_against_the_functions() {
    use vonage_voice_lambda::applications::ContractProblem;
    let mut application = rich_application();
    let voice = &mut application["capabilities"]["voice"];
    voice["signed_callbacks"] = json!(true);
    voice["webhooks"]["answer_url"]["address"] = json!(ANSWER);
    voice["webhooks"]["event_url"]["address"] = json!(EVENT);
    voice["webhooks"]["event_url"]["socket_timeout"] = json!(5000);
    voice["webhooks"]["fallback_answer_url"] =
        json!({"address": "https://elsewhere.example.com/fallback", "http_method": "GET"});
    assert_eq!(
        put_application_schema().violations(&application),
        Vec::<String>::new(),
        "settings Vonage accepts"
    );
    let fake = fake(application, FakeQuirks::default()).await;
    let api = client(&fake.base_url(), API_SECRET);

    let report = check_drift(&api, APP_ID, &targets(), true).await.unwrap();
    assert!(report.found.is_healthy(), "signed and pointing here");
    assert_eq!(
        report.repair,
        Repair::NotNeeded,
        "no repair changes Vonage's timeouts"
    );
    assert_eq!(
        report.found.contract.problems,
        [
            ContractProblem::FunctionOutlastsSocket {
                webhook: "event_url",
                function_timeout_ms: 6000,
                socket_timeout_ms: 5000
            },
            ContractProblem::FallbackOutsideStack {
                address: "https://elsewhere.example.com/fallback".into(),
                stack_origin: "https://abc123.execute-api.eu-west-1.amazonaws.com".into()
            }
        ]
    );
    assert_eq!(report.found.report_problems().len(), 2);
    assert!(fake.puts().is_empty());
}
