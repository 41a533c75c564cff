//! The stand-ins the functions talk to during the run: moto's Secrets Manager with freshly
//! generated secrets, the Vonage Voice emulator (release build), and a sink for the events the
//! emulator plays after each alert call. Also what each function is started with and invoked with.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use vonage_voice_lambda::clock::{Clock as _, SystemClock};

use axum::Router;
use axum::http::StatusCode;
use integration_tests::flow::{
    API_KEY, APPLICATION_SECRET_ID, FROM_NUMBER, GeneratedCredentials, STATE_TABLE,
    WEBHOOK_SECRET_ID,
};
use integration_tests::runtime_api::lambda_environment;
use integration_tests::{ChildGuard, MotoServer, create_state_table, free_port, repo_root};
use serde::Serialize;
use serde_json::{Value, json};
use vonage_voice_lambda::vonage::sign::WebhookSigner;

use crate::stats::{Summary, monotonic_ns, ms};

/// The number send-alert calls; the emulator answers it with a normal, completed call.
pub const ALERT_TO: &str = "447700900000";

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Function {
    Answer,
    Event,
    SendAlert,
}

impl Function {
    pub const ALL: [Function; 3] = [Function::Answer, Function::Event, Function::SendAlert];

    pub fn name(self) -> &'static str {
        match self {
            Function::Answer => "answer",
            Function::Event => "event",
            Function::SendAlert => "send-alert",
        }
    }

    /// The host build being measured (`cargo build --release -p <name>`; see [`build_dir`]).
    pub fn release_binary(self) -> PathBuf {
        build_dir().join(self.name())
    }
}

/// Where the measured binaries are: `target/release`, or the profile folder `BENCH_PROFILE_DIR`
/// names (the short mode in CI reuses the test build's `debug` binaries: it checks that the suite
/// works, not how fast).
pub fn build_dir() -> PathBuf {
    let profile = std::env::var("BENCH_PROFILE_DIR").unwrap_or_else(|_| "release".to_owned());
    repo_root().join("target").join(profile)
}

/// How long moto takes to answer, seen from an already connected client in this process: the part
/// of a function's secret fetch that is the stand-in's, not the function's.
#[derive(Debug, Serialize)]
pub struct StandInLatency {
    /// GetSecretValue round trips, milliseconds.
    pub moto_get_secret_value_ms: Summary,
    /// Conditional PutItem round trips (a new key each), milliseconds: the event function's
    /// duplicate check costs one per webhook.
    pub moto_put_item_ms: Summary,
    /// GetItem round trips for a key that is not there, milliseconds: the event function's look
    /// for the alert of a call that is not one of ours.
    pub moto_get_item_ms: Summary,
}

pub struct Stack {
    signer: WebhookSigner,
    moto: MotoServer,
    _emulator: ChildGuard,
    emulator_url: String,
    sink_url: String,
    _sink: tokio::task::JoinHandle<()>,
    secrets: aws_sdk_secretsmanager::Client,
    state: aws_sdk_dynamodb::Client,
    http: reqwest::Client,
    log_dir: PathBuf,
}

impl Stack {
    pub async fn start(out_dir: &Path) -> Result<Self, String> {
        let credentials = GeneratedCredentials::generate();
        let log_dir = out_dir.join("logs");
        std::fs::create_dir_all(&log_dir)
            .map_err(|error| format!("{}: {error}", log_dir.display()))?;

        let moto = MotoServer::start();
        let aws = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .endpoint_url(moto.endpoint())
            .region(aws_config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_secretsmanager::config::Credentials::new(
                "testing", "testing", None, None, "bench",
            ))
            .load()
            .await;
        let secrets = aws_sdk_secretsmanager::Client::new(&aws);
        let state = aws_sdk_dynamodb::Client::new(&aws);
        create_state_table(&state, STATE_TABLE).await;
        let documents = [
            (
                WEBHOOK_SECRET_ID,
                json!({
                    "signature_secret": credentials.signature_secret,
                    "api_key": API_KEY,
                    "application_id": credentials.application_id,
                }),
            ),
            (
                APPLICATION_SECRET_ID,
                json!({
                    "application_id": credentials.application_id,
                    "private_key": credentials.private_key_pem,
                    "api_key": API_KEY,
                    "api_secret": "bench-api-secret",
                }),
            ),
        ];
        for (id, document) in documents {
            secrets
                .create_secret()
                .name(id)
                .secret_string(document.to_string())
                .send()
                .await
                .map_err(|error| format!("moto did not store {id}: {error:?}"))?;
        }

        let sink_listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|error| format!("the event sink cannot listen: {error}"))?;
        let sink_url = format!(
            "http://{}",
            sink_listener
                .local_addr()
                .map_err(|error| error.to_string())?
        );
        let sink_router = Router::new().fallback(|| async { (StatusCode::OK, "{}") });
        let sink = tokio::spawn(async move {
            let _ = axum::serve(sink_listener, sink_router).await;
        });

