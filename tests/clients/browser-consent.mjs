// A person in a real browser (Debian's Chromium, driven by playwright-core) going through the
// proxy's consent page and the fake Okta org's login page.
//
// Usage: node browser-consent.mjs <public-url> <scenario> [screenshot.png]
//   approve   Approve → Okta → alice → the client's redirect URI with code, state, iss; then the
//             code is exchanged at /token and the access token opens /mcp
//   deny      Deny → the redirect URI with error=access_denied, state, iss and no code
//   csrf      a tampered csrf field, and the right request+csrf pair sent from other browsers → 403
//   escaping  a client named with markup: shown as text, no dialog, page not frameable
//   dave      a user without a role → 403 page naming the granting groups, link back with access_denied
//   nojs      approve with JavaScript disabled in the browser
// The script registers its own client over HTTP (like an MCP client would) and prints one JSON
// report on stdout; the Rust test (tests/tests/proxy_browser.rs) asserts on it.
// The client's redirect URI is served by this script (a loopback "app"), so the report records
// exactly where the browser was sent, as the app would see it.

import { createHash, randomBytes } from "node:crypto";
import { createServer } from "node:http";
import { launchChromium } from "./chromium.mjs";

const ALICE = "alice@example.com";
const DAVE = "dave@example.com";
const EVIL_NAME = "<script>alert(1)</script><img src=x onerror=alert(2)>";

const [publicUrl, scenario, screenshot] = process.argv.slice(2);
const report = { scenario };

const html = (text) =>
  String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/**
 * The "app" on a loopback port, as a native MCP client would run one: its redirect URI `/cb`
 * records every arrival; `/frame` and `/forge` are pages of another site that try to frame the
 * consent page or post a copied consent form.
 */
const arrivals = [];
const app = createServer((req, res) => {
  const url = new URL(req.url, "http://127.0.0.1");
  let body;
  if (url.pathname === "/cb") {
    arrivals.push(`${APP}${req.url}`);
    body = "<title>app</title><p>Back at the app.</p>";
  } else if (url.pathname === "/frame") {
    body = `<title>framer</title><iframe id="f" src="${html(url.searchParams.get("src"))}"></iframe>`;
  } else if (url.pathname === "/forge") {
    const field = (name) =>
      `<input type="hidden" name="${name}" value="${html(url.searchParams.get(name))}">`;
    body =
      `<title>forger</title><form method="post" action="${html(publicUrl)}/oauth/consent">` +
      `${field("request")}${field("csrf")}` +
      `<button type="submit" name="decision" value="approve">Approve</button></form>`;
  } else {
    res.writeHead(404).end();
    return;
  }
  res.writeHead(200, { "content-type": "text/html; charset=utf-8" }).end(`<!doctype html>${body}`);
});
await new Promise((resolve) => app.listen(0, "127.0.0.1", resolve));
const APP = `http://127.0.0.1:${app.address().port}`;
const REDIRECT_URI = `${APP}/cb`;

const b64url = (bytes) => Buffer.from(bytes).toString("base64url");

/** Registers a public client with our loopback redirect URI (RFC 7591). */
async function register(clientName) {
  const metadata = await (await fetch(`${publicUrl}/.well-known/oauth-authorization-server`)).json();
  const response = await fetch(metadata.registration_endpoint, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      client_name: clientName,
      redirect_uris: [REDIRECT_URI],
      grant_types: ["authorization_code", "refresh_token"],
      response_types: ["code"],
      token_endpoint_auth_method: "none",
    }),
  });
  const body = await response.json();
  if (response.status !== 201) throw new Error(`register answered ${response.status}: ${JSON.stringify(body)}`);
  return { metadata, clientId: body.client_id };
}

/** A fresh authorization request: PKCE S256, state, resource. */
function authorization(metadata, clientId) {
  const verifier = b64url(randomBytes(32));
  const state = b64url(randomBytes(12));
  const url = new URL(metadata.authorization_endpoint);
  for (const [k, v] of Object.entries({
    response_type: "code",
    client_id: clientId,
    redirect_uri: REDIRECT_URI,
    code_challenge: b64url(createHash("sha256").update(verifier).digest()),
    code_challenge_method: "S256",
    state,
    scope: "mcp",
    resource: `${publicUrl}/mcp`,
  })) {
    url.searchParams.set(k, v);
  }
  return { url: url.toString(), verifier, state };
}

/** A fresh browser context whose page records what a person would notice. */
async function openPage(browser, options = {}) {
  const context = await browser.newContext(options);
  const page = await context.newPage();
  const seen = { dialogs: [], origins: new Set() };
  page.on("dialog", async (dialog) => {
    seen.dialogs.push(dialog.message());
    await dialog.dismiss().catch(() => {});
  });
  page.on("request", (request) => {
    const url = new URL(request.url());
    if (url.protocol.startsWith("http")) seen.origins.add(url.origin);
  });
  return { context, page, seen };
}

