#!/usr/bin/env bash
# Runs okta-mcp locally: the proxy on http://localhost:3001, the tool server on 127.0.0.1:3002,
# and — unless OKTA_ORG_URL is set (in the environment or in .env) — the bundled fake Okta org
# on 127.0.0.1:3003 with its demo users. Ctrl-C stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -f .env ]; then
  set -a
  # shellcheck disable=SC1091
  . ./.env
  set +a
fi

echo "== building (the first build compiles pingora and takes a few minutes)"
deploy/install-missing.sh cmake
cargo build --workspace --bins --quiet
bin=target/debug

# Local secrets, generated once and kept (a key that changed at every start would log everyone out).
secrets=.okta-mcp-local.env
if [ ! -f "$secrets" ]; then
  umask 077
  {
    echo "SESSION_SECRET_KEY=$(head -c 48 /dev/urandom | base64 | tr -d '\n')"
    echo "IDENTITY_HEADER_KEY=$(head -c 48 /dev/urandom | base64 | tr -d '\n')"
  } > "$secrets"
fi
set -a
# shellcheck disable=SC1090
. "./$secrets"
set +a

export PUBLIC_URL="${PUBLIC_URL:-http://localhost:3001}"
# MCP Inspector 1.x in "Direct" mode (2.x calls the server from its own backend, no origin needed).
export ALLOWED_ORIGINS="${ALLOWED_ORIGINS:-http://localhost:6274}"

pids=()
cleanup() {
  trap - INT TERM EXIT
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup INT TERM EXIT

demo=no
if [ -z "${OKTA_ORG_URL:-}" ]; then
  demo=yes
  export OKTA_API_TOKEN="local-demo-api-token"
  export OKTA_CLIENT_ID="0oa-local-demo-client"
  export OKTA_CLIENT_SECRET="local-demo-client-secret"
  "$bin/fake-okta" --listen 127.0.0.1:3003 --api-token "$OKTA_API_TOKEN" \
    --client-id "$OKTA_CLIENT_ID" --client-secret "$OKTA_CLIENT_SECRET" \
    --redirect-uri "$PUBLIC_URL/oauth/callback" 2>/dev/null >/dev/null &
  pids+=($!)
  export OKTA_ORG_URL="http://127.0.0.1:3003"
fi

"$bin/okta-mcp-tool-server" serve --listen 127.0.0.1:3002 &
pids+=($!)
"$bin/okta-mcp-proxy" --listen 127.0.0.1:3001 --upstream http://127.0.0.1:3002/mcp &
pids+=($!)

for _ in $(seq 1 100); do
  curl -fs "http://127.0.0.1:3001/ready" >/dev/null 2>&1 && break
  sleep 0.1
done

cat <<INFO

== okta-mcp is running
   MCP URL:     $PUBLIC_URL/mcp
   Okta:        $OKTA_ORG_URL$( [ "$demo" = yes ] && echo " (the bundled fake org)")
INFO
if [ "$demo" = yes ]; then
  cat <<INFO
   Demo users (click one on the fake Okta login page):
     alice@example.com  viewer          (12 tools)
     bob@example.com    security-admin  (18 tools)
     carol@example.com  super-admin     (19 tools)
     dave@example.com   no role         (refused)
INFO
fi
cat <<INFO
   MCP Inspector 2.x (wants Node >= 22.19):
     npx @modelcontextprotocol/inspector --transport http --server-url $PUBLIC_URL/mcp
     with an older Node, npm's node@22 brings one:
     npx -y -p node@22 -p @modelcontextprotocol/inspector mcp-inspector --transport http --server-url $PUBLIC_URL/mcp
     Open the address it prints, switch the server on, Approve, pick a user. Or start it bare
     and use Add Servers → Add manually → Server ID, transport streamable-http, URL as above.
     Another user: Connection Info → "Clear OAuth state and disconnect", then switch on again.
   Ctrl-C stops everything.
INFO
wait -n "${pids[@]}"
