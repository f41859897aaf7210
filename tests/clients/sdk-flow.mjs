// The official MCP TypeScript SDK client doing the whole OAuth dance against okta-mcp-proxy:
// 401 → discovery → dynamic registration → authorize → consent → Okta login → token →
// initialize → tools/list → tools/call, then (optionally) refresh and refresh-token reuse.
//
// Usage: node sdk-flow.mjs <mcp-url> <scenario>
//   scenario "basic":   connect, list tools, call get_current_time and get_okta_user
//   scenario "refresh": basic, then wait for the access token to expire (the test starts the
//                       proxy with a short token lifetime), call again (the SDK refreshes), then
//                       replay the first refresh token (reuse) and show the family is dead
//   An optional <hook-url> <json-body> is POSTed after the first tool calls (tests use it to
//   change the user's groups at the fake Okta org before the refresh).
//   scenario "cimd" <metadata-url>: basic, offering <metadata-url> as a Client ID Metadata
//                       Document (the SDK's clientMetadataUrl) instead of registering
//   scenario "many" <n> [<hook-url>]: basic, then n more get_current_time calls, counting
//                       successes and failures without stopping at one (the SDK refreshes an
//                       expired token by itself); the hook, if given, is POSTed (without
//                       waiting) after a tenth of the calls, and the calls after it are
//                       spread over at least AFTER_HOOK_MS, twice the 2 s the proxy has to act
//                       on an Okta event, so the cut-off falls among them on any machine.
// The browser part (consent page, Okta login) is plain HTTP with a cookie jar: the fake Okta
// org is told by the test which user to log in (auto_login). Prints one JSON report on stdout.

import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { UnauthorizedError } from "@modelcontextprotocol/sdk/client/auth.js";
import { authorizeInBrowser, newBrowser } from "./browser-login.mjs";

const [mcpUrl, scenario = "basic", hookUrl, hookBody] = process.argv.slice(2);
const report = { scenario, steps: [] };
const step = (name, detail = {}) => report.steps.push({ name, ...detail });

const browse = newBrowser();
const AFTER_HOOK_MS = 4000;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const provider = {
  redirectUrl: "http://127.0.0.1:9/callback",
  clientMetadata: {
    client_name: "okta-mcp SDK test client",
    redirect_uris: ["http://127.0.0.1:9/callback"],
    grant_types: ["authorization_code", "refresh_token"],
    response_types: ["code"],
    token_endpoint_auth_method: "none",
  },
  _client: undefined,
  _tokens: undefined,
  _verifier: undefined,
  _landing: undefined,
  clientInformation() {
    return this._client;
  },
  saveClientInformation(info) {
    step("registered", { client_id: info.client_id });
    this._client = info;
  },
  tokens() {
    return this._tokens;
  },
  saveTokens(tokens) {
    step("tokens", { has_refresh: Boolean(tokens.refresh_token), expires_in: tokens.expires_in });
    report.refreshTokens = [...(report.refreshTokens ?? []), tokens.refresh_token];
    this._tokens = tokens;
  },
  async redirectToAuthorization(url) {
    step("authorize", {
      has_resource: url.searchParams.has("resource"),
      method: url.searchParams.get("code_challenge_method"),
    });
    this._landing = await authorizeInBrowser(url, this.redirectUrl, browse, step);
  },
  saveCodeVerifier(verifier) {
    this._verifier = verifier;
  },
  codeVerifier() {
    return this._verifier;
  },
};
if (scenario === "cimd") provider.clientMetadataUrl = hookUrl;

async function connect() {
  const client = new Client({ name: "okta-mcp-sdk-test", version: "1.0.0" });
  let transport = new StreamableHTTPClientTransport(new URL(mcpUrl), { authProvider: provider });
  try {
    await client.connect(transport);
    return client;
  } catch (error) {
    if (!(error instanceof UnauthorizedError)) throw error;
    step("401 challenge");
  }
  const landing = provider._landing;
  if (!(landing instanceof URL)) {
    report.denied = landing;
    return undefined;
  }
  report.callback = {
    has_code: landing.searchParams.has("code"),
    iss: landing.searchParams.get("iss"),
    error: landing.searchParams.get("error"),
  };
  if (!landing.searchParams.has("code")) return undefined;
  await transport.finishAuth(landing.searchParams.get("code"));
  transport = new StreamableHTTPClientTransport(new URL(mcpUrl), { authProvider: provider });
  await client.connect(transport);
  step("connected", { protocol: transport.protocolVersion, session: Boolean(transport.sessionId) });
  return client;
}

