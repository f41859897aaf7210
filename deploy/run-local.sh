#!/usr/bin/env bash
# Runs okta-mcp locally: the fake Okta org (unless OKTA_ORG_URL is set, in the environment or
# in .env), the tool server, and the proxy once it exists. Ctrl-C stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -f .env ]; then
  set -a
  # shellcheck disable=SC1091
  . ./.env
  set +a
fi

echo "== building (first build takes a few minutes)"
cargo build --workspace --bins --quiet
bin=target/debug

pids=()
cleanup() {
  trap - INT TERM EXIT
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup INT TERM EXIT

if [ -z "${OKTA_ORG_URL:-}" ]; then
  export OKTA_API_TOKEN="local-demo-api-token"
  "$bin/fake-okta" --listen 127.0.0.1:3003 --api-token "$OKTA_API_TOKEN" >/dev/null &
  pids+=($!)
  export OKTA_ORG_URL="http://127.0.0.1:3003"
  echo "== fake Okta org at $OKTA_ORG_URL (demo users: alice, bob, carol, dave @example.com)"
fi
# A local-only key; a real deployment sets its own (see README).
export IDENTITY_HEADER_KEY="${IDENTITY_HEADER_KEY:-local-demo-identity-header-key-not-secret}"

"$bin/okta-mcp-tool-server" serve --listen 127.0.0.1:3002 &
pids+=($!)

cat <<INFO
== tool server at http://127.0.0.1:3002/mcp (needs the proxy's signed identity headers)
   Without the proxy, connect an MCP client over stdio instead, e.g. MCP Inspector:
     npx @modelcontextprotocol/inspector $PWD/$bin/okta-mcp-tool-server stdio --role viewer \\
       -e OKTA_ORG_URL=$OKTA_ORG_URL -e OKTA_API_TOKEN=$OKTA_API_TOKEN
== Ctrl-C stops everything
INFO
wait -n "${pids[@]}"
