//! What the suites that run the real webhook binaries as processes (`hostile_input`,
//! `state_processes`, `observability`) start them on: moto holding the webhook secret and a state
//! table, the process helper ([`crate::spawner`]), and a signer holding the same secret.
//!
//! A suite keeps its own fault proxies in front of moto and says, per process, where the function
//! reaches AWS and with which settings; everything else a process needs is the same in every
//! suite and is set here once:
//!
//! ```ignore
//! let stand = WebhookStand::start(
//!     Path::new(env!("CARGO_BIN_EXE_process-helper")),
//!     StandNames {
//!         secret_id: "observability/vonage-webhooks",
//!         signature_secret: "observability-signature-secret-0123456789abcdef",
//!         state_table: "observability-state",
//!         log_prefix: "observability",
//!     },
//! )
//! .await;
//! let dynamodb = proxy.endpoint();
//! let settings = [("AWS_ENDPOINT_URL_DYNAMODB", dynamodb.as_str())];
//! let process = stand.function("event", "event-emf", &stand.moto.endpoint(), &settings).await;
//! ```

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use serde_json::{Value, json};
use vonage_voice_lambda::secrets::WebhookSecret;
use vonage_voice_lambda::settings::STATE_TABLE_NAME;
use vonage_voice_lambda::settings::WEBHOOK_SECRET_ID;
use vonage_voice_lambda::vonage::sign::WebhookSigner;

use crate::apigw::{event_v2, fixture, with_token};
use crate::flow::{API_KEY, build_binaries};
use crate::runtime_api::{FunctionProcess, Launch, fresh_log, lambda_environment};
use crate::spawner::Spawner;
use crate::{MotoServer, create_state_table, moto_loader, repo_root};

/// The Vonage application the webhook secret names.
pub const APPLICATION_ID: &str = "aaaaaaaa-bbbb-cccc-dddd-0123456789ab";

/// A suite's own names, so that suites running at the same time share nothing.
#[derive(Clone, Copy, Debug)]
pub struct StandNames {
    /// The webhook secret's name in Secrets Manager.
    pub secret_id: &'static str,
    /// Its `signature_secret`, which the stand's signer signs with.
    pub signature_secret: &'static str,
    pub state_table: &'static str,
    /// Each process logs to `target/test-logs/<log_prefix>-<log name>.log`.
    pub log_prefix: &'static str,
}

/// moto with the webhook secret and the state table, the process helper, a signer.
pub struct WebhookStand {
    pub moto: MotoServer,
    /// A configuration that reaches moto, for the suite's own clients.
    pub aws: aws_config::SdkConfig,
    pub spawner: Spawner,
    pub signer: WebhookSigner,
    pub names: StandNames,
    /// The folder of the process helper, where cargo also puts the function binaries.
    build_folder: PathBuf,
}

impl WebhookStand {
    /// Starts moto, creates the state table and the webhook secret in it, and starts `helper`
    /// (the suite's `env!("CARGO_BIN_EXE_process-helper")`) as the process helper.
    ///
    /// # Panics
    /// When moto or the helper does not start, or moto refuses the table or the secret.
    pub async fn start(helper: &Path, names: StandNames) -> Self {
        let moto = MotoServer::start();
        let aws = moto_loader(&moto.endpoint()).load().await;
        create_state_table(&aws_sdk_dynamodb::Client::new(&aws), names.state_table).await;
        aws_sdk_secretsmanager::Client::new(&aws)
            .create_secret()
            .name(names.secret_id)
            .secret_string(
                WebhookSecret::new(names.signature_secret, API_KEY, Some(APPLICATION_ID.into()))
                    .to_json(),
            )
            .send()
            .await
            .expect("moto stores the webhook secret");
        let spawner = Spawner::start(helper)
            .await
            .expect("the process helper starts");
        let signer =
            WebhookSigner::new(names.signature_secret, API_KEY, Some(APPLICATION_ID.into()))
                .expect("a signer");
        let build_folder = helper
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| repo_root().join("target/debug"));
        Self {
            moto,
            aws,
            spawner,
            signer,
            names,
            build_folder,
        }
    }

    /// Starts `function` (answer or event) with the stand's secret and table, reaching AWS at
    /// `aws_endpoint` (moto, or a proxy in front of it), with `settings` added after the
    /// stand's own (a service's `AWS_ENDPOINT_URL_<service>` among them, to send that service
    /// elsewhere), and waits for its cold start to finish (its first `GET /next`). The function
    /// binaries are built once per suite, with the same packages as the benchmark
    /// (`scripts/bench.sh`) so the build is shared.
    ///
    /// # Panics
    /// When the build fails or the function does not start.
    pub async fn function(
        &self,
        function: &str,
        log_name: &str,
        aws_endpoint: &str,
        settings: &[(&str, &str)],
    ) -> FunctionProcess {
        static BUILT: OnceLock<()> = OnceLock::new();
        BUILT.get_or_init(|| build_binaries(&["answer", "event", "send-alert"]));
        let log = fresh_log(&format!("{}-{log_name}", self.names.log_prefix))
            .expect("the log file can be emptied");
        let mut env = lambda_environment(function, &self.build_folder, aws_endpoint);
        env.push((
            WEBHOOK_SECRET_ID.to_owned(),
            self.names.secret_id.to_owned(),
        ));
        env.push((
            STATE_TABLE_NAME.to_owned(),
            self.names.state_table.to_owned(),
        ));
        // A setting given here replaces the stand's own (the process sees the first of two).
        env.retain(|(name, _)| !settings.iter().any(|(setting, _)| setting == name));
        env.extend(
            settings
                .iter()
                .map(|(name, value)| ((*name).to_owned(), (*value).to_owned())),
        );
        FunctionProcess::start(
            &self.spawner,
            Launch {
                name: function.to_owned(),
                program: self.build_folder.join(function),
                args: Vec::new(),
                env,
                log,
            },
        )
        .await
        .unwrap_or_else(|problem| panic!("{function} starts: {problem}"))
    }

    /// A payload-2.0 event webhook carrying `body`, signed at `iat` with token id `jti`.
    pub fn signed_event(&self, body: &[u8], iat: i64, jti: &str) -> Value {
        let token = self.signer.sign_body(body, iat, jti).expect("signs");
        with_token(event_v2(body), &token)
    }

    /// A payload-2.0 answer webhook (GET) for `call_uuid`, its query signed at `iat` with token
    /// id `jti`.
    pub fn signed_answer(&self, call_uuid: &str, iat: i64, jti: &str) -> Value {
        let query = format!(
            "to=447700900000&from=447700900001&uuid={call_uuid}&conversation_uuid=CON-{call_uuid}"
        );
        let token = self.signer.sign_query(&query, iat, jti).expect("signs");
        let mut event = fixture("answer_v2_get_unsigned.json");
        event["rawQueryString"] = json!(query);
        event["queryStringParameters"]["uuid"] = json!(call_uuid);
        event["queryStringParameters"]["conversation_uuid"] = json!(format!("CON-{call_uuid}"));
        with_token(event, &token)
    }
}
