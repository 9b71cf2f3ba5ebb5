"""estimateModelUsage on the llama.cpp engine: weights plus KV cache from the GGUF header,
checked against llama.cpp's own accounting of a sequence's cache."""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import MINILM_PATH, SMOL_PATH, info_for, kv, requires_engine

pytestmark = requires_engine


def _estimate(engine: Any, path: str, **load: Any) -> Any:
    return engine.estimate_memory(info_for(engine, path), kv(**load))


def test_the_kv_cache_per_token_is_what_llama_cpp_stores(engine: Any) -> None:
    import llama_cpp

    from lmstudio_sdk.server.local.memory import kv_cache_size

    scanned = engine.scanned(info_for(engine, SMOL_PATH))
    estimate = _estimate(
        engine, SMOL_PATH, **{"llm.load.contextLength": 512, "llm.load.numParallelSessions": 1}
    )
    assert estimate.confident and estimate.context_length == 512
    projector = scanned.mmproj.stat().st_size if scanned.mmproj is not None else 0
    assert estimate.model_bytes == scanned.file.stat().st_size + projector  # weights: both files
    per_cell = kv_cache_size(scanned.metadata, 1).per_cell
    assert estimate.context_bytes == round(512 * per_cell) > 0
    # llama.cpp's saved state of one sequence grows by each token's K and V over every layer
    # (plus a few bytes of position and sequence id per cell).
    llm = llama_cpp.Llama(str(scanned.file), n_ctx=512, n_threads=1, verbose=False)
    try:
        tokens = llm.tokenize(b"one two three four five six seven eight nine ten " * 3)
        llm.eval(tokens[:8])
        before = llama_cpp.llama_state_seq_get_size(llm._ctx.ctx, 0)
        llm.eval(tokens[8:28])
        after = llama_cpp.llama_state_seq_get_size(llm._ctx.ctx, 0)
    finally:
        llm.close()
    measured = (after - before) / 20
    assert per_cell <= measured <= per_cell + 64, (measured, per_cell)


def test_the_estimate_follows_the_load_config(engine: Any) -> None:
    def context_bytes(**load: Any) -> int:
        value: int = _estimate(engine, SMOL_PATH, **load).context_bytes
        return value

    one = context_bytes(**{"llm.load.contextLength": 1024, "llm.load.numParallelSessions": 1})
    assert (
        context_bytes(**{"llm.load.contextLength": 2048, "llm.load.numParallelSessions": 1})
        == 2 * one
    )
    # Four slots with a KV stream each (the engine's default) take four times the cache; a
    # unified cache is shared.
    assert context_bytes(**{"llm.load.contextLength": 1024}) == 4 * one
    assert (
        context_bytes(**{"llm.load.contextLength": 1024, "llm.load.useUnifiedKvCache": True}) == one
    )
    # A q8_0 cache takes 34 bytes a block of 32 elements instead of 64.
    quantised = context_bytes(
        **{
            "llm.load.contextLength": 1024,
            "llm.load.numParallelSessions": 1,
            "llm.load.llama.kCacheQuantizationType": {"checked": True, "value": "q8_0"},
            "llm.load.llama.vCacheQuantizationType": {"checked": True, "value": "q8_0"},
        }
    )
    assert quantised == round(one * 34 / 64)


def test_an_encoder_keeps_no_cache_and_a_bad_context_is_refused(engine: Any) -> None:
    from lmstudio_sdk.server.errors import ServerError

    minilm = _estimate(engine, MINILM_PATH)
    assert minilm.confident and minilm.context_bytes == 0 and minilm.model_bytes > 0
    with pytest.raises(ServerError, match="larger than this model supports"):
        _estimate(engine, SMOL_PATH, **{"llm.load.contextLength": 10**9})
