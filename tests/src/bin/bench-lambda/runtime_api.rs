//! A Lambda Runtime API on loopback, for one function process at a time: the endpoints the
//! `lambda_runtime` crate calls, with every request time-stamped on arrival.
//!
//! `GET /next` is held open until the harness hands over an invocation, as Lambda does; the
//! moment it is handed over is the start of the invocation's timing, and the arrival of
//! `POST …/response` its end.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::stats::monotonic_ns;

const API: &str = "/2018-06-01/runtime";
/// How long a function is given per invocation (the deadline header); far above any measurement.
const DEADLINE: Duration = Duration::from_secs(30);

/// One event for the function.
pub struct Invocation {
    pub request_id: String,
    pub payload: Vec<u8>,
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
    set("lambda-runtime-aws-request-id", invocation.request_id);
    set(
        "lambda-runtime-deadline-ms",
        unix_millis_after(DEADLINE).to_string(),
    );
    set(
        "lambda-runtime-invoked-function-arn",
        shared.function_arn.to_string(),
    );
    set(
        "lambda-runtime-trace-id",
        "Root=1-00000000-000000000000000000000000;Sampled=0".into(),
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
    let _ = shared
        .posted
        .send(Posted::InvocationError { request_id, body })
        .await;
    StatusCode::ACCEPTED
}

async fn init_error(State(shared): State<Shared>, body: Bytes) -> StatusCode {
    let _ = shared.posted.send(Posted::InitError { body }).await;
    StatusCode::ACCEPTED
}
