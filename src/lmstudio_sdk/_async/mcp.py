"""``client.plugins.mcp_tools(...)``: an MCP server's tools as ``Tool``s for ``act()``.

The MCP session runs on a loop thread of its own (``_transport/mcp.py``); this face waits for
it with its transport's ``wait_future_async`` twin. Leaving the ``async with`` block (or
``aclose()``) ends the session and the server process; so does the interpreter's exit.

Source of truth for both faces (see ``scripts/unasync.py``).
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any

from .._exceptions import (
    LMStudioTimeoutError,
    LMStudioValueError,
    McpConnectionError,
    McpToolError,
)
from .._protocol.mcp import McpTarget, McpToolSpec
from .._protocol.tools import Tool, tool_from_schema
from .._transport.asyncio import wait_future_async
from .._transport.mcp import STOP_SECONDS, McpLink
from .._types import NOT_GIVEN, Timeout, checked_arguments, resolve_timeout

__all__ = ["AsyncMcpTools"]

# Beyond a call's own timeout (which the MCP session enforces, telling the server to cancel),
# how long to wait for the session's thread to report it.
_GRACE_SECONDS = 5.0


def _stop(link: McpLink) -> None:
    """At garbage collection or the interpreter's exit: end a session nobody closed."""
    link.stop().result(STOP_SECONDS)


class AsyncMcpTools:
    """The tools of an MCP server (a command run over stdio, or a streamable-HTTP URL).

    ``async with client.plugins.mcp_tools(command=[...]) as mcp:`` starts the session and
    lists the tools; ``mcp.tools`` are ``Tool``s for ``act()`` (the server's ``inputSchema``
    as their JSON schema), ``mcp.call(name, arguments)`` calls one directly.
    """

    def __init__(
        self,
        target: McpTarget,
        *,
        timeout: float | None,
        connect_timeout: float | None,
        allowed_tools: list[str] | None,
    ) -> None:
        self.target = target
        self._timeout = timeout
        self._connect_timeout = connect_timeout
        self._allowed = allowed_tools
        self._link: McpLink | None = None
        self._specs: dict[str, McpToolSpec] = {}
        self._tools: list[Tool[..., Any]] = []
        self._finalizer: weakref.finalize[Any, Any] | None = None

    @checked_arguments
    async def open(self) -> AsyncMcpTools:
        """Start the server (or connect to it) and list its tools; returns ``self``. Tools
        that were closed open again (a new session)."""
        if self._link is not None and not self._closed:
            return self
        link = McpLink(self.target)
        self._link = link
        self._finalizer = weakref.finalize(self, _stop, link)
        try:
            specs = await wait_future_async(link.start(), self._connect_timeout)
            self._specs = self._select(specs)
            self._tools = [self._tool(spec) for spec in self._specs.values()]
        except LMStudioTimeoutError:
            await self.aclose()
            raise McpConnectionError(
                f"MCP server {self.target.describe()!r} did not start within "
                f"{self._connect_timeout:g} s"
            ) from None
        except BaseException:
            await self.aclose()
            raise
        return self

    def _select(self, specs: list[McpToolSpec]) -> dict[str, McpToolSpec]:
        listed = {spec.name: spec for spec in specs}
        if self._allowed is None:
            return listed
        unknown = [name for name in self._allowed if name not in listed]
        if unknown:
            raise LMStudioValueError(
                f"MCP server {self.target.describe()!r} has no tool {', '.join(unknown)}; "
                f"its tools: {', '.join(listed) or 'none'}"
            )
        return {name: listed[name] for name in self._allowed}

    def _tool(self, spec: McpToolSpec) -> Tool[..., Any]:
        name = spec.name

        async def implementation(**arguments: Any) -> Any:
            return await self.call(name, arguments)

        try:
            return tool_from_schema(name, spec.description, spec.input_schema, implementation)
        except LMStudioValueError as exc:
            raise LMStudioValueError(
                f"MCP tool {name!r} cannot be offered to a model ({exc}); leave it out with "
                "allowed_tools=[...]"
            ) from None

    @property
    def tools(self) -> list[Tool[..., Any]]:
        """The server's tools (or ``allowed_tools``) as ``Tool``s for ``act()``."""
        self._require_open()
        return list(self._tools)

    @property
    def names(self) -> list[str]:
        """The names of the MCP server's tools, in the server's order."""
        self._require_open()
        return list(self._specs)

    def _require_open(self) -> McpLink:
        if self._link is None:
            raise McpConnectionError("open the MCP tools first (async with … / open())")
        return self._link

    @property
    def _closed(self) -> bool:
        return self._finalizer is None or not self._finalizer.alive

    @checked_arguments
    async def call(
        self,
        name: str,
        arguments: Mapping[str, Any] | None = None,
        *,
        timeout: Timeout = NOT_GIVEN,
        on_progress: Callable[[str], None] | None = None,
    ) -> Any:
        """Call one of the server's tools; what the model would see: its structured content
        (a JSON value) when it gave one, else its content as text (images and resources
        described).

        ``on_progress(text)`` receives the tool's progress notifications (their message, or
        ``progress 3/10``); it is called from the MCP session's thread, so keep it short (a
        print, a queue put, ``loop.call_soon_threadsafe``).

        Raises:
            McpToolError: the tool reported an error (``isError``) or did not answer within
                ``timeout`` (default: the ``mcp_tools()`` one).
            McpConnectionError: the session is closed, or the server exited or hung up.
        """
        link = self._require_open()
        if self._closed:
            raise McpConnectionError(
                f"the MCP tools of {self.target.describe()!r} are closed; open them again"
            )
        if name not in self._specs:
            raise LMStudioValueError(
                f"MCP server {self.target.describe()!r} has no tool {name!r}; its tools: "
                f"{', '.join(self._specs) or 'none'}"
            )
        if arguments is not None and not isinstance(arguments, Mapping):
            raise LMStudioValueError(f"tool arguments are a mapping, not {arguments!r}")
        if on_progress is not None and not callable(on_progress):
            raise LMStudioValueError("on_progress is a function taking the progress text")
        limit = resolve_timeout(timeout, self._timeout)
        future = link.call_tool(name, dict(arguments or {}), limit, on_progress)
        result = await wait_future_async(future, None if limit is None else limit + _GRACE_SECONDS)
        if result.is_error:
            raise McpToolError(
                result.text or f"MCP tool {name!r} reported an error", tool_name=name
            )
        return result.value

    @checked_arguments
    async def aclose(self) -> None:
        """End the session; a server run as a command is stopped (stdin closed, then
        SIGTERM and SIGKILL if it lingers)."""
        finalizer, link = self._finalizer, self._link
        if finalizer is None or link is None or not finalizer.alive:
            return
        finalizer.detach()
        await wait_future_async(link.stop(), STOP_SECONDS)

    async def __aenter__(self) -> AsyncMcpTools:
        return await self.open()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
