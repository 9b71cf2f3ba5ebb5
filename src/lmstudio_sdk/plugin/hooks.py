"""What a hook receives: its controller (config, status updates, history, abort) and the types
it returns.

A hook is a plain function, sync or async. Async hooks run on the runner's event loop and are
cancelled when the prediction is aborted; sync hooks run in a worker thread and see
``ctl.aborted`` turn true (the runner answers the abort at once either way).
"""

from __future__ import annotations

import asyncio
import contextvars
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from .._exceptions import LMStudioError
from .._protocol.packets.plugins import (
    ProcessingHandleUpdateParameter,
    ProcessingHandleUpdateParameterUpdateStatusCreate,
    ProcessingHandleUpdateParameterUpdateStatusCreateState,
    ProcessingHandleUpdateParameterUpdateStatusUpdate,
    ProcessingPullHistoryParameter,
)
from .._protocol.packets.shared import ChatHistoryData, ToolDefinition, UserMessageData

__all__ = [
    "GeneratorController",
    "HookAborted",
    "HookError",
    "PreprocessorController",
    "StatusHandle",
    "ToolCall",
    "ToolsProviderController",
    "tool_status",
    "tool_warn",
]

ConfigT = TypeVar("ConfigT")
GlobalConfigT = TypeVar("GlobalConfigT")

# The statuses LM Studio shows next to a status text.
STATUSES = ("waiting", "loading", "done", "error", "canceled")


class HookError(LMStudioError):
    """Raise it from a hook to fail the prediction with this title (and an optional cause and
    suggestion) instead of a traceback summary."""

    def __init__(self, title: str, *, cause: str | None = None, suggestion: str | None = None):
        super().__init__(title)
        self.title = title
        self.cause = cause
        self.suggestion = suggestion


class HookAborted(LMStudioError):
    """Raised by ``ctl.check_aborted()`` once the prediction was aborted."""


@dataclass(frozen=True, slots=True)
class ToolCall:
    """A tool call a generator emits (``yield ToolCall("add", {"a": 1, "b": 2})``)."""

    name: str
    arguments: dict[str, Any] = field(default_factory=dict)
    id: str | None = None


# (endpoint, parameter) -> awaitable result (raw JSON bytes decoded by the caller)
Rpc = Callable[[str, Any], Awaitable[Any]]


class _Controller(Generic[ConfigT, GlobalConfigT]):
    def __init__(
        self,
        *,
        plugin: str,
        config: ConfigT,
        global_config: GlobalConfigT,
        loop: asyncio.AbstractEventLoop,
    ) -> None:
        self.plugin = plugin
        self.config = config
        self.global_config = global_config
        self._loop = loop
        self._aborted = threading.Event()

    @property
    def aborted(self) -> bool:
        """True once the prediction this hook serves was aborted."""
        return self._aborted.is_set()

    def check_aborted(self) -> None:
        """Raise ``HookAborted`` if the prediction was aborted (for long sync hooks)."""
        if self._aborted.is_set():
            raise HookAborted(f"the prediction served by plugin {self.plugin} was aborted")

    def _abort(self) -> None:
        self._aborted.set()


class StatusHandle:
    """A status line shown during the prediction; ``update()`` changes it."""

    def __init__(self, controller: PreprocessorController[Any, Any], status_id: str) -> None:
        self._controller = controller
        self.id = status_id

    def update(self, text: str, status: str = "loading") -> None:
        """Change the status line shown in LM Studio's chat.

        Args:
            text: The new text.
            status: ``loading``, ``waiting``, ``done``, ``error`` or ``canceled``.
        """
        self._controller._send_status(self.id, text, status, create=False)


