"""Parallel predictions decoded in one batch, prompt caching and batched embeddings, on real
models (SmolLM2-135M, all-MiniLM-L6-v2).

Batched greedy output is compared with the same request run alone: the batch changes the
shapes of llama.cpp's matrix products and so the order in which floats are summed, which can
flip a near-tie between two tokens; the tests allow for that where the issue does (7 of 8).
"""

from __future__ import annotations

import asyncio
import math
import re
from typing import Any

import pytest

from lmstudio_sdk.server import LMStudioServer, ServerRecorder
from lmstudio_sdk.server.engines.base import (
    CancelToken,
    FragmentGenerated,
    PredictionRequest,
    PromptProgress,
)
from lmstudio_sdk.server.errors import ServerError

from ..server.helpers import by_identifier, connect, load, predict_params, stack
from .conftest import SMOL_PATH, aload, chat, kv, predict_config, requires_engine
from .helpers import collect, finished, text_of

pytestmark = [pytest.mark.llama, requires_engine]

SMOL_KEY = "smollm2-135m-instruct"

MIXED = [
    PredictionRequest(config=predict_config(32), history=chat(("user", "Name three colors."))),
    PredictionRequest(config=predict_config(32), history=chat(("user", "What is 2+2?"))),
    PredictionRequest(config=predict_config(32), history=chat(("user", "Tell me a joke."))),
    PredictionRequest(
        config=predict_config(32),
        history=chat(("system", "You answer like a pirate."), ("user", "Where is the ship?")),
    ),
    PredictionRequest(config=predict_config(32), raw_prompt="The quick brown fox"),
    PredictionRequest(config=predict_config(32), history=chat(("user", "Write a haiku."))),
    PredictionRequest(
        config=predict_config(32), history=chat(("user", "Explain gravity to a child."))
    ),
    PredictionRequest(config=predict_config(32), raw_prompt="Once upon a time"),
]


def _copy(request: PredictionRequest, cancel: CancelToken | None = None) -> PredictionRequest:
    return PredictionRequest(
        config=request.config,
        history=request.history,
        raw_prompt=request.raw_prompt,
        cancel=cancel or CancelToken(),
    )


async def test_batched_greedy_output_matches_each_request_alone(smol: Any) -> None:
    assert smol.parallel_slots == 4
    alone = [text_of(await collect(smol, _copy(r))) for r in MIXED]
    # Eight at once on four slots: four decode together, the rest join as slots free up.
    batched_events = await asyncio.gather(*(collect(smol, _copy(r)) for r in MIXED))
    batched = [text_of(events) for events in batched_events]
    for events in batched_events:
        assert finished(events).stop_reason in ("eosFound", "maxPredictedTokensReached")
    same = sum(a == b for a, b in zip(alone, batched, strict=True))
    assert all(alone), alone
    assert same >= 7, list(zip(alone, batched, strict=True))


async def test_one_cancelled_and_one_constrained_while_others_run(smol: Any) -> None:
    plain = [
        PredictionRequest(config=predict_config(24), history=chat(("user", "Count to ten."))),
        PredictionRequest(config=predict_config(24), history=chat(("user", "Say hello."))),
    ]
    alone = [text_of(await collect(smol, _copy(r))) for r in plain]
    grammar = 'root ::= [a-z]{2,8} " = " [0-9]{1,3}'
    constrained = PredictionRequest(
        config=predict_config(24, structured={"type": "gbnf", "gbnfGrammar": grammar}),
        history=chat(("user", "Give a variable and its value.")),
    )
    cancel = CancelToken()
    doomed = PredictionRequest(
        config=predict_config(200),
        history=chat(("user", "Write a very long story about a dragon.")),
        cancel=cancel,
    )

    async def cancelled_after_first_fragment() -> list[Any]:
        events = []
        async for event in smol.predict(doomed):
            events.append(event)
            if isinstance(event, FragmentGenerated):
                cancel.set()
        return events

    results = await asyncio.gather(
        collect(smol, _copy(plain[0])),
        cancelled_after_first_fragment(),
        collect(smol, constrained),
        collect(smol, _copy(plain[1])),
    )
    first, stopped, structured, second = results
    done = finished(stopped)
    assert done.stop_reason == "userStopped"
    assert done.predicted_tokens_count <= 3
    assert re.fullmatch(r"[a-z]{2,8} = [0-9]{1,3}", text_of(structured)), text_of(structured)
    assert [text_of(first), text_of(second)] == alone


