//! Two one-time costs of a fresh process, each timed in its own fresh process, because they are
//! paid once per cold start and are invisible in a process that has already paid them:
//!
//! - aws-lc's first random bytes. aws-lc seeds its generator on first use, by default from CPU
//!   jitter entropy; the functions link the same aws-lc as this harness. send-alert pays it at its
//!   first RSA signature; on AWS every function pays it at its first TLS handshake (Secrets Manager
//!   over HTTPS), which loopback HTTP to moto does not show.
//! - Loading the OS trust store, which the AWS SDK's HTTPS client does when it is built (and
//!   reqwest's platform verifier in send-alert), even though the loopback endpoints are plain HTTP.
//!
//! `bench-lambda probe <name>` runs one probe and prints its timings in nanoseconds.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use serde::Serialize;

use crate::stats::{Summary, monotonic_ns};

pub const SUBCOMMAND: &str = "probe";
const FIRST_RANDOM: &str = "first-random";
const NATIVE_ROOTS: &str = "native-roots";

/// The probe's main (`bench-lambda probe <name>`).
pub fn run(name: Option<&str>) -> ExitCode {
    match name {
        Some(FIRST_RANDOM) => {
            let mut bytes = [0u8; 32];
            let started = monotonic_ns();
            let first = aws_lc_rs::rand::fill(&mut bytes);
            let first_ns = monotonic_ns() - started;
            let started = monotonic_ns();
            let second = aws_lc_rs::rand::fill(&mut bytes);
            let second_ns = monotonic_ns() - started;
            if first.is_err() || second.is_err() {
                eprintln!("aws-lc could not produce random bytes");
                return ExitCode::FAILURE;
            }
            println!("{first_ns} {second_ns}");
        }
        Some(NATIVE_ROOTS) => {
            let started = monotonic_ns();
            let loaded = rustls_native_certs::load_native_certs();
            let elapsed_ns = monotonic_ns() - started;
            if loaded.certs.is_empty() {
                eprintln!("no trusted root certificates found");
                return ExitCode::FAILURE;
            }
            println!("{elapsed_ns} {}", loaded.certs.len());
        }
        other => {
            eprintln!("unknown probe {other:?}");
            return ExitCode::from(2);
        }
    }
    ExitCode::SUCCESS
}

#[derive(Debug, Serialize)]
pub struct ProbeResults {
    /// aws-lc's first 32 random bytes in a fresh process (its generator's seeding), milliseconds.
    pub first_random_ms: Summary,
    /// The draw right after it, microseconds.
    pub second_random_us: Summary,
    /// `rustls_native_certs::load_native_certs()` in a fresh process with neither
    /// `SSL_CERT_FILE` nor `SSL_CERT_DIR` set, so it reads the OS's bundle and its directory of
    /// per-certificate files (Debian's layout), milliseconds.
    pub native_roots_ms: Summary,
    /// The same with `SSL_CERT_FILE` naming the bundle alone, as the functions run here, which is
    /// what Lambda's AL2023 image offers (one bundle, no per-certificate files), milliseconds.
    pub bundle_roots_ms: Summary,
    /// How many root certificates that loaded.
    pub native_roots_count: u64,
}

/// Runs probe `name` in `processes` fresh processes; each prints two numbers. The trust-store
/// settings are never inherited: `cert_file` becomes `SSL_CERT_FILE` when given.
fn run_probe(
    name: &str,
    processes: usize,
    cert_file: Option<&Path>,
) -> Result<Vec<(f64, f64)>, String> {
    let program = std::env::current_exe().map_err(|error| format!("no current exe: {error}"))?;
    (0..processes.max(1))
        .map(|_| {
            let mut command = Command::new(&program);
            command
                .args([SUBCOMMAND, name])
                .env_remove("SSL_CERT_FILE")
                .env_remove("SSL_CERT_DIR");
            if let Some(file) = cert_file {
                command.env("SSL_CERT_FILE", file);
            }
            let output = command
                .output()
                .map_err(|error| format!("the {name} probe did not run: {error}"))?;
            let text = String::from_utf8_lossy(&output.stdout);
            let numbers: Vec<f64> = text
                .split_whitespace()
                .filter_map(|value| value.parse().ok())
                .collect();
            match (output.status.success(), numbers.as_slice()) {
                (true, [first, second]) => Ok((*first, *second)),
                _ => Err(format!(
                    "the {name} probe failed: {text}{}",
                    String::from_utf8_lossy(&output.stderr)
                )),
            }
        })
        .collect()
}

pub fn measure(processes: usize) -> Result<ProbeResults, String> {
    let random = run_probe(FIRST_RANDOM, processes, None)?;
    let roots = run_probe(NATIVE_ROOTS, processes, None)?;
    let bundle = trust_bundle().ok_or("no CA bundle found on this machine")?;
    let bundle_roots = run_probe(NATIVE_ROOTS, processes, Some(&bundle))?;
    let summary = |values: Vec<f64>| Summary::of(&values).ok_or_else(|| "no probe ran".to_owned());
    Ok(ProbeResults {
        first_random_ms: summary(random.iter().map(|(first, _)| first / 1e6).collect())?,
        second_random_us: summary(random.iter().map(|(_, second)| second / 1e3).collect())?,
        native_roots_ms: summary(roots.iter().map(|(elapsed, _)| elapsed / 1e6).collect())?,
        bundle_roots_ms: summary(
            bundle_roots
                .iter()
                .map(|(elapsed, _)| elapsed / 1e6)
                .collect(),
        )?,
        native_roots_count: roots
            .first()
            .map(|(_, count)| *count as u64)
            .unwrap_or_default(),
    })
}

/// The OS's CA bundle: Debian's path, then the one Amazon Linux (and so Lambda's AL2023 image)
/// uses.
pub fn trust_bundle() -> Option<PathBuf> {
    [
        "/etc/ssl/certs/ca-certificates.crt",
        "/etc/pki/tls/certs/ca-bundle.crt",
    ]
    .into_iter()
    .map(PathBuf::from)
    .find(|path| path.is_file())
}
