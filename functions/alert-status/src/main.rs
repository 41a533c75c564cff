//! alert-status: what became of an alert. Invoked on demand (`sam remote invoke`,
//! `aws lambda invoke`) with `{"alert_id":"…"}` or `{"call_uuid":"…"}`; returns the alert's
//! state, whether and when it was confirmed, and its timeline, or `{"error":…}`.
//!
//! Wiring only; every decision is in `vonage_voice_lambda::alert::status`. It only reads the
//! state table (`GetItem`).

use std::sync::Arc;

use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::Value;
use vonage_voice_lambda::alert::status::handle_status;
use vonage_voice_lambda::aws;
use vonage_voice_lambda::clock::{Clock, SystemClock};
use vonage_voice_lambda::deadline::Budget;
use vonage_voice_lambda::observe::{logging, metrics};
use vonage_voice_lambda::settings::Environment;
use vonage_voice_lambda::state::StateConfig;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    logging::init();
    metrics::init(
        &Environment,
        &metrics::function_name(&Environment, "alert-status"),
    );
    let state_config = StateConfig::from_settings(&Environment)?;
    let sdk = aws::load(aws::environment_loader()).await;
    let store = aws::state_store(&sdk, &state_config);
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let (store, clock) = (&store, &clock);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        logging::observed(logging::Correlation::of(&event.context, None), async move {
            let budget = Budget::for_invocation(event.context.deadline, Arc::clone(clock));
            Ok::<Value, Error>(handle_status(&event.payload, store, &budget).await)
        })
    }))
    .await
}
