"""Load a plugin folder and serve its hooks on ``/plugins``.

A plugin is a folder in LM Studio's layout: ``manifest.json`` (``{"type": "plugin",
"runner": "python", "owner": …, "name": …}``) and ``src/plugin.py``, which defines any of the
hooks ``preprocess_prompt(ctl, text)``, ``generate(ctl, history)`` and
``provide_tools(ctl)``, and optionally the config dataclasses ``Config`` and ``GlobalConfig``.

The runner opens one channel per hook, sends the config schematics, says
``pluginInitCompleted`` and answers every request in its own task: a hook that raises is
reported to the server (its error, or a short traceback summary) and the plugin keeps serving.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import importlib.util
import inspect
import json
import logging
import os
import re
import sys
import threading
import traceback
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import msgspec

from .._async.client import base_url_from_host
from .._async.pool import AsyncSessionPool
from .._async.session import AsyncChannel
from .._exceptions import LMStudioError, LMStudioValueError
from .._protocol.identity import Identity
from .._protocol.packets import ENDPOINTS
from .._protocol.packets.plugins import (
    SetGeneratorFragmentGeneratedPacket,
    SetGeneratorFragmentGeneratedPacketOpts,
    SetGeneratorGeneratePacket,
    SetGeneratorToolCallGenerationArgumentFragmentGeneratedPacket,
    SetGeneratorToolCallGenerationEndedPacket,
    SetGeneratorToolCallGenerationNameReceivedPacket,
    SetGeneratorToolCallGenerationStartedPacket,
    SetPromptPreprocessorCompletePacket,
    SetPromptPreprocessorPreprocessPacket,
    SetToolsProviderAbortToolCallPacket,
    SetToolsProviderCallToolPacket,
    SetToolsProviderDiscardSessionPacket,
    SetToolsProviderInitSessionPacket,
    SetToolsProviderSessionInitializationFailedPacket,
    SetToolsProviderSessionInitializedPacket,
    SetToolsProviderToolCallCompletePacket,
    SetToolsProviderToolCallErrorPacket,
    SetToolsProviderToolCallStatusPacket,
    SetToolsProviderToolCallWarnPacket,
)
from .._protocol.packets.shared import (
    ChatMessageData,
    SerializedError,
    SetConfigSchematicsParameter,
    SetPredictionLoopHandlerCompletePacket,
    SetPromptPreprocessorAbortedPacket,
    SetPromptPreprocessorAbortPacket,
    SetPromptPreprocessorErrorPacket,
    TextPart,
    ToolCallRequest,
    UserMessageData,
)
from .config import config_from_kv, schematics_of
from .hooks import (
    CURRENT_TOOL_CALL,
    GeneratorController,
    HookError,
    PreprocessorController,
    ToolCall,
    ToolsProviderController,
    _ToolCallReporter,
)
from .tools import ServedTool, served_tools

__all__ = [
    "ENV_BASE_URL",
    "ENV_CLIENT_ID",
    "ENV_CLIENT_KEY",
    "PluginDefinition",
    "PluginRunner",
    "load_plugin",
    "read_manifest",
]

logger = logging.getLogger("lmstudio_sdk.plugin")

ENV_CLIENT_ID = "LMS_PLUGIN_CLIENT_IDENTIFIER"
ENV_CLIENT_KEY = "LMS_PLUGIN_CLIENT_PASSKEY"
ENV_BASE_URL = "LMS_PLUGIN_BASE_URL"

# hook function name in src/plugin.py -> the hook's name on the wire
HOOKS = {
    "preprocess_prompt": "promptPreprocessor",
    "generate": "generator",
    "provide_tools": "toolsProvider",
}
_CHANNELS = {
    "promptPreprocessor": "setPromptPreprocessor",
    "generator": "setGenerator",
    "toolsProvider": "setToolsProvider",
}
# How many traceback lines a failing hook reports (the full one goes to the plugin's log).
TRACEBACK_LINES = 6


class PluginLoadError(LMStudioValueError):
    """The plugin folder is not a plugin this runner can serve (the message says why)."""


@dataclass
class PluginDefinition:
    """A plugin as ``load_plugin`` found it: its folder, manifest, hooks and config classes."""

    directory: Path
    manifest: dict[str, Any]
    hooks: dict[str, Callable[..., Any]] = field(default_factory=dict)
    config: type | None = None
    global_config: type | None = None

    @property
    def identifier(self) -> str:
        """``owner/name`` from the manifest: the plugin's identifier in LM Studio."""
        return f"{self.manifest['owner']}/{self.manifest['name']}"


