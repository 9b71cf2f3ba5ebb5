"""The RPCs and channels shared by /llm and /embedding: listing, inspecting, loading and
unloading models, and tokenizing with them.

Handlers return packet structs for RPC results; ``None`` means a void (or absent) result.
Channel handlers send packet structs through their context and return to close the channel;
raising ends it with ``channelError`` instead. The load channels' packets differ per namespace
only in the model info they carry, so each handler picks its namespace's packet module.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from ..._protocol import packets
from ..._protocol.kv_config import collapse
from ..._protocol.packets import shared
from ..engines.base import MemoryEstimate, estimate_memory
from ..engines.base import count_tokens as count_model_tokens
from ..errors import ServerError
from ..local.machine import machine
from ..services.models import Domain, Instance
from .config import BASE_PREDICTION_CONFIG, EMPTY_CONFIG
from .context import CallContext, ChannelContext, ChannelEndpoint, RpcEndpoint

__all__ = ["CHANNELS", "RPCS"]


T = TypeVar("T")

# JIT-loaded models without an explicit TTL idle out after an hour, like LM Studio's default.
DEFAULT_JIT_TTL_MS = 3_600_000


def _domain(ctx: CallContext) -> Domain:
    return "llm" if ctx.namespace == "/llm" else "embedding"


InstanceInfo = shared.LLMInstanceInfo | shared.EmbeddingModelInstanceInfo
ProgressType = type[shared.ProgressPacket] | type[shared.GetOrLoadLoadProgressPacket]


def _packets(ctx: CallContext) -> Any:
    """The namespace's packet module (``packets.llm`` or ``packets.embedding``)."""
    return packets.llm if ctx.namespace == "/llm" else packets.embedding


def _progress_sender(ctx: ChannelContext, packet_type: ProgressType) -> Callable[[float], None]:
    """An on_progress callback that is safe from engine threads and only reports rises."""
    loop = asyncio.get_running_loop()
    loop_thread = threading.get_ident()
    last = -1.0

    def send(value: float) -> None:
        nonlocal last
        value = min(max(float(value), 0.0), 1.0)
        if value > last:
            last = value
            ctx.send(packet_type(progress=value))

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
        raise ServerError(f"{what} was cancelled", cause="The client sent a cancel packet.")
    return task.result()


async def list_loaded(ctx: CallContext, _: None) -> list[InstanceInfo]:
    return [i.instance_info() for i in ctx.models.loaded(_domain(ctx))]


async def get_model_info(ctx: CallContext, p: shared.GetModelInfoParameter) -> InstanceInfo | None:
    """None (not found, and not told to throw) is sent as no result at all."""
    models = ctx.models
    if p.throw_if_not_found:
        return models.find(p.specifier, _domain(ctx)).instance_info()
    instance = models.find_optional(p.specifier, _domain(ctx))
    return None if instance is None else instance.instance_info()


async def get_load_config(ctx: CallContext, p: shared.GetLoadConfigParameter) -> shared.KVConfig:
    return ctx.models.find(p.specifier, _domain(ctx)).load_config


async def get_base_prediction_config(
    ctx: CallContext, p: shared.GetBasePredictionConfigParameter
) -> shared.KVConfig:
    instance = ctx.models.find(p.specifier, _domain(ctx))
    return BASE_PREDICTION_CONFIG if instance.domain == "llm" else EMPTY_CONFIG


async def unload_model(ctx: CallContext, p: shared.UnloadModelParameter) -> None:
    ctx.models.check_device(p.device_identifier)
    await ctx.models.unload(p.identifier, _domain(ctx))


async def get_instance_processing_state(
    ctx: CallContext, p: shared.GetModelInfoParameter
) -> shared.GetInstanceProcessingStateResult:
    models = ctx.models
    if p.throw_if_not_found:
        instance: Instance | None = models.find(p.specifier, _domain(ctx))
    else:
        instance = models.find_optional(p.specifier, _domain(ctx))
    if instance is None:
        return shared.GetInstanceProcessingStateResult(status="idle", queued=0)
    return shared.GetInstanceProcessingStateResult(status=instance.status, queued=instance.requests)


async def estimate_model_usage(
    ctx: CallContext, p: shared.EstimateModelUsageParameter
) -> shared.EstimateModelUsageResult:
    """Weights plus KV cache for the asked context length, from the engine (the GGUF header:
    confidence "high"), else a rule of thumb (confidence "low"). Guardrails: the total fits in
    this machine's memory. No GPU here: every VRAM figure is 0."""
    ctx.models.check_device(p.device_identifier)
    info, _ = ctx.models.resolve(p.model_key, _domain(ctx))
    config = collapse(p.load_config_stack)
    estimate = estimate_memory(ctx.models.engine, info, config) or _rule_of_thumb(info, config)
    total = estimate.model_bytes + estimate.context_bytes
    memory = shared.EstimateModelUsageResultMemory(
        confidence="high" if estimate.confident else "low",
        model_vram_bytes=0,
        context_vram_bytes=0,
        total_vram_bytes=0,
        model_bytes=estimate.model_bytes,
        context_bytes=estimate.context_bytes,
        total_bytes=total,
    )
    available = machine().memory_bytes
    return shared.EstimateModelUsageResult(
        memory=memory, passes_guardrails=available == 0 or total <= available
    )


