use super::*;
use crate::applications::{ApplicationStatus, FieldChange};

fn settings_with<'a>(extra: &[(&'a str, &'a str)]) -> std::collections::HashMap<String, String> {
    [("VONAGE_APPLICATION_SECRET_ID", "arn:secret:app")]
        .iter()
        .chain(extra)
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

#[test]
fn settings_have_safe_defaults_and_name_the_bad_variable() {
    let config = DriftCheckConfig::from_settings(&settings_with(&[])).unwrap();
    assert_eq!(config.api_base_url, DEFAULT_API_BASE_URL);
    assert_eq!(config.targets, WebhookTargets::default());
    assert!(!config.auto_repair, "repair is opt-in");

    let config = DriftCheckConfig::from_settings(&settings_with(&[
        (
            "EXPECTED_ANSWER_URL",
            "https://x.execute-api.eu-west-1.amazonaws.com/answer",
        ),
        (
            "EXPECTED_EVENT_URL",
            "https://x.execute-api.eu-west-1.amazonaws.com/event/",
        ),
        ("DRIFT_AUTO_REPAIR", "true"),
        ("VONAGE_API_BASE_URL", "https://api-eu-3.vonage.com"),
    ]))
    .unwrap();
    assert!(config.auto_repair);
    assert_eq!(config.api_base_url, "https://api-eu-3.vonage.com");
    assert_eq!(
        config.targets.event_url.as_deref(),
        Some("https://x.execute-api.eu-west-1.amazonaws.com/event")
    );

    assert_eq!(
        DriftCheckConfig::from_settings(&std::collections::HashMap::<String, String>::new()),
        Err(ConfigError::Missing {
            name: "VONAGE_APPLICATION_SECRET_ID"
        })
    );
    for (name, value) in [
        ("DRIFT_AUTO_REPAIR", "sometimes"),
        ("EXPECTED_ANSWER_URL", "x.example.com/answer"),
    ] {
        let error = DriftCheckConfig::from_settings(&settings_with(&[(name, value)])).unwrap_err();
        assert!(error.to_string().contains(name), "{error}");
    }
}

fn run_with(application: Value, repair: Repair) -> Result<DriftCheckRun, DriftCheckError> {
    let targets = WebhookTargets {
        answer_url: Some("https://x/answer".into()),
        event_url: None,
        fallback_answer_url: None,
    };
    Ok(DriftCheckRun {
        application_id: "app-1".into(),
        report: DriftReport {
            found: ApplicationStatus::evaluate(&application, &targets),
            repair,
        },
    })
}

/// One run's metric values as a JSON object, by name.
fn values(outcome: &Result<DriftCheckRun, DriftCheckError>) -> Value {
    Value::Object(
        metric_values(outcome)
            .into_iter()
            .map(|(name, value)| (name.to_owned(), json!(value)))
            .collect(),
    )
}

#[test]
fn the_metrics_count_drift_and_repairs() {
    let dropped = json!({"capabilities": {"voice": {"webhooks": {"answer_url": {"address": "https://elsewhere/answer"}}}}});
    let outcome = run_with(dropped, Repair::Disabled);
    let document = values(&outcome);
    assert_eq!(document["DriftFound"], 1);
    assert_eq!(document["SignedCallbacksOff"], 1);
    assert_eq!(document["WebhookMismatches"], 1);
    assert_eq!(document["DriftRepaired"], 0);
    assert_eq!(document["DriftCheckFailed"], 0);

    let healthy = json!({"capabilities": {"voice": {"signed_callbacks": "true", "webhooks": {"answer_url": {"address": "https://x/answer"}}}}});
    let document = values(&run_with(healthy, Repair::NotNeeded));
    assert_eq!(document["SignedCallbacksOff"], 0);
    assert_eq!(document["WebhookMismatches"], 0);
    assert_eq!(document["DriftFound"], 0);

    let repaired = Repair::Applied {
        changes: vec![FieldChange {
            path: "capabilities.voice.signed_callbacks".into(),
            before: None,
            after: json!(true),
        }],
    };
    let outcome = run_with(json!({"capabilities": {"voice": {}}}), repaired);
    let document = values(&outcome);
    assert_eq!(document["DriftRepaired"], 1);
    assert_eq!(
        document["SignedCallbacksOff"], 1,
        "what was found is still counted"
    );
    let summary = summary(outcome.as_ref().unwrap());
    assert_eq!(summary["repair"], "applied");
    assert_eq!(
        summary["changes"][0],
        "capabilities.voice.signed_callbacks: (absent) -> true"
    );
}

#[test]
fn a_failed_check_is_a_metric_too() {
    let error = DriftCheckError::from(ApplicationsError::BadCredentials);
    assert_eq!(error.kind(), "bad_credentials");
    let document = values(&Err(error));
    assert_eq!(document["DriftCheckFailed"], 1);
    assert!(document.get("SignedCallbacksOff").is_none());
}