/** Clicks `locator` and waits for the navigation it starts; returns what the browser shows. */
async function clickAndLand(page, locator) {
  const [response] = await Promise.all([
    page.waitForNavigation({ waitUntil: "load", timeout: 10_000 }),
    locator.click(),
  ]);
  return landing(page, response);
}

/** Where the browser is now, and (when not back at the app) what the page says. */
async function landing(page, response) {
  const at = page.url();
  const view = { url: at, status: response?.status() ?? null };
  if (at.startsWith(REDIRECT_URI)) {
    const params = new URL(at).searchParams;
    view.redirect = Object.fromEntries(params);
  } else {
    view.title = await page.title();
    view.text = (await page.locator("body").textContent())?.trim().replace(/\s+/g, " ");
  }
  return view;
}

/** Reads the consent page as a person (and a curious one: its headers and hidden fields). */
async function readConsent(page, response) {
  const headers = response.headers();
  return {
    status: response.status(),
    url: page.url(),
    csp: headers["content-security-policy"] ?? null,
    frameOptions: headers["x-frame-options"] ?? null,
    text: (await page.locator("body").textContent()).trim().replace(/\s+/g, " "),
    clientName: await page.locator(".box strong").first().textContent().catch(() => null),
    buttons: await page.getByRole("button").allTextContents(),
    request: await page.locator('input[name="request"]').getAttribute("value"),
    csrf: await page.locator('input[name="csrf"]').getAttribute("value"),
  };
}

/** The fake Okta login page: which users it offers, then a click on `email`'s button. */
async function signInAtOkta(page, email) {
  const okta = {
    url: page.url(),
    title: await page.title(),
    users: (await page.getByRole("button").allTextContents()).map((t) => t.replace("Sign in as ", "")),
  };
  okta.after = await clickAndLand(page, page.getByRole("button", { name: `Sign in as ${email}` }));
  return okta;
}

/** Exchanges the code at /token, then calls /mcp initialize with the access token. */
async function exchange(metadata, clientId, code, verifier) {
  const response = await fetch(metadata.token_endpoint, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({
      grant_type: "authorization_code",
      code,
      redirect_uri: REDIRECT_URI,
      client_id: clientId,
      code_verifier: verifier,
      resource: `${publicUrl}/mcp`,
    }).toString(),
  });
  const body = await response.json();
  const token = {
    status: response.status,
    tokenType: body.token_type ?? null,
    hasAccessToken: typeof body.access_token === "string",
    error: body.error ?? null,
  };
  if (!token.hasAccessToken) return { token };
  const mcp = await fetch(`${publicUrl}/mcp`, {
    method: "POST",
    headers: {
      authorization: `Bearer ${body.access_token}`,
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
        clientInfo: { name: "browser-consent", version: "1" },
      },
    }),
  });
  // JSON, or SSE whose events may include an empty priming event before the response.
  const text = await mcp.text();
  const candidates = text.trimStart().startsWith("{")
    ? [text]
    : text.split("\n").filter((l) => l.startsWith("data:")).map((l) => l.slice(5));
  const message = candidates
    .map((c) => {
      try {
        return JSON.parse(c);
      } catch {
        return null;
      }
    })
    .find((m) => m?.id === 1);
  return {
    token,
    initialize: { status: mcp.status, serverName: message?.result?.serverInfo?.name ?? null },
  };
}

/** Approve, sign in as `email` at Okta, and (when a code comes back) use it. */
async function approveFlow(browser, { email = ALICE, contextOptions = {} } = {}) {
  const { metadata, clientId } = await register("Browser Test Client");
  const auth = authorization(metadata, clientId);
  const { context, page, seen } = await openPage(browser, contextOptions);
  const response = await page.goto(auth.url);
  report.consent = await readConsent(page, response);
  if (screenshot) await page.screenshot({ path: screenshot, fullPage: true });
  const afterApprove = await clickAndLand(page, page.getByRole("button", { name: "Approve" }));
  report.afterApprove = { url: afterApprove.url, status: afterApprove.status, title: afterApprove.title };
  report.okta = await signInAtOkta(page, email);
  const landed = report.okta.after;
  report.state = auth.state;
  report.arrivals = [...arrivals];
  if (landed.redirect?.code) {
    Object.assign(report, await exchange(metadata, clientId, landed.redirect.code, auth.verifier));
  }
  report.dialogs = seen.dialogs;
  return { context, page, seen, auth };
}

