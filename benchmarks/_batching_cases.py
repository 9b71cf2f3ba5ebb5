"""Worker cases of the batching rows: parallel predictions, prompt caching, batched embeddings.

Each case alternates its two sides repeat by repeat inside one worker, so that a busy phase of
the shared machine hits both alike, and the ratio comes from one run.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from ._common import CaseResult, JsonDict

CLIENT_TIMEOUT = 300.0
PARALLEL = 4
# Tokens per decode of the embedding ceiling, as the engine batches them (a sweep of
# all-MiniLM-L6-v2 on one thread here found 64 to 512 alike, within the noise: 32 tokens
# 126 str/s, 64: 147, 128: 156, 256: 151, 512: 147).
CEILING_EMBED_BATCH_TOKENS = 64
CEILING_PREFILL_ROUNDS = 3


def _prompt(tag: str) -> str:
    # A distinct first word per request: no prompt prefix is shared, nothing comes from cache.
    return (
        f"{tag}. Once upon a time, a traveller reached a small village by the sea. Every morning,"
    )


async def _timed_stream(
    model: Any, prompt: str, max_tokens: int
) -> tuple[float, float, float, int]:
    """(start, first text, last text, tokens) of one streamed completion."""
    config: Any = {"temperature": 0.0, "max_tokens": max_tokens}
    start = time.perf_counter()
    first = last = 0.0
    stream = model.complete_stream(prompt, config=config)
    async for _fragment in stream:
        last = time.perf_counter()
        if not first:
            first = last
    result = await stream.result()
    return start, first, last, int(result.stats.predicted_tokens_count or 0)


def parallel(p: JsonDict) -> dict[str, CaseResult]:
    """Aggregate decode tokens/s and TTFT: 4 concurrent predictions vs one alone; between
    repeats, the same work on llama.cpp directly (the ceiling, ``_ceiling.LlmCeiling``)."""
    import lmstudio_sdk

    from ._ceiling import LlmCeiling

    url, key, max_tokens, repeats = p["url"], p["key"], p["max_tokens"], p["repeats"]
    alone = CaseResult([], extra={"ttft": []})
    four = CaseResult([], extra={"ttft": [], "ttft_max": []})
    ceiling = LlmCeiling(p["model_path"], p["threads"], PARALLEL)
    raw_four = CaseResult([], extra={"prefill": []})
    raw_one = CaseResult([], extra={"prefill": []})

    def measure_ceiling(r: int) -> None:
        prompts = [ceiling.tokens(_prompt(f"Batch{r}x{i}")) for i in range(PARALLEL)]
        rate_four, rate_one = ceiling.decode_rates(prompts[0], PARALLEL, max_tokens)
        raw_four.samples.append(rate_four)
        raw_one.samples.append(rate_one)
        one = four = 0.0
        for _ in range(CEILING_PREFILL_ROUNDS):  # alternating, as the decode steps do
            one += ceiling.prefill(prompts[:1])
            four += ceiling.prefill(prompts)
        raw_one.extra["prefill"].append(one / CEILING_PREFILL_ROUNDS)
        raw_four.extra["prefill"].append(four / CEILING_PREFILL_ROUNDS)

    async def main() -> None:
        async with lmstudio_sdk.AsyncClient(url, timeout=CLIENT_TIMEOUT) as client:
            model = await client.llm.model(key, ttl=None)
            await _timed_stream(model, _prompt("Warm-up"), 8)
            for r in range(repeats):
                start, first, last, tokens = await _timed_stream(
                    model, _prompt(f"Alone{r}"), max_tokens
                )
                alone.samples.append((tokens - 1) / (last - first))
                alone.extra["ttft"].append(first - start)
                runs = await asyncio.gather(
                    *(
                        _timed_stream(model, _prompt(f"Batch{r}x{i}"), max_tokens)
                        for i in range(PARALLEL)
                    )
                )
                span = max(run[2] for run in runs) - min(run[1] for run in runs)
                four.samples.append(sum(run[3] - 1 for run in runs) / span)
                ttfts = [run[1] - run[0] for run in runs]
                four.extra["ttft"].append(sorted(ttfts)[len(ttfts) // 2])
                four.extra["ttft_max"].append(max(ttfts))
                measure_ceiling(r)

    asyncio.run(main())
    ceiling.close()
    return {"four": four, "alone": alone, "raw_four": raw_four, "raw_one": raw_one}


def prompt_cache(p: JsonDict) -> dict[str, CaseResult]:
    """TTFT of a chat's second turn vs its first, with a ~1,000-token system prompt."""
    import lmstudio_sdk

    url, key, repeats = p["url"], p["key"], p["repeats"]
    rules = " ".join(f"Rule {i}: answer briefly, politely and precisely." for i in range(110))
    first_turn = CaseResult([])
    second_turn = CaseResult([], extra={"prompt_tokens": []})
    config: Any = {"temperature": 0.0, "max_tokens": 8}
    with lmstudio_sdk.Client(url, timeout=CLIENT_TIMEOUT) as client:
        model = client.llm.model(key, ttl=None)
        for r in range(repeats + 1):
            # A distinct first line per repeat: the first turn never finds its prompt cached.
            system = f"Session {r}. You are a careful assistant. {rules}"
            chat: list[Any] = [
                {"role": "system", "content": system},
                {"role": "user", "content": "What is the capital of France?"},
            ]
            ttft = []
            for turn in range(2):
                stream = model.respond_stream(chat, config=config)
                start = time.perf_counter()
                first = 0.0
                for _fragment in stream:
                    if not first:
                        first = time.perf_counter()
                result = stream.result()
                ttft.append(first - start)
                if turn == 0:
                    chat += [
                        {"role": "assistant", "content": result.content},
                        {"role": "user", "content": "And of Italy?"},
                    ]
            if r == 0:
                continue  # warm-up
            first_turn.samples.append(ttft[0])
            second_turn.samples.append(ttft[1])
            second_turn.extra["prompt_tokens"].append(result.stats.prompt_tokens_count)
    return {"second": second_turn, "first": first_turn}


