"""Using plugins: prompt preprocessing for /llm predictions, and the /plugins channels clients
use to consume plugins (``generateWithGenerator``, ``startToolUseSession``)."""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from typing import Any

from ..._protocol.packets.plugins import (
    GenerateWithGeneratorCreationParameter,
    GenerateWithGeneratorToolCallGenerationEndPacket,
    GenerateWithGeneratorToolCallGenerationFailedPacket,
    SetGeneratorFragmentGeneratedPacket,
    SetGeneratorGeneratePacket,
    SetGeneratorToolCallGenerationArgumentFragmentGeneratedPacket,
    SetGeneratorToolCallGenerationEndedPacket,
    SetGeneratorToolCallGenerationFailedPacket,
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
    StartToolUseSessionAbortToolCallPacket,
    StartToolUseSessionCallToolPacket,
    StartToolUseSessionCreationParameter,
    StartToolUseSessionDiscardSessionPacket,
    StartToolUseSessionSessionReadyPacket,
    StartToolUseSessionToolCallCompletePacket,
    StartToolUseSessionToolCallErrorPacket,
    StartToolUseSessionToolCallStatusPacket,
    StartToolUseSessionToolCallWarnPacket,
)
from ..._protocol.packets.shared import (
    ChatHistoryData,
    EnabledPluginInfo,
    KVConfig,
    PluginConfigSpecifier,
    PredictFragmentPacket,
    PredictionFragment,
    PredictToolCallGenerationArgumentFragmentGeneratedPacket,
    PredictToolCallGenerationNameReceivedPacket,
    PredictToolCallGenerationStartPacket,
    SerializedError,
    SetPredictionLoopHandlerCompletePacket,
    SetPromptPreprocessorAbortedPacket,
    SetPromptPreprocessorAbortPacket,
    SetPromptPreprocessorErrorPacket,
    StartToolUseSessionCreationParameterPluginConfigSpecifierDirect,
    SuccessPacket,
    UserMessageData,
)
from ..._protocol.plugin_config import PLUGINS_KEY, kv_from_values
from ..errors import ServerError
from ..services.plugins import (
    HookChannel,
    PluginRegistry,
    Processing,
    hook_failed,
    stream_answers,
)
from .context import ChannelContext

__all__ = ["generate_with_generator", "preprocess_history", "start_tool_use_session"]

logger = logging.getLogger("lmstudio_sdk.server")

_TOOL_SESSION_IDS = itertools.count(1)


# -- prompt preprocessing, used by /llm predictions --------------------------------------------


def _enabled_plugins(config: KVConfig) -> list[tuple[str, KVConfig | None]]:
    """The plugins a prediction names under ``PLUGINS_KEY``, with their configs."""
    raw = config.get(PLUGINS_KEY)
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise ServerError(f"{PLUGINS_KEY} must be a list of {{identifier, config}} objects")
    found: list[tuple[str, KVConfig | None]] = []
    for item in raw:
        identifier = item.get("identifier") if isinstance(item, dict) else None
        given = item.get("config", {}) if isinstance(item, dict) else None
        if not isinstance(identifier, str) or not isinstance(given, dict):
            raise ServerError(
                f"{PLUGINS_KEY}: each item is {{'identifier': 'owner/name', 'config': {{…}}}}, "
                f"not {item!r}"
            )
        found.append((identifier, kv_from_values(given)))
    return found


def _plugin_info(registry: PluginRegistry, identifier: str) -> EnabledPluginInfo:
    hooks = registry.get(identifier).hooks
    return EnabledPluginInfo(
        identifier=identifier,
        is_dev=True,
        is_trusted=True,
        has_prompt_preprocessor="promptPreprocessor" in hooks,
        has_prediction_loop_handler=False,
        has_tools_provider="toolsProvider" in hooks,
        has_generator="generator" in hooks,
    )


async def preprocess_history(
    ctx: ChannelContext, history: ChatHistoryData, config: KVConfig, model_identifier: str
) -> ChatHistoryData:
    """Run the last user message through the preprocessors the prediction names, in order."""
    enabled = _enabled_plugins(config)
    if not enabled or not history.messages:
        return history
    registry = ctx.plugins
    for identifier, _ in enabled:  # refuse unknown plugins and missing hooks before running any
        registry.hook(identifier, "promptPreprocessor")
    infos = [_plugin_info(registry, identifier) for identifier, _ in enabled]
    messages = list(history.messages)
    for identifier, given in enabled:
        if ctx.cancelled.is_set() or not isinstance(messages[-1], UserMessageData):
            break
        plugin_config = registry.plugin_config(identifier, given)
        channel = registry.hook(identifier, "promptPreprocessor")
        processed = await _preprocess_one(
            ctx,
            channel,
            messages,
            config,
            plugin_config,
            registry.global_config(identifier),
            infos,
            model_identifier,
        )
        if processed is None:
            break
        messages[-1] = processed
    return ChatHistoryData(messages=messages)


