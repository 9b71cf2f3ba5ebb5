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
THREADS = 1  # the server's --threads, and the ceiling's
# Each case runs its engine sides and the ceiling's, repeat by repeat: on a busy machine
# that takes several minutes.
TIMEOUT = 1800.0


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
        ("ceiling: decode tokens/s, 4 sequences per step vs 1", "tok/s", "higher", "1 per step"),
        ("ceiling: prefill of 4 prompts in one batch vs one", "s", "lower", "1 prompt"),
        ("ceiling: embed 1,000 strings, several per decode vs one", "str/s", "higher", "one"),
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
    args = ("--engine", "llama", "--models-dir", str(models_dir), "--threads", str(THREADS))
    with b.server(*args) as srv:
        key = llama_model_key(srv.url, model_path)
        base = {"url": srv.url, "key": key, "repeats": repeats}
        par = b.cases(
            "batching-parallel",
            {
                **base,
                "max_tokens": PARALLEL_TOKENS,
                "model_path": str(model_path),
                "threads": THREADS,
                "impls": ["four", "alone", "raw_four", "raw_one"],
            },
            timeout=TIMEOUT,
        )
        cache = b.cases(
            "batching-prompt-cache", {**base, "impls": ["second", "first"]}, timeout=TIMEOUT
        )
        embed_key = llama_model_key(srv.url, embed_path, "embedding")
        emb = b.cases(
            "batching-embed",
            {
                "url": srv.url,
                "key": embed_key,
                "model_path": str(embed_path),
                "count": b.plan.embed_count,
                "repeats": repeats,
                "threads": THREADS,
                "impls": ["ours", "one", "raw_batched", "raw_one"],
            },
            timeout=TIMEOUT,
        )
    four, alone = par["four"], par["alone"]
    raw_four, raw_one = par["raw_four"], par["raw_one"]
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
    b.add(
        GROUP,
        "ceiling: decode tokens/s, 4 sequences per step vs 1",
        "tok/s",
        "higher",
        ("llama.cpp, 4 per step", raw_four),
        ("llama.cpp, 1 per step", raw_one),
        with_cpu=False,
        note=f"llama_decode directly, {THREADS} thread(s), no sampling: the best 4 parallel "
        "predictions can do on this machine",
    )
    prefill = [
        (label, CaseResult(r.extra["prefill"]) if isinstance(r, CaseResult) else r)
        for label, r in (("4 prompts, one batch", raw_four), ("1 prompt", raw_one))
    ]
    row = b.add(
        GROUP,
        "ceiling: prefill of 4 prompts in one batch vs one",
        "s",
        "lower",
        prefill[0],
        prefill[1],
        with_cpu=False,
    )
    if row.ratio is not None:
        # The median of 4 TTFTs is the 3rd stream's (``_batching_cases.parallel``): it needs
        # 3 prompts evaluated one after the other, or all 4 in one batch.
        row.note = (
            f"the TTFT ceiling: the median stream's first token needs 3 prompts evaluated "
            f"(≈ 3x one) or all 4 in one batch ({row.ratio:.2f}x), so at best "
            f"{min(row.ratio, 3.0):.2f}x alone"
        )
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
    b.add(
        GROUP,
        "ceiling: embed 1,000 strings, several per decode vs one",
        "str/s",
        "higher",
        ("llama.cpp, batched", emb["raw_batched"]),
        ("llama.cpp, one per decode", emb["raw_one"]),
        with_cpu=False,
        note="llama_decode directly (mean pooling), up to 64 tokens per decode",
    )
