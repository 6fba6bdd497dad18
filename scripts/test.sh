#!/usr/bin/env bash
# The whole test suite, from a fresh machine: installs prerequisites, then runs every test
# (unit, integration, the 249 NIST PKITS entries through the library and the CLI, the store
# suite and the full CA/CRL loop on SQLite and on PostgreSQL, and the browser tests in e2e/).
#
# PostgreSQL must be running at 127.0.0.1:5432 (user postgres, trust auth; database `test`),
# or at CERTGATE_TEST_POSTGRES_URL. The PostgreSQL tests fail loudly when it is not.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
pg_url="${CERTGATE_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}"
if ! psql "$pg_url" -c 'SELECT 1' >/dev/null 2>&1; then
  echo "test: PostgreSQL is not reachable at $pg_url; the PostgreSQL half of the store and loop tests will fail." >&2
  echo "test: start it (this machine's session setup does), or set CERTGATE_TEST_POSTGRES_URL." >&2
fi
cargo test --workspace --locked "$@"

# The browser tests (Debian chromium + playwright-core) against the binary cargo test built.
target="${CARGO_TARGET_DIR:-$PWD/target}"
(cd e2e && CERTGATE_BIN="$target/debug/certgate" npm test)
