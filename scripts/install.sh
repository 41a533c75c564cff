#!/usr/bin/env bash
# Installs the tools the tests and the local run need. Safe to run again: each step is a no-op when
# its tool is already there at the pinned version.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '==> %s\n' "$*"; }

if ! python3 -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt \
  --dry-run --report - 2>/dev/null | python3 -c 'import json,sys; sys.exit(1 if json.load(sys.stdin).get("install") else 0)'; then
  say "installing Python tools (cargo-lambda, aws-sam-cli, moto, vonage-jwt)"
  python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore -r requirements-dev.txt
fi

if [ ! -x node_modules/.bin/prism ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  say "installing Node tools (Prism, @vonage/jwt)"
  npm ci --no-audit --no-fund --loglevel=error
fi

if ! rustup target list --installed | grep -qx aarch64-unknown-linux-gnu; then
  say "adding the arm64 Linux target for Lambda builds"
  rustup target add aarch64-unknown-linux-gnu
fi

# The fuzz targets (scripts/fuzz.sh) build with nightly and cargo-fuzz.
if ! rustup toolchain list | grep -q '^nightly'; then
  say "installing the nightly toolchain for the fuzz targets"
  rustup toolchain install nightly --profile minimal --component rustfmt
fi
cargo_fuzz_version=0.13.2
if [ "$(cargo fuzz --version 2>/dev/null)" != "cargo-fuzz $cargo_fuzz_version" ]; then
  say "installing cargo-fuzz $cargo_fuzz_version"
  cargo install cargo-fuzz --version "$cargo_fuzz_version" --locked
fi
# Its own workspace and Cargo.lock: fetched here so that the build needs no network.
cargo fetch --manifest-path fuzz/Cargo.toml --quiet

# Python's shims may live where a fresh shell has not looked yet.
hash -r
command -v pyenv >/dev/null && pyenv rehash || true
