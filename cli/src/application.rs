//! `activate` and `status`: the Applications API side.

use std::io::Write;

use vonage_voice_lambda::applications::{
    ActivationOutcome, ApiCredentials, ApplicationApiAccess, ApplicationStatus, ApplicationsApi,
    HttpApplicationsApi, WebhookTargets,
};

use crate::{ApplicationArgs, CliError, Verdict, given, print, read_current_secret, timeout};
use vonage_voice_lambda::settings::{
    VONAGE_API_KEY, VONAGE_API_SECRET, VONAGE_APPLICATION_ID, VONAGE_APPLICATION_SECRET_ID,
};

/// The application id and credentials: flags and environment first, then the stack's
/// application secret for whatever they leave out.
async fn access(args: &ApplicationArgs) -> Result<ApplicationApiAccess, CliError> {
    let application_id = given(&args.application_id);
    let api_key = given(&args.api_key);
    let api_secret = given(&args.api_secret);
    if let (Some(application_id), Some(key), Some(secret)) =
        (&application_id, &api_key, &api_secret)
    {
        return Ok(ApplicationApiAccess {
            application_id: application_id.clone(),
            credentials: ApiCredentials::new(key, secret),
        });
    }
    let Some(secret_id) = given(&args.secret_id) else {
        let missing = |name: &str, flag: &str, variable: &str| {
            CliError::Usage(format!(
                "no {name}: give {flag} or set {variable}, or point --secret-id \
                 ({VONAGE_APPLICATION_SECRET_ID}) at the stack's application secret"
            ))
        };
        return Err(if application_id.is_none() {
            missing("application id", "--application-id", VONAGE_APPLICATION_ID)
        } else if api_key.is_none() {
            missing("API key", "--api-key", VONAGE_API_KEY)
        } else {
            missing("API secret", "--api-secret", VONAGE_API_SECRET)
        });
    };
    let document = read_current_secret(&secret_id).await?;
    let from_secret = ApplicationApiAccess::from_secret_json(&document).map_err(|problem| {
        CliError::Secrets(format!("the secret {secret_id} is not usable: {problem}"))
    })?;
    let credentials = match (api_key, api_secret) {
        (Some(key), Some(secret)) => ApiCredentials::new(key, secret),
        (None, Some(secret)) => ApiCredentials::new(from_secret.credentials.api_key(), secret),
        (Some(key), None) if key != from_secret.credentials.api_key() => {
            return Err(CliError::Usage(format!(
                "--api-key {key} is not the key in {secret_id}, whose API secret belongs to its \
                 own key: give --api-secret too"
            )));
        }
        (_, None) => from_secret.credentials,
    };
    Ok(ApplicationApiAccess {
        application_id: application_id.unwrap_or(from_secret.application_id),
        credentials,
    })
}

fn targets(args: &ApplicationArgs) -> Result<WebhookTargets, CliError> {
    let url = |value: &Option<String>, flag: &str| -> Result<Option<String>, CliError> {
        match given(value) {
            None => Ok(None),
            Some(url) if url.starts_with("https://") || url.starts_with("http://") => Ok(Some(url)),
            Some(url) => Err(CliError::Usage(format!(
                "{flag} must be an absolute http(s) URL, got {url:?}"
            ))),
        }
    };
    Ok(WebhookTargets {
        answer_url: url(&args.answer_url, "--answer-url")?,
        event_url: url(&args.event_url, "--event-url")?,
        fallback_answer_url: url(&args.fallback_answer_url, "--fallback-answer-url")?,
    })
}

async fn connect(
    args: &ApplicationArgs,
) -> Result<(HttpApplicationsApi, String, WebhookTargets), CliError> {
    let targets = targets(args)?;
    let access = access(args).await?;
    let api = HttpApplicationsApi::new(
        &args.api_base_url,
        access.credentials,
        timeout(args.timeout_seconds),
    )?;
    Ok((api, access.application_id, targets))
}

pub(crate) async fn activate(
    args: &ApplicationArgs,
    dry_run: bool,
    out: &mut dyn Write,
) -> Result<Verdict, CliError> {
    let (api, application_id, targets) = connect(args).await?;
    let outcome =
        vonage_voice_lambda::applications::activate(&api, &application_id, &targets, dry_run)
            .await?;
    match outcome {
        ActivationOutcome::AlreadyInPlace(status) => {
            print(
                out,
                format_args!("application {application_id}: nothing to change, nothing sent"),
            )?;
            report_status(&status, out)?;
        }
        ActivationOutcome::DryRun(plan) => {
            print(
                out,
                format_args!(
                    "application {application_id}: {} change(s) to make",
                    plan.changes.len()
                ),
            )?;
            for change in &plan.changes {
                print(out, format_args!("  {change}"))?;
            }
            print(out, format_args!("the application after these changes:"))?;
            report_status(
                &ApplicationStatus::evaluate(&plan.application, &targets),
                out,
            )?;
            print(out, format_args!("dry run: nothing was sent"))?;
        }
        ActivationOutcome::Applied { changes, status } => {
            print(
                out,
                format_args!(
                    "application {application_id}: {} change(s) made",
                    changes.len()
                ),
            )?;
            for change in &changes {
                print(out, format_args!("  {change}"))?;
            }
            print(
                out,
                format_args!("confirmed by reading the application back:"),
            )?;
            report_status(&status, out)?;
        }
    }
    Ok(Verdict::Good)
}

pub(crate) async fn status(
    args: &ApplicationArgs,
    out: &mut dyn Write,
) -> Result<Verdict, CliError> {
    let (api, application_id, targets) = connect(args).await?;
    let application = api.get_application(&application_id).await?;
    let name = application
        .get("name")
        .and_then(|name| name.as_str())
        .unwrap_or("(no name)");
    print(out, format_args!("application {application_id} ({name})"))?;
    let status = ApplicationStatus::evaluate(&application, &targets);
    report_status(&status, out)?;
    if status.is_healthy() && status.contract.is_ok() {
        print(out, format_args!("ok"))?;
        Ok(Verdict::Good)
    } else {
        let problems = status.report_problems();
        print(
            out,
            format_args!(
                "NOT OK ({} problem(s)): {}",
                problems.len(),
                problems.join("; ")
            ),
        )?;
        Ok(Verdict::Wrong)
    }
}

fn report_status(status: &ApplicationStatus, out: &mut dyn Write) -> Result<(), CliError> {
    print(
        out,
        format_args!("  signed callbacks: {}", status.signed_callbacks),
    )?;
    print(out, format_args!("  {}", status.answer_url))?;
    print(out, format_args!("  {}", status.event_url))?;
    if status.fallback_answer_url.expected.is_some() {
        print(out, format_args!("  {}", status.fallback_answer_url))?;
    }
    let contract = &status.contract;
    for timing in [
        Some(&contract.answer),
        Some(&contract.event),
        contract.fallback.as_ref(),
    ]
    .into_iter()
    .flatten()
    {
        print(out, format_args!("  {timing}"))?;
    }
    if contract.fallback.is_none() {
        print(
            out,
            format_args!("  fallback_answer_url: (not set: a failed answer webhook ends the call)"),
        )?;
    }
    for problem in &contract.problems {
        print(out, format_args!("  PROBLEM: {problem}"))?;
    }
    Ok(())
}