def embed_batched(p: JsonDict) -> dict[str, CaseResult]:
    """Strings/s: ``model.embed(list)`` against the llama server vs the one-string-at-a-time
    work today's server did per call (``Llama.embed`` of one string, in-process: no protocol
    cost at all on that side); between repeats, llama.cpp directly with several strings per
    decode vs one (the ceiling, ``_ceiling.EmbedCeiling``)."""
    import llama_cpp

    import lmstudio_sdk

    from ._ceiling import EmbedCeiling

    url, key, path = p["url"], p["key"], p["model_path"]
    count, repeats = p["count"], p["repeats"]
    texts = [f"Short sentence number {i} about item {i * 7 % 97}." for i in range(count)]
    llm = llama_cpp.Llama(
        path,
        embedding=True,
        n_ctx=512,
        n_threads=p["threads"],
        n_threads_batch=p["threads"],
        verbose=False,
    )
    ours = CaseResult([])
    one_by_one = CaseResult([])
    ceiling = EmbedCeiling(path, p["threads"])
    raw_batched = CaseResult([], extra={"batch_tokens": CEILING_EMBED_BATCH_TOKENS})
    raw_one = CaseResult([])
    with lmstudio_sdk.Client(url, timeout=CLIENT_TIMEOUT) as client:
        model = client.embedding.model(key, ttl=None)
        model.embed(texts[:8])  # warm-up
        for _ in range(repeats):
            start = time.perf_counter()
            vectors = model.embed(texts)
            ours.samples.append(len(vectors) / (time.perf_counter() - start))
            start = time.perf_counter()
            for text in texts:
                llm.embed(text, normalize=True, truncate=True)
            one_by_one.samples.append(count / (time.perf_counter() - start))
            rate_batched, rate_one = ceiling.rates(texts, CEILING_EMBED_BATCH_TOKENS)
            raw_batched.samples.append(rate_batched)
            raw_one.samples.append(rate_one)
    llm.close()
    ceiling.close()
    return {"ours": ours, "one": one_by_one, "raw_batched": raw_batched, "raw_one": raw_one}
