//! The whole product on one machine, with real processes and real HTTP:
//! moto's Secrets Manager holding freshly generated secrets, the Vonage Voice emulator, and the
//! functions under `cargo lambda watch`, and on demand a second `event` process under the Runtime
//! API harness sharing the state table. `make local` prints what happens and [`verdict`] judges
//! it; the end-to-end suite asserts it. Every process is stopped when the [`LocalStack`] is
//! dropped.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use vonage_voice_lambda::clock::{Clock as _, SystemClock};
use vonage_voice_lambda::settings::STATE_TABLE_NAME;
use vonage_voice_lambda::settings::WEBHOOK_SECRET_ID as WEBHOOK_SECRET_SETTING;

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::{KeyPair, KeySize};
use aws_lc_rs::signature::KeyPair as _;
use serde_json::{Value, json};
use vonage_voice_lambda::vonage::sign::WebhookSigner;

use crate::event_tap::EventTap;
use crate::runtime_api::{DEFAULT_DEADLINE, FunctionProcess, Launch, lambda_environment};

mod outcomes;
use crate::spawner::Spawner;
use crate::{ChildGuard, MotoServer, free_port, repo_root};
pub use outcomes::{OutcomeObservation, outcome_problems};

pub const WEBHOOK_SECRET_ID: &str = "local/vonage-webhooks";
pub const APPLICATION_SECRET_ID: &str = "local/vonage-application";
pub const STATE_TABLE: &str = "local-vonage-state";
pub const API_KEY: &str = "a1b2c3d4";
pub const FROM_NUMBER: &str = "447700900001";

/// Credentials made afresh for each run: nothing real, nothing committed.
pub struct GeneratedCredentials {
    pub application_id: String,
    pub signature_secret: String,
    pub private_key_pem: String,
    pub public_key_pem: String,
}

impl GeneratedCredentials {
    pub fn generate() -> Self {
        let key_pair = KeyPair::generate(KeySize::Rsa2048).expect("aws-lc generates an RSA key");
        let private_der = AsDer::<aws_lc_rs::encoding::Pkcs8V1Der>::as_der(&key_pair)
            .expect("the key exports as PKCS#8");
        let public_der =
            AsDer::<aws_lc_rs::encoding::PublicKeyX509Der>::as_der(key_pair.public_key())
                .expect("the public key exports as X.509");
        let encode = |tag: &str, der: &[u8]| {
            pem::encode_config(
                &pem::Pem::new(tag, der.to_vec()),
                pem::EncodeConfig::new().set_line_ending(pem::LineEnding::LF),
            )
        };
        Self {
            application_id: uuid::Uuid::new_v4().to_string(),
            signature_secret: format!(
                "{}{}",
                uuid::Uuid::new_v4().simple(),
                uuid::Uuid::new_v4().simple()
            ),
            private_key_pem: encode("PRIVATE KEY", private_der.as_ref()),
            public_key_pem: encode("PUBLIC KEY", public_der.as_ref()),
        }
    }

    pub fn signer(&self) -> WebhookSigner {
        WebhookSigner::new(
            &self.signature_secret,
            API_KEY,
            Some(self.application_id.clone()),
        )
        .expect("a generated secret is never empty")
    }
}

/// One line of what happened: who sent what, and what came back.
#[derive(Clone, Debug)]
pub struct Step {
    pub what: String,
    pub answer: String,
}

pub struct LocalStack {
    pub credentials: GeneratedCredentials,
    moto: MotoServer,
    /// Every alert event the event function publishes on moto's default bus.
    tap: EventTap,
    _emulator: ChildGuard,
    watch: ChildGuard,
    emulator_port: u16,
    watch_port: u16,
    http: reqwest::Client,
    _work_dir: PathBuf,
}

/// Options for a run.
pub struct StackOptions {
    /// Pause between a call's events (readable output for people; zero in tests).
    pub event_interval: Duration,
    /// Whether the emulator posts the calls' events (`EMULATOR_SEND_EVENTS`); false shows the
    /// flow failing when the events it waits for never come.
    pub send_events: bool,
}

/// The emulator's setting for sending events, also read by `make local`.
pub const SEND_EVENTS_SETTING: &str = "EMULATOR_SEND_EVENTS";

/// [`SEND_EVENTS_SETTING`]'s value: unset or `true` sends events, `false` sends none.
pub fn send_events_from(value: Option<&str>) -> Result<bool, String> {
    match value.map(str::trim) {
        None | Some("true") => Ok(true),
        Some("false") => Ok(false),
        Some(other) => Err(format!(
            "{SEND_EVENTS_SETTING} must be true or false, not {other:?}"
        )),
    }
}

async fn put_secret(client: &aws_sdk_secretsmanager::Client, id: &str, value: Value) {
    client
        .create_secret()
        .name(id)
        .secret_string(value.to_string())
        .send()
        .await
        .unwrap_or_else(|error| panic!("moto stores {id}: {error}"));
}

/// `cargo build` (the dev profile) of `packages`, into the target folder of the running build.
pub fn build_binaries(packages: &[&str]) {
    let mut command = Command::new(env!("CARGO"));
    command.current_dir(repo_root()).arg("build").arg("--quiet");
    for package in packages {
        command.args(["-p", package]);
    }
    let status = command.status().expect("cargo runs");
    assert!(status.success(), "cargo build of {packages:?} failed");
}

