"""The RPCs and channels shared by /llm and /embedding: listing, inspecting, loading and
unloading models, and tokenizing with them.

Handlers return builtins (or msgspec structs) for RPC results; ``None`` means a void result.
Channel handlers send packets through their context and return to close the channel; raising
ends it with ``channelError`` instead.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from ..._protocol.params import (
    BasePredictionConfigParams,
    CancelPacket,
    EstimateModelUsageParams,
    GetModelInfoParams,
    GetOrLoadParams,
    LoadModelParams,
    SpecifierParams,
    TokenizeParams,
    UnloadModelParams,
)
from ..._protocol.schema import (
    KVConfig,
    LLMInfo,
    model_info_to_wire,
)
from ..errors import ServerError
from ..services.models import Domain, Instance
from .config import BASE_PREDICTION_CONFIG, kv_to_wire
from .context import CallContext, ChannelContext, ChannelEndpoint, RpcEndpoint

__all__ = ["CHANNELS", "RPCS"]


T = TypeVar("T")

# JIT-loaded models without an explicit TTL idle out after an hour, like LM Studio's default.
DEFAULT_JIT_TTL_MS = 3_600_000


def _domain(ctx: CallContext) -> Domain:
    return "llm" if ctx.namespace == "/llm" else "embedding"


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
        raise ServerError(f"{what} was cancelled", cause="The client sent a cancel packet.")
    return task.result()


async def list_loaded(ctx: CallContext, _: None) -> Any:
    return [i.wire_info() for i in ctx.models.loaded(_domain(ctx))]


async def get_model_info(ctx: CallContext, p: GetModelInfoParams) -> Any:
    models = ctx.models
    if p.throw_if_not_found:
        return models.find(p.specifier, _domain(ctx)).wire_info()
    instance = models.find_optional(p.specifier, _domain(ctx))
    return None if instance is None else instance.wire_info()


async def get_load_config(ctx: CallContext, p: SpecifierParams) -> Any:
    return kv_to_wire(ctx.models.find(p.specifier, _domain(ctx)).load_config)


async def get_base_prediction_config(ctx: CallContext, p: BasePredictionConfigParams) -> Any:
    instance = ctx.models.find(p.specifier, _domain(ctx))
    return kv_to_wire(BASE_PREDICTION_CONFIG if instance.domain == "llm" else KVConfig())


async def unload_model(ctx: CallContext, p: UnloadModelParams) -> None:
    await ctx.models.unload(p.identifier, _domain(ctx))


async def get_instance_processing_state(ctx: CallContext, p: GetModelInfoParams) -> Any:
    models = ctx.models
    if p.throw_if_not_found:
        instance: Instance | None = models.find(p.specifier, _domain(ctx))
    else:
        instance = models.find_optional(p.specifier, _domain(ctx))
    if instance is None:
        return {"status": "idle", "queued": 0}
    return {"status": instance.status, "queued": instance.queued}


async def estimate_model_usage(ctx: CallContext, p: EstimateModelUsageParams) -> Any:
    info, _ = ctx.models.resolve(p.model_key, _domain(ctx))
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
    instance = ctx.models.find(p.specifier, _domain(ctx))
    ctx.models.touch(instance)
    return {"tokens": instance.model.tokenize(p.input_string)}


async def count_tokens(ctx: CallContext, p: TokenizeParams) -> Any:
    instance = ctx.models.find(p.specifier, _domain(ctx))
    ctx.models.touch(instance)
    return {"tokenCount": len(instance.model.tokenize(p.input_string))}


async def load_model(ctx: ChannelContext, p: LoadModelParams) -> None:
    models = ctx.models
    info, ambiguous = models.resolve(p.model_key, _domain(ctx))
    resolved: dict[str, Any] = {"type": "resolved", "info": model_info_to_wire(info)}
    if ambiguous:
        resolved["ambiguous"] = ambiguous
    ctx.send(resolved)
    if p.ttl_ms is not None and p.ttl_ms < 1:
        raise ServerError("ttlMs must be at least 1")
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
    models = ctx.models
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


RPCS: dict[str, RpcEndpoint] = {
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
CHANNELS: dict[str, ChannelEndpoint] = {
    "loadModel": ChannelEndpoint(load_model, LoadModelParams, CancelPacket),
    "getOrLoad": ChannelEndpoint(get_or_load, GetOrLoadParams, CancelPacket),
}
