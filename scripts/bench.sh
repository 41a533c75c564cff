#!/usr/bin/env bash
# `make bench`: builds what it measures, then measures, in one run, and writes BENCHMARKS.md.
# Every benchmark lives in the `bench` package (bench/): the harness binary `bench-lambda`
# (bench/src), criterion's bench/benches/verify.rs and the SDK scripts bench/sdk_verify_bench.*.
# It measures:
#   - webhook verification: ours (criterion and the harness) against Vonage's Python and Node SDKs
#     on the same token and body, and against the raw crypto floor;
#   - cold start, peak RSS and warm invocations of the answer, event and send-alert release
#     binaries under a local Lambda Runtime API, with secrets in moto and the Vonage emulator;
#   - the zipped size of each arm64 bootstrap.
#
# BENCH_MODE=short runs a few iterations of everything and writes to target/bench-short/ only
# (CI runs this so the suite cannot rot). Timings never fail the run; anything broken does.
# For profiling, BENCH_WRAPPER=/path/to/script starts every function as `script <binary>` (e.g. a
# script that execs strace or perf); use it with BENCH_MODE=short, as BENCHMARKS.md is not
# rewritten from wrapped runs.
set -euo pipefail
cd "$(dirname "$0")/.."

mode="${BENCH_MODE:-full}"
case "$mode" in
  full)
    out=target/bench
    criterion_home=target/criterion
    report_args=(--markdown BENCHMARKS.md)
    criterion_args=()
    build_args=(--release)
    bench_args=()
    export BENCH_PROFILE_DIR=release
    ;;
  short)
    # Checks that every part of the suite still works, cheaply: the debug builds the tests
    # already made, and the arm64 bootstraps scripts/sam-check.sh already built when present.
    out=target/bench-short
    criterion_home=target/bench-short/criterion
    report_args=()
    criterion_args=(--warm-up-time 0.5 --measurement-time 1 --sample-size 10)
    build_args=()
    bench_args=(--profile dev)
    export BENCH_PROFILE_DIR=debug
    ;;
  *)
    echo "BENCH_MODE is full or short, not '$mode'" >&2
    exit 2
    ;;
esac

say() { printf '\n==> %s\n' "$*"; }

rm -rf "$out/logs" "$out/zips"
mkdir -p "$out"
: >"$out/commands.txt"
# Each measured step is listed in the report exactly as it ran.
run() {
  printf '%s\n' "$*" >>"$out/commands.txt"
  "$@"
}

say "tools: Vonage's Python and Node SDKs, moto, cargo-lambda"
python3 -c 'import vonage_jwt.verify_jwt' || { echo "vonage-jwt is missing: run make install" >&2; exit 1; }
node -e "require('@vonage/jwt')" || { echo "@vonage/jwt is missing: run make install" >&2; exit 1; }
command -v moto_server >/dev/null || { echo "moto_server is missing: run make install" >&2; exit 1; }
cargo lambda --version >/dev/null || { echo "cargo-lambda is missing: run make install" >&2; exit 1; }

# Separate cargo invocations on purpose: building the harness or the emulator together with the
# functions would unify their dependency features into the function binaries being measured.
say "host builds of the functions ($BENCH_PROFILE_DIR)"
run cargo build "${build_args[@]}" -p answer -p event -p send-alert
say "build of the Vonage emulator ($BENCH_PROFILE_DIR)"
run cargo build "${build_args[@]}" -p vonage-voice-emulator --bin vonage-voice-emulator
# cargo builds a package's binaries along with its benches, in the bench's profile and with its
# dev-dependencies' features: this one invocation builds both the harness (bench-lambda) and
# criterion's bench, so neither is built twice and the criterion step below compiles nothing.
say "builds of the benchmarks: the harness and criterion's verify bench ($BENCH_PROFILE_DIR)"
run cargo bench "${bench_args[@]}" -p bench --bench verify --no-run
bootstraps_built=true
for function in answer event send-alert; do
  [ -x "target/lambda/$function/bootstrap" ] || bootstraps_built=false
done
if [ "$mode" = full ] || [ "$bootstraps_built" = false ]; then
  say "arm64 bootstraps, as Lambda runs them"
  run cargo lambda build --release --arm64 -p answer -p event -p send-alert
fi

compiling="$(pgrep -c rustc || true)"
if [ "${compiling:-0}" -gt 0 ]; then
  echo "note: $compiling rustc processes are running on this machine; timings will be noisier" >&2
fi

say "criterion: verify_event/full_verification and verify_event/crypto_floor"
export CRITERION_HOME="$PWD/$criterion_home"
run cargo bench "${bench_args[@]}" -p bench --bench verify -- "${criterion_args[@]}" verify_event

say "the harness: verification against the SDKs, sizes, cold starts, RSS, warm invocations"
run "target/$BENCH_PROFILE_DIR/bench-lambda" --mode "$mode" --out "$out" "${report_args[@]}"