        let emulator_binary = build_dir().join("vonage-voice-emulator");
        if !emulator_binary.exists() {
            return Err(format!(
                "{} is missing: scripts/bench.sh builds it (cargo build --release -p vonage-voice-emulator)",
                emulator_binary.display()
            ));
        }
        let public_key_file = out_dir.join("application-public-key.pem");
        std::fs::write(&public_key_file, &credentials.public_key_pem)
            .map_err(|error| format!("{}: {error}", public_key_file.display()))?;
        let emulator_port = free_port();
        let mut command = Command::new(emulator_binary);
        command
            .env("EMULATOR_LISTEN", format!("127.0.0.1:{emulator_port}"))
            .env("EMULATOR_APPLICATION_ID", &credentials.application_id)
            .env("EMULATOR_PUBLIC_KEY_FILE", &public_key_file)
            .env("EMULATOR_API_KEY", API_KEY)
            .env("EMULATOR_SIGNATURE_SECRET", &credentials.signature_secret)
            .env("EMULATOR_EVENT_INTERVAL_MS", "0");
        let mut emulator = ChildGuard::spawn("bench-emulator", command);
        emulator.wait_for_port(
            SocketAddr::from(([127, 0, 0, 1], emulator_port)),
            Duration::from_secs(30),
        );

