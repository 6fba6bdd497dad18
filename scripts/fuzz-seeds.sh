#!/usr/bin/env bash
# Writes the fuzz seed corpora to fuzz/corpus/{certificate,crl,path}/ (not committed: keys are
# random, so the bytes change on every run) from certgate-testpki chains and CRLs and, when the
# PyPI package cryptography-vectors is installed, the NIST PKITS certificates, CRLs and paths.
# Files already in the corpora (what earlier fuzzing found) are kept.
set -euo pipefail
cd "$(dirname "$0")/.."

args=(fuzz/corpus)
pkits="${PKITS_DIR:-}"
if [ -z "$pkits" ]; then
  base=$(python3 -c "import cryptography_vectors, os; print(os.path.dirname(cryptography_vectors.__file__))" 2>/dev/null || true)
  [ -n "$base" ] && pkits="$base/x509/PKITS_data"
fi
expectations=../shared/conformance/pkits/expectations.json
if [ -n "$pkits" ] && [ -d "$pkits/certs" ] && [ -f "$expectations" ]; then
  args+=("$pkits" "$expectations")
else
  echo "fuzz-seeds: no PKITS data (pip install cryptography-vectors==50.0.2); testpki seeds only" >&2
fi
cargo run --quiet --release --manifest-path fuzz/Cargo.toml -p certgate-fuzz-seeds -- "${args[@]}"