impl LocalStack {
    pub async fn start(options: StackOptions) -> Self {
        let credentials = GeneratedCredentials::generate();
        let work_dir = repo_root().join("target/local-stack");
        std::fs::create_dir_all(&work_dir).expect("target/local-stack can be created");

        let moto = MotoServer::start();
        let aws = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .endpoint_url(moto.endpoint())
            .region(aws_config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_secretsmanager::config::Credentials::new(
                "testing",
                "testing",
                None,
                None,
                "local-stack",
            ))
            .load()
            .await;
        let secrets = aws_sdk_secretsmanager::Client::new(&aws);
        put_secret(
            &secrets,
            WEBHOOK_SECRET_ID,
            json!({
                "signature_secret": credentials.signature_secret,
                "api_key": API_KEY,
                "application_id": credentials.application_id,
            }),
        )
        .await;
        put_secret(
            &secrets,
            APPLICATION_SECRET_ID,
            json!({
                "application_id": credentials.application_id,
                "private_key": credentials.private_key_pem,
                "api_key": API_KEY,
                "api_secret": "local-api-secret",
            }),
        )
        .await;
        crate::create_state_table(&aws_sdk_dynamodb::Client::new(&aws), STATE_TABLE).await;
        let tap = EventTap::create(&aws, "local-alert-events")
            .await
            .unwrap_or_else(|problem| panic!("moto's EventBridge and SQS: {problem}"));

        // Built up front, so the first webhook is not also a compile.
        build_binaries(&[
            "vonage-voice-emulator",
            "answer",
            "event",
            "send-alert",
            "alert-status",
        ]);

        let public_key_file = work_dir.join("application-public-key.pem");
        std::fs::write(&public_key_file, &credentials.public_key_pem)
            .expect("the public key is written");
        let emulator_port = free_port();
        let mut emulator_command =
            Command::new(repo_root().join("target/debug/vonage-voice-emulator"));
        emulator_command
            .env("EMULATOR_LISTEN", format!("127.0.0.1:{emulator_port}"))
            .env("EMULATOR_APPLICATION_ID", &credentials.application_id)
            .env("EMULATOR_PUBLIC_KEY_FILE", &public_key_file)
            .env("EMULATOR_API_KEY", API_KEY)
            .env("EMULATOR_SIGNATURE_SECRET", &credentials.signature_secret)
            .env(
                "EMULATOR_EVENT_INTERVAL_MS",
                options.event_interval.as_millis().to_string(),
            )
            .env(SEND_EVENTS_SETTING, options.send_events.to_string());
        let mut emulator = ChildGuard::spawn("emulator", emulator_command);
        emulator.wait_for_port(
            SocketAddr::from(([127, 0, 0, 1], emulator_port)),
            Duration::from_secs(30),
        );

        let watch_port = free_port();
        let event_url = format!("http://127.0.0.1:{watch_port}/lambda-url/event");
        let mut watch_command = Command::new("cargo");
        watch_command
            .current_dir(repo_root())
            .args(["lambda", "watch", "--ignore-changes", "--quiet"])
            .args([
                "--invoke-address",
                "127.0.0.1",
                "--invoke-port",
                &watch_port.to_string(),
            ])
            .env("AWS_ENDPOINT_URL", moto.endpoint())
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env(WEBHOOK_SECRET_SETTING, WEBHOOK_SECRET_ID)
            .env("VONAGE_APPLICATION_SECRET_ID", APPLICATION_SECRET_ID)
            .env(STATE_TABLE_NAME, STATE_TABLE)
            .env(
                "VONAGE_API_BASE_URL",
                format!("http://127.0.0.1:{emulator_port}"),
            )
            .env("VONAGE_FROM_NUMBER", FROM_NUMBER)
            .env("EVENT_URL", &event_url)
            .env("ANSWER_GREETING", "Hello from your local Vonage stack.");
        // One log per stack: the flow reads the event function's lines from it, and stacks
        // running side by side in one test binary must not see each other's.
        let mut watch =
            ChildGuard::spawn(&format!("cargo-lambda-watch-{watch_port}"), watch_command);
        watch.wait_for_port(
            SocketAddr::from(([127, 0, 0, 1], watch_port)),
            Duration::from_secs(120),
        );

        Self {
            credentials,
            moto,
            tap,
            _emulator: emulator,
            watch,
            emulator_port,
            watch_port,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(300))
                .build()
                .expect("an HTTP client"),
            _work_dir: work_dir,
        }
    }

    pub fn event_url(&self) -> String {
        format!("http://127.0.0.1:{}/lambda-url/event", self.watch_port)
    }

    pub fn answer_url(&self) -> String {
        format!("http://127.0.0.1:{}/lambda-url/answer", self.watch_port)
    }

    pub fn emulator_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.emulator_port)
    }

    pub fn moto_endpoint(&self) -> String {
        self.moto.endpoint()
    }

    /// Process ids of everything the stack started (their groups are stopped on drop).
    pub fn pids(&self) -> Vec<u32> {
        vec![self._emulator.pid(), self.watch.pid()]
    }

    /// Invokes send-alert through the Lambda invoke API of `cargo lambda watch`.
    pub async fn invoke_send_alert(&self, payload: &Value) -> Value {
        self.invoke("send-alert", payload).await
    }

    /// Invokes alert-status (`{"alert_id":…}` or `{"call_uuid":…}`) the same way.
    pub async fn invoke_alert_status(&self, payload: &Value) -> Value {
        self.invoke("alert-status", payload).await
    }

    async fn invoke(&self, function: &str, payload: &Value) -> Value {
        let url = format!(
            "http://127.0.0.1:{}/2015-03-31/functions/{function}/invocations",
            self.watch_port
        );
        let response = self
            .http
            .post(url)
            .json(payload)
            .send()
            .await
            .expect("cargo lambda watch answers the invoke");
        response
            .json()
            .await
            .unwrap_or_else(|error| panic!("{function} answers JSON: {error}"))
    }

    /// The alert events published since the last call, read back from moto through a rule and a
    /// queue: waits (bounded by `limit`) for at least `expected` of them.
    pub async fn alert_events(
        &self,
        expected: usize,
        limit: Duration,
    ) -> Result<Vec<Value>, String> {
        self.tap.drain(expected, limit).await
    }

    /// Waits (polling, bounded) until the emulator has delivered every event of the call, and
    /// returns the call as the emulator last showed it: `finished` is false when `limit` passed
    /// first.
    pub async fn finished_call(&self, uuid: &str, limit: Duration) -> Value {
        let deadline = Instant::now() + limit;
        loop {
            let call: Value = self
                .http
                .get(format!("{}/_emulator/calls/{uuid}", self.emulator_url()))
                .send()
                .await
                .expect("the emulator answers")
                .json()
                .await
                .expect("the emulator answers JSON");
            if call["finished"] == json!(true) || Instant::now() >= deadline {
                return call;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Posts an event body with the given Authorization value (or none) to the event function.
    pub async fn post_event(&self, authorization: Option<&str>, body: &[u8]) -> (u16, String) {
        let mut request = self
            .http
            .post(format!("{}/", self.event_url()))
            .header("content-type", "application/json")
            .body(body.to_vec());
        if let Some(value) = authorization {
            request = request.header("authorization", value);
        }
        let response = request.send().await.expect("the event function answers");
        let status = response.status().as_u16();
        (status, response.text().await.unwrap_or_default())
    }

    /// GETs the answer function with a query, signed or not.
    pub async fn get_answer(&self, query: &str, authorization: Option<&str>) -> (u16, String) {
        let mut request = self.http.get(format!("{}/?{query}", self.answer_url()));
        if let Some(value) = authorization {
            request = request.header("authorization", value);
        }
        let response = request.send().await.expect("the answer function answers");
        let status = response.status().as_u16();
        (status, response.text().await.unwrap_or_default())
    }

    /// The file `cargo lambda watch` writes to: its own lines and every function's log lines.
    pub fn watch_log(&self) -> &Path {
        self.watch.log_path()
    }

    /// The event function's JSON log lines so far, parsed (the answer and send-alert functions'
    /// lines, and cargo-lambda's own, are left out).
    pub fn event_log_lines(&self) -> Vec<Value> {
        event_log_lines(self.watch_log())
    }

    /// What the event function logged about `jti`, once `settled` holds for it or after
    /// [`LOG_WAIT`]: `cargo lambda watch` copies the function's output to its log on its own time,
    /// so a line may land just after the answer did.
    pub async fn event_log_for(&self, jti: &str, settled: impl Fn(&JtiLog) -> bool) -> JtiLog {
        wait_for_jti_log(self.watch_log(), jti, settled).await
    }

    /// The uuid of every call the emulator has taken (`POST /v1/calls` answered 201), in order.
    pub async fn emulator_calls(&self) -> Vec<String> {
        let calls: Value = self
            .http
            .get(format!("{}/_emulator/calls", self.emulator_url()))
            .send()
            .await
            .expect("the emulator answers")
            .json()
            .await
            .expect("the emulator answers JSON");
        calls
            .as_array()
            .map(|calls| {
                calls
                    .iter()
                    .filter_map(|call| call["uuid"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Starts a second `event` process beside the one under `cargo lambda watch`: the real
    /// binary, under the project's Runtime API harness, forked by `helper` (the `process-helper`
    /// binary, whose folder also holds the functions [`LocalStack::start`] built). It reads the
    /// same secret and shares the same DynamoDB state table in moto, with a memory of its own.
    pub async fn start_second_event_process(
        &self,
        helper: &Path,
    ) -> Result<SecondEventProcess, String> {
        let settings = [
            (WEBHOOK_SECRET_SETTING, WEBHOOK_SECRET_ID.to_owned()),
            (STATE_TABLE_NAME, STATE_TABLE.to_owned()),
        ];
        let (process, spawner) = self
            .start_instance(helper, "event", "event-second-process", &settings)
            .await?;
        Ok(SecondEventProcess { process, spawner })
    }

    /// Starts an `event` process of its own beside the stack, as
    /// [`LocalStack::start_second_event_process`] does, with `settings` added after the stack's
    /// (an `AWS_ENDPOINT_URL_<service>` among them sends that one service elsewhere, a fault proxy
    /// say); `label` names its log. The caller reads its log and stops it.
    pub async fn start_event_instance(
        &self,
        helper: &Path,
        label: &str,
        settings: &[(&str, String)],
    ) -> Result<FunctionInstance, String> {
        let mut all = vec![
            (WEBHOOK_SECRET_SETTING, WEBHOOK_SECRET_ID.to_owned()),
            (STATE_TABLE_NAME, STATE_TABLE.to_owned()),
        ];
        all.extend(settings.iter().cloned());
        let (process, spawner) = self
            .start_instance(helper, "event", &format!("event-{label}"), &all)
            .await?;
        Ok(FunctionInstance { process, spawner })
    }

    /// Starts a send-alert instance of its own beside the stack, as
    /// [`LocalStack::start_second_event_process`] does for event: same application secret, same
    /// state table, same Vonage emulator; `label` names its log.
    pub async fn start_send_alert_instance(
        &self,
        helper: &Path,
        label: &str,
    ) -> Result<SendAlertInstance, String> {
        let settings = [
            (
                "VONAGE_APPLICATION_SECRET_ID",
                APPLICATION_SECRET_ID.to_owned(),
            ),
            (STATE_TABLE_NAME, STATE_TABLE.to_owned()),
            ("VONAGE_API_BASE_URL", self.emulator_url()),
            ("VONAGE_FROM_NUMBER", FROM_NUMBER.to_owned()),
            ("EVENT_URL", self.event_url()),
        ];
        let (process, spawner) = self
            .start_instance(
                helper,
                "send-alert",
                &format!("send-alert-{label}"),
                &settings,
            )
            .await?;
        Ok(SendAlertInstance { process, spawner })
    }

    /// `function`'s binary under the Runtime API harness with a process helper of its own,
    /// pointed at this stack's moto and given `settings`.
    async fn start_instance(
        &self,
        helper: &Path,
        function: &str,
        log_name: &str,
        settings: &[(&str, String)],
    ) -> Result<(FunctionProcess, Spawner), String> {
        let build_folder = helper
            .parent()
            .ok_or_else(|| format!("{} has no folder", helper.display()))?;
        let log = crate::runtime_api::fresh_log(&format!("{log_name}-{}", self.watch_port))?;
        let mut env = lambda_environment(function, build_folder, &self.moto.endpoint());
        env.extend(
            settings
                .iter()
                .map(|(name, value)| ((*name).to_owned(), value.clone())),
        );
        let spawner = Spawner::start(helper).await?;
        let process = FunctionProcess::start(
            &spawner,
            Launch {
                name: function.to_owned(),
                program: build_folder.join(function),
                args: Vec::new(),
                env,
                log,
            },
        )
        .await;
        match process {
            Ok(process) => Ok((process, spawner)),
            Err(problem) => {
                spawner.shutdown().await;
                Err(problem)
            }
        }
    }

    /// Stops moto early, to see the functions answer without their secret store.
    pub fn stop_moto(&mut self) {
        self.moto.stop();
    }
}

/// A second `event` process with its own memory, sharing the stack's secret and state table:
/// see [`LocalStack::start_second_event_process`]. Dropping it stops it too (the helper kills
/// its children when its input closes); [`SecondEventProcess::stop`] also waits for that.
pub struct SecondEventProcess {
    process: FunctionProcess,
    spawner: Spawner,
}

impl SecondEventProcess {
    /// Sends a signed event to it as API Gateway would (an HTTP API, payload 2.0), and returns
    /// the HTTP status it answered, or why there is none.
    pub async fn post_event(&mut self, authorization: &str, body: &[u8]) -> Result<u16, String> {
        let invocation = serde_json::to_vec(&api_gateway_event(authorization, body))
            .map_err(|error| error.to_string())?;
        let reply = self
            .process
            .invoke_next(invocation, DEFAULT_DEADLINE)
            .await?
            .http()?;
        Ok(reply.status)
    }

    /// What this process logged about `jti`; see [`LocalStack::event_log_for`].
    pub async fn event_log_for(&self, jti: &str, settled: impl Fn(&JtiLog) -> bool) -> JtiLog {
        wait_for_jti_log(self.process.log_path(), jti, settled).await
    }

    pub fn log_path(&self) -> &Path {
        self.process.log_path()
    }

    /// Kills it and its process helper, and waits for both.
    pub async fn stop(self) {
        let _ = self.process.stop().await;
        self.spawner.shutdown().await;
    }
}

/// A function process of its own beside the stack, with its process helper: see
/// [`LocalStack::start_event_instance`]. Dropping it stops both too.
pub struct FunctionInstance {
    pub process: FunctionProcess,
    spawner: Spawner,
}

impl FunctionInstance {
    /// Kills it and its process helper, and waits for both.
    pub async fn stop(self) {
        let _ = self.process.stop().await;
        self.spawner.shutdown().await;
    }
}

/// A send-alert instance of its own: see [`LocalStack::start_send_alert_instance`].
pub struct SendAlertInstance {
    process: FunctionProcess,
    spawner: Spawner,
}

impl SendAlertInstance {
    /// The lines it wrote to stdout so far (its log lines and metric lines), parsed.
    pub fn log_lines(&self) -> Result<Vec<Value>, String> {
        self.process.log_lines_since(0).map(|lines| {
            lines
                .iter()
                .filter_map(|line| serde_json::from_str(line).ok())
                .collect()
        })
    }

    /// Invokes it with `payload`, as `sam remote invoke` would, and returns what it answered.
    pub async fn invoke(&mut self, payload: &Value) -> Result<Value, String> {
        let invocation = serde_json::to_vec(payload).map_err(|error| error.to_string())?;
        match self
            .process
            .invoke_next(invocation, DEFAULT_DEADLINE)
            .await?
        {
            crate::runtime_api::Reply::Response { body, .. } => serde_json::from_slice(&body)
                .map_err(|error| format!("send-alert answered something not JSON: {error}")),
            crate::runtime_api::Reply::Error { body, .. } => Err(format!(
                "send-alert reported an invocation error: {}",
                String::from_utf8_lossy(&body)
            )),
        }
    }

    /// Kills it and its process helper, and waits for both.
    pub async fn stop(self) {
        let _ = self.process.stop().await;
        self.spawner.shutdown().await;
    }
}

/// An HTTP API (payload 2.0) `POST /event` carrying `body` and `authorization`, as API Gateway
/// hands it to the function: the shared fixture with the request swapped in.
pub fn api_gateway_event(authorization: &str, body: &[u8]) -> Value {
    crate::apigw::with_authorization(crate::apigw::event_v2(body), authorization)
}

/// How long the flow waits for an event function's log line about a request it already answered.
pub const LOG_WAIT: Duration = Duration::from_secs(15);

/// The event function's JSON log lines in `log` (`"webhook":"event"`), parsed; any other line is
/// skipped. A file that cannot be read has no lines.
pub fn event_log_lines(log: &Path) -> Vec<Value> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|line| line["webhook"] == "event")
        .collect()
}

/// What an event function logged about one token, found by its `jti`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct JtiLog {
    /// Lines with `"outcome":"processed"`: how many times the event was processed.
    pub processed: usize,
    /// The `matched` key (`jti` or `delivery`) of each line with `"outcome":"duplicate"` and
    /// `"duplicate":true`, in order.
    pub duplicates: Vec<String>,
}

impl JtiLog {
    /// Read from an event function's parsed log lines.
    pub fn of(lines: &[Value], jti: &str) -> Self {
        let mut log = Self::default();
        for line in lines.iter().filter(|line| line["jti"] == jti) {
            match line["outcome"].as_str() {
                Some("processed") => log.processed += 1,
                Some("duplicate") if line["duplicate"] == json!(true) => log
                    .duplicates
                    .push(line["matched"].as_str().unwrap_or("?").to_owned()),
                _ => {}
            }
        }
        log
    }

    /// Whether a line says the token was answered as a duplicate matched by its `jti`.
    pub fn duplicate_by_jti(&self) -> bool {
        self.duplicates.iter().any(|matched| matched == "jti")
    }
}

/// Re-reads `log` (bounded by [`LOG_WAIT`]) until what it says about `jti` satisfies `settled`.
async fn wait_for_jti_log(log: &Path, jti: &str, settled: impl Fn(&JtiLog) -> bool) -> JtiLog {
    let deadline = Instant::now() + LOG_WAIT;
    loop {
        let found = JtiLog::of(&event_log_lines(log), jti);
        if settled(&found) || Instant::now() >= deadline {
            return found;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A signed event as Vonage would send it, for the attack steps.
pub fn sample_event(call_uuid: &str, status: &str) -> Vec<u8> {
    json!({
        "from": FROM_NUMBER,
        "to": "447700900000",
        "uuid": call_uuid,
        "conversation_uuid": format!("CON-{call_uuid}"),
        "status": status,
        "direction": "outbound",
        "timestamp": "2027-01-15T08:00:00.000Z",
    })
    .to_string()
    .into_bytes()
}

/// The forged, replayed, stale and tampered requests: each must be refused, except the replay,
/// which is answered as the first time and must not be processed again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AttackKind {
    Forged,
    Replayed,
    Stale,
    Tampered,
}

impl AttackKind {
    pub const ALL: [AttackKind; 4] = [
        AttackKind::Forged,
        AttackKind::Replayed,
        AttackKind::Stale,
        AttackKind::Tampered,
    ];

    /// How the transcript names it.
    pub fn name(self) -> &'static str {
        match self {
            AttackKind::Forged => "forged (signed with a guessed secret)",
            AttackKind::Replayed => "replayed (the genuine request again)",
            AttackKind::Stale => "stale (signed ten minutes ago)",
            AttackKind::Tampered => "tampered (body changed after signing)",
        }
    }

    /// Exactly the status the event function must answer it with: the one table of expected
    /// statuses, read by the flow's verdict and the end-to-end suite. Any other status is a
    /// failure whatever its body says.
    pub fn expected_status(self) -> u16 {
        match self {
            AttackKind::Forged => 401,
            // A verified duplicate gets the first delivery's answer: an error would send Vonage's
            // own retry to the fallback URL. The status alone cannot tell it from processing the
            // event again, so the verdict also requires the `duplicate` log line.
            AttackKind::Replayed => ACCEPTED_STATUS,
            AttackKind::Stale => 401,
            AttackKind::Tampered => 401,
        }
    }
}

/// What a genuine signed event, and the answer webhook's unsigned GET, must get.
pub const ACCEPTED_STATUS: u16 = 200;

/// The events the flow's alert call must deliver to the event function, each answered
/// [`ACCEPTED_STATUS`]: the call asks the callee to confirm, so the emulated callee's key press
/// (`input`) comes after `answered`.
pub const EXPECTED_EVENTS: [&str; 5] = ["started", "ringing", "answered", "input", "completed"];

/// A signed event as the flow posts it.
pub struct SignedRequest {
    pub authorization: String,
    pub body: Vec<u8>,
    /// The token's `jti`, by which the event function's log lines about it are found.
    pub jti: String,
}

pub struct Attack {
    pub kind: AttackKind,
    pub authorization: String,
    pub body: Vec<u8>,
}

/// The genuine request's `jti`; the replay repeats it.
pub const GENUINE_JTI: &str = "replay-me";

/// The genuine request, then one attack of each kind, in [`AttackKind::ALL`]'s order.
pub fn attacks(signer: &WebhookSigner, call_uuid: &str) -> (SignedRequest, Vec<Attack>) {
    let now = SystemClock.unix_seconds();
    let body = sample_event(call_uuid, "completed");
    let bearer = |token: String| format!("Bearer {token}");
    let genuine_authorization = bearer(signer.sign_body(&body, now, GENUINE_JTI).expect("signs"));
    let forger = WebhookSigner::new("a-guessed-secret", API_KEY, None).expect("signs");
    let list = AttackKind::ALL
        .iter()
        .map(|&kind| {
            let (authorization, body) = match kind {
                AttackKind::Forged => (
                    bearer(forger.sign_body(&body, now, "forged").expect("signs")),
                    body.clone(),
                ),
                AttackKind::Replayed => (genuine_authorization.clone(), body.clone()),
                AttackKind::Stale => (
                    bearer(signer.sign_body(&body, now - 600, "stale").expect("signs")),
                    body.clone(),
                ),
                AttackKind::Tampered => (
                    bearer(signer.sign_body(&body, now, "tampered").expect("signs")),
                    sample_event(call_uuid, "answered"),
                ),
            };
            Attack {
                kind,
                authorization,
                body,
            }
        })
        .collect();
    let genuine = SignedRequest {
        authorization: genuine_authorization,
        body,
        jti: GENUINE_JTI.to_owned(),
    };
    (genuine, list)
}

/// The genuine request sent again to a second event process (own memory, same state table).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SecondProcessObservation {
    /// The HTTP status it answered, or why there is none (it did not start, died, …).
    pub answer: Result<u16, String>,
    /// What it logged about the genuine request's `jti`.
    pub log: JtiLog,
}

/// send-alert invoked a second time with the first invocation's input and `alert_id`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AlertRepeat {
    pub reply: Value,
    /// The uuid of every call the emulator took in the whole run, read after the repeat.
    pub emulator_calls: Vec<String>,
}

/// What one run of the flow saw, step by step: the input of [`verdict`].
#[derive(Clone, Debug, Default)]
pub struct FlowObservation {
    /// Step 1: send-alert's reply.
    pub alert_reply: Value,
    /// Step 2: the call as the emulator last showed it (null when none was placed).
    pub call: Value,
    /// Step 3: the status a genuine signed event got (`None`: not sent).
    pub genuine_status: Option<u16>,
    /// Step 3: the status each attack got.
    pub attacks: Vec<(AttackKind, u16)>,
    /// Step 3: what the event function logged about the genuine request's `jti` once the replay
    /// was answered (`None`: not read).
    pub genuine_log: Option<JtiLog>,
    /// Step 3: the genuine request sent to a second event process (`None`: not sent).
    pub second_process: Option<SecondProcessObservation>,
    /// Step 4: the status of the answer webhook's unsigned GET (`None`: not sent).
    pub answer_status: Option<u16>,
    /// Step 5: the same alert invoked again (`None`: not invoked).
    pub alert_repeat: Option<AlertRepeat>,
    /// Step 6: the alert's outcome and its published events (`None`: not read).
    pub outcome: Option<OutcomeObservation>,
}

/// One thing that did not go as it must, with the step it belongs to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FlowFailure {
    pub step: &'static str,
    pub problem: String,
}

impl std::fmt::Display for FlowFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "step {}: {}", self.step, self.problem)
    }
}

