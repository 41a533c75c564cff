//! One AWS configuration per process: region, credentials and `AWS_ENDPOINT_URL` are resolved
//! once at cold start, and every client (Secrets Manager, DynamoDB, EventBridge) is built from it with its own
//! timeouts. Loading the configuration is the costly part of making a client; doing it once keeps
//! a second client nearly free at cold start.

use std::time::Duration;

use aws_config::{BehaviorVersion, ConfigLoader, SdkConfig};

use crate::outcome::EventBridgePublisher;
use crate::outcome::publish::PUBLISH_ATTEMPT_TIMEOUT;
use crate::secrets::SecretsManagerStore;
use crate::state::{DynamoDbStore, StateConfig};

/// The standard AWS settings from the environment (region, credentials, `AWS_ENDPOINT_URL`).
pub fn environment_loader() -> ConfigLoader {
    aws_config::defaults(BehaviorVersion::latest())
}

/// Loads `loader` once; tests set region, credentials and endpoint on it.
pub async fn load(loader: ConfigLoader) -> SdkConfig {
    loader.load().await
}

/// Timeouts short enough that an unreachable Secrets Manager is answered with a 503 well inside
/// the webhook's time budget (the functions run with 3 and 6 second timeouts) rather than a Lambda
/// timeout.
pub fn secrets_manager_timeouts() -> aws_config::timeout::TimeoutConfig {
    aws_config::timeout::TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(1))
        .operation_attempt_timeout(Duration::from_millis(1500))
        .operation_timeout(Duration::from_millis(2500))
        .build()
}

/// Secrets Manager on the shared configuration.
pub fn secrets_manager_store(sdk: &SdkConfig) -> SecretsManagerStore {
    let config = aws_sdk_secretsmanager::config::Builder::from(sdk)
        .timeout_config(secrets_manager_timeouts())
        .build();
    SecretsManagerStore::new(aws_sdk_secretsmanager::Client::from_conf(config))
}

/// The shared state table on the shared configuration.
pub fn state_store(sdk: &SdkConfig, config: &StateConfig) -> DynamoDbStore {
    DynamoDbStore::from_sdk_config(sdk, config)
}

/// The state table as the webhooks use it: one attempt per request, no SDK retry. A webhook
/// whose table check fails is processed on the instance's memory anyway, so a retry would only
/// add load to a struggling table and spend the webhook's budget (measured against moto answering
/// 500: two to three requests per webhook with retries, and a second's wait when the backoff ran
/// into the timeout).
pub fn webhook_state_store(sdk: &SdkConfig, config: &StateConfig) -> DynamoDbStore {
    let client_config = DynamoDbStore::client_config(sdk, config)
        .retry_config(aws_config::retry::RetryConfig::standard().with_max_attempts(1))
        .build();
    DynamoDbStore::new(aws_sdk_dynamodb::Client::from_conf(client_config), config)
}

/// EventBridge on the shared configuration, for publishing alert changes: one attempt per call,
/// each bounded by [`PUBLISH_ATTEMPT_TIMEOUT`] (the publisher retries within the webhook's budget).
pub fn event_publisher(sdk: &SdkConfig) -> EventBridgePublisher {
    EventBridgePublisher::from_sdk_config(sdk, PUBLISH_ATTEMPT_TIMEOUT)
}

/// Both clients from one configuration load, as the webhook functions and send-alert build them.
pub async fn secrets_and_state(
    loader: ConfigLoader,
    state: &StateConfig,
) -> (SecretsManagerStore, DynamoDbStore) {
    let sdk = load(loader).await;
    (secrets_manager_store(&sdk), state_store(&sdk, state))
}
