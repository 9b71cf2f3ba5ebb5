"""A llama.cpp token batch (``llama_batch``) that holds tokens of several sequences, and the
calls on a context's KV memory that the schedulers need."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ...errors import ServerError

__all__ = ["TokenBatch", "decode_tokens"]


class TokenBatch:
    """Up to ``capacity`` tokens, each in one sequence, with or without output (logits or
    embeddings)."""

    def __init__(self, lc: Any, capacity: int) -> None:
        self._lc = lc
        self.capacity = capacity
        self._batch = lc.llama_batch_init(capacity, 0, 1)
        self.n = 0

    def clear(self) -> None:
        self.n = 0
        self._batch.n_tokens = 0

    @property
    def room(self) -> int:
        return self.capacity - self.n

    def add(self, token: int, pos: int, seq_id: int, output: bool) -> int:
        """Append one token; returns its index in the batch (where its output is read)."""
        i = self.n
        b = self._batch
        b.token[i] = token
        b.pos[i] = pos
        b.n_seq_id[i] = 1
        b.seq_id[i][0] = seq_id
        b.logits[i] = output
        self.n = i + 1
        b.n_tokens = self.n
        return i

    def decode(self, ctx: Any) -> int:
        """``llama_decode``: 0 on success, 1 when the KV cache has no room, <0 on errors."""
        return int(self._lc.llama_decode(ctx, self._batch))

    def close(self) -> None:
        if self._batch is not None:
            self._lc.llama_batch_free(self._batch)
            self._batch = None


def decode_tokens(
    batch: TokenBatch, ctx: Any, tokens: Sequence[int], seq_id: int, pos: int, last_output: bool
) -> None:
    """Evaluate ``tokens`` into one sequence from position ``pos``, batch by batch; the last
    one gets an output if ``last_output``."""
    for start in range(0, len(tokens), batch.capacity):
        batch.clear()
        chunk = tokens[start : start + batch.capacity]
        end = start + len(chunk)
        for j, token in enumerate(chunk):
            batch.add(token, pos + start + j, seq_id, last_output and start + j == len(tokens) - 1)
        if batch.decode(ctx) != 0:
            raise ServerError(
                "The prompt does not fit in the model's KV cache",
                cause=f"llama_decode failed at tokens {start}..{end}",
            )
