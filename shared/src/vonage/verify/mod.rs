//! Verification of one signed Vonage webhook request.
//!
//! Vonage's SDKs check the HS256 signature and stop there. This module also checks the algorithm,
//! the critical-header list, the claim types, the issuer, the account, the token's age both ways,
//! an `exp` when one is present, and that `payload_hash` matches the bytes we actually received.
//! Every failure has its own [`Rejection`] so it can be logged and counted; none of them is ever
//! meant for an HTTP response body.

use std::borrow::Cow;
use std::cell::RefCell;
use std::time::Duration;

use aws_lc_rs::{digest, hmac};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use compact_str::CompactString;
use jsonwebtoken::Algorithm;
use serde::Deserialize;
use serde_json::Value;
use subtle::ConstantTimeEq;

mod claims;
#[cfg(any(test, feature = "test-util"))]
mod every_rejection;

mod secrets;

use claims::{ClaimValue, CompactJws, RawClaims};
pub use secrets::{CandidateSecrets, SecretError, SignatureSecret};

/// Tokens larger than this are refused before any decoding. Genuine Vonage tokens are about 400
/// bytes; the cap keeps a hostile header from costing us base64 and JSON work.
pub const MAX_TOKEN_BYTES: usize = 8 * 1024;

/// Vonage's `iss` claim on every signed webhook.
pub const VONAGE_ISSUER: &str = "Vonage";

/// How `payload_hash` is matched against the body.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum BodyHashMode {
    /// The SHA-256 of the exact bytes received. A whitespace change is a mismatch.
    #[default]
    Exact,
    /// As `Exact`, then, for a JSON body that did not match, the SHA-256 of the body re-serialised
    /// compactly in its original key order (what Vonage's own samples hash). For deployments that
    /// find Vonage's raw body and its hashed form differ; the content must still be identical.
    ExactOrCompactJson,
}

/// What a deployment expects of every token. Built once at cold start.
#[derive(Clone, Debug)]
pub struct VerificationPolicy {
    /// How old `iat` may be.
    pub max_age: Duration,
    /// How far ahead of our clock `iat` (and `nbf`) may be.
    pub max_clock_ahead: Duration,
    /// When set, the token's `api_key` must equal it.
    pub expected_api_key: Option<String>,
    /// When set, the token's `application_id` must equal it.
    pub expected_application_id: Option<String>,
    /// How `payload_hash` is matched against the body.
    pub body_hash: BodyHashMode,
}

impl Default for VerificationPolicy {
    fn default() -> Self {
        Self {
            max_age: Duration::from_secs(300),
            max_clock_ahead: Duration::from_secs(300),
            expected_api_key: None,
            expected_application_id: None,
            body_hash: BodyHashMode::Exact,
        }
    }
}

/// The parts of an HTTP request that verification needs, free of any framework's types.
#[derive(Clone, Copy, Debug)]
pub struct WebhookRequest<'a> {
    /// Every `Authorization` header value the request carried.
    pub authorization: &'a [&'a [u8]],
    /// The HTTP method, e.g. `GET` or `POST`.
    pub method: &'a str,
    /// The raw query string without `?`, as received.
    pub query: Option<&'a str>,
    /// The raw body, after any base64 decoding by the caller.
    pub body: &'a [u8],
}

/// Claims of a verified token. Strings of up to 24 bytes are held inline ([`CompactString`]), so
/// only the UUID-length `jti` and `application_id` allocate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VonageClaims {
    /// Issued at, in Unix seconds.
    pub iat: i64,
    /// Required: the duplicate check keys on it, so a token without one is refused.
    pub jti: CompactString,
    /// The issuer, always `Vonage`.
    pub iss: CompactString,
    /// The account's API key.
    pub api_key: Option<CompactString>,
    /// The application the webhook is for.
    pub application_id: Option<CompactString>,
    /// Expiry, when the token has one.
    pub exp: Option<i64>,
    /// Not before, when the token has one.
    pub nbf: Option<i64>,
}

/// A request that passed every check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verified {
    /// The token's claims.
    pub claims: VonageClaims,
    /// The label of the secret whose signature matched.
    pub matched_secret: Cow<'static, str>,
    /// Whether the body matched only in its compact-JSON form (see [`BodyHashMode`]).
    pub body_matched_compact_form: bool,
}

