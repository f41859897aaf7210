// A newcomer's first try with the pinned MCP Inspector 2.x web UI, in a real browser (Debian's
// Chromium, driven by playwright-core): Add Servers → Add manually → Server ID, transport
// streamable-http, URL → Add; switch it on; Approve on the proxy's consent page; sign in at the
// fake Okta org; open Tools; run get_current_time.
//
// Usage: node inspector-flow.mjs <inspector-url-with-token> <mcp-url> <email>
// The Rust test (tests/tests/inspector.rs) starts the Inspector (under Node 22) and the stack,
// and asserts on the one JSON report this prints on stdout. Only loopback requests leave the
// browser: anything else (the UI's web fonts) is aborted and listed in `report.blocked`.

import { launchChromium } from "./chromium.mjs";

const SERVER_ID = "okta";
const STEP_MS = 30_000;

const [inspectorUrl, mcpUrl, email] = process.argv.slice(2);
const report = { blocked: [], steps: [] };

const squash = (text) => (text ?? "").trim().replace(/\s+/g, " ");
const isLoopback = (url) => ["127.0.0.1", "localhost", "[::1]"].includes(url.hostname);

/** Adds the server through the catalog's "Add manually" dialog. */
async function addServer(page) {
  await page.getByRole("button", { name: "Add Servers" }).click();
  await page.getByRole("menuitem", { name: "Add manually" }).click();
  const dialog = page.getByRole("dialog");
  await dialog.getByLabel("Server ID").fill(SERVER_ID);
  await dialog.getByRole("textbox", { name: "Transport" }).click();
  await page.getByRole("option", { name: "streamable-http" }).click();
  await dialog.getByLabel("URL").fill(mcpUrl);
  await dialog.getByRole("button", { name: "Add", exact: true }).click();
  await dialog.waitFor({ state: "hidden", timeout: STEP_MS });
  report.steps.push("added");
}

/** Switches the server on; the Inspector sends the browser to the proxy's consent page. */
async function connect(page) {
  // Mantine's switch hides its <input>; a person clicks the track, which checks it.
  await page.getByRole("switch", { name: `Connect or disconnect "${SERVER_ID}"` }).check({ force: true });
  const approve = page.getByRole("button", { name: "Approve" });
  await approve.waitFor({ timeout: STEP_MS });
  report.consent = {
    url: page.url(),
    text: squash(await page.locator("body").textContent()),
    buttons: await page.getByRole("button").allTextContents(),
  };
  await approve.click();
  await page.getByRole("button", { name: `Sign in as ${email}` }).waitFor({ timeout: STEP_MS });
  report.okta = { url: page.url(), title: await page.title() };
  await page.getByRole("button", { name: `Sign in as ${email}` }).click();
  await page.getByText("Connected", { exact: true }).waitFor({ timeout: STEP_MS });
  report.connected = { url: page.url() };
  report.steps.push("connected");
}

/** Opens Tools and reads the list the way it is shown: "Tools (n)" and one button per tool. */
async function readTools(page) {
  await page.getByText("Tools", { exact: true }).first().click();
  const heading = page.getByText(/^Tools \(\d+\)$/);
  await heading.waitFor({ timeout: STEP_MS });
  report.toolsHeading = squash(await heading.textContent());
  const list = heading.locator("xpath=ancestor::*[.//button][1]");
  report.tools = (await list.getByRole("button").allTextContents()).map(squash).filter(Boolean);
  report.steps.push("tools");
}

/** Selects get_current_time, runs it with its defaults, and reads the result panel. */
async function callCurrentTime(page) {
  await page.getByText("get_current_time", { exact: true }).click();
  await page.getByRole("button", { name: "Execute Tool" }).click();
  await page.getByText("Results", { exact: true }).waitFor({ timeout: STEP_MS });
  // The tool's text content, shown on its own under "Results".
  const text = page.getByText(/^\s*\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\s*$/).first();
  await text.waitFor({ timeout: STEP_MS });
  report.result = squash(await text.textContent());
  report.steps.push("called");
}

async function main() {
  const { browser, error } = await launchChromium();
  if (error) {
    report.error = error;
    return;
  }
  try {
    const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
    await context.route(
      (url) => !isLoopback(url),
      (route) => {
        report.blocked.push(new URL(route.request().url()).origin);
        return route.abort();
      },
    );
    const page = await context.newPage();
    page.setDefaultTimeout(STEP_MS);
    await page.goto(inspectorUrl);
    await addServer(page);
    await connect(page);
    await readTools(page);
    await callCurrentTime(page);
    report.blocked = [...new Set(report.blocked)];
  } finally {
    await browser.close();
  }
}

try {
  await main();
} catch (error) {
  report.error = String(error?.stack ?? error);
}
process.stdout.write(JSON.stringify(report) + "\n");
