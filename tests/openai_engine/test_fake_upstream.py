"""The openai engine against a tiny fake upstream: the HTTP side of every mapping, the errors
each failure becomes, cancellation, and the spreading of requests over upstreams."""

from __future__ import annotations

import asyncio
import importlib.util
import math
import threading
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

import lmstudio_sdk as lms
from lmstudio_sdk._protocol.chat import message_data
from lmstudio_sdk._protocol.packets.shared import (
    ChatHistoryData,
    EmbeddingModelInfo,
    KVConfig,
    KVConfigField,
    LLMInfo,
    TextPart,
)
from lmstudio_sdk.server import ServerThread
from lmstudio_sdk.server.engines import EngineUnavailableError, create_engine
from lmstudio_sdk.server.engines.base import (
    CancelToken,
    EngineEvent,
    FragmentGenerated,
    PredictionFinished,
    PredictionRequest,
)
from lmstudio_sdk.server.engines.openai import OpenAIEngine, OpenAILoadedModel
from lmstudio_sdk.server.errors import ServerError

from .fake_upstream import FakeUpstream, Json, Sse, chunk

LLM = "fake-llm"
EMBED = "fake-embed"
REPLY = [chunk(role="assistant"), chunk("Hello"), chunk(" there"), chunk(finish="stop")]


def history(text: str = "hi") -> ChatHistoryData:
    return ChatHistoryData(messages=[message_data("user", [TextPart(text=text)])])


def config(**fields: Any) -> KVConfig:
    return KVConfig(
        fields=[KVConfigField(key=f"llm.prediction.{k}", value=v) for k, v in fields.items()]
    )


@pytest.fixture
def fake() -> Iterator[FakeUpstream]:
    upstream = FakeUpstream()
    upstream.models.append({"id": EMBED, "object": "model"})
    upstream.routes["/v1/chat/completions"] = lambda body: Sse(REPLY)

    def embeddings(body: dict[str, Any]) -> Json:
        if body["model"] != EMBED:
            return Json({"error": {"message": "not an embedding model"}}, 500)
        return Json({"data": [{"embedding": [3.0, 4.0]}]})

    upstream.routes["/v1/embeddings"] = embeddings
    with upstream:
        yield upstream


async def load(engine: OpenAIEngine, key: str = LLM) -> OpenAILoadedModel:
    info = next(m for m in engine.list_models() if m.model_key == key)
    return await engine.load(info, KVConfig(fields=[]), lambda progress: None)


async def run(model: OpenAILoadedModel, request: PredictionRequest) -> list[EngineEvent]:
    return [event async for event in model.predict(request)]


def finished(events: list[EngineEvent]) -> PredictionFinished:
    last = events[-1]
    assert isinstance(last, PredictionFinished)
    return last


def text(events: list[EngineEvent]) -> str:
    return "".join(e.content for e in events if isinstance(e, FragmentGenerated))


async def test_models_are_listed_and_classified_by_probing(fake: FakeUpstream) -> None:
    engine = OpenAIEngine([fake.url + "/v1/"])
    models = {m.model_key: m for m in engine.list_models()}
    assert isinstance(models[LLM], LLMInfo) and isinstance(models[EMBED], EmbeddingModelInfo)
    assert models[LLM].max_context_length == 1024  # vLLM's max_model_len
    assert models[EMBED].max_context_length == 4096  # not given: the default
    probes = [body["model"] for path, body in fake.requests if path == "/v1/embeddings"]
    engine.list_models()
    assert sorted(probes) == [EMBED, LLM]  # once per model id, not per listing
    assert len([p for p in fake.paths() if p == "/v1/embeddings"]) == 2


async def test_chat_stream_request_and_stats(fake: FakeUpstream) -> None:
    model = await load(OpenAIEngine([fake.url]))
    events = await run(
        model,
        PredictionRequest(
            config(temperature=0, maxPredictedTokens={"checked": True, "value": 5}),
            history=history("hi"),
        ),
    )
    assert text(events) == "Hello there"
    done = finished(events)
    assert done.stop_reason == "eosFound" and done.predicted_tokens_count == 2
    assert done.prompt_tokens_count >= 1  # no usage, no tokenizer: estimated
    body = fake.last("/v1/chat/completions")
    assert body["messages"] == [{"role": "user", "content": "hi"}]
    assert body["stream"] is True and body["max_tokens"] == 5 and body["temperature"] == 0


