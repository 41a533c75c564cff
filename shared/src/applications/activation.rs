//! Activation: the plan that turns signed callbacks on and points the webhooks here, and its
//! application through the API, read back to confirm.

use serde_json::{Map, Value};

use super::*;

/// The whole application to PUT, and what in it differs from what was read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ActivationPlan {
    /// Every field the PUT changes, with its value before and after.
    pub changes: Vec<FieldChange>,
    /// The whole application as it will be PUT.
    pub application: Value,
}

impl ActivationPlan {
    /// Nothing to change: a PUT would be a no-op, so none is sent.
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
/// Why no plan could be made: the application's shape would have to be overwritten.
pub enum PlanError {
    #[error("the application is not a JSON object")]
    /// The application is not a JSON object.
    NotAnObject,
    #[error("`{path}` is not a JSON object, so it cannot be changed without losing data")]
    /// Something other than an object stands where the plan needs one.
    NotAnObjectAt {
        /// Where, as a dotted path.
        path: String,
    },
    #[error(
        "the application has no voice capability; give both the answer and the event URL to add one"
    )]
    /// The application has no voice capability and not both webhook URLs to create one.
    NoVoiceCapability,
}

/// The application with signed callbacks on and the webhooks at `targets`, every other field and
/// every key's position untouched.
///
/// `signed_callbacks` already reading `"true"` (a string) counts as on and alone causes no PUT; when
/// a PUT is sent anyway it goes out as the boolean the request schema requires. A webhook object
/// created from nothing gets Vonage's usual method: GET for answer, POST for events.
pub fn plan_activation(
    current: &Value,
    targets: &WebhookTargets,
) -> Result<ActivationPlan, PlanError> {
    let mut application = current.clone();
    let root = application.as_object_mut().ok_or(PlanError::NotAnObject)?;
    let has_voice = current.pointer("/capabilities/voice").is_some();
    if !has_voice && (targets.answer_url.is_none() || targets.event_url.is_none()) {
        return Err(PlanError::NoVoiceCapability);
    }
    let capabilities = child_object(root, "capabilities", "capabilities")?;
    let voice = child_object(capabilities, "voice", "capabilities.voice")?;

    let mut changes = Vec::new();
    for (name, url, method) in [
        ("answer_url", &targets.answer_url, "GET"),
        ("event_url", &targets.event_url, "POST"),
        ("fallback_answer_url", &targets.fallback_answer_url, "GET"),
    ] {
        if let Some(url) = url {
            point_webhook(voice, name, url, method, &mut changes)?;
        }
    }

    let signed = voice.get("signed_callbacks").cloned();
    let is_boolean_true = signed == Some(Value::Bool(true));
    let reads_on = SignedCallbacks::of(current).is_on();
    if !is_boolean_true && (!reads_on || !changes.is_empty()) {
        voice.insert("signed_callbacks".into(), Value::Bool(true));
        changes.insert(
            0,
            FieldChange {
                path: "capabilities.voice.signed_callbacks".into(),
                before: signed,
                after: Value::Bool(true),
            },
        );
    }
    Ok(ActivationPlan {
        changes,
        application,
    })
}

/// The object under `key`, created empty when absent; refuses to overwrite a non-object.
fn child_object<'a>(
    parent: &'a mut Map<String, Value>,
    key: &str,
    path: &str,
) -> Result<&'a mut Map<String, Value>, PlanError> {
    parent
        .entry(key)
        .or_insert_with(|| Value::Object(Map::new()))
        .as_object_mut()
        .ok_or_else(|| PlanError::NotAnObjectAt { path: path.into() })
}

fn point_webhook(
    voice: &mut Map<String, Value>,
    name: &str,
    url: &str,
    method_when_new: &str,
    changes: &mut Vec<FieldChange>,
) -> Result<(), PlanError> {
    let webhooks = child_object(voice, "webhooks", "capabilities.voice.webhooks")?;
    let path = format!("capabilities.voice.webhooks.{name}");
    match webhooks.get_mut(name) {
        None => {
            let mut webhook = Map::new();
            webhook.insert("address".into(), Value::String(url.into()));
            webhook.insert("http_method".into(), Value::String(method_when_new.into()));
            let webhook = Value::Object(webhook);
            webhooks.insert(name.into(), webhook.clone());
            changes.push(FieldChange {
                path,
                before: None,
                after: webhook,
            });
        }
        Some(Value::Object(webhook)) => {
            let before = webhook.get("address").cloned();
            if before.as_ref().and_then(Value::as_str) != Some(url) {
                webhook.insert("address".into(), Value::String(url.into()));
                changes.push(FieldChange {
                    path: format!("{path}.address"),
                    before,
                    after: Value::String(url.into()),
                });
            }
        }
        Some(_) => return Err(PlanError::NotAnObjectAt { path }),
    }
    Ok(())
}

/// What `activate` did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ActivationOutcome {
    /// Signed callbacks were on and the webhooks in place: nothing was sent.
    AlreadyInPlace(ApplicationStatus),
    /// Dry run: the plan, nothing sent.
    DryRun(ActivationPlan),
    /// The PUT went out and a fresh GET confirmed it.
    Applied {
        /// The fields the PUT changed.
        changes: Vec<FieldChange>,
        /// The application as read back after the PUT.
        status: ApplicationStatus,
    },
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
/// Why activation did not complete.
pub enum ActivationError {
    #[error(transparent)]
    /// The Applications API failed or refused.
    Api(#[from] ApplicationsError),
    #[error(transparent)]
    /// No plan could be made for this application.
    Plan(#[from] PlanError),
    #[error("the update was accepted, but reading the application back shows: {}", .problems.join("; "))]
    /// The PUT was accepted but the application read back still differs.
    NotConfirmed {
        /// What still differs.
        problems: Vec<String>,
    },
}

/// GET, turn signed callbacks on (and point the webhooks at `targets`), PUT the whole application
/// back, GET again to confirm. Sends no PUT when nothing would change or when `dry_run`.
pub async fn activate(
    api: &dyn ApplicationsApi,
    application_id: &str,
    targets: &WebhookTargets,
    dry_run: bool,
) -> Result<ActivationOutcome, ActivationError> {
    let current = api.get_application(application_id).await?;
    let plan = plan_activation(&current, targets)?;
    if plan.is_empty() {
        return Ok(ActivationOutcome::AlreadyInPlace(
            ApplicationStatus::evaluate(&current, targets),
        ));
    }
    if dry_run {
        return Ok(ActivationOutcome::DryRun(plan));
    }
    apply(api, application_id, plan, targets).await
}

pub(super) async fn apply(
    api: &dyn ApplicationsApi,
    application_id: &str,
    plan: ActivationPlan,
    targets: &WebhookTargets,
) -> Result<ActivationOutcome, ActivationError> {
    api.put_application(application_id, &plan.application)
        .await?;
    let confirmed = api.get_application(application_id).await?;
    let status = ApplicationStatus::evaluate(&confirmed, targets);
    if !status.is_healthy() {
        return Err(ActivationError::NotConfirmed {
            problems: status.problems(),
        });
    }
    Ok(ActivationOutcome::Applied {
        changes: plan.changes,
        status,
    })
}
