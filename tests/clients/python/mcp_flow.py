"""The official MCP Python SDK client (`mcp` 2.x) doing the whole OAuth dance against
okta-mcp-proxy: its `server/discover` probe gets the 401 challenge, then discovery (protected
resource and authorization server metadata), dynamic registration, authorize (S256, `resource`),
consent, Okta login, `iss` check, token exchange, then tools/list and tools/call.

Usage: python mcp_flow.py <mcp-url> [calls]
  calls: after the first tool call, this many more get_current_time calls; the report counts
         how many succeeded (`calls_ok`) and how many failed (`calls_failed`, with the first
         few errors), without stopping at a failure.

The browser part (consent page, Okta login) is plain HTTP with a cookie jar, done inside the
client's redirect handler: the fake Okta org is told by the test which user to log in
(auto_login). Every HTTP exchange the SDK makes is recorded through httpx2 event hooks.
Prints one JSON report on stdout.
"""

import asyncio
import json
import sys

from mcp.client import Client
from mcp.client.streamable_http import streamable_http_client

from oauth_browser import logged_in_http, report, step

mcp_url = sys.argv[1]
extra_calls = int(sys.argv[2]) if len(sys.argv) > 2 else 0


async def main() -> None:
    http = logged_in_http(mcp_url, "okta-mcp Python SDK test client")
    async with http:
        async with Client(streamable_http_client(mcp_url, http_client=http)) as client:
            session = client.session
            report["protocol"] = session.protocol_version
            step("connected", protocol=session.protocol_version)
            tools = await client.list_tools()
            report["tools"] = sorted(t.name for t in tools.tools)
            result = await client.call_tool("get_current_time", {})
            report["time"] = (result.structured_content or {}).get("time")
            report["time_is_error"] = bool(result.is_error)
            report["calls_ok"], report["calls_failed"], report["call_errors"] = 0, 0, []
            for _ in range(extra_calls):
                try:
                    result = await client.call_tool("get_current_time", {})
                    ok = not result.is_error and bool((result.structured_content or {}).get("time"))
                except Exception as error:  # noqa: BLE001 - counted and reported
                    ok = False
                    if len(report["call_errors"]) < 5:
                        report["call_errors"].append(repr(error))
                report["calls_ok" if ok else "calls_failed"] += 1
    # What the discover probe before the token got.
    first = report["exchanges"][0] if report["exchanges"] else {}
    report["discover_probe"] = first if first.get("rpc") == "server/discover" else None


try:
    asyncio.run(main())
except BaseException as error:  # noqa: BLE001 - the report carries it
    import traceback

    report["error"] = "".join(traceback.format_exception(error))
sys.stdout.write(json.dumps(report) + "\n")
