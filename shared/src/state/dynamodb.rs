//! Both stores on one DynamoDB table (`STATE_TABLE_NAME`): a string hash key `pk`, TTL on
//! `expires_at`. Replay items and idempotency items live side by side under prefixed keys, and
//! alert records (`crate::outcome::dynamodb`) under keys of their own.
//!
//! Every operation is one request (see the requests each method sends) and runs under the
//! state budget ([`super::StateConfig::timeout`]) as a whole, credentials, retries and all, so a
//! slow or unreachable table costs a webhook at most that long.
//!
//! A failed condition returns the item that failed it (`ReturnValuesOnConditionCheckFailure =
//! ALL_OLD`), which is how a duplicate learns the first answer, and `begin` the record's state,
//! without a `GetItem`.

use crate::observe::Cause;
use crate::observe::remote::{Service, remote_call};
use std::collections::HashMap;
use std::time::Duration;

use aws_config::SdkConfig;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::delete_item::DeleteItemError;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValuesOnConditionCheckFailure};
use serde_json::Value;

use super::idempotency::claim_on_live_record;
use super::{
    Claim, ClaimRequest, Completion, Delivery, DeliveryRecord, IdempotencyStore, Operation,
    ReplayStore, StateConfig, StateError, StoredAnswer,
};

/// The table's hash key.
pub const KEY_ATTRIBUTE: &str = "pk";
/// The table's TTL attribute: Unix seconds, the last second the item is live.
pub const EXPIRES_AT_ATTRIBUTE: &str = "expires_at";

const JTI: &str = "jti";
const ANSWER_STATUS: &str = "answer_status";
const ANSWER_NCCO: &str = "answer_ncco";
const STATUS: &str = "status";
const PAYLOAD_HASH: &str = "payload_hash";
const RESULT: &str = "result";
const IN_PROGRESS: &str = "IN_PROGRESS";
const COMPLETED: &str = "COMPLETED";

/// Written only when no live item holds the key; an expired item not yet deleted by DynamoDB's
/// TTL sweep counts as absent.
const UNLESS_LIVE: &str = "attribute_not_exists(pk) OR expires_at < :now";

pub(crate) type Item = HashMap<String, AttributeValue>;

/// The shared state in DynamoDB.
#[derive(Clone, Debug)]
pub struct DynamoDbStore {
    pub(crate) client: Client,
    table: String,
    timeout: Duration,
}

impl DynamoDbStore {
    /// A store on the table `config` names, over an SDK client.
    pub fn new(client: Client, config: &StateConfig) -> Self {
        Self {
            client,
            table: config.table_name.clone(),
            timeout: config.timeout,
        }
    }

    /// A client on `sdk` (loaded once per process, shared with Secrets Manager; see
    /// `crate::aws`), with the SDK's own timeouts set to the state budget too, so it stops
    /// working on a request this store has given up on.
    pub fn from_sdk_config(sdk: &SdkConfig, config: &StateConfig) -> Self {
        Self::new(
            Client::from_conf(Self::client_config(sdk, config).build()),
            config,
        )
    }

    /// The client settings [`Self::from_sdk_config`] uses, for callers that add to them (tests
    /// add an interceptor that logs requests).
    pub fn client_config(
        sdk: &SdkConfig,
        config: &StateConfig,
    ) -> aws_sdk_dynamodb::config::Builder {
        let timeouts = aws_config::timeout::TimeoutConfig::builder()
            .connect_timeout(config.timeout)
            .operation_timeout(config.timeout)
            .build();
        aws_sdk_dynamodb::config::Builder::from(sdk).timeout_config(timeouts)
    }

    /// The table's name.
    pub fn table(&self) -> &str {
        &self.table
    }

    /// Runs one request (`operation`, e.g. `"PutItem"`) under the budget, in its remote-call
    /// span.
    pub(crate) async fn bounded<T, E>(
        &self,
        operation: &'static str,
        request: impl Future<Output = Result<T, SdkError<E>>>,
    ) -> Result<Result<T, SdkError<E>>, StateError> {
        tokio::time::timeout(
            self.timeout,
            remote_call(Service::DynamoDb, operation, request),
        )
        .await
        .map_err(|_| {
            crate::observe::metrics::count(crate::observe::metrics::names::DYNAMODB_FAILURE);
            StateError::Timeout(self.timeout)
        })
    }