async def test_prompt_cache_is_reused_on_the_next_turn(smol: Any) -> None:
    system = "You are a careful assistant. " + " ".join(
        f"Rule {i}: be kind and precise." for i in range(30)
    )
    first = chat(("system", system), ("user", "What is the capital of France?"))
    events = await collect(smol, PredictionRequest(config=predict_config(8), history=first))
    reply = text_of(events)
    first_progress = [e for e in events if isinstance(e, PromptProgress)]
    assert first_progress[-1].progress == 1.0
    n_first = finished(events).prompt_tokens_count

    second = chat(
        ("system", system),
        ("user", "What is the capital of France?"),
        ("assistant", reply),
        ("user", "And of Italy?"),
    )
    events = await collect(smol, PredictionRequest(config=predict_config(8), history=second))
    details = [e.details for e in events if isinstance(e, PromptProgress)]
    # Everything up to the first turn's prompt was resident already.
    assert details[0].cached_token_count >= n_first - 1
    assert details[-1].processed_prompt_token_count == finished(events).prompt_tokens_count

    # Another conversation with the same system prompt starts from the cached system prompt.
    other = chat(("system", system), ("user", "Name a fruit."))
    events = await collect(smol, PredictionRequest(config=predict_config(4), history=other))
    details = [e.details for e in events if isinstance(e, PromptProgress)]
    assert details[0].cached_token_count >= len(await smol.tokenize(system))


async def test_requests_beyond_the_slots_are_reported_as_queued(models_dir: Any) -> None:
    from lmstudio_sdk.server.engines.llama import LlamaEngine

    server = LMStudioServer(
        LlamaEngine(models_dir, n_threads=1),
        host="127.0.0.1",
        port=0,
        observer=ServerRecorder(),
    )
    await server.start()
    try:
        async with connect(server.url, "/llm") as llm:
            config = stack(llm__load__numParallelSessions=2, llm__load__contextLength=1024)
            await load(llm, SMOL_KEY, loadConfigStack=config)
            long = stack(llm__prediction__maxPredictedTokens={"checked": True, "value": 4000})
            channels = [
                await llm.open_channel("predict", predict_params(text, SMOL_KEY, long))
                for text in ("Tell a long story.", "Describe the sea.", "List many animals.")
            ]

            def fragment_of(channel: int) -> Any:
                return lambda f: (
                    f.get("channelId") == channel and f["message"]["type"] == "fragment"
                )

            await llm.wait_for(fragment_of(channels[0]))
            await llm.wait_for(fragment_of(channels[1]))
            state: dict[str, Any] = {}
            async with asyncio.timeout(10):
                # ``queued`` counts every request of the instance, running ones included (as
                # LM Studio documents it): two in the slots plus the third one waiting.
                while state.get("queued") != 3:
                    state = await llm.rpc(
                        "getInstanceProcessingState",
                        {"specifier": by_identifier(SMOL_KEY), "throwIfNotFound": True},
                    )
            assert state["status"] in ("processingPrompt", "generating")
            assert not any(
                f["message"]["type"] == "fragment" for f in llm.channel_frames(channels[2])
            )
            for channel in channels:
                await llm.channel_send(channel, {"type": "cancel"})
            for channel in channels:
                assert (await llm.channel_end(channel, timeout=30))["type"] == "channelClose"
    finally:
        await server.stop()


async def test_concurrent_embeddings_match_one_at_a_time(minilm: Any) -> None:
    texts = [f"Sentence number {i} is about {w}." for i, w in enumerate("abcdefghijklmnop")]
    alone = [await minilm.embed(t) for t in texts]
    together = await asyncio.gather(*(minilm.embed(t) for t in texts))
    for a, b in zip(alone, together, strict=True):
        cos = sum(x * y for x, y in zip(a, b, strict=True))
        assert math.isclose(cos, 1.0, abs_tol=1e-4)


async def test_embedding_input_longer_than_the_context_is_an_error(minilm: Any) -> None:
    text = "word " * 600  # > 512 tokens
    with pytest.raises(ServerError, match="longer than the model's context") as caught:
        await minilm.embed(text)
    assert "512" in str(caught.value)
    # A short input next to it is still fine.
    assert len(await minilm.embed("short")) == 384


async def test_shared_kv_cache_runs_parallel_sequences(engine: Any) -> None:
    config = kv(
        **{
            "llm.load.contextLength": 512,
            "llm.load.numParallelSessions": 2,
            "llm.load.useUnifiedKvCache": True,
        }
    )
    model = await aload(engine, SMOL_PATH, config)
    try:
        assert model.parallel_slots == 2
        assert model.context_length == 512
        assert model.load_config.get("llm.load.useUnifiedKvCache") is True
        system = "You are terse. " * 20
        requests = [
            PredictionRequest(
                config=predict_config(12), history=chat(("system", system), ("user", question))
            )
            for question in ("Name a color.", "Name a fruit.", "Name a city.")
        ]
        results = await asyncio.gather(*(collect(model, r) for r in requests))
        for events in results:
            assert finished(events).stop_reason in ("eosFound", "maxPredictedTokensReached")
            assert text_of(events)
        # A later request finds the system prompt the others left in the shared cache. (Not the
        # third of the gather itself: whether it waits for a slot that already holds the prefix
        # depends on how the first two are scheduled.)
        later = PredictionRequest(
            config=predict_config(4), history=chat(("system", system), ("user", "Name a tree."))
        )
        details = [e.details for e in await collect(model, later) if isinstance(e, PromptProgress)]
        assert details[0].cached_token_count >= len(await model.tokenize(system))
    finally:
        await model.unload()
