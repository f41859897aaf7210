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

from mcp.client import Client
from mcp.client.streamable_http import streamable_http_client

from oauth_browser import logged_in_http, report, step

mcp_url = sys.argv[1]


async def main() -> None:
    http = logged_in_http(mcp_url, "okta-mcp Python SDK test client (wrap)")
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