        let signer = credentials.signer();
        Ok(Self {
            signer,
            moto,
            _emulator: emulator,
            emulator_url: format!("http://127.0.0.1:{emulator_port}"),
            sink_url,
            _sink: sink,
            secrets,
            state,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .map_err(|error| error.to_string())?,
            log_dir,
        })
    }

    pub fn log_file(&self, function: Function) -> PathBuf {
        self.log_dir.join(format!("{}.log", function.name()))
    }

    pub async fn stand_in_latency(&self, round_trips: usize) -> Result<StandInLatency, String> {
        // One untimed call so the connection is open, as it is for a function's second read.
        let read = || async {
            self.secrets
                .get_secret_value()
                .secret_id(WEBHOOK_SECRET_ID)
                .version_stage("AWSCURRENT")
                .send()
                .await
                .map_err(|error| format!("moto GetSecretValue: {error:?}"))
        };
        read().await?;
        let mut timings = Vec::with_capacity(round_trips);
        for _ in 0..round_trips.max(1) {
            let started = monotonic_ns();
            read().await?;
            timings.push(ms(monotonic_ns() - started));
        }
        // A conditional write of a new item, shaped like the duplicate check's.
        let put = || async {
            use aws_sdk_dynamodb::types::AttributeValue;
            use vonage_voice_lambda::state::dynamodb::{EXPIRES_AT_ATTRIBUTE, KEY_ATTRIBUTE};
            self.state
                .put_item()
                .table_name(STATE_TABLE)
                .item(
                    KEY_ATTRIBUTE,
                    AttributeValue::S(format!("bench#{}", uuid::Uuid::new_v4())),
                )
                .item(EXPIRES_AT_ATTRIBUTE, AttributeValue::N("4102444800".into()))
                .condition_expression("attribute_not_exists(#key)")
                .expression_attribute_names("#key", KEY_ATTRIBUTE)
                .send()
                .await
                .map_err(|error| format!("moto PutItem: {error:?}"))
        };
        put().await?;
        let mut writes = Vec::with_capacity(round_trips);
        for _ in 0..round_trips.max(1) {
            let started = monotonic_ns();
            put().await?;
            writes.push(ms(monotonic_ns() - started));
        }
        let get = || async {
            use aws_sdk_dynamodb::types::AttributeValue;
            use vonage_voice_lambda::state::dynamodb::KEY_ATTRIBUTE;
            self.state
                .get_item()
                .table_name(STATE_TABLE)
                .key(
                    KEY_ATTRIBUTE,
                    AttributeValue::S(format!("bench#{}", uuid::Uuid::new_v4())),
                )
                .send()
                .await
                .map_err(|error| format!("moto GetItem: {error:?}"))
        };
        get().await?;
        let mut reads = Vec::with_capacity(round_trips);
        for _ in 0..round_trips.max(1) {
            let started = monotonic_ns();
            get().await?;
            reads.push(ms(monotonic_ns() - started));
        }
        Ok(StandInLatency {
            moto_get_secret_value_ms: Summary::of(&timings).ok_or("no moto timings")?,
            moto_put_item_ms: Summary::of(&writes).ok_or("no moto timings")?,
            moto_get_item_ms: Summary::of(&reads).ok_or("no moto timings")?,
        })
    }

    /// The environment Lambda would give the function, plus its settings, pointing at the
    /// stand-ins. Nothing is inherited from the shell running the benchmark;
    /// `AWS_LAMBDA_RUNTIME_API` is added by the harness that starts the process.
    pub fn environment(&self, function: Function) -> Vec<(String, String)> {
        let mut env = lambda_environment(function.name(), &build_dir(), &self.moto.endpoint());
        let mut set = |name: &str, value: String| env.push((name.to_owned(), value));
        set("EVENT_URL", format!("{}/event", self.sink_url));
        set("STATE_TABLE_NAME", STATE_TABLE.into());
        // Lambda's AL2023 image holds one CA bundle and no directory of per-certificate files;
        // naming the bundle here keeps the AWS SDK from also reading Debian's directory of 145
        // files at every cold start, which Lambda never pays (see the trust-store probes).
        if let Some(bundle) = crate::probes::trust_bundle() {
            set("SSL_CERT_FILE", bundle.display().to_string());
        }
        match function {
            Function::Answer | Function::Event => {
                set("VONAGE_WEBHOOK_SECRET_ID", WEBHOOK_SECRET_ID.into());
            }
            Function::SendAlert => {
                set("VONAGE_APPLICATION_SECRET_ID", APPLICATION_SECRET_ID.into());
                set("VONAGE_API_BASE_URL", self.emulator_url.clone());
                set("VONAGE_FROM_NUMBER", FROM_NUMBER.into());
            }
        }
        env
    }

    /// A fresh invocation payload: webhooks are signed now, each with its own `jti`.
    pub fn invocation(&self, function: Function) -> Result<Vec<u8>, String> {
        let jti = uuid::Uuid::new_v4().to_string();
        let call_uuid = uuid::Uuid::new_v4().to_string();
        let payload = match function {
            Function::Answer => {
                let query = format!(
                    "to={ALERT_TO}&from={FROM_NUMBER}&uuid={call_uuid}&conversation_uuid=CON-{call_uuid}"
                );
                let token = self
                    .signer
                    .sign_query(&query, SystemClock.unix_seconds(), &jti)
                    .map_err(|error| format!("signing the answer webhook: {error}"))?;
                http_api_event("GET", "/answer", &query, &token, None)
            }
            Function::Event => {
                signed_answered_event(&self.signer, FROM_NUMBER, ALERT_TO, &call_uuid, &jti)?
            }
            // A new alert each time: a repeat would be answered from the state table, not placed.
            Function::SendAlert => json!({"alert_id": jti, "to": ALERT_TO, "code": "4821"}),
        };
        serde_json::to_vec(&payload).map_err(|error| error.to_string())
    }

    /// Fails unless the function's answer is the success its invocation should produce.
    pub async fn check_response(&self, function: Function, body: &[u8]) -> Result<(), String> {
        let response: Value = serde_json::from_slice(body).map_err(|error| {
            format!(
                "{} answered something that is not JSON ({error})",
                function.name()
            )
        })?;
        match function {
            Function::Answer | Function::Event => {
                if response["statusCode"] != json!(200) {
                    return Err(format!(
                        "{} answered {response} instead of 200",
                        function.name()
                    ));
                }
                if function == Function::Answer {
                    let ncco: Value = response["body"]
                        .as_str()
                        .and_then(|text| serde_json::from_str(text).ok())
                        .unwrap_or_default();
                    if ncco.as_array().is_none_or(Vec::is_empty) {
                        return Err(format!("answer's 200 carries no NCCO: {response}"));
                    }
                }
                Ok(())
            }
            Function::SendAlert => {
                let Some(call_uuid) = response["call_uuid"].as_str() else {
                    return Err(format!("send-alert placed no call: {response}"));
                };
                let status = self
                    .http
                    .get(format!("{}/_emulator/calls/{call_uuid}", self.emulator_url))
                    .send()
                    .await
                    .map_err(|error| format!("the emulator does not answer: {error}"))?
                    .status();
                if status != reqwest::StatusCode::OK {
                    return Err(format!("the emulator has no call {call_uuid} ({status})"));
                }
                Ok(())
            }
        }
    }
}

