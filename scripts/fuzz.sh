#!/usr/bin/env bash
# `make fuzz` and CI's smoke run (FUZZ_SECONDS=60): builds the cargo-fuzz targets in fuzz/ with
# nightly, replays the saved reproducers in fuzz/regressions/<target>/, then runs each target for
# FUZZ_SECONDS (default 600) from the seed corpus in fuzz/corpus/<target>/. Fails if a reproducer
# or a run crashes: a panic, a broken invariant, an input taking over 10 s (a hang) or the process
# passing 512 MB (a memory blow-up).
#
# FUZZ_TARGETS picks targets (default: all three). What a run adds to the corpus is kept in
# target/fuzz/corpus/<target>/ (never committed), crashes go to target/fuzz/artifacts/<target>/,
# logs to target/fuzz/logs/. Replay a crash with the command the failure prints.
#
# No sanitizer (`-s none`): the code under test is safe Rust, where AddressSanitizer finds nothing
# a panic does not, and aws-lc's C is compiled by `cc` without it anyway, so ASan would only add
# its build and per-run cost. Debug assertions are on (`-a`), so an overflow is a crash too.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${FUZZ_SECONDS:-600}"
read -r -a targets <<<"${FUZZ_TARGETS:-verify_token verify_raw event_path}"
out="$PWD/target/fuzz"
mkdir -p "$out/logs"

say() { printf '==> %s\n' "$*"; }

say "fuzz crate formatting"
cargo fmt --manifest-path fuzz/Cargo.toml -- --check

say "building the fuzz targets (nightly, no sanitizer, debug assertions)"
build_start=$SECONDS
: >"$out/logs/build.log"
for target in "${targets[@]}"; do
  cargo +nightly fuzz build --sanitizer none --debug-assertions --target-dir "$out" "$target" \
    >>"$out/logs/build.log" 2>&1 || { cat "$out/logs/build.log" >&2; exit 1; }
done
say "built in $((SECONDS - build_start)) s"
bin_dir="$out/$(rustc +nightly -vV | sed -n 's/^host: //p')/release"

# Per target: inputs long enough for what it reads, and the options that turn a hang or a memory
# blow-up into a finding.
options_for() {
  local target=$1
  local common=(-timeout=10 -rss_limit_mb=512)
  case "$target" in
    # Read with `arbitrary`: a request and a dozen mutations fit in a few KB.
    verify_token) echo "${common[*]} -max_len=4096" ;;
    # Just past the verifier's 8 KiB token cap, so the size refusal is reached too.
    verify_raw) echo "${common[*]} -max_len=9216" ;;
    # API Gateway events of 1-3 KB, with room to grow.
    event_path) echo "${common[*]} -max_len=16384 -dict=fuzz/dicts/event_path.dict" ;;
    *) echo "unknown fuzz target $target" >&2; return 1 ;;
  esac
}

failed=()
for target in "${targets[@]}"; do
  binary="$bin_dir/$target"
  option_text=$(options_for "$target")
  read -r -a options <<<"$option_text"
  artifacts="$out/artifacts/$target"
  mkdir -p "$artifacts" "$out/corpus/$target"

  seeds=("fuzz/corpus/$target")
  regressions="fuzz/regressions/$target"
  if [ -d "$regressions" ]; then
    say "$target: replaying $regressions"
    replay_ok=true
    for input in "$regressions"/*; do
      if ! "$binary" "${options[@]}" "$input" >"$out/logs/$target-replay.log" 2>&1; then
        replay_ok=false
        printf 'FAIL %s: %s\n' "$input" \
          "$(grep -m1 -A1 'panicked at' "$out/logs/$target-replay.log" | tr '\n' ' ' | cut -c1-300)"
      fi
    done
    if $replay_ok; then
      seeds+=("$regressions")
    else
      failed+=("$target (reproducers; replay one with: $binary $regressions/<file>)")
    fi
  fi

  say "$target: fuzzing for $seconds s"
  log="$out/logs/$target.log"
  if "$binary" "${options[@]}" -max_total_time="$seconds" -print_final_stats=1 \
    -artifact_prefix="$artifacts/" "$out/corpus/$target" "${seeds[@]}" >"$log" 2>&1; then
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
    coverage=$(grep -E '^#[0-9]+.*(DONE|pulse|NEW|REDUCE)' "$log" | tail -n 1 | grep -oE 'cov: [0-9]+ ft: [0-9]+ corp: [0-9]+/[0-9]+[a-zA-Z]*' || true)
    say "$target: no crash in $runs runs ($rate/s), $coverage"
  else
    crash=$(sed -n 's/.*Test unit written to //p' "$log" | tail -n 1)
    grep -m1 -A1 -E 'panicked at|ERROR: libFuzzer' "$log" || tail -n 20 "$log"
    printf 'FAIL %s: crash saved to %s; replay with: %s %s\n' "$target" "$crash" "$binary" "$crash"
    failed+=("$target (fuzzing; log $log)")
  fi
done

if [ "${#failed[@]}" -gt 0 ]; then
  printf 'fuzz: FAILED %s\n' "${failed[@]}" >&2
  exit 1
fi
say "fuzz: ${#targets[@]} targets, no crash"
