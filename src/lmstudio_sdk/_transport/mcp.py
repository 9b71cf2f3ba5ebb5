"""An MCP client session (the ``mcp`` package, an optional extra) on a loop thread of its own.

The ``mcp`` package is asyncio/anyio code whose sessions live in task groups, which must be
entered and left by one task. Both faces therefore run the session in a thread of its own
(``anyio.run``, reached through an anyio ``BlockingPortal``), and wait for its futures with
their transport's twin (``wait_future_async`` / ``wait_future``): the sync face never runs an
event loop of the caller's, the async face never hosts the package's task groups (a session
may be opened and closed by different tasks), and the plugin runner uses the async face.

Every failure is translated here, once: a server that cannot start or hangs up is
``McpConnectionError`` (with the last lines of its stderr), a tool's timeout ``McpToolError``.
``mcp`` and ``anyio`` are imported on first use only.
"""

from __future__ import annotations

import contextlib
import tempfile
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TextIO, cast

from .._exceptions import McpConnectionError, McpToolError, MissingExtraError
from .._protocol.mcp import McpCallResult, McpTarget, McpToolSpec, call_result, progress_text

__all__ = ["STOP_SECONDS", "McpLink"]

# How long stopping may take: stdio servers get their stdin closed, 2 s to exit, then SIGTERM
# and SIGKILL after 2 s more (the mcp package's sequence).
STOP_SECONDS = 10.0
# How many pages of tools/list a server may answer with.
MAX_PAGES = 100
STDERR_TAIL_LINES = 8

# JSON-RPC error codes of the mcp package (mcp_types.jsonrpc).
_CONNECTION_CLOSED = -32000
_REQUEST_TIMEOUT = -32001


def _import_mcp() -> Any:
    try:
        import mcp
    except ImportError as exc:
        raise MissingExtraError(
            f"MCP servers' tools need the mcp package ({exc}): pip install 'lmstudio-sdk[mcp]'",
            extra="mcp",
        ) from exc
    return mcp