def read_manifest(directory: str | os.PathLike[str]) -> dict[str, Any]:
    """``manifest.json`` of a plugin folder, checked (LM Studio's format, Python runner)."""
    path = Path(directory) / "manifest.json"
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PluginLoadError(
            f"{path} does not exist: a plugin folder has a manifest.json"
        ) from None
    except (OSError, ValueError) as exc:
        raise PluginLoadError(f"{path} is not readable JSON: {exc}") from None
    if not isinstance(manifest, dict) or manifest.get("type") != "plugin":
        raise PluginLoadError(f'{path}: "type" must be "plugin"')
    for key in ("owner", "name"):
        if not isinstance(manifest.get(key), str) or not manifest[key]:
            raise PluginLoadError(f'{path}: "{key}" must be a non-empty string')
    if manifest.get("runner") != "python":
        raise PluginLoadError(
            f'{path}: "runner" is {manifest.get("runner")!r}; this runner serves "python" plugins'
        )
    return manifest


def load_plugin(directory: str | os.PathLike[str]) -> PluginDefinition:
    """Read the manifest and run ``src/plugin.py`` (its folder is importable by the plugin)."""
    folder = Path(directory).resolve()
    manifest = read_manifest(folder)
    source = folder / "src" / "plugin.py"
    if not source.is_file():
        raise PluginLoadError(f"{source} does not exist: a plugin's code is src/plugin.py")
    if str(source.parent) not in sys.path:
        sys.path.insert(0, str(source.parent))
    module_name = "lmstudio_plugin_" + re.sub(r"\W", "_", f"{manifest['owner']}_{manifest['name']}")
    spec = importlib.util.spec_from_file_location(module_name, source)
    assert spec is not None and spec.loader is not None  # a .py file always has both
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module  # its dataclasses' annotations resolve in its namespace
    spec.loader.exec_module(module)
    namespace = vars(module)
    plugin = PluginDefinition(folder, manifest)
    for name in HOOKS:
        hook = namespace.get(name)
        if hook is not None:
            if not callable(hook):
                raise PluginLoadError(f"{source}: {name} must be a function")
            plugin.hooks[name] = hook
    if not plugin.hooks:
        raise PluginLoadError(f"{source} defines no hook; define one of: {', '.join(HOOKS)}")
    plugin.config = namespace.get("Config")
    plugin.global_config = namespace.get("GlobalConfig")
    schematics_of(plugin.config)  # refuse a bad config now, not at the first request
    schematics_of(plugin.global_config)
    return plugin


def _error_of(exc: BaseException) -> SerializedError:
    """What the server hears when a hook raised: its HookError, or a short traceback summary."""
    if isinstance(exc, HookError):
        return SerializedError(
            title=exc.title,
            cause=exc.cause if exc.cause is not None else msgspec.UNSET,
            suggestion=exc.suggestion if exc.suggestion is not None else msgspec.UNSET,
        )
    lines = "".join(traceback.format_exception(exc)).rstrip().splitlines()
    return SerializedError(
        title=f"{type(exc).__name__}: {exc}",
        stack="\n".join(lines[-TRACEBACK_LINES:]),
    )


