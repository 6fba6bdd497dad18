#!/usr/bin/env bash
# The whole test suite, from a fresh machine: installs prerequisites, then runs every test
# (unit, integration, the 249 NIST PKITS entries through the library and the CLI).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo test --workspace --locked "$@"
