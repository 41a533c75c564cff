//! Vonage's Applications API v2, for the one thing this project needs from it: keeping
//! `capabilities.voice.signed_callbacks` on and the voice webhooks pointing at our stack.
//!
//! `PUT /v2/applications/{id}` replaces the whole application, and the Developer Preview drops
//! `signed_callbacks` whenever someone edits the application in the Dashboard. So the application
//! is handled as an untyped JSON document: activation changes only the fields it means to change,
//! in place and in their original key order, and writes everything else back as it was read. A
//! capability or field this code has never heard of survives the round trip.

use std::fmt;
use std::time::Duration;

use serde_json::{Map, Value};

use crate::deadline::{Budget, DeadlineExceeded};

pub mod contract;
use crate::secrets::SecretDocumentError;
pub use contract::{Contract, ContractProblem};

/// Vonage's REST host; regional hosts work too.
pub const DEFAULT_API_BASE_URL: &str = "https://api.nexmo.com";

/// Error bodies are quoted in messages up to this many characters.
const MAX_QUOTED_BODY_CHARS: usize = 1000;

/// The account's API key and secret, for `Authorization: Basic`.
#[derive(Clone)]
pub struct ApiCredentials {
    api_key: String,
    api_secret: String,
}

impl ApiCredentials {
    pub fn new(api_key: impl Into<String>, api_secret: impl Into<String>) -> Self {
        Self {
            api_key: api_key.into(),
            api_secret: api_secret.into(),
        }
    }

    pub fn api_key(&self) -> &str {
        &self.api_key
    }
}

impl fmt::Debug for ApiCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiCredentials")
            .field("api_key", &self.api_key)
            .field("api_secret", &"<redacted>")
            .finish()
    }
}

/// What the Applications API needs from the application secret (`VONAGE_APPLICATION_SECRET_ID`,
/// `{"application_id","private_key","api_key","api_secret"}`). The private key is never read here.
#[derive(Clone, Debug)]
pub struct ApplicationApiAccess {
    pub application_id: String,
    pub credentials: ApiCredentials,
}

impl ApplicationApiAccess {
    /// Errors name the field, never its value.
    pub fn from_secret_json(json: &str) -> Result<Self, SecretDocumentError> {
        let value: Value =
            serde_json::from_str(json).map_err(|error| SecretDocumentError::NotJson {
                line: error.line(),
                column: error.column(),
            })?;
        let fields = value.as_object().ok_or(SecretDocumentError::NotAnObject)?;
        let required = |name: &'static str| match fields.get(name) {
            None | Some(Value::Null) => Err(SecretDocumentError::MissingField(name)),
            Some(Value::String(text)) if !text.trim().is_empty() => Ok(text.trim().to_owned()),
            Some(_) => Err(SecretDocumentError::InvalidField(name)),
        };
        Ok(Self {
            application_id: required("application_id")?,
            credentials: ApiCredentials::new(required("api_key")?, required("api_secret")?),
        })
    }
}

/// Why a call to the Applications API failed. No variant ever carries the API secret.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ApplicationsError {
    #[error(
        "the Applications API refused the API key and secret (401 Unauthorized): check that they \
         are the key and secret of the account that owns the application"
    )]
    BadCredentials,
    #[error(
        "the Applications API knows no application {application_id} for this API key \
         (404 Not Found): check the application id and that it belongs to this account"
    )]
    UnknownApplication { application_id: String },
    #[error("the Applications API could not be reached: {0}")]
    Network(String),
    #[error("the Applications API answered {status}: {body}")]
    Unexpected { status: u16, body: String },
    #[error(
        "the Applications API answered {status} with a body that is not an application: {problem}"
    )]
    InvalidResponse { status: u16, problem: String },
    #[error("the Applications API base URL {url:?} is not an absolute http(s) URL")]
    InvalidBaseUrl { url: String },
    #[error(transparent)]
    DeadlineExceeded(#[from] DeadlineExceeded),
}

