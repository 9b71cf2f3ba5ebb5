"""The sampling loop of one prediction: tokens to text, stop strings, context shifting, and the
final stop reason and timings."""

from __future__ import annotations

import codecs
import logging
import random
import time
from collections.abc import Callable, Sequence
from typing import Any

from ..base import CancelToken, PredictionFinished
from .instance import LlamaInstance
from .sampling import SamplingParams
from .tools import OutputParser

__all__ = ["generate"]

_log = logging.getLogger("lmstudio_sdk.server.engines.llama")


def generate(
    m: LlamaInstance,
    prompt_tokens: list[int],
    params: SamplingParams,
    grammar: Any,
    parser: OutputParser,
    *,
    emit: Callable[[Any], None],
    cancelled: Callable[[], bool],
    cancel: CancelToken,
    t_start: float,
) -> None:
    """Sample until a stop condition, emitting parsed events; ends with PredictionFinished."""
    llm = m._llm
    n_ctx = m._n_ctx
    llm.set_seed(params.seed if params.seed is not None else random.randrange(2**31))
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    stops = params.stop_strings
    pending = ""
    pending_tokens = 0
    predicted = 0
    t_first: float | None = None
    stop_reason = "eosFound"
    stop_string: str | None = None
    context: list[int] = list(prompt_tokens)

    def send(text: str, n_tokens: int) -> None:
        for event in parser.feed(text, n_tokens):
            emit(event)

    finished = False
    while not finished:
        generator = llm.generate(
            context,
            top_k=params.top_k if params.top_k > 0 else n_ctx,
            top_p=params.top_p,
            min_p=params.min_p,
            typical_p=params.typical_p,
            temp=params.temperature,
            repeat_penalty=params.repeat_penalty,
            frequency_penalty=params.frequency_penalty,
            presence_penalty=params.presence_penalty,
            mirostat_mode=params.mirostat_mode,
            mirostat_tau=params.mirostat_tau,
            mirostat_eta=params.mirostat_eta,
            grammar=grammar,
        )
        try:
            shifted = False
            for token in generator:
                token = int(token)
                if t_first is None:
                    t_first = time.monotonic()
                if cancelled():
                    stop_reason = "userStopped"
                    finished = True
                    break
                if m._lc.llama_vocab_is_eog(m._vocab, token):
                    stop_reason = "eosFound"
                    finished = True
                    break
                predicted += 1
                context.append(token)
                pending += decoder.decode(m._piece(token))
                pending_tokens += 1
                hit = _find_stop(pending, stops)
                if hit is not None:
                    idx, stop_string = hit
                    send(pending[:idx], pending_tokens)
                    pending, pending_tokens = "", 0
                    stop_reason = "stopStringFound"
                    finished = True
                    break
                hold = _stop_prefix_len(pending, stops)
                if hold < len(pending):
                    send(pending[: len(pending) - hold], pending_tokens)
                    pending = pending[len(pending) - hold :]
                    pending_tokens = 0
                if params.max_tokens is not None and predicted >= params.max_tokens:
                    stop_reason = "maxPredictedTokensReached"
                    finished = True
                    break
                if len(context) >= n_ctx:
                    if params.overflow_policy == "stopAtLimit":
                        stop_reason = "contextLengthReached"
                        finished = True
                    else:
                        context = _shift(m, context, params, n_ctx)
                        shifted = True
                    break
            if not finished and not shifted:
                finished = True  # the generator ended by itself
        finally:
            generator.close()
        if cancelled() and not finished:
            stop_reason, finished = "userStopped", True

    tail = pending + decoder.decode(b"", final=True)
    if tail:
        send(tail, pending_tokens)
    for event in parser.finish():
        emit(event)
    if parser.tool_calls and stop_reason in (
        "eosFound",
        "stopStringFound",
        "maxPredictedTokensReached",
    ):
        # The model asked for tools (a call that completed on the last allowed token
        # counts too; a cut-off call was reported as ToolCallFailed by the parser).
        stop_reason = "toolCalls"
    if stop_reason == "userStopped" and m._unloading and not cancel.is_set():
        stop_reason = "modelUnloaded"
    t_end = time.monotonic()
    ttft = (t_first - t_start) if t_first is not None else None
    gen_time = (t_end - t_first) if t_first is not None else 0.0
    tps = predicted / gen_time if predicted and gen_time > 0 else None
    emit(
        PredictionFinished(
            stop_reason=stop_reason,
            prompt_tokens_count=len(prompt_tokens),
            predicted_tokens_count=predicted,
            time_to_first_token_sec=ttft,
            total_time_sec=t_end - t_start,
            tokens_per_second=tps,
            stop_string=stop_string if stop_reason == "stopStringFound" else None,
        )
    )


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
