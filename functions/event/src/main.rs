//! The event webhook behind API Gateway. Wiring only: settings, the Secrets Manager, DynamoDB and
//! EventBridge clients, the runtime. Every decision is in `vonage_voice_lambda::webhook`; the HTTP mapping in
//! `vonage_voice_lambda::http`.

use std::sync::Arc;

use vonage_voice_lambda::clock::SystemClock;
use vonage_voice_lambda::observe::{logging, metrics};
use vonage_voice_lambda::outcome::{OutcomeConfig, Publisher};
use vonage_voice_lambda::settings::Environment;
use vonage_voice_lambda::settings::webhook::EventConfig;
use vonage_voice_lambda::state::StateConfig;
use vonage_voice_lambda::webhook::{EventHandler, Outcomes};
use vonage_voice_lambda::{aws, http};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    logging::init();
    metrics::init(&Environment, &metrics::function_name(&Environment, "event"));
    let config = EventConfig::from_settings(&Environment).inspect_err(|error| {
        tracing::error!(error = %error, "the event function cannot start");
    })?;
    let state_config = StateConfig::from_settings(&Environment).inspect_err(|error| {
        tracing::error!(error = %error, "the event function cannot start");
    })?;
    let outcome_config = OutcomeConfig::from_settings(&Environment).inspect_err(|error| {
        tracing::error!(error = %error, "the event function cannot start");
    })?;
    // One AWS configuration load for every client.
    let sdk = aws::load(aws::environment_loader()).await;
    let state = Arc::new(aws::webhook_state_store(&sdk, &state_config));
    let handler = Arc::new(
        EventHandler::new(
            &config,
            Arc::new(aws::secrets_manager_store(&sdk)),
            state.clone(),
            Arc::new(SystemClock),
        )
        .with_outcomes(Outcomes {
            alerts: state,
            publisher: Arc::new(Publisher::new(aws::event_publisher(&sdk))),
            config: outcome_config,
        }),
    );
    // Read the secret during init. If that fails the process still starts: requests answer 503
    // (Vonage retries) and the read is tried again once SECRET_RETRY_BACKOFF_SECONDS have passed.
    handler.warm_up().await;
    http::run(config.webhook.request_limits(), move |request| {
        let handler = Arc::clone(&handler);
        async move { http::serve_event(&handler, request).await }
    })
    .await
}