async def _preprocess_one(
    ctx: ChannelContext,
    channel: HookChannel,
    messages: list[Any],
    config: KVConfig,
    plugin_config: KVConfig,
    global_config: KVConfig,
    infos: list[EnabledPluginInfo],
    model_identifier: str,
) -> Any:
    registry = ctx.plugins
    task_id = registry.next_id("preprocess")
    token = registry.next_id("token")
    pci = registry.open_processing(
        Processing(
            plugin=channel.plugin,
            token=token,
            history=ChatHistoryData(messages=messages[:-1]),
            current=messages[-1],
            model_identifier=model_identifier,
            on_status=ctx.observer.plugin_status,
        )
    )

    def request() -> None:
        channel.send(
            SetPromptPreprocessorPreprocessPacket(
                task_id=task_id,
                input=messages[-1],
                config=config,
                plugin_config=plugin_config,
                global_plugin_config=global_config,
                working_directory_path=None,
                enabled_plugin_infos=infos,
                pci=pci,
                token=token,
            )
        )

    def abort() -> None:
        channel.send(SetPromptPreprocessorAbortPacket(task_id=task_id))

    try:
        async for packet in stream_answers(
            registry, channel, task_id, "prompt preprocessor", ctx.cancelled, abort, request
        ):
            match packet:
                case SetPromptPreprocessorCompletePacket(processed=processed):
                    return processed
                case SetPromptPreprocessorErrorPacket(error=error):
                    raise hook_failed(channel.plugin, "prompt preprocessor", error)
                case SetPromptPreprocessorAbortedPacket() | None:
                    return None
                case _:
                    pass  # a packet of another kind: ignored, the deadline still runs
    finally:
        registry.close_processing(pci)
    return None


# -- consuming plugins: generators and tool-use sessions ----------------------------------------


def _specifier_config(
    registry: PluginRegistry, identifier: str, specifier: PluginConfigSpecifier
) -> tuple[KVConfig, str | None]:
    if isinstance(specifier, StartToolUseSessionCreationParameterPluginConfigSpecifierDirect):
        return registry.plugin_config(
            identifier, specifier.config
        ), specifier.working_directory_path
    processing = registry.processing(specifier.pci, specifier.token)
    del processing
    return registry.plugin_config(identifier, None), None


async def generate_with_generator(
    ctx: ChannelContext, p: GenerateWithGeneratorCreationParameter
) -> None:
    registry = ctx.plugins
    channel = registry.hook(p.plugin_identifier, "generator")
    plugin_config, working_dir = _specifier_config(
        registry, p.plugin_identifier, p.plugin_config_specifier
    )
    task_id = registry.next_id("generate")

    def request() -> None:
        channel.send(
            SetGeneratorGeneratePacket(
                task_id=task_id,
                input=p.history,
                plugin_config=plugin_config,
                global_plugin_config=registry.global_config(p.plugin_identifier),
                tool_definitions=p.tools,
                working_directory_path=working_dir,
            )
        )

    def abort() -> None:
        channel.send(SetPromptPreprocessorAbortPacket(task_id=task_id))

    async for packet in stream_answers(
        registry, channel, task_id, "generator", ctx.cancelled, abort, request
    ):
        match packet:
            case SetGeneratorFragmentGeneratedPacket(content=content, opts=opts):
                fragment = PredictionFragment(
                    content=content,
                    tokens_count=opts.token_count if opts.token_count is not None else 1,
                    contains_drafted=bool(opts.contains_drafted),
                    reasoning_type=opts.reasoning_type or "none",
                    is_structural=bool(opts.is_structural),
                )
                ctx.send(PredictFragmentPacket(fragment=fragment))
            case SetGeneratorToolCallGenerationStartedPacket(tool_call_id=call_id):
                ctx.send(PredictToolCallGenerationStartPacket(tool_call_id=call_id))
            case SetGeneratorToolCallGenerationNameReceivedPacket(tool_name=name):
                ctx.send(PredictToolCallGenerationNameReceivedPacket(name=name))
            case SetGeneratorToolCallGenerationArgumentFragmentGeneratedPacket(content=content):
                ctx.send(PredictToolCallGenerationArgumentFragmentGeneratedPacket(content=content))
            case SetGeneratorToolCallGenerationEndedPacket(tool_call_request=call):
                ctx.send(GenerateWithGeneratorToolCallGenerationEndPacket(tool_call_request=call))
            case SetGeneratorToolCallGenerationFailedPacket():
                ctx.send(GenerateWithGeneratorToolCallGenerationFailedPacket())
            case SetPredictionLoopHandlerCompletePacket() | SetPromptPreprocessorAbortedPacket():
                break
            case SetPromptPreprocessorErrorPacket(error=error):
                raise hook_failed(channel.plugin, "generator", error)
            case None:
                break  # the caller cancelled; the plugin was told to abort
    ctx.send(SuccessPacket())