class McpLink:
    """One MCP session: ``start()`` connects and lists the tools, ``call_tool()`` calls one,
    ``stop()`` ends the session (and the server process). Each returns a future settled by
    the link's thread; none blocks."""

    def __init__(self, target: McpTarget) -> None:
        self.target = target
        self._ready: Future[list[McpToolSpec]] = Future()
        self._stopped: Future[None] = Future()
        self._closing = threading.Event()
        self._portal: Any = None
        self._scope: Any = None
        self._client: Any = None
        self._stderr: TextIO | None = None
        self._thread: threading.Thread | None = None

    # -- the caller's side (any thread) ---------------------------------------------------

    def start(self) -> Future[list[McpToolSpec]]:
        mcp = _import_mcp()
        if self._thread is None:
            if self.target.url is None:
                self._stderr = cast(
                    TextIO, tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace")
                )
            self._thread = threading.Thread(
                target=self._run, args=(mcp,), name="lmstudio-mcp", daemon=True
            )
            self._thread.start()
        return self._ready

    def call_tool(
        self,
        name: str,
        arguments: dict[str, Any],
        timeout: float | None,
        on_progress: Callable[[str], None] | None = None,
    ) -> Future[McpCallResult]:
        portal = self._portal
        if self._closing.is_set() or portal is None or self._client is None:
            failed: Future[McpCallResult] = Future()
            failed.set_exception(McpConnectionError(f"the MCP session with {self._who} is closed"))
            return failed
        try:
            future: Future[McpCallResult] = portal.start_task_soon(
                self._call, name, arguments, timeout, on_progress
            )
        except RuntimeError:  # the portal stopped: the thread is ending
            failed = Future()
            failed.set_exception(McpConnectionError(f"the MCP session with {self._who} ended"))
            return failed
        return future

    def stop(self) -> Future[None]:
        """End the session; the future settles when the thread (and the server) is gone."""
        self._closing.set()  # before reading the portal: see _main
        portal = self._portal
        if portal is not None:
            with contextlib.suppress(RuntimeError):  # already stopped
                portal.start_task_soon(self._wake)
        if self._thread is None and not self._stopped.done():
            self._stopped.set_result(None)
        return self._stopped

    @property
    def _who(self) -> str:
        return f"MCP server {self.target.describe()!r}"

    def stderr_tail(self) -> str:
        """The last lines the server process wrote to stderr (empty for a URL)."""
        stream = self._stderr
        if stream is None:
            return ""
        try:
            stream.flush()
            stream.seek(0)
            lines = stream.read().rstrip().splitlines()
        except (OSError, ValueError):
            return ""
        return "\n".join(lines[-STDERR_TAIL_LINES:])

    def _gone(self, what: str) -> McpConnectionError:
        tail = self.stderr_tail()
        return McpConnectionError(
            f"{self._who} {what}" + (f"; its stderr ends with:\n{tail}" if tail else "")
        )

    # -- the link's thread --------------------------------------------------------------------

    def _run(self, mcp: Any) -> None:
        import anyio

        try:
            anyio.run(self._main, mcp)
        except BaseException as exc:  # reported through the futures
            if not self._ready.done():
                self._ready.set_exception(self._gone(f"could not be started: {exc}"))
        finally:
            if not self._ready.done():
                self._ready.set_exception(self._gone("closed before it was ready"))
            if self._stderr is not None:
                with contextlib.suppress(OSError):
                    self._stderr.close()
            self._stopped.set_result(None)

    async def _main(self, mcp: Any) -> None:
        import anyio
        from anyio.from_thread import BlockingPortal

        async with BlockingPortal() as portal:
            self._scope = anyio.CancelScope()
            self._portal = portal  # then read _closing: stop() does the reverse
            if self._closing.is_set():
                return
            try:
                with self._scope:
                    async with mcp.Client(self._server(mcp)) as client:
                        tools = await self._list_tools(client)
                        self._client = client
                        self._ready.set_result(tools)
                        await anyio.sleep_forever()
            except Exception as exc:
                if not self._ready.done():
                    failed = "could not be reached" if self.target.url else "could not be started"
                    self._ready.set_exception(self._gone(f"{failed}: {_reason(exc)}"))
            finally:
                self._client = None
                await portal.stop(cancel_remaining=True)

    def _server(self, mcp: Any) -> Any:
        target = self.target
        if target.url is not None:
            return target.url
        from mcp.client.stdio import stdio_client

        parameters = mcp.StdioServerParameters(
            command=target.command[0],
            args=list(target.command[1:]),
            env=dict(target.env) or None,
            cwd=target.cwd,
        )
        assert self._stderr is not None  # made by start() for a command
        return stdio_client(parameters, errlog=self._stderr)

    async def _wake(self) -> None:
        if self._scope is not None:
            self._scope.cancel()

    async def _list_tools(self, client: Any) -> list[McpToolSpec]:
        specs: list[McpToolSpec] = []
        cursor = None
        for _ in range(MAX_PAGES):
            page = await client.list_tools(cursor=cursor)
            specs.extend(
                McpToolSpec(
                    name=tool.name,
                    description=tool.description or tool.title or "",
                    input_schema=dict(tool.input_schema),
                )
                for tool in page.tools
            )
            cursor = page.next_cursor
            if cursor is None:
                break
        return specs

    async def _call(
        self,
        name: str,
        arguments: dict[str, Any],
        timeout: float | None,
        on_progress: Callable[[str], None] | None,
    ) -> McpCallResult:
        from mcp import MCPError

        client = self._client
        if client is None:
            raise McpConnectionError(f"the MCP session with {self._who} is closed")

        async def progress(done: float, total: float | None, message: str | None) -> None:
            if on_progress is not None:
                on_progress(progress_text(done, total, message))

        try:
            result = await client.call_tool(
                name,
                arguments,
                read_timeout_seconds=timeout,
                progress_callback=progress if on_progress is not None else None,
            )
        except MCPError as exc:
            if exc.code == _REQUEST_TIMEOUT:
                raise McpToolError(
                    f"MCP tool {name!r} did not answer within {timeout:g} s",
                    tool_name=name,
                    timed_out=True,
                ) from None
            if exc.code == _CONNECTION_CLOSED:
                raise self._gone(f"hung up during a call to {name!r}") from None
            raise McpToolError(f"MCP tool {name!r} failed: {exc.message}", tool_name=name) from None
        except Exception as exc:  # the package's own failures (invalid results, …)
            raise McpToolError(f"MCP tool {name!r} failed: {_reason(exc)}", tool_name=name) from exc
        content = [block.model_dump(mode="json", by_alias=True) for block in result.content]
        return call_result(content, result.structured_content, bool(result.is_error))


def _reason(exc: BaseException) -> str:
    """An exception as one line; an exception group by its first leaf."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return f"{type(exc).__name__}: {exc}"
