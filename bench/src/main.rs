//! `make bench` (scripts/bench.sh runs this after building what it measures).
//!
//! Measures, in one run, and writes `results.json` and `BENCHMARKS.md` into the output folder:
//! - webhook verification: ours against Vonage's Python and Node SDKs on the same token and body,
//!   and against the raw crypto floor;
//! - each function's cold start under a local Lambda Runtime API, with its secret in moto and,
//!   for send-alert, the call placed at the Vonage emulator;
//! - each function's peak RSS (`wait4`), and the zipped size of its arm64 `bootstrap`;
//! - the warm cost of one event invocation, through the Runtime API and in-process.
//!
//! Timing targets are reported, never enforced; anything broken (a function that does not answer
//! 200, an SDK that refuses the token, a missing artifact) fails the run.
//!
//! `bench-lambda [--mode full|short] [--out DIR] [--markdown FILE]`

mod allocations;
mod cold_start;
mod in_process;
mod machine;
mod observability;
mod previous_verifier;
mod probes;
mod report;
mod sizes;
mod stack;
mod stats;
mod verification;

use std::path::PathBuf;
use std::process::ExitCode;

use integration_tests::repo_root;
use integration_tests::spawner;
use serde::Serialize;

/// Counts allocations, so the report can say how many one verification makes.
#[global_allocator]
static ALLOCATOR: allocations::CountingAllocator = allocations::CountingAllocator;

/// How much of everything to measure.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Plan {
    pub mode: &'static str,
    /// Cold starts per function.
    pub cold_starts: usize,
    /// Warm event invocations through the Runtime API, after one cold one.
    pub warm_invocations: usize,
    /// Event invocations timed in-process.
    pub in_process_invocations: usize,
    /// Timed batches per verifier (each language) and the length of one batch.
    pub verify_batches: usize,
    pub verify_batch_ms: f64,
    /// GetSecretValue round trips to moto from an already connected client.
    pub moto_round_trips: usize,
    /// Fresh processes per one-time cost probed (aws-lc seeding, the OS trust store).
    pub probe_processes: usize,
}

impl Plan {
    fn full() -> Self {
        Self {
            mode: "full",
            cold_starts: 30,
            warm_invocations: 500,
            in_process_invocations: 5_000,
            verify_batches: 15,
            verify_batch_ms: 200.0,
            moto_round_trips: 50,
            probe_processes: 20,
        }
    }

    /// A few iterations of everything, so CI notices when the suite breaks.
    fn short() -> Self {
        Self {
            mode: "short",
            cold_starts: 3,
            warm_invocations: 10,
            in_process_invocations: 100,
            verify_batches: 3,
            verify_batch_ms: 20.0,
            moto_round_trips: 3,
            probe_processes: 3,
        }
    }
}

struct Options {
    plan: Plan,
    out_dir: PathBuf,
    markdown: Option<PathBuf>,
}

fn parse_options(mut args: impl Iterator<Item = String>) -> Result<Options, String> {
    let mut plan = Plan::full();
    let mut out_dir = None;
    let mut markdown = None;
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "--mode" => {
                plan = match value()?.as_str() {
                    "full" => Plan::full(),
                    "short" => Plan::short(),
                    other => return Err(format!("--mode is full or short, not {other:?}")),
                }
            }
            "--out" => out_dir = Some(PathBuf::from(value()?)),
            "--markdown" => markdown = Some(PathBuf::from(value()?)),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    let default_dir = if plan.mode == "short" {
        "target/bench-short"
    } else {
        "target/bench"
    };
    Ok(Options {
        plan,
        out_dir: out_dir.unwrap_or_else(|| repo_root().join(default_dir)),
        markdown,
    })
}

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1).peekable();
    match args.peek().map(String::as_str) {
        Some(spawner::SUBCOMMAND) => return spawner::serve(),
        Some(probes::SUBCOMMAND) => {
            let name = args.nth(1);
            return probes::run(name.as_deref());
        }
        _ => {}
    }
    let options = match parse_options(args) {
        Ok(options) => options,
        Err(problem) => {
            eprintln!("bench-lambda: {problem}");
            return ExitCode::from(2);
        }
    };
    if let Err(error) = ctrlc::set_handler(|| {
        eprintln!("\ninterrupted: stopping everything this run started");
        integration_tests::stop_all_children();
        std::process::exit(130);
    }) {
        eprintln!("warning: no Ctrl-C handler ({error})");
    }
    match run(&options) {
        Ok(()) => ExitCode::SUCCESS,
        Err(problem) => {
            eprintln!("bench-lambda: FAILED: {problem}");
            ExitCode::FAILURE
        }
    }
}

