"""``lmstudio-sdk serve --engine openai`` in front of llama-cpp-python's own OpenAI-compatible
server (SmolLM2, MiniLM), driven by our SDK on both faces. Structure only, never exact text.
"""

from __future__ import annotations

import math
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

import lmstudio_sdk as lms

from ..conformance.harness import ServerProcess, start_server, stop_server
from .upstream import MINILM, SMOL, start_upstream

pytestmark = [pytest.mark.openai, pytest.mark.timeout(120)]

SHORT: lms.LlmPredictionConfigDict = {"temperature": 0, "max_tokens": 12}
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


@pytest.fixture(scope="module")
def served(
    llama_cpp_upstream: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    log = tmp_path_factory.mktemp("openai-serve") / "stderr.txt"
    server = start_server("--engine", "openai", "--upstream", llama_cpp_upstream, stderr_path=log)
    try:
        yield server
    finally:
        stop_server(server.process)


@pytest.fixture
async def client(served: ServerProcess) -> AsyncIterator[lms.AsyncClient]:
    async with lms.AsyncClient(served.url, timeout=60) as client:
        yield client


async def test_models_come_from_the_upstream(client: lms.AsyncClient) -> None:
    models = {m.model_key: m for m in await client.system.list_downloaded_models()}
    assert isinstance(models[SMOL], lms.LLMInfo)
    assert isinstance(models[MINILM], lms.EmbeddingModelInfo)


async def test_chat_stream(client: lms.AsyncClient) -> None:
    model = await client.llm.model(SMOL)
    stream = model.respond_stream("What is 2+2?", config=SHORT)
    fragments = [f.content async for f in stream]
    result = await stream.result()
    assert fragments and "".join(fragments) == result.content
    stats = result.stats
    assert stats.stop_reason in ("eosFound", "maxPredictedTokensReached")
    assert stats.predicted_tokens_count and 0 < stats.predicted_tokens_count <= 12
    assert stats.prompt_tokens_count and stats.prompt_tokens_count > 0


async def test_complete_tokenize_and_stop_string(client: lms.AsyncClient) -> None:
    model = await client.llm.model(SMOL)
    result = await model.complete("Once upon a time", config=SHORT)
    assert result.content and result.stats.stop_reason in ("eosFound", "maxPredictedTokensReached")
    tokens = await model.tokenize("Hello world")
    assert tokens and all(isinstance(t, int) for t in tokens)
    assert await model.count_tokens("Hello world") == len(tokens)
    first_word = result.content.split()[0]
    stopped = await model.complete(
        "Once upon a time", config={**SHORT, "stop_strings": [first_word]}
    )
    assert stopped.stats.stop_reason == "stopStringFound"
    assert first_word not in stopped.content


async def test_embeddings(client: lms.AsyncClient) -> None:
    model = await client.embedding.model(MINILM)
    cat, kitten, tax = await model.embed(
        ["A cat sits on the mat.", "A kitten lies on a rug.", "Tax filings are due in March."]
    )
    assert len(cat) == 384
    assert math.isclose(math.fsum(x * x for x in cat), 1.0, rel_tol=1e-4)

    def cosine(a: list[float], b: list[float]) -> float:
        return math.fsum(x * y for x, y in zip(a, b, strict=True))

    assert cosine(cat, kitten) > cosine(cat, tax)


async def test_structured_output(client: lms.AsyncClient) -> None:
    model = await client.llm.model(SMOL)
    schema = {
        "type": "object",
        "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
        "required": ["name", "age"],
    }
    result = await model.respond(
        "Invent a person.",
        config={
            "temperature": 0,
            "max_tokens": 40,
            "structured": {"type": "json", "jsonSchema": schema},
        },
    )
    parsed = result.parsed
    assert isinstance(parsed, dict) and isinstance(parsed["age"], int)


async def test_logprobs_are_forwarded(client: lms.AsyncClient) -> None:
    model = await client.llm.model(SMOL)
    result = await model.respond(
        "Name a colour.", config={"temperature": 0, "max_tokens": 6, "log_probs": 2}
    )
    assert result.tokens, "llama_cpp.server sent no logprobs"
    assert "".join(t.text for t in result.tokens) == result.content
    for token in result.tokens:
        assert token.log_prob is not None and token.log_prob <= 0
        assert token.candidates is not None and len(token.candidates) == 2


async def test_forced_tool_call(client: lms.AsyncClient) -> None:
    model = await client.llm.model(SMOL)
    result = await model.respond(
        "What is 2 plus 3?",
        config={
            "temperature": 0,
            "max_tokens": 40,
            "raw_tools": {"type": "toolArray", "tools": [ADD_TOOL]},
            "tool_choice": "required",
        },
    )
    assert result.stats.stop_reason == "toolCalls"
    call = result.tool_calls[0]
    assert call.name == "add" and call.arguments is not None and set(call.arguments) == {"a", "b"}


async def test_cancel(client: lms.AsyncClient) -> None:
    model = await client.llm.model(SMOL)
    stream = model.respond_stream(
        "Write a very long story about a dragon.", config={"temperature": 0, "max_tokens": 300}
    )
    seen = 0
    async for _ in stream:
        seen += 1
        if seen == 2:
            stream.cancel()
    result = await stream.result()
    assert result.stats.stop_reason == "userStopped"
    assert result.stats.predicted_tokens_count is not None
    assert result.stats.predicted_tokens_count < 300


async def test_apply_prompt_template_is_not_supported(client: lms.AsyncClient) -> None:
    model = await client.llm.model(SMOL)
    with pytest.raises(lms.LMStudioServerError, match="not supported by the upstream"):
        await model.apply_prompt_template([{"role": "user", "content": "hi"}])


def test_sync_face(served: ServerProcess) -> None:
    with lms.Client(served.url, timeout=60) as client:
        reply = client.llm.model(SMOL).respond("Say hello.", config=SHORT)
        assert reply.content
        assert len(client.embedding.model(MINILM).embed("hello")) == 384


def test_an_upstream_killed_mid_stream(
    llama_cpp_upstream: str, upstream_models_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """The caller gets a typed error within 2 s; the server keeps serving (on the other)."""
    root = tmp_path_factory.mktemp("killed-upstream")
    doomed = start_upstream(upstream_models_dir, root, embedding=False)
    log = root / "serve-stderr.txt"
    # Ties go to the upstream listed first: the first prediction lands on the doomed one.
    server = start_server(
        "--engine",
        "openai",
        "--upstream",
        doomed.url,
        "--upstream",
        llama_cpp_upstream,
        stderr_path=log,
    )
    try:
        with lms.Client(server.url, timeout=60) as client:
            model = client.llm.model(SMOL)
            stream = model.respond_stream(
                "Write a very long story about a dragon.",
                config={"temperature": 0, "max_tokens": 400},
            )
            with pytest.raises(lms.LMStudioServerError) as caught:
                for index, _ in enumerate(stream):
                    if index == 1:
                        doomed.kill()
                        killed_at = time.monotonic()
            assert time.monotonic() - killed_at < 2.0
            assert doomed.url in caught.value.title
            assert caught.value.display_code == "openai.upstreamDropped"
            assert model.respond("Say hello.", config=SHORT).content
    finally:
        stop_server(server.process)
        doomed.stop()
