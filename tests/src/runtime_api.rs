//! A Lambda Runtime API on loopback, for one function process at a time: the endpoints the
//! `lambda_runtime` crate calls, with every request time-stamped on arrival. The benchmark times
//! the functions under it; the process-level suites (tests/tests/hostile_input.rs) send them
//! events no unit test can, and watch the process.
//!
//! `GET /next` is held open until the harness hands over an invocation, as Lambda does; the
//! moment it is handed over is the start of the invocation's timing (and its deadline header is
//! counted from it), and the arrival of `POST …/response` its end.
//!
//! [`FunctionProcess`] is one function binary started through the [`Spawner`] with its own
//! Runtime API: invocations one at a time, whether it is still alive, its log lines, its peak RSS.

use std::io::{BufRead, Seek};
use std::net::SocketAddr;
use std::path::{Path as FilePath, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::spawner::{Exit, Spawner, monotonic_ns, vm_hwm_kb};

const API: &str = "/2018-06-01/runtime";

/// How long a function is given per invocation unless the caller says otherwise: far above any
/// measurement.
pub const DEFAULT_DEADLINE: Duration = Duration::from_secs(30);

/// One event for the function.
pub struct Invocation {
    pub request_id: String,
    pub payload: Vec<u8>,
    /// The function's time for it, counted from the hand-over: `Lambda-Runtime-Deadline-Ms`.
    pub deadline: Duration,
}

/// A function waiting at `GET /next`.
pub struct NextRequest {
    pub arrived_ns: u64,
    hand_over: oneshot::Sender<Invocation>,
}

impl NextRequest {
    /// Answers the waiting `GET /next`; returns the moment it was handed over.
    pub fn serve(self, invocation: Invocation) -> Result<u64, String> {
        let served_ns = monotonic_ns();
        self.hand_over
            .send(invocation)
            .map_err(|_| "the function stopped waiting for its invocation".to_owned())?;
        Ok(served_ns)
    }
}

/// What the function posted back.
#[derive(Debug)]
pub enum Posted {
    Response {
        request_id: String,
        arrived_ns: u64,
        body: Bytes,
    },
    InvocationError {
        request_id: String,
        arrived_ns: u64,
        body: Bytes,
    },
    InitError {
        body: Bytes,
    },
}

#[derive(Clone)]
struct Shared {
    function_arn: Arc<str>,
    next: mpsc::Sender<NextRequest>,
    posted: mpsc::Sender<Posted>,
}

pub struct RuntimeApi {
    address: SocketAddr,
    next: mpsc::Receiver<NextRequest>,
    posted: mpsc::Receiver<Posted>,
    server: JoinHandle<()>,
}

impl RuntimeApi {
    pub async fn start(function_name: &str) -> Result<Self, String> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|error| format!("the Runtime API cannot listen: {error}"))?;
        let address = listener.local_addr().map_err(|error| error.to_string())?;
        let (next_sender, next) = mpsc::channel(4);
        let (posted_sender, posted) = mpsc::channel(16);
        let shared = Shared {
            function_arn: format!("arn:aws:lambda:us-east-1:123456789012:function:{function_name}")
                .into(),
            next: next_sender,
            posted: posted_sender,
        };
        let router = Router::new()
            .route(&format!("{API}/invocation/next"), get(next_invocation))
            .route(
                &format!("{API}/invocation/{{id}}/response"),
                post(invocation_response),
            )
            .route(
                &format!("{API}/invocation/{{id}}/error"),
                post(invocation_error),
            )
            .route(&format!("{API}/init/error"), post(init_error))
            .with_state(shared);
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Ok(Self {
            address,
            next,
            posted,
            server,
        })
    }

    /// The value for `AWS_LAMBDA_RUNTIME_API`.
    pub fn host_and_port(&self) -> String {
        self.address.to_string()
    }

    /// The next `GET /next`, or `None` if none arrives within `limit`.
    pub async fn next_request(&mut self, limit: Duration) -> Option<NextRequest> {
        tokio::time::timeout(limit, self.next.recv())
            .await
            .ok()
            .flatten()
    }

    /// The next response or error the function posts, or `None` within `limit`.
    pub async fn posted(&mut self, limit: Duration) -> Option<Posted> {
        tokio::time::timeout(limit, self.posted.recv())
            .await
            .ok()
            .flatten()
    }
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        self.server.abort();
    }
}

fn unix_millis_after(after: Duration) -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|now| (now + after).as_millis())
        .unwrap_or_default()
}

