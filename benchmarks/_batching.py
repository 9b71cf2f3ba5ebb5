"""The batching rows: 4 parallel predictions vs one alone, a chat's second turn vs its first
(prompt cache), and 1,000 strings embedded in batches vs one at a time. Each row's two sides
alternate inside one worker (``_batching_cases``) against one ``serve --engine llama``."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import TYPE_CHECKING

from ._common import CaseResult
from ._llama_models import find_embedding_model, find_model, llama_model_key

if TYPE_CHECKING:
    from ._report import Better
    from .run import Bench

__all__ = ["bench_batching"]

GROUP = "batching"
PARALLEL_TOKENS = 64


def _skip_reason(models_dir: Path) -> str:
    if importlib.util.find_spec("llama_cpp") is None:
        return "llama-cpp-python is not installed (pip install 'lmstudio-sdk[server]')"
    if find_model(models_dir) is None or find_embedding_model(models_dir) is None:
        return (
            f"SmolLM2 or all-MiniLM-L6-v2 missing in {models_dir}: run `lmstudio-sdk models "
            f"install all --models-dir {models_dir}` or pass --models-dir"
        )
    return ""


def bench_batching(b: Bench, models_dir: Path) -> None:
    b.log("batching (llama.cpp): parallel predictions, prompt cache, embeddings")
    rows: tuple[tuple[str, str, Better, str], ...] = (
        ("4 parallel predictions: aggregate decode tokens/s", "tok/s", "higher", "one alone"),
        ("4 parallel predictions: median TTFT", "s", "lower", "one alone"),
        ("chat 2nd turn TTFT (1,000-token system prompt)", "s", "lower", "1st turn"),
        ("embed 1,000 strings: strings/s", "str/s", "higher", "one at a time"),
    )
    reason = _skip_reason(models_dir)
    if reason:
        for name, unit, better, baseline in rows:
            b.add(GROUP, name, unit, better, ("ours", reason), (baseline, reason))
        return
    model_path = find_model(models_dir)
    embed_path = find_embedding_model(models_dir)
    assert model_path is not None and embed_path is not None
    repeats = max(b.plan.infer_repeats, 3)
    args = ("--engine", "llama", "--models-dir", str(models_dir), "--threads", "1")
    with b.server(*args) as srv:
        key = llama_model_key(srv.url, model_path)
        base = {"url": srv.url, "key": key, "repeats": repeats}
        par = b.cases(
            "batching-parallel",
            {**base, "max_tokens": PARALLEL_TOKENS, "impls": ["four", "alone"]},
        )
        cache = b.cases("batching-prompt-cache", {**base, "impls": ["second", "first"]})
        embed_key = llama_model_key(srv.url, embed_path, "embedding")
        emb = b.cases(
            "batching-embed",
            {
                "url": srv.url,
                "key": embed_key,
                "model_path": str(embed_path),
                "count": b.plan.embed_count,
                "repeats": repeats,
                "impls": ["ours", "one"],
            },
        )
    four, alone = par["four"], par["alone"]
    note = ""
    if isinstance(four, CaseResult) and isinstance(alone, CaseResult):
        worst = max(four.extra["ttft_max"]) / max(min(alone.extra["ttft"]), 1e-9)
        note = f"{PARALLEL_TOKENS} tokens each; slowest stream's TTFT ≤ {worst:.2f}x alone"
    b.add(
        GROUP,
        rows[0][0],
        "tok/s",
        "higher",
        ("4 at once", four),
        ("one alone", alone),
        target=2.0,
        with_cpu=False,
        note=note,
    )
    ttft = [
        (label, CaseResult(r.extra["ttft"]) if isinstance(r, CaseResult) else r)
        for label, r in (("4 at once", four), ("one alone", alone))
    ]
    b.add(GROUP, rows[1][0], "s", "lower", ttft[0], ttft[1], target=2.0, with_cpu=False)
    second = cache["second"]
    note = ""
    if isinstance(second, CaseResult):
        note = f"2nd-turn prompt {second.extra['prompt_tokens'][0]} tokens, mostly from cache"
    b.add(
        GROUP,
        rows[2][0],
        "s",
        "lower",
        ("2nd turn", second),
        ("1st turn", cache["first"]),
        target=0.3,
        with_cpu=False,
        note=note,
    )
    b.add(
        GROUP,
        rows[3][0],
        "str/s",
        "higher",
        ("ours, batched", emb["ours"]),
        ("Llama.embed one at a time", emb["one"]),
        target=3.0,
        with_cpu=False,
        note="baseline: the per-call work of the old server path, in-process",
    )
