//! `verify`: the project's verifier on a captured request, and why it said no.
//!
//! The verdict comes only from `shared::verify::verify`. The hints after a rejection read the
//! token's header and claims without trusting them, to show the numbers behind the failed check;
//! they never print the token, its signature or a secret.

use std::io::Write;
use std::time::Duration;

use base64::Engine as _;
use serde_json::Value;
use sha2::{Digest, Sha256};
use vonage_voice_lambda::secrets::{PREVIOUS, WebhookSecret};
use vonage_voice_lambda::vonage::verify::{
    BodyHashMode, CandidateSecrets, Rejection, SignatureSecret, VONAGE_ISSUER, VerificationPolicy,
    Verified, WebhookRequest, bearer_token, query_as_compact_json, verify as verify_request,
};

use crate::capture::{CapturedRequest, parse_capture};
use crate::{
    CliError, HttpMethod, PayloadHashMode, Verdict, VerifyArgs, given, now_unix_seconds, print,
    read_current_secret, read_secret,
};

pub(crate) async fn verify(args: &VerifyArgs, out: &mut dyn Write) -> Result<Verdict, CliError> {
    let request = captured(args)?;
    let (secrets, policy) = secrets_and_policy(args).await?;
    let (now, as_of) = match (args.at, request.received_at) {
        (Some(at), _) => (at, "the time given with --at"),
        (None, Some(received)) => (received, "when API Gateway received it"),
        (None, None) => (now_unix_seconds(), "now"),
    };
    print(
        out,
        format_args!(
            "checking a {} request: {} Authorization header(s), {}-byte body{}; as of {now} ({as_of})",
            request.method,
            request.authorization.len(),
            request.body.len(),
            request
                .query
                .as_deref()
                .map(|query| format!(", query {query:?}"))
                .unwrap_or_default()
        ),
    )?;
    let authorization: Vec<&[u8]> = request.authorization.iter().map(Vec::as_slice).collect();
    let webhook = WebhookRequest {
        authorization: &authorization,
        method: &request.method,
        query: request.query.as_deref(),
        body: &request.body,
    };
    match verify_request(&webhook, &secrets, now, &policy) {
        Ok(verified) => {
            report_verified(&verified, now, out)?;
            Ok(Verdict::Good)
        }
        Err(rejection) => {
            print(out, format_args!("REJECTED"))?;
            print(out, format_args!("failed check: {}", rejection.reason()))?;
            print(out, format_args!("reason: {rejection}"))?;
            for hint in hints(&rejection, &webhook, &secrets, &policy, now) {
                print(out, format_args!("  {hint}"))?;
            }
            Ok(Verdict::Wrong)
        }
    }
}

fn captured(args: &VerifyArgs) -> Result<CapturedRequest, CliError> {
    if let Some(path) = &args.request_file {
        let bytes = std::fs::read(path).map_err(|error| {
            CliError::Usage(format!("{} cannot be read: {error}", path.display()))
        })?;
        return parse_capture(&bytes).map_err(|error| {
            CliError::Usage(format!(
                "{} is not a captured request: {error}",
                path.display()
            ))
        });
    }
    let body = match (&args.body, &args.body_file) {
        (Some(body), _) => body.clone().into_bytes(),
        (None, Some(path)) => std::fs::read(path).map_err(|error| {
            CliError::Usage(format!("{} cannot be read: {error}", path.display()))
        })?,
        (None, None) => Vec::new(),
    };
    Ok(CapturedRequest {
        method: match args.method {
            HttpMethod::Post => "POST".into(),
            HttpMethod::Get => "GET".into(),
        },
        query: args.query.clone(),
        authorization: args
            .authorization
            .iter()
            .map(|value| value.as_bytes().to_vec())
            .collect(),
        body,
        received_at: None,
    })
}

