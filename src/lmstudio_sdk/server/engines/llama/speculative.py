"""Speculative decoding: a small draft model proposes tokens, the main model checks them all
in one batch.

How one step goes for a sequence with a draft model (``BatchScheduler`` calls
:meth:`Drafter.propose` while it plans a step, and verifies after the decode):

1. The draft model (a second ``Llama`` context, one sequence per slot of the main model)
   catches up with the sequence's tokens (it keeps the KV cells of the longest common prefix
   and evaluates only the rest), then drafts greedily: up to ``maxTokensToDraft`` tokens (or
   exactly ``numDraftTokensExact``), stopping early when its most likely token is less likely
   than ``minContinueDraftingProbability``. A draft shorter than ``minDraftLengthToConsider``
   is dropped (counted as *ignored*: never sent to the main model).
2. The main model evaluates the last sampled token and the k drafted ones in the same batch as
   the other sequences, with logits for all k+1 positions.
3. Verification, position by position: the sequence's own sampler (penalties, grammar,
   temperature, seed: the same chain as without a draft) samples a token from the main
   model's logits; a drafted token is *accepted* when it equals the sampled token. At the first
   difference the sampled token is kept (it is what the main model would have produced) and the
   rest of the draft is *rejected*; when all k are accepted, the token sampled at the last
   position comes for free. The KV cells of rejected tokens are removed from both models
   (``llama_memory_seq_rm``).

This is the "accept if the sampled token equals the draft" scheme (as llama.cpp's own
speculative example does), not the rejection-sampling scheme: each output token is sampled
from the main model's distribution exactly as without a draft (the sampler sees the same
logits and is called the same number of times, in the same order), so the output does not
depend on the draft; at temperature 0 it is the same, token for token. A grammar (structured
output, forced tool calls) needs no special treatment: a drafted token the grammar forbids can
never equal the sampled token, so it is rejected.

The draft runs on the scheduler thread, one sequence after the other, before the batch it
feeds (drafting is not itself batched across sequences); a sequence the draft has not seen
yet (its prompt) is caught up ``CATCH_UP_PER_STEP`` tokens per step, drafting nothing until
then. Not drafted (the counts stay 0 for those tokens): prompts with images (their cells
cannot be evaluated from tokens), and tokens that would go past ``maxPredictedTokens`` or the
context.
"""

from __future__ import annotations

import contextlib
import logging
import math
from dataclasses import dataclass
from typing import Any

from ...errors import ServerError, unsupported_feature
from ...local.models_dir import ScannedModel
from .batch import TokenBatch, decode_tokens
from .runtime import LOAD_LOCK, parallel_context

__all__ = ["DraftCounts", "DraftModel", "Drafter", "check_vocabularies", "load_draft_model"]

_log = logging.getLogger("lmstudio_sdk.server.engines.llama")

DRAFT_KEY = "llm.prediction.speculativeDecoding.draftModel"

# The draft evaluates at most this many tokens of a sequence it has not seen per step (a long
# prompt is caught up over several steps, drafting nothing meanwhile), so that one new
# sequence does not stall the others for a whole prompt.
CATCH_UP_PER_STEP = 128

# llama.cpp's tolerance (common/speculative.cpp): vocabularies may differ by a few added tokens.
_MAX_VOCAB_SIZE_DIFFERENCE = 128


@dataclass(slots=True)
class DraftCounts:
    """What became of the drafted tokens of one prediction (``total = accepted + rejected +
    ignored``)."""

    model_key: str
    total: int = 0
    accepted: int = 0
    rejected: int = 0
    ignored: int = 0


def check_vocabularies(
    lc: Any, main_vocab: Any, draft_vocab: Any, main_key: str, draft_key: str
) -> None:
    """Refuse a draft model whose tokens mean something else than the main model's: the same
    vocabulary type, BOS and EOS, sizes within 128, and the same text for every token id both
    have."""

    def refuse(why: str) -> ServerError:
        return unsupported_feature(
            DRAFT_KEY,
            f"the draft model {draft_key!r} cannot draft for {main_key!r}: {why}",
            f"Use a draft model with the same tokenizer as {main_key!r} (usually a smaller "
            "model of the same family).",
        )

    if lc.llama_vocab_type(main_vocab) != lc.llama_vocab_type(draft_vocab):
        raise refuse("their vocabularies are of different types")
    n_main = int(lc.llama_vocab_n_tokens(main_vocab))
    n_draft = int(lc.llama_vocab_n_tokens(draft_vocab))
    if abs(n_main - n_draft) > _MAX_VOCAB_SIZE_DIFFERENCE:
        raise refuse(f"their vocabularies have {n_main} and {n_draft} tokens")
    for name, fn in (("BOS", lc.llama_vocab_bos), ("EOS", lc.llama_vocab_eos)):
        if int(fn(main_vocab)) != int(fn(draft_vocab)):
            raise refuse(f"their {name} tokens differ")
    for token in range(min(n_main, n_draft)):
        if lc.llama_vocab_get_text(main_vocab, token) != lc.llama_vocab_get_text(
            draft_vocab, token
        ):
            raise refuse(f"token {token} differs")


def _common_prefix(a: list[int], b: list[int]) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y or x < 0:
            break
        n += 1
    return n


