"""The llama.cpp sampler chain of one prediction, and the log-probabilities of its tokens.

The chain is llama-cpp-python's own (``Llama._init_sampler``) with the logit bias in front:
logit bias, penalties, grammar, then greedy or top-k / typical / top-p / min-p / temperature /
distribution (or mirostat).
"""

from __future__ import annotations

import math
from typing import Any

from ..base import TokenLogProb
from .sampling import SamplingParams

__all__ = ["build_sampler", "token_logprob"]


def build_sampler(llm: Any, params: SamplingParams, grammar: Any, top_k: int) -> Any:
    """A new sampler chain (``llama_cpp._internals.LlamaSampler``) for ``params``."""
    from llama_cpp import _internals

    internals: Any = _internals  # untyped
    sampler = internals.LlamaSampler()
    if params.logit_bias:
        sampler.add_logit_bias(llm._n_vocab, params.logit_bias)
    sampler.add_penalties(
        n_vocab=llm._n_vocab,
        penalty_last_n=llm.last_n_tokens_size,
        penalty_repeat=params.repeat_penalty,
        penalty_freq=params.frequency_penalty,
        penalty_present=params.presence_penalty,
    )
    if grammar is not None:
        sampler.add_grammar(llm._model, grammar)
    seed = llm._seed
    if params.temperature == 0.0:
        sampler.add_greedy()
    elif params.mirostat_mode == 1:
        sampler.add_mirostat(llm._n_vocab, seed, params.mirostat_tau, params.mirostat_eta, 100)
    elif params.mirostat_mode == 2:
        sampler.add_mirostat_v2(seed, params.mirostat_tau, params.mirostat_eta)
    else:
        sampler.add_top_k(top_k)
        sampler.add_typical(params.typical_p, 1)
        sampler.add_top_p(params.top_p, 1)
        sampler.add_min_p(params.min_p, 1)
        sampler.add_temp(params.temperature)
        sampler.add_dist(seed)
    return sampler


def token_logprob(
    lc: Any, ctx: Any, index: int, n_vocab: int, token: int, top: int, piece: Any
) -> TokenLogProb:
    """The model's log-probability of ``token`` at batch output ``index`` (its raw
    distribution, before sampling), with the ``top`` most likely tokens as alternatives."""
    import numpy as np

    pointer = lc.llama_get_logits_ith(ctx, index)
    logits = np.ctypeslib.as_array(pointer, shape=(n_vocab,)).astype(np.float64)
    peak = float(logits.max())
    log_total = peak + math.log(float(np.exp(logits - peak).sum()))
    candidates: tuple[tuple[str, int, float], ...] = ()
    if top > 0:
        best = np.argpartition(-logits, min(top, n_vocab) - 1)[:top]
        best = best[np.argsort(-logits[best], kind="stable")]
        candidates = tuple(
            (piece(int(t)), int(t), float(logits[t]) - log_total) for t in best.tolist()
        )
    return TokenLogProb(
        text=piece(token),
        id=token,
        log_prob=float(logits[token]) - log_total,
        candidates=candidates,
    )
