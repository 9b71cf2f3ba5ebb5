"""``lmstudio-sdk plugin mcp -- CMD ARGS``: an MCP server served as a tools provider plugin.

Registers a development plugin, starts the MCP session (``client.plugins.mcp_tools``'s
``AsyncMcpTools``) and serves its tools with the plugin runner, in this process: any LM Studio
client (the official TypeScript one included) then uses the MCP server's tools through
``plugins.pluginTools`` / ``startToolUseSession``. A tool's error or timeout becomes the tool
call's error; unregistering (Ctrl-C, or the server ending the registration) stops the server.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .._async.client import AsyncClient
from .._async.mcp import AsyncMcpTools
from .._exceptions import LMStudioConnectionError, LMStudioValueError
from .._protocol.mcp import McpTarget
from .._protocol.tools import Tool, tool_from_schema
from .dev import register_development_plugin
from .hooks import CURRENT_TOOL_CALL, ToolsProviderController
from .runner import PluginDefinition, PluginRunner

__all__ = ["mcp_plugin_identifier", "run_mcp_plugin"]

OWNER = "mcp"


def mcp_plugin_identifier(name: str | None, target: McpTarget) -> tuple[str, str]:
    """(owner, name) of the plugin: ``--name owner/name`` or ``name`` (owner ``mcp``), else
    made from the server's script, program or host."""
    if name is not None:
        owner, _, plain = name.rpartition("/")
        owner = owner or OWNER
        if not re.fullmatch(r"[\w.-]+", owner) or not re.fullmatch(r"[\w.-]+", plain):
            raise LMStudioValueError(
                f"--name is 'owner/name' or 'name' (letters, digits, '_', '-', '.'), not {name!r}"
            )
        return owner, plain
    if target.url is not None:
        base = re.sub(r"^https?://", "", target.url).split("/")[0]
    else:
        base = Path(target.command[-1]).stem
    return OWNER, re.sub(r"[^\w.-]+", "-", base).strip("-") or "server"


def _reporting(mcp: AsyncMcpTools, tool: Tool[..., Any]) -> Tool[..., Any]:
    """The tool, its MCP progress notifications sent as the tool call's status."""
    name = tool.name

    async def implementation(**arguments: Any) -> Any:
        reporter = CURRENT_TOOL_CALL.get()  # set by the runner for this call
        report = None if reporter is None else functools.partial(reporter.report, "status")
        return await mcp.call(name, arguments, on_progress=report)

    return tool_from_schema(name, tool.description, tool.parameters, implementation)


async def run_mcp_plugin(
    target: McpTarget,
    host: str | None,
    *,
    name: str | None = None,
    log: Callable[[str], None] = print,
    tool_timeout: float | None = 30.0,
    connect_timeout: float = 60.0,
    timeout: float = 30.0,
) -> None:
    """Serve the MCP server's tools as a plugin until cancelled (or the registration ends).
    ``tool_timeout``: each tool call's limit (None: none); ``connect_timeout``: starting the
    MCP server; ``timeout``: the calls to LM Studio."""
    owner, plain = mcp_plugin_identifier(name, target)
    manifest: dict[str, Any] = {"type": "plugin", "runner": "python", "owner": owner}
    manifest["name"] = plain
    async with (
        AsyncMcpTools(
            target, timeout=tool_timeout, connect_timeout=connect_timeout, allowed_tools=None
        ) as mcp,
        AsyncClient(host, timeout=timeout) as client,
    ):
        tools = [_reporting(mcp, tool) for tool in mcp.tools]

        async def provide_tools(ctl: ToolsProviderController[Any, Any]) -> list[Tool[..., Any]]:
            return tools

        plugin = PluginDefinition(Path.cwd(), manifest, hooks={"provide_tools": provide_tools})
        channel, ready = await register_development_plugin(client, manifest, timeout)
        try:
            runner = PluginRunner(
                plugin,
                host=client.base_url,
                client_identifier=ready.client_identifier,
                client_passkey=ready.client_passkey,
                timeout=timeout,
            )
            registration = asyncio.ensure_future(channel.receive(None))
            serving = asyncio.ensure_future(
                runner.run(
                    ready=lambda: log(
                        f"plugin {plugin.identifier}: serving the tools of "
                        f"{target.describe()} ({', '.join(mcp.names)})"
                    )
                )
            )
            try:
                done, _ = await asyncio.wait(
                    {registration, serving}, return_when=asyncio.FIRST_COMPLETED
                )
                if serving in done:
                    serving.result()
                raise LMStudioConnectionError(
                    f"the server ended the registration of plugin {plugin.identifier}"
                )
            finally:
                for task in (registration, serving):
                    task.cancel()
                    with contextlib.suppress(BaseException):
                        await task
        finally:
            channel.send({"type": "end"})
