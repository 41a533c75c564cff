//! An HTTP reverse proxy on loopback in front of a stand-in (moto), for suites that need Secrets
//! Manager slow or down while the functions run as real processes: it counts the requests that
//! reach it, and can hold every answer back or refuse every request (an outage).
//!
//! It works on HTTP requests, not TCP connections: the AWS SDK keeps its connection alive, so one
//! connection carries many reads, and what a test wants to count is the reads.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tokio::task::JoinHandle;

/// What the proxy does with each request from now on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Behaviour {
    /// Forward it and answer as the upstream did.
    Forward,
    /// Forward it, then hold the upstream's answer back this long before sending it.
    Delay(Duration),
    /// Answer it with this status and a Secrets Manager error body, without forwarding.
    Fail(StatusCode),
}

/// The largest request body forwarded (Secrets Manager requests are a few hundred bytes).
const MAX_BODY_BYTES: usize = 1 << 20;
/// `x-amz-target` of a Secrets Manager read.
const GET_SECRET_VALUE: &str = "secretsmanager.GetSecretValue";

struct Shared {
    upstream: String,
    client: reqwest::Client,
    behaviour: Mutex<Behaviour>,
    requests: AtomicUsize,
    get_secret_value: AtomicUsize,
}

pub struct FaultProxy {
    address: SocketAddr,
    shared: Arc<Shared>,
    server: JoinHandle<()>,
}

impl FaultProxy {
    /// Listens on a free loopback port and forwards to `upstream` (`http://host:port`).
    pub async fn start(upstream: &str) -> Result<Self, String> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|error| format!("the proxy cannot listen: {error}"))?;
        let address = listener.local_addr().map_err(|error| error.to_string())?;
        let client = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(|error| format!("the proxy's HTTP client: {error}"))?;
        let shared = Arc::new(Shared {
            upstream: upstream.trim_end_matches('/').to_owned(),
            client,
            behaviour: Mutex::new(Behaviour::Forward),
            requests: AtomicUsize::new(0),
            get_secret_value: AtomicUsize::new(0),
        });
        let router = Router::new()
            .fallback(relay)
            .with_state(Arc::clone(&shared));
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Ok(Self {
            address,
            shared,
            server,
        })
    }

    /// The value for `AWS_ENDPOINT_URL`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.address)
    }

    /// Applies to requests arriving from now on.
    pub fn set(&self, behaviour: Behaviour) {
        if let Ok(mut current) = self.shared.behaviour.lock() {
            *current = behaviour;
        }
    }

    /// Requests that reached the proxy so far, whatever it did with them.
    pub fn requests(&self) -> usize {
        self.shared.requests.load(Ordering::SeqCst)
    }

    /// Of those, Secrets Manager `GetSecretValue` calls.
    pub fn get_secret_value_calls(&self) -> usize {
        self.shared.get_secret_value.load(Ordering::SeqCst)
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// Headers that belong to one connection, not to the request or response being relayed; the
/// length is recomputed from the body.
fn is_hop_by_hop(name: &HeaderName) -> bool {
    [
        header::CONNECTION,
        header::TRANSFER_ENCODING,
        header::TE,
        header::TRAILER,
        header::UPGRADE,
        header::PROXY_AUTHORIZATION,
        header::HOST,
        header::CONTENT_LENGTH,
    ]
    .contains(name)
        || name.as_str() == "keep-alive"
}

fn relayed(headers: &HeaderMap) -> impl Iterator<Item = (&HeaderName, &header::HeaderValue)> {
    headers.iter().filter(|(name, _)| !is_hop_by_hop(name))
}

async fn relay(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    // Counted on arrival, so a count read after the client got its answer includes the request.
    shared.requests.fetch_add(1, Ordering::SeqCst);
    let is_read = request
        .headers()
        .get("x-amz-target")
        .and_then(|target| target.to_str().ok())
        .is_some_and(|target| target.eq_ignore_ascii_case(GET_SECRET_VALUE));
    if is_read {
        shared.get_secret_value.fetch_add(1, Ordering::SeqCst);
    }
    let behaviour = shared
        .behaviour
        .lock()
        .map(|behaviour| *behaviour)
        .unwrap_or(Behaviour::Forward);
    let delay = match behaviour {
        Behaviour::Fail(status) => return injected_failure(status),
        Behaviour::Delay(delay) => Some(delay),
        Behaviour::Forward => None,
    };

    let (parts, body) = request.into_parts();
    let Ok(body) = axum::body::to_bytes(body, MAX_BODY_BYTES).await else {
        return StatusCode::PAYLOAD_TOO_LARGE.into_response();
    };
    let path = parts.uri.path_and_query().map_or("/", |path| path.as_str());
    let mut forwarded = shared
        .client
        .request(parts.method, format!("{}{path}", shared.upstream))
        .body(body);
    for (name, value) in relayed(&parts.headers) {
        forwarded = forwarded.header(name, value);
    }
    let upstream = match forwarded.send().await {
        Ok(upstream) => upstream,
        Err(error) => {
            return (
                StatusCode::BAD_GATEWAY,
                format!("the proxy's upstream did not answer: {error}"),
            )
                .into_response();
        }
    };
    let status = upstream.status();
    let mut headers = HeaderMap::new();
    for (name, value) in relayed(upstream.headers()) {
        headers.append(name.clone(), value.clone());
    }
    let body = upstream.bytes().await.unwrap_or_default();
    if let Some(delay) = delay {
        tokio::time::sleep(delay).await;
    }
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    *response.headers_mut() = headers;
    response
}

/// What Secrets Manager sends for an internal error, so the SDK classifies it as it would the
/// real one.
fn injected_failure(status: StatusCode) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/x-amz-json-1.1")],
        r#"{"__type":"InternalServiceError","Message":"an outage injected by the test proxy"}"#,
    )
        .into_response()
}
