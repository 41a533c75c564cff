//! Alert records on the state table (the same [`DynamoDbStore`] and client as the duplicate
//! check), under keys of their own that no replay (`delivery#`, `jti#`) or idempotency
//! (`idempotency#`) key can take:
//!
//! - `outcome#call#<sha256 of the call uuid>`: the record, as JSON in `alert_record`, with its
//!   `version` (the condition of every write) and `expires_at` (the table's TTL);
//! - `outcome#alert#<sha256 of the alert id>`: the call uuid of the alert's latest call.
//!
//! The event function reads the record with one consistent `GetItem` and writes it with one
//! conditional `PutItem` (`version = :expected`), whose failure returns the newer item
//! (`ReturnValuesOnConditionCheckFailure = ALL_OLD`). alert-status only reads (`GetItem`).

use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::ReturnValuesOnConditionCheckFailure;

use super::record::AlertRecord;
use super::store::{AlertStore, Replaced, Replacement, Versioned, nothing_to_replace};
use crate::state::dynamodb::{
    EXPIRES_AT_ATTRIBUTE, Item, KEY_ATTRIBUTE, number, number_attribute, text, text_attribute,
};
use crate::state::{DynamoDbStore, StateError, sha256_hex};

const RECORD: &str = "alert_record";
const VERSION: &str = "version";
const CALL_UUID: &str = "call_uuid";

/// The record item's key.
pub fn call_key(call_uuid: &str) -> String {
    format!("outcome#call#{}", sha256_hex(call_uuid.as_bytes()))
}

/// The pointer item's key.
pub fn alert_key(alert_id: &str) -> String {
    format!("outcome#alert#{}", sha256_hex(alert_id.as_bytes()))
}

fn record_item(record: &AlertRecord, version: u64, expires_at: i64) -> Result<Item, StateError> {
    let json = serde_json::to_string(record)
        .map_err(|error| StateError::Malformed(format!("the record as JSON: {error}")))?;
    Ok(Item::from([
        (KEY_ATTRIBUTE.to_owned(), text(call_key(&record.call_uuid))),
        (RECORD.to_owned(), text(json)),
        (VERSION.to_owned(), number(version)),
        (EXPIRES_AT_ATTRIBUTE.to_owned(), number(expires_at)),
    ]))
}

fn versioned(item: &Item) -> Result<Versioned, StateError> {
    let record = serde_json::from_str(text_attribute(item, RECORD)?)
        .map_err(|_| StateError::Malformed(format!("{RECORD} is not an alert record")))?;
    let version = u64::try_from(number_attribute(item, VERSION)?)
        .map_err(|_| StateError::Malformed(format!("{VERSION} is negative")))?;
    Ok(Versioned { record, version })
}

impl DynamoDbStore {
    /// One consistent `GetItem`.
    async fn get(&self, key: String) -> Result<Option<Item>, StateError> {
        let request = self
            .client
            .get_item()
            .table_name(self.table())
            .key(KEY_ATTRIBUTE, text(key))
            .consistent_read(true)
            .send();
        match self.bounded("GetItem", request).await? {
            Ok(output) => Ok(output.item),
            Err(error) => Err(self.classify(error)),
        }
    }

    /// One `PutItem` under `condition`; `Ok(Some(old))` when the condition failed.
    async fn put_if(
        &self,
        item: Item,
        condition: &str,
        expected: Option<u64>,
    ) -> Result<Option<Item>, StateError> {
        let mut request = self
            .client
            .put_item()
            .table_name(self.table())
            .set_item(Some(item))
            .condition_expression(condition)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        if let Some(expected) = expected {
            request = request.expression_attribute_values(":expected", number(expected));
        }
        match self.bounded("PutItem", request.send()).await? {
            Ok(_) => Ok(None),
            Err(SdkError::ServiceError(context)) => match context.into_err() {
                PutItemError::ConditionalCheckFailedException(failed) => {
                    Ok(Some(failed.item.unwrap_or_default()))
                }
                other => Err(crate::state::dynamodb::classify_service_error(other)),
            },
            Err(other) => Err(self.classify(other)),
        }
    }
}

#[async_trait::async_trait]
impl AlertStore for DynamoDbStore {
    /// Two `PutItem`s: the pointer from the alert id, then the record unless one exists.
    async fn create(&self, record: &AlertRecord, expires_at: i64) -> Result<(), StateError> {
        let pointer = Item::from([
            (KEY_ATTRIBUTE.to_owned(), text(alert_key(&record.alert_id))),
            (CALL_UUID.to_owned(), text(record.call_uuid.clone())),
            (EXPIRES_AT_ATTRIBUTE.to_owned(), number(expires_at)),
        ]);
        let request = self
            .client
            .put_item()
            .table_name(self.table())
            .set_item(Some(pointer))
            .send();
        if let Err(error) = self.bounded("PutItem", request).await? {
            return Err(self.classify(error));
        }
        let item = record_item(record, 1, expires_at)?;
        self.put_if(item, "attribute_not_exists(pk)", None).await?;
        Ok(())
    }

    async fn by_call(&self, call_uuid: &str) -> Result<Option<Versioned>, StateError> {
        self.get(call_key(call_uuid))
            .await?
            .map(|item| versioned(&item))
            .transpose()
    }

    async fn by_alert(&self, alert_id: &str) -> Result<Option<Versioned>, StateError> {
        let Some(pointer) = self.get(alert_key(alert_id)).await? else {
            return Ok(None);
        };
        let call_uuid = text_attribute(&pointer, CALL_UUID)?.to_owned();
        self.by_call(&call_uuid).await
    }

    async fn replace(&self, write: Replacement<'_>) -> Result<Replaced, StateError> {
        let item = record_item(write.record, write.next_version(), write.expires_at)?;
        match self
            .put_if(item, "version = :expected", Some(write.expected))
            .await?
        {
            None => Ok(Replaced::Written),
            Some(old) if old.is_empty() => Err(nothing_to_replace()),
            Some(old) => Ok(Replaced::Conflict(versioned(&old)?)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::record::sample_record;
    use crate::state::DuplicateKey;
    use crate::state::IdempotencyKey;

    #[test]
    fn keys_cannot_meet_the_replay_or_idempotency_items() {
        let call = call_key("call-1");
        let alert = alert_key("call-1");
        assert_ne!(call, alert);
        assert!(call.starts_with("outcome#call#") && alert.starts_with("outcome#alert#"));
        for other in [
            DuplicateKey::new("call-1", None).record_key(),
            IdempotencyKey::new("alert:id:call-1").record_key(),
        ] {
            assert!(!other.starts_with("outcome#"), "{other}");
        }
    }

    #[test]
    fn a_record_round_trips_through_its_item() {
        let record = sample_record();
        let item = record_item(&record, 7, 999).unwrap();
        assert_eq!(versioned(&item).unwrap(), Versioned { record, version: 7 });
        let mut broken = item.clone();
        broken.insert(RECORD.into(), text("{}"));
        assert!(versioned(&broken).is_err());
    }
}
