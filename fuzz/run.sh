#!/usr/bin/env bash
# Fuzzes every parser of outside bytes for a bounded time (issue 11 §2).
#
#   fuzz/run.sh [SECONDS_PER_TARGET] [TARGET...]      default: 30 s, every target
#
# Needs a nightly toolchain (`cargo +nightly`); without one it says so and exits 0, so CI can
# call it unconditionally. Installs cargo-fuzz when missing. Each target starts from its
# committed seeds (fuzz/seeds/<target>) plus what earlier runs found (fuzz/corpus/<target>,
# not committed) and stops at the time limit. libFuzzer also stops it on a panic, an input
# that takes over 10 s, a single allocation over 256 MiB or 2 GiB resident: each of those is
# a finding, saved under fuzz/artifacts/<target>/ and reproduced with
#   cargo +nightly fuzz run -a <target> fuzz/artifacts/<target>/<file>
# Prints executions, corpus size and the verdict per target; exits 1 if any target failed.
set -uo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-30}
shift || true
all_targets=(identity_header oauth_params redirect_uri dcr_body access_token session_cookie
  roles_toml policy_toml wrap_lines wrap_jsonrpc sse_framing okta_link okta_error okta_projection signed_jwt)
if [ "$#" -gt 0 ]; then targets=("$@"); else targets=("${all_targets[@]}"); fi

if ! cargo +nightly --version >/dev/null 2>&1; then
  echo "fuzz: skipped, no nightly toolchain (rustup toolchain install nightly to run it)"
  exit 0
fi
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
  echo "fuzz: installing cargo-fuzz"
  cargo install cargo-fuzz --locked || exit 1
fi

logs=fuzz/target/run-logs
mkdir -p "$logs"
# -a: debug assertions on, so integer overflow is a finding too.
echo "fuzz: building the targets (the first build takes several minutes)"
cargo +nightly fuzz build -a >"$logs/build.log" 2>&1 || {
  tail -50 "$logs/build.log"
  exit 1
}
failed=0
printf '%-16s %8s %12s %8s  %s\n' target seconds executions corpus result
for target in "${targets[@]}"; do
  mkdir -p "fuzz/corpus/$target"
  started=$(date +%s)
  cargo +nightly fuzz run -a "$target" "fuzz/corpus/$target" "fuzz/seeds/$target" -- \
    -max_total_time="$seconds" -timeout=10 -malloc_limit_mb=256 -rss_limit_mb=2048 \
    -print_final_stats=1 -close_fd_mask=1 >"$logs/$target.log" 2>&1
  status=$?
  took=$(($(date +%s) - started))
  execs=$(grep -Eo 'stat::number_of_executed_units: *[0-9]+' "$logs/$target.log" | grep -Eo '[0-9]+$' | tail -1)
  corpus=$(find "fuzz/corpus/$target" -type f | wc -l)
  if [ "$status" -eq 0 ]; then
    result=ok
  else
    result="FAILED (exit $status; see $logs/$target.log and fuzz/artifacts/$target/)"
    failed=1
  fi
  printf '%-16s %8s %12s %8s  %s\n' "$target" "$took" "${execs:-?}" "$corpus" "$result"
done
exit "$failed"