/// An `answered` event for `call_uuid`, signed now, as API Gateway hands it to the event function.
pub fn signed_answered_event(
    signer: &WebhookSigner,
    from: &str,
    to: &str,
    call_uuid: &str,
    jti: &str,
) -> Result<Value, String> {
    let body = json!({
        "from": from,
        "to": to,
        "uuid": call_uuid,
        "conversation_uuid": format!("CON-{call_uuid}"),
        "status": "answered",
        "direction": "outbound",
        "timestamp": "2027-01-15T08:00:00.000Z",
    })
    .to_string();
    let token = signer
        .sign_body(body.as_bytes(), SystemClock.unix_seconds(), jti)
        .map_err(|error| format!("signing the event webhook: {error}"))?;
    Ok(http_api_event("POST", "/event", "", &token, Some(&body)))
}

/// An API Gateway HTTP API (payload 2.0) event, as Lambda receives it behind the API.
pub fn http_api_event(
    method: &str,
    path: &str,
    query: &str,
    token: &str,
    body: Option<&str>,
) -> Value {
    let mut headers = json!({
        "accept": "application/json",
        "host": "r4nd0m1d.execute-api.us-east-1.amazonaws.com",
        "user-agent": "Vonage",
        "x-forwarded-for": "216.147.0.26",
        "x-forwarded-port": "443",
        "x-forwarded-proto": "https",
        "authorization": format!("Bearer {token}"),
    });
    if let Some(body) = body {
        headers["content-type"] = json!("application/json");
        headers["content-length"] = json!(body.len().to_string());
    }
    let query_parameters: serde_json::Map<String, Value> = form_pairs(query);
    let mut event = json!({
        "version": "2.0",
        "routeKey": format!("{method} {path}"),
        "rawPath": path,
        "rawQueryString": query,
        "headers": headers,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "r4nd0m1d",
            "domainName": "r4nd0m1d.execute-api.us-east-1.amazonaws.com",
            "domainPrefix": "r4nd0m1d",
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "216.147.0.26",
                "userAgent": "Vonage",
            },
            "requestId": uuid::Uuid::new_v4().simple().to_string(),
            "routeKey": format!("{method} {path}"),
            "stage": "$default",
            "time": "15/Jan/2027:08:00:00 +0000",
            "timeEpoch": SystemClock.unix_seconds() * 1000,
        },
        "isBase64Encoded": false,
    });
    if !query_parameters.is_empty() {
        event["queryStringParameters"] = Value::Object(query_parameters);
    }
    if let Some(body) = body {
        event["body"] = json!(body);
    }
    event
}

fn form_pairs(query: &str) -> serde_json::Map<String, Value> {
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .filter_map(|pair| pair.split_once('='))
        .map(|(name, value)| (name.to_owned(), json!(value)))
        .collect()
}
