"""How much memory a model takes loaded: its weights plus its KV cache, from the GGUF header.

Pure arithmetic on the header's keys (``<arch>.block_count``, ``.attention.head_count``,
``.attention.head_count_kv``, ``.attention.key_length``, ``.attention.value_length``,
``.embedding_length``), as llama.cpp sizes its cache: per layer and per cell, ``head_count_kv``
key vectors of ``key_length`` elements and as many value vectors of ``value_length``, in the
cache's element type (f16 unless the load config quantises it). Compute buffers are not
counted. The estimate is *confident* when the header has every key it needs and the model
keeps a plain cache: sliding-window layers (smaller caches), recurrent state (``ssm``) or
compressed latent attention (``kv_lora_rank``) make it a rough one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["CACHE_TYPE_BYTES", "KVCacheSize", "kv_cache_size"]

# ggml type id → bytes per element of the KV cache types llama.cpp accepts (blocks of 32 for
# the quantised ones: q8_0 is 34 bytes a block, q4_0 18, q4_1 20, q5_0 22, q5_1 24).
CACHE_TYPE_BYTES: dict[int, float] = {
    0: 4.0,  # f32
    1: 2.0,  # f16
    2: 18 / 32,  # q4_0
    3: 20 / 32,  # q4_1
    6: 22 / 32,  # q5_0
    7: 24 / 32,  # q5_1
    8: 34 / 32,  # q8_0
    20: 18 / 32,  # iq4_nl
}
F16 = 1

# Header keys that mean the cache is not one plain K and V per layer and cell.
_ROUGH_MARKERS = ("attention.sliding_window", "ssm.", "attention.kv_lora_rank", "wkv.")


@dataclass(frozen=True, slots=True)
class KVCacheSize:
    bytes: int
    confident: bool
    per_cell: float  # bytes a cache cell (one token of one sequence) takes over every layer


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def _per_layer(value: Any, layers: int) -> list[int] | None:
    """A per-layer count: one int for every layer, or a list of one per layer."""
    if isinstance(value, list) and len(value) == layers and all(isinstance(v, int) for v in value):
        return list(value)
    single = _int(value)
    return None if single is None else [single] * layers


def kv_cache_size(
    kv: dict[str, Any], cells: int, *, type_k: int = F16, type_v: int = F16
) -> KVCacheSize:
    """The KV cache of ``cells`` cells (context length x sequences with a stream each) for the
    model whose header keys are ``kv``. A header without the keys gives 0, not confident."""
    arch = kv.get("general.architecture")
    if not isinstance(arch, str) or not arch:
        return KVCacheSize(0, False, 0.0)

    def get(suffix: str) -> Any:
        return kv.get(f"{arch}.{suffix}")

    layers = _int(get("block_count"))
    embd = _int(get("embedding_length"))
    heads = _per_layer(get("attention.head_count"), layers or 0)
    if layers is None or embd is None or heads is None:
        return KVCacheSize(0, False, 0.0)
    confident = True
    kv_heads = _per_layer(get("attention.head_count_kv"), layers)
    if kv_heads is None:
        kv_heads = heads  # no grouped-query attention: as many KV heads as heads
        confident = get("attention.head_count_kv") is None
    key_length = _int(get("attention.key_length"))
    value_length = _int(get("attention.value_length"))
    k_size = CACHE_TYPE_BYTES.get(type_k)
    v_size = CACHE_TYPE_BYTES.get(type_v)
    if k_size is None or v_size is None:
        return KVCacheSize(0, False, 0.0)
    per_cell = 0.0
    for n_head, n_kv in zip(heads, kv_heads, strict=True):
        head_dim = embd // n_head if n_head else 0
        per_cell += n_kv * ((key_length or head_dim) * k_size + (value_length or head_dim) * v_size)
    if any(key.startswith(f"{arch}.{marker}") for key in kv for marker in _ROUGH_MARKERS):
        confident = False
    return KVCacheSize(round(per_cell * max(cells, 0)), confident, per_cell)
