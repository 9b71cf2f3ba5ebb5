"""Speculative decoding on the llama engine: SmolLM2 drafts for itself (same vocabulary).

Without a draft, each token comes from a one-token batch; with one, the main model verifies
the draft in a batch of k+1 tokens. llama.cpp's attention gives the same logits for both only
with flash attention (its non-flash path sums in a batch-dependent order, so a near-tie can
flip), so the main model is loaded with it and the output is compared token for token.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import pytest

from lmstudio_sdk.server.engines.base import (
    CancelToken,
    FragmentGenerated,
    PredictionFinished,
    PredictionRequest,
)
from lmstudio_sdk.server.errors import ServerError

from .conftest import SMOL_PATH, chat, kv, load, predict_config, requires_engine
from .helpers import collect, finished, text_of

pytestmark = [pytest.mark.llama, requires_engine]

SMOL_KEY = "smollm2-135m-instruct"
DRAFT: dict[str, Any] = {"speculativeDecoding.draftModel": SMOL_KEY}
PROMPTS = ["Name three colors.", "Tell me a joke.", "Explain gravity to a child."]


@pytest.fixture(scope="module")
def flash_smol(engine: Any) -> Iterator[Any]:
    config = kv(**{"llm.load.contextLength": 2048, "llm.load.llama.flashAttention": True})
    model = load(engine, SMOL_PATH, config)
    yield model
    asyncio.run(model.unload())


def _request(prompt: str, max_tokens: int = 40, **extra: Any) -> PredictionRequest:
    return PredictionRequest(
        config=predict_config(max_tokens, **extra), history=chat(("user", prompt))
    )


def _tokens(events: list[Any]) -> list[str]:
    return [e.content for e in events if isinstance(e, FragmentGenerated)]


def _check_counts(done: PredictionFinished) -> None:
    assert done.used_draft_model_key == SMOL_KEY
    total = done.total_draft_tokens_count
    assert total is not None
    assert done.accepted_draft_tokens_count is not None
    assert done.rejected_draft_tokens_count is not None
    assert done.ignored_draft_tokens_count is not None
    assert total == (
        done.accepted_draft_tokens_count
        + done.rejected_draft_tokens_count
        + done.ignored_draft_tokens_count
    )


@pytest.mark.parametrize("prompt", PROMPTS)
async def test_greedy_output_is_the_same_token_for_token(flash_smol: Any, prompt: str) -> None:
    plain = await collect(flash_smol, _request(prompt))
    drafted = await collect(flash_smol, _request(prompt, **DRAFT))
    assert _tokens(drafted) == _tokens(plain)
    done, before = finished(drafted), finished(plain)
    assert done.stop_reason == before.stop_reason
    assert done.predicted_tokens_count == before.predicted_tokens_count
    _check_counts(done)
    assert done.accepted_draft_tokens_count and done.accepted_draft_tokens_count > 0
    assert before.used_draft_model_key is None and before.total_draft_tokens_count is None
    fragments = [e for e in drafted if isinstance(e, FragmentGenerated)]
    assert any(f.contains_drafted for f in fragments)
    assert not any(e.contains_drafted for e in plain if isinstance(e, FragmentGenerated))


async def test_sampled_output_with_a_seed_is_the_same(flash_smol: Any) -> None:
    # Accept-if-equal verification samples each token once, in order, from the main model's
    # logits: a seeded sampler gives the same text with and without the draft.
    sampled = {"temperature": 0.9, "seed": {"checked": True, "value": 42}}
    plain = await collect(flash_smol, _request("Write a poem about the sea.", 40, **sampled))
    drafted = await collect(
        flash_smol, _request("Write a poem about the sea.", 40, **sampled, **DRAFT)
    )
    assert _tokens(drafted) == _tokens(plain)
    _check_counts(finished(drafted))


async def test_stop_strings_and_max_tokens_still_apply(flash_smol: Any) -> None:
    plain = await collect(flash_smol, _request("Count from 1 to 20.", 30))
    text = text_of(plain)
    assert len(text) > 8
    stop = text[6:8]
    for extra in ({}, {"stopStrings": [stop]}):
        a = await collect(flash_smol, _request("Count from 1 to 20.", 30, **extra))
        b = await collect(flash_smol, _request("Count from 1 to 20.", 30, **extra, **DRAFT))
        assert text_of(b) == text_of(a)
        assert finished(b).stop_reason == finished(a).stop_reason
        _check_counts(finished(b))
    assert finished(b).stop_reason == "stopStringFound" and finished(b).stop_string == stop
    short = await collect(flash_smol, _request("Count from 1 to 20.", 5, **DRAFT))
    assert finished(short).predicted_tokens_count == 5
    assert finished(short).stop_reason == "maxPredictedTokensReached"


async def test_a_grammar_still_holds(flash_smol: Any) -> None:
    schema = {
        "type": "object",
        "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
        "required": ["name", "age"],
    }
    structured = {"structured": {"type": "json", "jsonSchema": schema}}
    plain = await collect(flash_smol, _request("Invent a person.", 60, **structured))
    drafted = await collect(flash_smol, _request("Invent a person.", 60, **structured, **DRAFT))
    assert text_of(drafted) == text_of(plain)
    if finished(drafted).stop_reason == "eosFound":
        assert set(json.loads(text_of(drafted))) == {"name", "age"}
    _check_counts(finished(drafted))


async def test_draft_settings(flash_smol: Any) -> None:
    # A minimum draft length the draft never reaches: every drafted token is ignored.
    ignored = await collect(
        flash_smol,
        _request(
            "Name three colors.",
            20,
            **DRAFT,
            **{
                "speculativeDecoding.maxTokensToDraft": 2,
                "speculativeDecoding.minDraftLengthToConsider": 3,
            },
        ),
    )
    done = finished(ignored)
    _check_counts(done)
    assert done.total_draft_tokens_count and done.total_draft_tokens_count > 0
    assert done.ignored_draft_tokens_count == done.total_draft_tokens_count
    assert not any(e.contains_drafted for e in ignored if isinstance(e, FragmentGenerated))
    # An exact draft length drafts that many whatever the draft's confidence.
    exact = await collect(
        flash_smol,
        _request(
            "Name three colors.", 20, **DRAFT, **{"speculativeDecoding.numDraftTokensExact": 3}
        ),
    )
    done = finished(exact)
    _check_counts(done)
    assert done.total_draft_tokens_count and done.total_draft_tokens_count >= 3
    assert text_of(exact) == text_of(ignored)


async def test_cancel_with_a_draft(flash_smol: Any) -> None:
    cancel = CancelToken()
    request = PredictionRequest(
        config=predict_config(400, **DRAFT),
        history=chat(("user", "Write a very long story about a dragon.")),
        cancel=cancel,
    )
    events: list[Any] = []
    async for event in flash_smol.predict(request):
        events.append(event)
        if isinstance(event, FragmentGenerated) and len(_tokens(events)) == 3:
            cancel.set()
    done = finished(events)
    assert done.stop_reason == "userStopped"
    assert done.predicted_tokens_count < 400
    _check_counts(done)


async def test_incompatible_vocabulary_is_refused_naming_both_models(flash_smol: Any) -> None:
    tiny = "test/tiny-no-template-GGUF/tiny-no-template-F32.gguf"
    with pytest.raises(ServerError) as caught:
        await collect(flash_smol, _request("Hi.", 4, **{"speculativeDecoding.draftModel": tiny}))
    error = caught.value
    assert error.display_data and error.display_data["code"] == (
        "generic.engineDoesNotSupportFeature"
    )
    assert "tiny-no-template" in error.title and SMOL_KEY in error.title
    assert "tokens" in error.title  # 259 against 49152
    with pytest.raises(ServerError, match="tiny-no-template"):
        await flash_smol.preload_draft_model(tiny)


async def test_unknown_or_embedding_draft_models_are_refused(flash_smol: Any) -> None:
    with pytest.raises(ServerError) as caught:
        await collect(flash_smol, _request("Hi.", 4, **{"speculativeDecoding.draftModel": "nope"}))
    assert caught.value.display_data and caught.value.display_data["code"] == (
        "generic.pathNotFound"
    )
    with pytest.raises(ServerError) as caught:
        await flash_smol.preload_draft_model("text-embedding-all-minilm-l6-v2")
    assert caught.value.display_data and caught.value.display_data["code"] == (
        "generic.domainMismatch"
    )


async def test_parallel_sequences_with_and_without_a_draft(engine: Any) -> None:
    config = kv(
        **{
            "llm.load.contextLength": 1024,
            "llm.load.llama.flashAttention": True,
            "llm.load.numParallelSessions": 2,
        }
    )
    from .conftest import aload

    model = await aload(engine, SMOL_PATH, config)
    try:
        await model.preload_draft_model(SMOL_KEY)
        alone = [await collect(model, _request(p, 24)) for p in PROMPTS[:2]]
        together = await asyncio.gather(
            collect(model, _request(PROMPTS[0], 24, **DRAFT)),
            collect(model, _request(PROMPTS[1], 24)),
        )
        assert text_of(together[0]) == text_of(alone[0])
        assert text_of(together[1]) == text_of(alone[1])
        _check_counts(finished(together[0]))
        assert finished(together[1]).used_draft_model_key is None
    finally:
        await model.unload()


async def test_a_long_prompt_is_caught_up_over_several_steps(flash_smol: Any) -> None:
    # Over 128 tokens: the draft evaluates the prompt in steps, drafting nothing meanwhile.
    story = "The river ran past the old mill, and the miller counted his sacks of grain. " * 12
    prompt = story + "What did the miller count?"
    plain = await collect(flash_smol, _request(prompt, 40))
    drafted = await collect(flash_smol, _request(prompt, 40, **DRAFT))
    assert finished(plain).prompt_tokens_count > 2 * 128
    assert _tokens(drafted) == _tokens(plain)
    done = finished(drafted)
    _check_counts(done)
    assert done.accepted_draft_tokens_count and done.accepted_draft_tokens_count > 0


@pytest.mark.parametrize(
    ("policy", "stop_reason"),
    [("stopAtLimit", "contextLengthReached"), ("rollingWindow", "maxPredictedTokensReached")],
)
async def test_context_overflow_with_a_draft_and_a_grammar(
    smol_small_ctx: Any, policy: str, stop_reason: str
) -> None:
    # A 64-token context and an endless grammar ("ab" repeated): the draft is capped to the
    # room left, and drafted tokens the grammar forbids are rejected.
    events = await collect(
        smol_small_ctx,
        PredictionRequest(
            config=predict_config(
                60,
                contextOverflowPolicy=policy,
                structured={"type": "gbnf", "gbnfGrammar": 'root ::= "ab" root'},
                **DRAFT,
            ),
            history=chat(("user", "Hi")),
        ),
    )
    done = finished(events)
    assert done.stop_reason == stop_reason
    text = text_of(events)
    assert text and set(text) <= {"a", "b"} and "aa" not in text and "bb" not in text
    _check_counts(done)
    assert done.total_draft_tokens_count
