"""Fixtures of the MCP tests."""

from tests.mcp.harness import http_mcp_server
from tests.plugins.harness import plugin_server

__all__ = ["http_mcp_server", "plugin_server"]