async function useTools(client, label) {
  const tools = await client.listTools();
  const names = tools.tools.map((t) => t.name).sort();
  const time = await client.callTool({ name: "get_current_time", arguments: {} });
  const alice = await client.callTool({
    name: "get_okta_user",
    arguments: { user_id: "alice@example.com" },
  });
  // The SDK validates structuredContent against the tool's outputSchema (and throws if it does
  // not match), for a result and for an isError result alike.
  const users = await client.callTool({ name: "list_okta_users", arguments: { limit: 5 } });
  const badList = await client.callTool({ name: "list_okta_users", arguments: { limit: 5, fields: ["a b"] } });
  report[label] = {
    tools: names,
    time: time.structuredContent?.time,
    alice: alice.structuredContent?.user?.id ?? null,
    aliceError: alice.isError ?? false,
    users: users.structuredContent?.users?.map((u) => u.profile?.login) ?? null,
    badListError: badList.isError ?? false,
  };
}

async function tokenRequest(body) {
  const metadata = await (await fetch(new URL("/.well-known/oauth-authorization-server", mcpUrl))).json();
  const response = await fetch(metadata.token_endpoint, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams(body).toString(),
  });
  return { status: response.status, body: await response.json() };
}

async function mcpStatusWith(accessToken) {
  const response = await fetch(mcpUrl, {
    method: "POST",
    headers: {
      authorization: `Bearer ${accessToken}`,
      "content-type": "application/json",
      accept: "application/json, text/event-stream",
    },
    body: JSON.stringify({
      jsonrpc: "2.0",
      id: 1,
      method: "initialize",
      params: {
        protocolVersion: "2025-11-25",
        capabilities: {},
        clientInfo: { name: "raw-check", version: "1" },
      },
    }),
  });
  return response.status;
}

async function main() {
  const client = await connect();
  if (!client) {
    report.connected = false;
    return;
  }
  report.connected = true;
  await useTools(client, "first");
  if (scenario === "many") {
    const count = Number(hookUrl ?? "100");
    const hook = hookBody;
    Object.assign(report, { callsOk: 0, callsFailed: 0, callErrors: [] });
    const hookAt = Math.floor(count / 10);
    const pace = hook ? AFTER_HOOK_MS / (count - hookAt) : 0;
    for (let i = 0; i < count; i++) {
      if (hook && i === hookAt) {
        report.hookCalledAt = i;
        fetch(hook, { method: "POST" }).catch(() => {});
      }
      const started = Date.now();
      try {
        const result = await client.callTool({ name: "get_current_time", arguments: {} });
        if (!result.isError && result.structuredContent?.time) report.callsOk++;
        else report.callsFailed++;
      } catch (error) {
        report.callsFailed++;
        if (report.callErrors.length < 5) report.callErrors.push(String(error));
      }
      if (hook && i >= hookAt) await sleep(pace - (Date.now() - started));
    }
  }
  if (scenario === "refresh") {
    const firstRefresh = provider._tokens.refresh_token;
    if (hookUrl) {
      const hook = await fetch(hookUrl, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: hookBody,
      });
      step("hook", { status: hook.status });
    }
    await sleep(3000);
    // The access token has expired: the SDK gets a 401 and refreshes on its own.
    await useTools(client, "afterRefresh");
    report.refreshed = provider._tokens.refresh_token !== firstRefresh;
    const current = provider._tokens.access_token;
    report.currentTokenBeforeReuse = await mcpStatusWith(current);
    // Someone replays the first (rotated) refresh token: the whole family must die.
    report.reuse = await tokenRequest({
      grant_type: "refresh_token",
      refresh_token: firstRefresh,
      client_id: provider._client.client_id,
    });
    report.currentTokenAfterReuse = await mcpStatusWith(current);
    report.latestRefreshAfterReuse = (
      await tokenRequest({
        grant_type: "refresh_token",
        refresh_token: provider._tokens.refresh_token,
        client_id: provider._client.client_id,
      })
    ).status;
  }
  await client.close();
}

try {
  await main();
} catch (error) {
  report.error = String(error?.stack ?? error);
}
process.stdout.write(JSON.stringify(report) + "\n");