async fn next_invocation(State(shared): State<Shared>) -> Response {
    let arrived_ns = monotonic_ns();
    let (hand_over, invocation) = oneshot::channel();
    if shared
        .next
        .send(NextRequest {
            arrived_ns,
            hand_over,
        })
        .await
        .is_err()
    {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    let Ok(invocation) = invocation.await else {
        // The harness is done with this process and is about to kill it.
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    };
    let mut headers = HeaderMap::new();
    let mut set = |name: &'static str, value: String| {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(name, value);
        }
    };
    // An X-Ray trace header of the invocation's own, as Lambda hands each one.
    let trace = invocation.request_id.replace('-', "");
    let (epoch, unique) = trace.split_at(8.min(trace.len()));
    set(
        "lambda-runtime-trace-id",
        format!("Root=1-{epoch}-{unique};Parent=0000000000000001;Sampled=0"),
    );
    set("lambda-runtime-aws-request-id", invocation.request_id);
    set(
        "lambda-runtime-deadline-ms",
        unix_millis_after(invocation.deadline).to_string(),
    );
    set(
        "lambda-runtime-invoked-function-arn",
        shared.function_arn.to_string(),
    );
    set("content-type", "application/json".into());
    (StatusCode::OK, headers, invocation.payload).into_response()
}

async fn invocation_response(
    State(shared): State<Shared>,
    Path(request_id): Path<String>,
    body: Bytes,
) -> StatusCode {
    let arrived_ns = monotonic_ns();
    let _ = shared
        .posted
        .send(Posted::Response {
            request_id,
            arrived_ns,
            body,
        })
        .await;
    StatusCode::ACCEPTED
}

async fn invocation_error(
    State(shared): State<Shared>,
    Path(request_id): Path<String>,
    body: Bytes,
) -> StatusCode {
    let arrived_ns = monotonic_ns();
    let _ = shared
        .posted
        .send(Posted::InvocationError {
            request_id,
            arrived_ns,
            body,
        })
        .await;
    StatusCode::ACCEPTED
}

async fn init_error(State(shared): State<Shared>, body: Bytes) -> StatusCode {
    let _ = shared.posted.send(Posted::InitError { body }).await;
    StatusCode::ACCEPTED
}

// ---------------------------------------------------------------------------------------------
// One function process under its own Runtime API
// ---------------------------------------------------------------------------------------------

/// How long the harness waits for a `GET /next` or a response before giving up on the process.
/// Generous: a stall on a loaded machine shows in the timings, it does not fail the run.
pub const WAIT_LIMIT: Duration = Duration::from_secs(20);
/// How often a wait also checks that the process has not exited.
const POLL_EVERY: Duration = Duration::from_millis(250);
/// The most of a log line repeated in an error message (a hostile event can make huge lines).
const LOG_EXCERPT_CHARS: usize = 400;

/// The environment Lambda gives a 128 MB function in us-east-1 with JSON logs, with dummy AWS
/// credentials and `AWS_ENDPOINT_URL` pointing at `aws_endpoint` (moto, or a proxy in front of
/// it). Nothing comes from the shell running the harness; the caller adds the function's settings.
pub fn lambda_environment(
    function_name: &str,
    task_root: &FilePath,
    aws_endpoint: &str,
) -> Vec<(String, String)> {
    [
        ("AWS_LAMBDA_FUNCTION_NAME", function_name.to_owned()),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128".into()),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".into()),
        (
            "AWS_LAMBDA_LOG_GROUP_NAME",
            format!("/aws/lambda/{function_name}"),
        ),
        ("AWS_LAMBDA_LOG_STREAM_NAME", "local".into()),
        ("AWS_LAMBDA_LOG_FORMAT", "JSON".into()),
        ("AWS_LAMBDA_LOG_LEVEL", "INFO".into()),
        ("AWS_REGION", "us-east-1".into()),
        ("AWS_DEFAULT_REGION", "us-east-1".into()),
        ("AWS_ACCESS_KEY_ID", "testing".into()),
        ("AWS_SECRET_ACCESS_KEY", "testing".into()),
        ("AWS_SESSION_TOKEN", "testing".into()),
        ("AWS_ENDPOINT_URL", aws_endpoint.to_owned()),
        ("LAMBDA_TASK_ROOT", task_root.display().to_string()),
        ("_HANDLER", "bootstrap".into()),
        ("LANG", "en_US.UTF-8".into()),
        ("TZ", ":UTC".into()),
        ("PATH", "/usr/local/bin:/usr/bin:/bin".into()),
    ]
    .into_iter()
    .map(|(name, value)| (name.to_owned(), value))
    .collect()
}

/// What to start: a function binary and the environment Lambda would give it.
pub struct Launch {
    /// The function's name, for its ARN and for messages.
    pub name: String,
    pub program: PathBuf,
    pub args: Vec<String>,
    /// The whole environment (nothing is inherited); `AWS_LAMBDA_RUNTIME_API` is added.
    pub env: Vec<(String, String)>,
    /// stdout and stderr are appended here.
    pub log: PathBuf,
}

