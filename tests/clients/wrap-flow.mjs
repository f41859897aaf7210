// The official MCP TypeScript SDK client using a wrapped stdio server
// (@modelcontextprotocol/server-everything behind `okta-mcp-tool-server wrap`) through
// okta-mcp-proxy: the OAuth dance once, then one or many MCP sessions with that token.
//
// Usage: node wrap-flow.mjs <mcp-url> <scenario> [n]
//   basic            tools by role, a refused and an unknown call, a tool call, a resource read,
//                    and the time from initialize to the first tools/list answer
//   progress         a tool that reports progress; the notifications the client got
//   client-requests  sampling, elicitation and roots: the server asks, the client's handlers answer
//   recover          connect, print {"phase":"connected"}, wait for a line on stdin (the test
//                    kills the child or lets the session idle out), call again: expect 404,
//                    start a new session, call again
//   concurrent <n>   n sessions at once, each making a session resource of its own; print
//                    {"phase":"open"}, wait for a line on stdin, then DELETE every session
//   limit <n>        open sessions until n have tried; DELETE the first, then open one more
// The browser part (consent page, Okta login) is plain HTTP with a cookie jar; the fake Okta org
// logs in whoever the test named (auto_login). Prints one JSON report as the last stdout line.

import { createInterface } from "node:readline";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { UnauthorizedError } from "@modelcontextprotocol/sdk/client/auth.js";
import {
  CreateMessageRequestSchema,
  ElicitRequestSchema,
  ListRootsRequestSchema,
} from "@modelcontextprotocol/sdk/types.js";
import { memoryProvider, newBrowser } from "./browser-login.mjs";

const [mcpUrl, scenario = "basic", countArg = "2"] = process.argv.slice(2);
const count = Number(countArg);
const report = { scenario };

const provider = memoryProvider("okta-mcp wrap test client", newBrowser());

/** A client; with `handlers`, it declares sampling, elicitation and roots and answers them. */
function newClient(handlers) {
  const capabilities = handlers ? { sampling: {}, elicitation: {}, roots: { listChanged: true } } : {};
  const client = new Client({ name: "okta-mcp-wrap-test", version: "1.0.0" }, { capabilities });
  client.onerror = () => {}; // GET stream reconnects after a session ends are expected noise
  if (handlers) {
    client.setRequestHandler(CreateMessageRequestSchema, async (request) => {
      handlers.sampling += 1;
      const asked = request.params.messages[0]?.content?.text ?? "";
      return {
        model: "okta-mcp-test-model",
        role: "assistant",
        content: { type: "text", text: `sampled answer to: ${asked}` },
      };
    });
    client.setRequestHandler(ElicitRequestSchema, async () => {
      handlers.elicitation += 1;
      return { action: "accept", content: { name: "Ada Lovelace", check: true, integer: 7 } };
    });
    client.setRequestHandler(ListRootsRequestSchema, async () => {
      handlers.roots += 1;
      return { roots: [{ uri: "file:///srv/okta-mcp-test-root", name: "test-root" }] };
    });
  }
  return client;
}

/** Connects a new session; the first call does the OAuth dance. */
async function connect(handlers) {
  const client = newClient(handlers);
  let transport = new StreamableHTTPClientTransport(new URL(mcpUrl), { authProvider: provider });
  try {
    await client.connect(transport);
    return { client, transport };
  } catch (error) {
    if (!(error instanceof UnauthorizedError)) throw error;
  }
  const landing = provider._landing;
  if (!(landing instanceof URL) || !landing.searchParams.has("code")) {
    throw new Error(`no authorization code: ${landing}`);
  }
  await transport.finishAuth(landing.searchParams.get("code"));
  transport = new StreamableHTTPClientTransport(new URL(mcpUrl), { authProvider: provider });
  await client.connect(transport);
  return { client, transport };
}

const toolNames = async (client) => (await client.listTools()).tools.map((t) => t.name).sort();
const text = (result) => (result.content ?? []).map((c) => c.text ?? "").join("\n");
const errorOf = (error) => ({ code: error?.code ?? null, message: String(error?.message ?? error) });

/** Waits for one line on stdin (the test's go-ahead). */
function waitForGo() {
  return new Promise((resolve) => {
    const lines = createInterface({ input: process.stdin });
    lines.once("line", () => {
      lines.close();
      resolve();
    });
  });
}

function phase(name, detail = {}) {
  process.stdout.write(JSON.stringify({ phase: name, ...detail }) + "\n");
}