const STEP_ALERT: &str = "1 (send-alert places the call)";
const STEP_EVENTS: &str = "2 (the call's signed events)";
const STEP_REQUESTS: &str = "3 (forged and replayed requests)";
const STEP_ANSWER: &str = "4 (the answer webhook)";
const STEP_ALERT_AGAIN: &str = "5 (the same alert again)";
const STEP_OUTCOME: &str = "6 (the alert's outcome and its EventBridge events)";

/// Whether the flow went as it must; one failure per thing that did not, in step order. An
/// event counts only if it arrived and was answered [`ACCEPTED_STATUS`]; an attack only with
/// exactly its [`AttackKind::expected_status`]; the replay only if the event function also logged
/// it as a duplicate matched by `jti` and processed the genuine request exactly once; the second
/// event process likewise, processing nothing; the repeated alert only if it returned the first
/// call's uuid marked `duplicate` and the emulator took no other call; the alert only if
/// alert-status reads it back completed and confirmed and its changes were published, no two
/// different changes under one version (judged only when every event arrived).
pub fn verdict(observed: &FlowObservation) -> Vec<FlowFailure> {
    let failure = |step, problem: String| FlowFailure { step, problem };
    let Some(uuid) = observed.alert_reply["call_uuid"].as_str() else {
        // Every later step is about this call: nothing else can be judged.
        let reply = vonage_voice_lambda::observe::logging::capped_to(
            &observed.alert_reply.to_string(),
            300,
        );
        return vec![failure(STEP_ALERT, format!("no call was placed: {reply}"))];
    };
    let mut failures = Vec::new();

    let deliveries: &[Value] = observed.call["deliveries"]
        .as_array()
        .map_or(&[], Vec::as_slice);
    let mut missing = Vec::new();
    for event in EXPECTED_EVENTS {
        let delivered = deliveries
            .iter()
            .find(|delivery| delivery["status"].as_str() == Some(event));
        match delivered.map(|delivery| delivery["http_status"].as_u64()) {
            None => missing.push(event),
            Some(Some(status)) if status == u64::from(ACCEPTED_STATUS) => {}
            Some(Some(status)) => failures.push(failure(
                STEP_EVENTS,
                format!("the {event} event was answered {status}, expected {ACCEPTED_STATUS}"),
            )),
            Some(None) => failures.push(failure(
                STEP_EVENTS,
                format!("the {event} event got no answer from the event function"),
            )),
        }
    }
    if !missing.is_empty() {
        let unfinished = if observed.call["finished"] == json!(true) {
            ""
        } else {
            " (the emulator had not finished the call)"
        };
        failures.insert(
            0,
            failure(
                STEP_EVENTS,
                format!(
                    "no {} event arrived for call {uuid}{unfinished}",
                    missing.join(", ")
                ),
            ),
        );
    }

    match observed.genuine_status {
        Some(ACCEPTED_STATUS) => {}
        Some(status) => failures.push(failure(
            STEP_REQUESTS,
            format!("a genuine signed event was answered {status}, expected {ACCEPTED_STATUS}"),
        )),
        None => failures.push(failure(
            STEP_REQUESTS,
            "the genuine signed event was not sent".into(),
        )),
    }
    for kind in AttackKind::ALL {
        let expected = kind.expected_status();
        match observed.attacks.iter().find(|(tried, _)| *tried == kind) {
            Some((_, status)) if *status == expected => {}
            Some((_, status)) => failures.push(failure(
                STEP_REQUESTS,
                format!(
                    "{} was answered {status}, expected exactly {expected}",
                    kind.name()
                ),
            )),
            None => failures.push(failure(
                STEP_REQUESTS,
                format!("{} was not sent", kind.name()),
            )),
        }
        if kind == AttackKind::Replayed {
            failures.extend(
                replay_log_problems(observed.genuine_log.as_ref())
                    .into_iter()
                    .map(|problem| failure(STEP_REQUESTS, problem)),
            );
        }
    }
    failures.extend(
        second_process_problems(observed.second_process.as_ref())
            .into_iter()
            .map(|problem| failure(STEP_REQUESTS, problem)),
    );

    match observed.answer_status {
        Some(ACCEPTED_STATUS) => {}
        Some(status) => failures.push(failure(
            STEP_ANSWER,
            format!("the unsigned GET was answered {status}, expected {ACCEPTED_STATUS}"),
        )),
        None => failures.push(failure(STEP_ANSWER, "the GET was not sent".into())),
    }

    failures.extend(
        alert_repeat_problems(uuid, observed.alert_repeat.as_ref())
            .into_iter()
            .map(|problem| failure(STEP_ALERT_AGAIN, problem)),
    );
    // The outcome follows from the events: without all of them step 2 has said what is wrong.
    if missing.is_empty() {
        let alert_id = observed.alert_reply["alert_id"]
            .as_str()
            .unwrap_or_default();
        failures.extend(
            outcome_problems(alert_id, observed.outcome.as_ref())
                .into_iter()
                .map(|problem| failure(STEP_OUTCOME, problem)),
        );
    }
    failures
}