/// Why a request was refused. Reasons are for logs and metrics, never for the HTTP body.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    #[error("no Authorization header")]
    /// No `Authorization` header.
    MissingToken,
    #[error("more than one Authorization header")]
    /// More than one `Authorization` value.
    MultipleAuthorization,
    #[error("the Authorization header is not a Bearer token")]
    /// A scheme other than `Bearer`.
    NotBearer,
    #[error("the bearer token is empty")]
    /// `Bearer` with nothing after it.
    EmptyToken,
    #[error("the bearer token is longer than {MAX_TOKEN_BYTES} bytes")]
    /// A token over [`MAX_TOKEN_BYTES`].
    TokenTooLarge,
    #[error("the token is not a well-formed JWT")]
    /// Not a three-part JWS.
    Malformed,
    #[error("the token's algorithm is not HS256")]
    /// An algorithm other than HS256.
    Algorithm,
    #[error("the token has a `crit` header")]
    /// A `crit` (or `b64`) header.
    CriticalHeader,
    #[error("the signature matches none of the candidate secrets")]
    /// No candidate secret made the signature.
    Signature,
    #[error("the claim `{0}` has the wrong type")]
    /// A claim of the wrong JSON type.
    ClaimType(&'static str),
    #[error("the claim `{0}` is missing")]
    /// A required claim is absent.
    MissingClaim(&'static str),
    #[error("the token has expired (`exp`)")]
    /// `exp` has passed.
    Expired,
    #[error("the token is not valid yet (`nbf`)")]
    /// `nbf` is still ahead.
    NotYetValid,
    #[error("the token was issued too long ago (`iat`)")]
    /// `iat` is older than the policy allows.
    Stale,
    #[error("the token was issued in the future (`iat`)")]
    /// `iat` is further ahead than the policy allows.
    Future,
    #[error("the issuer is not Vonage")]
    /// `iss` is not `Vonage`.
    Issuer,
    #[error("the token's `{0}` is not this deployment's")]
    /// The named claim is not the configured account or application.
    Account(&'static str),
    #[error("`payload_hash` is not a hex SHA-256")]
    /// `payload_hash` is not 64 hex characters.
    PayloadHashMalformed,
    #[error("`payload_hash` does not match the body")]
    /// `payload_hash` does not match what was received.
    BodyMismatch,
}

impl Rejection {
    /// A stable, machine-friendly name for logs and metrics.
    pub fn reason(&self) -> &'static str {
        match self {
            Rejection::MissingToken => "missing_token",
            Rejection::MultipleAuthorization => "multiple_authorization",
            Rejection::NotBearer => "not_bearer",
            Rejection::EmptyToken => "empty_token",
            Rejection::TokenTooLarge => "token_too_large",
            Rejection::Malformed => "malformed",
            Rejection::Algorithm => "algorithm",
            Rejection::CriticalHeader => "critical_header",
            Rejection::Signature => "signature",
            Rejection::ClaimType(_) => "claim_type",
            Rejection::MissingClaim(_) => "missing_claim",
            Rejection::Expired => "expired",
            Rejection::NotYetValid => "not_yet_valid",
            Rejection::Stale => "stale",
            Rejection::Future => "future",
            Rejection::Issuer => "issuer",
            Rejection::Account(_) => "account",
            Rejection::PayloadHashMalformed => "payload_hash_malformed",
            Rejection::BodyMismatch => "body_mismatch",
        }
    }
}

/// Verifies one webhook request against the candidate secrets at time `now` (Unix seconds).
///
/// `jsonwebtoken` decodes the header; aws-lc checks the MAC, with the key each
/// [`SignatureSecret`] prepared once, over the exact bytes whose claims are then decoded (by
/// `base64` and `serde_json`, as `jsonwebtoken` decodes them, but onto the stack and borrowing
/// the strings). No claim is read before a signature matched.
pub fn verify(
    request: &WebhookRequest<'_>,
    secrets: &CandidateSecrets,
    now: i64,
    policy: &VerificationPolicy,
) -> Result<Verified, Rejection> {
    let token = CompactJws::split(bearer_token(request.authorization)?)?;
    check_header(&token)?;
    let matched_secret = check_signature(&token, secrets)?;
    claims::with_decoded_claims(&token, |raw| {
        let claims = typed_claims(&raw)?;
        check_issuer_and_account(&claims, policy)?;
        check_times(&claims, now, policy)?;
        let body_matched_compact_form = check_payload_hash(raw.payload_hash, request, policy)?;
        Ok(Verified {
            claims,
            matched_secret: matched_secret.clone(),
            body_matched_compact_form,
        })
    })
}

/// Extracts the token from exactly one `Bearer` Authorization value, before any decoding.
pub fn bearer_token<'a>(values: &[&'a [u8]]) -> Result<&'a str, Rejection> {
    let value = match values {
        [] => return Err(Rejection::MissingToken),
        [one] => *one,
        _ => return Err(Rejection::MultipleAuthorization),
    };
    let value = std::str::from_utf8(value)
        .map_err(|_| Rejection::Malformed)?
        .trim();
    let (scheme, rest) = value.split_once([' ', '\t']).unwrap_or((value, ""));
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(Rejection::NotBearer);
    }
    let token = rest.trim();
    if token.is_empty() {
        return Err(Rejection::EmptyToken);
    }
    if token.len() > MAX_TOKEN_BYTES {
        return Err(Rejection::TokenTooLarge);
    }
    Ok(token)
}