async def start_tool_use_session(
    ctx: ChannelContext, p: StartToolUseSessionCreationParameter
) -> None:
    registry = ctx.plugins
    channel = registry.hook(p.plugin_identifier, "toolsProvider")
    plugin_config, working_dir = _specifier_config(
        registry, p.plugin_identifier, p.plugin_config_specifier
    )
    session_id = f"tools-{next(_TOOL_SESSION_IDS)}"
    discarded = asyncio.Event()

    def discard() -> None:
        channel.send(SetToolsProviderDiscardSessionPacket(session_id=session_id))

    def request() -> None:
        channel.send(
            SetToolsProviderInitSessionPacket(
                plugin_config=plugin_config,
                global_plugin_config=registry.global_config(p.plugin_identifier),
                working_directory_path=working_dir,
                session_id=session_id,
            )
        )

    init = stream_answers(
        registry, channel, session_id, "tools provider", discarded, discard, request
    )
    async for packet in init:
        match packet:
            case SetToolsProviderSessionInitializedPacket(tool_definitions=tools):
                break
            case SetToolsProviderSessionInitializationFailedPacket(error=error):
                raise hook_failed(channel.plugin, "tools provider", error)
            case None:
                return
    else:
        return
    await init.aclose()
    ctx.send(StartToolUseSessionSessionReadyPacket(tool_definitions=tools))
    calls: dict[int | float, asyncio.Task[None]] = {}

    def on_packet(packet: Any) -> None:
        match packet:
            case StartToolUseSessionCallToolPacket(call_id=call_id, name=name, arguments=args):
                task = asyncio.ensure_future(
                    _call_tool(ctx, channel, session_id, call_id, name, args)
                )
                calls[call_id] = task
                task.add_done_callback(lambda _t: calls.pop(call_id, None))
            case StartToolUseSessionAbortToolCallPacket(call_id=call_id):
                channel.send(
                    SetToolsProviderAbortToolCallPacket(session_id=session_id, call_id=str(call_id))
                )
                running = calls.get(call_id)
                if running is not None:
                    running.cancel()
            case StartToolUseSessionDiscardSessionPacket():
                discarded.set()

    ctx.on_packet(on_packet)
    try:
        await discarded.wait()
    finally:
        for task in list(calls.values()):
            task.cancel()
        if not channel.closed:
            discard()


async def _call_tool(
    ctx: ChannelContext,
    channel: HookChannel,
    session_id: str,
    call_id: int | float,
    name: str,
    arguments: Any,
) -> None:
    registry = ctx.plugins
    key = f"{session_id}/{call_id}"

    def request() -> None:
        channel.send(
            SetToolsProviderCallToolPacket(
                session_id=session_id, call_id=str(call_id), tool_name=name, parameters=arguments
            )
        )

    def abort() -> None:
        channel.send(
            SetToolsProviderAbortToolCallPacket(session_id=session_id, call_id=str(call_id))
        )

    started = time.monotonic()
    try:
        async for packet in stream_answers(
            registry, channel, key, f"tool {name!r}", None, abort, request
        ):
            match packet:
                case SetToolsProviderToolCallCompletePacket(result=result):
                    ctx.send(
                        StartToolUseSessionToolCallCompletePacket(call_id=call_id, result=result)
                    )
                    return
                case SetToolsProviderToolCallErrorPacket(error=error):
                    ctx.send(StartToolUseSessionToolCallErrorPacket(call_id=call_id, error=error))
                    return
                case SetToolsProviderToolCallStatusPacket(status_text=text):
                    ctx.send(
                        StartToolUseSessionToolCallStatusPacket(call_id=call_id, status_text=text)
                    )
                case SetToolsProviderToolCallWarnPacket(warn_text=text):
                    ctx.send(StartToolUseSessionToolCallWarnPacket(call_id=call_id, warn_text=text))
    except ServerError as exc:
        error = SerializedError(title=exc.title, suggestion=exc.suggestion or "")
        ctx.send(StartToolUseSessionToolCallErrorPacket(call_id=call_id, error=error))
    finally:
        logger.debug("tool %s took %.3f s", name, time.monotonic() - started)
