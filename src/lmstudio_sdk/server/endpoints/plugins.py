"""/plugins: development plugin registration, the hook channels a plugin process opens and the
``processing*`` calls its hooks make; the channels clients use to consume plugins are in
``plugin_use``.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from typing import Any

from ..._protocol.packets.plugins import (
    ProcessingGetOrLoadTokenSourceResult,
    ProcessingGetOrLoadTokenSourceResultTokenSourceIdentifierModel,
    ProcessingHandleRequestParameter,
    ProcessingHandleUpdateParameter,
    ProcessingHandleUpdateParameterUpdateStatusCreate,
    ProcessingHandleUpdateParameterUpdateStatusUpdate,
    ProcessingPullHistoryParameter,
    RegisterDevelopmentPluginCreationParameter,
    RegisterDevelopmentPluginEndPacket,
    RegisterDevelopmentPluginReadyPacket,
)
from ..._protocol.packets.shared import (
    ChatHistoryData,
    SetConfigSchematicsParameter,
)
from ..._protocol.plugin_config import config_problem
from ..errors import ServerError
from .context import CallContext, ChannelContext, ChannelEndpoint, NamespaceTable, RpcEndpoint
from .plugin_use import generate_with_generator, start_tool_use_session

__all__ = ["TABLE"]

logger = logging.getLogger("lmstudio_sdk.server")

_TOOL_SESSION_IDS = itertools.count(1)


# -- registration and the plugin's own calls ----------------------------------------------------


async def register_development_plugin(
    ctx: ChannelContext, p: RegisterDevelopmentPluginCreationParameter
) -> None:
    manifest = p.manifest
    plugin = ctx.plugins.register(f"{manifest.owner}/{manifest.name}", manifest)
    ended = asyncio.Event()

    def on_packet(packet: Any) -> None:
        if isinstance(packet, RegisterDevelopmentPluginEndPacket):
            ended.set()

    ctx.on_packet(on_packet)
    try:
        ctx.send(
            RegisterDevelopmentPluginReadyPacket(
                client_identifier=plugin.client_identifier, client_passkey=plugin.client_passkey
            )
        )
        await ended.wait()
    finally:
        ctx.plugins.unregister(plugin)


async def _serve_hook(ctx: ChannelContext, hook: str, key_of: Any) -> None:
    """Keep a hook channel open: the plugin's answers go to the task they name."""
    plugin = ctx.plugins.of_client(ctx.client_identifier, f"set{hook[0].upper()}{hook[1:]}")
    channel = ctx.plugins.attach_hook(plugin, hook, ctx.send)

    def route(packet: Any) -> None:
        key = key_of(packet)
        if key is not None and not channel.deliver(key, packet):
            logger.info("plugin %s answered unknown task %s; dropped", plugin.identifier, key)

    ctx.on_packet(route)
    try:
        await asyncio.Future()  # until the plugin's socket closes
    finally:
        ctx.plugins.detach_hook(plugin, channel)


def _task_key(packet: Any) -> str | None:
    task_id = getattr(packet, "task_id", None)
    return task_id if isinstance(task_id, str) else None


def _tool_key(packet: Any) -> str | None:
    session_id = getattr(packet, "session_id", None)
    if not isinstance(session_id, str):
        return None
    call_id = getattr(packet, "call_id", None)
    return session_id if call_id is None else f"{session_id}/{call_id}"


async def set_prompt_preprocessor(ctx: ChannelContext, _: None) -> None:
    await _serve_hook(ctx, "promptPreprocessor", _task_key)


async def set_generator(ctx: ChannelContext, _: None) -> None:
    await _serve_hook(ctx, "generator", _task_key)


async def set_tools_provider(ctx: ChannelContext, _: None) -> None:
    await _serve_hook(ctx, "toolsProvider", _tool_key)


async def set_config_schematics(ctx: CallContext, p: SetConfigSchematicsParameter) -> None:
    plugin = ctx.plugins.of_client(ctx.client_identifier, "setConfigSchematics")
    _check_schematics(plugin.identifier, p)
    plugin.config_schematics = p.schematics


async def set_global_config_schematics(ctx: CallContext, p: SetConfigSchematicsParameter) -> None:
    plugin = ctx.plugins.of_client(ctx.client_identifier, "setGlobalConfigSchematics")
    _check_schematics(plugin.identifier, p)
    plugin.global_config_schematics = p.schematics


