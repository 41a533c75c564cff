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

# The fuzz smoke run (about 11 CPU-minutes of nightly build from scratch, then a minute per target
# on one core) runs beside the SAM checks, whose lints are single-threaded Python and whose
# fat-LTO links (codegen-units = 1) run on one core, and is waited for before the benchmarks,
# which it would disturb. Its own process group, so that a failing SAM step stops it too.
step "fuzz smoke run started in the background (FUZZ_SECONDS=60 per target; log target/fuzz-smoke.log)"
FUZZ_SECONDS=60 setsid -w bash scripts/fuzz.sh >target/fuzz-smoke.log 2>&1 &
fuzz_pid=$!
trap 'kill -- -"$fuzz_pid" 2>/dev/null || true' EXIT

step "SAM: validate --lint and build"
bash scripts/sam-check.sh

step "fuzz smoke run"
if wait "$fuzz_pid"; then
  grep '^==>' target/fuzz-smoke.log
else
  cat target/fuzz-smoke.log
  exit 1
fi

step "benchmarks, short mode (figures only; they fail on breakage, never on timing)"
BENCH_MODE=short bash scripts/bench.sh

# One closing line for the whole run, summed over every cargo test binary.
awk '/^test result:/ { passed += $4; failed += $6 } END { printf "tests: %d passed, %d failed\n", passed, failed }' \
  target/test-output.log
