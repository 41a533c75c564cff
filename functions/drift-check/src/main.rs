//! drift-check: invoked daily by EventBridge Scheduler. Checks that the Vonage application has
//! signed callbacks on and its webhooks pointing at this stack, counts what it found (EMF), and
//! with `DRIFT_AUTO_REPAIR=true` puts the application back.
//!
//! Wiring only; the check lives in `vonage_voice_lambda::applications::drift`. A run that cannot read the application returns an error, so
//! Lambda's asynchronous retries try again (repair is idempotent) and its Errors metric counts it.

use std::sync::Arc;

use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::Value;
use vonage_voice_lambda::clock::{Clock, SystemClock};
use vonage_voice_lambda::deadline::Budget;
use vonage_voice_lambda::observe::{logging, metrics};
use vonage_voice_lambda::secrets::SecretsManagerStore;
use vonage_voice_lambda::settings::Environment;

use vonage_voice_lambda::applications::drift::{
    DriftCheckConfig, log_outcome, record_metrics, run_check, summary,
};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    logging::init();
    let config = DriftCheckConfig::from_settings(&Environment)?;
    tracing::info!(
        expected_answer_url = config
            .targets
            .answer_url
            .as_deref()
            .unwrap_or("(not checked)"),
        expected_event_url = config
            .targets
            .event_url
            .as_deref()
            .unwrap_or("(not checked)"),
        auto_repair = config.auto_repair,
        "drift check configured"
    );
    metrics::init(
        &Environment,
        &metrics::function_name(&Environment, "drift-check"),
    );
    let secrets = SecretsManagerStore::from_environment().await;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let (config, secrets, clock) = (&config, &secrets, &clock);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        logging::observed(logging::Correlation::of(&event.context, None), async move {
            let budget = Budget::for_invocation(event.context.deadline, Arc::clone(clock));
            let outcome = run_check(config, secrets, &budget).await;
            record_metrics(&outcome);
            log_outcome(&outcome);
            match outcome {
                Ok(run) => Ok::<Value, Error>(summary(&run)),
                Err(error) => Err(error.into()),
            }
        })
    }))
    .await
}
