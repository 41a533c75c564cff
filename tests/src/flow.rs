//! The whole product on one machine, with real processes and real HTTP:
//! moto's Secrets Manager holding freshly generated secrets, the Vonage Voice emulator, and the
//! functions under `cargo lambda watch`. `make local` prints what happens; the end-to-end suite
//! asserts it. Every process is stopped when the [`LocalStack`] is dropped.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use vonage_voice_lambda::webhook::{Clock as _, SystemClock};

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::{KeyPair, KeySize};
use aws_lc_rs::signature::KeyPair as _;
use serde_json::{Value, json};
use vonage_voice_lambda::sign::WebhookSigner;

use crate::{ChildGuard, MotoServer, free_port, repo_root};

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

fn build_binaries(packages: &[&str]) {
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

        // Built up front, so the first webhook is not also a compile.
        build_binaries(&["vonage-voice-emulator", "answer", "event", "send-alert"]);

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
            );
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
            .env("VONAGE_WEBHOOK_SECRET_ID", WEBHOOK_SECRET_ID)
            .env("VONAGE_APPLICATION_SECRET_ID", APPLICATION_SECRET_ID)
            .env("STATE_TABLE_NAME", STATE_TABLE)
            .env(
                "VONAGE_API_BASE_URL",
                format!("http://127.0.0.1:{emulator_port}"),
            )
            .env("VONAGE_FROM_NUMBER", FROM_NUMBER)
            .env("EVENT_URL", &event_url)
            .env("ANSWER_GREETING", "Hello from your local Vonage stack.");
        let mut watch = ChildGuard::spawn("cargo-lambda-watch", watch_command);
        watch.wait_for_port(
            SocketAddr::from(([127, 0, 0, 1], watch_port)),
            Duration::from_secs(120),
        );

        Self {
            credentials,
            moto,
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
        let url = format!(
            "http://127.0.0.1:{}/2015-03-31/functions/send-alert/invocations",
            self.watch_port
        );
        let response = self
            .http
            .post(url)
            .json(payload)
            .send()
            .await
            .expect("cargo lambda watch answers the invoke");
        response.json().await.expect("send-alert answers JSON")
    }

    /// Waits (polling, bounded) until the emulator has delivered every event of the call.
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
            if call["finished"] == json!(true) {
                return call;
            }
            assert!(
                Instant::now() < deadline,
                "the call did not finish within {limit:?}: {call}"
            );
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

    /// Stops moto early, to see the functions answer without their secret store.
    pub fn stop_moto(&mut self) {
        self.moto.stop();
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

/// The forged, replayed, stale and tampered requests: each must be refused.
pub struct Attack {
    pub name: &'static str,
    pub authorization: String,
    pub body: Vec<u8>,
}

pub fn attacks(signer: &WebhookSigner, call_uuid: &str) -> (Attack, Vec<Attack>) {
    let now = SystemClock.unix_seconds();
    let body = sample_event(call_uuid, "completed");
    let bearer = |token: String| format!("Bearer {token}");
    let genuine = Attack {
        name: "genuine",
        authorization: bearer(signer.sign_body(&body, now, "replay-me").expect("signs")),
        body: body.clone(),
    };
    let forger = WebhookSigner::new("a-guessed-secret", API_KEY, None).expect("signs");
    let tampered_body = sample_event(call_uuid, "answered");
    let list = vec![
        Attack {
            name: "forged (signed with a guessed secret)",
            authorization: bearer(forger.sign_body(&body, now, "forged").expect("signs")),
            body: body.clone(),
        },
        Attack {
            name: "replayed (the genuine request again)",
            authorization: genuine.authorization.clone(),
            body: body.clone(),
        },
        Attack {
            name: "stale (signed ten minutes ago)",
            authorization: bearer(signer.sign_body(&body, now - 600, "stale").expect("signs")),
            body: body.clone(),
        },
        Attack {
            name: "tampered (body changed after signing)",
            authorization: bearer(signer.sign_body(&body, now, "tampered").expect("signs")),
            body: tampered_body,
        },
    ];
    (genuine, list)
}