# Bytes of KV cache per token of context when the engine cannot read the model's header: a
# 1B-parameter model with f16 cache and no grouped-query attention (16 layers x 2048 x 2 x 2).
_RULE_OF_THUMB_BYTES_PER_TOKEN = 131_072


def _rule_of_thumb(
    info: shared.LLMInfo | shared.EmbeddingModelInfo, config: shared.KVConfig
) -> MemoryEstimate:
    key = (
        "llm.load.contextLength"
        if isinstance(info, shared.LLMInfo)
        else "embedding.load.contextLength"
    )
    context = config.get(key)
    if not isinstance(context, int) or isinstance(context, bool) or context < 1:
        context = min(4096, info.max_context_length)
    elif context > info.max_context_length:
        raise ServerError(
            f"Context length {context} is larger than this model supports",
            cause=f"{info.model_key} was trained with a context of {info.max_context_length} "
            "tokens.",
            suggestion=f"Ask for a context length of at most {info.max_context_length}.",
        )
    return MemoryEstimate(
        model_bytes=info.size_bytes,
        context_bytes=context * _RULE_OF_THUMB_BYTES_PER_TOKEN,
        context_length=context,
        confident=False,
    )


async def tokenize(ctx: CallContext, p: shared.TokenizeParameter) -> shared.TokenizeResult:
    instance = ctx.models.find(p.specifier, _domain(ctx))
    ctx.models.touch(instance)
    return shared.TokenizeResult(tokens=list(await instance.model.tokenize(p.input_string)))


async def count_tokens(ctx: CallContext, p: shared.TokenizeParameter) -> shared.CountTokensResult:
    instance = ctx.models.find(p.specifier, _domain(ctx))
    ctx.models.touch(instance)
    count = await count_model_tokens(instance.model, p.input_string)
    return shared.CountTokensResult(token_count=count)


async def load_model(ctx: ChannelContext, p: shared.LoadModelCreationParameter) -> None:
    models = ctx.models
    wire = _packets(ctx)
    models.check_device(p.device_identifier)
    info, ambiguous = models.resolve(p.model_key, _domain(ctx))
    ctx.send(wire.LoadModelResolvedPacket(info=info, ambiguous=ambiguous or None))
    if p.ttl_ms is not None and p.ttl_ms < 1:
        raise ServerError("ttlMs must be at least 1")
    load = models.load(
        info,
        p.load_config_stack,
        identifier=p.identifier,
        ttl_ms=p.ttl_ms,
        on_progress=_progress_sender(ctx, shared.ProgressPacket),
    )
    instance = await _unless_cancelled(ctx, load, f'Loading "{info.model_key}"')
    ctx.send(wire.LoadModelSuccessPacket(info=instance.instance_info()))


async def get_or_load(ctx: ChannelContext, p: shared.GetOrLoadCreationParameter) -> None:
    models = ctx.models
    wire = _packets(ctx)
    domain = _domain(ctx)
    models.check_device(p.device_identifier)
    instance = models.find_for_get_or_load(p.identifier, domain)
    if instance is not None:
        models.touch(instance)
        ctx.send(wire.GetOrLoadAlreadyLoadedPacket(info=instance.instance_info()))
        return
    info, _ = models.resolve(p.identifier, domain)
    ctx.send(wire.GetOrLoadStartLoadingPacket(identifier=info.model_key, info=info))
    # LM Studio's default ("JIT models auto-evict"): the models loaded JIT before this one go,
    # in both domains, each announced to the client first.
    for other in models.jit_instances(except_model_key=info.model_key):
        ctx.send(wire.GetOrLoadUnloadingOtherJITModelPacket(info=other.instance_info()))
        await models.unload_instance(other)
    ttl = p.load_ttl_ms if p.load_ttl_ms is not None else DEFAULT_JIT_TTL_MS
    load = models.get_or_load_jit(
        info,
        p.load_config_stack,
        ttl_ms=ttl,
        on_progress=_progress_sender(ctx, shared.GetOrLoadLoadProgressPacket),
    )
    loaded, _started = await _unless_cancelled(ctx, load, f'Loading "{info.model_key}"')
    ctx.send(wire.GetOrLoadLoadSuccessPacket(info=loaded.instance_info()))


RPCS: dict[str, RpcEndpoint] = {
    "listLoaded": RpcEndpoint(list_loaded),
    "getModelInfo": RpcEndpoint(get_model_info),
    "getLoadConfig": RpcEndpoint(get_load_config),
    "getBasePredictionConfig": RpcEndpoint(get_base_prediction_config),
    "unloadModel": RpcEndpoint(unload_model),
    "getInstanceProcessingState": RpcEndpoint(get_instance_processing_state),
    "estimateModelUsage": RpcEndpoint(estimate_model_usage),
    "tokenize": RpcEndpoint(tokenize),
    "countTokens": RpcEndpoint(count_tokens),
}
CHANNELS: dict[str, ChannelEndpoint] = {
    "loadModel": ChannelEndpoint(load_model),
    "getOrLoad": ChannelEndpoint(get_or_load),
}