def _check_schematics(identifier: str, p: SetConfigSchematicsParameter) -> None:
    for field in p.schematics.fields:
        problem = config_problem(field, field.default_value)
        if problem is not None:
            raise ServerError(
                f'Plugin "{identifier}": the default of config field {field.full_key!r} '
                f"does not fit it: {problem}"
            )


async def plugin_init_completed(ctx: CallContext, _: None) -> None:
    ctx.plugins.of_client(ctx.client_identifier, "pluginInitCompleted").init_completed = True


async def report_error(ctx: CallContext, p: Any) -> None:
    logger.warning("plugin runtime error reported by %s: %r", ctx.client_identifier, p)


# -- processing calls (a hook talking back during a prediction) ---------------------------------


async def processing_handle_update(ctx: CallContext, p: ProcessingHandleUpdateParameter) -> None:
    processing = ctx.plugins.processing(p.pci, p.token)
    update = p.update
    if isinstance(
        update,
        ProcessingHandleUpdateParameterUpdateStatusCreate
        | ProcessingHandleUpdateParameterUpdateStatusUpdate,
    ):
        processing.on_status(processing.plugin, update.state.status, update.state.text)


async def processing_handle_request(ctx: CallContext, p: ProcessingHandleRequestParameter) -> None:
    ctx.plugins.processing(p.pci, p.token)
    raise ServerError(
        f"The embedded server cannot ask a user ({type(p.request).__name__})",
        suggestion="It has no chat window: a plugin run by it cannot request confirmation or "
        "text input.",
    )


async def processing_pull_history(
    ctx: CallContext, p: ProcessingPullHistoryParameter
) -> ChatHistoryData:
    processing = ctx.plugins.processing(p.pci, p.token)
    messages = list(processing.history.messages)
    if p.include_current and processing.current is not None:
        messages.append(processing.current)
    return ChatHistoryData(messages=messages)


async def processing_get_or_load_token_source(
    ctx: CallContext, p: Any
) -> ProcessingGetOrLoadTokenSourceResult:
    processing = ctx.plugins.processing(p.pci, p.token)
    if processing.model_identifier is None:
        raise ServerError("This prediction has no model to lend its tokenizer")
    return ProcessingGetOrLoadTokenSourceResult(
        token_source_identifier=ProcessingGetOrLoadTokenSourceResultTokenSourceIdentifierModel(
            identifier=processing.model_identifier
        )
    )


async def processing_false(ctx: CallContext, p: Any) -> bool:
    ctx.plugins.processing(p.pci, p.token)
    return False


async def processing_accept_name(ctx: CallContext, p: Any) -> None:
    ctx.plugins.processing(p.pci, p.token)


async def _reindex(ctx: CallContext, _: None) -> None:
    """Nothing to index: development plugins register themselves."""


TABLE = NamespaceTable(
    "/plugins",
    rpcs={
        "setConfigSchematics": RpcEndpoint(set_config_schematics),
        "setGlobalConfigSchematics": RpcEndpoint(set_global_config_schematics),
        "pluginInitCompleted": RpcEndpoint(plugin_init_completed),
        "reportError": RpcEndpoint(report_error),
        "processingHandleUpdate": RpcEndpoint(processing_handle_update),
        "processingHandleRequest": RpcEndpoint(processing_handle_request),
        "processingPullHistory": RpcEndpoint(processing_pull_history),
        "processingGetOrLoadTokenSource": RpcEndpoint(processing_get_or_load_token_source),
        "processingHasStatus": RpcEndpoint(processing_false),
        "processingNeedsNaming": RpcEndpoint(processing_false),
        "processingSuggestName": RpcEndpoint(processing_accept_name),
        "processingSetSenderName": RpcEndpoint(processing_accept_name),
        "reindexPlugins": RpcEndpoint(_reindex),
    },
    channels={
        "registerDevelopmentPlugin": ChannelEndpoint(register_development_plugin),
        "setPromptPreprocessor": ChannelEndpoint(set_prompt_preprocessor),
        "setToolsProvider": ChannelEndpoint(set_tools_provider),
        "setGenerator": ChannelEndpoint(set_generator),
        "startToolUseSession": ChannelEndpoint(start_tool_use_session),
        "generateWithGenerator": ChannelEndpoint(generate_with_generator),
    },
)
