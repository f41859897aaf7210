// The official MCP TypeScript SDK client calling okta-mcp's write tools through okta-mcp-proxy:
// the OAuth dance, then a list of tool calls, with or without elicitation.
//
// Usage: node write-flow.mjs <mcp-url> <mode> <calls-json>
//   mode "accept" | "decline" | "cancel": the client declares the elicitation capability (form)
//        and its handler answers every elicitation so
//   mode "none": the client declares no elicitation (write tools answer with a confirmation token)
//   calls-json: [{"tool": "...", "arguments": {...}, "confirmWithPrevious": true?}, ...]; with
//        confirmWithPrevious the previous result's structuredContent.confirmation is added as
//        the `confirmation` argument (a client that asked its user and was told yes)
// The browser part (consent page, Okta login) is plain HTTP with a cookie jar; the fake Okta org
// logs in whoever the test named (auto_login). Prints one JSON report as the last stdout line:
// {tools, session, elicitations: [{message, schema}], results: [{tool, isError, text,
// structured, error}]}.

import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { UnauthorizedError } from "@modelcontextprotocol/sdk/client/auth.js";
import { ElicitRequestSchema } from "@modelcontextprotocol/sdk/types.js";
import { memoryProvider, newBrowser } from "./browser-login.mjs";

const [mcpUrl, mode = "none", callsJson = "[]"] = process.argv.slice(2);
const calls = JSON.parse(callsJson);
const report = { mode, elicitations: [], results: [] };

const provider = memoryProvider("okta-mcp write test client", newBrowser());

function newClient() {
  const elicits = mode !== "none";
  const capabilities = elicits ? { elicitation: { form: {} } } : {};
  const client = new Client({ name: "okta-mcp-write-test", version: "1.0.0" }, { capabilities });
  client.onerror = () => {};
  if (elicits) {
    client.setRequestHandler(ElicitRequestSchema, async (request) => {
      report.elicitations.push({
        message: request.params.message,
        schema: request.params.requestedSchema,
      });
      return mode === "accept" ? { action: "accept", content: {} } : { action: mode };
    });
  }
  return client;
}

async function connect() {
  const client = newClient();
  let transport = new StreamableHTTPClientTransport(new URL(mcpUrl), { authProvider: provider });
  try {
    await client.connect(transport);
    return { client, transport };
  } catch (error) {
    if (!(error instanceof UnauthorizedError)) throw error;
  }
  const landing = provider._landing;
  if (!(landing instanceof URL) || !landing.searchParams.has("code")) {
    throw new Error(`no authorization code: ${JSON.stringify(landing)}`);
  }
  await transport.finishAuth(landing.searchParams.get("code"));
  transport = new StreamableHTTPClientTransport(new URL(mcpUrl), { authProvider: provider });
  await client.connect(transport);
  return { client, transport };
}

async function main() {
  const { client, transport } = await connect();
  report.session = Boolean(transport.sessionId);
  report.tools = (await client.listTools()).tools.map((t) => t.name).sort();
  let previous;
  for (const call of calls) {
    const args = { ...call.arguments };
    if (call.confirmWithPrevious) args.confirmation = previous?.structuredContent?.confirmation;
    try {
      const result = await client.callTool({ name: call.tool, arguments: args });
      previous = result;
      report.results.push({
        tool: call.tool,
        isError: result.isError ?? false,
        text: (result.content ?? []).map((c) => c.text ?? "").join("\n"),
        structured: result.structuredContent ?? null,
      });
    } catch (error) {
      previous = undefined;
      report.results.push({
        tool: call.tool,
        error: { code: error?.code ?? null, message: String(error?.message ?? error) },
      });
    }
  }
  await client.close();
}

try {
  await main();
} catch (error) {
  report.error = String(error?.stack ?? error);
}
process.stdout.write(JSON.stringify(report) + "\n");