/// Everything measured in one run; `results.json` is this, serialised.
#[derive(Serialize)]
pub struct Results {
    #[serde(skip)]
    pub out_dir: PathBuf,
    pub plan: Plan,
    /// Set when the functions ran under `BENCH_WRAPPER` (profiling): figures not comparable.
    pub wrapper: Option<String>,
    pub machine: machine::Machine,
    pub verification: verification::VerificationResults,
    pub sizes: Vec<sizes::FunctionSize>,
    pub stand_ins: stack::StandInLatency,
    pub probes: probes::ProbeResults,
    pub cold_starts: Vec<cold_start::FunctionColdStarts>,
    pub warm_event: cold_start::WarmInvocations,
    pub in_process_event: in_process::InProcessResults,
    pub observability: observability::ObservabilityCost,
    pub measurement_floor: spawner::MeasurementFloor,
}

impl Results {
    /// The output folder as the reader of BENCHMARKS.md (at the repository root) would type it.
    pub fn out_dir_display(&self) -> String {
        self.out_dir
            .strip_prefix(repo_root())
            .unwrap_or(&self.out_dir)
            .display()
            .to_string()
    }
}

fn run(options: &Options) -> Result<(), String> {
    let plan = options.plan;
    let wrapper = cold_start::wrapper().map(|path| path.display().to_string());
    if wrapper.is_some() && options.markdown.is_some() {
        return Err(format!(
            "{} is set: wrapped functions are not measured as they run, so --markdown is refused",
            cold_start::WRAPPER_VARIABLE
        ));
    }
    std::fs::create_dir_all(&options.out_dir)
        .map_err(|error| format!("cannot create {}: {error}", options.out_dir.display()))?;
    let step = |what: &str| println!("==> {what}");

    let machine = machine::describe();
    // CPU-bound measurements first, before moto and the emulator add background load.
    step("verification: ours, the crypto floor, Vonage's Python and Node SDKs (same token)");
    let verification = verification::measure(&plan, &options.out_dir)?;
    step("artifact sizes: arm64 bootstrap, zipped at deflate level 9");
    let sizes = sizes::measure(&options.out_dir)?;
    step("one-time costs in fresh processes: aws-lc's first random bytes, the OS trust store");
    let probes = probes::measure(plan.probe_processes)?;

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|error| format!("no tokio runtime: {error}"))?;
    let (stand_ins, cold_starts, warm_event, measurement_floor) = runtime.block_on(async {
        step("local stack: moto with fresh secrets, the Vonage emulator, an event sink");
        let stack = stack::Stack::start(&options.out_dir).await?;
        let stand_ins = stack.stand_in_latency(plan.moto_round_trips).await?;
        let helper = std::env::current_exe().map_err(|error| format!("no current exe: {error}"))?;
        let spawner = spawner::Spawner::start(&helper).await?;
        step(&format!(
            "cold starts: {} per function, under a local Lambda Runtime API",
            plan.cold_starts
        ));
        let cold_starts =
            cold_start::measure_cold_starts(&stack, &spawner, plan.cold_starts).await?;
        step(&format!(
            "warm event invocations: {}",
            plan.warm_invocations
        ));
        let warm_event =
            cold_start::measure_warm_event(&stack, &spawner, plan.warm_invocations).await?;
        let measurement_floor = spawner.measurement_floor().await?;
        spawner.shutdown().await;
        drop(stack);
        Ok::<_, String>((stand_ins, cold_starts, warm_event, measurement_floor))
    })?;
    drop(runtime);

    step(&format!(
        "in-process event handler: {} invocations",
        plan.in_process_invocations
    ));
    let in_process_event = in_process::measure(plan.in_process_invocations)?;
    step(&format!(
        "metrics and correlated logs, off then on: {} invocations each",
        plan.in_process_invocations
    ));
    let observability = observability::measure(plan.in_process_invocations)?;

    let results = Results {
        out_dir: options.out_dir.clone(),
        plan,
        wrapper,
        machine,
        verification,
        sizes,
        stand_ins,
        probes,
        cold_starts,
        warm_event,
        in_process_event,
        observability,
        measurement_floor,
    };
    let json = serde_json::to_string_pretty(&results).map_err(|error| error.to_string())?;
    let json_path = options.out_dir.join("results.json");
    std::fs::write(&json_path, json)
        .map_err(|error| format!("{}: {error}", json_path.display()))?;
    let markdown = report::markdown(&results);
    let mut written = vec![options.out_dir.join("BENCHMARKS.md")];
    written.extend(options.markdown.clone());
    for path in &written {
        std::fs::write(path, &markdown).map_err(|error| format!("{}: {error}", path.display()))?;
    }
    println!("\n{}", report::summary(&results));
    println!("results: {}", json_path.display());
    for path in &written {
        println!("report:  {}", path.display());
    }
    Ok(())
}
