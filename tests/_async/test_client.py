"""The client's scenarios against the embedded server (scripted engine), over real loopback
WebSockets. Written once for the async face; ``scripts/unasync.py`` generates the sync twin.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

import lmstudio_sdk as lms
from lmstudio_sdk._async import pool as pool_module
from tests.conftest import API_TOKEN, OTHER_TOKEN, RunningServer, ServerProcess, free_port

ECHO = "scripted-echo-1b"
EMBED = "scripted-embed-small"


@pytest.fixture
async def client(server: RunningServer) -> AsyncIterator[lms.AsyncClient]:
    async with lms.AsyncClient(server.url, timeout=10) as client:
        yield client


async def test_lists_downloaded_models_by_domain(client: lms.AsyncClient) -> None:
    models = await client.system.list_downloaded_models()
    keys = {m.model_key for m in models}
    assert {ECHO, EMBED} <= keys
    llms = await client.system.list_downloaded_models("llm")
    assert ECHO in {m.model_key for m in llms}
    assert all(isinstance(m, lms.LLMInfo) for m in llms)
    embeddings = await client.system.list_downloaded_models("embedding")
    assert [m.model_key for m in embeddings] == [EMBED]


async def test_version(client: lms.AsyncClient) -> None:
    version = await client.system.get_lmstudio_version()
    assert version.version.count(".") == 2


async def test_get_or_load_then_list_loaded(client: lms.AsyncClient) -> None:
    model = await client.llm.model(ECHO)
    assert model.info is not None and model.info.model_key == ECHO
    loaded = await client.llm.list_loaded()
    assert model.identifier in {m.identifier for m in loaded}
    again = await client.llm.model(ECHO)
    assert again.identifier == model.identifier
    any_model = await client.llm.model()
    assert any_model.info is not None and any_model.info.domain == "llm"


async def test_load_with_progress_and_unload(client: lms.AsyncClient) -> None:
    progress: list[float] = []
    model = await client.llm.load(
        ECHO, identifier="progress-test", ttl=300, on_progress=progress.append
    )
    assert model.identifier == "progress-test"
    assert progress and progress[-1] == 1.0
    assert progress == sorted(progress)
    info = await model.get_info()
    assert info.ttl_ms == 300_000
    await model.unload()
    assert "progress-test" not in {m.identifier for m in await client.llm.list_loaded()}
    with pytest.raises(lms.ModelNotFoundError):
        await model.get_info()


async def test_streamed_respond(client: lms.AsyncClient) -> None:
    model = await client.llm.model(ECHO)
    stream = model.respond_stream("hello there")
    fragments = [fragment.content async for fragment in stream]
    result = await stream.result()
    assert "".join(fragments) == result.content == "You said: hello there"
    assert len(fragments) > 1
    assert result.stats.stop_reason == "eosFound"
    assert result.stats.predicted_tokens_count == len(fragments)
    assert result.stats.prompt_tokens_count and result.stats.prompt_tokens_count > 0
    assert result.model_info.model_key == ECHO


async def test_respond_and_complete(client: lms.AsyncClient) -> None:
    model = await client.llm.model(ECHO)
    progress: list[float] = []
    seen: list[str] = []
    result = await model.respond(
        [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"}],
        config={"temperature": 0.1, "max_tokens": 50},
        on_fragment=lambda f: seen.append(f.content),
        on_prompt_processing_progress=progress.append,
    )
    assert result.content == "You said: hi" == "".join(seen)
    assert progress and progress[-1] == 1.0
    completion = await model.complete("Once upon a time", config={"max_tokens": 5})
    assert completion.content
    assert completion.stats.stop_reason in ("eosFound", "maxPredictedTokensReached")


async def test_max_tokens_and_stop_strings(client: lms.AsyncClient) -> None:
    model = await client.llm.model(ECHO)
    limited = await model.respond("!long 50", config={"max_tokens": 5})
    assert limited.stats.stop_reason == "maxPredictedTokensReached"
    assert limited.stats.predicted_tokens_count == 5
    stopped = await model.respond("!long 50", config={"stop_strings": ["word3"]})
    assert stopped.stats.stop_reason == "stopStringFound"
    assert "word3" not in stopped.content


async def test_leaving_the_loop_cancels(slow_server: RunningServer) -> None:
    async with lms.AsyncClient(slow_server.url, timeout=10) as client:
        model = await client.llm.model(ECHO)
        stream = model.respond_stream("!long 500")
        count = 0
        async for _ in stream:
            count += 1
            if count == 3:
                break
        started = time.monotonic()
        result = await stream.result()
        assert result.stats.stop_reason == "userStopped"
        assert time.monotonic() - started < 2
        # The connection stays usable.
        assert (await model.respond("still there")).content == "You said: still there"


async def test_cancel_method(slow_server: RunningServer) -> None:
    async with lms.AsyncClient(slow_server.url, timeout=10) as client:
        model = await client.llm.model(ECHO)
        stream = model.respond_stream("!long 500")
        async for _ in stream:
            stream.cancel()
        result = await stream.result()
        assert result.stats.stop_reason == "userStopped"
        assert result.stats.predicted_tokens_count is not None
        assert result.stats.predicted_tokens_count < 500


async def test_closing_the_stream_cancels(slow_server: RunningServer) -> None:
    async with lms.AsyncClient(slow_server.url, timeout=10) as client:
        model = await client.llm.model(ECHO)
        async with model.respond_stream("!long 500") as stream:
            async for _ in stream:
                break
        with pytest.raises(lms.LocalProtocolError):
            await stream.result()
        # One prediction at a time per instance: this only finishes quickly if the server
        # stopped the 10-second prediction when the stream closed.
        started = time.monotonic()
        assert (await model.respond("next")).content == "You said: next"
        assert time.monotonic() - started < 2


async def test_load_config_read_back(client: lms.AsyncClient) -> None:
    model = await client.llm.load(ECHO, identifier="ctx-test", config={"context_length": 1024})
    try:
        config = await model.get_load_config()
        assert config.context_length == 1024
        assert await model.get_context_length() == 1024
    finally:
        await model.unload()


async def test_tokens_and_template(client: lms.AsyncClient) -> None:
    model = await client.llm.model(ECHO)
    tokens = await model.tokenize("hello world")
    assert tokens and all(isinstance(t, int) for t in tokens)
    assert await model.count_tokens("hello world") == len(tokens)
    batches = await model.tokenize(["a b", "hello world"])
    assert batches[1] == tokens and len(batches) == 2
    assert await model.get_context_length() > 0
    prompt = await model.apply_prompt_template([{"role": "user", "content": "marker-text"}])
    assert "marker-text" in prompt


async def test_embeddings(client: lms.AsyncClient) -> None:
    model = await client.embedding.model(EMBED)
    one = await model.embed("the cat sat")
    assert len(one) > 0
    assert abs(sum(x * x for x in one) - 1.0) < 1e-6
    many = await model.embed(["the cat sat", "quantum field theory", "the cat sat"])
    assert len(many) == 3
    assert many[0] == many[2] == one
    assert many[1] != one


PNG_1x1 = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
    "0000000d4944415478da63f8cfc0f01f0005000201e0a4c1b10000000049454e44ae426082"
)


async def test_image_upload_and_chat(client: lms.AsyncClient, tmp_path: Path) -> None:
    image = await client.files.prepare_image(PNG_1x1, name="dot.png")
    assert image.file_type == "image" and image.size_bytes == len(PNG_1x1)
    path = tmp_path / "dot.png"
    path.write_bytes(PNG_1x1)
    from_path = await client.files.prepare_image(path)
    assert from_path.name == "dot.png" and from_path.identifier != image.identifier
    model = await client.llm.model("scripted-vision-1b")
    result = await model.respond(
        [{"role": "user", "content": "what is this?", "images": [image, from_path]}]
    )
    assert result.content == "You said: what is this?"
    notes = tmp_path / "notes.txt"
    notes.write_text("just text")
    with pytest.raises(lms.LMStudioValueError, match="not an image"):
        await client.files.prepare_image(notes)
    with pytest.raises(lms.LMStudioValueError, match="needs a name"):
        await client.files.prepare_file(b"data")


async def test_unknown_model_is_a_typed_error(client: lms.AsyncClient) -> None:
    with pytest.raises(lms.ModelNotFoundError) as caught:
        await client.llm.model("no-such-model")
    assert "no-such-model" in str(caught.value)
    # The socket that carried the error still works.
    assert await client.system.list_downloaded_models()


async def test_misspelt_config_key_names_the_fix(client: lms.AsyncClient) -> None:
    model = client.llm.handle(ECHO)
    with pytest.raises(lms.ConfigKeyError) as caught:
        await model.respond("hi", config={"temprature": 0.5})  # type: ignore[call-overload]
    assert "temprature" in str(caught.value) and "temperature" in str(caught.value)


async def test_a_draft_model_on_an_engine_without_speculative_decoding(
    client: lms.AsyncClient,
) -> None:
    model = await client.llm.model(ECHO)
    # The scripted engine refuses honestly, naming itself, both ways to ask for a draft.
    with pytest.raises(lms.UnsupportedFeatureError, match="scripted engine") as caught:
        await model.respond("hi", config={"draft_model": ECHO})
    assert "speculativeDecoding.draftModel" in str(caught.value)
    with pytest.raises(lms.UnsupportedFeatureError, match="scripted engine"):
        await model.preload_draft_model(ECHO)
    with pytest.raises(lms.LMStudioValueError, match="must be a string"):
        await model.preload_draft_model(3)  # type: ignore[arg-type]
    with pytest.raises(lms.LMStudioValueError, match="draft_key"):
        await model.preload_draft_model(ECHO, draft_key=ECHO)  # type: ignore[call-arg]
    # The refusals left the model working.
    assert (await model.respond("hi", config={"max_tokens": 3})).content


async def test_dynamic_handle(client: lms.AsyncClient) -> None:
    # By the identifier it has: the shared server may hold ECHO under another identifier
    # (JIT loads evict each other, so which instances are left depends on the tests before).
    loaded = await client.llm.model(ECHO)
    dynamic = client.llm.handle(loaded.identifier)
    assert (await dynamic.respond("dyn")).content == "You said: dyn"


async def test_escape_hatch(client: lms.AsyncClient) -> None:
    version = await client.rpc("system", "version")
    assert isinstance(version, dict) and "version" in version
    channel = await client.open_channel(
        "llm",
        "getOrLoad",
        {"identifier": ECHO, "loadConfigStack": {"layers": []}},
    )
    packets = []
    while (packet := await channel.receive_value(5)) is not None:
        packets.append(packet)
    assert packets[-1]["type"] in ("alreadyLoaded", "loadSuccess")


async def test_timeout_is_typed(slow_server: RunningServer) -> None:
    async with lms.AsyncClient(slow_server.url, timeout=10) as client:
        model = await client.llm.model(ECHO)
        stream = model.respond_stream("!long 500", timeout=0.001)
        with pytest.raises(lms.LMStudioTimeoutError):
            async for _ in stream:
                pass
        # The timeout cancelled the prediction: the server reports it as stopped by the user.
        assert (await stream.result(timeout=5)).stats.stop_reason == "userStopped"


async def test_api_token(token_server: RunningServer) -> None:
    async with lms.AsyncClient(token_server.url, api_token=API_TOKEN) as good:
        assert await good.system.list_downloaded_models()
    async with lms.AsyncClient(token_server.url, api_token=OTHER_TOKEN) as bad:
        with pytest.raises(lms.AuthenticationError):
            await bad.system.list_downloaded_models()
    async with lms.AsyncClient(token_server.url) as guest:
        with pytest.raises(lms.AuthenticationError):
            await guest.system.list_downloaded_models()


async def test_discovery(server: RunningServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pool_module, "DISCOVERY_PORTS", (free_port(), server.port))
    async with lms.AsyncClient() as client:
        assert await client.system.get_lmstudio_version()
        assert client.base_url == f"ws://127.0.0.1:{server.port}"


async def test_no_server_found(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pool_module, "DISCOVERY_PORTS", (free_port(),))
    async with lms.AsyncClient() as client:
        with pytest.raises(lms.ServerNotFoundError) as caught:
            await client.system.list_downloaded_models()
    assert "lmstudio-sdk serve" in str(caught.value)


async def test_server_killed_mid_stream_then_back(server_process: ServerProcess) -> None:
    async with lms.AsyncClient(server_process.url, timeout=10) as client:
        model = await client.llm.model(ECHO)
        stream = model.respond_stream("!long 1000")
        started = 0.0
        with pytest.raises(lms.LMStudioConnectionError):
            async for _ in stream:
                if not started:
                    started = time.monotonic()
                    server_process.kill()
        assert time.monotonic() - started < 2
        with pytest.raises(lms.LMStudioConnectionError):
            await client.system.list_downloaded_models()
        server_process.start()
        models = await client.system.list_downloaded_models()
        assert ECHO in {m.model_key for m in models}
        reloaded = await client.llm.model(ECHO)
        assert (await reloaded.respond("back")).content == "You said: back"
