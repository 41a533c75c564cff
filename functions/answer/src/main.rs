//! The answer webhook behind API Gateway. Wiring only: settings, the Secrets Manager client, the
//! runtime. Every decision is in `vonage_voice_lambda::webhook`; the HTTP mapping in
//! `vonage_voice_lambda::http`.

use std::sync::Arc;

use vonage_voice_lambda::config::Environment;
use vonage_voice_lambda::secrets::SecretsManagerStore;
use vonage_voice_lambda::webhook::{AnswerConfig, AnswerHandler, SystemClock};
use vonage_voice_lambda::{http, logging};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    logging::init();
    let config = AnswerConfig::from_settings(&Environment).inspect_err(|error| {
        tracing::error!(error = %error, "the answer function cannot start");
    })?;
    let store = SecretsManagerStore::from_environment().await;
    let handler = Arc::new(AnswerHandler::new(
        &config,
        Arc::new(store),
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
