//! send-alert: places an outbound alert call. Invoked on demand (`sam remote invoke`,
//! `aws lambda invoke`) with `{"to":"447700900000","code":"4821"}` or `{"to":…,"text":…}`, and an
//! optional `alert_id`.
//!
//! Wiring only; every decision is in `vonage_voice_lambda::alert` (the call),
//! `vonage_voice_lambda::alert::place` (once per alert) and
//! `vonage_voice_lambda::outcome` (the alert record its events move). Errors are returned as the payload
//! (`{"error":…}`), not as function errors, so an asynchronous invocation is never retried by
//! Lambda into a second call. Each invocation's deadline becomes its time budget.

use std::sync::Arc;

use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::Value;
use vonage_voice_lambda::alert::place::{AlertIdempotencyConfig, Invocation, handle_alert_once};
use vonage_voice_lambda::alert::{AlertConfig, handle_alert};
use vonage_voice_lambda::aws;
use vonage_voice_lambda::clock::{Clock, SystemClock};
use vonage_voice_lambda::deadline::Budget;
use vonage_voice_lambda::observe::{logging, metrics};
use vonage_voice_lambda::outcome::{AlertRecording, OutcomeConfig};
use vonage_voice_lambda::secrets::{CURRENT, CachedSecretStore, SecretStore};
use vonage_voice_lambda::settings::Environment;
use vonage_voice_lambda::state::StateConfig;
use vonage_voice_lambda::voice::HttpVoiceApi;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    logging::init();
    metrics::init(
        &Environment,
        &metrics::function_name(&Environment, "send-alert"),
    );
    let config = AlertConfig::from_settings(&Environment)?;
    let state_config = StateConfig::from_settings(&Environment)?;
    let once = AlertIdempotencyConfig::from_settings(&Environment)?;
    let outcome_config = OutcomeConfig::from_settings(&Environment)?;
    let voice = HttpVoiceApi::new(config.voice.clone())?;
    // One AWS configuration load for both clients.
    let sdk = aws::load(aws::environment_loader()).await;
    let secrets = CachedSecretStore::new(aws::secrets_manager_store(&sdk), config.secret_cache);
    let state = aws::state_store(&sdk, &state_config);
    // Read at cold start; a failure here is retried by the first invocation.
    if let Err(error) = secrets
        .secret_string(&config.application_secret_id, CURRENT)
        .await
    {
        tracing::warn!(detail = %error, "application secret not read at cold start");
    }
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let (config, once, voice, secrets, state, clock, outcome_config) = (
        &config,
        &once,
        &voice,
        &secrets,
        &state,
        &clock,
        &outcome_config,
    );
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        logging::observed(logging::Correlation::of(&event.context, None), async move {
            let budget = Budget::for_invocation(event.context.deadline, Arc::clone(clock));
            let invocation = Invocation {
                clock: clock.as_ref(),
                budget: &budget,
            };
            let recording = AlertRecording {
                store: state,
                config: outcome_config,
                clock: clock.as_ref(),
            };
            let payload = handle_alert_once(
                &event.payload,
                once,
                state,
                invocation,
                |input, alert_id| {
                    let budget = &budget;
                    async move {
                        let sent = handle_alert(&input, config, secrets, voice, budget).await;
                        recording
                            .record_if_placed(&alert_id, &input, sent, budget)
                            .await
                    }
                },
            )
            .await;
            Ok::<Value, Error>(payload)
        })
    }))
    .await
}
