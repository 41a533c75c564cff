//! The harness for the integration and end-to-end suites in `tests/tests/`.
//!
//! Each suite starts the real software it talks to (moto's server, Prism, cargo-lambda) as a child
//! process on a free loopback port, and a guard stops the whole process group when the suite ends,
//! so nothing is left running even when a test fails. `make test` installs the tools first.

pub mod apigw;
pub mod applications_fake;
pub mod cfn;
pub mod emf;

pub mod event_tap;

pub mod fault_proxy;

pub mod flow;

pub mod runtime_api;

pub mod spawner;

pub mod spec_schema;

pub mod webhook_stand;

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The repository's root (the workspace).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")))
}

/// Vonage's OpenAPI specs, read from the reference folder beside the checkout.
pub fn vonage_spec(file: &str) -> PathBuf {
    let path = repo_root().join("../shared/vonage-specs").join(file);
    assert!(
        path.exists(),
        "{} is missing: the Vonage specs are read from ../shared/vonage-specs beside the checkout",
        path.display()
    );
    path
}

/// A loopback port nobody is listening on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("the OS hands out a free loopback port")
}

/// Process groups started by this process and not yet stopped, for [`stop_all_children`].
static LIVE_GROUPS: std::sync::Mutex<Vec<i32>> = std::sync::Mutex::new(Vec::new());

/// Stops every process group this process started: for a Ctrl-C handler, where no destructor runs.
pub fn stop_all_children() {
    let groups = LIVE_GROUPS
        .lock()
        .map(|groups| groups.clone())
        .unwrap_or_default();
    for group in groups {
        // SAFETY: kill(2) on a process group this process created.
        unsafe {
            libc::kill(-group, libc::SIGTERM);
            libc::kill(-group, libc::SIGKILL);
        }
    }
}

/// A process started in its own process group; dropping the guard stops the group.
pub struct ChildGuard {
    name: String,
    child: Child,
    log: PathBuf,
}