def _in_thread(function: Callable[..., Any], *args: Any) -> asyncio.Future[Any]:
    """Run a sync hook in a daemon thread: a hook that never returns cannot hold up the
    plugin's exit (asyncio.to_thread's executor threads are joined at exit)."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[Any] = loop.create_future()

    def settle(result: Any, error: BaseException | None) -> None:
        if future.done():
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)

    def run() -> None:
        try:
            outcome: tuple[Any, BaseException | None] = (function(*args), None)
        except BaseException as exc:  # handed to the awaiting task
            outcome = (None, exc)
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits any more
            loop.call_soon_threadsafe(settle, *outcome)

    context = contextvars.copy_context()  # a tool's status reporter follows it into the thread
    threading.Thread(
        target=context.run, args=(run,), name="lmstudio-plugin-hook", daemon=True
    ).start()
    return future


async def _call(hook: Callable[..., Any], *args: Any) -> Any:
    """Run a hook: async ones on the loop, sync ones in a worker thread."""
    if inspect.iscoroutinefunction(hook) or inspect.isasyncgenfunction(hook):
        result = hook(*args)
    else:
        result = await _in_thread(hook, *args)
    if inspect.isawaitable(result):
        result = await result
    return result


async def _items(result: Any) -> AsyncIterator[Any]:
    """What a generator hook produced, async or not, one item at a time."""
    if result is None:
        return
    if isinstance(result, str | ToolCall):
        yield result
    elif hasattr(result, "__aiter__"):
        async for item in result:
            yield item
    else:
        iterator: Iterator[Any] = iter(result)
        done = object()
        while (item := await _in_thread(next, iterator, done)) is not done:
            yield item


def _processed(original: ChatMessageData, result: Any) -> ChatMessageData:
    """A preprocessor's return value as the message that replaces the user's."""
    if result is None:
        return original
    if isinstance(result, str):
        keep = [p for p in getattr(original, "content", []) if not isinstance(p, TextPart)]
        return UserMessageData(content=[TextPart(text=result), *keep])
    if isinstance(result, msgspec.Struct):
        return cast(ChatMessageData, msgspec.convert(msgspec.to_builtins(result), ChatMessageData))
    if isinstance(result, dict):
        try:
            return cast(ChatMessageData, msgspec.convert(result, ChatMessageData))
        except msgspec.ValidationError as exc:
            raise HookError(f"the preprocessor returned an invalid message: {exc}") from None
    raise HookError(
        f"a prompt preprocessor returns the new text (str), a message or None, "
        f"not {type(result).__name__}"
    )


def _text_of(message: ChatMessageData) -> str:
    return "".join(p.text for p in getattr(message, "content", []) if isinstance(p, TextPart))


class PluginRunner:
    """Serves one loaded plugin on a server, as the identity the plugin was given."""

    def __init__(
        self,
        plugin: PluginDefinition,
        *,
        host: str | None,
        client_identifier: str,
        client_passkey: str,
        timeout: float = 30.0,
    ) -> None:
        base_url = base_url_from_host(host) if host is not None else None
        self.plugin = plugin
        self._pool = AsyncSessionPool(
            base_url, Identity(client_identifier, client_passkey), timeout
        )
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._sessions: dict[str, dict[str, ServedTool]] = {}

    async def run(self, ready: Callable[[], None] | None = None) -> None:
        """Serve until the server closes the hook channels (or the task is cancelled)."""
        try:
            channels: list[tuple[str, AsyncChannel]] = []
            for function, hook in HOOKS.items():
                if function in self.plugin.hooks:
                    endpoint = _CHANNELS[hook]
                    channel = await self._pool.open_channel("plugins", endpoint, None, 30.0)
                    channels.append((function, channel))
            for endpoint, cls in (
                ("setConfigSchematics", self.plugin.config),
                ("setGlobalConfigSchematics", self.plugin.global_config),
            ):
                schematics = schematics_of(cls)
                if schematics is not None:
                    parameter = SetConfigSchematicsParameter(schematics=schematics)
                    await self._pool.rpc("plugins", endpoint, parameter, 30.0)
            await self._pool.rpc("plugins", "pluginInitCompleted", None, 30.0)
            logger.info("plugin %s is serving", self.plugin.identifier)
            if ready is not None:
                ready()
            await asyncio.gather(*(self._serve(f, c) for f, c in channels))
        finally:
            for task in list(self._tasks.values()):
                task.cancel()
            await self._pool.aclose()

    async def _serve(self, function: str, channel: AsyncChannel) -> None:
        to_client = ENDPOINTS["plugins", channel.endpoint].to_client
        while True:
            raw = await channel.receive(None)
            if raw is None:
                return
            try:
                packet = msgspec.json.decode(raw, type=to_client)
            except (msgspec.ValidationError, msgspec.DecodeError) as exc:
                logger.warning("ignored a packet on %s: %s", channel.endpoint, exc)
                continue
            match packet:
                case SetPromptPreprocessorPreprocessPacket():
                    self._start(packet.task_id, self._preprocess(channel, packet))
                case SetGeneratorGeneratePacket():
                    self._start(packet.task_id, self._generate(channel, packet))
                case SetPromptPreprocessorAbortPacket(task_id=task_id):
                    self._abort(task_id)
                case SetToolsProviderInitSessionPacket(session_id=session_id):
                    self._start(session_id, self._init_tools(channel, packet))
                case SetToolsProviderCallToolPacket(session_id=session_id, call_id=call_id):
                    self._start(f"{session_id}/{call_id}", self._call_tool(channel, packet))
                case SetToolsProviderAbortToolCallPacket(session_id=session_id, call_id=call_id):
                    self._abort(f"{session_id}/{call_id}")
                case SetToolsProviderDiscardSessionPacket(session_id=session_id):
                    self._sessions.pop(session_id, None)
                    for key in [k for k in self._tasks if k.startswith(f"{session_id}/")]:
                        self._abort(key)
                case _:
                    logger.info("%s does not handle %s yet", function, type(packet).__name__)

    def _start(self, key: str, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks[key] = task
        task.add_done_callback(lambda _t: self._tasks.pop(key, None))

    def _abort(self, key: str) -> None:
        task = self._tasks.get(key)
        if task is None:
            return
        controller = getattr(task, "lms_controller", None)
        if controller is not None:
            controller._abort()
        task.cancel()

    async def _rpc(self, endpoint: str, parameter: Any) -> Any:
        raw = await self._pool.rpc("plugins", endpoint, parameter, 30.0)
        result_type = ENDPOINTS["plugins", endpoint].result
        if result_type is None or raw is msgspec.UNSET:
            return None
        return msgspec.json.decode(raw, type=result_type)

    def _configs(self, plugin_config: Any, global_config: Any) -> tuple[Any, Any]:
        return (
            config_from_kv(self.plugin.config, plugin_config),
            config_from_kv(self.plugin.global_config, global_config),
        )

    async def _preprocess(
        self, channel: AsyncChannel, p: SetPromptPreprocessorPreprocessPacket
    ) -> None:
        task_id = p.task_id
        try:
            config, global_config = self._configs(p.plugin_config, p.global_plugin_config)
            if not isinstance(p.input, UserMessageData):
                raise HookError(f"prompt preprocessors take user messages, not {p.input.role}")
            ctl: PreprocessorController[Any, Any] = PreprocessorController(
                plugin=self.plugin.identifier,
                config=config,
                global_config=global_config,
                loop=asyncio.get_running_loop(),
                message=p.input,
                pci=p.pci,
                token=p.token,
                rpc=self._rpc,
            )
            self._mark(ctl)
            result = await _call(self.plugin.hooks["preprocess_prompt"], ctl, _text_of(p.input))
            processed = _processed(p.input, result)
            await ctl.flush()
            channel.send(SetPromptPreprocessorCompletePacket(task_id=task_id, processed=processed))
        except asyncio.CancelledError:
            channel.send(SetPromptPreprocessorAbortedPacket(task_id=task_id))
        except Exception as exc:
            self._report(task_id, exc)
            channel.send(SetPromptPreprocessorErrorPacket(task_id=task_id, error=_error_of(exc)))

    async def _generate(self, channel: AsyncChannel, p: SetGeneratorGeneratePacket) -> None:
        task_id = p.task_id
        try:
            config, global_config = self._configs(p.plugin_config, p.global_plugin_config)
            ctl: GeneratorController[Any, Any] = GeneratorController(
                plugin=self.plugin.identifier,
                config=config,
                global_config=global_config,
                loop=asyncio.get_running_loop(),
                tool_definitions=p.tool_definitions,
            )
            self._mark(ctl)
            result = await _call(self.plugin.hooks["generate"], ctl, p.input)
            async for item in _items(result):
                self._emit(channel, task_id, item)
            channel.send(SetPredictionLoopHandlerCompletePacket(task_id=task_id))
        except asyncio.CancelledError:
            channel.send(SetPromptPreprocessorAbortedPacket(task_id=task_id))
        except Exception as exc:
            self._report(task_id, exc)
            channel.send(SetPromptPreprocessorErrorPacket(task_id=task_id, error=_error_of(exc)))

    async def _init_tools(
        self, channel: AsyncChannel, p: SetToolsProviderInitSessionPacket
    ) -> None:
        session_id = p.session_id
        try:
            config, global_config = self._configs(p.plugin_config, p.global_plugin_config)
            ctl: ToolsProviderController[Any, Any] = ToolsProviderController(
                plugin=self.plugin.identifier,
                config=config,
                global_config=global_config,
                loop=asyncio.get_running_loop(),
                working_directory=p.working_directory_path,
            )
            self._mark(ctl)
            tools = served_tools(await _call(self.plugin.hooks["provide_tools"], ctl))
            self._sessions[session_id] = tools
            definitions = [t.definition for t in tools.values()]
            channel.send(
                SetToolsProviderSessionInitializedPacket(
                    session_id=session_id, tool_definitions=definitions
                )
            )
        except asyncio.CancelledError:
            pass
        except Exception as exc:
            self._report(session_id, exc)
            channel.send(
                SetToolsProviderSessionInitializationFailedPacket(
                    session_id=session_id, error=_error_of(exc)
                )
            )

    async def _call_tool(self, channel: AsyncChannel, p: SetToolsProviderCallToolPacket) -> None:
        session_id, call_id = p.session_id, p.call_id

        def report(kind: str, text: str) -> None:
            packet: Any = (
                SetToolsProviderToolCallStatusPacket(
                    session_id=session_id, call_id=call_id, status_text=text
                )
                if kind == "status"
                else SetToolsProviderToolCallWarnPacket(
                    session_id=session_id, call_id=call_id, warn_text=text
                )
            )
            channel.send(packet)

        try:
            tool = self._sessions.get(session_id, {}).get(p.tool_name)
            if tool is None:
                known = ", ".join(sorted(self._sessions.get(session_id, {}))) or "none"
                raise HookError(f"no tool {p.tool_name!r} in this session (tools: {known})")
            arguments = p.parameters if p.parameters is not None else {}
            if not isinstance(arguments, dict):
                raise HookError(f"the arguments of tool {tool.name!r} must be a JSON object")
            kwargs = tool.validate(arguments)
            CURRENT_TOOL_CALL.set(_ToolCallReporter(asyncio.get_running_loop(), report))
            result = (
                await _call(lambda: tool.implementation(**kwargs))
                if not tool.is_async
                else (await tool.implementation(**kwargs))
            )
            try:
                msgspec.json.encode(result)
            except (TypeError, msgspec.EncodeError):
                result = str(result)
            channel.send(
                SetToolsProviderToolCallCompletePacket(
                    session_id=session_id, call_id=call_id, result=result
                )
            )
        except asyncio.CancelledError:
            pass  # aborted: the caller stopped waiting for this call
        except Exception as exc:
            self._report(f"{session_id}/{call_id}", exc)
            channel.send(
                SetToolsProviderToolCallErrorPacket(
                    session_id=session_id, call_id=call_id, error=_error_of(exc)
                )
            )

    @staticmethod
    def _emit(channel: AsyncChannel, task_id: str, item: Any) -> None:
        if isinstance(item, str):
            opts = SetGeneratorFragmentGeneratedPacketOpts()
            channel.send(
                SetGeneratorFragmentGeneratedPacket(task_id=task_id, content=item, opts=opts)
            )
        elif isinstance(item, ToolCall):
            arguments = json.dumps(item.arguments)
            channel.send(
                SetGeneratorToolCallGenerationStartedPacket(task_id=task_id, tool_call_id=item.id)
            )
            channel.send(
                SetGeneratorToolCallGenerationNameReceivedPacket(
                    task_id=task_id, tool_name=item.name
                )
            )
            channel.send(
                SetGeneratorToolCallGenerationArgumentFragmentGeneratedPacket(
                    task_id=task_id, content=arguments
                )
            )
            request = ToolCallRequest(id=item.id, name=item.name, arguments=item.arguments)
            channel.send(
                SetGeneratorToolCallGenerationEndedPacket(
                    task_id=task_id, tool_call_request=request
                )
            )
        else:
            raise HookError(
                f"a generator yields text (str) or ToolCall(...), not {type(item).__name__}"
            )

    @staticmethod
    def _mark(controller: Any) -> None:
        task = asyncio.current_task()
        if task is not None:
            task.lms_controller = controller  # type: ignore[attr-defined]

    def _report(self, task_id: str, exc: BaseException) -> None:
        if isinstance(exc, HookError | LMStudioError):
            logger.warning("plugin %s, task %s: %s", self.plugin.identifier, task_id, exc)
        else:
            logger.error(
                "plugin %s, task %s: the hook raised", self.plugin.identifier, task_id, exc_info=exc
            )
