//! The process helper ([`integration_tests::spawner`]): `process-helper spawner` forks and execs
//! the function binaries the suites and `make local` run under the Runtime API harness, and reaps
//! them with `wait4`. A binary of its own, small and synchronous, so what it forks inherits
//! almost nothing; the suites find it as `env!("CARGO_BIN_EXE_process-helper")`.

use std::process::ExitCode;

use integration_tests::spawner;

fn main() -> ExitCode {
    match std::env::args().nth(1).as_deref() {
        Some(spawner::SUBCOMMAND) => spawner::serve(),
        _ => {
            eprintln!(
                "usage: process-helper {} (started by integration_tests::spawner::Spawner)",
                spawner::SUBCOMMAND
            );
            ExitCode::from(2)
        }
    }
}
