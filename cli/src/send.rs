//! `send-event`: a webhook signed exactly as Vonage signs it, through the project's own signer
//! (the one the local Voice emulator uses too).

use std::io::Write;

use serde_json::{Value, json};
use vonage_voice_lambda::observe::error_chain;
use vonage_voice_lambda::secrets::WebhookSecret;
use vonage_voice_lambda::vonage::sign::WebhookSigner;

use crate::{
    CliError, HttpMethod, SendEventArgs, SigningArgs, Verdict, given, now_unix_seconds, print,
    read_current_secret, timeout,
};

/// The signature secret, and the account the token names.
struct SigningIdentity {
    signature_secret: String,
    api_key: Option<String>,
    application_id: Option<String>,
}

async fn signing_identity(signing: &SigningArgs) -> Result<SigningIdentity, CliError> {
    if let Some(signature_secret) = signing.signature_secret.clone().filter(|s| !s.is_empty()) {
        return Ok(SigningIdentity {
            signature_secret,
            api_key: None,
            application_id: None,
        });
    }
    let Some(secret_id) = given(&signing.webhook_secret_id) else {
        return Err(CliError::Usage(
            "no signature secret: give --signature-secret or set VONAGE_SIGNATURE_SECRET, or point \
             --webhook-secret-id (VONAGE_WEBHOOK_SECRET_ID) at the stack's webhook secret"
                .into(),
        ));
    };
    let document = read_current_secret(&secret_id).await?;
    let secret = WebhookSecret::parse(&document).map_err(|problem| {
        CliError::Secrets(format!("the secret {secret_id} is not usable: {problem}"))
    })?;
    Ok(SigningIdentity {
        signature_secret: secret.signature_secret().to_owned(),
        api_key: Some(secret.api_key().to_owned()),
        application_id: secret.application_id().map(str::to_owned),
    })
}

pub(crate) async fn send_event(
    args: &SendEventArgs,
    out: &mut dyn Write,
) -> Result<Verdict, CliError> {
    let url = reqwest::Url::parse(&args.url)
        .ok()
        .filter(|url| matches!(url.scheme(), "http" | "https"))
        .ok_or_else(|| {
            CliError::Usage(format!(
                "URL must be an absolute http(s) URL, got {:?}",
                args.url
            ))
        })?;
    let identity = signing_identity(&args.signing).await?;
    let api_key = given(&args.api_key).or(identity.api_key).ok_or_else(|| {
        CliError::Usage(
            "no API key for the token's api_key claim: give --api-key or set VONAGE_API_KEY".into(),
        )
    })?;
    let application_id = given(&args.application_id).or(identity.application_id);
    let signer = WebhookSigner::new(&identity.signature_secret, &api_key, application_id.clone())
        .map_err(|error| CliError::Usage(error.to_string()))?;
    let iat = args.iat.unwrap_or_else(now_unix_seconds);
    let jti = given(&args.jti).unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let signing_failed = |error: vonage_voice_lambda::vonage::sign::SignError| {
        CliError::Usage(format!("the webhook could not be signed: {error}"))
    };

    let client = reqwest::Client::builder()
        .timeout(timeout(args.timeout_seconds))
        .build()
        .map_err(|error| CliError::Unreachable(error_chain(&error)))?;
    let (request, signed_what) = match args.method {
        HttpMethod::Post => {
            let body = event_body(args, iat)?;
            let token = signer.sign_body(&body, iat, &jti).map_err(signing_failed)?;
            let described = format!("POST {url} with a {}-byte body", body.len());
            let request = client
                .post(url)
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .header(reqwest::header::AUTHORIZATION, format!("Bearer {token}"))
                .body(body);
            (request, described)
        }
        HttpMethod::Get => {
            // What is signed is the query exactly as it goes on the wire.
            let query = url.query().unwrap_or_default().to_owned();
            let token = signer
                .sign_query(&query, iat, &jti)
                .map_err(signing_failed)?;
            let described = format!("GET {url} with its query signed");
            let request = client
                .get(url)
                .header(reqwest::header::AUTHORIZATION, format!("Bearer {token}"));
            (request, described)
        }
    };
    print(
        out,
        format_args!(
            "sent {signed_what}; token: iat {iat}, jti {jti}, api_key {api_key}, application_id {}",
            application_id.as_deref().unwrap_or("(none)")
        ),
    )?;
    let response = request
        .send()
        .await
        .map_err(|error| CliError::Unreachable(error_chain(&error)))?;
    let status = response.status();
    let body = response
        .text()
        .await
        .map_err(|error| CliError::Unreachable(error_chain(&error)))?;
    print(out, format_args!("answer: {status}"))?;
    if !body.is_empty() {
        print(out, format_args!("{body}"))?;
    }
    Ok(if status.is_success() {
        Verdict::Good
    } else {
        Verdict::Wrong
    })
}

