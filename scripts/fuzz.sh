#!/usr/bin/env bash
# Fuzzes every untrusted-input parser: scripts/fuzz.sh [seconds-per-target] (default 600).
# Builds the seed corpora (scripts/fuzz-seeds.sh), then runs each target in turn, one process
# at a time, and prints a summary. Crashes and timeouts land in fuzz/artifacts/<target>/, logs
# in fuzz/artifacts/<target>.log; the corpora grow in fuzz/corpus/<target>/.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-600}"

command -v cargo-fuzz >/dev/null 2>&1 || cargo install --locked cargo-fuzz
# cargo-fuzz passes nightly-only flags (-Zsanitizer=address); RUSTC_BOOTSTRAP lets the stable
# toolchain accept them, so no nightly toolchain is needed.
export RUSTC_BOOTSTRAP=1

scripts/fuzz-seeds.sh
cargo fuzz build

declare -A max_len=([certificate]=16384 [crl]=262144 [path]=32768 [csr]=16384 [saml_input]=65536 [forms]=16384)
summary=()
failed=0
mkdir -p fuzz/artifacts
for target in certificate crl path csr saml_input forms; do
  mkdir -p "fuzz/corpus/$target"
  log="fuzz/artifacts/$target.log"
  echo "fuzz: $target for ${seconds}s (log: $log)"
  status=ok
  cargo fuzz run "$target" "fuzz/corpus/$target" -- \
    -max_total_time="$seconds" -max_len="${max_len[$target]}" -timeout=5 \
    -rss_limit_mb=2048 -print_final_stats=1 >"$log" 2>&1 || { status=FAILED; failed=1; }
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  stats=$(grep -E '^#[0-9]+' "$log" | tail -1 | grep -oE '(cov|ft): [0-9]+' | tr '\n' ' ' || true)
  files=$(find "fuzz/corpus/$target" -type f | wc -l)
  summary+=("$(printf '%-12s %-7s execs=%-10s %scorpus=%s' "$target" "$status" "${execs:-?}" "$stats" "$files")")
  if [ "$status" != ok ]; then
    grep -E 'panicked|ERROR: libFuzzer|SUMMARY|Test unit written' "$log" | head -5 || true
  fi
done

echo
echo "fuzz summary (${seconds}s per target)"
printf '%s\n' "${summary[@]}"
exit "$failed"
