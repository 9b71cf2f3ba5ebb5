"""Embeddings of concurrent requests, computed together: one llama.cpp batch holds several
strings, each in a sequence of its own.

Requests queue up while a batch runs (the client pipelines one ``embedString`` per string),
and the worker takes every waiting string that fits into the next batch, so the batch grows
with the load without a fixed gather delay.
"""

from __future__ import annotations

import asyncio
import collections
import math
import threading
from dataclasses import dataclass
from typing import Any

from ...errors import ServerError
from .batch import TokenBatch
from .handoff import inbox_for

__all__ = ["EmbeddingBatcher"]

# Tokens per batch, unless one input alone is longer. A non-causal model attends over every
# token of the batch (masked per sequence), so big batches waste work: all-MiniLM-L6-v2 on one
# thread embedded 107 short strings/s in batches of 512 tokens, 178 in 128, 203 in 64, 189 in
# 32, against 120 one at a time.
BATCH_TOKENS = 64


@dataclass(eq=False)
class _Request:
    tokens: list[int]
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[list[float]]


class EmbeddingBatcher:
    """Embeds token lists in batches on a thread of its own (which owns the context)."""

    def __init__(self, lc: Any, llm: Any, n_ctx: int, name: str) -> None:
        self._lc = lc
        self._ctx = llm._ctx.ctx
        self._mem = lc.llama_get_memory(self._ctx)
        self._n_embd = int(llm.n_embd())
        # A non-causal model needs every sequence whole in one micro-batch.
        self._capacity = int(min(llm.context_params.n_batch, llm.context_params.n_ubatch))
        self._max_seqs = max(1, int(llm.context_params.n_seq_max))
        self.n_ctx = min(n_ctx, self._capacity)
        self._batch = TokenBatch(lc, self._capacity)
        self._queue: collections.deque[_Request] = collections.deque()
        self._wake = threading.Condition()
        self._closed = False
        self._thread = threading.Thread(target=self._loop, name=f"embed-{name}", daemon=True)
        self._thread.start()

    @property
    def max_sequences(self) -> int:
        return self._max_seqs

    async def embed(self, tokens: list[int]) -> list[float]:
        if len(tokens) > self.n_ctx:
            # LM Studio cuts such input to the context and only logs a warning; the
            # embedString result has no field to say so, so the caller gets an error instead
            # of the embedding of a text it did not send.
            raise ServerError(
                f"The input ({len(tokens)} tokens) is longer than the model's context "
                f"({self.n_ctx} tokens)",
                cause="An embedding of the truncated text would not be the embedding of the "
                "input, and the result cannot say that it was truncated.",
                suggestion="Split the text into shorter pieces and embed each of them, or "
                "load the model with a longer context if it supports one.",
            )
        loop = asyncio.get_running_loop()
        request = _Request(tokens, loop, loop.create_future())
        with self._wake:
            if self._closed:
                raise ServerError("The model has been unloaded")
            self._queue.append(request)
            self._wake.notify()
        return await request.future

    def close(self) -> None:
        with self._wake:
            self._closed = True
            self._wake.notify()
        self._thread.join()
        self._batch.close()

    def _loop(self) -> None:
        while True:
            with self._wake:
                while not self._closed and not self._queue:
                    self._wake.wait()
                if self._closed:
                    pending = list(self._queue)
                    self._queue.clear()
                    for request in pending:
                        _settle(request, ServerError("The model has been unloaded"))
                    return
                taken = self._take()
            try:
                vectors = self._run(taken)
            except BaseException as exc:
                for request in taken:
                    _settle(request, exc)
            else:
                for request, vector in zip(taken, vectors, strict=True):
                    _settle(request, vector)

    def _take(self) -> list[_Request]:
        taken: list[_Request] = []
        used = 0
        while self._queue and len(taken) < self._max_seqs:
            n = len(self._queue[0].tokens)
            if taken and used + n > BATCH_TOKENS:
                break
            taken.append(self._queue.popleft())
            used += n
        return taken

    def _run(self, requests: list[_Request]) -> list[list[float]]:
        batch = self._batch
        batch.clear()
        for seq_id, request in enumerate(requests):
            for pos, token in enumerate(request.tokens):
                batch.add(token, pos, seq_id, True)
        if self._mem is not None:  # non-causal models may have no KV memory
            self._lc.llama_memory_clear(self._mem, True)
        result = batch.decode(self._ctx)
        if result != 0:
            raise ServerError(f"Computing the embeddings failed (llama_decode code {result})")
        vectors = []
        for seq_id in range(len(requests)):
            ptr = self._lc.llama_get_embeddings_seq(self._ctx, seq_id)
            vector = [float(v) for v in ptr[: self._n_embd]]
            norm = math.sqrt(sum(v * v for v in vector))
            vectors.append([v / norm for v in vector] if norm > 0 else vector)
        return vectors


def _settle(request: _Request, outcome: list[float] | BaseException) -> None:
    def settle() -> None:
        if request.future.done():
            return
        if isinstance(outcome, BaseException):
            request.future.set_exception(outcome)
        else:
            request.future.set_result(outcome)

    # One loop wake-up for all the requests of a batch, not one each.
    inbox_for(request.loop).post(settle)
