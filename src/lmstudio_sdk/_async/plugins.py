"""``client.plugins``: use plugins the server hosts — a generator plugin in place of a model.

Source of truth for both faces (see ``scripts/unasync.py``).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from types import TracebackType
from typing import Any, Never

import msgspec

from .._exceptions import (
    LMStudioError,
    LMStudioValueError,
    LocalProtocolError,
    ToolCallError,
    server_error,
)
from .._protocol.act import GeneratorActResult, ToolCallOutcome, ToolErrorMode
from .._protocol.chat import Chat, ChatLike, to_history
from .._protocol.errors import parse_error_data
from .._protocol.generator import GeneratorResult, GeneratorState
from .._protocol.mcp import mcp_target
from .._protocol.packets import ENDPOINTS
from .._protocol.packets.plugins import (
    GenerateWithGeneratorCreationParameter,
    StartToolUseSessionCallToolPacket,
    StartToolUseSessionCreationParameter,
    StartToolUseSessionSessionReadyPacket,
    StartToolUseSessionToolCallCompletePacket,
    StartToolUseSessionToolCallErrorPacket,
    StartToolUseSessionToolCallStatusPacket,
    StartToolUseSessionToolCallWarnPacket,
)
from .._protocol.packets.shared import (
    ChatMessageData,
    KVConfig,
    KVConfigField,
    PredictionFragment,
    StartToolUseSessionCreationParameterPluginConfigSpecifierDirect,
    ToolDefinition,
)
from .._protocol.plugin_config import PLUGINS_KEY
from .._protocol.prediction import (
    PredictionEvent,
    ToolCallArgumentFragment,
    ToolCallGenerationEnded,
    ToolCallGenerationStarted,
    ToolCallNameReceived,
)
from .._protocol.tools import Tool, ToolLike, tool_from_schema
from .._transport.asyncio import AsyncLock
from .._types import (
    NOT_GIVEN,
    AsyncCallback,
    AsyncRoundCallback,
    Timeout,
    check_timeout,
    checked_arguments,
    reject_unknown_arguments,
    run_async_callback,
)
from .act import AsyncActCallbacks, AsyncGuard, AsyncInvalidRequestHandler, run_generator_act
from .mcp import AsyncMcpTools
from .pool import AsyncSessionPool
from .session import AsyncChannel, encode_payload

__all__ = [
    "AsyncGeneratorHandle",
    "AsyncGeneratorStream",
    "AsyncMcpTools",
    "AsyncPluginToolsSession",
    "AsyncPluginsNamespace",
    "plugins_field",
]

_CANCEL = {"type": "cancel"}


def _identifier(value: object) -> str:
    if not isinstance(value, str) or value.count("/") != 1 or "" in value.split("/"):
        raise LMStudioValueError(
            f"a plugin identifier is 'owner/name' as in its manifest.json, not {value!r}"
        )
    return value


def _plugin_kv(config: object) -> KVConfig:
    if config is None:
        return KVConfig(fields=[])
    if not isinstance(config, Mapping) or not all(isinstance(k, str) for k in config):
        raise LMStudioValueError(
            f"a plugin config is a mapping of its field names to values, not {config!r}"
        )
    return KVConfig(fields=[KVConfigField(key=k, value=v) for k, v in config.items()])


def check_timeout_arg(timeout: Timeout, name: str = "timeout") -> Timeout:
    return timeout if timeout is NOT_GIVEN else check_timeout(timeout, name)


def _tools(tools: object) -> list[ToolDefinition]:
    if tools is None:
        return []
    if not isinstance(tools, list | tuple):
        raise LMStudioValueError(f"tools must be a list of tool definitions, not {tools!r}")
    try:
        return [
            t if isinstance(t, ToolDefinition) else msgspec.convert(t, ToolDefinition)
            for t in tools
        ]
    except msgspec.ValidationError as exc:
        raise LMStudioValueError(
            "each tool is {'type': 'function', 'function': {'name': …, 'parameters': {…}}}: "
            f"{exc}"
        ) from None


def plugins_field(plugins: object) -> dict[str, Any]:
    """The raw prediction config that runs ``plugins`` (identifiers, or (identifier, config)
    pairs) for one prediction: pass it as ``config={"raw": plugins_field([...])}``."""
    if not isinstance(plugins, list | tuple):
        raise LMStudioValueError(
            "plugins is a list of 'owner/name' identifiers or ('owner/name', {config}) pairs"
        )
    items = []
    for item in plugins:
        identifier, config = item if isinstance(item, tuple) and len(item) == 2 else (item, None)
        kv = _plugin_kv(config)
        items.append(
            {"identifier": _identifier(identifier), "config": {f.key: f.value for f in kv.fields}}
        )
    return {PLUGINS_KEY: items}


class AsyncGeneratorStream:
    """One generation by a generator plugin: iterate it for fragments, or ``result()``."""

    def __init__(
        self, pool: AsyncSessionPool, parameter: Any, plugin: str, timeout: float | None
    ) -> None:
        self._pool = pool
        self._parameter = parameter
        self._timeout = timeout
        self._state = GeneratorState(plugin)
        self._channel: AsyncChannel | None = None
        self._failure: BaseException | None = None
        self._done = False

    async def __aiter__(self) -> AsyncIterator[PredictionFragment]:
        async for event in self.events():
            if isinstance(event, PredictionFragment):
                yield event

    @checked_arguments
    async def events(self) -> AsyncIterator[PredictionEvent]:
        """Every event, typed as a model prediction's: ``PredictionFragment``,
        ``PromptProcessingProgress`` and the tool-call events (``ToolCallGenerationEnded``
        carries each call the generator made)."""
        try:
            while not self._done:
                for event in await self._step():
                    yield event
        finally:
            if not self._done:
                self.cancel()

    @checked_arguments
    async def result(self) -> GeneratorResult:
        """Wait for the end of the generation (consuming what was not iterated yet)."""
        while not self._done:
            await self._step()
        if self._failure is not None:
            raise self._failure
        return self._state.result()

    @checked_arguments
    def cancel(self) -> None:
        """Ask the server to stop the generator. Never blocks."""
        if self._channel is not None and not self._done:
            self._channel.send(_CANCEL)

    @checked_arguments
    async def aclose(self) -> None:
        """Stop listening: cancel the generation if it is still running."""
        if not self._done:
            self.cancel()
            self._done = True
            self._failure = LocalProtocolError("the stream was closed before the generator ended")
            if self._channel is not None:
                self._channel.abandon()

    async def __aenter__(self) -> AsyncGeneratorStream:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def _step(self) -> list[PredictionEvent]:
        if self._channel is None:
            self._channel = await self._pool.open_channel(
                "plugins", "generateWithGenerator", self._parameter, self._timeout
            )
        channel = self._channel
        try:
            message = await channel.receive(self._timeout)
        except LMStudioError as exc:
            if channel.finished:
                self._done = True
                self._failure = exc
            else:
                self.cancel()
            raise
        except BaseException:
            self.cancel()
            raise
        if message is None:
            self._done = True
            self._state.channel_closed()
            return []
        events = self._state.feed(message)
        if self._state.finished:
            self._done = True
            channel.abandon()
        return events


class AsyncGeneratorHandle:
    """A generator plugin used like a model: ``respond()`` / ``respond_stream()``."""

    def __init__(self, pool: AsyncSessionPool, identifier: str, config: KVConfig) -> None:
        self._pool = pool
        self.identifier = identifier
        self._config = config

    @checked_arguments
    def respond_stream(
        self, chat: ChatLike, *, tools: list[Any] | None = None, timeout: Timeout = NOT_GIVEN
    ) -> AsyncGeneratorStream:
        """Start a generation; nothing is sent until the first iteration or ``result()``.

        ``tools``: tool definitions offered to the generator (the wire's
        ``{"type": "function", "function": {...}}``).
        """
        parameter = GenerateWithGeneratorCreationParameter(
            plugin_identifier=self.identifier,
            plugin_config_specifier=StartToolUseSessionCreationParameterPluginConfigSpecifierDirect(
                config=self._config
            ),
            tools=_tools(tools),
            history=to_history(chat),
        )
        encode_payload(parameter, "creation parameter")  # refuse unsendable input now
        return AsyncGeneratorStream(
            self._pool, parameter, self.identifier, self._pool.timeout_for(timeout)
        )

    @checked_arguments
    async def respond(
        self, chat: ChatLike, *, tools: list[Any] | None = None, timeout: Timeout = NOT_GIVEN
    ) -> GeneratorResult:
        """The generator's whole answer."""
        return await self.respond_stream(chat, tools=tools, timeout=timeout).result()

    @checked_arguments
    async def act(
        self,
        chat: ChatLike,
        tools: Iterable[ToolLike],
        *,
        max_prediction_rounds: int | None = None,
        max_parallel_tool_calls: int | None = 4,
        on_tool_error: ToolErrorMode = "report",
        tool_timeout: Timeout = None,
        timeout: Timeout = NOT_GIVEN,
        on_round_start: AsyncCallback[int] | None = None,
        on_round_end: AsyncCallback[int] | None = None,
        on_message: AsyncCallback[ChatMessageData] | None = None,
        on_first_token: AsyncCallback[int] | None = None,
        on_prediction_fragment: AsyncRoundCallback[PredictionFragment] | None = None,
        on_prompt_processing_progress: AsyncRoundCallback[float] | None = None,
        on_prediction_completed: AsyncCallback[GeneratorResult] | None = None,
        on_tool_call_start: AsyncRoundCallback[ToolCallGenerationStarted] | None = None,
        on_tool_call_name: AsyncRoundCallback[ToolCallNameReceived] | None = None,
        on_tool_call_argument_fragment: AsyncRoundCallback[ToolCallArgumentFragment] | None = None,
        on_tool_call_end: AsyncRoundCallback[ToolCallGenerationEnded] | None = None,
        on_tool_call_result: AsyncRoundCallback[ToolCallOutcome] | None = None,
        on_tool_call_failure: AsyncRoundCallback[ToolCallError] | None = None,
        guard_tool_call: AsyncGuard | None = None,
        handle_invalid_tool_request: AsyncInvalidRequestHandler | None = None,
    ) -> GeneratorActResult:
        """``act()`` with the generator in the model's place: each round is one generation,
        offered the tools (as the official TS SDK's generator handle does); the tool calls it
        emits run here and their results go back in the next round's history, until a round
        makes no call (or ``max_prediction_rounds``, whose last round offers no tools).

        The options and callbacks are ``LLM.act()``'s (no ``config``/``preset``: a
        generator's config is the handle's); ``on_prediction_completed`` receives each
        round's ``GeneratorResult``.
        """
        callbacks = AsyncActCallbacks(
            on_round_start=on_round_start,
            on_round_end=on_round_end,
            on_message=on_message,
            on_first_token=on_first_token,
            on_prediction_fragment=on_prediction_fragment,
            on_prompt_processing_progress=on_prompt_processing_progress,
            on_prediction_completed=on_prediction_completed,
            on_tool_call_start=on_tool_call_start,
            on_tool_call_name=on_tool_call_name,
            on_tool_call_argument_fragment=on_tool_call_argument_fragment,
            on_tool_call_end=on_tool_call_end,
            on_tool_call_result=on_tool_call_result,
            on_tool_call_failure=on_tool_call_failure,
            guard_tool_call=guard_tool_call,
            handle_invalid_tool_request=handle_invalid_tool_request,
        )
        limit = check_timeout_arg(timeout)

        def generate(target: Chat, definitions: list[dict[str, Any]]) -> AsyncGeneratorStream:
            return self.respond_stream(target, tools=definitions, timeout=limit)

        return await run_generator_act(
            generate,
            chat,
            tools,
            max_prediction_rounds=max_prediction_rounds,
            max_parallel_tool_calls=max_parallel_tool_calls,
            on_tool_error=on_tool_error,
            tool_timeout=tool_timeout,
            callbacks=callbacks,
        )


