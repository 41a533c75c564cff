//! The answer webhook behind API Gateway. Wiring only: settings, the Secrets Manager and DynamoDB
//! clients, the runtime. Every decision is in `vonage_voice_lambda::webhook`; the HTTP mapping in
//! `vonage_voice_lambda::http`.

use std::sync::Arc;

use vonage_voice_lambda::clock::SystemClock;
use vonage_voice_lambda::observe::{logging, metrics};
use vonage_voice_lambda::settings::Environment;
use vonage_voice_lambda::settings::webhook::AnswerConfig;
use vonage_voice_lambda::state::StateConfig;
use vonage_voice_lambda::webhook::AnswerHandler;
use vonage_voice_lambda::{aws, http};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    logging::init();
    metrics::init(
        &Environment,
        &metrics::function_name(&Environment, "answer"),
    );
    let config = AnswerConfig::from_settings(&Environment).inspect_err(|error| {
        tracing::error!(error = %error, "the answer function cannot start");
    })?;
    let state_config = StateConfig::from_settings(&Environment).inspect_err(|error| {
        tracing::error!(error = %error, "the answer function cannot start");
    })?;
    // One AWS configuration load for both clients.
    let sdk = aws::load(aws::environment_loader()).await;
    let handler = Arc::new(AnswerHandler::new(
        &config,
        Arc::new(aws::secrets_manager_store(&sdk)),
        Arc::new(aws::webhook_state_store(&sdk, &state_config)),
        Arc::new(SystemClock),
    ));
    // Read the secret during init so a signed answer does not wait for it. If that fails the
    // process still starts: signed requests answer 503 and each one tries the read again.
    handler.warm_up().await;
    http::run(config.webhook.request_limits(), move |request| {
        let handler = Arc::clone(&handler);
        async move { http::serve_answer(&handler, request).await }
    })
    .await
}