const scenarios = {
  async approve(browser) {
    await (await approveFlow(browser)).context.close();
  },

  async nojs(browser) {
    // Prove the switch is real: a script in a page of this context must not run.
    const probe = await browser.newContext({ javaScriptEnabled: false });
    const probePage = await probe.newPage();
    await probePage.setContent('<title>off</title><script>document.title = "on"</script>');
    report.scriptsRan = (await probePage.title()) === "on";
    await probe.close();
    const flow = await approveFlow(browser, { contextOptions: { javaScriptEnabled: false } });
    await flow.context.close();
  },

  async deny(browser) {
    const { metadata, clientId } = await register("Browser Test Client");
    const auth = authorization(metadata, clientId);
    const { context, page, seen } = await openPage(browser);
    report.consent = await readConsent(page, await page.goto(auth.url));
    report.afterDeny = await clickAndLand(page, page.getByRole("button", { name: "Deny" }));
    report.state = auth.state;
    report.arrivals = [...arrivals];
    report.origins = [...seen.origins];
    await context.close();
  },

  async csrf(browser) {
    const { metadata, clientId } = await register("Browser Test Client");
    const auth = authorization(metadata, clientId);
    const victim = await openPage(browser);
    report.consent = await readConsent(victim.page, await victim.page.goto(auth.url));
    const { request, csrf } = report.consent;

    // Another browser without this browser's cookie posts the copied pair (a cross-site form).
    const stranger = await openPage(browser);
    const forge = new URL(`${APP}/forge`);
    forge.searchParams.set("request", request);
    forge.searchParams.set("csrf", csrf);
    await stranger.page.goto(forge.toString());
    report.copiedWithoutCookie = await clickAndLand(stranger.page, stranger.page.getByRole("button"));
    report.copiedWithoutCookie.origins = [...stranger.seen.origins];
    await stranger.context.close();

    // Another browser with its own cookie (it loaded its own consent page) submits the copied pair.
    const other = await openPage(browser);
    const ownPage = await other.page.goto(authorization(metadata, clientId).url);
    const own = await readConsent(other.page, ownPage);
    report.otherBrowserHadOwnPair = own.request !== request && own.csrf !== csrf;
    await other.page.evaluate(
      ([r, c]) => {
        document.querySelector('input[name="request"]').value = r;
        document.querySelector('input[name="csrf"]').value = c;
      },
      [request, csrf],
    );
    report.copiedWithOtherCookie = await clickAndLand(
      other.page,
      other.page.getByRole("button", { name: "Approve" }),
    );
    report.copiedWithOtherCookie.origins = [...other.seen.origins];
    await other.context.close();

    // The right browser, but its csrf field tampered with before Approve.
    await victim.page.evaluate(() => {
      const field = document.querySelector('input[name="csrf"]');
      field.value = field.value.slice(0, -2) + (field.value.endsWith("AA") ? "BB" : "AA");
    });
    report.tampered = await clickAndLand(victim.page, victim.page.getByRole("button", { name: "Approve" }));
    report.tampered.origins = [...victim.seen.origins];
    report.arrivals = [...arrivals];

    // Control: the same browser, untouched form → on to Okta.
    const again = await victim.page.goto(auth.url);
    await readConsent(victim.page, again);
    const control = await clickAndLand(victim.page, victim.page.getByRole("button", { name: "Approve" }));
    report.control = { url: control.url, status: control.status, title: control.title };
    await victim.context.close();
  },

  async escaping(browser) {
    const { metadata, clientId } = await register(EVIL_NAME);
    const auth = authorization(metadata, clientId);
    const { context, page, seen } = await openPage(browser);
    report.consent = await readConsent(page, await page.goto(auth.url));
    report.evilName = EVIL_NAME;
    report.elements = {
      script: await page.locator("script").count(),
      img: await page.locator("img").count(),
    };
    // Give any (wrongly) injected handler a moment to fire.
    await page.waitForTimeout(300);
    // Try to frame the consent page from another origin.
    const framer = await openPage(browser);
    const frame = new URL(`${APP}/frame`);
    frame.searchParams.set("src", authorization(metadata, clientId).url);
    await framer.page.goto(frame.toString());
    await framer.page.waitForTimeout(500);
    const child = framer.page.frames().find((f) => f !== framer.page.mainFrame());
    report.framed = {
      frameUrl: child?.url() ?? null,
      consentInFrame: child ? await child.locator('input[name="csrf"]').count().catch(() => 0) : 0,
    };
    await framer.context.close();
    report.dialogs = seen.dialogs;
    await context.close();
  },

  async dave(browser) {
    const { context, page, seen } = await approveFlow(browser, { email: DAVE });
    // The refusal page links back to the app: follow it like a person would.
    const link = page.getByRole("link", { name: "Return to the app" });
    report.backHref = await link.getAttribute("href").catch(() => null);
    if (report.backHref) report.back = await clickAndLand(page, link);
    report.arrivals = [...arrivals];
    await context.close();
  },
};

async function main() {
  const run = scenarios[scenario];
  if (!run) throw new Error(`unknown scenario ${scenario}`);
  const { browser, error } = await launchChromium();
  if (error) {
    report.error = error;
    return;
  }
  try {
    await run(browser);
  } finally {
    await browser.close();
  }
}

try {
  await main();
} catch (error) {
  report.error = String(error?.stack ?? error);
}
app.close();
process.stdout.write(JSON.stringify(report) + "\n");