/// A function process started by the [`Spawner`], talking to its own [`RuntimeApi`].
pub struct FunctionProcess {
    name: String,
    api: RuntimeApi,
    spawner: Spawner,
    pid: i32,
    forked_at_ns: u64,
    log: PathBuf,
}

/// What the function posted for one invocation.
#[derive(Debug)]
pub enum Reply {
    /// `POST …/response`: the handler's answer.
    Response {
        served_ns: u64,
        arrived_ns: u64,
        body: Vec<u8>,
    },
    /// `POST …/error`: the function reported that the invocation failed. In a debug build a panic
    /// in the handler ends here (lambda_runtime catches it); with `panic = "abort"` the process
    /// dies instead.
    Error {
        served_ns: u64,
        arrived_ns: u64,
        body: Vec<u8>,
    },
}

/// An API Gateway proxy response, as the webhook functions answer an invocation.
#[derive(Debug)]
pub struct HttpReply {
    pub status: u16,
    pub headers: serde_json::Value,
    pub body: String,
}

impl Reply {
    /// From handing over the event to the arrival of the answer.
    pub fn elapsed(&self) -> Duration {
        let (Self::Response {
            served_ns,
            arrived_ns,
            ..
        }
        | Self::Error {
            served_ns,
            arrived_ns,
            ..
        }) = self;
        Duration::from_nanos(arrived_ns.saturating_sub(*served_ns))
    }

    /// The answer as an HTTP response; an error report or anything else is an `Err` naming it.
    pub fn http(&self) -> Result<HttpReply, String> {
        let body = match self {
            Self::Response { body, .. } => body,
            Self::Error { body, .. } => {
                return Err(format!(
                    "the function reported an error instead of answering: {}",
                    excerpt(&String::from_utf8_lossy(body))
                ));
            }
        };
        let response: serde_json::Value = serde_json::from_slice(body).map_err(|error| {
            format!(
                "the answer is not JSON ({error}): {}",
                excerpt(&String::from_utf8_lossy(body))
            )
        })?;
        let status = response["statusCode"]
            .as_u64()
            .and_then(|status| u16::try_from(status).ok())
            .ok_or_else(|| {
                format!(
                    "the answer has no statusCode: {}",
                    excerpt(&response.to_string())
                )
            })?;
        Ok(HttpReply {
            status,
            headers: response["headers"].clone(),
            body: response["body"].as_str().unwrap_or_default().to_owned(),
        })
    }
}

fn excerpt(text: &str) -> String {
    let mut cut: String = text.chars().take(LOG_EXCERPT_CHARS).collect();
    if cut.len() < text.len() {
        cut.push_str(&format!("…({} bytes)", text.len()));
    }
    cut
}