async def test_a_draft_model_is_refused_naming_the_engine(fake: FakeUpstream) -> None:
    # An OpenAI-compatible API has no speculative decoding option to forward.
    model = await load(OpenAIEngine([fake.url]))
    draft = config(**{"speculativeDecoding.draftModel": "small-draft"})
    with pytest.raises(ServerError) as caught:
        await run(model, PredictionRequest(draft, history=history("hi")))
    assert caught.value.display_data is not None
    assert caught.value.display_data["code"] == "generic.engineDoesNotSupportFeature"
    assert caught.value.display_data["engineType"] == "openai"
    assert "openai engine" in caught.value.title and "small-draft" in caught.value.title
    assert "/v1/chat/completions" not in fake.paths()  # refused before any request
    with ServerThread(engine_factory=lambda: OpenAIEngine([fake.url]), port=0) as server:
        async with lms.AsyncClient(server.url, timeout=10) as client:
            handle = await client.llm.model(LLM)
            with pytest.raises(lms.UnsupportedFeatureError, match="openai engine"):
                await handle.preload_draft_model("small-draft")


async def test_raw_completion_goes_to_v1_completions(fake: FakeUpstream) -> None:
    fake.routes["/v1/completions"] = lambda body: Sse(
        [{"choices": [{"index": 0, "text": " upon", "finish_reason": "length"}]}]
    )
    model = await load(OpenAIEngine([fake.url]))
    events = await run(
        model,
        PredictionRequest(
            config(maxPredictedTokens={"checked": True, "value": 1}), raw_prompt="Once"
        ),
    )
    assert text(events) == " upon"
    assert finished(events).stop_reason == "maxPredictedTokensReached"
    assert fake.last("/v1/completions")["prompt"] == "Once"


async def test_embeddings_are_normalised(fake: FakeUpstream) -> None:
    model = await load(OpenAIEngine([fake.url]), EMBED)
    assert await model.embed("x") == pytest.approx([0.6, 0.8])


async def test_tokenize_finds_the_upstreams_endpoint(fake: FakeUpstream) -> None:
    fake.routes["/tokenize"] = lambda body: (
        Json({"tokens": [1, 2, 3]}) if "prompt" in body else Json({"detail": "bad"}, 422)
    )
    model = await load(OpenAIEngine([fake.url]))
    assert await model.tokenize("a b c") == [1, 2, 3]
    assert await model.tokenize("a b c") == [1, 2, 3]
    tried = [p for p in fake.paths() if "tokenize" in p]
    assert tried == ["/extras/tokenize", "/tokenize", "/tokenize"]  # learnt once


async def test_tokenize_without_an_endpoint_is_a_typed_error(fake: FakeUpstream) -> None:
    model = await load(OpenAIEngine([fake.url]))
    with pytest.raises(ServerError) as caught:
        await model.tokenize("x")
    assert "not supported by the upstream" in caught.value.title
    assert fake.url in caught.value.title
    with pytest.raises(ServerError, match="not supported by the upstream"):
        model.apply_prompt_template(history())


async def test_upstream_http_error_is_typed_and_names_the_upstream(fake: FakeUpstream) -> None:
    fake.routes["/v1/chat/completions"] = lambda body: Json(
        {"error": {"message": "model overloaded"}}, 503
    )
    model = await load(OpenAIEngine([fake.url]))
    with pytest.raises(ServerError) as caught:
        await run(model, PredictionRequest(config(), history=history()))
    assert "model overloaded" in caught.value.title and fake.url in caught.value.title
    fake.routes["/v1/chat/completions"] = lambda body: Sse(REPLY)
    assert text(await run(model, PredictionRequest(config(), history=history()))) == "Hello there"


async def test_a_drop_mid_stream_is_a_typed_error_at_once(fake: FakeUpstream) -> None:
    fake.routes["/v1/chat/completions"] = lambda body: Sse(REPLY, drop_after=2)
    model = await load(OpenAIEngine([fake.url]))
    started = time.monotonic()
    events: list[EngineEvent] = []
    with pytest.raises(ServerError) as caught:
        async for event in model.predict(PredictionRequest(config(), history=history())):
            events.append(event)
    assert time.monotonic() - started < 2
    assert text(events) == "Hello"
    assert caught.value.display_data == {
        "code": "openai.upstreamDropped",
        "endpoint": "/v1/chat/completions",
    }


async def test_a_stalled_upstream_times_out(fake: FakeUpstream) -> None:
    fake.routes["/v1/chat/completions"] = lambda body: Sse(REPLY, delay=1.0)
    engine = OpenAIEngine([fake.url], read_timeout=0.3)
    model = await load(engine)
    with pytest.raises(ServerError, match="did not answer"):
        await run(model, PredictionRequest(config(), history=history()))


