//! The scheduled drift check: is the Vonage application still pointing at this stack with signed
//! callbacks on? The Developer Preview drops `signed_callbacks` whenever someone edits the
//! application in the Dashboard, and nothing else would tell us.
//!
//! Each run logs what it found and counts it through [`crate::observe::metrics`] (EMF, like
//! every function), so an alarm can fire on `DriftFound` or `DriftCheckFailed`. With
//! `DRIFT_AUTO_REPAIR=true` it also puts the application back, exactly as the CLI's `activate`.
//! The drift-check function only wires this module to the runtime.

use std::time::Duration;

use super::*;
use crate::deadline::{Budget, DeadlineExceeded};
use crate::observe::metrics;
use crate::observe::metrics::names::{
    DRIFT_CHECK_FAILED, DRIFT_FOUND, DRIFT_REPAIR_FAILED, DRIFT_REPAIRED, SIGNED_CALLBACKS_OFF,
    WEBHOOK_MISMATCHES,
};
use crate::secrets::{CURRENT, SecretDocumentError, SecretStore, SecretStoreError};
use crate::settings::{
    self, ConfigError, DEFAULT_API_BASE_URL, DRIFT_AUTO_REPAIR, EXPECTED_ANSWER_URL,
    EXPECTED_EVENT_URL, Settings, VONAGE_API_BASE_URL, VONAGE_APPLICATION_SECRET_ID,
};
use serde_json::{Value, json};

/// What the scheduled drift check found and did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DriftReport {
    /// The application as it was found.
    pub found: ApplicationStatus,
    /// What was done about it.
    pub repair: Repair,
}

#[derive(Clone, Debug, PartialEq, Eq)]
/// What the drift check did about drift.
pub enum Repair {
    /// Nothing had drifted.
    NotNeeded,
    /// Something had drifted and automatic repair is off.
    Disabled,
    /// The application was put back and a fresh GET confirmed it.
    /// The application was put back; these fields changed.
    Applied {
        /// The fields that changed.
        changes: Vec<FieldChange>,
    },
    /// Repair was tried and did not succeed.
    /// The repair was tried and failed.
    Failed {
        /// What went wrong.
        problem: String,
    },
}

/// Reads the application and, when it has drifted and `auto_repair` is on, puts it back the way
/// `activate` would. Only a failure to read the application is an error: a failed repair is part
/// of the report, so the drift itself is still logged and counted.
pub async fn check_drift(
    api: &dyn ApplicationsApi,
    application_id: &str,
    targets: &WebhookTargets,
    auto_repair: bool,
) -> Result<DriftReport, ApplicationsError> {
    let current = api.get_application(application_id).await?;
    let found = ApplicationStatus::evaluate(&current, targets);
    let repair = if found.is_healthy() {
        Repair::NotNeeded
    } else if !auto_repair {
        Repair::Disabled
    } else {
        let applied = match plan_activation(&current, targets) {
            Ok(plan) => apply(api, application_id, plan, targets).await,
            Err(error) => Err(error.into()),
        };
        match applied {
            Ok(ActivationOutcome::Applied { changes, .. }) => Repair::Applied { changes },
            Ok(_) => Repair::NotNeeded,
            Err(error) => Repair::Failed {
                problem: error.to_string(),
            },
        }
    };
    Ok(DriftReport { found, repair })
}

/// Each Applications API request gets this long; the function's timeout is 30 s.
const API_TIMEOUT: Duration = Duration::from_secs(10);

/// The drift check's settings, read once at cold start.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DriftCheckConfig {
    /// `VONAGE_APPLICATION_SECRET_ID`: `{"application_id","private_key","api_key","api_secret"}`.
    pub application_secret_id: String,
    /// `VONAGE_API_BASE_URL`.
    pub api_base_url: String,
    /// `EXPECTED_ANSWER_URL` and `EXPECTED_EVENT_URL`; an unset one is not checked.
    pub targets: WebhookTargets,
    /// `DRIFT_AUTO_REPAIR` (default false).
    pub auto_repair: bool,
}