class AsyncPluginToolsSession:
    """A tools provider plugin's tool-use session: its tool definitions, and calls to them.

    Open it with ``async with`` (or ``await open()``); leaving the block discards the session.
    Calls are sent one at a time.
    """

    def __init__(
        self,
        pool: AsyncSessionPool,
        identifier: str,
        config: KVConfig,
        working_directory: str | None,
        timeout: float | None,
    ) -> None:
        self._pool = pool
        self.identifier = identifier
        self._parameter = StartToolUseSessionCreationParameter(
            plugin_identifier=identifier,
            plugin_config_specifier=StartToolUseSessionCreationParameterPluginConfigSpecifierDirect(
                config=config, working_directory_path=working_directory
            ),
        )
        self._timeout = timeout
        self._channel: AsyncChannel | None = None
        self._lock = AsyncLock()
        self._calls = 0
        self.definitions: list[ToolDefinition] = []

    @checked_arguments
    async def open(self) -> AsyncPluginToolsSession:
        """Start the session (the plugin builds its tools for it); returns the session."""
        if self._channel is not None:
            return self
        channel = await self._pool.open_channel(
            "plugins", "startToolUseSession", self._parameter, self._timeout
        )
        try:
            raw = await channel.receive(self._timeout)
        except BaseException:
            channel.abandon()
            raise
        if raw is None:
            raise LocalProtocolError("the server closed the tool-use session before it was ready")
        packet = msgspec.json.decode(raw, type=_TOOLS_TO_CLIENT)
        if not isinstance(packet, StartToolUseSessionSessionReadyPacket):
            channel.abandon()
            raise LocalProtocolError(f"expected sessionReady, got {type(packet).__name__}")
        self.definitions = list(packet.tool_definitions)
        self._channel = channel
        return self

    @property
    def names(self) -> list[str]:
        """The names of the session's tools, in the plugin's order."""
        return [d.function.name for d in self.definitions]

    @property
    def tools(self) -> list[Tool[..., Any]]:
        """The session's tools as ``Tool``s for ``act()``: each call goes to the plugin."""
        return [self._remote_tool(d) for d in self.definitions]

    def _remote_tool(self, definition: ToolDefinition) -> Tool[..., Any]:
        name = definition.function.name

        async def implementation(**arguments: Any) -> Any:
            return await self.call(name, arguments)

        return tool_from_schema(
            name,
            definition.function.description or "",
            msgspec.to_builtins(definition.function.parameters),
            implementation,
        )

    @checked_arguments
    async def call(
        self,
        name: str,
        arguments: Mapping[str, Any] | None = None,
        *,
        on_status: AsyncCallback[str] | None = None,
        on_warn: AsyncCallback[str] | None = None,
        timeout: Timeout = NOT_GIVEN,
    ) -> Any:
        """Call one of the session's tools; its result (JSON values), or the plugin's error as
        ``LMStudioServerError``. ``on_status`` / ``on_warn`` receive the tool's reports."""
        channel = self._channel
        if channel is None:
            raise LocalProtocolError("open the session first (async with … / open())")
        if name not in self.names:
            raise LMStudioValueError(
                f"plugin {self.identifier} has no tool {name!r}; its tools: {', '.join(self.names)}"
            )
        if arguments is not None and not isinstance(arguments, Mapping):
            raise LMStudioValueError(f"tool arguments are a mapping, not {arguments!r}")
        limit = self._pool.timeout_for(timeout)
        async with self._lock.hold(limit):
            self._calls += 1
            call_id = self._calls
            channel.send(
                StartToolUseSessionCallToolPacket(
                    call_id=call_id, name=name, arguments=dict(arguments or {})
                )
            )
            while True:
                try:
                    raw = await channel.receive(limit)
                except BaseException:
                    channel.send({"type": "abortToolCall", "callId": call_id})
                    raise
                if raw is None:
                    raise LocalProtocolError("the server closed the tool-use session")
                packet = msgspec.json.decode(raw, type=_TOOLS_TO_CLIENT)
                if getattr(packet, "call_id", None) != call_id:
                    continue  # a late answer to an aborted call
                match packet:
                    case StartToolUseSessionToolCallCompletePacket(result=result):
                        return result
                    case StartToolUseSessionToolCallErrorPacket(error=error):
                        raise server_error(parse_error_data(msgspec.to_builtins(error)))
                    case StartToolUseSessionToolCallStatusPacket(status_text=text):
                        await run_async_callback(on_status, text)
                    case StartToolUseSessionToolCallWarnPacket(warn_text=text):
                        await run_async_callback(on_warn, text)

    @checked_arguments
    async def aclose(self) -> None:
        """Discard the session (the plugin frees its tools)."""
        channel, self._channel = self._channel, None
        if channel is not None:
            channel.send({"type": "discardSession"})
            channel.abandon()

    async def __aenter__(self) -> AsyncPluginToolsSession:
        return await self.open()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