class PreprocessorController(_Controller[ConfigT, GlobalConfigT]):
    """What a prompt preprocessor may do besides returning the new message."""

    def __init__(
        self,
        *,
        plugin: str,
        config: ConfigT,
        global_config: GlobalConfigT,
        loop: asyncio.AbstractEventLoop,
        message: UserMessageData,
        pci: str,
        token: str,
        rpc: Rpc,
    ) -> None:
        super().__init__(plugin=plugin, config=config, global_config=global_config, loop=loop)
        self.message = message
        self._pci = pci
        self._token = token
        self._rpc = rpc
        self._statuses = 0
        self._pending: set[asyncio.Future[Any]] = set()

    def status(self, text: str, status: str = "loading") -> StatusHandle:
        """Show a status line (``status``: waiting, loading, done, error or canceled).

        Never blocks; callable from sync hooks (worker thread) and async hooks alike.
        """
        self._statuses += 1
        handle = StatusHandle(self, f"status-{self._statuses}")
        self._send_status(handle.id, text, status, create=True)
        return handle

    def _send_status(self, status_id: str, text: str, status: str, *, create: bool) -> None:
        if status not in STATUSES:
            raise HookError(f"status must be one of {', '.join(STATUSES)}, not {status!r}")
        state = ProcessingHandleUpdateParameterUpdateStatusCreateState(status=status, text=text)
        update = (
            ProcessingHandleUpdateParameterUpdateStatusCreate(id=status_id, state=state)
            if create
            else ProcessingHandleUpdateParameterUpdateStatusUpdate(id=status_id, state=state)
        )
        parameter = ProcessingHandleUpdateParameter(pci=self._pci, token=self._token, update=update)
        self._call_soon(self._rpc("processingHandleUpdate", parameter))

    def _call_soon(self, coro: Awaitable[Any]) -> None:
        async def run() -> None:
            await coro

        def start() -> None:
            task = asyncio.ensure_future(run())
            self._pending.add(task)
            task.add_done_callback(self._pending.discard)

        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self._loop:
            start()
        else:
            self._loop.call_soon_threadsafe(start)

    async def pull_history(self) -> ChatHistoryData:
        """The chat before the message being preprocessed (async hooks)."""
        parameter = ProcessingPullHistoryParameter(
            pci=self._pci, token=self._token, include_current=False
        )
        result: ChatHistoryData = await self._rpc("processingPullHistory", parameter)
        return result

    def pull_history_blocking(self, timeout: float = 30.0) -> ChatHistoryData:
        """``pull_history()`` for sync hooks (they run in a worker thread)."""
        future = asyncio.run_coroutine_threadsafe(self.pull_history(), self._loop)
        return future.result(timeout)

    async def flush(self) -> None:
        """Wait until the status updates sent so far reached the server."""
        if self._pending:
            await asyncio.gather(*self._pending, return_exceptions=True)


class GeneratorController(_Controller[ConfigT, GlobalConfigT]):
    """What a generator may read: its config and the tools the caller offers."""

    def __init__(
        self,
        *,
        plugin: str,
        config: ConfigT,
        global_config: GlobalConfigT,
        loop: asyncio.AbstractEventLoop,
        tool_definitions: list[ToolDefinition],
    ) -> None:
        super().__init__(plugin=plugin, config=config, global_config=global_config, loop=loop)
        self.tool_definitions = tool_definitions


class ToolsProviderController(_Controller[ConfigT, GlobalConfigT]):
    """What a tools provider reads when a tool-use session starts."""

    def __init__(
        self,
        *,
        plugin: str,
        config: ConfigT,
        global_config: GlobalConfigT,
        loop: asyncio.AbstractEventLoop,
        working_directory: str | None,
    ) -> None:
        super().__init__(plugin=plugin, config=config, global_config=global_config, loop=loop)
        self.working_directory = working_directory


class _ToolCallReporter:
    """Sends a running tool call's status and warnings (set for the call by the runner)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, send: Callable[[str, str], None]):
        self._loop = loop
        self._send = send  # (kind: "status" | "warn", text)

    def report(self, kind: str, text: str) -> None:
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self._loop:
            self._send(kind, text)
        else:
            self._loop.call_soon_threadsafe(self._send, kind, text)


CURRENT_TOOL_CALL: contextvars.ContextVar[_ToolCallReporter | None] = contextvars.ContextVar(
    "lmstudio_sdk_plugin_tool_call", default=None
)


def _report(kind: str, text: str) -> None:
    if not isinstance(text, str):
        raise HookError(f"tool_{kind}() takes a string, not {type(text).__name__}")
    reporter = CURRENT_TOOL_CALL.get()
    if reporter is None:
        raise HookError(f"tool_{kind}() works only inside a tool called through a tools provider")
    reporter.report(kind, text)


def tool_status(text: str) -> None:
    """From inside a tool of a tools provider: show the caller a status text for this call."""
    _report("status", text)


def tool_warn(text: str) -> None:
    """From inside a tool of a tools provider: send the caller a warning about this call."""
    _report("warn", text)
