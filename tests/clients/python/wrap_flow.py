"""The official MCP Python SDK client (`mcp` 2.x) through okta-mcp-proxy to a wrapped stdio
server (`okta-mcp-tool-server wrap`, server-everything): the OAuth dance as in mcp_flow.py,
then, since the wrapper answers its `server/discover` probe, the stateless 2026-07-28
protocol: tools/list, an allowed call (`echo`) and, for a viewer, a refused one (`get-env`).

Usage: python wrap_flow.py <mcp-url>
Prints one JSON report on stdout.
"""

import asyncio
import json
import sys

import httpx2
from mcp.client import Client
from mcp.client.auth import OAuthClientProvider
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import OAuthClientMetadata

from oauth_browser import (
    REDIRECT_URI,
    MemoryStorage,
    authorize_in_browser,
    callback,
    on_request,
    on_response,
    report,
    step,
)

mcp_url = sys.argv[1]


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
