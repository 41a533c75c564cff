//! `alert-status`: what became of an alert, read from the stack's state table with the same code
//! as the alert-status function.

use std::io::Write;
use std::time::Duration;

use serde_json::json;
use vonage_voice_lambda::alert::status::{StatusError, StatusQuery, alert_status, status_json};
use vonage_voice_lambda::aws;
use vonage_voice_lambda::state::StateConfig;

use crate::{AlertStatusArgs, CliError, Verdict, print};

/// Prints the alert's status as JSON. Exit 0 when found, 1 when no alert has that id.
pub async fn alert_status_command(
    args: &AlertStatusArgs,
    out: &mut dyn Write,
) -> Result<Verdict, CliError> {
    let input = match (&args.alert_id, &args.call_uuid) {
        (Some(alert_id), None) => json!({"alert_id": alert_id}),
        (None, Some(call_uuid)) => json!({"call_uuid": call_uuid}),
        _ => {
            return Err(CliError::Usage(
                "give --alert-id or --call-uuid, one of them".into(),
            ));
        }
    };
    let query =
        StatusQuery::from_json(&input).map_err(|error| CliError::Usage(error.to_string()))?;
    let config = StateConfig {
        table_name: args.table.clone(),
        timeout: Duration::from_millis(args.timeout_ms.max(1)),
    };
    let sdk = aws::load(aws::environment_loader()).await;
    let store = aws::state_store(&sdk, &config);
    match alert_status(&store, &query).await {
        Ok(found) => {
            let text = serde_json::to_string_pretty(&status_json(&found))
                .map_err(|error| CliError::Unreachable(error.to_string()))?;
            print(out, format_args!("{text}"))?;
            Ok(Verdict::Good)
        }
        Err(error @ StatusError::NotFound { .. }) => {
            print(out, format_args!("{}", error.to_json()))?;
            Ok(Verdict::Wrong)
        }
        Err(StatusError::InvalidInput { message }) => Err(CliError::Usage(message)),
        Err(error @ (StatusError::Unavailable(_) | StatusError::DeadlineExceeded(_))) => {
            Err(CliError::Unreachable(error.to_string()))
        }
    }
}
