#!/usr/bin/env bash
# Every test: formatting, lints, unit, integration, contract and end-to-end suites, the SAM
# checks and the benchmarks in short mode. Suites start the stand-ins they need (moto, Prism,
# cargo lambda watch, the Vonage emulator) themselves and stop them when they end.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy --all-targets -- -D warnings"
cargo clippy --workspace --all-targets -- -D warnings

step "cargo test (unit, integration, contract, end-to-end)"
cargo test --workspace --no-fail-fast

step "SAM: validate --lint and build"
bash scripts/sam-check.sh

step "benchmarks, short mode (figures only; they fail on breakage, never on timing)"
BENCH_MODE=short bash scripts/bench.sh