/// One external system: reading and replacing an application.
#[async_trait::async_trait]
pub trait ApplicationsApi: Send + Sync {
    /// `GET /v2/applications/{id}`: the application as Vonage returns it.
    async fn get_application(&self, application_id: &str) -> Result<Value, ApplicationsError>;

    /// `PUT /v2/applications/{id}` with the whole application; returns Vonage's answer.
    async fn put_application(
        &self,
        application_id: &str,
        application: &Value,
    ) -> Result<Value, ApplicationsError>;
}

/// An [`ApplicationsApi`] whose every call fits in a [`Budget`] (an invocation's time): each call
/// gets the shorter of the client's own timeout and the time left, and none is started once the
/// budget is spent. Activation only ever PUTs the whole application, so a PUT cut short is safe
/// to send again.
pub struct WithinBudget<'a> {
    pub api: &'a dyn ApplicationsApi,
    pub budget: &'a Budget,
}

#[async_trait::async_trait]
impl ApplicationsApi for WithinBudget<'_> {
    async fn get_application(&self, application_id: &str) -> Result<Value, ApplicationsError> {
        self.budget
            .run(
                "reading the application",
                self.api.get_application(application_id),
            )
            .await?
    }

    async fn put_application(
        &self,
        application_id: &str,
        application: &Value,
    ) -> Result<Value, ApplicationsError> {
        self.budget
            .run(
                "writing the application back",
                self.api.put_application(application_id, application),
            )
            .await?
    }
}

/// The Applications API over HTTPS with `reqwest`.
pub struct HttpApplicationsApi {
    client: reqwest::Client,
    base_url: reqwest::Url,
    credentials: ApiCredentials,
}

impl fmt::Debug for HttpApplicationsApi {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpApplicationsApi")
            .field("base_url", &self.base_url.as_str())
            .field("credentials", &self.credentials)
            .finish_non_exhaustive()
    }
}

impl HttpApplicationsApi {
    /// `timeout` bounds each whole request; connecting gets at most five seconds of it.
    pub fn new(
        base_url: &str,
        credentials: ApiCredentials,
        timeout: Duration,
    ) -> Result<Self, ApplicationsError> {
        let invalid = || ApplicationsError::InvalidBaseUrl {
            url: base_url.to_owned(),
        };
        let base_url = reqwest::Url::parse(base_url).map_err(|_| invalid())?;
        if !matches!(base_url.scheme(), "http" | "https") || base_url.cannot_be_a_base() {
            return Err(invalid());
        }
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(5)))
            .build()
            .map_err(|error| ApplicationsError::Network(error_chain(&error)))?;
        Ok(Self {
            client,
            base_url,
            credentials,
        })
    }

    /// The application's URL. The id is one path segment, percent-encoded, so an odd id can never
    /// reach another path.
    fn application_url(&self, application_id: &str) -> reqwest::Url {
        let mut url = self.base_url.clone();
        if let Ok(mut segments) = url.path_segments_mut() {
            segments
                .pop_if_empty()
                .extend(["v2", "applications", application_id]);
        }
        url
    }

    fn request(&self, method: reqwest::Method, application_id: &str) -> reqwest::RequestBuilder {
        self.client
            .request(method, self.application_url(application_id))
            .basic_auth(
                &self.credentials.api_key,
                Some(&self.credentials.api_secret),
            )
            .header(reqwest::header::ACCEPT, "application/json")
    }

    async fn application_from(
        &self,
        sent: Result<reqwest::Response, reqwest::Error>,
        application_id: &str,
    ) -> Result<Value, ApplicationsError> {
        let response = sent.map_err(|error| ApplicationsError::Network(error_chain(&error)))?;
        let status = response.status().as_u16();
        let body = response
            .text()
            .await
            .map_err(|error| ApplicationsError::Network(error_chain(&error)))?;
        match status {
            200..=299 => match serde_json::from_str::<Value>(&body) {
                Ok(application @ Value::Object(_)) => Ok(application),
                Ok(_) => Err(ApplicationsError::InvalidResponse {
                    status,
                    problem: "the JSON is not an object".into(),
                }),
                Err(error) => Err(ApplicationsError::InvalidResponse {
                    status,
                    problem: format!("not JSON ({error})"),
                }),
            },
            401 => Err(ApplicationsError::BadCredentials),
            404 => Err(ApplicationsError::UnknownApplication {
                application_id: application_id.to_owned(),
            }),
            _ => Err(ApplicationsError::Unexpected {
                status,
                body: self.quotable(&body),
            }),
        }
    }

    /// An error body fit for a message: shortened, and with the secret removed should a server
    /// ever echo it.
    fn quotable(&self, body: &str) -> String {
        let mut text: String = body.chars().take(MAX_QUOTED_BODY_CHARS).collect();
        if body.chars().count() > MAX_QUOTED_BODY_CHARS {
            text.push('…');
        }
        if self.credentials.api_secret.is_empty() {
            text
        } else {
            text.replace(&self.credentials.api_secret, "<redacted>")
        }
    }
}

