"""What the Python client flows (mcp_flow.py, wrap_flow.py) share: the report they print, the
in-memory OAuth storage, the "browser" that follows the authorization URL through the proxy's
consent page and the fake Okta org's login (plain HTTP with one cookie jar per origin, as a
browser keeps them), and the httpx2 hooks that record every exchange.
"""

import json
import re
from urllib.parse import parse_qs, urljoin, urlparse

import httpx2
from mcp.client.auth import AuthorizationCodeResult, OAuthClientProvider
from mcp.shared.auth import OAuthClientInformationFull, OAuthClientMetadata, OAuthToken

REDIRECT_URI = "http://127.0.0.1:9/callback"

report: dict = {"steps": [], "exchanges": []}


def step(name: str, **detail) -> None:
    report["steps"].append({"name": name, **detail})


class MemoryStorage:
    def __init__(self) -> None:
        self.tokens: OAuthToken | None = None
        self.client_info: OAuthClientInformationFull | None = None

    async def get_tokens(self) -> OAuthToken | None:
        return self.tokens

    async def set_tokens(self, tokens: OAuthToken) -> None:
        step("tokens", has_refresh=tokens.refresh_token is not None, expires_in=tokens.expires_in)
        self.tokens = tokens

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return self.client_info

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        step("registered", client_id=client_info.client_id)
        self.client_info = client_info


landing: dict = {}


async def authorize_in_browser(authorization_url: str) -> None:
    """Follows the authorization URL through consent and Okta to the client's redirect URI."""
    query = parse_qs(urlparse(authorization_url).query)
    step(
        "authorize",
        method=query.get("code_challenge_method", [None])[0],
        resource=query.get("resource", [None])[0],
        scope=query.get("scope", [None])[0],
        prompt=query.get("prompt", [None])[0],
    )
    url = authorization_url
    # httpx2 keeps cookies per domain and path; every server here is on 127.0.0.1, so keep
    # one jar per origin by hand, as a browser would for different ports.
    jars: dict[str, dict[str, str]] = {}

    def origin(u: str) -> str:
        p = urlparse(u)
        return f"{p.scheme}://{p.netloc}"

    async with httpx2.AsyncClient(follow_redirects=False, timeout=10) as browser:

        async def browse(method: str, u: str, **kwargs) -> httpx2.Response:
            jar = jars.setdefault(origin(u), {})
            headers = kwargs.pop("headers", {})
            if jar:
                headers["cookie"] = "; ".join(f"{k}={v}" for k, v in jar.items())
            response = await browser.request(method, u, headers=headers, **kwargs)
            for line in response.headers.get_list("set-cookie"):
                name, _, value = line.split(";", 1)[0].partition("=")
                jar[name.strip()] = value.strip()
            browser.cookies.clear()
            return response

        for _ in range(10):
            response = await browse("GET", url)
            if response.status_code in (302, 303):
                nxt = urljoin(url, response.headers["location"])
                step("redirect", path=urlparse(url).path, status=response.status_code)
                if nxt.startswith(REDIRECT_URI):
                    params = parse_qs(urlparse(nxt).query)
                    landing.update({k: v[0] for k, v in params.items()})
                    report["callback"] = {
                        "has_code": "code" in params,
                        "iss": landing.get("iss"),
                        "error": landing.get("error"),
                    }
                    return
                url = nxt
                continue
            html = response.text
            if response.status_code == 200 and 'action="/oauth/consent"' in html:

                def field(name: str) -> str:
                    m = re.search(rf'name="{name}" value="([^"]*)"', html)
                    if not m:
                        raise RuntimeError(f"consent page without {name}")
                    return m.group(1)

                step("consent page")
                posted = await browse(
                    "POST",
                    urljoin(url, "/oauth/consent"),
                    data={"request": field("request"), "csrf": field("csrf"), "decision": "approve"},
                )
                if posted.status_code != 302:
                    raise RuntimeError(f"consent POST answered {posted.status_code}")
                url = urljoin(url, posted.headers["location"])
                continue
            raise RuntimeError(f"browser stopped at {url}: {response.status_code} {html[:300]}")
        raise RuntimeError("too many redirects")


async def callback() -> AuthorizationCodeResult:
    if "code" not in landing:
        raise RuntimeError(f"no code at the redirect URI: {landing}")
    return AuthorizationCodeResult(code=landing["code"], state=landing.get("state"), iss=landing.get("iss"))


async def on_request(request: httpx2.Request) -> None:
    rpc = None
    if request.method == "POST" and request.headers.get("content-type", "").startswith("application/json"):
        try:
            rpc = json.loads(request.content).get("method")
        except (ValueError, AttributeError):
            rpc = None
    report["exchanges"].append(
        {
            "method": request.method,
            "path": request.url.path,
            "rpc": rpc,
            "version": request.headers.get("mcp-protocol-version"),
            "bearer": request.headers.get("authorization", "").startswith("Bearer "),
            "session": request.headers.get("mcp-session-id"),
        }
    )


async def on_response(response: httpx2.Response) -> None:
    for exchange in reversed(report["exchanges"]):
        if exchange["path"] == response.request.url.path and "status" not in exchange:
            exchange["status"] = response.status_code
            if response.status_code == 401:
                exchange["www_authenticate"] = response.headers.get("www-authenticate")
            break


def logged_in_http(mcp_url: str, client_name: str) -> httpx2.AsyncClient:
    """An HTTP client for the MCP SDK that registers `client_name` (a public client), logs in
    through the browser above when the proxy asks, and records every exchange."""
    provider = OAuthClientProvider(
        server_url=mcp_url,
        client_metadata=OAuthClientMetadata(
            client_name=client_name,
            redirect_uris=[REDIRECT_URI],
            grant_types=["authorization_code", "refresh_token"],
            response_types=["code"],
            token_endpoint_auth_method="none",
        ),
        storage=MemoryStorage(),
        redirect_handler=authorize_in_browser,
        callback_handler=callback,
    )
    return httpx2.AsyncClient(
        auth=provider,
        timeout=httpx2.Timeout(30, read=300),
        event_hooks={"request": [on_request], "response": [on_response]},
    )
