//! The one home of every metric name and dimension name (the namespace setting is in
//! [`crate::settings`]). The template's
//! alarms and dashboard are checked against these constants (`tests/tests/template.rs`).

/// The property giving each metric line a log level. Under `LogFormat: JSON` with an
/// `ApplicationLogLevel`, Lambda files a JSON line without a valid `level` as INFO and sends only
/// lines at the configured level or more severe, so a metric line without one is dropped at WARN
/// or ERROR. Metric lines carry the configured level itself (see [`metric_line_level`]).
pub const LEVEL_PROPERTY: &str = "level";
/// The property giving each metric line an RFC 3339 time: Lambda's documentation says a line
/// without a valid timestamp is filed as INFO whatever its level.
pub const TIMESTAMP_PROPERTY: &str = "timestamp";
/// The levels Lambda's log-level filter knows, most detailed first.
pub const LAMBDA_LOG_LEVELS: &[&str] = &["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"];

/// The level metric lines carry: the application log level Lambda filters at
/// (`AWS_LAMBDA_LOG_LEVEL`, any case), so they pass whatever it is; INFO when it is unset or not
/// one of Lambda's levels (Lambda then filters nothing, or at INFO).
pub fn metric_line_level(application_log_level: Option<&str>) -> &'static str {
    application_log_level
        .map(str::trim)
        .and_then(|asked| {
            LAMBDA_LOG_LEVELS
                .iter()
                .find(|level| level.eq_ignore_ascii_case(asked))
        })
        .copied()
        .unwrap_or("INFO")
}

/// The dimension every metric carries: the Lambda function's name, unique per stack.
pub const FUNCTION_DIMENSION: &str = "FunctionName";
/// The second dimension of [`WEBHOOK_REJECTED`]: a stable reason
/// from a closed set (`Rejection::reason`, `VerificationFailure::reason`,
/// `EventRefusal::reason`), never a caller-controlled value.
pub const REASON_DIMENSION: &str = "Reason";

/// A signed webhook whose signature verified and that was processed.
pub const WEBHOOK_VERIFIED: &str = "WebhookVerified";
/// A webhook refused, by [`REASON_DIMENSION`].
pub const WEBHOOK_REJECTED: &str = "WebhookRejected";
/// A verified webhook seen before and answered without processing it again.
pub const WEBHOOK_DUPLICATE: &str = "WebhookDuplicate";
/// An unsigned webhook accepted (the answer function with `ANSWER_ALLOW_UNSIGNED`, the event
/// function for a listed status).
pub const WEBHOOK_UNSIGNED: &str = "WebhookUnsigned";
/// A webhook answered 503 because the secret could not be read in time (the log line says why).
pub const SECRET_UNAVAILABLE: &str = "SecretUnavailable";
/// A read of Secrets Manager (`GetSecretValue`), whatever its result.
pub const SECRET_READ: &str = "SecretRead";
/// How long a Secrets Manager read took, in milliseconds.
pub const SECRET_READ_LATENCY: &str = "SecretReadLatency";

/// An alert call Vonage accepted.
pub const ALERT_PLACED: &str = "AlertPlaced";
/// An alert call refused or not attempted.
pub const ALERT_FAILED: &str = "AlertFailed";
/// An alert whose call may or may not have been placed (no answer within the budget).
pub const ALERT_OUTCOME_UNKNOWN: &str = "AlertOutcomeUnknown";
/// An alert id seen before: the first invocation's answer was returned, no second call.
pub const ALERT_DUPLICATE: &str = "AlertDuplicate";
/// An alert the callee confirmed (pressed the digit).
pub const ALERT_CONFIRMED: &str = "AlertConfirmed";
/// An alert call that ended without a confirmation.
pub const ALERT_NOT_CONFIRMED: &str = "AlertNotConfirmed";

/// A DynamoDB call that failed (error or timeout).
pub const DYNAMODB_FAILURE: &str = "DynamoDbFailure";
/// An EventBridge `PutEvents` that failed or had failed entries.
pub const EVENTBRIDGE_FAILURE: &str = "EventBridgeFailure";

/// The drift check found the application not as the stack expects.
pub const DRIFT_FOUND: &str = "DriftFound";
/// Drift check: signed callbacks were off.
pub const SIGNED_CALLBACKS_OFF: &str = "SignedCallbacksOff";
/// Drift check: how many webhooks pointed elsewhere.
pub const WEBHOOK_MISMATCHES: &str = "WebhookMismatches";
/// Drift check: the application was put back.
pub const DRIFT_REPAIRED: &str = "DriftRepaired";
/// Drift check: the repair failed.
pub const DRIFT_REPAIR_FAILED: &str = "DriftRepairFailed";
/// Drift check: the application could not be read at all.
pub const DRIFT_CHECK_FAILED: &str = "DriftCheckFailed";

/// A process started (its first invocation's EMF line carries it).
pub const COLD_START: &str = "ColdStart";

/// Every counter, for units and for the template tests.
pub const COUNTERS: &[&str] = &[
    WEBHOOK_VERIFIED,
    WEBHOOK_REJECTED,
    WEBHOOK_DUPLICATE,
    WEBHOOK_UNSIGNED,
    SECRET_UNAVAILABLE,
    SECRET_READ,
    ALERT_PLACED,
    ALERT_FAILED,
    ALERT_OUTCOME_UNKNOWN,
    ALERT_DUPLICATE,
    ALERT_CONFIRMED,
    ALERT_NOT_CONFIRMED,
    DYNAMODB_FAILURE,
    EVENTBRIDGE_FAILURE,
    DRIFT_FOUND,
    SIGNED_CALLBACKS_OFF,
    WEBHOOK_MISMATCHES,
    DRIFT_REPAIRED,
    DRIFT_REPAIR_FAILED,
    DRIFT_CHECK_FAILED,
    COLD_START,
];

/// Every histogram, in milliseconds.
pub const MILLISECOND_HISTOGRAMS: &[&str] = &[SECRET_READ_LATENCY];

/// The dimension sets a metric is emitted with (beyond none): every metric has
/// `[FunctionName]`; [`WEBHOOK_REJECTED`] `[FunctionName, Reason]` instead.
pub fn dimensions(metric: &str) -> &'static [&'static str] {
    match metric {
        WEBHOOK_REJECTED => &[FUNCTION_DIMENSION, REASON_DIMENSION],
        _ => &[FUNCTION_DIMENSION],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metric_lines_carry_the_level_lambda_filters_at() {
        for (asked, level) in [
            (Some("WARN"), "WARN"),
            (Some("error"), "ERROR"),
            (Some(" Debug "), "DEBUG"),
            (Some("FATAL"), "FATAL"),
            (Some("TRACE"), "TRACE"),
            (Some("INFO"), "INFO"),
            (Some("verbose"), "INFO"),
            (Some(""), "INFO"),
            (None, "INFO"),
        ] {
            assert_eq!(metric_line_level(asked), level, "{asked:?}");
        }
    }
}