    /// A conditional put of `item` unless a live item holds its key. `Ok(None)`: written;
    /// `Ok(Some(old))`: the live item that kept it from being written.
    async fn put_unless_live(&self, item: Item, now_unix: i64) -> Result<Option<Item>, StateError> {
        let request = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression(UNLESS_LIVE)
            .expression_attribute_values(":now", number(now_unix))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send();
        match self.bounded("PutItem", request).await? {
            Ok(_) => Ok(None),
            Err(SdkError::ServiceError(context)) => match context.into_err() {
                PutItemError::ConditionalCheckFailedException(failed) => match failed.item {
                    Some(old) => Ok(Some(old)),
                    // DynamoDB always returns the item when asked to; without it the verdict
                    // would be a guess.
                    None => Err(StateError::Malformed(
                        "a failed condition returned no item".into(),
                    )),
                },
                other => Err(classify_service_error(other)),
            },
            Err(other) => Err(self.classify(other)),
        }
    }

    pub(crate) fn classify<E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static>(
        &self,
        error: SdkError<E>,
    ) -> StateError {
        match error {
            SdkError::ServiceError(context) => classify_service_error(context.into_err()),
            SdkError::TimeoutError(_) => {
                crate::observe::metrics::count(crate::observe::metrics::names::DYNAMODB_FAILURE);
                StateError::Timeout(self.timeout)
            }
            SdkError::DispatchFailure(failure) if failure.is_timeout() => {
                crate::observe::metrics::count(crate::observe::metrics::names::DYNAMODB_FAILURE);
                StateError::Timeout(self.timeout)
            }
            other => {
                crate::observe::metrics::count(crate::observe::metrics::names::DYNAMODB_FAILURE);
                StateError::Unavailable(Cause::described(
                    DisplayErrorContext(&other).to_string(),
                    other,
                ))
            }
        }
    }
}

/// DynamoDB's error codes, by what the caller can do about them.
pub(crate) fn classify_service_error(
    error: impl ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
) -> StateError {
    crate::observe::metrics::count(crate::observe::metrics::names::DYNAMODB_FAILURE);
    let code = error.code().unwrap_or("Unknown").to_owned();
    let detail = format!("{code}: {}", error.message().unwrap_or_default());
    let cause = Cause::described(detail, error);
    match code.as_str() {
        "ProvisionedThroughputExceededException"
        | "ThrottlingException"
        | "RequestLimitExceeded" => StateError::Throttled(cause),
        "ResourceNotFoundException"
        | "AccessDeniedException"
        | "ValidationException"
        | "UnrecognizedClientException"
        | "MissingAuthenticationTokenException" => StateError::Misconfigured(cause),
        _ => StateError::Unavailable(cause),
    }
}

#[async_trait::async_trait]
impl ReplayStore for DynamoDbStore {
    /// One `PutItem` on the delivery key (see `super` for why that catches the `jti` too).
    async fn first_delivery(&self, delivery: DeliveryRecord<'_>) -> Result<Delivery, StateError> {
        let DeliveryRecord {
            key,
            answer,
            seen_at,
            expires_at,
        } = delivery;
        let mut item = Item::from([
            (KEY_ATTRIBUTE.to_owned(), text(key.record_key())),
            (JTI.to_owned(), text(key.jti())),
            (EXPIRES_AT_ATTRIBUTE.to_owned(), number(expires_at)),
            (ANSWER_STATUS.to_owned(), number(answer.status)),
        ]);
        if let Some(ncco) = &answer.ncco {
            item.insert(ANSWER_NCCO.to_owned(), text(ncco.to_string()));
        }
        let Some(old) = self.put_unless_live(item, seen_at).await? else {
            return Ok(Delivery::First);
        };
        let status = number_attribute(&old, ANSWER_STATUS)?;
        let first_answer = StoredAnswer {
            status: u16::try_from(status)
                .map_err(|_| StateError::Malformed(format!("{ANSWER_STATUS} {status}")))?,
            ncco: optional_json_attribute(&old, ANSWER_NCCO)?,
        };
        Ok(Delivery::Duplicate {
            matched: key.matched_by(text_attribute(&old, JTI)?),
            first_answer,
        })
    }
}

#[async_trait::async_trait]
impl IdempotencyStore for DynamoDbStore {
    /// One conditional `PutItem`.
    async fn begin(&self, request: ClaimRequest<'_>) -> Result<Claim, StateError> {
        let Operation { key, payload_hash } = request.operation;
        let item = Item::from([
            (KEY_ATTRIBUTE.to_owned(), text(key.record_key())),
            (STATUS.to_owned(), text(IN_PROGRESS)),
            (PAYLOAD_HASH.to_owned(), text(payload_hash)),
            (
                EXPIRES_AT_ATTRIBUTE.to_owned(),
                number(request.in_progress_until),
            ),
        ]);
        let Some(old) = self.put_unless_live(item, request.now).await? else {
            return Ok(Claim::Began);
        };
        let completed = match text_attribute(&old, STATUS)? {
            COMPLETED => Some(optional_json_attribute(&old, RESULT)?.ok_or_else(|| {
                StateError::Malformed(format!("a completed record without {RESULT}"))
            })?),
            IN_PROGRESS => None,
            other => return Err(StateError::Malformed(format!("{STATUS} {other:?}"))),
        };
        Ok(claim_on_live_record(
            text_attribute(&old, PAYLOAD_HASH)?,
            payload_hash,
            completed,
            number_attribute(&old, EXPIRES_AT_ATTRIBUTE)?,
        ))
    }