/// The bytes to send: the given body exactly, unless a status must be set in it; otherwise a
/// call event like Vonage's.
fn event_body(args: &SendEventArgs, iat: i64) -> Result<Vec<u8>, CliError> {
    let given_body = match (&args.body, &args.body_file) {
        (Some(body), _) => Some(body.clone().into_bytes()),
        (None, Some(path)) => Some(std::fs::read(path).map_err(|error| {
            CliError::Usage(format!("{} cannot be read: {error}", path.display()))
        })?),
        (None, None) => None,
    };
    match (given_body, &args.status) {
        (Some(body), None) => Ok(body),
        (Some(body), Some(status)) => {
            let mut event: Value = serde_json::from_slice(&body)
                .ok()
                .filter(Value::is_object)
                .ok_or_else(|| {
                    CliError::Usage("--status needs a body that is a JSON object".into())
                })?;
            event["status"] = Value::String(status.clone());
            Ok(event.to_string().into_bytes())
        }
        (None, status) => Ok(made_up_event(status.as_deref().unwrap_or("answered"), iat)
            .to_string()
            .into_bytes()),
    }
}

/// A call event with the fields Vonage sends (and `completed`'s billing fields).
pub fn made_up_event(status: &str, iat: i64) -> Value {
    let timestamp = iso_timestamp(iat);
    let mut event = json!({
        "from": "447700900001",
        "to": "447700900000",
        "uuid": uuid::Uuid::new_v4().to_string(),
        "conversation_uuid": format!("CON-{}", uuid::Uuid::new_v4()),
        "status": status,
        "direction": "outbound",
        "timestamp": timestamp,
    });
    if status == "completed" {
        event["start_time"] = json!(iso_timestamp(iat - 42));
        event["end_time"] = json!(timestamp);
        event["duration"] = json!("42");
        event["rate"] = json!("0.01270000");
        event["price"] = json!("0.00889000");
        event["network"] = json!("23410");
    }
    event
}

fn iso_timestamp(unix_seconds: i64) -> String {
    let format =
        time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].000Z");
    time::OffsetDateTime::from_unix_timestamp(unix_seconds)
        .ok()
        .and_then(|moment| moment.format(format).ok())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn made_up_events_look_like_vonages() {
        let event = made_up_event("completed", 1_800_000_000);
        assert_eq!(event["status"], "completed");
        assert_eq!(event["timestamp"], "2027-01-15T08:00:00.000Z");
        assert_eq!(event["start_time"], "2027-01-15T07:59:18.000Z");
        assert_eq!(event["uuid"].as_str().unwrap().len(), 36);
        let keys: Vec<&str> = event
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            keys[..7],
            [
                "from",
                "to",
                "uuid",
                "conversation_uuid",
                "status",
                "direction",
                "timestamp"
            ]
        );
        assert!(made_up_event("ringing", 0).get("price").is_none());
    }
}