async fn secrets_and_policy(
    args: &VerifyArgs,
) -> Result<(CandidateSecrets, VerificationPolicy), CliError> {
    let unusable = |error: vonage_voice_lambda::vonage::verify::SecretError| {
        CliError::Usage(error.to_string())
    };
    let mut candidates = Vec::new();
    let mut expected_api_key = given(&args.expected_api_key);
    let mut expected_application_id = given(&args.expected_application_id);
    if let Some(secret) = args.signing.signature_secret.as_deref() {
        candidates.push(SignatureSecret::new("--signature-secret", secret).map_err(unusable)?);
    } else if let Some(secret_id) = given(&args.signing.webhook_secret_id) {
        let document = |text: &str| {
            WebhookSecret::parse(text).map_err(|problem| {
                CliError::Secrets(format!("the secret {secret_id} is not usable: {problem}"))
            })
        };
        let current = document(&read_current_secret(&secret_id).await?)?;
        candidates.push(
            SignatureSecret::new("AWSCURRENT", current.signature_secret()).map_err(unusable)?,
        );
        if let Some(previous) = read_secret(&secret_id, PREVIOUS).await? {
            let previous = document(&previous)?;
            candidates.push(
                SignatureSecret::new("AWSPREVIOUS", previous.signature_secret())
                    .map_err(unusable)?,
            );
        }
        expected_api_key.get_or_insert_with(|| current.api_key().to_owned());
        if expected_application_id.is_none() {
            expected_application_id = current.application_id().map(str::to_owned);
        }
    } else {
        return Err(CliError::Usage(
            "no signature secret: give --signature-secret or set VONAGE_SIGNATURE_SECRET, or point \
             --webhook-secret-id (VONAGE_WEBHOOK_SECRET_ID) at the stack's webhook secret"
                .into(),
        ));
    }
    if let Some(previous) = args.previous_signature_secret.as_deref() {
        candidates
            .push(SignatureSecret::new("--previous-signature-secret", previous).map_err(unusable)?);
    }
    let policy = VerificationPolicy {
        max_age: Duration::from_secs(args.max_age_seconds),
        max_clock_ahead: Duration::from_secs(args.max_clock_ahead_seconds),
        expected_api_key,
        expected_application_id,
        body_hash: match args.payload_hash_mode {
            PayloadHashMode::Exact => BodyHashMode::Exact,
            PayloadHashMode::ExactOrCompactJson => BodyHashMode::ExactOrCompactJson,
        },
    };
    Ok((CandidateSecrets::new(candidates).map_err(unusable)?, policy))
}

fn report_verified(verified: &Verified, now: i64, out: &mut dyn Write) -> Result<(), CliError> {
    let claims = &verified.claims;
    let or_none = |value: Option<&str>| value.unwrap_or("(none)").to_owned();
    print(out, format_args!("VERIFIED"))?;
    print(
        out,
        format_args!("signed with: {}", verified.matched_secret),
    )?;
    print(
        out,
        format_args!(
            "claims: iss {}, iat {} ({} s before the check time), jti {}, api_key {}, application_id {}",
            claims.iss,
            claims.iat,
            now - claims.iat,
            claims.jti,
            or_none(claims.api_key.as_deref()),
            or_none(claims.application_id.as_deref())
        ),
    )?;
    print(
        out,
        format_args!(
            "payload_hash: {}",
            if verified.body_matched_compact_form {
                "matches the body's compact JSON form (not its exact bytes)"
            } else {
                "matches"
            }
        ),
    )
}

