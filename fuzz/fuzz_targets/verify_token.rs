//! The verifier against mutations of genuine requests.
//!
//! Each input is read (with `arbitrary`) as a genuine request, signed with the crate's own
//! `WebhookSigner`, followed by a list of mutations to its token (header, claims and signature
//! segments, as base64url text or as decoded JSON, optionally re-signed with either secret), its
//! body, query and method, its Authorization values, and the clock, policy and candidate secrets
//! it is checked with. Invariants:
//! - `verify` never panics;
//! - anything it accepts passes the oracle in `lib.rs` (a genuine HS256 MAC with the secret that
//!   matched, and a `payload_hash` covering the body or query as the policy's mode allows);
//! - an unmutated genuine request, checked in its window with a policy it meets, is accepted.
#![no_main]

use std::time::Duration;

use arbitrary::Arbitrary;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use vonage_voice_lambda::vonage::sign::WebhookSigner;
use vonage_voice_lambda::vonage::verify::{
    BodyHashMode, CandidateSecrets, MAX_TOKEN_BYTES, SignatureSecret, VerificationPolicy,
    WebhookRequest, verify,
};
use vonage_voice_lambda_fuzz::{
    ANSWERED, API_KEY, APPLICATION_ID, OTHER_SECRET, SIGNATURE_SECRET, SIGNED_AT, check_accepted,
    hs256,
};

const PRETTY: &[u8] =
    b"{\n  \"uuid\": \"call-1\",\n  \"status\": \"completed\",\n  \"duration\": \"12\"\n}\n";
const RINGING_QUERY: &str = "status=ringing&direction=inbound&uuid=63f61863-4a51-4f6b-86e1-46edebcf9356&timestamp=2027-01-15T07%3A59%3A58.000Z&to=447700900000&from=447700900001";
const ODD_QUERY: &str = "b=2&a=1+%2B%2F&b=3&%C3%A9=%E2%82%AC&empty=&flag";

#[derive(Arbitrary, Debug)]
struct Case {
    genuine: Genuine,
    signer: Signer,
    scheme: Scheme,
    mutations: Vec<Mutation>,
    /// Applied after the mutations, so that most changed claims arrive genuinely signed and reach
    /// the checks behind the signature.
    finally: Resign,
    extra_authorization: Vec<Extra>,
    clock: Clock,
    policy: Policy,
    candidates: Candidates,
}

/// What Vonage signed.
#[derive(Arbitrary, Debug)]
enum Genuine {
    Post(BodyChoice),
    Get(QueryChoice),
}

#[derive(Arbitrary, Debug)]
enum BodyChoice {
    Answered,
    Pretty,
    NotJson,
    Empty,
    Bytes(Vec<u8>),
}

impl BodyChoice {
    fn bytes(&self) -> Vec<u8> {
        match self {
            BodyChoice::Answered => ANSWERED.to_vec(),
            BodyChoice::Pretty => PRETTY.to_vec(),
            BodyChoice::NotJson => b"status=answered&uuid=call-1".to_vec(),
            BodyChoice::Empty => Vec::new(),
            BodyChoice::Bytes(bytes) => bytes.clone(),
        }
    }
}

#[derive(Arbitrary, Debug)]
enum QueryChoice {
    Ringing,
    Odd,
    Text(String),
}

impl QueryChoice {
    fn text(&self) -> String {
        match self {
            QueryChoice::Ringing => RINGING_QUERY.to_owned(),
            QueryChoice::Odd => ODD_QUERY.to_owned(),
            QueryChoice::Text(text) => text.clone(),
        }
    }
}

#[derive(Arbitrary, Debug)]
struct Signer {
    jti: String,
    api_key: Account,
    application_id: Option<Account>,
}

#[derive(Arbitrary, Debug, Clone)]
enum Account {
    Ours,
    Other(String),
}

impl Account {
    fn api_key(&self) -> String {
        match self {
            Account::Ours => API_KEY.to_owned(),
            Account::Other(other) => other.clone(),
        }
    }