class DraftModel:
    """A draft model loaded next to a main model: its own context, with one sequence per slot of
    the main model (same sequence ids), used only on the main model's scheduler thread."""

    def __init__(self, lc: Any, llm: Any, model_key: str, n_ctx: int, n_batch: int) -> None:
        self._lc = lc
        self._llm = llm
        self.model_key = model_key
        self.vocab = llm._model.vocab
        self._ctx = llm._ctx.ctx
        self._mem = lc.llama_get_memory(self._ctx)
        self._n_ctx = n_ctx
        self._n_vocab = int(lc.llama_vocab_n_tokens(self.vocab))
        self._batch = TokenBatch(lc, n_batch)
        self._resident: dict[int, list[int]] = {}  # seq id -> tokens whose KV it holds

    def close(self) -> None:
        self._batch.close()
        with contextlib.suppress(Exception):
            self._llm.close()

    def propose(self, seq_id: int, context: list[int], limit: int, min_p: float) -> list[int]:
        """Up to ``limit`` greedy tokens after ``context`` (fewer when the draft's best token
        is less likely than ``min_p``, or it ends the text)."""
        if not context or any(t < 0 for t in context):
            return []
        limit = min(limit, self._n_ctx - len(context) - 1)
        if limit <= 0:
            return []
        lc = self._lc
        resident = self._resident.setdefault(seq_id, [])
        keep = min(_common_prefix(resident, context), len(context) - 1)
        if keep < len(resident) and not lc.llama_memory_seq_rm(self._mem, seq_id, keep, -1):
            lc.llama_memory_seq_rm(self._mem, seq_id, 0, -1)
            keep = 0
        del resident[keep:]
        todo = context[keep:]
        behind = len(todo) > CATCH_UP_PER_STEP
        if behind:
            todo = todo[:CATCH_UP_PER_STEP]
        try:
            decode_tokens(self._batch, self._ctx, todo, seq_id, keep, not behind)
        except ServerError:
            lc.llama_memory_seq_rm(self._mem, seq_id, 0, -1)
            resident.clear()
            return []
        resident.extend(todo)
        if behind:
            return []
        index = self._batch.n - 1
        drafts: list[int] = []
        while True:
            token, p = self._best(index)
            if p < min_p:
                break
            drafts.append(token)
            if len(drafts) >= limit or lc.llama_vocab_is_eog(self.vocab, token):
                break
            self._batch.clear()
            index = self._batch.add(token, len(resident), seq_id, True)
            if self._batch.decode(self._ctx) != 0:
                break
            resident.append(token)
        return drafts

    def _best(self, index: int) -> tuple[int, float]:
        """The most likely next token at batch output ``index`` and its probability."""
        import numpy as np

        pointer = self._lc.llama_get_logits_ith(self._ctx, index)
        logits = np.ctypeslib.as_array(pointer, shape=(self._n_vocab,))
        token = int(logits.argmax())
        peak = float(logits[token])
        total = float(np.exp(logits.astype(np.float64) - peak).sum())
        return token, 1.0 / total if total > 0 and math.isfinite(total) else 0.0


def load_draft_model(
    lc: Any,
    scanned: ScannedModel,
    *,
    n_ctx: int,
    n_slots: int,
    n_threads: int,
    n_batch: int,
    flash_attn: bool,
) -> DraftModel:
    """Load ``scanned`` as a draft model: a context of ``n_ctx`` tokens per sequence, one
    sequence per slot of the main model, each in a KV stream of its own (with flash attention
    when the main model has it, so that a model drafting for itself agrees with itself)."""
    kwargs: dict[str, Any] = {
        "flash_attn": flash_attn,
        "n_ctx": n_ctx * n_slots,
        "n_threads": n_threads,
        "n_threads_batch": n_threads,
        "n_batch": n_batch,
        "n_gpu_layers": 0,
        "verbose": False,
    }
    key = scanned.info.model_key
    try:
        with (
            LOAD_LOCK,
            parallel_context(n_slots, unified=False) if n_slots > 1 else contextlib.nullcontext(),
        ):
            llm = lc.Llama(str(scanned.file), **kwargs)
    except Exception as exc:
        raise ServerError(
            f"Failed to load the draft model {key}", cause=str(exc) or type(exc).__name__
        ) from exc
    _log.info("loaded %s as a draft model", key)
    return DraftModel(lc, llm, key, n_ctx, n_batch)


class Drafter:
    """The draft settings (``llm.prediction.speculativeDecoding.*``) and counts of one
    prediction."""

    def __init__(
        self,
        draft: DraftModel,
        *,
        max_tokens: int,
        min_tokens: int,
        min_p: float,
        exact: int | None,
    ) -> None:
        self.draft = draft
        self.max_tokens = max_tokens
        self.min_tokens = min_tokens
        self.min_p = min_p
        self.exact = exact
        self.counts = DraftCounts(draft.model_key)

    def propose(self, seq_id: int, generation: Any, room: int, n_ctx: int) -> list[int]:
        """The tokens to verify after ``generation.context`` (whose last token the main model
        has yet to evaluate); ``room`` is what is left in the batch for them."""
        limit = self.exact if self.exact is not None else self.max_tokens
        params = generation.params
        if params.max_tokens is not None:
            # The main model's own token after the draft counts too.
            limit = min(limit, params.max_tokens - generation.predicted - 1)
        limit = min(limit, room, n_ctx - len(generation.context) - 1)
        if limit <= 0:
            return []
        min_p = 0.0 if self.exact is not None else self.min_p
        drafts = self.draft.propose(seq_id, generation.context, limit, min_p)
        self.counts.total += len(drafts)
        if drafts and len(drafts) < self.min_tokens:
            self.counts.ignored += len(drafts)
            return []
        return drafts
