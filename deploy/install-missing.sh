#!/usr/bin/env bash
# Installs, with apt, whichever of the named system packages are missing: `cmake` (pingora
# builds C code with it), `chromium` (the browser tests), `redis-server` (the Redis store's
# tests run a real one), `promtool` (Debian's prometheus package: deploy/check.sh checks the
# alert rules with it) and `wrk` (the benchmark's load generator, also used to train the
# profile-guided build). Used by deploy/run-local.sh, tests/run, .ci/run, tests/bench/run.sh and
# deploy/build-release.sh, so a fresh machine with Rust, Node and apt needs nothing else.
set -euo pipefail
need=()
for package in "$@"; do
  case "$package" in
    cmake) command -v cmake >/dev/null 2>&1 || need+=(cmake) ;;
    chromium) [ -x /usr/bin/chromium ] || need+=(chromium) ;;
    redis-server) command -v redis-server >/dev/null 2>&1 || need+=(redis-server) ;;
    promtool) command -v promtool >/dev/null 2>&1 || need+=(prometheus) ;;
    wrk) command -v wrk >/dev/null 2>&1 || need+=(wrk) ;;
    *) echo "install-missing.sh: unknown package $package" >&2; exit 2 ;;
  esac
done
[ ${#need[@]} -eq 0 ] && exit 0
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "== installing ${need[*]} with apt"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq "${need[@]}" >/dev/null