    fn application_id(&self) -> String {
        match self {
            Account::Ours => APPLICATION_ID.to_owned(),
            Account::Other(other) => other.clone(),
        }
    }
}

/// How the token is put in the Authorization value.
#[derive(Arbitrary, Debug)]
enum Scheme {
    Bearer,
    Lower,
    Upper,
    Tab,
    Padded,
    Basic,
    Bare,
    Around(String, String),
}

impl Scheme {
    fn wrap(&self, token: &str) -> Vec<u8> {
        match self {
            Scheme::Bearer => format!("Bearer {token}"),
            Scheme::Lower => format!("bearer {token}"),
            Scheme::Upper => format!("BEARER {token}"),
            Scheme::Tab => format!("Bearer\t{token}"),
            Scheme::Padded => format!("  Bearer   {token}  "),
            Scheme::Basic => format!("Basic {token}"),
            Scheme::Bare => token.to_owned(),
            Scheme::Around(before, after) => format!("{before}{token}{after}"),
        }
        .into_bytes()
    }

    fn is_well_formed(&self) -> bool {
        !matches!(self, Scheme::Basic | Scheme::Bare | Scheme::Around(..))
    }
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Part {
    Header,
    Claims,
    Signature,
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum JsonPart {
    Header,
    Claims,
}

#[derive(Arbitrary, Debug)]
enum Field {
    Alg,
    Typ,
    Crit,
    B64,
    Kid,
    Iat,
    Exp,
    Nbf,
    Jti,
    Iss,
    ApiKey,
    ApplicationId,
    PayloadHash,
    Other(String),
}

impl Field {
    fn name(&self) -> &str {
        match self {
            Field::Alg => "alg",
            Field::Typ => "typ",
            Field::Crit => "crit",
            Field::B64 => "b64",
            Field::Kid => "kid",
            Field::Iat => "iat",
            Field::Exp => "exp",
            Field::Nbf => "nbf",
            Field::Jti => "jti",
            Field::Iss => "iss",
            Field::ApiKey => "api_key",
            Field::ApplicationId => "application_id",
            Field::PayloadHash => "payload_hash",
            Field::Other(name) => name,
        }
    }
}

#[derive(Arbitrary, Debug)]
enum FieldValue {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    /// `SIGNED_AT` plus this many seconds, the values that sit on the policy's edges.
    Time(i32),
    FractionalTime(i32, u8),
    Text(String),
    Known(Known),
    Array(Vec<String>),
    Object(String, String),
}

#[derive(Arbitrary, Debug)]
enum Known {
    Hs256,
    Hs384,
    None,
    Rs256,
    Vonage,
    LowerVonage,
    ApiKey,
    ApplicationId,
    /// The SHA-256 of the current body, of its compact JSON form, or of the query's JSON.
    BodyHash {
        upper: bool,
    },
    CompactBodyHash,
    QueryHash,
}

/// Changes to the request after Vonage signed it. Indexes wrap around the current length.
#[derive(Arbitrary, Debug)]
enum Mutation {
    FlipText {
        part: Part,
        at: u16,
        bit: u8,
    },
    InsertText {
        part: Part,
        at: u16,
        text: String,
    },
    DeleteText {
        part: Part,
        at: u16,
        len: u8,
    },
    ReplaceText {
        part: Part,
        text: String,
    },
    FlipDecoded {
        part: Part,
        at: u16,
        bit: u8,
    },
    InsertDecoded {
        part: Part,
        at: u16,
        bytes: Vec<u8>,
    },
    DeleteDecoded {
        part: Part,
        at: u16,
        len: u8,
    },
    SetField {
        part: JsonPart,
        field: Field,
        value: FieldValue,
    },
    RemoveField {
        part: JsonPart,
        field: Field,
    },
    /// A MAC over the current header and claims, computed here: what a holder of the secret
    /// (`genuine`) or of another one could send.
    Resign {
        genuine: bool,
    },
    FlipBody {
        at: u16,
        bit: u8,
    },
    InsertBody {
        at: u16,
        bytes: Vec<u8>,
    },
    DeleteBody {
        at: u16,
        len: u8,
    },
    ReplaceBody(Vec<u8>),
    /// The body re-serialised by serde_json, compact or pretty: same content, other bytes.
    ReformatBody {
        pretty: bool,
    },
    InsertQuery {
        at: u16,
        text: String,
    },
    DeleteQuery {
        at: u16,
        len: u8,
    },
    ReplaceQuery(Option<String>),
    Method(Method),
}

#[derive(Arbitrary, Debug)]
enum Method {
    Get,
    LowerGet,
    Post,
    Put,
    Other(String),
}

#[derive(Arbitrary, Debug)]
enum Resign {
    Genuine,
    Other,
    Not,
}

/// Extra Authorization values, before or after the genuine one.
#[derive(Arbitrary, Debug)]
struct Extra {
    first: bool,
    value: ExtraValue,
}

#[derive(Arbitrary, Debug)]
enum ExtraValue {
    Same,
    Empty,
    Bearer(String),
    Bytes(Vec<u8>),
}

#[derive(Arbitrary, Debug)]
enum Clock {
    /// `SIGNED_AT` plus this many seconds.
    Near(i16),
    Any(i64),
}

#[derive(Arbitrary, Debug)]
struct Policy {
    max_age: Window,
    max_clock_ahead: Window,
    expected_api_key: Option<Account>,
    expected_application_id: Option<Account>,
    compact_json: bool,
}

#[derive(Arbitrary, Debug)]
enum Window {
    Default,
    Seconds(u16),
    Any(u64),
}

impl Window {
    fn duration(&self) -> Duration {
        match self {
            Window::Default => Duration::from_secs(300),
            Window::Seconds(seconds) => Duration::from_secs(u64::from(*seconds)),
            Window::Any(seconds) => Duration::from_secs(*seconds),
        }
    }
}

#[derive(Arbitrary, Debug, PartialEq)]
enum Candidates {
    Genuine,
    OtherThenGenuine,
    GenuineThenOther,
    OtherOnly,
}

impl Candidates {
    fn secrets(&self) -> Vec<(&'static str, &'static str)> {
        let genuine = ("current", SIGNATURE_SECRET);
        let other = ("other", OTHER_SECRET);
        match self {
            Candidates::Genuine => vec![genuine],
            Candidates::OtherThenGenuine => vec![other, genuine],
            Candidates::GenuineThenOther => vec![genuine, other],
            Candidates::OtherOnly => vec![other],
        }
    }
}

/// A token as three base64url texts, so that each can be mutated on its own.
struct Token {
    parts: [String; 3],
}

impl Token {
    fn parse(token: &str) -> Self {
        let mut parts = token.splitn(3, '.').map(str::to_owned);
        let mut next = || parts.next().unwrap_or_default();
        Self {
            parts: [next(), next(), next()],
        }
    }

    fn text(&mut self, part: Part) -> &mut String {
        &mut self.parts[part as usize]
    }

    /// The decoded bytes of a segment (its text's bytes when it is not base64url).
    fn decoded(&self, part: Part) -> Vec<u8> {
        let text = &self.parts[part as usize];
        URL_SAFE_NO_PAD
            .decode(text)
            .unwrap_or_else(|_| text.as_bytes().to_vec())
    }

    fn set_decoded(&mut self, part: Part, bytes: &[u8]) {
        self.parts[part as usize] = URL_SAFE_NO_PAD.encode(bytes);
    }

    fn signing_input(&self) -> String {
        format!("{}.{}", self.parts[0], self.parts[1])
    }

    fn joined(&self) -> String {
        self.parts.join(".")
    }
}

fn wrap(at: u16, len: usize) -> usize {
    if len == 0 {
        0
    } else {
        usize::from(at) % (len + 1)
    }
}

fn flip(bytes: &mut [u8], at: u16, bit: u8) {
    if !bytes.is_empty() {
        let index = usize::from(at) % bytes.len();
        bytes[index] ^= 1 << (bit % 8);
    }
}

fn delete(bytes: &mut Vec<u8>, at: u16, len: u8) {
    let start = wrap(at, bytes.len()).min(bytes.len());
    let end = (start + usize::from(len).max(1)).min(bytes.len());
    bytes.drain(start..end);
}

fn insert(bytes: &mut Vec<u8>, at: u16, inserted: &[u8]) {
    let at = wrap(at, bytes.len()).min(bytes.len());
    bytes.splice(at..at, inserted.iter().copied());
}

/// Edits a string as bytes; the result is kept only where it is still UTF-8, as a header value
/// given to the verifier as `&str` must be.
fn edit_text(text: &mut String, edit: impl FnOnce(&mut Vec<u8>)) {
    let mut bytes = text.clone().into_bytes();
    edit(&mut bytes);
    if let Ok(edited) = String::from_utf8(bytes) {
        *text = edited;
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    hex::encode(sha2::Sha256::digest(bytes))
}

struct Request {
    token: Token,
    method: String,
    query: Option<String>,
    body: Vec<u8>,
}

impl Request {
    fn value(&self, value: &FieldValue) -> Value {
        match value {
            FieldValue::Null => Value::Null,
            FieldValue::Bool(flag) => Value::Bool(*flag),
            FieldValue::Int(number) => Value::from(*number),
            FieldValue::Float(number) => Value::from(*number),
            FieldValue::Time(offset) => Value::from(SIGNED_AT + i64::from(*offset)),
            FieldValue::FractionalTime(offset, fraction) => {
                Value::from((SIGNED_AT + i64::from(*offset)) as f64 + f64::from(*fraction) / 256.0)
            }
            FieldValue::Text(text) => Value::from(text.as_str()),
            FieldValue::Known(known) => Value::from(self.known(known)),
            FieldValue::Array(items) => Value::from(items.clone()),
            FieldValue::Object(name, value) => Value::Object(
                [(name.clone(), Value::from(value.as_str()))]
                    .into_iter()
                    .collect(),
            ),
        }
    }

    fn known(&self, known: &Known) -> String {
        match known {
            Known::Hs256 => "HS256".into(),
            Known::Hs384 => "HS384".into(),
            Known::None => "none".into(),
            Known::Rs256 => "RS256".into(),
            Known::Vonage => "Vonage".into(),
            Known::LowerVonage => "vonage".into(),
            Known::ApiKey => API_KEY.into(),
            Known::ApplicationId => APPLICATION_ID.into(),
            Known::BodyHash { upper: false } => sha256_hex(&self.body),
            Known::BodyHash { upper: true } => sha256_hex(&self.body).to_uppercase(),
            Known::CompactBodyHash => serde_json::from_slice::<Value>(&self.body)
                .map(|body| sha256_hex(body.to_string().as_bytes()))
                .unwrap_or_default(),
            Known::QueryHash => sha256_hex(
                vonage_voice_lambda_fuzz::vonage_query_json(self.query.as_deref().unwrap_or(""))
                    .as_bytes(),
            ),
        }
    }

    fn apply(&mut self, mutation: &Mutation) {
        match mutation {
            Mutation::FlipText { part, at, bit } => {
                edit_text(self.token.text(*part), |bytes| flip(bytes, *at, *bit))
            }
            Mutation::InsertText { part, at, text } => edit_text(self.token.text(*part), |bytes| {
                insert(bytes, *at, text.as_bytes())
            }),
            Mutation::DeleteText { part, at, len } => {
                edit_text(self.token.text(*part), |bytes| delete(bytes, *at, *len))
            }
            Mutation::ReplaceText { part, text } => *self.token.text(*part) = text.clone(),
            Mutation::FlipDecoded { part, at, bit } => {
                let mut bytes = self.token.decoded(*part);
                flip(&mut bytes, *at, *bit);
                self.token.set_decoded(*part, &bytes);
            }
            Mutation::InsertDecoded {
                part,
                at,
                bytes: inserted,
            } => {
                let mut bytes = self.token.decoded(*part);
                insert(&mut bytes, *at, inserted);
                self.token.set_decoded(*part, &bytes);
            }
            Mutation::DeleteDecoded { part, at, len } => {
                let mut bytes = self.token.decoded(*part);
                delete(&mut bytes, *at, *len);
                self.token.set_decoded(*part, &bytes);
            }
            Mutation::SetField { part, field, value } => {
                let value = self.value(value);
                self.edit_json(*part, |object| {
                    object.insert(field.name().to_owned(), value);
                });
            }
            Mutation::RemoveField { part, field } => self.edit_json(*part, |object| {
                object.shift_remove(field.name());
            }),
            Mutation::Resign { genuine } => {
                let secret = if *genuine {
                    SIGNATURE_SECRET
                } else {
                    OTHER_SECRET
                };
                let mac = hs256(secret, self.token.signing_input().as_bytes());
                *self.token.text(Part::Signature) = URL_SAFE_NO_PAD.encode(mac);
            }
            Mutation::FlipBody { at, bit } => flip(&mut self.body, *at, *bit),
            Mutation::InsertBody { at, bytes } => insert(&mut self.body, *at, bytes),
            Mutation::DeleteBody { at, len } => delete(&mut self.body, *at, *len),
            Mutation::ReplaceBody(bytes) => self.body = bytes.clone(),
            Mutation::ReformatBody { pretty } => {
                if let Ok(body) = serde_json::from_slice::<Value>(&self.body) {
                    self.body = if *pretty {
                        serde_json::to_vec_pretty(&body).unwrap_or_default()
                    } else {
                        body.to_string().into_bytes()
                    };
                }
            }
            Mutation::InsertQuery { at, text } => {
                let query = self.query.get_or_insert_with(String::new);
                edit_text(query, |bytes| insert(bytes, *at, text.as_bytes()));
            }
            Mutation::DeleteQuery { at, len } => {
                if let Some(query) = self.query.as_mut() {
                    edit_text(query, |bytes| delete(bytes, *at, *len));
                }
            }
            Mutation::ReplaceQuery(query) => self.query = query.clone(),
            Mutation::Method(method) => {
                self.method = match method {
                    Method::Get => "GET".into(),
                    Method::LowerGet => "get".into(),
                    Method::Post => "POST".into(),
                    Method::Put => "PUT".into(),
                    Method::Other(other) => other.clone(),
                }
            }
        }
    }

    /// Edits a segment as a JSON object, starting from an empty one when it is not one.
    fn edit_json(
        &mut self,
        part: JsonPart,
        edit: impl FnOnce(&mut serde_json::Map<String, Value>),
    ) {
        let part = match part {
            JsonPart::Header => Part::Header,
            JsonPart::Claims => Part::Claims,
        };
        let mut object = match serde_json::from_slice::<Value>(&self.token.decoded(part)) {
            Ok(Value::Object(object)) => object,
            _ => serde_json::Map::new(),
        };
        edit(&mut object);
        let bytes = Value::Object(object).to_string();
        self.token.set_decoded(part, bytes.as_bytes());
    }
}

fuzz_target!(|case: Case| {
    let application_id = case
        .signer
        .application_id
        .as_ref()
        .map(Account::application_id);
    let signer = WebhookSigner::new(
        SIGNATURE_SECRET,
        case.signer.api_key.api_key(),
        application_id.clone(),
    )
    .expect("the fuzz secret is not empty");
    let (token, method, query, body) = match &case.genuine {
        Genuine::Post(body) => {
            let body = body.bytes();
            let token = signer.sign_body(&body, SIGNED_AT, &case.signer.jti);
            (token, "POST", None, body)
        }
        Genuine::Get(query) => {
            let query = query.text();
            let token = signer.sign_query(&query, SIGNED_AT, &case.signer.jti);
            (token, "GET", Some(query), Vec::new())
        }
    };
    let token = token.expect("signing a genuine request does not fail");
    let mut request = Request {
        token: Token::parse(&token),
        method: method.to_owned(),
        query,
        body,
    };
    for mutation in &case.mutations {
        request.apply(mutation);
    }
    match case.finally {
        Resign::Genuine => request.apply(&Mutation::Resign { genuine: true }),
        Resign::Other => request.apply(&Mutation::Resign { genuine: false }),
        Resign::Not => {}
    }

    let genuine_value = case.scheme.wrap(&request.token.joined());
    let mut authorization = vec![genuine_value.clone()];
    for extra in &case.extra_authorization {
        let value = match &extra.value {
            ExtraValue::Same => genuine_value.clone(),
            ExtraValue::Empty => Vec::new(),
            ExtraValue::Bearer(token) => format!("Bearer {token}").into_bytes(),
            ExtraValue::Bytes(bytes) => bytes.clone(),
        };
        if extra.first {
            authorization.insert(0, value);
        } else {
            authorization.push(value);
        }
    }
    let authorization: Vec<&[u8]> = authorization.iter().map(Vec::as_slice).collect();

    let now = match case.clock {
        Clock::Near(offset) => SIGNED_AT + i64::from(offset),
        Clock::Any(now) => now,
    };
    let policy = VerificationPolicy {
        max_age: case.policy.max_age.duration(),
        max_clock_ahead: case.policy.max_clock_ahead.duration(),
        expected_api_key: case.policy.expected_api_key.as_ref().map(Account::api_key),
        expected_application_id: case
            .policy
            .expected_application_id
            .as_ref()
            .map(Account::application_id),
        body_hash: if case.policy.compact_json {
            BodyHashMode::ExactOrCompactJson
        } else {
            BodyHashMode::Exact
        },
    };
    let labelled = case.candidates.secrets();
    let candidates = CandidateSecrets::new(
        labelled
            .iter()
            .map(|(label, secret)| SignatureSecret::new(*label, secret).expect("not empty"))
            .collect(),
    )
    .expect("at least one candidate");

    let webhook = WebhookRequest {
        authorization: &authorization,
        method: &request.method,
        query: request.query.as_deref(),
        body: &request.body,
    };
    let verdict = verify(&webhook, &candidates, now, &policy);

    if let Ok(verified) = &verdict
        && let Err(why) = check_accepted(&webhook, &labelled, now, &policy, verified)
    {
        panic!("accepted a request that is not genuine: {why}\n{verified:?}");
    }

    // Completeness: a genuine request, untouched, checked in its window with a policy it meets,
    // is accepted.
    let in_window = SIGNED_AT
        <= now.saturating_add(i64::try_from(policy.max_clock_ahead.as_secs()).unwrap_or(i64::MAX))
        && SIGNED_AT
            >= now.saturating_sub(i64::try_from(policy.max_age.as_secs()).unwrap_or(i64::MAX));
    let account_matches = policy
        .expected_api_key
        .as_ref()
        .is_none_or(|expected| *expected == case.signer.api_key.api_key())
        && policy
            .expected_application_id
            .as_ref()
            .is_none_or(|expected| Some(expected) == application_id.as_ref());
    // An empty `jti` counts as none, which is refused; so is a token over the size cap.
    let untouched = !case.signer.jti.is_empty()
        && request.token.joined().len() <= MAX_TOKEN_BYTES
        && case.mutations.is_empty()
        && !matches!(case.finally, Resign::Other)
        && case.extra_authorization.is_empty()
        && case.scheme.is_well_formed();
    if untouched && in_window && account_matches && case.candidates != Candidates::OtherOnly {
        assert!(
            verdict.is_ok(),
            "a genuine request was refused: {verdict:?}"
        );
    }
});
