"""The tokens one sequence samples, as events: text, stop strings, context shifting, and the
final stop reason and timings."""

from __future__ import annotations

import codecs
import dataclasses
import enum
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

from ..base import CancelToken, FragmentGenerated, PredictionFinished, TokenLogProb
from .instance import LlamaInstance
from .sampling import SamplingParams
from .speculative import DraftCounts
from .tools import OutputParser

__all__ = ["Generation", "Step"]

_log = logging.getLogger("lmstudio_sdk.server.engines.llama")


class Step(enum.Enum):
    """What the batch scheduler does with a sequence after it took one sampled token."""

    CONTINUE = "continue"  # decode the token and sample the next one
    RESHAPED = "reshaped"  # the context was shifted: evaluate ``context`` again, then sample
    DONE = "done"  # finished; PredictionFinished has been emitted


class Generation:
    """The sampled tokens of one sequence turned into events: text, stop strings, context
    shifting, and the final stop reason and timings.

    The batch scheduler samples and calls :meth:`take` once per token; this class never
    touches the llama.cpp context itself, so many of them can share one batch.
    """

    def __init__(
        self,
        m: LlamaInstance,
        prompt_tokens: list[int],
        params: SamplingParams,
        parser: OutputParser,
        *,
        emit: Callable[[Any], None],
        cancel: CancelToken,
        t_start: float,
    ) -> None:
        self.m = m
        self.params = params
        self.parser = parser
        self.emit = emit
        self.cancel = cancel
        self.t_start = t_start
        self.n_prompt = len(prompt_tokens)
        #: The tokens whose KV the sequence needs before its next sample.
        self.context: list[int] = list(prompt_tokens)
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._pending = ""
        self._pending_tokens = 0
        self.predicted = 0
        self._t_first: float | None = None
        self._stop_string: str | None = None
        self.finished = False
        #: Log-probabilities of tokens not yet attached to a fragment (when asked for).
        self._logprobs: list[TokenLogProb] = []
        self._reasoning_tokens = 0
        #: Speculative decoding: what became of the drafted tokens (None: no draft model).
        self.draft: DraftCounts | None = None
        self._drafted = False  # accepted drafted tokens not yet sent in a fragment

    def _send(self, text: str, n_tokens: int) -> None:
        self._emit_all(self.parser.feed(text, n_tokens))

    def _emit_all(self, events: list[Any]) -> None:
        for event in events:
            if self._drafted and isinstance(event, FragmentGenerated):
                event = dataclasses.replace(event, contains_drafted=True)
                self._drafted = False
            if self._logprobs and isinstance(event, FragmentGenerated):
                # A fragment carries the tokens sampled since the previous one.
                event = dataclasses.replace(event, tokens=tuple(self._logprobs))
                self._logprobs = []
            elif self.params.logprobs is not None and isinstance(event, FragmentGenerated):
                event = dataclasses.replace(event, tokens=())
            self.emit(event)

    def take(
        self, token: int, logprob: TokenLogProb | None = None, *, drafted: bool = False
    ) -> Step:
        """One sampled token (with its log-probability when they were asked for);
        ``drafted``: a draft model proposed it and the main model accepted it."""
        m, params = self.m, self.params
        if logprob is not None and not m._lc.llama_vocab_is_eog(m._vocab, token):
            self._logprobs.append(logprob)
        if self._t_first is None:
            self._t_first = time.monotonic()
        if m._lc.llama_vocab_is_eog(m._vocab, token):
            return self.stop("eosFound")
        self._drafted = self._drafted or drafted  # an end-of-text token is never sent
        self.predicted += 1
        self.context.append(token)
        self._pending += self._decoder.decode(m._piece(token))
        self._pending_tokens += 1
        stops = params.stop_strings
        hit = _find_stop(self._pending, stops)
        if hit is not None:
            idx, self._stop_string = hit
            self._send(self._pending[:idx], self._pending_tokens)
            self._pending, self._pending_tokens = "", 0
            return self.stop("stopStringFound")
        hold = _stop_prefix_len(self._pending, stops)
        if hold < len(self._pending):
            self._send(self._pending[: len(self._pending) - hold], self._pending_tokens)
            self._pending = self._pending[len(self._pending) - hold :]
            self._pending_tokens = 0
        if params.max_tokens is not None and self.predicted >= params.max_tokens:
            return self.stop("maxPredictedTokensReached")
        if self._reasoning_budget_spent():
            # Close the reasoning: the end tag goes out as text and into the context.
            assert params.reasoning is not None
            end = params.reasoning.end
            self._send(self._pending + end, self._pending_tokens)
            self._pending, self._pending_tokens = "", 0
            self.context.extend(m._tokenize(end, add_bos=False, special=True))
            return Step.RESHAPED
        if len(self.context) >= m._n_ctx:
            if params.overflow_policy == "stopAtLimit":
                return self.stop("contextLengthReached")
            self.context = _shift(m, self.context, params, m._n_ctx)
            return Step.RESHAPED
        return Step.CONTINUE

    def _reasoning_budget_spent(self) -> bool:
        budget = self.params.reasoning_budget
        if budget is None or self.params.reasoning is None or not self.parser.in_reasoning:
            return False
        self._reasoning_tokens += 1
        return self._reasoning_tokens >= budget

    def stop(self, stop_reason: str) -> Step:
        """End the sequence: flush the text, then PredictionFinished."""
        if self.finished:
            return Step.DONE
        self.finished = True
        tail = self._pending + self._decoder.decode(b"", final=True)
        if tail:
            self._send(tail, self._pending_tokens)
        self._emit_all(self.parser.finish())
        if self.parser.tool_calls and stop_reason in (
            "eosFound",
            "stopStringFound",
            "maxPredictedTokensReached",
        ):
            # The model asked for tools (a call that completed on the last allowed token
            # counts too; a cut-off call was reported as ToolCallFailed by the parser).
            stop_reason = "toolCalls"
        if stop_reason == "userStopped" and self.m._unloading and not self.cancel.is_set():
            stop_reason = "modelUnloaded"
        t_end = time.monotonic()
        t_first = self._t_first
        ttft = (t_first - self.t_start) if t_first is not None else None
        gen_time = (t_end - t_first) if t_first is not None else 0.0
        predicted = self.predicted
        tps = predicted / gen_time if predicted and gen_time > 0 else None
        draft = self.draft
        self.emit(
            PredictionFinished(
                stop_reason=stop_reason,
                prompt_tokens_count=self.n_prompt,
                predicted_tokens_count=predicted,
                time_to_first_token_sec=ttft,
                total_time_sec=t_end - self.t_start,
                tokens_per_second=tps,
                stop_string=self._stop_string if stop_reason == "stopStringFound" else None,
                used_draft_model_key=draft.model_key if draft else None,
                total_draft_tokens_count=draft.total if draft else None,
                accepted_draft_tokens_count=draft.accepted if draft else None,
                rejected_draft_tokens_count=draft.rejected if draft else None,
                ignored_draft_tokens_count=draft.ignored if draft else None,
            )
        )
        return Step.DONE


def _shift(m: LlamaInstance, context: list[int], params: SamplingParams, n_ctx: int) -> list[int]:
    """Make room when the context is full (truncateMiddle / rollingWindow)."""
    keep = 1 if context and context[0] == m._bos_id else 0
    if params.overflow_policy == "truncateMiddle":
        keep = max(keep, min(len(context) // 4, n_ctx // 4))
    discard = max((len(context) - keep) // 2, 1)
    _log.info(
        "%s: context full; dropping %d tokens (%s)",
        m.info.model_key,
        discard,
        params.overflow_policy,
    )
    return context[:keep] + context[keep + discard :]


def _find_stop(text: str, stops: Sequence[str]) -> tuple[int, str] | None:
    best: tuple[int, str] | None = None
    for stop in stops:
        idx = text.find(stop)
        if idx >= 0 and (best is None or idx < best[0]):
            best = (idx, stop)
    return best


def _stop_prefix_len(text: str, stops: Sequence[str]) -> int:
    best = 0
    for stop in stops:
        for n in range(min(len(stop) - 1, len(text)), best, -1):
            if text.endswith(stop[:n]):
                best = n
                break
    return best
