"""The official MCP Python SDK client (`mcp` 2.x) through okta-mcp-proxy to a wrapped stdio
server (`okta-mcp-tool-server wrap`, server-everything): the OAuth dance as in mcp_flow.py,
then, since the wrapper answers its `server/discover` probe, the stateless 2026-07-28
protocol: tools/list, an allowed call (`echo`) and, for a viewer, a refused one (`get-env`).

Usage: python wrap_flow.py <mcp-url>
Prints one JSON report on stdout.
"""

import asyncio
import json
import re
import sys
from urllib.parse import parse_qs, urljoin, urlparse

import httpx2
from mcp.client import Client
from mcp.client.auth import AuthorizationCodeResult, OAuthClientProvider
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import OAuthClientInformationFull, OAuthClientMetadata, OAuthToken

REDIRECT_URI = "http://127.0.0.1:9/callback"

mcp_url = sys.argv[1]
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


async def main() -> None:
    provider = OAuthClientProvider(
        server_url=mcp_url,
        client_metadata=OAuthClientMetadata(
            client_name="okta-mcp Python SDK test client (wrap)",
            redirect_uris=[REDIRECT_URI],
            grant_types=["authorization_code", "refresh_token"],
            response_types=["code"],
            token_endpoint_auth_method="none",
        ),
        storage=MemoryStorage(),
        redirect_handler=authorize_in_browser,
        callback_handler=callback,
    )
    http = httpx2.AsyncClient(
        auth=provider,
        timeout=httpx2.Timeout(30, read=300),
        event_hooks={"request": [on_request], "response": [on_response]},
    )
    async with http:
        async with Client(streamable_http_client(mcp_url, http_client=http)) as client:
            session = client.session
            report["protocol"] = session.protocol_version
            step("connected", protocol=session.protocol_version)
            tools = await client.list_tools()
            report["tools"] = sorted(t.name for t in tools.tools)
            echo = await client.call_tool("echo", {"message": "from python"})
            report["echo"] = echo.content[0].text if echo.content else None
            refused = await client.call_tool("get-env", {})
            report["refused_is_error"] = bool(refused.is_error)
            report["refused"] = refused.content[0].text if refused.content else None
    # What the discover probe before the token got.
    first = report["exchanges"][0] if report["exchanges"] else {}
    report["discover_probe"] = first if first.get("rpc") == "server/discover" else None


try:
    asyncio.run(main())
except BaseException as error:  # noqa: BLE001 - the report carries it
    import traceback

    report["error"] = "".join(traceback.format_exception(error))
sys.stdout.write(json.dumps(report) + "\n")
