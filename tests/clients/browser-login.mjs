// The browser part of an OAuth login through okta-mcp-proxy, as plain HTTP: a per-origin
// cookie jar, the consent page's Approve, the fake Okta org's login (the test names the user
// with auto_login), and every redirect followed by hand up to the client's redirect URI.
// Shared by the SDK client scripts (sdk-flow.mjs, wrap-flow.mjs).

/** A tiny per-origin cookie jar, enough for the consent and login redirects. */
class CookieJar {
  constructor() {
    this.jar = new Map();
  }
  header(url) {
    const cookies = this.jar.get(new URL(url).origin);
    return cookies ? [...cookies].map(([k, v]) => `${k}=${v}`).join("; ") : "";
  }
  store(url, response) {
    const origin = new URL(url).origin;
    const cookies = this.jar.get(origin) ?? new Map();
    for (const line of response.headers.getSetCookie()) {
      const [pair] = line.split(";");
      const at = pair.indexOf("=");
      cookies.set(pair.slice(0, at).trim(), pair.slice(at + 1).trim());
    }
    this.jar.set(origin, cookies);
  }
}

/** A browser that keeps cookies and does not follow redirects by itself. */
export function newBrowser() {
  const jar = new CookieJar();
  return async function browse(url, init = {}) {
    const headers = { ...(init.headers ?? {}) };
    const cookie = jar.header(url);
    if (cookie) headers.cookie = cookie;
    const response = await fetch(url, { ...init, headers, redirect: "manual" });
    jar.store(url, response);
    return response;
  };
}

/**
 * Follows `authorizationUrl` through consent (Approve) and the Okta login to `redirectUrl`.
 * Returns the URL the browser lands on there, or — when a page ends the flow (access denied) —
 * `{ status, html, link }` with the page's first link. `onStep(name, detail)` hears each step.
 */
export async function authorizeInBrowser(authorizationUrl, redirectUrl, browse, onStep = () => {}) {
  let url = authorizationUrl.toString();
  for (let hop = 0; hop < 10; hop++) {
    const response = await browse(url);
    if (response.status === 302 || response.status === 303) {
      const next = new URL(response.headers.get("location"), url).toString();
      onStep("redirect", { from: new URL(url).pathname, status: response.status });
      if (next.startsWith(redirectUrl)) return new URL(next);
      url = next;
      continue;
    }
    const html = await response.text();
    if (response.status === 200 && html.includes('action="/oauth/consent"')) {
      const field = (name) => html.match(new RegExp(`name="${name}" value="([^"]*)"`))?.[1];
      onStep("consent page", {
        csp: response.headers.get("content-security-policy"),
        frameOptions: response.headers.get("x-frame-options"),
        verifiedHost: html.match(/<strong class="verified">([^<]*)<\/strong>/)?.[1] ?? null,
      });
      const form = new URLSearchParams({
        request: field("request"),
        csrf: field("csrf"),
        decision: "approve",
      });
      const posted = await browse(new URL("/oauth/consent", url).toString(), {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: form.toString(),
      });
      if (posted.status !== 302) throw new Error(`consent POST answered ${posted.status}`);
      url = new URL(posted.headers.get("location"), url).toString();
      continue;
    }
    const link = html.match(/<a href="([^"]*)"/)?.[1]?.replaceAll("&amp;", "&");
    return { status: response.status, html, link };
  }
  throw new Error("too many redirects");
}

/**
 * An MCP SDK OAuth client provider that keeps everything in memory (a public client with PKCE,
 * registered by DCR) and logs in with `browse`; after the login its `_landing` is the redirect
 * URI the browser reached (with `code`, `state`, `iss`).
 */
export function memoryProvider(clientName, browse) {
  return {
    redirectUrl: "http://127.0.0.1:9/callback",
    clientMetadata: {
      client_name: clientName,
      redirect_uris: ["http://127.0.0.1:9/callback"],
      grant_types: ["authorization_code", "refresh_token"],
      response_types: ["code"],
      token_endpoint_auth_method: "none",
    },
    clientInformation() {
      return this._client;
    },
    saveClientInformation(info) {
      this._client = info;
    },
    tokens() {
      return this._tokens;
    },
    saveTokens(tokens) {
      this._tokens = tokens;
    },
    async redirectToAuthorization(url) {
      const landing = await authorizeInBrowser(url, this.redirectUrl, browse);
      if (!(landing instanceof URL)) {
        throw new Error(`login stopped at ${landing.status}: ${landing.html.slice(0, 200)}`);
      }
      this._landing = landing;
    },
    saveCodeVerifier(verifier) {
      this._verifier = verifier;
    },
    codeVerifier() {
      return this._verifier;
    },
  };
}
