//! [`EventPublisher`] on Amazon EventBridge: one `PutEvents` entry on the account's default
//! bus per change. The SDK makes one attempt per call; [`super::Publisher`] retries within the
//! webhook's budget.

use crate::observe::Cause;
use crate::observe::remote::{Service, remote_call};
use std::time::Duration;

use aws_config::SdkConfig;
use aws_sdk_eventbridge::Client;
use aws_sdk_eventbridge::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_eventbridge::types::PutEventsRequestEntry;

use super::publish::{AlertChanged, DETAIL_TYPE, EVENT_SOURCE, EventPublisher, PublishError};

/// The account's default event bus.
pub const DEFAULT_BUS: &str = "default";

#[derive(Clone, Debug)]
/// The [`EventPublisher`] on EventBridge's `PutEvents`.
pub struct EventBridgePublisher {
    client: Client,
}

impl EventBridgePublisher {
    /// A client on the process's one `sdk` configuration: one attempt a call, and SDK timeouts
    /// no longer than an attempt may take.
    pub fn from_sdk_config(sdk: &SdkConfig, attempt_timeout: Duration) -> Self {
        let timeouts = aws_config::timeout::TimeoutConfig::builder()
            .connect_timeout(attempt_timeout)
            .operation_timeout(attempt_timeout)
            .build();
        let config = aws_sdk_eventbridge::config::Builder::from(sdk)
            .timeout_config(timeouts)
            .retry_config(aws_config::retry::RetryConfig::standard().with_max_attempts(1))
            .build();
        Self {
            client: Client::from_conf(config),
        }
    }
}

#[async_trait::async_trait]
impl EventPublisher for EventBridgePublisher {
    async fn put(&self, event: &AlertChanged, timeout: Duration) -> Result<(), PublishError> {
        let entry = PutEventsRequestEntry::builder()
            .source(EVENT_SOURCE)
            .detail_type(DETAIL_TYPE)
            .detail(event.detail_json())
            .event_bus_name(DEFAULT_BUS)
            .build();
        let request = remote_call(
            Service::EventBridge,
            "PutEvents",
            self.client.put_events().entries(entry).send(),
        );
        let answer = tokio::time::timeout(timeout, request)
            .await
            .map_err(|_| PublishError::Timeout(timeout))?;
        match answer {
            Ok(output) if output.failed_entry_count() == 0 => Ok(()),
            Ok(output) => {
                let entry = output.entries().first();
                let code = entry.and_then(|e| e.error_code()).unwrap_or("Unknown");
                let message = entry.and_then(|e| e.error_message()).unwrap_or_default();
                let detail = format!("{code}: {message}");
                // EventBridge's per-entry codes: throttling and internal failures pass.
                if code.contains("Throttl") || code.contains("Internal") {
                    Err(PublishError::Unavailable(detail.into()))
                } else {
                    Err(PublishError::Refused(detail.into()))
                }
            }
            Err(error) => Err(classify(error, timeout)),
        }
    }
}

fn classify<E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static>(
    error: SdkError<E>,
    timeout: Duration,
) -> PublishError {
    match error {
        SdkError::TimeoutError(_) => PublishError::Timeout(timeout),
        SdkError::DispatchFailure(failure) if failure.is_timeout() => {
            PublishError::Timeout(timeout)
        }
        SdkError::ServiceError(context) => {
            let error = context.into_err();
            let code = error.code().unwrap_or("Unknown").to_owned();
            let detail = format!("{code}: {}", error.message().unwrap_or_default());
            let cause = Cause::described(detail, error);
            match code.as_str() {
                "AccessDeniedException"
                | "ValidationException"
                | "ResourceNotFoundException"
                | "UnrecognizedClientException" => PublishError::Refused(cause),
                _ => PublishError::Unavailable(cause),
            }
        }
        other => PublishError::Unavailable(Cause::described(
            DisplayErrorContext(&other).to_string(),
            other,
        )),
    }
}
