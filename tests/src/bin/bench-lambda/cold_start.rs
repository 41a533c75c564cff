//! Cold starts and warm invocations of the release binaries, under the local Runtime API.
//!
//! A cold start is timed in two parts, both on `CLOCK_MONOTONIC`:
//! - init: from just before the helper forks the process to the arrival of its first `GET /next`
//!   (exec, loading, settings, the AWS client, the secret fetch from moto);
//! - first invocation: from handing over the first event to the arrival of its response.
//!
//! A start only counts if the response is the expected success and the process then asks for its
//! next invocation. Functions are started round-robin, so noise on the shared machine falls on
//! all three alike; a first, untimed round reads each binary into the page cache.

use std::path::Path;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::runtime_api::{Invocation, NextRequest, Posted, RuntimeApi};
use crate::spawner::{Exit, Spawner, vm_hwm_kb};
use crate::stack::{Function, Stack};
use crate::stats::{Summary, ms};

/// Generous: a stall on a loaded machine shows in the max, it does not fail the run.
const INIT_LIMIT: Duration = Duration::from_secs(20);
const INVOCATION_LIMIT: Duration = Duration::from_secs(20);
const POLL_EVERY: Duration = Duration::from_millis(250);

#[derive(Debug, Serialize)]
pub struct ColdStart {
    pub init_ms: f64,
    pub first_invocation_ms: f64,
    pub total_ms: f64,
    /// `ru_maxrss` from `wait4`, KiB.
    pub peak_rss_kb: u64,
    /// `VmHWM` from /proc just before the kill, KiB: the same peak seen from the other side.
    pub vm_hwm_kb: Option<u64>,
}

#[derive(Debug, Serialize)]
pub struct FunctionColdStarts {
    pub function: Function,
    pub binary_bytes: u64,
    pub init_ms: Summary,
    pub first_invocation_ms: Summary,
    pub total_ms: Summary,
    pub peak_rss_kb: Summary,
    pub starts: Vec<ColdStart>,
}

#[derive(Debug, Serialize)]
pub struct WarmInvocations {
    pub function: Function,
    /// From handing over the event to the arrival of the response, microseconds.
    pub invocation_us: Summary,
    /// The process's peak RSS after all of them, KiB.
    pub peak_rss_kb: u64,
}

/// `BENCH_WRAPPER`: a program every function is started through, as `wrapper <binary>` (a script
/// running strace or perf, for profiling). The figures are then the wrapper's, not comparable.
pub const WRAPPER_VARIABLE: &str = "BENCH_WRAPPER";

pub fn wrapper() -> Option<std::path::PathBuf> {
    std::env::var_os(WRAPPER_VARIABLE)
        .filter(|value| !value.is_empty())
        .map(std::path::PathBuf::from)
}

/// One function process under its own Runtime API.
struct Instance {
    function: Function,
    api: RuntimeApi,
    pid: i32,
    forked_at_ns: u64,
    log: std::path::PathBuf,
}

impl Instance {
    async fn start(
        stack: &Stack,
        spawner: &mut Spawner,
        function: Function,
    ) -> Result<Self, String> {
        let binary = function.release_binary();
        if !binary.exists() {
            return Err(format!(
                "{} is missing: scripts/bench.sh builds it (cargo build --release -p {})",
                binary.display(),
                function.name()
            ));
        }
        let api = RuntimeApi::start(function.name()).await?;
        let log = stack.log_file(function);
        let env = stack.environment(function, &api.host_and_port());
        let spawned = match wrapper() {
            Some(wrapper) => {
                let binary = binary.display().to_string();
                spawner.spawn(&wrapper, vec![binary], env, &log).await?
            }
            None => spawner.spawn(&binary, Vec::new(), env, &log).await?,
        };
        Ok(Self {
            function,
            api,
            pid: spawned.pid,
            forked_at_ns: spawned.forked_at_ns,
            log,
        })
    }

    fn died(&self, exit: &Exit, waiting_for: &str) -> String {
        format!(
            "{} exited ({}) while the harness waited for {waiting_for}; see {}",
            self.function.name(),
            exit.how,
            self.log.display()
        )
    }