async function basic() {
  const { client } = await connect();
  report.tools = await toolNames(client);
  report.refused = await client.callTool({ name: "get-env", arguments: {} });
  report.unknown = await client.callTool({ name: "no-such-tool-at-all", arguments: {} });
  report.echo = text(await client.callTool({ name: "echo", arguments: { message: "hello wrap" } }));
  const read = await client.readResource({ uri: "demo://resource/dynamic/text/1" });
  report.resource = read.contents[0];
  report.resourceCount = (await client.listResources()).resources.length;
  await client.close();
  // A second session with the token in hand: time from initialize to the first tools/list.
  const started = performance.now();
  const second = await connect();
  await second.client.listTools();
  report.initToToolsListMs = performance.now() - started;
  await second.transport.terminateSession();
  await second.client.close();
}

async function progress() {
  const { client, transport } = await connect();
  const seen = [];
  const result = await client.callTool(
    { name: "trigger-long-running-operation", arguments: { duration: 1, steps: 4 } },
    undefined,
    { onprogress: (p) => seen.push(p) },
  );
  report.progress = seen;
  report.result = text(result);
  await transport.terminateSession();
  await client.close();
}

async function clientRequests() {
  const handlers = { sampling: 0, elicitation: 0, roots: 0 };
  const { client, transport } = await connect(handlers);
  report.tools = await toolNames(client);
  report.sampling = text(
    await client.callTool({ name: "trigger-sampling-request", arguments: { prompt: "ping from wrap" } }),
  );
  report.elicitation = text(await client.callTool({ name: "trigger-elicitation-request", arguments: {} }));
  // The server asks for roots on its own shortly after initialization (on the GET stream).
  for (let i = 0; i < 50 && handlers.roots === 0; i++) await new Promise((r) => setTimeout(r, 100));
  report.roots = text(await client.callTool({ name: "get-roots-list", arguments: {} }));
  report.handlers = handlers;
  await transport.terminateSession();
  await client.close();
}

async function recover() {
  let { client } = await connect();
  report.before = text(await client.callTool({ name: "echo", arguments: { message: "one" } }));
  phase("connected");
  await waitForGo();
  try {
    await client.callTool({ name: "echo", arguments: { message: "two" } });
    report.afterEnd = { code: 200 };
  } catch (error) {
    report.afterEnd = errorOf(error);
  }
  await client.close();
  ({ client } = await connect());
  report.after = text(await client.callTool({ name: "echo", arguments: { message: "three" } }));
  report.toolsAfter = (await toolNames(client)).length;
  await client.close();
}

async function concurrent() {
  const first = await connect(); // the OAuth dance, once
  const rest = await Promise.all(Array.from({ length: count - 1 }, () => connect()));
  const sessions = [first, ...rest];
  const results = await Promise.all(
    sessions.map(async ({ client, transport }, i) => {
      const name = `session-${i}.txt.gz`;
      await client.callTool({
        name: "gzip-file-as-resource",
        arguments: { name, data: `data:text/plain,hello%20from%20session%20${i}`, outputType: "resourceLink" },
      });
      const mine = (await client.listResources()).resources
        .map((r) => r.uri)
        .filter((uri) => uri.startsWith("demo://resource/session/"));
      const read = await client.readResource({ uri: `demo://resource/session/${name}` });
      return { session: transport.sessionId, mine, blob: (read.contents[0]?.blob ?? "").length };
    }),
  );
  report.sessions = results.length;
  report.distinctSessionIds = new Set(results.map((r) => r.session)).size;
  report.onlyOwnResource = results.every((r, i) => r.mine.length === 1 && r.mine[0].endsWith(`session-${i}.txt.gz`));
  report.allRead = results.every((r) => r.blob > 0);
  report.sample = results.slice(0, 2);
  phase("open", { sessions: results.length });
  await waitForGo();
  await Promise.all(sessions.map(({ transport }) => transport.terminateSession()));
  await Promise.all(sessions.map(({ client }) => client.close()));
}

async function limit() {
  const open = [];
  report.attempts = [];
  for (let i = 0; i < count; i++) {
    try {
      open.push(await connect());
      report.attempts.push({ ok: true });
    } catch (error) {
      report.attempts.push({ ok: false, ...errorOf(error) });
    }
  }
  await open[0].transport.terminateSession();
  await open[0].client.close();
  try {
    const again = await connect();
    report.afterDelete = { ok: true, tools: (await toolNames(again.client)).length };
    open.push(again);
  } catch (error) {
    report.afterDelete = { ok: false, ...errorOf(error) };
  }
  for (const { transport, client } of open.slice(1)) {
    await transport.terminateSession().catch(() => {});
    await client.close();
  }
}

const scenarios = { basic, progress, "client-requests": clientRequests, recover, concurrent, limit };

try {
  const run = scenarios[scenario];
  if (!run) throw new Error(`unknown scenario ${scenario}`);
  await run();
} catch (error) {
  report.error = String(error?.stack ?? error);
}
process.stdout.write(JSON.stringify(report) + "\n");
process.exit(0);
