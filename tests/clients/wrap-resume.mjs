// The official MCP TypeScript SDK client resuming a dropped stream through okta-mcp-proxy and
// `okta-mcp-tool-server wrap` (server-everything): the POST stream of a long call is cut
// (as a network drop would) right after its first progress notification; the SDK reconnects
// with GET and `Last-Event-ID` by itself, and the call ends with its progress and result.
//
// Usage: node wrap-resume.mjs <mcp-url>
// Prints one JSON report as the last stdout line: the progress the client saw, the result,
// and each GET that carried a Last-Event-ID with its status.

import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { UnauthorizedError } from "@modelcontextprotocol/sdk/client/auth.js";
import { memoryProvider, newBrowser } from "./browser-login.mjs";

const [mcpUrl] = process.argv.slice(2);
const report = { resumes: [], errors: [] };
const provider = memoryProvider("okta-mcp wrap resume test client", newBrowser());

let cut = false;

/** fetch, except that the first long call's POST stream breaks after its first progress. */
async function droppingFetch(url, init = {}) {
  const response = await fetch(url, init);
  const method = init.method ?? "GET";
  const last = new Headers(init.headers).get("last-event-id");
  if (method === "GET" && last) {
    report.resumes.push({ lastEventId: last, status: response.status });
  }
  const body = typeof init.body === "string" ? init.body : "";
  if (cut || method !== "POST" || !body.includes("trigger-long-running-operation") || !response.body) {
    return response;
  }
  cut = true;
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let seen = "";
  let breakNow = false;
  const broken = new ReadableStream({
    async pull(controller) {
      if (breakNow) {
        // The chunk with the progress was read; now the connection goes.
        await reader.cancel();
        controller.error(new TypeError("network connection lost (cut by the test)"));
        return;
      }
      const { value, done } = await reader.read();
      if (done) {
        controller.close();
        return;
      }
      controller.enqueue(value);
      seen += decoder.decode(value, { stream: true });
      breakNow = seen.includes("notifications/progress");
    },
  });
  return new Response(broken, {
    status: response.status,
    statusText: response.statusText,
    headers: response.headers,
  });
}

function transport() {
  return new StreamableHTTPClientTransport(new URL(mcpUrl), {
    authProvider: provider,
    fetch: droppingFetch,
    reconnectionOptions: {
      initialReconnectionDelay: 200,
      maxReconnectionDelay: 2000,
      reconnectionDelayGrowFactor: 1.5,
      maxRetries: 3,
    },
  });
}

async function connect() {
  const client = new Client({ name: "okta-mcp-wrap-resume-test", version: "1.0.0" }, { capabilities: {} });
  client.onerror = (error) => report.errors.push(String(error?.message ?? error));
  let t = transport();
  try {
    await client.connect(t);
    return { client, transport: t };
  } catch (error) {
    if (!(error instanceof UnauthorizedError)) throw error;
  }
  const landing = provider._landing;
  if (!(landing instanceof URL) || !landing.searchParams.has("code")) {
    throw new Error(`no authorization code: ${landing}`);
  }
  await t.finishAuth(landing.searchParams.get("code"));
  t = transport();
  await client.connect(t);
  return { client, transport: t };
}

try {
  const { client, transport: t } = await connect();
  const progress = [];
  const result = await client.callTool(
    { name: "trigger-long-running-operation", arguments: { duration: 3, steps: 3 } },
    undefined,
    { onprogress: (p) => progress.push(p.progress), timeout: 30000 },
  );
  report.cut = cut;
  report.progress = progress;
  report.result = (result.content ?? []).map((c) => c.text ?? "").join("\n");
  const echo = await client.callTool({ name: "echo", arguments: { message: "after resume" } });
  report.after = (echo.content ?? []).map((c) => c.text ?? "").join("\n");
  await t.terminateSession();
  await client.close();
} catch (error) {
  report.error = String(error?.stack ?? error);
}
process.stdout.write(JSON.stringify(report) + "\n");
process.exit(0);