    /// The process's next `GET /next`, failing early if it exits instead.
    async fn next_request(&mut self, spawner: &mut Spawner) -> Result<NextRequest, String> {
        let deadline = Instant::now() + INIT_LIMIT;
        loop {
            if let Some(next) = self.api.next_request(POLL_EVERY).await {
                return Ok(next);
            }
            if let Some(exit) = spawner.poll(self.pid).await? {
                return Err(self.died(&exit, "GET /next"));
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "{} did not ask for an invocation within {INIT_LIMIT:?}; see {}",
                    self.function.name(),
                    self.log.display()
                ));
            }
        }
    }

    /// Hands `payload` to the waiting process and returns (handed over, response arrived, body).
    async fn invoke(
        &mut self,
        spawner: &mut Spawner,
        next: NextRequest,
        payload: Vec<u8>,
    ) -> Result<(u64, u64, Vec<u8>), String> {
        let request_id = uuid::Uuid::new_v4().to_string();
        let served_ns = next.serve(Invocation {
            request_id: request_id.clone(),
            payload,
        })?;
        let deadline = Instant::now() + INVOCATION_LIMIT;
        let name = self.function.name();
        loop {
            match self.api.posted(POLL_EVERY).await {
                Some(Posted::Response {
                    request_id: answered,
                    arrived_ns,
                    body,
                }) if answered == request_id => return Ok((served_ns, arrived_ns, body.to_vec())),
                Some(Posted::Response {
                    request_id: other, ..
                }) => {
                    return Err(format!("{name} answered request {other}, not {request_id}"));
                }
                Some(Posted::InvocationError {
                    request_id: failed,
                    body,
                }) => {
                    return Err(format!(
                        "{name} reported an error for request {failed}: {}",
                        String::from_utf8_lossy(&body)
                    ));
                }
                Some(Posted::InitError { body }) => {
                    return Err(format!(
                        "{name} reported an init error: {}",
                        String::from_utf8_lossy(&body)
                    ));
                }
                None => {}
            }
            if let Some(exit) = spawner.poll(self.pid).await? {
                return Err(self.died(&exit, "its response"));
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "{name} did not answer within {INVOCATION_LIMIT:?}; see {}",
                    self.log.display()
                ));
            }
        }
    }

    /// Waits until the process is idle at `GET /next` again, then kills and reaps it.
    async fn finish(mut self, spawner: &mut Spawner) -> Result<(Exit, Option<u64>), String> {
        let idle = self.next_request(spawner).await?;
        let vm_hwm_kb = vm_hwm_kb(self.pid);
        let exit = spawner.reap(self.pid).await?;
        drop(idle);
        if exit.how != "killed by the harness" {
            return Err(self.died(&exit, "the harness to stop it"));
        }
        Ok((exit, vm_hwm_kb))
    }
}

async fn one_cold_start(
    stack: &Stack,
    spawner: &mut Spawner,
    function: Function,
) -> Result<ColdStart, String> {
    let payload = stack.invocation(function)?;
    let mut instance = Instance::start(stack, spawner, function).await?;
    let first = instance.next_request(spawner).await?;
    let init_ns = first.arrived_ns.saturating_sub(instance.forked_at_ns);
    let (served_ns, answered_ns, body) = instance.invoke(spawner, first, payload).await?;
    stack.check_response(function, &body).await?;
    let (exit, vm_hwm_kb) = instance.finish(spawner).await?;
    let first_invocation_ns = answered_ns.saturating_sub(served_ns);
    Ok(ColdStart {
        init_ms: ms(init_ns),
        first_invocation_ms: ms(first_invocation_ns),
        total_ms: ms(init_ns + first_invocation_ns),
        peak_rss_kb: exit.max_rss_kb,
        vm_hwm_kb,
    })
}

fn file_size(path: &Path) -> u64 {
    std::fs::metadata(path)
        .map(|metadata| metadata.len())
        .unwrap_or_default()
}

pub async fn measure_cold_starts(
    stack: &Stack,
    spawner: &mut Spawner,
    starts: usize,
) -> Result<Vec<FunctionColdStarts>, String> {
    for function in Function::ALL {
        one_cold_start(stack, spawner, function).await?;
    }
    let mut measured: Vec<Vec<ColdStart>> = Function::ALL.iter().map(|_| Vec::new()).collect();
    for round in 0..starts {
        for (index, function) in Function::ALL.into_iter().enumerate() {
            let start = one_cold_start(stack, spawner, function)
                .await
                .map_err(|problem| {
                    format!("cold start {} of {}: {problem}", round + 1, function.name())
                })?;
            measured[index].push(start);
        }
    }
    Function::ALL
        .into_iter()
        .zip(measured)
        .map(|(function, starts)| {
            let summary = |pick: fn(&ColdStart) -> f64| {
                Summary::of(&starts.iter().map(pick).collect::<Vec<_>>())
                    .ok_or("no cold starts measured")
            };
            Ok(FunctionColdStarts {
                function,
                binary_bytes: file_size(&function.release_binary()),
                init_ms: summary(|start| start.init_ms)?,
                first_invocation_ms: summary(|start| start.first_invocation_ms)?,
                total_ms: summary(|start| start.total_ms)?,
                peak_rss_kb: summary(|start| start.peak_rss_kb as f64)?,
                starts,
            })
        })
        .collect()
}

/// One event process: a cold invocation, then `count` warm ones, each a freshly signed event.
pub async fn measure_warm_event(
    stack: &Stack,
    spawner: &mut Spawner,
    count: usize,
) -> Result<WarmInvocations, String> {
    let function = Function::Event;
    let mut instance = Instance::start(stack, spawner, function).await?;
    let mut timings = Vec::with_capacity(count);
    for index in 0..=count {
        let payload = stack.invocation(function)?;
        let next = instance.next_request(spawner).await?;
        let (served_ns, answered_ns, body) = instance.invoke(spawner, next, payload).await?;
        stack
            .check_response(function, &body)
            .await
            .map_err(|problem| format!("warm invocation {index}: {problem}"))?;
        if index > 0 {
            timings.push(answered_ns.saturating_sub(served_ns) as f64 / 1_000.0);
        }
    }
    let (exit, _) = instance.finish(spawner).await?;
    Ok(WarmInvocations {
        function,
        invocation_us: Summary::of(&timings).ok_or("no warm invocations measured")?,
        peak_rss_kb: exit.max_rss_kb,
    })
}