#[async_trait::async_trait]
impl ApplicationsApi for HttpApplicationsApi {
    async fn get_application(&self, application_id: &str) -> Result<Value, ApplicationsError> {
        let sent = self
            .request(reqwest::Method::GET, application_id)
            .send()
            .await;
        self.application_from(sent, application_id).await
    }

    async fn put_application(
        &self,
        application_id: &str,
        application: &Value,
    ) -> Result<Value, ApplicationsError> {
        let sent = self
            .request(reqwest::Method::PUT, application_id)
            .json(application)
            .send()
            .await;
        self.application_from(sent, application_id).await
    }
}

/// A transport error with its causes ("error sending request … : tcp connect error: Connection
/// refused"), which is what an operator needs to tell DNS from TLS from a refused port.
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// Where the voice webhooks should point. `None` leaves that webhook alone (and unchecked).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WebhookTargets {
    pub answer_url: Option<String>,
    pub event_url: Option<String>,
    /// Where Vonage goes when the answer or event webhook fails (`fallback_answer_url`).
    pub fallback_answer_url: Option<String>,
}

/// What `capabilities.voice.signed_callbacks` says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SignedCallbacks {
    /// `true`, or the string `"true"` (the spec's own `default` spells it as a string).
    On,
    /// `false` or `"false"`.
    Off,
    /// Absent: what the Developer Preview leaves after a Dashboard edit. The spec's documented
    /// default is `true`, but only an explicit `true` is trusted here.
    Missing,
    /// The application has no voice capability at all.
    NoVoiceCapability,
    /// Any other value, as JSON text.
    Unreadable(String),
}

impl SignedCallbacks {
    fn of(application: &Value) -> Self {
        let Some(voice) = application.pointer("/capabilities/voice") else {
            return SignedCallbacks::NoVoiceCapability;
        };
        match voice.get("signed_callbacks") {
            None => SignedCallbacks::Missing,
            Some(Value::Bool(true)) => SignedCallbacks::On,
            Some(Value::Bool(false)) => SignedCallbacks::Off,
            Some(Value::String(text)) if text.trim().eq_ignore_ascii_case("true") => {
                SignedCallbacks::On
            }
            Some(Value::String(text)) if text.trim().eq_ignore_ascii_case("false") => {
                SignedCallbacks::Off
            }
            Some(other) => SignedCallbacks::Unreadable(other.to_string()),
        }
    }

    pub fn is_on(&self) -> bool {
        *self == SignedCallbacks::On
    }
}

impl fmt::Display for SignedCallbacks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SignedCallbacks::On => f.write_str("on"),
            SignedCallbacks::Off => f.write_str("off (signed_callbacks is false)"),
            SignedCallbacks::Missing => {
                f.write_str("off (signed_callbacks is missing, as after an edit in the Dashboard)")
            }
            SignedCallbacks::NoVoiceCapability => {
                f.write_str("off (the application has no voice capability)")
            }
            SignedCallbacks::Unreadable(value) => {
                write!(f, "unknown (signed_callbacks is {value})")
            }
        }
    }
}

