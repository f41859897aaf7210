"""The official MCP Python SDK client (`mcp` 2.x) using the two ways in that need no browser:

- `id-jag`: `IdentityAssertionOAuthProvider` (SEP-990, Enterprise-Managed Authorization). Its
  assertion callback does what the MCP client's own Okta integration does: it signs the user in
  at the fake Okta org (the org's test-only `/__fake/id-jag/id-token` stands in for the SSO
  login), then asks Okta for an ID-JAG by RFC 8693 token exchange at Okta's token endpoint,
  authenticating as the client's Okta app. The SDK then presents the ID-JAG to the proxy's
  `/token` (jwt-bearer grant) and calls tools with the access token.
- `client-credentials`: `ClientCredentialsOAuthProvider` with a client secret.
- `private-key-jwt`: `PrivateKeyJWTOAuthProvider` with an ES256 key the SDK signs with.

Usage: python enterprise_flow.py <mode> <mcp-url> <issuer> '<JSON settings>'
Prints one JSON report on stdout: tools, a get_current_time result, and every HTTP exchange.
"""

import asyncio
import base64
import json
import sys

import httpx2

from mcp.client import Client
from mcp.client.auth import TokenStorage
from mcp.client.auth.extensions.client_credentials import (
    ClientCredentialsOAuthProvider,
    PrivateKeyJWTOAuthProvider,
    SignedJWTParameters,
)
from mcp.client.auth.extensions.identity_assertion import IdentityAssertionOAuthProvider
from mcp.client.streamable_http import streamable_http_client

mode, mcp_url, issuer, settings = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
report: dict = {"mode": mode, "exchanges": [], "id_jags": 0}


class MemoryStorage(TokenStorage):
    """Tokens and client information kept for this run only."""

    def __init__(self) -> None:
        self.tokens = None
        self.client_info = None

    async def get_tokens(self):
        return self.tokens

    async def set_tokens(self, tokens) -> None:
        self.tokens = tokens

    async def get_client_info(self):
        return self.client_info

    async def set_client_info(self, client_info) -> None:
        self.client_info = client_info


async def record(response: httpx2.Response) -> None:
    request = response.request
    report["exchanges"].append(
        {"method": request.method, "url": str(request.url), "status": response.status_code}
    )


async def fetch_id_jag(audience: str, resource: str) -> str:
    """What the MCP client's Okta integration does: SSO login, then the token exchange."""
    okta = settings["okta_url"]
    async with httpx2.AsyncClient(timeout=10) as http:
        login = await http.post(
            f"{okta}/__fake/id-jag/id-token",
            json={"user": settings["user"], "client_id": settings["okta_client_id"]},
        )
        login.raise_for_status()
        credentials = base64.b64encode(
            f"{settings['okta_client_id']}:{settings['okta_client_secret']}".encode()
        ).decode()
        exchange = await http.post(
            f"{okta}/oauth2/v1/token",
            data={
                "grant_type": "urn:ietf:params:oauth:grant-type:token-exchange",
                "requested_token_type": "urn:ietf:params:oauth:token-type:id-jag",
                "subject_token": login.json()["id_token"],
                "subject_token_type": "urn:ietf:params:oauth:token-type:id_token",
                "audience": audience,
                "resource": resource,
                "scope": "mcp",
            },
            headers={"Authorization": f"Basic {credentials}"},
        )
        report["okta_exchange_status"] = exchange.status_code
        if exchange.status_code != 200:
            raise RuntimeError(f"Okta refused the token exchange: {exchange.text}")
        report["id_jags"] += 1
        return exchange.json()["access_token"]


def provider():
    storage = MemoryStorage()
    if mode == "id-jag":
        return IdentityAssertionOAuthProvider(
            server_url=mcp_url,
            storage=storage,
            client_id=settings["client_id"],
            client_secret=settings["client_secret"],
            issuer=issuer,
            assertion_provider=fetch_id_jag,
            token_endpoint_auth_method=settings.get("auth_method", "client_secret_post"),
        )
    if mode == "client-credentials":
        return ClientCredentialsOAuthProvider(
            server_url=mcp_url,
            storage=storage,
            client_id=settings["client_id"],
            client_secret=settings["client_secret"],
            token_endpoint_auth_method=settings.get("auth_method", "client_secret_basic"),
            issuer=issuer,
        )
    if mode == "private-key-jwt":
        signer = SignedJWTParameters(
            issuer=settings["client_id"],
            subject=settings["client_id"],
            signing_key=settings["key_pem"],
            signing_algorithm="ES256",
            lifetime_seconds=120,
        )
        return PrivateKeyJWTOAuthProvider(
            server_url=mcp_url,
            storage=storage,
            client_id=settings["client_id"],
            assertion_provider=signer.create_assertion_provider(),
            issuer=issuer,
        )
    raise SystemExit(f"unknown mode {mode}")


async def main() -> None:
    http = httpx2.AsyncClient(
        auth=provider(), timeout=30, event_hooks={"response": [record]}
    )
    async with http:
        async with Client(streamable_http_client(mcp_url, http_client=http)) as client:
            tools = await client.list_tools()
            report["tools"] = sorted(t.name for t in tools.tools)
            result = await client.call_tool("get_current_time", {})
            report["time"] = (result.structured_content or {}).get("time")
            report["time_is_error"] = bool(result.is_error)


try:
    asyncio.run(main())
except BaseException as error:  # noqa: BLE001 - the report carries it
    import traceback

    report["error"] = "".join(traceback.format_exception(error))
sys.stdout.write(json.dumps(report) + "\n")