/// Vonage sends the same header on every webhook, so the last one found acceptable is kept per
/// thread and a byte-identical header is not decoded again. Only an accepted header is kept.
fn check_header(token: &CompactJws<'_>) -> Result<(), Rejection> {
    thread_local! {
        static LAST_ACCEPTED_HEADER: RefCell<String> = const { RefCell::new(String::new()) };
    }
    let segment = token.header;
    let seen =
        LAST_ACCEPTED_HEADER.with_borrow(|accepted| !segment.is_empty() && accepted == segment);
    if seen {
        return Ok(());
    }
    decode_and_check_header(token.whole)?;
    LAST_ACCEPTED_HEADER.with_borrow_mut(|accepted| segment.clone_into(accepted));
    Ok(())
}

fn decode_and_check_header(token: &str) -> Result<(), Rejection> {
    match jsonwebtoken::decode_header(token) {
        Ok(header) if header.alg != Algorithm::HS256 => Err(Rejection::Algorithm),
        Ok(header) if header.crit.is_some() => Err(Rejection::CriticalHeader),
        // RFC 7797's `b64` changes what is signed; `jsonwebtoken::decode` refuses it too.
        Ok(header)
            if header
                .extras
                .get::<Value>("b64")
                .is_ok_and(|b64| b64.is_some()) =>
        {
            Err(Rejection::Malformed)
        }
        Ok(_) => Ok(()),
        Err(_) => Err(classify_unreadable_header(token)),
    }
}

/// `jsonwebtoken` cannot represent `alg` values it does not implement (`none` among them), so a
/// header it refuses is looked at once more, only to tell an algorithm refusal from garbage.
fn classify_unreadable_header(token: &str) -> Rejection {
    #[derive(Deserialize)]
    struct AlgOnly {
        alg: Value,
    }
    let header_segment = token.split('.').next().unwrap_or_default();
    URL_SAFE_NO_PAD
        .decode(header_segment)
        .ok()
        .and_then(|bytes| serde_json::from_slice::<AlgOnly>(&bytes).ok())
        .map_or(Rejection::Malformed, |header| match header.alg {
            Value::String(_) => Rejection::Algorithm,
            _ => Rejection::Malformed,
        })
}

/// Checks the HS256 MAC over `header.claims` (everything before the last dot, as JWS defines the
/// signing input) against each candidate, and returns the label of the one that matched.
/// `hmac::verify` compares in constant time.
fn check_signature<'s>(
    token: &CompactJws<'_>,
    secrets: &'s CandidateSecrets,
) -> Result<&'s Cow<'static, str>, Rejection> {
    let signing_input = token.signing_input.as_bytes();
    claims::with_base64_decoded::<SIGNATURE_ON_STACK, _>(token.signature, |signature| {
        secrets
            .iter()
            .find(|secret| hmac::verify(&secret.key, signing_input, signature).is_ok())
            .map(|secret| &secret.label)
            .ok_or(Rejection::Signature)
    })
}

/// An HS256 signature is 32 bytes; room for twice that keeps any well-formed one on the stack.
const SIGNATURE_ON_STACK: usize = 64;

fn numeric_claim(
    value: &Option<ClaimValue<'_>>,
    name: &'static str,
) -> Result<Option<i64>, Rejection> {
    match value {
        None => Ok(None),
        Some(ClaimValue::Seconds(seconds)) => Ok(Some(*seconds)),
        Some(_) => Err(Rejection::ClaimType(name)),
    }
}

fn string_claim<'a>(
    value: &'a Option<ClaimValue<'_>>,
    name: &'static str,
) -> Result<Option<&'a str>, Rejection> {
    match value {
        None => Ok(None),
        Some(ClaimValue::Text(text)) => Ok(Some(text)),
        Some(_) => Err(Rejection::ClaimType(name)),
    }
}

