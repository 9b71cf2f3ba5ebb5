"""Our SDK against the embedded server running real llama.cpp inference (SmolLM2, MiniLM).

Asserts structure, never exact text: the text differs between builds and CPUs.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

import lmstudio_sdk as lms
from lmstudio_sdk.server import ServerThread

pytestmark = pytest.mark.llama

SMOL = "smollm2-135m-instruct"
MINILM = "text-embedding-all-minilm-l6-v2"
SHORT: lms.LlmPredictionConfigDict = {"temperature": 0, "max_tokens": 16}


@pytest.fixture(scope="module")
def llama_url(models_dir: Path) -> Iterator[str]:
    from lmstudio_sdk.server.engines.llama import LlamaEngine

    with ServerThread(engine_factory=lambda: LlamaEngine(models_dir, n_threads=1), port=0) as h:
        yield h.url


@pytest.fixture
async def client(llama_url: str) -> AsyncIterator[lms.AsyncClient]:
    async with lms.AsyncClient(llama_url, timeout=60) as client:
        yield client


async def test_downloaded_models_come_from_the_folder(client: lms.AsyncClient) -> None:
    models = {m.model_key: m for m in await client.system.list_downloaded_models()}
    smol = models[SMOL]
    assert isinstance(smol, lms.LLMInfo)
    assert smol.architecture == "llama" and smol.params_string == "135M"
    assert smol.quantization is not None and smol.quantization.name == "Q4_1"
    assert smol.max_context_length == 8192
    assert isinstance(models[MINILM], lms.EmbeddingModelInfo)


async def test_estimates_come_from_the_gguf_header(client: lms.AsyncClient) -> None:
    """The estimate the client gets is the engine's: weights plus the KV cache of the asked
    context length, confidence "high"; nothing is loaded."""
    small = await client.llm.estimate_resources_usage(
        SMOL, {"context_length": 1024, "max_parallel_predictions": 1}
    )
    large = await client.llm.estimate_resources_usage(
        SMOL, {"context_length": 2048, "max_parallel_predictions": 1}
    )
    assert small.memory.confidence == large.memory.confidence == "high"
    assert small.memory.model_bytes == large.memory.model_bytes > 0
    # SmolLM2-135M: 30 layers x 3 KV heads x 64 x (K + V) x 2 bytes (f16) = 23 040 per token.
    assert small.memory.context_bytes == 1024 * 23_040
    assert large.memory.context_bytes == 2 * small.memory.context_bytes
    assert small.passes_guardrails
    minilm = await client.embedding.estimate_resources_usage(MINILM)
    assert minilm.memory.confidence == "high" and minilm.memory.context_bytes == 0
    assert await client.llm.list_loaded() == []


async def test_streamed_chat(client: lms.AsyncClient) -> None:
    model = await client.llm.model(SMOL)
    stream = model.respond_stream("What is 2+2?", config=SHORT)
    fragments = [f.content async for f in stream]
    result = await stream.result()
    assert fragments and "".join(fragments) == result.content
    stats = result.stats
    assert stats.stop_reason in ("eosFound", "maxPredictedTokensReached")
    assert stats.predicted_tokens_count and 0 < stats.predicted_tokens_count <= 16
    assert stats.prompt_tokens_count and stats.prompt_tokens_count > 5
    assert stats.tokens_per_second and stats.tokens_per_second > 0
    assert stats.time_to_first_token_sec and stats.time_to_first_token_sec > 0


async def test_completion_and_determinism(client: lms.AsyncClient) -> None:
    model = await client.llm.model(SMOL)
    first = await model.complete("Once upon a time", config={"temperature": 0, "max_tokens": 8})
    second = await model.complete("Once upon a time", config={"temperature": 0, "max_tokens": 8})
    assert first.content and first.content == second.content
    assert first.stats.stop_reason in ("eosFound", "maxPredictedTokensReached")


async def test_cancel_stops_within_a_token(client: lms.AsyncClient) -> None:
    model = await client.llm.model(SMOL)
    stream = model.respond_stream(
        "Write a very long story about a dragon.", config={"temperature": 0, "max_tokens": 400}
    )
    seen = 0
    async for _ in stream:
        seen += 1
        if seen == 2:
            stream.cancel()
    result = await stream.result()
    assert result.stats.stop_reason == "userStopped"
    assert result.stats.predicted_tokens_count is not None
    assert result.stats.predicted_tokens_count < 50


async def test_structured_output_follows_the_schema(client: lms.AsyncClient) -> None:
    model = await client.llm.model(SMOL)
    schema = {
        "type": "object",
        "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
        "required": ["name", "age"],
    }
    result = await model.respond(
        "Invent a person. Reply in JSON.",
        config={
            "temperature": 0,
            "max_tokens": 60,
            "structured": {"type": "json", "jsonSchema": schema},
        },
    )
    parsed = result.parsed
    assert isinstance(parsed, dict)
    assert isinstance(parsed["name"], str) and isinstance(parsed["age"], int)


ADD_TOOL: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "add",
        "description": "Add two numbers",
        "parameters": {
            "type": "object",
            "properties": {"a": {"type": "number"}, "b": {"type": "number"}},
            "required": ["a", "b"],
        },
    },
}


async def test_tool_call_round_trip(client: lms.AsyncClient) -> None:
    model = await client.llm.model(SMOL)
    config: lms.LlmPredictionConfigDict = {
        "temperature": 0,
        "max_tokens": 60,
        "raw_tools": {"type": "toolArray", "tools": [ADD_TOOL]},
        "tool_choice": "required",
    }
    question: lms.ChatMessageDict = {"role": "user", "content": "What is 2 plus 3? Use the tool."}
    first = await model.respond([question], config=config)
    assert first.stats.stop_reason == "toolCalls"
    assert len(first.tool_calls) >= 1
    call = first.tool_calls[0]
    assert call.name == "add"
    assert call.arguments is not None and set(call.arguments) == {"a", "b"}
    total = sum(float(v) for v in call.arguments.values())
    second = await model.respond(
        [
            question,
            {"role": "assistant", "content": "", "tool_calls": [call]},
            {"role": "tool", "content": str(total), "tool_call_id": call.id or "", "name": "add"},
        ],
        config={**config, "tool_choice": "none"},
    )
    assert second.stats.stop_reason in ("eosFound", "maxPredictedTokensReached")
    assert second.content


async def test_embeddings_rank_related_sentences_closer(client: lms.AsyncClient) -> None:
    model = await client.embedding.model(MINILM)
    cat, kitten, finance = await model.embed(
        ["A cat sits on the mat.", "A kitten is lying on a rug.", "Stock markets fell sharply."]
    )
    for vector in (cat, kitten, finance):
        assert math.isclose(math.fsum(x * x for x in vector), 1.0, rel_tol=1e-4)

    def cosine(a: list[float], b: list[float]) -> float:
        return math.fsum(x * y for x, y in zip(a, b, strict=True))

    assert cosine(cat, kitten) > cosine(cat, finance) + 0.2


async def test_tokenize_and_template(client: lms.AsyncClient) -> None:
    model = await client.llm.model(SMOL)
    tokens = await model.tokenize("Hello, world!")
    assert tokens and await model.count_tokens("Hello, world!") == len(tokens)
    prompt = await model.apply_prompt_template([{"role": "user", "content": "marker"}])
    assert "<|im_start|>user" in prompt and "marker" in prompt


async def test_load_unload_jit_and_ttl(client: lms.AsyncClient) -> None:
    progress: list[float] = []
    model = await client.llm.load(
        SMOL, identifier="smol-512", config={"context_length": 512}, on_progress=progress.append
    )
    assert progress and progress[-1] == 1.0 and progress == sorted(progress)
    assert await model.get_context_length() == 512
    assert (await model.get_load_config()).context_length == 512
    await model.unload()
    assert "smol-512" not in {m.identifier for m in await client.llm.list_loaded()}

    with pytest.raises(lms.LMStudioServerError, match="context"):
        await client.llm.load(SMOL, identifier="too-long", config={"context_length": 100_000})

    short_lived = await client.llm.load(SMOL, identifier="smol-ttl", ttl=1)
    assert short_lived.info is not None and short_lived.info.ttl_ms == 1000
    for _ in range(50):
        if "smol-ttl" not in {m.identifier for m in await client.llm.list_loaded()}:
            break
        await asyncio.sleep(0.1)
    else:
        pytest.fail("the TTL did not unload the idle model within 5 s")


def test_sync_face_against_real_inference(llama_url: str) -> None:
    with lms.Client(llama_url, timeout=60) as client:
        model = client.llm.model(SMOL)
        fragments = [f.content for f in model.respond_stream("Say hello.", config=SHORT)]
        assert fragments
        assert client.embedding.model(MINILM).embed("hello")


async def test_image_through_the_projector(client: lms.AsyncClient) -> None:
    from .helpers import png

    model = await client.llm.model(SMOL)
    assert model.info is not None and model.info.vision
    image = await client.files.prepare_image(png(64, 48), name="noise.png")
    with_image = await model.respond(
        [{"role": "user", "content": "What is in this picture?", "images": [image]}],
        config={"temperature": 0, "max_tokens": 4},
    )
    text_only = await model.respond(
        "What is in this picture?", config={"temperature": 0, "max_tokens": 4}
    )
    assert with_image.stats.stop_reason in ("eosFound", "maxPredictedTokensReached")
    # The projector turned the image into extra prompt tokens.
    assert with_image.stats.prompt_tokens_count and text_only.stats.prompt_tokens_count
    assert with_image.stats.prompt_tokens_count > text_only.stats.prompt_tokens_count


def test_structured_output_example(llama_url: str) -> None:
    import json
    import subprocess
    import sys

    example = Path(__file__).resolve().parents[2] / "examples" / "structured_output.py"
    done = subprocess.run(
        [sys.executable, str(example), llama_url, SMOL],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    lines = dict(line.split(": ", 1) for line in done.stdout.splitlines())
    for kind in ("msgspec", "pydantic"):
        person = json.loads(lines[kind])
        assert isinstance(person["name"], str) and isinstance(person["age"], int), lines
    assert lines["partial"].endswith(f"the last {lines['msgspec']}"), lines


# The conformance suite's act_two_tools scenario (the official TS client's act()), run by our
# own act() on both faces: a required call that fits a tool's schema, its result sent back,
# and an answer in the last round, where tools are withheld.
ACT_PROMPT = "What is 2 plus 3? Use a tool."
ACT_CONFIG: lms.LlmPredictionConfigDict = {"temperature": 0, "max_tokens": 64}


def _act_tools(calls: list[tuple[str, int, int]]) -> list[lms.Tool[[int, int], int]]:
    def add(a: int, b: int) -> int:
        """Add two integers."""
        calls.append(("add", a, b))
        return a + b

    def multiply(a: int, b: int) -> int:
        """Multiply two integers."""
        calls.append(("multiply", a, b))
        return a * b

    return [lms.tool(add), lms.tool(multiply)]


def _check_act(result: lms.ActResult, calls: list[tuple[str, int, int]]) -> None:
    assert calls, "no tool was called"
    assert result.rounds == 2
    first = result.results[0]
    assert first.stats.stop_reason == "toolCalls"
    assert [c.name for c in first.tool_calls] == [name for name, _, _ in calls]
    roles = [m.role for m in result.chat]
    assert roles == ["user", "assistant", "tool", "assistant"], roles
    tool_message = result.chat[2]
    expected = [str(a + b if name == "add" else a * b) for name, a, b in calls]
    assert [p.content for p in tool_message.content if isinstance(p, lms.ToolCallResultPart)] == (
        expected
    )
    assert result.content.strip()


async def test_act_with_two_tools_async(client: lms.AsyncClient) -> None:
    model = await client.llm.model(SMOL)
    calls: list[tuple[str, int, int]] = []
    result = await model.act(
        ACT_PROMPT,
        _act_tools(calls),
        config=ACT_CONFIG,
        tool_choice="required",
        max_prediction_rounds=2,
    )
    _check_act(result, calls)


def test_act_with_two_tools_sync(llama_url: str) -> None:
    with lms.Client(llama_url, timeout=60) as client:
        model = client.llm.model(SMOL)
        calls: list[tuple[str, int, int]] = []
        result = model.act(
            ACT_PROMPT,
            _act_tools(calls),
            config=ACT_CONFIG,
            tool_choice="required",
            max_prediction_rounds=2,
        )
        _check_act(result, calls)


def test_logprobs_example(llama_url: str) -> None:
    import subprocess
    import sys

    example = Path(__file__).resolve().parents[2] / "examples" / "logprobs.py"
    done = subprocess.run(
        [sys.executable, str(example), llama_url, SMOL],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    # Each token: its probability, then three alternatives with theirs.
    assert lines and all("top: " in line and line.count("%") == 4 for line in lines), lines


async def test_logprobs_and_refused_thinking_through_the_client(client: lms.AsyncClient) -> None:
    model = await client.llm.model(SMOL)
    stream = model.respond_stream(
        "Name a colour.", config={"temperature": 0, "max_tokens": 5, "log_probs": 2}
    )
    fragments = [f async for f in stream]
    result = await stream.result()
    assert result.tokens is not None and len(result.tokens) == result.stats.predicted_tokens_count
    assert [t for f in fragments for t in f.tokens or []] == result.tokens
    assert all(t.candidates is not None and len(t.candidates) == 2 for t in result.tokens)
    with pytest.raises(lms.UnsupportedFeatureError, match="enableThinking") as caught:
        await model.respond("Hi", config={"enable_thinking": False})
    assert caught.value.display_data["feature"] == "llm.prediction.reasoning.enableThinking"


async def test_speculative_decoding_async(client: lms.AsyncClient) -> None:
    model = await client.llm.load(SMOL, config={"flash_attention": True}, identifier="smol-flash")
    try:
        await model.preload_draft_model(SMOL)
        config: lms.LlmPredictionConfigDict = {"temperature": 0, "max_tokens": 24}
        plain = await model.respond("Name three colors.", config=config)
        drafted = await model.respond("Name three colors.", config={**config, "draft_model": SMOL})
        assert drafted.content == plain.content
        stats = drafted.stats
        assert stats.used_draft_model_key == SMOL and plain.stats.used_draft_model_key is None
        assert stats.accepted_draft_tokens_count and stats.accepted_draft_tokens_count > 0
        assert stats.total_draft_tokens_count == (
            stats.accepted_draft_tokens_count
            + (stats.rejected_draft_tokens_count or 0)
            + (stats.ignored_draft_tokens_count or 0)
        )
        with pytest.raises(lms.ModelNotFoundError, match="no-such-draft"):
            await model.preload_draft_model("no-such-draft")
        with pytest.raises(lms.UnsupportedFeatureError, match="tiny-no-template"):
            await model.respond(
                "Hi.", config={**config, "draft_model": "test/tiny-no-template-GGUF"}
            )
    finally:
        await model.unload()


def test_speculative_decoding_sync(llama_url: str) -> None:
    with lms.Client(llama_url, timeout=60) as client:
        model = client.llm.load(SMOL, config={"flash_attention": True}, identifier="smol-sync")
        try:
            config: lms.LlmPredictionConfigDict = {"temperature": 0, "max_tokens": 16}
            plain = model.complete("Once upon a time", config=config)
            stream = model.complete_stream(
                "Once upon a time", config={**config, "draft_model": SMOL}
            )
            fragments = list(stream)
            drafted = stream.result()
            assert drafted.content == plain.content
            assert any(f.contains_drafted for f in fragments)
            assert drafted.stats.used_draft_model_key == SMOL
            assert drafted.stats.accepted_draft_tokens_count
        finally:
            model.unload()


LONG_CHAT: list[lms.ChatMessageDict] = [
    {"role": "system", "content": "You are terse."},
    {"role": "user", "content": "Remember these words: " + "apple banana cherry " * 60},
    {"role": "assistant", "content": "Noted."},
    {"role": "user", "content": "Say hi."},
]


async def test_a_cut_prompt_is_reported(
    client: lms.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    """Servers cut an overlong prompt without a word (truncateMiddle by default); the result
    says so, and so does the log."""
    model = await client.llm.load(SMOL, config={"context_length": 128}, identifier="smol-128")
    try:
        with caplog.at_level("WARNING", logger="lmstudio_sdk.protocol"):
            cut = await model.respond(LONG_CHAT, config={"temperature": 0, "max_tokens": 4})
        overflow = cut.context_overflow
        assert overflow is not None
        assert overflow.policy == "truncateMiddle" and overflow.context_length == 128
        assert overflow.prompt_tokens == cut.stats.prompt_tokens_count
        assert overflow.prompt_tokens <= 128
        assert overflow.prompt_was_cut and overflow.full_prompt_tokens is not None
        assert overflow.full_prompt_tokens > 180  # 60 x "apple banana cherry " and the rest
        assert "did not fit" in str(overflow) and "truncateMiddle" in str(overflow)
        assert any("did not fit" in r.getMessage() for r in caplog.records)

        fits = await model.respond("Say hi.", config={"temperature": 0, "max_tokens": 4})
        assert fits.context_overflow is None
    finally:
        await client.llm.unload("smol-128")


def test_a_cut_prompt_is_reported_on_the_sync_face(llama_url: str) -> None:
    with lms.Client(llama_url, timeout=60) as client:
        model = client.llm.load(SMOL, config={"context_length": 128}, identifier="smol-128s")
        try:
            rolling = model.respond(
                LONG_CHAT,
                config={
                    "temperature": 0,
                    "max_tokens": 4,
                    "context_overflow_policy": "rollingWindow",
                },
            )
            # rollingWindow drops the long message whole: the model saw a short prompt, so
            # only the count of the whole prompt shows the cut.
            overflow = rolling.context_overflow
            assert overflow is not None and overflow.policy == "rollingWindow"
            assert overflow.prompt_was_cut and overflow.prompt_tokens < 64
            assert "oldest" in str(overflow)
            assert model.respond("Say hi.", config={"max_tokens": 4}).context_overflow is None
        finally:
            client.llm.unload("smol-128s")
