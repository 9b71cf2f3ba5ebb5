"""Translate an LM Studio load config (``llm.load.*`` / ``embedding.load.*``) into
``llama_cpp.Llama`` arguments, and report the effective config back the way LM Studio does."""

from __future__ import annotations

import logging
from typing import Any

from ...._protocol.packets.shared import EmbeddingModelInfo, KVConfig, KVConfigField, LLMInfo
from ...errors import ServerError
from .sampling import checkbox

__all__ = [
    "DEFAULT_PARALLEL_PREDICTIONS",
    "parallel_predictions",
    "translate_load_config",
    "unified_kv_cache",
]

_log = logging.getLogger("lmstudio_sdk.server.engines.llama")

# Load keys that describe GPU placement or memory fitting; on this CPU-only build they have
# no effect, which is logged at debug level instead of warning about every TS-2.0 load (TS
# writes autoFit=false whenever a context length is given).
_LOAD_KEYS_IRRELEVANT_ON_CPU = frozenset(
    {
        "llm.load.llama.acceleration.offloadRatio",
        "embedding.load.llama.acceleration.offloadRatio",
        "load.gpuSplitConfig",
        "load.gpuStrictVramCap",
        "llm.load.offloadKVCacheToGpu",
        "llm.load.llama.autoFit",
        "llm.load.mlx.autoFit",
        "llm.load.yuzu.autoFit",
        "llm.load.numCpuExpertLayersRatio",
    }
)

_KV_CACHE_TYPES = {
    "f32": 0,
    "f16": 1,
    "q4_0": 2,
    "q4_1": 3,
    "q5_0": 6,
    "q5_1": 7,
    "q8_0": 8,
    "iq4_nl": 20,
}

_DEFAULT_LLM_CONTEXT = 4096

#: LM Studio's default ``maxParallelPredictions`` (load key ``llm.load.numParallelSessions``).
DEFAULT_PARALLEL_PREDICTIONS = 4
_PARALLEL_KEY = "llm.load.numParallelSessions"
# llama.cpp's own limit on sequences per context (LLAMA_MAX_SEQ).
_MAX_PARALLEL = 256


_UNIFIED_KEY = "llm.load.useUnifiedKvCache"


def parallel_predictions(effective: KVConfig) -> int:
    """The number of prediction slots an effective LLM load config asks for."""
    value = effective.get(_PARALLEL_KEY)
    return value if isinstance(value, int) else 1


def unified_kv_cache(effective: KVConfig) -> bool:
    """Whether the slots share one KV cache of the context length (else one stream each)."""
    return effective.get(_UNIFIED_KEY) is True


