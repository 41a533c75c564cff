//! Activation and the drift check against an in-memory Applications API.

use super::*;

/// An in-memory Applications API that stores what is PUT, or ignores it like a server that drops
/// the field.
struct InMemoryApplications {
    application: Mutex<Value>,
    puts: Mutex<Vec<Value>>,
    ignore_puts: bool,
}

impl InMemoryApplications {
    fn new(application: Value) -> Self {
        Self {
            application: Mutex::new(application),
            puts: Mutex::new(Vec::new()),
            ignore_puts: false,
        }
    }

    fn puts(&self) -> Vec<Value> {
        self.puts.lock().unwrap().clone()
    }
}

#[async_trait::async_trait]
impl ApplicationsApi for InMemoryApplications {
    async fn get_application(&self, application_id: &str) -> Result<Value, ApplicationsError> {
        if application_id != "app-1" {
            return Err(ApplicationsError::UnknownApplication {
                application_id: application_id.into(),
            });
        }
        Ok(self.application.lock().unwrap().clone())
    }

    async fn put_application(
        &self,
        _application_id: &str,
        application: &Value,
    ) -> Result<Value, ApplicationsError> {
        self.puts.lock().unwrap().push(application.clone());
        if !self.ignore_puts {
            *self.application.lock().unwrap() = application.clone();
        }
        Ok(application.clone())
    }
}

#[tokio::test]
async fn activate_puts_once_confirms_and_then_has_nothing_to_do() {
    let api = InMemoryApplications::new(seed_application());

    let dry = activate(&api, "app-1", &targets(), true).await.unwrap();
    assert!(matches!(&dry, ActivationOutcome::DryRun(plan) if plan.changes.len() == 3));
    assert!(api.puts().is_empty(), "a dry run sends no PUT");

    let applied = activate(&api, "app-1", &targets(), false).await.unwrap();
    let ActivationOutcome::Applied { changes, status } = applied else {
        panic!("expected Applied, got {applied:?}");
    };
    assert_eq!(changes.len(), 3);
    assert!(status.is_healthy());
    assert_eq!(api.puts().len(), 1);

    let again = activate(&api, "app-1", &targets(), false).await.unwrap();
    assert!(matches!(again, ActivationOutcome::AlreadyInPlace(status) if status.is_healthy()));
    assert_eq!(api.puts().len(), 1, "the second run sends no PUT");
}

#[tokio::test]
async fn activate_reports_a_put_that_did_not_stick() {
    let api = InMemoryApplications {
        ignore_puts: true,
        ..InMemoryApplications::new(seed_application())
    };
    let error = activate(&api, "app-1", &Default::default(), false)
        .await
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "the update was accepted, but reading the application back shows: signed callbacks are off \
         (signed_callbacks is missing, as after an edit in the Dashboard)"
    );
    assert_eq!(api.puts().len(), 1);
}

#[tokio::test]
async fn activate_passes_api_errors_through() {
    let api = InMemoryApplications::new(seed_application());
    assert_eq!(
        activate(&api, "other", &Default::default(), false).await,
        Err(ActivationError::Api(
            ApplicationsError::UnknownApplication {
                application_id: "other".into()
            }
        ))
    );
}

#[tokio::test]
async fn drift_is_reported_and_repaired_only_when_asked() {
    let healthy = InMemoryApplications::new(with_signed_callbacks(json!(true)));
    let report = check_drift(&healthy, "app-1", &Default::default(), true)
        .await
        .unwrap();
    assert_eq!(report.repair, Repair::NotNeeded);
    assert!(healthy.puts().is_empty());

    let drifted = InMemoryApplications::new(seed_application());
    let report = check_drift(&drifted, "app-1", &Default::default(), false)
        .await
        .unwrap();
    assert_eq!(report.found.signed_callbacks, SignedCallbacks::Missing);
    assert_eq!(report.repair, Repair::Disabled);
    assert!(drifted.puts().is_empty());

    let report = check_drift(&drifted, "app-1", &Default::default(), true)
        .await
        .unwrap();
    assert_eq!(report.found.signed_callbacks, SignedCallbacks::Missing);
    assert!(matches!(&report.repair, Repair::Applied { changes } if changes.len() == 1));
    assert_eq!(drifted.puts().len(), 1);

    let stubborn = InMemoryApplications {
        ignore_puts: true,
        ..InMemoryApplications::new(seed_application())
    };
    let report = check_drift(&stubborn, "app-1", &Default::default(), true)
        .await
        .unwrap();
    assert!(
        matches!(&report.repair, Repair::Failed { problem } if problem.contains("reading the application back")),
        "{report:?}"
    );
}