    /// One unconditional `PutItem`: only the invocation that began holds the key until its
    /// deadline, and after it nothing of ours runs.
    async fn complete(&self, completion: Completion<'_>) -> Result<(), StateError> {
        let Completion {
            operation,
            result,
            expires_at,
        } = completion;
        let request = self
            .client
            .put_item()
            .table_name(&self.table)
            .item(KEY_ATTRIBUTE, text(operation.key.record_key()))
            .item(STATUS, text(COMPLETED))
            .item(PAYLOAD_HASH, text(operation.payload_hash))
            .item(RESULT, text(result.to_string()))
            .item(EXPIRES_AT_ATTRIBUTE, number(expires_at))
            .send();
        match self.bounded("PutItem", request).await? {
            Ok(_) => Ok(()),
            Err(error) => Err(self.classify(error)),
        }
    }

    /// One conditional `DeleteItem`: only our own in-progress record goes.
    async fn release(&self, operation: Operation<'_>) -> Result<(), StateError> {
        let request = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key(KEY_ATTRIBUTE, text(operation.key.record_key()))
            .condition_expression("#status = :in_progress AND payload_hash = :hash")
            // `status` is one of DynamoDB's reserved words.
            .expression_attribute_names("#status", STATUS)
            .expression_attribute_values(":in_progress", text(IN_PROGRESS))
            .expression_attribute_values(":hash", text(operation.payload_hash))
            .send();
        match self.bounded("DeleteItem", request).await? {
            Ok(_) => Ok(()),
            Err(SdkError::ServiceError(context))
                if matches!(
                    context.err(),
                    DeleteItemError::ConditionalCheckFailedException(_)
                ) =>
            {
                Ok(())
            }
            Err(error) => Err(self.classify(error)),
        }
    }
}

pub(crate) fn text(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

pub(crate) fn number(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

pub(crate) fn text_attribute<'a>(item: &'a Item, name: &str) -> Result<&'a str, StateError> {
    match item.get(name) {
        Some(AttributeValue::S(value)) => Ok(value),
        _ => Err(StateError::Malformed(format!("{name} is not a string"))),
    }
}

pub(crate) fn number_attribute(item: &Item, name: &str) -> Result<i64, StateError> {
    match item.get(name) {
        Some(AttributeValue::N(value)) => value
            .parse()
            .map_err(|_| StateError::Malformed(format!("{name} is not a whole number"))),
        _ => Err(StateError::Malformed(format!("{name} is not a number"))),
    }
}

fn optional_json_attribute(item: &Item, name: &str) -> Result<Option<Value>, StateError> {
    match item.get(name) {
        None => Ok(None),
        Some(AttributeValue::S(json)) => serde_json::from_str(json)
            .map(Some)
            .map_err(|_| StateError::Malformed(format!("{name} is not JSON"))),
        Some(_) => Err(StateError::Malformed(format!("{name} is not a string"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_codes_are_sorted_by_what_the_caller_can_do() {
        let error = |code: &str| {
            aws_sdk_dynamodb::error::ErrorMetadata::builder()
                .code(code)
                .message("m")
                .build()
        };
        for code in [
            "ProvisionedThroughputExceededException",
            "ThrottlingException",
            "RequestLimitExceeded",
        ] {
            assert!(matches!(
                classify_service_error(error(code)),
                StateError::Throttled(_)
            ));
        }
        for code in ["ResourceNotFoundException", "AccessDeniedException"] {
            assert!(matches!(
                classify_service_error(error(code)),
                StateError::Misconfigured(_)
            ));
        }
        assert_eq!(
            classify_service_error(error("InternalServerError")),
            StateError::Unavailable("InternalServerError: m".into())
        );
    }

    #[test]
    fn stored_attributes_are_read_strictly() {
        let item = Item::from([
            ("s".to_owned(), text("x")),
            ("n".to_owned(), number(42)),
            ("j".to_owned(), text(r#"[{"action":"talk"}]"#)),
            ("bad".to_owned(), text("{")),
        ]);
        assert_eq!(text_attribute(&item, "s"), Ok("x"));
        assert!(text_attribute(&item, "n").is_err());
        assert_eq!(number_attribute(&item, "n"), Ok(42));
        assert!(number_attribute(&item, "s").is_err());
        assert_eq!(
            optional_json_attribute(&item, "j"),
            Ok(Some(serde_json::json!([{"action": "talk"}])))
        );
        assert_eq!(optional_json_attribute(&item, "absent"), Ok(None));
        assert!(optional_json_attribute(&item, "bad").is_err());
    }
}
