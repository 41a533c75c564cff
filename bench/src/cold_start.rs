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

use serde::Serialize;

use integration_tests::runtime_api::{
    DEFAULT_DEADLINE, FunctionProcess, Launch, NextRequest, Reply, WAIT_LIMIT,
};
use integration_tests::spawner::Spawner;

use crate::stack::{Function, Stack};
use crate::stats::{Summary, ms};

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

/// Starts `function`'s binary (through [`wrapper`] when set) under its own Runtime API.
async fn start(
    stack: &Stack,
    spawner: &Spawner,
    function: Function,
) -> Result<FunctionProcess, String> {
    let binary = function.release_binary();
    if !binary.exists() {
        return Err(format!(
            "{} is missing: scripts/bench.sh builds it (cargo build --release -p {})",
            binary.display(),
            function.name()
        ));
    }
    let (program, args) = match wrapper() {
        Some(wrapper) => (wrapper, vec![binary.display().to_string()]),
        None => (binary, Vec::new()),
    };
    FunctionProcess::start(
        spawner,
        Launch {
            name: function.name().to_owned(),
            program,
            args,
            env: stack.environment(function),
            log: stack.log_file(function),
        },
    )
    .await
}

/// Hands `payload` to the waiting process; returns (handed over, response arrived, body). An
/// error report fails the run: the benchmark only times successes.
async fn invoke(
    instance: &mut FunctionProcess,
    next: NextRequest,
    payload: Vec<u8>,
) -> Result<(u64, u64, Vec<u8>), String> {
    match instance
        .invoke(next, payload, DEFAULT_DEADLINE, WAIT_LIMIT)
        .await?
    {
        Reply::Response {
            served_ns,
            arrived_ns,
            body,
        } => Ok((served_ns, arrived_ns, body)),
        Reply::Error { body, .. } => Err(format!(
            "{} reported an error: {}",
            instance.name(),
            String::from_utf8_lossy(&body)
        )),
    }
}

async fn one_cold_start(
    stack: &Stack,
    spawner: &Spawner,
    function: Function,
) -> Result<ColdStart, String> {
    let payload = stack.invocation(function)?;
    let mut instance = start(stack, spawner, function).await?;
    let first = instance.next_request(WAIT_LIMIT).await?;
    let init_ns = first.arrived_ns.saturating_sub(instance.forked_at_ns());
    let (served_ns, answered_ns, body) = invoke(&mut instance, first, payload).await?;
    stack.check_response(function, &body).await?;
    let (exit, vm_hwm_kb) = instance.finish().await?;
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
    spawner: &Spawner,
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
    spawner: &Spawner,
    count: usize,
) -> Result<WarmInvocations, String> {
    let function = Function::Event;
    let mut instance = start(stack, spawner, function).await?;
    let mut timings = Vec::with_capacity(count);
    for index in 0..=count {
        let payload = stack.invocation(function)?;
        let next = instance.next_request(WAIT_LIMIT).await?;
        let (served_ns, answered_ns, body) = invoke(&mut instance, next, payload).await?;
        stack
            .check_response(function, &body)
            .await
            .map_err(|problem| format!("warm invocation {index}: {problem}"))?;
        if index > 0 {
            timings.push(answered_ns.saturating_sub(served_ns) as f64 / 1_000.0);
        }
    }
    let (exit, _) = instance.finish().await?;
    Ok(WarmInvocations {
        function,
        invocation_us: Summary::of(&timings).ok_or("no warm invocations measured")?,
        peak_rss_kb: exit.max_rss_kb,
    })
}
