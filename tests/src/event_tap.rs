//! The alert events on moto's EventBridge, read back: a rule on the default bus matching the
//! project's `source` sends each event to an SQS queue, and the tap drains the queue.

use std::time::{Duration, Instant};

use serde_json::Value;
use vonage_voice_lambda::outcome::{DETAIL_TYPE, EVENT_SOURCE};

pub const RULE_NAME: &str = "alert-changes-to-tap";

/// A queue receiving every alert event published on the default bus.
pub struct EventTap {
    sqs: aws_sdk_sqs::Client,
    queue_url: String,
}

impl EventTap {
    /// Creates the queue `queue_name`, the rule and its target through `sdk` (moto's endpoint).
    pub async fn create(sdk: &aws_config::SdkConfig, queue_name: &str) -> Result<Self, String> {
        let pattern = serde_json::json!({"source": [EVENT_SOURCE], "detail-type": [DETAIL_TYPE]});
        Self::for_rule(sdk, queue_name, RULE_NAME, &pattern).await
    }

    /// A queue receiving what the rule `rule_name` with `pattern` matches on the default bus.
    pub async fn for_rule(
        sdk: &aws_config::SdkConfig,
        queue_name: &str,
        rule_name: &str,
        pattern: &Value,
    ) -> Result<Self, String> {
        let sqs = aws_sdk_sqs::Client::new(sdk);
        let events = aws_sdk_eventbridge::Client::new(sdk);
        let queue_url = sqs
            .create_queue()
            .queue_name(queue_name)
            .send()
            .await
            .map_err(|error| format!("creating the queue: {error:?}"))?
            .queue_url
            .ok_or("the queue has no URL")?;
        let arn = sqs
            .get_queue_attributes()
            .queue_url(&queue_url)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
            .send()
            .await
            .map_err(|error| format!("reading the queue's ARN: {error:?}"))?
            .attributes
            .and_then(|mut attributes| {
                attributes.remove(&aws_sdk_sqs::types::QueueAttributeName::QueueArn)
            })
            .ok_or("the queue has no ARN")?;
        events
            .put_rule()
            .name(rule_name)
            .event_pattern(pattern.to_string())
            .send()
            .await
            .map_err(|error| format!("creating the rule: {error:?}"))?;
        let target = aws_sdk_eventbridge::types::Target::builder()
            .id("tap")
            .arn(arn)
            .build()
            .map_err(|error| format!("the target: {error}"))?;
        events
            .put_targets()
            .rule(rule_name)
            .targets(target)
            .send()
            .await
            .map_err(|error| format!("adding the target: {error:?}"))?;
        Ok(Self { sqs, queue_url })
    }

    /// Every event the queue holds now, as EventBridge delivered them (`source`, `detail-type`,
    /// `detail`), each removed from the queue once read. Polls until `expected` events arrived
    /// or `limit` passed, then returns what it has.
    pub async fn drain(&self, expected: usize, limit: Duration) -> Result<Vec<Value>, String> {
        let started = Instant::now();
        let mut events = Vec::new();
        loop {
            let received = self
                .sqs
                .receive_message()
                .queue_url(&self.queue_url)
                .max_number_of_messages(10)
                .wait_time_seconds(1)
                .send()
                .await
                .map_err(|error| format!("receiving: {error:?}"))?;
            for message in received.messages() {
                let body = message.body().unwrap_or_default();
                let mut event: Value = serde_json::from_str(body)
                    .map_err(|error| format!("an event that is not JSON ({error}): {body}"))?;
                // EventBridge delivers `detail` as an object; read a string form too.
                if let Some(detail) = event["detail"].as_str() {
                    event["detail"] = serde_json::from_str(detail).unwrap_or(Value::Null);
                }
                events.push(event);
                if let Some(handle) = message.receipt_handle() {
                    self.sqs
                        .delete_message()
                        .queue_url(&self.queue_url)
                        .receipt_handle(handle)
                        .send()
                        .await
                        .map_err(|error| format!("deleting: {error:?}"))?;
                }
            }
            if events.len() >= expected || started.elapsed() >= limit {
                return Ok(events);
            }
        }
    }
}