impl FunctionProcess {
    /// Starts the process with its own Runtime API; it has not asked for an invocation yet.
    pub async fn start(spawner: &Spawner, launch: Launch) -> Result<Self, String> {
        if !launch.program.exists() {
            return Err(format!("{} is missing", launch.program.display()));
        }
        let api = RuntimeApi::start(&launch.name).await?;
        let mut env = launch.env;
        env.retain(|(name, _)| name != "AWS_LAMBDA_RUNTIME_API");
        env.push(("AWS_LAMBDA_RUNTIME_API".to_owned(), api.host_and_port()));
        let spawned = spawner
            .spawn(&launch.program, launch.args, env, &launch.log)
            .await?;
        Ok(Self {
            name: launch.name,
            api,
            spawner: spawner.clone(),
            pid: spawned.pid,
            forked_at_ns: spawned.forked_at_ns,
            log: launch.log,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn pid(&self) -> i32 {
        self.pid
    }

    /// When the helper forked it, on [`monotonic_ns`]'s clock.
    pub fn forked_at_ns(&self) -> u64 {
        self.forked_at_ns
    }

    pub fn log_path(&self) -> &FilePath {
        &self.log
    }

    /// `Some` once the process has exited (crashed, aborted, or returned from `main`).
    pub async fn exited(&self) -> Result<Option<Exit>, String> {
        self.spawner.poll(self.pid).await
    }

    /// The process's peak resident set so far (`VmHWM`), KiB; `None` once it is gone.
    pub fn peak_rss_kb(&self) -> Option<u64> {
        vm_hwm_kb(self.pid)
    }

    /// The log's current length: pass it to [`Self::log_lines_since`] to see what came after.
    pub fn log_mark(&self) -> u64 {
        std::fs::metadata(&self.log)
            .map(|metadata| metadata.len())
            .unwrap_or_default()
    }

    /// The lines the process wrote (stdout and stderr) after `mark`.
    pub fn log_lines_since(&self, mark: u64) -> Result<Vec<String>, String> {
        let problem = |error: std::io::Error| format!("{}: {error}", self.log.display());
        let mut file = std::fs::File::open(&self.log).map_err(problem)?;
        file.seek(std::io::SeekFrom::Start(mark)).map_err(problem)?;
        std::io::BufReader::new(file)
            .lines()
            .collect::<Result<_, _>>()
            .map_err(problem)
    }

    fn died(&self, exit: &Exit, waiting_for: &str) -> String {
        let tail = self
            .log_lines_since(0)
            .unwrap_or_default()
            .iter()
            .rev()
            .take(5)
            .rev()
            .map(|line| format!("\n  {}", excerpt(line)))
            .collect::<String>();
        format!(
            "{} exited ({}) while the harness waited for {waiting_for}; the end of {}:{tail}",
            self.name,
            exit.how,
            self.log.display()
        )
    }

    /// The process's next `GET /next`, failing early if it exits instead.
    pub async fn next_request(&mut self, limit: Duration) -> Result<NextRequest, String> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(next) = self.api.next_request(POLL_EVERY).await {
                return Ok(next);
            }
            if let Some(exit) = self.exited().await? {
                return Err(self.died(&exit, "GET /next"));
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "{} did not ask for an invocation within {limit:?}; see {}",
                    self.name,
                    self.log.display()
                ));
            }
        }
    }

    /// Hands `payload` to the waiting process with `deadline` to answer it, and waits up to
    /// `limit` for what it posts back, failing early if it exits instead.
    pub async fn invoke(
        &mut self,
        next: NextRequest,
        payload: Vec<u8>,
        deadline: Duration,
        limit: Duration,
    ) -> Result<Reply, String> {
        let request_id = uuid::Uuid::new_v4().to_string();
        let served_ns = next.serve(Invocation {
            request_id: request_id.clone(),
            payload,
            deadline,
        })?;
        let give_up = Instant::now() + limit;
        let name = &self.name;
        loop {
            match self.api.posted(POLL_EVERY).await {
                Some(Posted::Response {
                    request_id: answered,
                    arrived_ns,
                    body,
                }) if answered == request_id => {
                    return Ok(Reply::Response {
                        served_ns,
                        arrived_ns,
                        body: body.to_vec(),
                    });
                }
                Some(Posted::InvocationError {
                    request_id: failed,
                    arrived_ns,
                    body,
                }) if failed == request_id => {
                    return Ok(Reply::Error {
                        served_ns,
                        arrived_ns,
                        body: body.to_vec(),
                    });
                }
                Some(
                    Posted::Response {
                        request_id: other, ..
                    }
                    | Posted::InvocationError {
                        request_id: other, ..
                    },
                ) => {
                    return Err(format!("{name} answered request {other}, not {request_id}"));
                }
                Some(Posted::InitError { body }) => {
                    return Err(format!(
                        "{name} reported an init error: {}",
                        excerpt(&String::from_utf8_lossy(&body))
                    ));
                }
                None => {}
            }
            if let Some(exit) = self.exited().await? {
                return Err(self.died(&exit, "its response"));
            }
            if Instant::now() > give_up {
                return Err(format!(
                    "{name} did not answer within {limit:?}; see {}",
                    self.log.display()
                ));
            }
        }
    }

    /// Waits for the process to ask for an invocation, then invokes it with `payload` and
    /// `deadline` (both waits up to [`WAIT_LIMIT`]).
    pub async fn invoke_next(
        &mut self,
        payload: Vec<u8>,
        deadline: Duration,
    ) -> Result<Reply, String> {
        let next = self.next_request(WAIT_LIMIT).await?;
        self.invoke(next, payload, deadline, WAIT_LIMIT).await
    }

    /// Waits until the process is idle at `GET /next` again, reads its peak RSS there, then
    /// kills and reaps it. An exit before that is an error.
    pub async fn finish(mut self) -> Result<(Exit, Option<u64>), String> {
        let idle = self.next_request(WAIT_LIMIT).await?;
        let vm_hwm_kb = self.peak_rss_kb();
        let exit = self.spawner.reap(self.pid).await?;
        drop(idle);
        if exit.how != crate::spawner::KILLED_BY_THE_HARNESS {
            return Err(self.died(&exit, "the harness to stop it"));
        }
        Ok((exit, vm_hwm_kb))
    }

    /// Kills and reaps the process now, whatever it is doing.
    pub async fn stop(self) -> Result<Exit, String> {
        self.spawner.reap(self.pid).await
    }
}

/// `target/test-logs/<name>.log`, created empty: where a started function's output goes.
pub fn fresh_log(name: &str) -> Result<std::path::PathBuf, String> {
    let log_dir = crate::repo_root().join("target/test-logs");
    std::fs::create_dir_all(&log_dir).map_err(|error| format!("{}: {error}", log_dir.display()))?;
    let log = log_dir.join(format!("{name}.log"));
    std::fs::write(&log, "").map_err(|error| format!("{}: {error}", log.display()))?;
    Ok(log)
}