impl ChildGuard {
    /// Starts `command` in a new process group, its output appended to `target/test-logs/<name>.log`.
    pub fn spawn(name: &str, mut command: Command) -> Self {
        let log_dir = repo_root().join("target/test-logs");
        std::fs::create_dir_all(&log_dir).expect("target/test-logs can be created");
        let log_path = log_dir.join(format!("{name}.log"));
        let log =
            std::fs::File::create(&log_path).expect("a log file for the child can be created");
        let log_err = log.try_clone().expect("the log file handle can be cloned");
        command
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err)
            .process_group(0);
        let child = command.spawn().unwrap_or_else(|error| {
            panic!("{name} could not be started ({error}); run `make test`, which installs it")
        });
        if let Ok(mut groups) = LIVE_GROUPS.lock() {
            groups.push(child.id() as i32);
        }
        Self {
            name: name.to_owned(),
            child,
            log: log_path,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The file the child's stdout and stderr go to.
    pub fn log_path(&self) -> &Path {
        &self.log
    }

    /// Waits until `address` accepts TCP connections, failing early if the child exits.
    pub fn wait_for_port(&mut self, address: SocketAddr, limit: Duration) {
        let deadline = Instant::now() + limit;
        loop {
            if TcpStream::connect_timeout(&address, Duration::from_millis(200)).is_ok() {
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "{} exited with {status} before listening on {address}; see target/test-logs/{}.log",
                    self.name, self.name
                );
            }
            assert!(
                Instant::now() < deadline,
                "{} did not listen on {address} within {limit:?}; see target/test-logs/{}.log",
                self.name,
                self.name
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Stops the process group now: SIGTERM, then SIGKILL if it lingers.
    pub fn stop(&mut self) {
        let group = -(self.child.id() as i32);
        // SAFETY: kill(2) with a negative pid signals the process group this guard created.
        unsafe { libc::kill(group, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        // The leader may be gone while its children linger; the group kill reaches them too.
        unsafe { libc::kill(group, libc::SIGKILL) };
        let _ = self.child.wait();
        if let Ok(mut groups) = LIVE_GROUPS.lock() {
            groups.retain(|live| *live != -group);
        }
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        self.stop();
    }
}

/// moto's Secrets Manager (and the rest of AWS) over HTTP on a loopback port.
pub struct MotoServer {
    guard: ChildGuard,
    port: u16,
}

impl MotoServer {
    pub fn start() -> Self {
        let port = free_port();
        let mut command = Command::new("moto_server");
        command.args(["-H", "127.0.0.1", "-p", &port.to_string()]);
        let mut guard = ChildGuard::spawn(&format!("moto-{port}"), command);
        guard.wait_for_port(
            SocketAddr::from(([127, 0, 0, 1], port)),
            Duration::from_secs(30),
        );
        Self { guard, port }
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Stops the server while the test goes on (to see how clients behave without it).
    pub fn stop(&mut self) {
        self.guard.stop();
    }
}

/// An AWS configuration loader for moto at `endpoint`: a region and dummy credentials set on the
/// loader, not read from the process environment.
pub fn moto_loader(endpoint: &str) -> aws_config::ConfigLoader {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
            "testing", "testing", None, None, "moto",
        ))
        .endpoint_url(endpoint)
}

/// The state table as `template.yaml` declares it (a string hash key `pk`, on-demand, TTL on
/// `expires_at`), created through `client`.
pub async fn create_state_table(client: &aws_sdk_dynamodb::Client, name: &str) {
    use aws_sdk_dynamodb::types::{
        AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
        TimeToLiveSpecification,
    };
    use vonage_voice_lambda::state::dynamodb::{EXPIRES_AT_ATTRIBUTE, KEY_ATTRIBUTE};

    client
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name(KEY_ATTRIBUTE)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .expect("a complete attribute definition"),
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name(KEY_ATTRIBUTE)
                .key_type(KeyType::Hash)
                .build()
                .expect("a complete key schema"),
        )
        .send()
        .await
        .expect("moto creates the state table");
    client
        .update_time_to_live()
        .table_name(name)
        .time_to_live_specification(
            TimeToLiveSpecification::builder()
                .enabled(true)
                .attribute_name(EXPIRES_AT_ATTRIBUTE)
                .build()
                .expect("a complete TTL specification"),
        )
        .send()
        .await
        .expect("moto turns TTL on");
}

/// The project's Node tools (Prism, Vonage's Node SDK), installed by `make test` with `npm ci`.
pub fn node_bin(tool: &str) -> PathBuf {
    let path = repo_root().join("node_modules/.bin").join(tool);
    assert!(
        path.exists(),
        "{} is missing; run `make test`, which runs `npm ci`",
        path.display()
    );
    path
}

/// Stoplight Prism serving a Vonage spec as a validating mock.
pub struct Prism {
    _guard: ChildGuard,
    port: u16,
}

impl Prism {
    /// Serves `spec` (a path) with request validation; invalid requests get 422.
    pub fn start(spec: &Path) -> Self {
        let port = free_port();
        let mut command = Command::new(node_bin("prism"));
        command
            .args(["mock", "--host", "127.0.0.1", "-p", &port.to_string()])
            .arg(spec);
        let mut guard = ChildGuard::spawn(&format!("prism-{port}"), command);
        guard.wait_for_port(
            SocketAddr::from(([127, 0, 0, 1], port)),
            Duration::from_secs(60),
        );
        Self {
            _guard: guard,
            port,
        }
    }

    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

/// True when a process with this id still exists.
pub fn process_alive(pid: u32) -> bool {
    // SAFETY: signal 0 only checks for existence and permission.
    unsafe { libc::kill(pid as i32, 0) == 0 }
}

/// True while any process of the process group led by `pid` is still running.
pub fn process_group_alive(pid: u32) -> bool {
    // SAFETY: signal 0 to a process group only checks that one of its members exists.
    unsafe { libc::kill(-(pid as i32), 0) == 0 }
}