async def test_cancel_closes_the_upstream_stream(fake: FakeUpstream) -> None:
    long_reply = [chunk(f" w{i}") for i in range(100)]
    fake.routes["/v1/chat/completions"] = lambda body: Sse(long_reply, delay=0.05)
    model = await load(OpenAIEngine([fake.url]))
    cancel = CancelToken()
    events: list[EngineEvent] = []
    async for event in model.predict(PredictionRequest(config(), history=history(), cancel=cancel)):
        events.append(event)
        if len(events) == 2:
            cancel.set()
            cancelled_at = time.monotonic()
    assert time.monotonic() - cancelled_at < 0.2  # not at the next chunk: at once
    done = finished(events)
    assert done.stop_reason == "userStopped" and done.predicted_tokens_count < 10
    assert await asyncio.to_thread(fake.stream_abandoned.wait, 2)
    assert fake.abandoned == ["/v1/chat/completions"]


async def test_cancel_is_seen_while_chunks_keep_coming(fake: FakeUpstream) -> None:
    """An upstream that sends faster than the cancel poll interval: the cancel must still be
    seen at the next chunk (it was only checked when no chunk came within the interval, so a
    fast upstream streamed to the end; CI saw it against llama-cpp-python's server)."""
    long_reply = [chunk(f" w{i}") for i in range(400)]
    fake.routes["/v1/chat/completions"] = lambda body: Sse(long_reply, delay=0.002)
    model = await load(OpenAIEngine([fake.url]))
    cancel = CancelToken()
    events: list[EngineEvent] = []
    async for event in model.predict(PredictionRequest(config(), history=history(), cancel=cancel)):
        events.append(event)
        if len(events) == 2:
            cancel.set()
    done = finished(events)
    assert done.stop_reason == "userStopped" and done.predicted_tokens_count < 50


async def test_a_stop_string_closes_the_stream_early(fake: FakeUpstream) -> None:
    fake.routes["/v1/chat/completions"] = lambda body: Sse(
        [chunk("a, b, "), chunk("STOP"), *(chunk(" more") for _ in range(50))], delay=0.02
    )
    model = await load(OpenAIEngine([fake.url]))
    events = await run(model, PredictionRequest(config(stopStrings=["STOP"]), history=history()))
    done = finished(events)
    assert (done.stop_reason, done.stop_string, text(events)) == (
        "stopStringFound",
        "STOP",
        "a, b, ",
    )
    assert "stop" not in fake.last("/v1/chat/completions")


async def test_requests_go_to_the_upstream_with_fewest_in_flight() -> None:
    slow = Sse([chunk(f" w{i}") for i in range(10)], delay=0.05)
    with FakeUpstream() as a, FakeUpstream() as b:
        for fake in (a, b):
            fake.routes["/v1/chat/completions"] = lambda body: slow
        model = await load(OpenAIEngine([a.url, b.url]))
        requests = [PredictionRequest(config(), history=history()) for _ in range(4)]
        await asyncio.gather(*(run(model, r) for r in requests))
    chats = [fake.paths().count("/v1/chat/completions") for fake in (a, b)]
    assert chats == [2, 2]
    assert a.max_in_flight == 2 and b.max_in_flight == 2


async def test_a_dead_upstream_is_skipped_and_checked_again(fake: FakeUpstream) -> None:
    dead = FakeUpstream()
    dead_url = dead.url
    dead.stop()  # listening never started: connections are refused
    engine = OpenAIEngine([dead_url, fake.url], health_interval=0.1)
    model = await load(engine)
    assert text(await run(model, PredictionRequest(config(), history=history()))) == "Hello there"
    assert [u.healthy for u in engine.pool.upstreams] == [False, True]
    await asyncio.sleep(0.15)
    engine.pool.serving(LLM)  # starts a check of the dead one, which fails again
    await asyncio.sleep(0.2)
    assert [u.healthy for u in engine.pool.upstreams] == [False, True]
    await engine.aclose()


def test_create_engine_needs_an_upstream() -> None:
    with pytest.raises(ValueError, match="upstream"):
        create_engine("openai")


# -- through the server, with our SDK -----------------------------------------------------------


@pytest.fixture
async def client(fake: FakeUpstream) -> AsyncIterator[lms.AsyncClient]:
    with ServerThread(engine_factory=lambda: OpenAIEngine([fake.url]), port=0) as handle:
        async with lms.AsyncClient(handle.url, timeout=10) as client:
            yield client


async def test_tool_call_deltas_reach_the_client(
    fake: FakeUpstream, client: lms.AsyncClient
) -> None:
    def call(**function: Any) -> dict[str, Any]:
        return chunk(tool_calls=[{"index": 0, "id": "call_9", "function": function}])

    fake.routes["/v1/chat/completions"] = lambda body: Sse(
        [
            call(name="add", arguments='{"a": 1,'),
            call(arguments=' "b": 2}'),
            chunk(finish="tool_calls"),
        ]
    )
    model = await client.llm.model(LLM)
    tool = {"type": "function", "function": {"name": "add", "parameters": {"type": "object"}}}
    result = await model.respond(
        "add",
        config={"raw_tools": {"type": "toolArray", "tools": [tool]}, "tool_choice": "required"},
    )
    assert result.stats.stop_reason == "toolCalls"
    assert [(c.name, c.arguments, c.id) for c in result.tool_calls] == [
        ("add", {"a": 1, "b": 2}, "call_9")
    ]
    body = fake.last("/v1/chat/completions")
    assert body["tool_choice"] == {"type": "function", "function": {"name": "add"}}