impl DriftCheckConfig {
    /// Reads drift-check's settings; an error names the setting to fix.
    pub fn from_settings(settings: &impl Settings) -> Result<Self, ConfigError> {
        Ok(Self {
            application_secret_id: settings::required(settings, VONAGE_APPLICATION_SECRET_ID)?,
            api_base_url: settings::url(settings, VONAGE_API_BASE_URL)?
                .unwrap_or_else(|| DEFAULT_API_BASE_URL.to_owned()),
            targets: WebhookTargets {
                answer_url: settings::url(settings, EXPECTED_ANSWER_URL)?,
                event_url: settings::url(settings, EXPECTED_EVENT_URL)?,
                fallback_answer_url: None,
            },
            auto_repair: settings::flag_or(settings, DRIFT_AUTO_REPAIR, false)?,
        })
    }
}

/// Why a run could not find out. None of these carries a secret.
#[derive(Debug, thiserror::Error)]
pub enum DriftCheckError {
    /// The secret store failed or refused the read.
    #[error("the application secret cannot be read: {0}")]
    SecretStore(#[from] SecretStoreError),
    /// The secret has no current version.
    #[error("the application secret cannot be read: it has no current version")]
    NoCurrentSecret,
    /// The secret's value is not the application's document.
    #[error("the application secret cannot be read: {0}")]
    SecretDocument(#[from] SecretDocumentError),
    #[error(transparent)]
    /// The invocation's deadline came first.
    DeadlineExceeded(#[from] DeadlineExceeded),
    #[error(transparent)]
    /// The Applications API failed or refused.
    Applications(#[from] ApplicationsError),
}

impl DriftCheckError {
    /// A stable name for logs.
    pub fn kind(&self) -> &'static str {
        match self {
            DriftCheckError::SecretStore(_)
            | DriftCheckError::NoCurrentSecret
            | DriftCheckError::SecretDocument(_) => "secret",
            DriftCheckError::DeadlineExceeded(_)
            | DriftCheckError::Applications(ApplicationsError::DeadlineExceeded(_)) => {
                "deadline_exceeded"
            }
            DriftCheckError::Applications(ApplicationsError::BadCredentials) => "bad_credentials",
            DriftCheckError::Applications(ApplicationsError::UnknownApplication { .. }) => {
                "unknown_application"
            }
            DriftCheckError::Applications(ApplicationsError::Network(_)) => "network",
            DriftCheckError::Applications(_) => "unexpected_response",
        }
    }
}

/// One run's result, with the application it concerned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DriftCheckRun {
    /// The application the run checked.
    pub application_id: String,
    /// What it found and did.
    pub report: DriftReport,
}

/// Reads the application secret (on every run: a daily check can afford it, and a rotated API
/// secret is used at once), then checks and, when configured, repairs. The secret read and each
/// Applications API call fit in `budget`, the invocation's time, so a run always ends with its
/// metric line and an answer instead of being stopped by Lambda.
pub async fn run_check(
    config: &DriftCheckConfig,
    secrets: &dyn SecretStore,
    budget: &Budget,
) -> Result<DriftCheckRun, DriftCheckError> {
    let document = budget
        .run(
            "reading the application secret",
            secrets.secret_string(&config.application_secret_id, CURRENT),
        )
        .await?
        .map_err(DriftCheckError::SecretStore)?
        .ok_or(DriftCheckError::NoCurrentSecret)?;
    let access = ApplicationApiAccess::from_secret_json(&document)
        .map_err(DriftCheckError::SecretDocument)?;
    let http = HttpApplicationsApi::new(&config.api_base_url, access.credentials, API_TIMEOUT)?;
    let api = WithinBudget { api: &http, budget };
    let report = check_drift(
        &api,
        &access.application_id,
        &config.targets,
        config.auto_repair,
    )
    .await?;
    Ok(DriftCheckRun {
        application_id: access.application_id,
        report,
    })
}

/// The metric values of one run, by name (see `crate::observe::metrics::names`).
pub fn metric_values(outcome: &Result<DriftCheckRun, DriftCheckError>) -> Vec<(&'static str, u64)> {
    match outcome {
        Ok(run) => {
            let found = &run.report.found;
            let repair = &run.report.repair;
            vec![
                (
                    DRIFT_FOUND,
                    u64::from(!found.is_healthy() || !found.contract.is_ok()),
                ),
                (
                    SIGNED_CALLBACKS_OFF,
                    u64::from(!found.signed_callbacks.is_on()),
                ),
                (WEBHOOK_MISMATCHES, found.mismatched_webhooks() as u64),
                (
                    DRIFT_REPAIRED,
                    u64::from(matches!(repair, Repair::Applied { .. })),
                ),
                (
                    DRIFT_REPAIR_FAILED,
                    u64::from(matches!(repair, Repair::Failed { .. })),
                ),
                (DRIFT_CHECK_FAILED, 0),
            ]
        }
        Err(_) => vec![(DRIFT_CHECK_FAILED, 1)],
    }
}

/// Counts one run's metrics; the function's invocation flushes them as EMF.
pub fn record_metrics(outcome: &Result<DriftCheckRun, DriftCheckError>) {
    for (name, value) in metric_values(outcome) {
        metrics::count_by(name, value);
    }
}

/// What the invocation returns (and what the log line carries).
pub fn summary(run: &DriftCheckRun) -> Value {
    let found = &run.report.found;
    let (repair, changes, problem) = match &run.report.repair {
        Repair::NotNeeded => ("not_needed", Vec::new(), None),
        Repair::Disabled => ("disabled", Vec::new(), None),
        Repair::Applied { changes } => (
            "applied",
            changes.iter().map(ToString::to_string).collect(),
            None,
        ),
        Repair::Failed { problem } => ("failed", Vec::new(), Some(problem.clone())),
    };
    json!({
        "application_id": run.application_id,
        "healthy": found.is_healthy(),
        "signed_callbacks": found.signed_callbacks.to_string(),
        "answer_url": found.answer_url.actual,
        "event_url": found.event_url.actual,
        "problems": found.problems(),
        "repair": repair,
        "changes": changes,
        "repair_problem": problem,
    })
}

/// Logs one line for the run: INFO when healthy or repaired, WARN on drift left as it is, ERROR
/// when the check or the repair failed.
pub fn log_outcome(outcome: &Result<DriftCheckRun, DriftCheckError>) {
    match outcome {
        Ok(run) => {
            let summary = summary(run).to_string();
            let contract = &run.report.found.contract;
            if !contract.is_ok() {
                let problems: Vec<String> =
                    contract.problems.iter().map(ToString::to_string).collect();
                tracing::warn!(
                    application_id = %run.application_id,
                    problems = %problems.join("; "),
                    "Vonage's webhook timeouts or fallback URL do not fit this stack; no repair changes them"
                );
            }
            let problems = run.report.found.problems().join("; ");
            match &run.report.repair {
                Repair::NotNeeded => tracing::info!(
                    application_id = %run.application_id,
                    summary = %summary,
                    "signed callbacks are on and the webhooks point here"
                ),
                Repair::Disabled => tracing::warn!(
                    application_id = %run.application_id,
                    summary = %summary,
                    problems = %problems,
                    "the application has drifted; DRIFT_AUTO_REPAIR is off, so it was left as it is"
                ),
                Repair::Applied { .. } => tracing::info!(
                    application_id = %run.application_id,
                    summary = %summary,
                    problems = %problems,
                    "the application had drifted and was put back"
                ),
                Repair::Failed { problem } => tracing::error!(
                    application_id = %run.application_id,
                    summary = %summary,
                    repair_problem = %problem,
                    "the application has drifted and could not be put back"
                ),
            }
        }
        Err(error) => tracing::error!(
            error_kind = error.kind(),
            error = %error,
            "the drift check could not read the application"
        ),
    }
}

#[cfg(test)]
mod tests;