_TOOLS_TO_CLIENT = ENDPOINTS["plugins", "startToolUseSession"].to_client


class AsyncPluginsNamespace:
    """``client.plugins``: plugins hosted by the server."""

    def __init__(self, pool: AsyncSessionPool) -> None:
        self._pool = pool

    def generator(
        self, plugin_identifier: str, *, config: Mapping[str, Any] | None = None, **unknown: Never
    ) -> AsyncGeneratorHandle:
        """A handle on a generator plugin (``owner/name``); ``config`` sets its config fields
        (the server fills in the defaults and refuses unknown fields or unfit values)."""
        reject_unknown_arguments("plugins.generator()", unknown, ("plugin_identifier", "config"))
        return AsyncGeneratorHandle(self._pool, _identifier(plugin_identifier), _plugin_kv(config))

    def plugin_tools(
        self,
        plugin_identifier: str,
        *,
        config: Mapping[str, Any] | None = None,
        working_directory: str | None = None,
        timeout: Timeout = NOT_GIVEN,
        **unknown: Never,
    ) -> AsyncPluginToolsSession:
        """A tool-use session with a tools provider plugin (``async with`` opens it)."""
        reject_unknown_arguments(
            "plugins.plugin_tools()",
            unknown,
            ("plugin_identifier", "config", "working_directory", "timeout"),
        )
        if working_directory is not None and not isinstance(working_directory, str):
            raise LMStudioValueError(
                f"working_directory must be a string path, not {type(working_directory).__name__}"
            )
        return AsyncPluginToolsSession(
            self._pool,
            _identifier(plugin_identifier),
            _plugin_kv(config),
            working_directory,
            self._pool.timeout_for(check_timeout_arg(timeout)),
        )

    def mcp_tools(
        self,
        command: Sequence[str] | None = None,
        *,
        url: str | None = None,
        env: Mapping[str, str] | None = None,
        cwd: str | os.PathLike[str] | None = None,
        allowed_tools: Sequence[str] | None = None,
        timeout: Timeout = NOT_GIVEN,
        connect_timeout: Timeout = NOT_GIVEN,
        **unknown: Never,
    ) -> AsyncMcpTools:
        """The tools of an MCP server, for ``act()`` (needs ``pip install 'lmstudio-sdk[mcp]'``).

        ``command``: the program and its arguments, run with the stdio transport (``env``: extra
        variables over the few the mcp package passes on, such as PATH and HOME; ``cwd``: its
        folder); or ``url``: a streamable-HTTP endpoint. ``allowed_tools``: offer only these.
        ``timeout``: each tool call's limit (a call past it is cancelled on the server and
        becomes a tool error the model sees); ``connect_timeout``: starting and listing the
        tools; both default to the client's timeout. ``async with`` opens it.
        """
        reject_unknown_arguments(
            "plugins.mcp_tools()",
            unknown,
            ("command", "url", "env", "cwd", "allowed_tools", "timeout", "connect_timeout"),
        )
        target = mcp_target(command, url, env, cwd)
        if allowed_tools is not None and (
            isinstance(allowed_tools, str)
            or not isinstance(allowed_tools, Sequence)
            or not all(isinstance(name, str) for name in allowed_tools)
        ):
            raise LMStudioValueError("allowed_tools is a list of the MCP server's tool names")
        return AsyncMcpTools(
            target,
            timeout=self._pool.timeout_for(check_timeout_arg(timeout)),
            connect_timeout=self._pool.timeout_for(
                check_timeout_arg(connect_timeout, "connect_timeout")
            ),
            allowed_tools=None if allowed_tools is None else list(allowed_tools),
        )