async def test_an_upstream_error_fails_only_that_call(
    fake: FakeUpstream, client: lms.AsyncClient
) -> None:
    replies: Iterator[Json | Sse] = iter([Json({"error": {"message": "boom"}}, 500), Sse(REPLY)])
    fake.routes["/v1/chat/completions"] = lambda body: next(replies)
    model = await client.llm.model(LLM)
    with pytest.raises(lms.LMStudioServerError, match="boom"):
        await model.respond("hi")
    assert (await model.respond("hi")).content == "Hello there"


async def test_a_stream_that_ends_unfinished_is_an_error(fake: FakeUpstream) -> None:
    # llama-cpp-python's server answers a failed request with an empty 200 stream.
    fake.routes["/v1/chat/completions"] = lambda body: Sse([], done=False)
    model = await load(OpenAIEngine([fake.url]))
    with pytest.raises(ServerError, match="without finishing the reply"):
        await run(model, PredictionRequest(config(), history=history()))
    # Without [DONE] but with a finish_reason, the reply is complete.
    fake.routes["/v1/chat/completions"] = lambda body: Sse(REPLY, done=False)
    assert text(await run(model, PredictionRequest(config(), history=history()))) == "Hello there"


def test_the_engine_refuses_to_start_without_httpx(monkeypatch: pytest.MonkeyPatch) -> None:
    real_find_spec = importlib.util.find_spec

    def find_spec(name: str, *args: Any) -> Any:
        return None if name == "httpx" else real_find_spec(name, *args)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    with pytest.raises(EngineUnavailableError, match=r"lmstudio-sdk\[openai\]"):
        create_engine("openai", upstreams=["http://127.0.0.1:1"])


async def test_listing_skips_a_down_upstream_until_it_is_due(fake: FakeUpstream) -> None:
    engine = OpenAIEngine(["http://127.0.0.1:1", fake.url], health_interval=60)
    assert {m.model_key for m in engine.list_models()} == {LLM, EMBED}
    down = engine.pool.upstreams[0]
    assert not down.healthy
    checked = down.checked_at
    engine.pool._listed_at = -math.inf  # as if the listing were old
    engine.list_models()
    assert down.checked_at == checked  # not asked again before health_interval


async def test_a_slow_upstream_tokenize_does_not_stall_other_callers(
    fake: FakeUpstream, client: lms.AsyncClient
) -> None:
    """The engine's tokenize is a blocking HTTP call: it must not run on the server's loop."""
    answered = threading.Event()

    def slow_tokenize(body: dict[str, Any]) -> Json:
        answered.wait(5.0)  # held until the other caller has been served
        return Json({"tokens": [1, 2]})

    fake.routes["/extras/tokenize"] = slow_tokenize
    model = await client.llm.model(LLM)
    tokenizing = asyncio.ensure_future(model.tokenize("a b"))
    try:
        version = await client.system.get_lmstudio_version(timeout=2.0)
        answered.set()
        assert version.version
        assert await tokenizing == [1, 2]
    finally:
        answered.set()
        await asyncio.gather(tokenizing, return_exceptions=True)


async def test_a_listing_never_waits_for_a_slow_upstream_on_the_server_loop(
    fake: FakeUpstream,
) -> None:
    engine = OpenAIEngine([fake.url])
    assert {m.model_key for m in engine.list_models()} == {LLM, EMBED}  # the first one waits
    fake.listing_gate = threading.Event()  # /v1/models now hangs
    fake.models.append({"id": "fake-new", "object": "model"})
    engine.pool._listed_at = time.monotonic() - 60  # the listing is due
    started = time.monotonic()
    assert {m.model_key for m in engine.list_models()} == {LLM, EMBED}  # the last result
    assert time.monotonic() - started < 0.5  # at once: the loop is not blocked
    fake.listing_gate.set()
    refreshing = engine._catalog._refreshing
    assert refreshing is not None
    await asyncio.wait_for(refreshing, 10)
    models = {m.model_key: m for m in engine.list_models()}
    assert set(models) == {LLM, EMBED, "fake-new"}
    assert isinstance(models["fake-new"], LLMInfo)  # probed before it was shown
    await engine.aclose()