/// The token's header and claims, decoded without checking anything.
fn peek(token: &str) -> (Option<Value>, Option<Value>) {
    let decode = |segment: Option<&str>| {
        segment
            .and_then(|segment| {
                base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .decode(segment.trim_end_matches('='))
                    .ok()
            })
            .and_then(|bytes| serde_json::from_slice::<Value>(&bytes).ok())
    };
    let mut segments = token.split('.');
    (decode(segments.next()), decode(segments.next()))
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The numbers behind a rejection, for the operator.
fn hints(
    rejection: &Rejection,
    request: &WebhookRequest<'_>,
    secrets: &CandidateSecrets,
    policy: &VerificationPolicy,
    now: i64,
) -> Vec<String> {
    let token = bearer_token(request.authorization).ok();
    let (header, claims) = token.map(peek).unwrap_or_default();
    let claim = |name: &str| claims.as_ref().and_then(|claims| claims.get(name)).cloned();
    let shown =
        |value: Option<Value>| value.map_or_else(|| "(absent)".to_owned(), |v| v.to_string());
    let seconds = |value: Option<Value>| value.as_ref().and_then(Value::as_i64);
    match rejection {
        Rejection::MissingToken => vec![
            "the request carried no Authorization header (Vonage sends unsigned callbacks for \
             some events; see UNSIGNED_EVENT_STATUSES)"
                .into(),
        ],
        Rejection::MultipleAuthorization => vec![format!(
            "the request carried {} Authorization headers",
            request.authorization.len()
        )],
        Rejection::NotBearer => {
            let scheme = request
                .authorization
                .first()
                .map(|value| String::from_utf8_lossy(value).trim().to_owned())
                .and_then(|value| value.split_whitespace().next().map(str::to_owned))
                .unwrap_or_default();
            vec![format!("the header's scheme is {scheme:?}, not \"Bearer\"")]
        }
        Rejection::TokenTooLarge => vec![format!(
            "the token is {} bytes",
            request
                .authorization
                .first()
                .map_or(0, |value| value.len().saturating_sub("Bearer ".len()))
        )],
        Rejection::Algorithm => vec![format!(
            "the header's alg is {}",
            shown(header.and_then(|header| header.get("alg").cloned()))
        )],
        Rejection::CriticalHeader => vec![format!(
            "the header's crit is {}",
            shown(header.and_then(|header| header.get("crit").cloned()))
        )],
        Rejection::Signature => {
            let labels: Vec<&str> = secrets.iter().map(SignatureSecret::label).collect();
            vec![
                format!(
                    "tried {} secret(s): {}",
                    labels.len(),
                    labels.join(", ")
                ),
                format!(
                    "the token says it was signed for api_key {} (a different account's secret, \
                     a rotated secret or an altered token all end here)",
                    shown(claim("api_key"))
                ),
            ]
        }
        Rejection::ClaimType(name) | Rejection::MissingClaim(name) => {
            vec![format!("{name} is {}", shown(claim(name)))]
        }
        Rejection::Expired => vec![format!(
            "exp {} is {} s before the check time {now}",
            shown(claim("exp")),
            seconds(claim("exp")).map_or(0, |exp| now - exp)
        )],
        Rejection::NotYetValid => vec![format!(
            "nbf {} is {} s after the check time {now}; up to {} s ahead is allowed",
            shown(claim("nbf")),
            seconds(claim("nbf")).map_or(0, |nbf| nbf - now),
            policy.max_clock_ahead.as_secs()
        )],
        Rejection::Stale => vec![
            format!(
                "iat {} is {} s before the check time {now}; the limit is {} s \
                 (--max-age-seconds, WEBHOOK_MAX_AGE_SECONDS)",
                shown(claim("iat")),
                seconds(claim("iat")).map_or(0, |iat| now - iat),
                policy.max_age.as_secs()
            ),
            "a replay, a retried delivery or a capture checked later; --at checks as of another time"
                .into(),
        ],
        Rejection::Future => vec![format!(
            "iat {} is {} s after the check time {now}; up to {} s ahead is allowed \
             (--max-clock-ahead-seconds, WEBHOOK_MAX_CLOCK_AHEAD_SECONDS)",
            shown(claim("iat")),
            seconds(claim("iat")).map_or(0, |iat| iat - now),
            policy.max_clock_ahead.as_secs()
        )],
        Rejection::Issuer => vec![format!(
            "iss is {}, expected \"{VONAGE_ISSUER}\"",
            shown(claim("iss"))
        )],
        Rejection::Account(name) => {
            let expected = match *name {
                "api_key" => policy.expected_api_key.clone(),
                _ => policy.expected_application_id.clone(),
            };
            vec![format!(
                "the token's {name} is {}, expected {}",
                shown(claim(name)),
                expected.unwrap_or_default()
            )]
        }
        Rejection::PayloadHashMalformed => vec![format!(
            "payload_hash is {}",
            shown(claim("payload_hash"))
        )],
        Rejection::BodyMismatch => body_mismatch_hints(claim("payload_hash"), request),
        Rejection::EmptyToken | Rejection::Malformed => Vec::new(),
    }
}

fn body_mismatch_hints(claimed: Option<Value>, request: &WebhookRequest<'_>) -> Vec<String> {
    let claimed = claimed
        .as_ref()
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_ascii_lowercase();
    let mut hints = vec![format!("payload_hash in the token:          {claimed}")];
    if request.method.eq_ignore_ascii_case("GET") {
        let hashed = query_as_compact_json(request.query.unwrap_or_default());
        hints.push(format!(
            "SHA-256 of the query as JSON:         {}",
            sha256_hex(hashed.as_bytes())
        ));
        hints.push(format!("the query as JSON: {hashed}"));
        return hints;
    }
    hints.push(format!(
        "SHA-256 of the body as received:      {}",
        sha256_hex(request.body)
    ));
    if let Ok(parsed) = serde_json::from_slice::<Value>(request.body) {
        let compact = sha256_hex(parsed.to_string().as_bytes());
        hints.push(format!("SHA-256 of its compact JSON form:     {compact}"));
        if compact == claimed {
            hints.push(
                "the compact form matches: the body was re-formatted on its way (whitespace); \
                 --payload-hash-mode exact-or-compact-json (PAYLOAD_HASH_MODE) would accept it"
                    .into(),
            );
        }
    }
    hints
}
