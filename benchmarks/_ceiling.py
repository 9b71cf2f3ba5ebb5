"""The hardware ceiling of the batching rows: llama.cpp's low-level API driven directly (no
server, no sampling, no per-token Python beyond filling the batch), with the engine's thread
count, so that each batching ratio can be set beside the best this machine can do.

- decode: one step of 1 token (1 sequence) vs one step of 4 tokens (4 sequences);
- prefill: 4 prompts in one batch vs one prompt alone (each prompt's first logits);
- embeddings: 1,000 short strings in batches of several sequences vs one per ``llama_decode``.

The workers of ``_batching_cases`` call these between the engine's repeats, so both come from
the same moments of the shared machine.
"""

from __future__ import annotations

import ctypes
import time
from collections.abc import Sequence
from typing import Any

__all__ = ["EmbedCeiling", "LlmCeiling"]


def _lc() -> Any:
    import llama_cpp

    return llama_cpp.llama_cpp


def _tokenize(lc: Any, vocab: Any, text: str, add_special: bool) -> list[int]:
    raw = text.encode()
    buf = (lc.llama_token * (len(raw) + 8))()
    n = lc.llama_tokenize(vocab, raw, len(raw), buf, len(buf), add_special, False)
    if n < 0:
        raise RuntimeError("tokenize failed")
    return list(buf[:n])


class _Context:
    def __init__(self, path: str, threads: int, **params: Any) -> None:
        lc = self.lc = _lc()
        lc.llama_backend_init()
        mparams = lc.llama_model_default_params()
        self.model = lc.llama_model_load_from_file(path.encode(), mparams)
        if not self.model:
            raise RuntimeError(f"cannot load {path}")
        self.vocab = lc.llama_model_get_vocab(self.model)
        cparams = lc.llama_context_default_params()
        cparams.n_threads = threads
        cparams.n_threads_batch = threads
        for key, value in params.items():
            setattr(cparams, key, value)
        self.ctx = lc.llama_init_from_model(self.model, cparams)
        if not self.ctx:
            raise RuntimeError("cannot create the context")
        self.mem = lc.llama_get_memory(self.ctx)
        self.capacity = int(cparams.n_batch)
        self.batch = lc.llama_batch_init(self.capacity, 0, int(cparams.n_seq_max))

    def decode(self, items: Sequence[tuple[int, int, int, bool]]) -> None:
        """One ``llama_decode`` of (token, pos, seq_id, output) items."""
        b = self.batch
        for i, (token, pos, seq, out) in enumerate(items):
            b.token[i] = token
            b.pos[i] = pos
            b.n_seq_id[i] = 1
            b.seq_id[i][0] = seq
            b.logits[i] = out
        b.n_tokens = len(items)
        code = self.lc.llama_decode(self.ctx, b)
        if code != 0:
            raise RuntimeError(f"llama_decode: {code}")

    def close(self) -> None:
        self.lc.llama_batch_free(self.batch)
        self.lc.llama_free(self.ctx)
        self.lc.llama_model_free(self.model)


class LlmCeiling:
    """Decode steps and prefills of an LLM with ``n_seq`` sequences in KV streams of their own
    (as the engine's scheduler runs them), plus one for the single-sequence steps."""

    def __init__(self, path: str, threads: int, n_seq: int = 4, n_ctx_seq: int = 4096) -> None:
        n_seq += 1
        self.n_seq = n_seq
        self.c = _Context(
            path, threads, n_ctx=n_ctx_seq * n_seq, n_batch=512, n_seq_max=n_seq, kv_unified=False
        )

    def tokens(self, text: str) -> list[int]:
        return _tokenize(self.c.lc, self.c.vocab, text, True)

    def _reset(self) -> None:
        self.c.lc.llama_memory_clear(self.c.mem, True)

    def prefill(self, prompts: list[list[int]]) -> float:
        """Seconds to evaluate ``prompts`` (one sequence each) in one batch, with the last
        token's logits of each (what its first sampled token needs)."""
        self._reset()
        items = [
            (t, pos, seq, pos == len(p) - 1)
            for seq, p in enumerate(prompts)
            for pos, t in enumerate(p)
        ]
        start = time.perf_counter()
        self.c.decode(items)
        return time.perf_counter() - start

    def decode_rates(self, prompt: list[int], n_seq: int, steps: int) -> tuple[float, float]:
        """Tokens/s of decode steps of ``n_seq`` sequences and of 1 sequence (one token each,
        with logits), after the prompt was evaluated into each: the two kinds of step
        alternate, so that a busy moment of the machine hits both alike."""
        assert n_seq < self.n_seq, "one more sequence than n_seq for the single steps"
        self._reset()
        single = self.n_seq - 1
        self.c.decode(
            [(t, pos, s, False) for s in (*range(n_seq), single) for pos, t in enumerate(prompt)]
        )
        token = prompt[-1]
        many = one = 0.0
        for step in range(steps):
            pos = len(prompt) + step
            start = time.perf_counter()
            self.c.decode([(token, pos, s, True) for s in range(n_seq)])
            middle = time.perf_counter()
            self.c.decode([(token, pos, single, True)])
            one += time.perf_counter() - middle
            many += middle - start
        return n_seq * steps / many, steps / one

    def close(self) -> None:
        self.c.close()


class EmbedCeiling:
    """Mean-pooled embeddings of an embedding model, one string per decode or several."""

    def __init__(self, path: str, threads: int, n_seq: int = 64) -> None:
        lc = _lc()
        self.c = _Context(
            path,
            threads,
            n_ctx=512,
            n_batch=512,
            n_ubatch=512,
            n_seq_max=n_seq,
            embeddings=True,
            pooling_type=lc.LLAMA_POOLING_TYPE_MEAN,
        )
        self.n_seq = n_seq
        self.n_embd = int(lc.llama_model_n_embd(self.c.model))

    def tokens(self, text: str) -> list[int]:
        return _tokenize(self.c.lc, self.c.vocab, text, True)

    def rates(self, texts: list[str], batch_tokens: int) -> tuple[float, float]:
        """Strings/s (tokenizing included) with up to ``batch_tokens`` tokens per decode, and
        with one string per decode: each group of strings is embedded both ways in turn, so
        that a busy moment of the machine hits both alike."""
        batched = one = 0.0
        i = 0
        while i < len(texts):
            start = time.perf_counter()
            group = [self.tokens(texts[i])]
            used = len(group[0])
            i += 1
            while i < len(texts) and len(group) < self.n_seq:
                tokens = self.tokens(texts[i])
                if used + len(tokens) > batch_tokens:
                    break
                group.append(tokens)
                used += len(tokens)
                i += 1
            self._embed(group)
            middle = time.perf_counter()
            for text in texts[i - len(group) : i]:
                self._embed([self.tokens(text)])
            one += time.perf_counter() - middle
            batched += middle - start
        return len(texts) / batched, len(texts) / one

    def _embed(self, group: list[list[int]]) -> None:
        lc, c = self.c.lc, self.c
        if c.mem:
            lc.llama_memory_clear(c.mem, True)
        c.decode([(t, pos, s, True) for s, toks in enumerate(group) for pos, t in enumerate(toks)])
        for s in range(len(group)):
            ptr = lc.llama_get_embeddings_seq(c.ctx, s)
            vector = ctypes.cast(ptr, ctypes.POINTER(ctypes.c_float * self.n_embd)).contents
            assert len(vector) == self.n_embd

    def close(self) -> None:
        self.c.close()