def translate_load_config(
    info: LLMInfo | EmbeddingModelInfo, config: KVConfig, n_threads: int
) -> tuple[dict[str, Any], KVConfig]:
    """The ``Llama(...)`` keyword arguments for ``config``, and the effective load config
    (every load key the engine used, with the value it used)."""
    is_embedding = isinstance(info, EmbeddingModelInfo)
    prefix = "embedding.load." if is_embedding else "llm.load."
    used: dict[str, Any] = {}
    handled: set[str] = set()

    def get(key: str) -> Any:
        handled.add(key)
        return config.get(key)

    max_ctx = info.max_context_length
    requested = get(prefix + "contextLength")
    if requested is None:
        n_ctx = max_ctx if is_embedding else min(_DEFAULT_LLM_CONTEXT, max_ctx)
    else:
        if not isinstance(requested, int) or isinstance(requested, bool) or requested < 1:
            raise ServerError(f"Invalid context length: {requested!r}")
        if requested > max_ctx:
            raise ServerError(
                f"Context length {requested} is larger than this model supports",
                cause=f"{info.model_key} was trained with a context of {max_ctx} tokens.",
                suggestion=f"Load it with a context length of at most {max_ctx}.",
            )
        n_ctx = requested
    used[prefix + "contextLength"] = n_ctx

    kwargs: dict[str, Any] = {
        "n_ctx": n_ctx,
        "n_threads": n_threads,
        "n_threads_batch": n_threads,
        "n_gpu_layers": 0,
        "verbose": False,
    }
    seed = get(prefix + "seed")
    if seed is not None:
        checked, value = checkbox(seed)
        if checked and isinstance(value, int) and value >= 0:
            kwargs["seed"] = value
        used[prefix + "seed"] = {"checked": bool(checked), "value": value}
    batch = get(prefix + "llama.evalBatchSize")
    if isinstance(batch, int) and batch > 0:
        kwargs["n_batch"] = batch
    used[prefix + "llama.evalBatchSize"] = kwargs.get("n_batch", 512)
    if not is_embedding:
        parallel = get(_PARALLEL_KEY)
        if parallel is None:
            parallel = DEFAULT_PARALLEL_PREDICTIONS
        elif not isinstance(parallel, int) or isinstance(parallel, bool) or parallel < 1:
            raise ServerError(f"Invalid number of parallel predictions: {parallel!r}")
        used[_PARALLEL_KEY] = min(parallel, _MAX_PARALLEL)
        # LM Studio shares one cache between the slots by default. Here each slot gets a
        # stream of its own unless asked (N times the KV memory), because in a shared cache
        # the sequences' cells interleave, which changes llama.cpp's attention sums: greedy
        # output would then depend on what else runs (see runtime.parallel_context).
        unified = get(_UNIFIED_KEY)
        used[_UNIFIED_KEY] = unified is True
        ubatch = get("llm.load.llama.physicalBatchSize")
        if isinstance(ubatch, int) and ubatch > 0:
            kwargs["n_ubatch"] = ubatch
            used["llm.load.llama.physicalBatchSize"] = ubatch
        flash = get("llm.load.llama.flashAttention")
        if isinstance(flash, bool):
            kwargs["flash_attn"] = flash
        used["llm.load.llama.flashAttention"] = kwargs.get("flash_attn", False)
        for key, kwarg in (
            ("llm.load.llama.kCacheQuantizationType", "type_k"),
            ("llm.load.llama.vCacheQuantizationType", "type_v"),
        ):
            value = get(key)
            if value is None:
                continue
            checked, name = checkbox(value)
            if checked:
                if name not in _KV_CACHE_TYPES:
                    raise ServerError(f"Unsupported KV cache type {name!r} for {key}")
                kwargs[kwarg] = _KV_CACHE_TYPES[name]
            used[key] = {"checked": checked, "value": name}
        fp16 = get("llm.load.llama.useFp16ForKVCache")
        if fp16 is False and "type_k" not in kwargs:
            kwargs["type_k"] = kwargs["type_v"] = _KV_CACHE_TYPES["f32"]
            used["llm.load.llama.useFp16ForKVCache"] = False
    for key, kwarg in (
        (prefix + "llama.ropeFrequencyBase", "rope_freq_base"),
        (prefix + "llama.ropeFrequencyScale", "rope_freq_scale"),
    ):
        value = get(key)
        if value is None:
            continue
        checked, number = checkbox(value)
        if checked and isinstance(number, int | float) and number > 0:
            kwargs[kwarg] = float(number)
        used[key] = {"checked": checked, "value": number}
    mmap = get(prefix + "llama.tryMmap")
    if isinstance(mmap, bool):
        kwargs["use_mmap"] = mmap
    used[prefix + "llama.tryMmap"] = kwargs.get("use_mmap", True)
    mlock = get(prefix + "llama.keepModelInMemory")
    if isinstance(mlock, bool):
        kwargs["use_mlock"] = mlock
    used[prefix + "llama.keepModelInMemory"] = kwargs.get("use_mlock", False)
    used["llm.load.llama.cpuThreadPoolSize"] = n_threads
    used[prefix + "llama.acceleration.offloadRatio"] = 0

    for item in config.fields:
        if item.key in handled:
            continue
        if item.key in _LOAD_KEYS_IRRELEVANT_ON_CPU:
            _log.debug("%s: %s has no effect on the CPU engine", info.model_key, item.key)
        else:
            _log.warning(
                "%s: load setting %s=%r is not supported by the llama.cpp engine; ignored",
                info.model_key,
                item.key,
                item.value,
            )

    if is_embedding:
        kwargs["embedding"] = True
        # Pooled output; llama.cpp takes the type from the GGUF (mean for MiniLM).
        kwargs["n_batch"] = max(kwargs.get("n_batch", 512), n_ctx)
        kwargs["n_ubatch"] = kwargs["n_batch"]
    effective = KVConfig(fields=[KVConfigField(key=k, value=v) for k, v in used.items()])
    return kwargs, effective
