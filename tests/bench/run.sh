#!/usr/bin/env bash
# The okta-mcp benchmark, one command: tests/bench/run.sh [--out PATH] [--only LIST] [--sustained-secs N] [--quick]
#
# Installs wrk and redis-server (Debian packages) when missing, builds the release binaries
# the way the image does (deploy/build-release.sh, profile-guided: about 20 minutes on 2
# cores), runs the driver (tests/bench/driver/), prints one Markdown table and writes the raw
# numbers to tests/bench/results/latest.json. Takes about 7 minutes after the build, plus 10
# minutes of sustained load (scenario 7); `--sustained-secs 0` skips it, `--only LIST` picks
# scenarios (tests/bench/README.md lists the flags).
set -euo pipefail

cd "$(dirname "$0")/../.."

# wrk drives the load; the proxy's Redis store (scenarios 1d and 6) runs against a real Redis.
deploy/install-missing.sh wrk redis-server >&2

echo "[bench] load average before building: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
# The same build as the image's (profile-guided, deploy/build-release.sh), bare pingora included.
deploy/build-release.sh --bench

target="${CARGO_TARGET_DIR:-target}"
exec "$target/release/examples/bench-driver" "$@"
