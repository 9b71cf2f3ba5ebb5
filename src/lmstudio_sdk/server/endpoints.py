"""Endpoint handlers of every namespace, and the tables the session dispatches on.

Handlers return builtins (or msgspec structs) for RPC results; ``None`` means a void result
(the ``result`` key is omitted). Channel handlers send packets through their context and
return to close the channel; raising ends it with ``channelError`` instead.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import os
import platform
import sys
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from .._protocol.params import (
    ApplyPromptTemplateParams,
    BasePredictionConfigParams,
    CancelPacket,
    CompleteRawTextParams,
    EmbedStringParams,
    EstimateModelUsageParams,
    GetModelInfoParams,
    GetOrLoadParams,
    LoadModelParams,
    ModelKeyParams,
    NotifyParams,
    PredictParams,
    SetExperimentFlagParams,
    SpecifierParams,
    StartHttpServerParams,
    TokenizeParams,
    UnloadModelParams,
    UploadFileBase64Params,
)
from .._protocol.schema import (
    ChatHistoryData,
    FilePart,
    KVConfig,
    KVConfigField,
    KVConfigLayer,
    KVConfigStack,
    LLMInfo,
    ModelSpecifier,
    PredictionFragment,
    PredictionStats,
    TextPart,
    model_info_to_wire,
)
from .._version import __version__
from .engines.base import (
    CancelToken,
    FragmentGenerated,
    PredictionFinished,
    PredictionRequest,
    PromptProgress,
    ToolCallArgumentFragment,
    ToolCallEnded,
    ToolCallFailed,
    ToolCallNameReceived,
    ToolCallStarted,
)
from .errors import HandlerError, path_not_found, preset_not_found
from .models import Domain, Instance
from .session import CallContext, ChannelContext, ChannelEndpoint, RpcEndpoint

__all__ = [
    "BASE_PREDICTION_CONFIG",
    "CHANNEL_ENDPOINTS",
    "KNOWN_ENDPOINTS",
    "LMSTUDIO_BUILD",
    "LMSTUDIO_VERSION",
    "NAMESPACES",
    "RPC_ENDPOINTS",
]

T = TypeVar("T")

# The LM Studio version this server reports (the first with API tokens and /runtime).
LMSTUDIO_VERSION = "0.4.0"
LMSTUDIO_BUILD = 1

# JIT-loaded models without an explicit TTL idle out after an hour, like LM Studio's default.
DEFAULT_JIT_TTL_MS = 3_600_000

NAMESPACES = (
    "/llm",
    "/embedding",
    "/system",
    "/diagnostics",
    "/files",
    "/repository",
    "/plugins",
    "/runtime",
)

# Every endpoint of TS SDK 2.0.0 (rpc names, channel names): calls to one of these that this
# server does not handle get "…Unhandled" warnings, anything else "…Unknown".
_MODEL_RPCS = {
    "countTokens",
    "estimateModelUsage",
    "getBasePredictionConfig",
    "getInstanceProcessingState",
    "getLoadConfig",
    "getModelInfo",
    "listLoaded",
    "tokenize",
    "unloadModel",
}
KNOWN_ENDPOINTS: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "/llm": (
        frozenset(_MODEL_RPCS | {"applyPromptTemplate", "preloadDraftModel"}),
        frozenset({"completeRawText", "getOrLoad", "loadModel", "predict"}),
    ),
    "/embedding": (
        frozenset(_MODEL_RPCS | {"embedString"}),
        frozenset({"getOrLoad", "loadModel"}),
    ),
    "/system": (
        frozenset(
            {
                "getExperimentFlags",
                "info",
                "listDownloadedModelVariants",
                "listDownloadedModels",
                "notify",
                "requestShutdown",
                "setExperimentFlag",
                "startHttpServer",
                "stopHttpServer",
                "version",
            }
        ),
        frozenset({"alive"}),
    ),
    "/diagnostics": (frozenset(), frozenset({"streamLogs"})),
    "/files": (
        frozenset({"getDocumentParsingLibrary", "getLocalFileAbsolutePath", "uploadFileBase64"}),
        frozenset({"parseDocument", "retrieve"}),
    ),
    "/repository": (
        frozenset(
            {
                "deauthenticate",
                "fuzzyFindStaffPicks",
                "getAuthenticationStatus",
                "getLocalArtifactFiles",
                "getModelCatalog",
                "getModelDownloadOptions",
                "getWritableArtifactOwners",
                "installLocalPlugin",
                "installPluginDependencies",
                "isAuthenticated",
                "lmLinkSetDisabled",
                "lmLinkSetPreferredDevice",
                "lmLinkStatus",
                "lmLinkUpdateDeviceName",
                "loginAsComputeDevice",
                "loginWithPreAuthenticatedKeys",
                "searchModels",
            }
        ),
        frozenset(
            {
                "createDownloadPlan",
                "downloadArtifact",
                "downloadModel",
                "ensureAuthenticated",
                "pushArtifact",
            }
        ),
    ),
    "/plugins": (
        frozenset(
            {
                "pluginInitCompleted",
                "processingGetOrLoadTokenSource",
                "processingHandleRequest",
                "processingHandleUpdate",
                "processingHasStatus",
                "processingNeedsNaming",
                "processingPullHistory",
                "processingSetSenderName",
                "processingSuggestName",
                "reindexPlugins",
                "reportError",
                "setConfigSchematics",
                "setGlobalConfigSchematics",
            }
        ),
        frozenset(
            {
                "generateWithGenerator",
                "registerDevelopmentPlugin",
                "setGenerator",
                "setPredictionLoopHandler",
                "setPromptPreprocessor",
                "setToolsProvider",
                "startToolUseSession",
            }
        ),
    ),
    "/runtime": (
        frozenset(
            {
                "getEngineSelections",
                "listEngines",
                "removeEngine",
                "searchRuntimeExtensions",
                "selectEngine",
                "surveyHardware",
            }
        ),
        frozenset({"downloadRuntimeExtension"}),
    ),
}

# The server's own prediction defaults, applied under the client's layers (LM Studio's values).
BASE_PREDICTION_CONFIG = KVConfig(
    fields=[
        KVConfigField(key="llm.prediction.temperature", value=0.8),
        KVConfigField(key="llm.prediction.topKSampling", value=40),
        KVConfigField(key="llm.prediction.topPSampling", value={"checked": True, "value": 0.95}),
        KVConfigField(key="llm.prediction.minPSampling", value={"checked": True, "value": 0.05}),
        KVConfigField(key="llm.prediction.repeatPenalty", value={"checked": True, "value": 1.1}),
        KVConfigField(
            key="llm.prediction.maxPredictedTokens", value={"checked": False, "value": 1000}
        ),
        KVConfigField(key="llm.prediction.stopStrings", value=[]),
    ]
)


def _kv(config: KVConfig) -> dict[str, Any]:
    return {"fields": [{"key": f.key, "value": f.value} for f in config.fields]}


def _domain(ctx: CallContext) -> Domain:
    return "llm" if ctx.namespace == "/llm" else "embedding"


def _prediction_config(stack: KVConfigStack) -> KVConfig:
    base = KVConfigLayer(layer_name="modelDefault", config=BASE_PREDICTION_CONFIG)
    return KVConfigStack(layers=[base, *stack.layers]).collapse()


def _progress_sender(ctx: ChannelContext, packet_type: str) -> Callable[[float], None]:
    """An on_progress callback that is safe from engine threads and only reports rises."""
    loop = asyncio.get_running_loop()
    loop_thread = threading.get_ident()
    last = -1.0

    def send(value: float) -> None:
        nonlocal last
        value = min(max(float(value), 0.0), 1.0)
        if value > last:
            last = value
            ctx.send({"type": packet_type, "progress": value})

    def on_progress(value: float) -> None:
        if threading.get_ident() == loop_thread:
            send(value)
        else:
            loop.call_soon_threadsafe(send, value)

    return on_progress


async def _unless_cancelled(ctx: ChannelContext, work: Coroutine[Any, Any, T], what: str) -> T:
    """Run work; a client cancel packet cancels it and fails the channel."""
    task = asyncio.ensure_future(work)
    cancel_wait = asyncio.ensure_future(ctx.cancelled.wait())
    try:
        await asyncio.wait({task, cancel_wait}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        cancel_wait.cancel()
        if not task.done():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
    if task.cancelled():
        raise HandlerError(f"{what} was cancelled", cause="The client sent a cancel packet.")
    return task.result()


# -- shared model management ------------------------------------------------------------------


async def list_loaded(ctx: CallContext, _: None) -> Any:
    return [i.wire_info() for i in ctx.server.models.loaded(_domain(ctx))]


async def get_model_info(ctx: CallContext, p: GetModelInfoParams) -> Any:
    models = ctx.server.models
    if p.throw_if_not_found:
        return models.find(p.specifier, _domain(ctx)).wire_info()
    instance = models.find_optional(p.specifier, _domain(ctx))
    return None if instance is None else instance.wire_info()


async def get_load_config(ctx: CallContext, p: SpecifierParams) -> Any:
    return _kv(ctx.server.models.find(p.specifier, _domain(ctx)).load_config)


async def get_base_prediction_config(ctx: CallContext, p: BasePredictionConfigParams) -> Any:
    instance = ctx.server.models.find(p.specifier, _domain(ctx))
    return _kv(BASE_PREDICTION_CONFIG if instance.domain == "llm" else KVConfig())


async def unload_model(ctx: CallContext, p: UnloadModelParams) -> None:
    await ctx.server.models.unload(p.identifier, _domain(ctx))


async def get_instance_processing_state(ctx: CallContext, p: GetModelInfoParams) -> Any:
    models = ctx.server.models
    if p.throw_if_not_found:
        instance: Instance | None = models.find(p.specifier, _domain(ctx))
    else:
        instance = models.find_optional(p.specifier, _domain(ctx))
    if instance is None:
        return {"status": "idle", "queued": 0}
    return {"status": instance.status, "queued": instance.queued}


async def estimate_model_usage(ctx: CallContext, p: EstimateModelUsageParams) -> Any:
    info, _ = ctx.server.models.resolve(p.model_key, _domain(ctx))
    key = "llm.load.contextLength" if isinstance(info, LLMInfo) else "embedding.load.contextLength"
    context = p.load_config_stack.collapse().get(key)
    if not isinstance(context, int) or context < 1:
        context = min(4096, info.max_context_length)
    # No GPU offload here; a rough KV-cache size per token keeps the numbers plausible.
    context_bytes = context * 131_072
    return {
        "memory": {
            "confidence": "low",
            "modelVramBytes": 0,
            "contextVramBytes": 0,
            "totalVramBytes": 0,
            "modelBytes": info.size_bytes,
            "contextBytes": context_bytes,
            "totalBytes": info.size_bytes + context_bytes,
        },
        "passesGuardrails": True,
    }


async def tokenize(ctx: CallContext, p: TokenizeParams) -> Any:
    instance = ctx.server.models.find(p.specifier, _domain(ctx))
    ctx.server.models.touch(instance)
    return {"tokens": instance.model.tokenize(p.input_string)}


async def count_tokens(ctx: CallContext, p: TokenizeParams) -> Any:
    instance = ctx.server.models.find(p.specifier, _domain(ctx))
    ctx.server.models.touch(instance)
    return {"tokenCount": len(instance.model.tokenize(p.input_string))}


async def load_model(ctx: ChannelContext, p: LoadModelParams) -> None:
    models = ctx.server.models
    info, ambiguous = models.resolve(p.model_key, _domain(ctx))
    resolved: dict[str, Any] = {"type": "resolved", "info": model_info_to_wire(info)}
    if ambiguous:
        resolved["ambiguous"] = ambiguous
    ctx.send(resolved)
    if p.ttl_ms is not None and p.ttl_ms < 1:
        raise HandlerError("ttlMs must be at least 1")
    load = models.load(
        info,
        p.load_config_stack,
        identifier=p.identifier,
        ttl_ms=p.ttl_ms,
        on_progress=_progress_sender(ctx, "progress"),
    )
    instance = await _unless_cancelled(ctx, load, f'Loading "{info.model_key}"')
    ctx.send({"type": "success", "info": instance.wire_info()})


async def get_or_load(ctx: ChannelContext, p: GetOrLoadParams) -> None:
    models = ctx.server.models
    domain = _domain(ctx)
    instance = models.find_for_get_or_load(p.identifier, domain)
    if instance is not None:
        models.touch(instance)
        ctx.send({"type": "alreadyLoaded", "info": instance.wire_info()})
        return
    info, _ = models.resolve(p.identifier, domain)
    ctx.send(
        {"type": "startLoading", "identifier": info.model_key, "info": model_info_to_wire(info)}
    )
    ttl = p.load_ttl_ms if p.load_ttl_ms is not None else DEFAULT_JIT_TTL_MS
    load = models.get_or_load_jit(
        info,
        p.load_config_stack,
        ttl_ms=ttl,
        on_progress=_progress_sender(ctx, "loadProgress"),
    )
    loaded, _started = await _unless_cancelled(ctx, load, f'Loading "{info.model_key}"')
    ctx.send({"type": "loadSuccess", "info": loaded.wire_info()})


# -- /llm -------------------------------------------------------------------------------------


def _referenced_files(ctx: ChannelContext, history: ChatHistoryData | None) -> dict[str, bytes]:
    """The bytes of the uploaded files a chat refers to (only the caller's own uploads)."""
    if history is None:
        return {}
    assert ctx.client_identifier is not None  # channels only open after authentication
    return {
        part.identifier: ctx.server.files.read(part.identifier, ctx.client_identifier)
        for message in history.messages
        for part in message.content
        if isinstance(part, FilePart)
    }


async def _predict(
    ctx: ChannelContext,
    specifier: ModelSpecifier,
    stack: KVConfigStack,
    preset: str | None,
    *,
    history: Any = None,
    raw_prompt: str | None = None,
) -> None:
    if preset is not None:
        raise preset_not_found(preset)
    models = ctx.server.models
    instance = models.find(specifier, "llm")
    config = _prediction_config(stack)
    token = CancelToken()
    ctx.on_cancel(token.set)
    instance.cancel_tokens.add(token)
    try:
        async with models.use(instance, "processingPrompt"):
            request = PredictionRequest(
                config=config,
                history=history,
                raw_prompt=raw_prompt,
                cancel=token,
                files=_referenced_files(ctx, history),
            )
            finished = await _stream_prediction(ctx, instance, request)
            stop_reason = finished.stop_reason
            if stop_reason == "userStopped" and instance.unloading and not ctx.cancelled.is_set():
                stop_reason = "modelUnloaded"
            stats = PredictionStats(
                stop_reason=stop_reason,
                stop_string=finished.stop_string,
                tokens_per_second=finished.tokens_per_second,
                time_to_first_token_sec=finished.time_to_first_token_sec,
                total_time_sec=finished.total_time_sec,
                prompt_tokens_count=finished.prompt_tokens_count,
                predicted_tokens_count=finished.predicted_tokens_count,
                total_tokens_count=finished.prompt_tokens_count + finished.predicted_tokens_count,
            )
            ctx.send(
                {
                    "type": "success",
                    "stats": stats,
                    "modelInfo": instance.wire_info(),
                    "loadModelConfig": _kv(instance.load_config),
                    "predictionConfig": _kv(config),
                }
            )
    finally:
        instance.cancel_tokens.discard(token)


async def _stream_prediction(
    ctx: ChannelContext, instance: Instance, request: PredictionRequest
) -> PredictionFinished:
    events = instance.model.predict(request)
    try:
        async for event in events:
            match event:
                case PromptProgress(progress=progress, details=details):
                    ctx.send(
                        {
                            "type": "promptProcessingProgress",
                            "progress": progress,
                            "details": details,
                        }
                    )
                case FragmentGenerated():
                    instance.status = "generating"
                    fragment = PredictionFragment(
                        content=event.content,
                        tokens_count=event.tokens_count,
                        contains_drafted=False,
                        reasoning_type=event.reasoning_type,
                        is_structural=event.is_structural,
                    )
                    ctx.send({"type": "fragment", "fragment": fragment})
                case ToolCallStarted(tool_call_id=call_id):
                    instance.status = "generating"
                    packet: dict[str, Any] = {"type": "toolCallGenerationStart"}
                    if call_id is not None:
                        packet["toolCallId"] = call_id
                    ctx.send(packet)
                case ToolCallNameReceived(name=name):
                    ctx.send({"type": "toolCallGenerationNameReceived", "name": name})
                case ToolCallArgumentFragment(content=content):
                    ctx.send(
                        {"type": "toolCallGenerationArgumentFragmentGenerated", "content": content}
                    )
                case ToolCallEnded(request=tool_request, raw_content=raw_content):
                    packet = {"type": "toolCallGenerationEnd", "toolCallRequest": tool_request}
                    if raw_content is not None:
                        packet["rawContent"] = raw_content
                    ctx.send(packet)
                case ToolCallFailed(title=title, raw_content=raw_content):
                    error = HandlerError(title).data
                    packet = {"type": "toolCallGenerationFailed", "error": error}
                    if raw_content is not None:
                        packet["rawContent"] = raw_content
                    ctx.send(packet)
                case PredictionFinished():
                    return event
    finally:
        aclose = getattr(events, "aclose", None)
        if aclose is not None:
            await aclose()
    raise HandlerError(
        "The engine ended the prediction without a result",
        suggestion="This is a bug in the engine.",
    )


# The template TS 1.x and the official Python SDK send (layer "completeModeFormatting") to turn
# predict into a raw text completion: it concatenates the message contents.
_RAW_COMPLETION_TEMPLATE = "{% for message in messages %}{{ message['content'] }}{% endfor %}"


def _raw_completion_prompt(p: PredictParams) -> str | None:
    """The raw prompt when this predict is a text completion in disguise, else None."""
    template = p.prediction_config_stack.collapse().get("llm.prediction.promptTemplate")
    if not isinstance(template, dict) or template.get("type") != "jinja":
        return None
    jinja = template.get("jinjaPromptTemplate")
    if not isinstance(jinja, dict) or jinja.get("template") != _RAW_COMPLETION_TEMPLATE:
        return None
    return "".join(
        part.text
        for message in p.history.messages
        for part in message.content
        if isinstance(part, TextPart)
    )


async def predict(ctx: ChannelContext, p: PredictParams) -> None:
    raw_prompt = _raw_completion_prompt(p)
    await _predict(
        ctx,
        p.model_specifier,
        p.prediction_config_stack,
        p.fuzzy_preset_identifier,
        history=p.history if raw_prompt is None else None,
        raw_prompt=raw_prompt,
    )


async def complete_raw_text(ctx: ChannelContext, p: CompleteRawTextParams) -> None:
    await _predict(
        ctx,
        p.model_specifier,
        p.prediction_config_stack,
        p.fuzzy_preset_identifier,
        raw_prompt=p.raw_prompt,
    )


async def apply_prompt_template(ctx: CallContext, p: ApplyPromptTemplateParams) -> Any:
    instance = ctx.server.models.find(p.specifier, "llm")
    tools = p.opts.tool_definitions
    if tools is None:
        setting = _prediction_config(p.prediction_config_stack).get("llm.prediction.tools")
        if isinstance(setting, dict) and setting.get("type") == "toolArray":
            tools = setting.get("tools")
    ctx.server.models.touch(instance)
    formatted = instance.model.apply_prompt_template(
        p.history,
        omit_bos_token=bool(p.opts.omit_bos_token),
        omit_eos_token=bool(p.opts.omit_eos_token),
        tools=tools or None,
    )
    return {"formatted": formatted}


# -- /embedding -------------------------------------------------------------------------------


async def embed_string(ctx: CallContext, p: EmbedStringParams) -> Any:
    models = ctx.server.models
    instance = models.find(p.model_specifier, "embedding")
    async with models.use(instance, "computingEmbedding"):
        vector = await instance.model.embed(p.input_string)
    return {"embedding": vector}


# -- /files -----------------------------------------------------------------------------------


async def upload_file_base64(ctx: CallContext, p: UploadFileBase64Params) -> Any:
    # Refuse an oversized upload before decoding it (4 base64 characters per 3 bytes).
    ctx.server.files.check_size(max(0, len(p.content_base64) * 3 // 4 - 2))
    try:
        data = base64.b64decode(p.content_base64, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise HandlerError(f"contentBase64 is not valid base64: {exc}") from exc
    assert ctx.client_identifier is not None  # calls only arrive after authentication
    stored = ctx.server.files.add(ctx.client_identifier, p.name, data)
    return {"identifier": stored.identifier, "fileType": stored.file_type, "sizeBytes": len(data)}


# -- /system ----------------------------------------------------------------------------------


async def list_downloaded_models(ctx: CallContext, _: None) -> Any:
    return [model_info_to_wire(m) for m in ctx.server.models.downloaded()]


async def list_downloaded_model_variants(ctx: CallContext, p: ModelKeyParams) -> Any:
    models = ctx.server.models.downloaded()
    found = [m for m in models if m.model_key == p.model_key]
    if not found:
        raise path_not_found(p.model_key, [m.model_key for m in models])
    return [model_info_to_wire(m) for m in found]


async def version(ctx: CallContext, _: None) -> Any:
    return {"version": LMSTUDIO_VERSION, "build": LMSTUDIO_BUILD}


async def info(ctx: CallContext, _: None) -> Any:
    return {"pid": os.getpid(), "isDaemon": True, "version": LMSTUDIO_VERSION}


async def notify(ctx: CallContext, p: NotifyParams) -> None:
    ctx.server.record_notification(p.title, p.description)


async def get_experiment_flags(ctx: CallContext, _: None) -> Any:
    return sorted(ctx.server.experiment_flags)


async def set_experiment_flag(ctx: CallContext, p: SetExperimentFlagParams) -> None:
    if p.value:
        ctx.server.experiment_flags.add(p.code)
    else:
        ctx.server.experiment_flags.discard(p.code)


def _no_http_server() -> HandlerError:
    return HandlerError(
        "The embedded lmstudio-sdk server has no separate HTTP (OpenAI-compatible) server",
        suggestion=f"Its port already serves the SDK API; connect to {_SERVER_HINT}.",
    )


_SERVER_HINT = "the URL printed by `lmstudio-sdk serve`"


async def start_http_server(ctx: CallContext, p: StartHttpServerParams) -> None:
    raise _no_http_server()


async def stop_http_server(ctx: CallContext, _: None) -> None:
    raise _no_http_server()


async def alive(ctx: ChannelContext, _: None) -> None:
    # Never ends on its own: the client learns of a disconnect when the socket closes.
    await asyncio.Event().wait()


# -- /runtime ---------------------------------------------------------------------------------


def _engine_descriptor(ctx: CallContext) -> dict[str, str]:
    return {"name": f"lmstudio-sdk-{ctx.server.engine.name}", "version": __version__}


async def list_engines(ctx: CallContext, _: None) -> Any:
    platform_name = {"darwin": "mac", "win32": "win"}.get(sys.platform, "linux")
    return [
        {
            **_engine_descriptor(ctx),
            "engine": ctx.server.engine.name,
            "platform": platform_name,
            "cpu": {"architecture": platform.machine() or "unknown"},
            "supportedModelFormatNames": ["GGUF"],
        }
    ]


async def get_engine_selections(ctx: CallContext, _: None) -> Any:
    # superjson-serialised endpoint (the only one): a Map becomes entries plus meta "map".
    return {"json": [["GGUF", _engine_descriptor(ctx)]], "meta": {"values": ["map"]}}


# -- tables -----------------------------------------------------------------------------------

_MODEL_RPC_TABLE: dict[str, RpcEndpoint] = {
    "listLoaded": RpcEndpoint(list_loaded),
    "getModelInfo": RpcEndpoint(get_model_info, GetModelInfoParams),
    "getLoadConfig": RpcEndpoint(get_load_config, SpecifierParams),
    "getBasePredictionConfig": RpcEndpoint(get_base_prediction_config, BasePredictionConfigParams),
    "unloadModel": RpcEndpoint(unload_model, UnloadModelParams),
    "getInstanceProcessingState": RpcEndpoint(get_instance_processing_state, GetModelInfoParams),
    "estimateModelUsage": RpcEndpoint(estimate_model_usage, EstimateModelUsageParams),
    "tokenize": RpcEndpoint(tokenize, TokenizeParams),
    "countTokens": RpcEndpoint(count_tokens, TokenizeParams),
}
_MODEL_CHANNEL_TABLE: dict[str, ChannelEndpoint] = {
    "loadModel": ChannelEndpoint(load_model, LoadModelParams, CancelPacket),
    "getOrLoad": ChannelEndpoint(get_or_load, GetOrLoadParams, CancelPacket),
}

RPC_ENDPOINTS: dict[str, dict[str, RpcEndpoint]] = {ns: {} for ns in NAMESPACES}
CHANNEL_ENDPOINTS: dict[str, dict[str, ChannelEndpoint]] = {ns: {} for ns in NAMESPACES}

RPC_ENDPOINTS["/llm"] = {
    **_MODEL_RPC_TABLE,
    "applyPromptTemplate": RpcEndpoint(apply_prompt_template, ApplyPromptTemplateParams),
}
CHANNEL_ENDPOINTS["/llm"] = {
    **_MODEL_CHANNEL_TABLE,
    "predict": ChannelEndpoint(predict, PredictParams, CancelPacket),
    "completeRawText": ChannelEndpoint(complete_raw_text, CompleteRawTextParams, CancelPacket),
}
RPC_ENDPOINTS["/embedding"] = {
    **_MODEL_RPC_TABLE,
    "embedString": RpcEndpoint(embed_string, EmbedStringParams),
}
CHANNEL_ENDPOINTS["/embedding"] = dict(_MODEL_CHANNEL_TABLE)
RPC_ENDPOINTS["/files"] = {
    "uploadFileBase64": RpcEndpoint(upload_file_base64, UploadFileBase64Params),
}
RPC_ENDPOINTS["/system"] = {
    "listDownloadedModels": RpcEndpoint(list_downloaded_models),
    "listDownloadedModelVariants": RpcEndpoint(list_downloaded_model_variants, ModelKeyParams),
    "version": RpcEndpoint(version),
    "info": RpcEndpoint(info),
    "notify": RpcEndpoint(notify, NotifyParams),
    "getExperimentFlags": RpcEndpoint(get_experiment_flags),
    "setExperimentFlag": RpcEndpoint(set_experiment_flag, SetExperimentFlagParams),
    "startHttpServer": RpcEndpoint(start_http_server, StartHttpServerParams),
    "stopHttpServer": RpcEndpoint(stop_http_server),
}
CHANNEL_ENDPOINTS["/system"] = {"alive": ChannelEndpoint(alive)}
RPC_ENDPOINTS["/runtime"] = {
    "listEngines": RpcEndpoint(list_engines),
    "getEngineSelections": RpcEndpoint(get_engine_selections, superjson=True),
}
