"""Real inference: our SDK against a llama-engine server vs llama-cpp-python called directly.

Both sides run the same GGUF file with one thread, the same prompts (one per repeat, so that
neither side reuses a cached prompt prefix), greedy sampling with the engine's default sampler
settings, and the same token budget. Decode rate = (tokens - 1) / (last token - first token);
TTFT = request start → first text at the caller.
"""

from __future__ import annotations

import time
from typing import Any

from ._common import CaseResult, JsonDict

# The llama engine's defaults (server/engines/llama/sampling.py), with temperature 0: greedy.
TOP_K, TOP_P, MIN_P, REPEAT_PENALTY = 40, 0.95, 0.05, 1.1
CLIENT_TIMEOUT = 300.0


def prompts(count: int) -> list[str]:
    """Distinct prompts of equal shape (a different first word defeats prefix caching)."""
    subjects = ["dragon", "robot", "sailor", "gardener", "wizard", "pilot", "baker", "miner"]
    return [
        f"Story {i + 1}. Once upon a time, a {subjects[i % len(subjects)]} lived in a small "
        "village by the sea. Every morning,"
        for i in range(count)
    ]


def ours(p: JsonDict) -> CaseResult:
    import lmstudio_sdk

    url, key, max_tokens, repeats = p["url"], p["key"], p["max_tokens"], p["repeats"]
    client = lmstudio_sdk.Client(url, timeout=CLIENT_TIMEOUT)
    model = client.llm.model(key, ttl=None)
    config: Any = {"temperature": 0.0, "max_tokens": max_tokens}
    texts = prompts(repeats + 1)
    result = CaseResult([], extra={"ttft": [], "tokens": [], "server_tps": [], "text": []})
    for i, prompt in enumerate(texts):
        stream = model.complete_stream(prompt, config=config)
        start = time.perf_counter()
        first = last = 0.0
        pieces: list[str] = []
        for fragment in stream:
            last = time.perf_counter()
            if not pieces:
                first = last
            pieces.append(fragment.content)
        stats = stream.result().stats
        if i == 0:
            continue  # warm-up
        tokens = stats.predicted_tokens_count or len(pieces)
        result.samples.append((tokens - 1) / (last - first))
        result.extra["ttft"].append(first - start)
        result.extra["tokens"].append(tokens)
        result.extra["server_tps"].append(stats.tokens_per_second)
        result.extra["text"].append("".join(pieces))
    client.close()
    return result


def direct(p: JsonDict) -> CaseResult:
    import llama_cpp

    path, max_tokens, repeats = p["model_path"], p["max_tokens"], p["repeats"]
    llm = llama_cpp.Llama(
        path, n_ctx=4096, n_threads=1, n_threads_batch=1, n_gpu_layers=0, verbose=False
    )
    vocab = llm._model.vocab
    texts = prompts(repeats + 1)
    result = CaseResult([], extra={"ttft": [], "tokens": [], "text": []})
    for i, prompt in enumerate(texts):
        start = time.perf_counter()
        tokens = llm.tokenize(prompt.encode(), add_bos=True, special=True)
        first = last = 0.0
        count = 0
        pieces: list[bytes] = []
        generator = llm.generate(
            tokens,
            temp=0.0,
            top_k=TOP_K,
            top_p=TOP_P,
            min_p=MIN_P,
            repeat_penalty=REPEAT_PENALTY,
        )
        for token in generator:
            if llama_cpp.llama_vocab_is_eog(vocab, token):
                break
            pieces.append(llm.detokenize([token]))
            last = time.perf_counter()
            if count == 0:
                first = last
            count += 1
            if count >= max_tokens:
                break
        if i == 0:
            continue  # warm-up
        result.samples.append((count - 1) / (last - first))
        result.extra["ttft"].append(first - start)
        result.extra["tokens"].append(count)
        result.extra["text"].append(b"".join(pieces).decode("utf-8", "replace"))
    llm.close()
    return result
