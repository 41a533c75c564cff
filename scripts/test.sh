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
mkdir -p target
cargo test --workspace --no-fail-fast 2>&1 | tee target/test-output.log

step "SAM: validate --lint and build"
bash scripts/sam-check.sh

step "benchmarks, short mode (figures only; they fail on breakage, never on timing)"
BENCH_MODE=short bash scripts/bench.sh

# One closing line for the whole run, summed over every cargo test binary.
awk '/^test result:/ { passed += $4; failed += $6 } END { printf "tests: %d passed, %d failed\n", passed, failed }' \
  target/test-output.log