/// The replay's 200 proves nothing alone: the event function must have logged it as a duplicate
/// matched by `jti`, and the genuine request as processed exactly once.
fn replay_log_problems(log: Option<&JtiLog>) -> Vec<String> {
    let replay = AttackKind::Replayed.name();
    let Some(log) = log else {
        return vec![format!(
            "the event function's log was not read, so nothing shows that {replay} was not \
             processed again"
        )];
    };
    let mut problems = Vec::new();
    if !log.duplicate_by_jti() {
        problems.push(format!(
            "{replay} was not logged \"outcome\":\"duplicate\" matched by jti: without that line \
             its {ACCEPTED_STATUS} may mean it was processed again"
        ));
    }
    if log.processed != 1 {
        problems.push(format!(
            "the genuine request's jti was logged \"outcome\":\"processed\" {} times, expected \
             exactly 1",
            log.processed
        ));
    }
    problems
}

/// The genuine request sent to a second event process must be answered [`ACCEPTED_STATUS`] and
/// caught there as a duplicate by `jti` (its memory never saw it: the shared table did).
fn second_process_problems(observed: Option<&SecondProcessObservation>) -> Vec<String> {
    let Some(observed) = observed else {
        return vec!["the replay to a second event process was not sent".into()];
    };
    let mut problems = Vec::new();
    match &observed.answer {
        Ok(ACCEPTED_STATUS) => {}
        Ok(status) => problems.push(format!(
            "the replay to a second event process was answered {status}, expected exactly \
             {ACCEPTED_STATUS}"
        )),
        Err(problem) => problems.push(format!(
            "the replay to a second event process got no answer: {}",
            vonage_voice_lambda::observe::logging::capped_to(problem, 300)
        )),
    }
    if !observed.log.duplicate_by_jti() {
        problems.push(
            "the second event process did not log the replay \"outcome\":\"duplicate\" matched \
             by jti: the shared state table did not catch it"
                .into(),
        );
    }
    if observed.log.processed != 0 {
        problems.push(format!(
            "the second event process logged the replayed jti \"outcome\":\"processed\" {} \
             times: it was processed twice",
            observed.log.processed
        ));
    }
    problems
}

