"""Token log-probabilities (``llm.prediction.logProbs``) and logit bias
(``llm.prediction.llama.logitBias``) in the llama engine, on SmolLM2."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest

from lmstudio_sdk.server.engines.base import FragmentGenerated, PredictionRequest
from lmstudio_sdk.server.engines.llama import tools

from .conftest import chat, predict_config, requires_engine
from .helpers import collect, finished, text_of

pytestmark = [pytest.mark.llama, requires_engine]

GREEDY = {"repeatPenalty": {"checked": False, "value": 1.1}}


async def test_every_token_carries_its_logprob_and_top_alternatives(smol: Any) -> None:
    config = predict_config(12, logProbs={"checked": True, "value": 3}, **GREEDY)
    events = await collect(
        smol, PredictionRequest(config=config, history=chat(("user", "Name a colour.")))
    )
    fragments = [e for e in events if isinstance(e, FragmentGenerated)]
    tokens = [t for f in fragments for t in (f.tokens or ())]
    assert fragments and all(f.tokens is not None for f in fragments)
    assert len(tokens) == finished(events).predicted_tokens_count
    assert "".join(t.text for t in tokens) == text_of(events)
    for token in tokens:
        assert token.log_prob <= 0 and len(token.candidates) == 3
        logprobs = [c[2] for c in token.candidates]
        assert logprobs == sorted(logprobs, reverse=True)
        assert sum(math.exp(lp) for lp in logprobs) <= 1 + 1e-6
        # Greedy without penalties: the chosen token is the most likely one.
        assert token.candidates[0][1] == token.id
        assert token.candidates[0][2] == pytest.approx(token.log_prob)


async def test_no_logprobs_unless_asked(smol: Any) -> None:
    events = await collect(
        smol, PredictionRequest(config=predict_config(4), history=chat(("user", "Hi")))
    )
    assert all(e.tokens is None for e in events if isinstance(e, FragmentGenerated))


async def test_logit_bias_bans_and_forces_tokens(smol: Any) -> None:
    history = chat(("user", "Name a colour."))
    first = await collect(smol, PredictionRequest(config=predict_config(3), history=history))
    greedy = text_of(first)
    banned = smol._tokenize(greedy, add_bos=False, special=False)[0]
    config = predict_config(3, **{"llama.logitBias": [[banned, "-inf"]]})
    second = await collect(smol, PredictionRequest(config=config, history=history))
    assert smol._tokenize(text_of(second), add_bos=False, special=False)[0] != banned
    forced = smol._tokenize(" zebra", add_bos=False, special=False)[0]
    config = predict_config(2, **{"llama.logitBias": [[forced, 100]]})
    third = await collect(smol, PredictionRequest(config=config, history=history))
    assert smol._tokenize(text_of(third), add_bos=False, special=False)[0] == forced


SCHEMA = {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]}


async def _pushed_to_newlines(smol: Any) -> str:
    newline = smol._tokenize("\n", add_bos=False, special=False)[0]
    config = predict_config(
        24,
        structured={"type": "json", "jsonSchema": SCHEMA},
        **{"llama.logitBias": [[newline, 20]]},
    )
    events = await collect(
        smol, PredictionRequest(config=config, history=chat(("user", "Name a book.")))
    )
    return text_of(events)


async def test_a_newline_biased_reply_stays_json(smol: Any) -> None:
    # The grammar's only whitespace is a space: no raw control character gets in anywhere
    # (the reply may still be cut off by max_tokens, in escapes such as "\\n").
    text = await _pushed_to_newlines(smol)
    assert text.startswith("{") and not any(ord(c) < 0x20 for c in text), text


async def test_the_converters_own_string_rule_lets_a_raw_newline_in(
    smol: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The bug the strict rule fixes, reproduced deterministically: with llama-cpp-python's
    ``char ::= [^"\\\\]`` a newline pushed by logit bias lands inside the string."""
    monkeypatch.setattr(tools, "strict_json_strings", lambda grammar: grammar)
    text = await _pushed_to_newlines(smol)
    assert '"\n' in text, text  # a raw newline right inside the string
    with pytest.raises(ValueError):
        json.loads(text)