/// One voice webhook's address against where it should point.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebhookCheck {
    /// `answer_url`, `event_url` or `fallback_answer_url`.
    pub name: &'static str,
    pub actual: Option<String>,
    pub expected: Option<String>,
}

impl WebhookCheck {
    fn of(application: &Value, name: &'static str, expected: Option<&String>) -> Self {
        let actual = application
            .pointer(&format!("/capabilities/voice/webhooks/{name}/address"))
            .and_then(Value::as_str)
            .map(str::to_owned);
        Self {
            name,
            actual,
            expected: expected.cloned(),
        }
    }

    /// True when nothing is expected or the address is exactly the expected one.
    pub fn is_ok(&self) -> bool {
        match &self.expected {
            None => true,
            Some(expected) => self.actual.as_deref() == Some(expected.as_str()),
        }
    }
}

impl fmt::Display for WebhookCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let actual = self.actual.as_deref().unwrap_or("(not set)");
        match &self.expected {
            None => write!(f, "{} is {actual} (not checked)", self.name),
            Some(_) if self.is_ok() => write!(f, "{} is {actual}, as expected", self.name),
            Some(expected) => write!(f, "{} is {actual}, expected {expected}", self.name),
        }
    }
}

/// Whether an application is as this stack needs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApplicationStatus {
    pub signed_callbacks: SignedCallbacks,
    pub answer_url: WebhookCheck,
    pub event_url: WebhookCheck,
    /// Checked only when a fallback URL is expected (`activate --fallback-answer-url`).
    pub fallback_answer_url: WebhookCheck,
    /// Vonage's timeouts and fallback URL against the functions (see [`contract`]).
    pub contract: Contract,
}

impl ApplicationStatus {
    pub fn evaluate(application: &Value, targets: &WebhookTargets) -> Self {
        Self {
            signed_callbacks: SignedCallbacks::of(application),
            answer_url: WebhookCheck::of(application, "answer_url", targets.answer_url.as_ref()),
            event_url: WebhookCheck::of(application, "event_url", targets.event_url.as_ref()),
            fallback_answer_url: WebhookCheck::of(
                application,
                "fallback_answer_url",
                targets.fallback_answer_url.as_ref(),
            ),
            contract: Contract::evaluate(application, targets.answer_url.as_deref()),
        }
    }

    /// Signed callbacks on and the webhooks pointing here: what activation (and the drift check's
    /// repair) puts right. The [`Contract`] is reported apart, as no repair changes it.
    pub fn is_healthy(&self) -> bool {
        self.signed_callbacks.is_on()
            && self.answer_url.is_ok()
            && self.event_url.is_ok()
            && self.fallback_answer_url.is_ok()
    }

    /// The webhooks whose address differs from the expected one.
    pub fn mismatched_webhooks(&self) -> usize {
        [&self.answer_url, &self.event_url, &self.fallback_answer_url]
            .iter()
            .filter(|check| !check.is_ok())
            .count()
    }

    /// One sentence per thing that is wrong; empty when healthy.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if !self.signed_callbacks.is_on() {
            problems.push(format!("signed callbacks are {}", self.signed_callbacks));
        }
        for check in [&self.answer_url, &self.event_url, &self.fallback_answer_url] {
            if !check.is_ok() {
                problems.push(check.to_string());
            }
        }
        problems
    }

    /// [`Self::problems`] and the [`Contract`]'s: what `status` and the drift check report.
    pub fn report_problems(&self) -> Vec<String> {
        let mut problems = self.problems();
        problems.extend(self.contract.problems.iter().map(ToString::to_string));
        problems
    }
}

/// One field activation changes, for the operator to read before and after.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldChange {
    /// Dotted path, e.g. `capabilities.voice.signed_callbacks`.
    pub path: String,
    pub before: Option<Value>,
    pub after: Value,
}

impl fmt::Display for FieldChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.before {
            None => write!(f, "{}: (absent) -> {}", self.path, self.after),
            Some(before) => write!(f, "{}: {before} -> {}", self.path, self.after),
        }
    }
}

