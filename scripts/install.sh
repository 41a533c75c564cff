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

# Python's shims may live where a fresh shell has not looked yet.
hash -r
command -v pyenv >/dev/null && pyenv rehash || true
