//! send-alert: places an outbound alert call. Invoked on demand (`sam remote invoke`,
//! `aws lambda invoke`) with `{"to":"447700900000","code":"4821"}` or `{"to":…,"text":…}`.
//!
//! Wiring only; every decision is in `vonage_voice_lambda::alert`. Errors are returned as the
//! payload (`{"error":…}`), not as function errors, so an asynchronous invocation is never
//! retried by Lambda into a second call. Each invocation's deadline becomes its time budget.

use std::sync::Arc;

use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::Value;
use vonage_voice_lambda::alert::{AlertConfig, handle_alert, response_payload};
use vonage_voice_lambda::config::Environment;
use vonage_voice_lambda::deadline::Budget;
use vonage_voice_lambda::logging;
use vonage_voice_lambda::secrets::{CURRENT, CachedSecretStore, SecretStore, SecretsManagerStore};
use vonage_voice_lambda::voice::HttpVoiceApi;
use vonage_voice_lambda::webhook::{Clock, SystemClock};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    logging::init();
    let config = AlertConfig::from_settings(&Environment)?;
    let voice = HttpVoiceApi::new(config.voice.clone())?;
    let secrets = CachedSecretStore::new(
        SecretsManagerStore::from_environment().await,
        config.secret_cache,
    );
    // Read at cold start; a failure here is retried by the first invocation.
    if let Err(error) = secrets
        .secret_string(&config.application_secret_id, CURRENT)
        .await
    {
        tracing::warn!(detail = %error, "application secret not read at cold start");
    }
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let (config, voice, secrets, clock) = (&config, &voice, &secrets, &clock);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        let budget = Budget::for_invocation(event.context.deadline, Arc::clone(clock));
        let outcome = handle_alert(&event.payload, config, secrets, voice, &budget).await;
        Ok::<Value, Error>(response_payload(&outcome))
    }))
    .await
}