/// The whole application to PUT, and what in it differs from what was read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ActivationPlan {
    pub changes: Vec<FieldChange>,
    pub application: Value,
}

impl ActivationPlan {
    /// Nothing to change: a PUT would be a no-op, so none is sent.
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PlanError {
    #[error("the application is not a JSON object")]
    NotAnObject,
    #[error("`{path}` is not a JSON object, so it cannot be changed without losing data")]
    NotAnObjectAt { path: String },
    #[error(
        "the application has no voice capability; give both the answer and the event URL to add one"
    )]
    NoVoiceCapability,
}

/// The application with signed callbacks on and the webhooks at `targets`, every other field and
/// every key's position untouched.
///
/// `signed_callbacks` already reading `"true"` (a string) counts as on and alone causes no PUT; when
/// a PUT is sent anyway it goes out as the boolean the request schema requires. A webhook object
/// created from nothing gets Vonage's usual method: GET for answer, POST for events.
pub fn plan_activation(
    current: &Value,
    targets: &WebhookTargets,
) -> Result<ActivationPlan, PlanError> {
    let mut application = current.clone();
    let root = application.as_object_mut().ok_or(PlanError::NotAnObject)?;
    let has_voice = current.pointer("/capabilities/voice").is_some();
    if !has_voice && (targets.answer_url.is_none() || targets.event_url.is_none()) {
        return Err(PlanError::NoVoiceCapability);
    }
    let capabilities = child_object(root, "capabilities", "capabilities")?;
    let voice = child_object(capabilities, "voice", "capabilities.voice")?;

    let mut changes = Vec::new();
    for (name, url, method) in [
        ("answer_url", &targets.answer_url, "GET"),
        ("event_url", &targets.event_url, "POST"),
        ("fallback_answer_url", &targets.fallback_answer_url, "GET"),
    ] {
        if let Some(url) = url {
            point_webhook(voice, name, url, method, &mut changes)?;
        }
    }

    let signed = voice.get("signed_callbacks").cloned();
    let is_boolean_true = signed == Some(Value::Bool(true));
    let reads_on = SignedCallbacks::of(current).is_on();
    if !is_boolean_true && (!reads_on || !changes.is_empty()) {
        voice.insert("signed_callbacks".into(), Value::Bool(true));
        changes.insert(
            0,
            FieldChange {
                path: "capabilities.voice.signed_callbacks".into(),
                before: signed,
                after: Value::Bool(true),
            },
        );
    }
    Ok(ActivationPlan {
        changes,
        application,
    })
}

/// The object under `key`, created empty when absent; refuses to overwrite a non-object.
fn child_object<'a>(
    parent: &'a mut Map<String, Value>,
    key: &str,
    path: &str,
) -> Result<&'a mut Map<String, Value>, PlanError> {
    parent
        .entry(key)
        .or_insert_with(|| Value::Object(Map::new()))
        .as_object_mut()
        .ok_or_else(|| PlanError::NotAnObjectAt { path: path.into() })
}

fn point_webhook(
    voice: &mut Map<String, Value>,
    name: &str,
    url: &str,
    method_when_new: &str,
    changes: &mut Vec<FieldChange>,
) -> Result<(), PlanError> {
    let webhooks = child_object(voice, "webhooks", "capabilities.voice.webhooks")?;
    let path = format!("capabilities.voice.webhooks.{name}");
    match webhooks.get_mut(name) {
        None => {
            let mut webhook = Map::new();
            webhook.insert("address".into(), Value::String(url.into()));
            webhook.insert("http_method".into(), Value::String(method_when_new.into()));
            let webhook = Value::Object(webhook);
            webhooks.insert(name.into(), webhook.clone());
            changes.push(FieldChange {
                path,
                before: None,
                after: webhook,
            });
        }
        Some(Value::Object(webhook)) => {
            let before = webhook.get("address").cloned();
            if before.as_ref().and_then(Value::as_str) != Some(url) {
                webhook.insert("address".into(), Value::String(url.into()));
                changes.push(FieldChange {
                    path: format!("{path}.address"),
                    before,
                    after: Value::String(url.into()),
                });
            }
        }
        Some(_) => return Err(PlanError::NotAnObjectAt { path }),
    }
    Ok(())
}

