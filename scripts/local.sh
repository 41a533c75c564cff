#!/usr/bin/env bash
# The whole flow locally: see tests/src/bin/local-flow.rs. It starts and stops everything itself.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo run --quiet -p integration-tests --bin local-flow