/// The same alert invoked again must return the first call's uuid marked `"duplicate":true`, and
/// the emulator must have taken that one call and no other.
fn alert_repeat_problems(uuid: &str, repeat: Option<&AlertRepeat>) -> Vec<String> {
    let Some(repeat) = repeat else {
        return vec!["the alert was not invoked again".into()];
    };
    let mut problems = Vec::new();
    let reply = || vonage_voice_lambda::observe::logging::capped_to(&repeat.reply.to_string(), 300);
    if repeat.reply["call_uuid"].as_str() != Some(uuid) {
        problems.push(format!(
            "the repeat did not return the first call's uuid {uuid}: {}",
            reply()
        ));
    }
    if repeat.reply["duplicate"] != json!(true) {
        problems.push(format!(
            "the repeat's reply is not marked \"duplicate\":true: {}",
            reply()
        ));
    }
    let calls = &repeat.emulator_calls;
    if calls != &[uuid] {
        let rang_again = if calls.len() > 1 {
            ": the alert rang more than once"
        } else {
            ""
        };
        problems.push(format!(
            "the emulator took {} call(s) [{}], expected exactly the one for {uuid}{rang_again}",
            calls.len(),
            calls.join(", ")
        ));
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    const UUID: &str = "5d0c6b4e-0000-4000-8000-000000000001";
    const ALERT: &str = "local-otp-4821";

    fn delivery(status: &str, http_status: Option<u16>) -> Value {
        json!({"status": status, "url": "http://127.0.0.1:1/lambda-url/event",
               "http_status": http_status, "response_body": "", "error": null, "attempts": 1})
    }

    /// Everything as it must be.
    fn good_run() -> FlowObservation {
        FlowObservation {
            alert_reply: json!({"call_uuid": UUID, "conversation_uuid": "CON-1", "status": "started",
                                "alert_id": ALERT}),
            call: json!({
                "uuid": UUID,
                "finished": true,
                "deliveries": EXPECTED_EVENTS.iter().map(|event| delivery(event, Some(200))).collect::<Vec<_>>(),
            }),
            genuine_status: Some(200),
            attacks: AttackKind::ALL
                .iter()
                .map(|kind| (*kind, kind.expected_status()))
                .collect(),
            genuine_log: Some(JtiLog {
                processed: 1,
                duplicates: vec!["jti".into()],
            }),
            second_process: Some(SecondProcessObservation {
                answer: Ok(200),
                log: JtiLog {
                    processed: 0,
                    duplicates: vec!["jti".into()],
                },
            }),
            answer_status: Some(200),
            alert_repeat: Some(AlertRepeat {
                reply: json!({"call_uuid": UUID, "conversation_uuid": "CON-1",
                              "status": "started", "duplicate": true}),
                emulator_calls: vec![UUID.to_owned()],
            }),
            outcome: Some(OutcomeObservation {
                status: json!({"state": "completed", "confirmation": "confirmed",
                               "confirmation_at": 1_800_000_000}),
                events: Ok(vec![
                    json!({"detail": {"alert_id": ALERT, "state": "completed",
                                                  "confirmation": "confirmed", "version": 5}}),
                ]),
            }),
        }
    }

    fn lines(observed: &FlowObservation) -> Vec<String> {
        verdict(observed).iter().map(ToString::to_string).collect()
    }

    #[test]
    fn a_run_that_went_as_it_must_passes() {
        assert_eq!(lines(&good_run()), Vec::<String>::new());
    }

    #[test]
    fn no_events_at_all_is_one_line_naming_the_step_and_every_missing_event() {
        let mut run = good_run();
        run.call["deliveries"] = json!([]);
        assert_eq!(
            lines(&run),
            [format!(
                "step 2 (the call's signed events): no started, ringing, answered, input, \
                 completed event arrived for call {UUID}"
            )]
        );
    }

    #[test]
    fn a_missing_or_refused_event_fails_step_2() {
        let mut run = good_run();
        run.call["deliveries"] = json!([
            delivery("started", Some(200)),
            delivery("ringing", Some(401)),
            delivery("answered", None),
            delivery("input", Some(200)),
        ]);
        run.call["finished"] = json!(false);
        assert_eq!(
            lines(&run),
            [
                format!(
                    "step 2 (the call's signed events): no completed event arrived for call \
                     {UUID} (the emulator had not finished the call)"
                ),
                "step 2 (the call's signed events): the ringing event was answered 401, expected 200"
                    .to_owned(),
                "step 2 (the call's signed events): the answered event got no answer from the \
                 event function"
                    .to_owned(),
            ]
        );
    }

    #[test]
    fn an_attack_gets_exactly_its_status_or_fails_whatever_the_body_says() {
        for (kind, status) in [
            // A replay is answered as the first time: a refusal is now the wrong answer.
            (AttackKind::Replayed, 409),
            (AttackKind::Replayed, 401),
            (AttackKind::Forged, 200),
            (AttackKind::Forged, 403),
            (AttackKind::Stale, 200),
            (AttackKind::Tampered, 500),
        ] {
            let mut run = good_run();
            for attack in &mut run.attacks {
                if attack.0 == kind {
                    attack.1 = status;
                }
            }
            assert_eq!(
                lines(&run),
                [format!(
                    "step 3 (forged and replayed requests): {} was answered {status}, expected \
                     exactly {}",
                    kind.name(),
                    kind.expected_status()
                )]
            );
        }
        let mut run = good_run();
        run.attacks.retain(|(kind, _)| *kind != AttackKind::Stale);
        assert_eq!(
            lines(&run),
            ["step 3 (forged and replayed requests): stale (signed ten minutes ago) was not sent"]
        );
    }

    const STEP_3: &str = "step 3 (forged and replayed requests): ";

    #[test]
    fn a_replay_answered_200_without_its_duplicate_line_fails() {
        // The status is right; only the log can tell a duplicate from a second processing.
        let mut run = good_run();
        run.genuine_log = Some(JtiLog {
            processed: 1,
            duplicates: Vec::new(),
        });
        assert_eq!(
            lines(&run),
            [format!(
                "{STEP_3}replayed (the genuine request again) was not logged \
                 \"outcome\":\"duplicate\" matched by jti: without that line its 200 may mean \
                 it was processed again"
            )]
        );
        // Caught by its delivery instead of its jti: not what a replayed token must show.
        run.genuine_log = Some(JtiLog {
            processed: 1,
            duplicates: vec!["delivery".into()],
        });
        assert_eq!(lines(&run).len(), 1, "{:?}", lines(&run));
    }

    #[test]
    fn the_genuine_request_must_be_processed_exactly_once() {
        for processed in [0, 2] {
            let mut run = good_run();
            run.genuine_log = Some(JtiLog {
                processed,
                duplicates: vec!["jti".into()],
            });
            assert_eq!(
                lines(&run),
                [format!(
                    "{STEP_3}the genuine request's jti was logged \"outcome\":\"processed\" \
                     {processed} times, expected exactly 1"
                )]
            );
        }
        let mut run = good_run();
        run.genuine_log = None;
        assert_eq!(
            lines(&run),
            [format!(
                "{STEP_3}the event function's log was not read, so nothing shows that replayed \
                 (the genuine request again) was not processed again"
            )]
        );
    }

    #[test]
    fn the_second_event_process_must_answer_200_and_log_a_duplicate_by_jti() {
        let cases: [(Result<u16, String>, JtiLog, &[&str]); 4] = [
            (
                Ok(409),
                JtiLog {
                    processed: 0,
                    duplicates: vec!["jti".into()],
                },
                &["the replay to a second event process was answered 409, expected exactly 200"],
            ),
            (
                Err("event exited (signal 6) while the harness waited for its response".into()),
                JtiLog::default(),
                &[
                    "the replay to a second event process got no answer: event exited (signal 6) \
                     while the harness waited for its response",
                    "the second event process did not log the replay \"outcome\":\"duplicate\" \
                     matched by jti: the shared state table did not catch it",
                ],
            ),
            (
                // Its own memory never saw the token: a 200 here without the line is a second
                // processing, which is exactly what the shared table exists to stop.
                Ok(200),
                JtiLog {
                    processed: 1,
                    duplicates: Vec::new(),
                },
                &[
                    "the second event process did not log the replay \"outcome\":\"duplicate\" \
                     matched by jti: the shared state table did not catch it",
                    "the second event process logged the replayed jti \"outcome\":\"processed\" \
                     1 times: it was processed twice",
                ],
            ),
            (
                Ok(200),
                JtiLog {
                    processed: 0,
                    duplicates: vec!["delivery".into()],
                },
                &[
                    "the second event process did not log the replay \"outcome\":\"duplicate\" \
                   matched by jti: the shared state table did not catch it",
                ],
            ),
        ];
        for (answer, log, expected) in cases {
            let mut run = good_run();
            run.second_process = Some(SecondProcessObservation { answer, log });
            let expected: Vec<String> = expected
                .iter()
                .map(|line| format!("{STEP_3}{line}"))
                .collect();
            assert_eq!(lines(&run), expected);
        }
        let mut run = good_run();
        run.second_process = None;
        assert_eq!(
            lines(&run),
            [format!(
                "{STEP_3}the replay to a second event process was not sent"
            )]
        );
    }

    #[test]
    fn the_repeated_alert_must_return_the_same_call_marked_duplicate_and_ring_once() {
        const STEP_5: &str = "step 5 (the same alert again): ";
        let mut run = good_run();
        let other = "0000aaaa-0000-4000-8000-000000000002";
        run.alert_repeat = Some(AlertRepeat {
            reply: json!({"call_uuid": other, "status": "started"}),
            emulator_calls: vec![UUID.to_owned(), other.to_owned()],
        });
        let reply = json!({"call_uuid": other, "status": "started"}).to_string();
        assert_eq!(
            lines(&run),
            [
                format!("{STEP_5}the repeat did not return the first call's uuid {UUID}: {reply}"),
                format!("{STEP_5}the repeat's reply is not marked \"duplicate\":true: {reply}"),
                format!(
                    "{STEP_5}the emulator took 2 call(s) [{UUID}, {other}], expected exactly the \
                     one for {UUID}: the alert rang more than once"
                ),
            ]
        );
        // The right reply is not enough: a second call at the emulator still fails.
        let mut run = good_run();
        if let Some(repeat) = &mut run.alert_repeat {
            repeat.emulator_calls.push(other.to_owned());
        }
        assert_eq!(lines(&run).len(), 1, "{:?}", lines(&run));
        let mut run = good_run();
        run.alert_repeat = None;
        assert_eq!(
            lines(&run),
            [format!("{STEP_5}the alert was not invoked again")]
        );
    }

    #[test]
    fn an_outcome_not_read_back_or_not_confirmed_fails_step_6() {
        const STEP_6: &str = "step 6 (the alert's outcome and its EventBridge events): ";
        let mut run = good_run();
        run.outcome = None;
        assert_eq!(
            lines(&run),
            [format!("{STEP_6}the alert's outcome was not read back")]
        );
        let mut run = good_run();
        if let Some(outcome) = &mut run.outcome {
            outcome.events = Ok(Vec::new());
        }
        assert_eq!(lines(&run).len(), 1, "{:?}", lines(&run));
        assert!(lines(&run)[0].starts_with(STEP_6), "{:?}", lines(&run));
    }

    #[test]
    fn a_jti_log_counts_processed_and_duplicate_lines_of_that_jti_only() {
        let lines: Vec<Value> = [
            json!({"webhook": "event", "outcome": "processed", "duplicate": false, "jti": "replay-me"}),
            json!({"webhook": "event", "outcome": "processed", "duplicate": false, "jti": "other"}),
            json!({"webhook": "event", "outcome": "rejected", "reason": "signature"}),
            json!({"webhook": "event", "outcome": "duplicate", "duplicate": true,
                   "matched": "jti", "jti": "replay-me"}),
            json!({"webhook": "event", "outcome": "duplicate", "duplicate": true,
                   "matched": "delivery", "jti": "replay-me"}),
            json!({"webhook": "event", "outcome": "duplicate", "duplicate": true,
                   "matched": "jti", "jti": "other"}),
        ]
        .into();
        assert_eq!(
            JtiLog::of(&lines, "replay-me"),
            JtiLog {
                processed: 1,
                duplicates: vec!["jti".into(), "delivery".into()],
            }
        );
        assert_eq!(JtiLog::of(&lines, "absent"), JtiLog::default());
    }

    #[test]
    fn only_the_event_functions_json_lines_are_read_from_a_log() {
        let log = std::env::temp_dir().join(format!("flow-log-{}.log", uuid::Uuid::new_v4()));
        std::fs::write(
            &log,
            concat!(
                "INFO cargo-lambda: compiling\n",
                r#"{"level":"INFO","webhook":"answer","outcome":"answered"}"#,
                "\n",
                r#"{"level":"INFO","webhook":"event","outcome":"processed","jti":"a"}"#,
                "\n",
                "{not json\n",
            ),
        )
        .unwrap();
        let found = event_log_lines(&log);
        std::fs::remove_file(&log).unwrap();
        assert_eq!(
            found,
            [json!({"level": "INFO", "webhook": "event", "outcome": "processed", "jti": "a"})]
        );
        assert!(event_log_lines(Path::new("/nonexistent/flow.log")).is_empty());
    }

    #[test]
    fn a_refused_genuine_event_or_answer_fails_its_step() {
        let mut run = good_run();
        run.genuine_status = Some(401);
        run.answer_status = Some(503);
        assert_eq!(
            lines(&run),
            [
                "step 3 (forged and replayed requests): a genuine signed event was answered 401, \
                 expected 200",
                "step 4 (the answer webhook): the unsigned GET was answered 503, expected 200",
            ]
        );
    }

    #[test]
    fn no_call_placed_is_the_only_failure_reported() {
        let run = FlowObservation {
            alert_reply: json!({"error": "voice_api_unreachable", "attempts": 4}),
            ..FlowObservation::default()
        };
        let found = lines(&run);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0].starts_with("step 1 (send-alert places the call): no call was placed: "),
            "{found:?}"
        );
        assert!(found[0].contains("voice_api_unreachable"), "{found:?}");
    }

    #[test]
    fn the_send_events_setting_is_true_false_or_unset() {
        assert_eq!(send_events_from(None), Ok(true));
        assert_eq!(send_events_from(Some("true")), Ok(true));
        assert_eq!(send_events_from(Some("false")), Ok(false));
        assert!(
            send_events_from(Some("no"))
                .unwrap_err()
                .contains(SEND_EVENTS_SETTING)
        );
    }
}