/// What `activate` did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ActivationOutcome {
    /// Signed callbacks were on and the webhooks in place: nothing was sent.
    AlreadyInPlace(ApplicationStatus),
    /// Dry run: the plan, nothing sent.
    DryRun(ActivationPlan),
    /// The PUT went out and a fresh GET confirmed it.
    Applied {
        changes: Vec<FieldChange>,
        status: ApplicationStatus,
    },
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ActivationError {
    #[error(transparent)]
    Api(#[from] ApplicationsError),
    #[error(transparent)]
    Plan(#[from] PlanError),
    #[error("the update was accepted, but reading the application back shows: {}", .problems.join("; "))]
    NotConfirmed { problems: Vec<String> },
}

/// GET, turn signed callbacks on (and point the webhooks at `targets`), PUT the whole application
/// back, GET again to confirm. Sends no PUT when nothing would change or when `dry_run`.
pub async fn activate(
    api: &dyn ApplicationsApi,
    application_id: &str,
    targets: &WebhookTargets,
    dry_run: bool,
) -> Result<ActivationOutcome, ActivationError> {
    let current = api.get_application(application_id).await?;
    let plan = plan_activation(&current, targets)?;
    if plan.is_empty() {
        return Ok(ActivationOutcome::AlreadyInPlace(
            ApplicationStatus::evaluate(&current, targets),
        ));
    }
    if dry_run {
        return Ok(ActivationOutcome::DryRun(plan));
    }
    apply(api, application_id, plan, targets).await
}

async fn apply(
    api: &dyn ApplicationsApi,
    application_id: &str,
    plan: ActivationPlan,
    targets: &WebhookTargets,
) -> Result<ActivationOutcome, ActivationError> {
    api.put_application(application_id, &plan.application)
        .await?;
    let confirmed = api.get_application(application_id).await?;
    let status = ApplicationStatus::evaluate(&confirmed, targets);
    if !status.is_healthy() {
        return Err(ActivationError::NotConfirmed {
            problems: status.problems(),
        });
    }
    Ok(ActivationOutcome::Applied {
        changes: plan.changes,
        status,
    })
}

/// What the scheduled drift check found and did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DriftReport {
    /// The application as it was found.
    pub found: ApplicationStatus,
    pub repair: Repair,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Repair {
    /// Nothing had drifted.
    NotNeeded,
    /// Something had drifted and automatic repair is off.
    Disabled,
    /// The application was put back and a fresh GET confirmed it.
    Applied { changes: Vec<FieldChange> },
    /// Repair was tried and did not succeed.
    Failed { problem: String },
}

/// Reads the application and, when it has drifted and `auto_repair` is on, puts it back the way
/// `activate` would. Only a failure to read the application is an error: a failed repair is part
/// of the report, so the drift itself is still logged and counted.
pub async fn check_drift(
    api: &dyn ApplicationsApi,
    application_id: &str,
    targets: &WebhookTargets,
    auto_repair: bool,
) -> Result<DriftReport, ApplicationsError> {
    let current = api.get_application(application_id).await?;
    let found = ApplicationStatus::evaluate(&current, targets);
    let repair = if found.is_healthy() {
        Repair::NotNeeded
    } else if !auto_repair {
        Repair::Disabled
    } else {
        let applied = match plan_activation(&current, targets) {
            Ok(plan) => apply(api, application_id, plan, targets).await,
            Err(error) => Err(error.into()),
        };
        match applied {
            Ok(ActivationOutcome::Applied { changes, .. }) => Repair::Applied { changes },
            Ok(_) => Repair::NotNeeded,
            Err(error) => Repair::Failed {
                problem: error.to_string(),
            },
        }
    };
    Ok(DriftReport { found, repair })
}

#[cfg(test)]
mod tests;