fn typed_claims(raw: &RawClaims<'_>) -> Result<VonageClaims, Rejection> {
    let claims = VonageClaims {
        iat: numeric_claim(&raw.iat, "iat")?.ok_or(Rejection::MissingClaim("iat"))?,
        exp: numeric_claim(&raw.exp, "exp")?,
        nbf: numeric_claim(&raw.nbf, "nbf")?,
        jti: string_claim(&raw.jti, "jti")?
            .filter(|jti| !jti.is_empty())
            .ok_or(Rejection::MissingClaim("jti"))?
            .into(),
        iss: string_claim(&raw.iss, "iss")?
            .ok_or(Rejection::MissingClaim("iss"))?
            .into(),
        api_key: string_claim(&raw.api_key, "api_key")?.map(CompactString::from),
        application_id: string_claim(&raw.application_id, "application_id")?
            .map(CompactString::from),
    };
    Ok(claims)
}

fn check_issuer_and_account(
    claims: &VonageClaims,
    policy: &VerificationPolicy,
) -> Result<(), Rejection> {
    if claims.iss != VONAGE_ISSUER {
        return Err(Rejection::Issuer);
    }
    let matches = |expected: &Option<String>, actual: &Option<CompactString>| match expected {
        None => true,
        Some(expected) => actual.as_deref() == Some(expected.as_str()),
    };
    if !matches(&policy.expected_api_key, &claims.api_key) {
        return Err(Rejection::Account("api_key"));
    }
    if !matches(&policy.expected_application_id, &claims.application_id) {
        return Err(Rejection::Account("application_id"));
    }
    Ok(())
}

fn check_times(
    claims: &VonageClaims,
    now: i64,
    policy: &VerificationPolicy,
) -> Result<(), Rejection> {
    let max_age = i64::try_from(policy.max_age.as_secs()).unwrap_or(i64::MAX);
    let max_ahead = i64::try_from(policy.max_clock_ahead.as_secs()).unwrap_or(i64::MAX);
    if claims.exp.is_some_and(|exp| exp <= now) {
        return Err(Rejection::Expired);
    }
    if claims
        .nbf
        .is_some_and(|nbf| nbf > now.saturating_add(max_ahead))
    {
        return Err(Rejection::NotYetValid);
    }
    if claims.iat > now.saturating_add(max_ahead) {
        return Err(Rejection::Future);
    }
    if claims.iat < now.saturating_sub(max_age) {
        return Err(Rejection::Stale);
    }
    Ok(())
}

fn check_payload_hash(
    claimed: Option<ClaimValue<'_>>,
    request: &WebhookRequest<'_>,
    policy: &VerificationPolicy,
) -> Result<bool, Rejection> {
    let claimed = match &claimed {
        None => return Err(Rejection::MissingClaim("payload_hash")),
        Some(ClaimValue::Text(hex_digest)) => hex_digest.as_bytes(),
        Some(_) => return Err(Rejection::ClaimType("payload_hash")),
    };
    let mut expected = [0u8; 32];
    // `hex` accepts either case and refuses any length but 64 digits.
    hex::decode_to_slice(claimed, &mut expected).map_err(|_| Rejection::PayloadHashMalformed)?;

    let digest_matches = |bytes: &[u8]| -> bool {
        digest::digest(&digest::SHA256, bytes)
            .as_ref()
            .ct_eq(&expected)
            .into()
    };

    if request.method.eq_ignore_ascii_case("GET") {
        let hashed = query_as_compact_json(request.query.unwrap_or_default());
        return if digest_matches(hashed.as_bytes()) {
            Ok(false)
        } else {
            Err(Rejection::BodyMismatch)
        };
    }
    if digest_matches(request.body) {
        return Ok(false);
    }
    if policy.body_hash == BodyHashMode::ExactOrCompactJson
        && let Some(compact) = compact_json(request.body)
        && digest_matches(compact.as_bytes())
    {
        return Ok(true);
    }
    Err(Rejection::BodyMismatch)
}

/// The JSON object Vonage hashes for a GET webhook: the query parameters, in their order, as
/// strings. A repeated name keeps its first position and its last value, as a JSON object would.
pub fn query_as_compact_json(query: &str) -> String {
    let mut object = serde_json::Map::new();
    for (name, value) in form_urlencoded::parse(query.as_bytes()) {
        object.insert(name.into_owned(), Value::String(value.into_owned()));
    }
    Value::Object(object).to_string()
}

fn compact_json(body: &[u8]) -> Option<String> {
    serde_json::from_slice::<Value>(body)
        .ok()
        .map(|value| value.to_string())
}

#[cfg(test)]
mod tests;
