#!/usr/bin/env bash
# The release binaries, built with profile-guided optimization (PGO):
#
#   deploy/build-release.sh [--bench] [--no-pgo]
#
#   1. builds the binaries instrumented (`-Cprofile-generate`) in <target>/pgo-train;
#   2. trains them with real traffic on loopback: the benchmark driver's short load and listing
#      scenarios (`bench-driver --quick --only load,listing`: OAuth login, tool calls through
#      the proxy with either store, through bare pingora and straight to the tool server, Okta
#      listings from the fake org), about a minute;
#   3. merges what they recorded with llvm-profdata (rustup's `llvm-tools` component, added when
#      missing);
#   4. builds the release binaries with it (`-Cprofile-use`) into <target>/release.
#
# --bench also builds, the same way, what tests/bench/run.sh runs besides the two binaries
# (fake-okta, bare-pingora and bench-driver): bare pingora is trained in the same run, so the
# benchmark compares like with like. --no-pgo is a plain `cargo build --release`.
#
# Training needs wrk and redis-server (Debian packages, installed with apt when missing).
# Measured on the 2-core machine (README, Performance): at c=1, CPU per call a quarter (bare
# pingora) to two fifths (the tool server) lower than the same fat-LTO build without a profile.
# About 20 minutes on 2 cores, against 8 for one build without a profile.
# <target> is $CARGO_TARGET_DIR, else target/. Extra RUSTFLAGS are kept.
set -euo pipefail
cd "$(dirname "$0")/.."

bench=false
pgo=true
for arg in "$@"; do
    case "$arg" in
        --bench) bench=true ;;
        --no-pgo) pgo=false ;;
        -h | --help)
            # The comment at the top, up to the first line that is not one.
            awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0"
            exit 0
            ;;
        *)
            echo "build-release.sh: unknown argument $arg (try --help)" >&2
            exit 2
            ;;
    esac
done

packages=(-p okta-mcp-proxy --bin okta-mcp-proxy -p okta-mcp-tool-server --bin okta-mcp-tool-server)
bench_packages=(-p okta-mcp-tests --bin fake-okta --example bare-pingora --example bench-driver)
final=("${packages[@]}")
$bench && final+=("${bench_packages[@]}")

if ! $pgo; then
    exec cargo build --release --locked "${final[@]}"
fi

say() { echo "[build-release] $*" >&2; }

target=$(realpath -m "${CARGO_TARGET_DIR:-target}")
train="$target/pgo-train"
profiles="$train/profiles"
merged="$train/okta-mcp.profdata"
flags=${RUSTFLAGS:-}

# llvm-profdata must be the one of rustc's LLVM: a profile is read only by the version that wrote
# it (or a newer one).
sysroot=$(rustc --print sysroot)
host=$(rustc -vV | sed -n 's/^host: //p')
profdata="$sysroot/lib/rustlib/$host/bin/llvm-profdata"
if [ ! -x "$profdata" ]; then
    say "adding rustup's llvm-tools component (llvm-profdata)"
    rustup component add llvm-tools >&2 || {
        echo "build-release.sh: llvm-profdata is missing and 'rustup component add llvm-tools' failed;" \
            "install that component, or build without PGO: deploy/build-release.sh --no-pgo" >&2
        exit 1
    }
fi

deploy/install-missing.sh wrk redis-server >&2

say "1/4 instrumented build in $train"
CARGO_TARGET_DIR="$train" RUSTFLAGS="$flags -Cprofile-generate=$profiles" \
    cargo build --release --locked "${packages[@]}" "${bench_packages[@]}"

# Build scripts were instrumented too and left their own profiles: start from none.
rm -rf "$profiles" "$merged"
mkdir -p "$profiles"
say "2/4 training (bench-driver --quick --only load,listing)"
CARGO_TARGET_DIR="$train" "$train/release/examples/bench-driver" --quick --only load,listing \
    --out "$train/training/latest.json" >/dev/null

say "3/4 merging $(find "$profiles" -name '*.profraw' | wc -l) profiles"
"$profdata" merge -o "$merged" "$profiles"/*.profraw
# A server that did not exit on the driver's SIGINT (it kills after 3 s) wrote no profile: its
# `main` is then missing from the merged one.
functions=$("$profdata" show --all-functions "$merged")
for crate in okta_mcp_proxy okta_mcp_tool_server bare_pingora; do
    grep -q "${#crate}${crate}4main" <<<"$functions" || {
        echo "build-release.sh: training left no profile of ${crate//_/-} (it writes one when it" \
            "exits; its log is in $train/training/logs)" >&2
        exit 1
    }
done

say "4/4 release build with the profile"
RUSTFLAGS="$flags -Cprofile-use=$merged" cargo build --release --locked "${final[@]}"
say "done: $target/release (profile $merged)"
