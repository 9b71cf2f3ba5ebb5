# GENERATED from tests/_async/test_client.py by scripts/unasync.py. Do not edit: edit the source.
"""The client's scenarios against the embedded server (scripted engine), over real loopback
WebSockets. Written once for the async face; ``scripts/unasync.py`` generates the sync twin.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import lmstudio_sdk as lms
from lmstudio_sdk._sync import pool as pool_module
from tests.conftest import API_TOKEN, OTHER_TOKEN, RunningServer, ServerProcess, free_port

ECHO = "scripted-echo-1b"
EMBED = "scripted-embed-small"


@pytest.fixture
def client(server: RunningServer) -> Iterator[lms.Client]:
    with lms.Client(server.url, timeout=10) as client:
        yield client


def test_lists_downloaded_models_by_domain(client: lms.Client) -> None:
    models = client.system.list_downloaded_models()
    keys = {m.model_key for m in models}
    assert {ECHO, EMBED} <= keys
    llms = client.system.list_downloaded_models("llm")
    assert ECHO in {m.model_key for m in llms}
    assert all(isinstance(m, lms.LLMInfo) for m in llms)
    embeddings = client.system.list_downloaded_models("embedding")
    assert [m.model_key for m in embeddings] == [EMBED]


def test_version(client: lms.Client) -> None:
    version = client.system.get_lmstudio_version()
    assert version.version.count(".") == 2


def test_get_or_load_then_list_loaded(client: lms.Client) -> None:
    model = client.llm.model(ECHO)
    assert model.info is not None and model.info.model_key == ECHO
    loaded = client.llm.list_loaded()
    assert model.identifier in {m.identifier for m in loaded}
    again = client.llm.model(ECHO)
    assert again.identifier == model.identifier
    any_model = client.llm.model()
    assert any_model.info is not None and any_model.info.domain == "llm"


def test_load_with_progress_and_unload(client: lms.Client) -> None:
    progress: list[float] = []
    model = client.llm.load(
        ECHO, identifier="progress-test", ttl=300, on_progress=progress.append
    )
    assert model.identifier == "progress-test"
    assert progress and progress[-1] == 1.0
    assert progress == sorted(progress)
    info = model.get_info()
    assert info.ttl_ms == 300_000
    model.unload()
    assert "progress-test" not in {m.identifier for m in client.llm.list_loaded()}
    with pytest.raises(lms.ModelNotFoundError):
        model.get_info()


def test_streamed_respond(client: lms.Client) -> None:
    model = client.llm.model(ECHO)
    stream = model.respond_stream("hello there")
    fragments = [fragment.content for fragment in stream]
    result = stream.result()
    assert "".join(fragments) == result.content == "You said: hello there"
    assert len(fragments) > 1
    assert result.stats.stop_reason == "eosFound"
    assert result.stats.predicted_tokens_count == len(fragments)
    assert result.stats.prompt_tokens_count and result.stats.prompt_tokens_count > 0
    assert result.model_info.model_key == ECHO


def test_respond_and_complete(client: lms.Client) -> None:
    model = client.llm.model(ECHO)
    progress: list[float] = []
    seen: list[str] = []
    result = model.respond(
        [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"}],
        config={"temperature": 0.1, "max_tokens": 50},
        on_fragment=lambda f: seen.append(f.content),
        on_prompt_processing_progress=progress.append,
    )
    assert result.content == "You said: hi" == "".join(seen)
    assert progress and progress[-1] == 1.0
    completion = model.complete("Once upon a time", config={"max_tokens": 5})
    assert completion.content
    assert completion.stats.stop_reason in ("eosFound", "maxPredictedTokensReached")


def test_max_tokens_and_stop_strings(client: lms.Client) -> None:
    model = client.llm.model(ECHO)
    limited = model.respond("!long 50", config={"max_tokens": 5})
    assert limited.stats.stop_reason == "maxPredictedTokensReached"
    assert limited.stats.predicted_tokens_count == 5
    stopped = model.respond("!long 50", config={"stop_strings": ["word3"]})
    assert stopped.stats.stop_reason == "stopStringFound"
    assert "word3" not in stopped.content


def test_leaving_the_loop_cancels(slow_server: RunningServer) -> None:
    with lms.Client(slow_server.url, timeout=10) as client:
        model = client.llm.model(ECHO)
        stream = model.respond_stream("!long 500")
        count = 0
        for _ in stream:
            count += 1
            if count == 3:
                break
        started = time.monotonic()
        result = stream.result()
        assert result.stats.stop_reason == "userStopped"
        assert time.monotonic() - started < 2
        # The connection stays usable.
        assert (model.respond("still there")).content == "You said: still there"


def test_cancel_method(slow_server: RunningServer) -> None:
    with lms.Client(slow_server.url, timeout=10) as client:
        model = client.llm.model(ECHO)
        stream = model.respond_stream("!long 500")
        for _ in stream:
            stream.cancel()
        result = stream.result()
        assert result.stats.stop_reason == "userStopped"
        assert result.stats.predicted_tokens_count is not None
        assert result.stats.predicted_tokens_count < 500


def test_closing_the_stream_cancels(slow_server: RunningServer) -> None:
    with lms.Client(slow_server.url, timeout=10) as client:
        model = client.llm.model(ECHO)
        with model.respond_stream("!long 500") as stream:
            for _ in stream:
                break
        with pytest.raises(lms.LocalProtocolError):
            stream.result()
        # One prediction at a time per instance: this only finishes quickly if the server
        # stopped the 10-second prediction when the stream closed.
        started = time.monotonic()
        assert (model.respond("next")).content == "You said: next"
        assert time.monotonic() - started < 2


def test_load_config_read_back(client: lms.Client) -> None:
    model = client.llm.load(ECHO, identifier="ctx-test", config={"context_length": 1024})
    try:
        config = model.get_load_config()
        assert config.context_length == 1024
        assert model.get_context_length() == 1024
    finally:
        model.unload()


def test_tokens_and_template(client: lms.Client) -> None:
    model = client.llm.model(ECHO)
    tokens = model.tokenize("hello world")
    assert tokens and all(isinstance(t, int) for t in tokens)
    assert model.count_tokens("hello world") == len(tokens)
    batches = model.tokenize(["a b", "hello world"])
    assert batches[1] == tokens and len(batches) == 2
    assert model.get_context_length() > 0
    prompt = model.apply_prompt_template([{"role": "user", "content": "marker-text"}])
    assert "marker-text" in prompt


def test_embeddings(client: lms.Client) -> None:
    model = client.embedding.model(EMBED)
    one = model.embed("the cat sat")
    assert len(one) > 0
    assert abs(sum(x * x for x in one) - 1.0) < 1e-6
    many = model.embed(["the cat sat", "quantum field theory", "the cat sat"])
    assert len(many) == 3
    assert many[0] == many[2] == one
    assert many[1] != one


PNG_1x1 = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
    "0000000d4944415478da63f8cfc0f01f0005000201e0a4c1b10000000049454e44ae426082"
)


def test_image_upload_and_chat(client: lms.Client, tmp_path: Path) -> None:
    image = client.files.prepare_image(PNG_1x1, name="dot.png")
    assert image.file_type == "image" and image.size_bytes == len(PNG_1x1)
    path = tmp_path / "dot.png"
    path.write_bytes(PNG_1x1)
    from_path = client.files.prepare_image(path)
    assert from_path.name == "dot.png" and from_path.identifier != image.identifier
    model = client.llm.model("scripted-vision-1b")
    result = model.respond(
        [{"role": "user", "content": "what is this?", "images": [image, from_path]}]
    )
    assert result.content == "You said: what is this?"
    notes = tmp_path / "notes.txt"
    notes.write_text("just text")
    with pytest.raises(lms.LMStudioValueError, match="not an image"):
        client.files.prepare_image(notes)
    with pytest.raises(lms.LMStudioValueError, match="needs a name"):
        client.files.prepare_file(b"data")


def test_unknown_model_is_a_typed_error(client: lms.Client) -> None:
    with pytest.raises(lms.ModelNotFoundError) as caught:
        client.llm.model("no-such-model")
    assert "no-such-model" in str(caught.value)
    # The socket that carried the error still works.
    assert client.system.list_downloaded_models()


def test_misspelt_config_key_names_the_fix(client: lms.Client) -> None:
    model = client.llm.handle(ECHO)
    with pytest.raises(lms.ConfigKeyError) as caught:
        model.respond("hi", config={"temprature": 0.5})  # type: ignore[call-overload]
    assert "temprature" in str(caught.value) and "temperature" in str(caught.value)


def test_a_draft_model_on_an_engine_without_speculative_decoding(
    client: lms.Client,
) -> None:
    model = client.llm.model(ECHO)
    # The scripted engine refuses honestly, naming itself, both ways to ask for a draft.
    with pytest.raises(lms.UnsupportedFeatureError, match="scripted engine") as caught:
        model.respond("hi", config={"draft_model": ECHO})
    assert "speculativeDecoding.draftModel" in str(caught.value)
    with pytest.raises(lms.UnsupportedFeatureError, match="scripted engine"):
        model.preload_draft_model(ECHO)
    with pytest.raises(lms.LMStudioValueError, match="must be a string"):
        model.preload_draft_model(3)  # type: ignore[arg-type]
    with pytest.raises(lms.LMStudioValueError, match="draft_key"):
        model.preload_draft_model(ECHO, draft_key=ECHO)  # type: ignore[call-arg]
    # The refusals left the model working.
    assert (model.respond("hi", config={"max_tokens": 3})).content


def test_dynamic_handle(client: lms.Client) -> None:
    # By the identifier it has: the shared server may hold ECHO under another identifier
    # (JIT loads evict each other, so which instances are left depends on the tests before).
    loaded = client.llm.model(ECHO)
    dynamic = client.llm.handle(loaded.identifier)
    assert (dynamic.respond("dyn")).content == "You said: dyn"


def test_escape_hatch(client: lms.Client) -> None:
    version = client.rpc("system", "version")
    assert isinstance(version, dict) and "version" in version
    channel = client.open_channel(
        "llm",
        "getOrLoad",
        {"identifier": ECHO, "loadConfigStack": {"layers": []}},
    )
    packets = []
    while (packet := channel.receive_value(5)) is not None:
        packets.append(packet)
    assert packets[-1]["type"] in ("alreadyLoaded", "loadSuccess")


def test_timeout_is_typed(slow_server: RunningServer) -> None:
    with lms.Client(slow_server.url, timeout=10) as client:
        model = client.llm.model(ECHO)
        stream = model.respond_stream("!long 500", timeout=0.001)
        with pytest.raises(lms.LMStudioTimeoutError):
            for _ in stream:
                pass
        # The timeout cancelled the prediction: the server reports it as stopped by the user.
        assert (stream.result(timeout=5)).stats.stop_reason == "userStopped"


def test_api_token(token_server: RunningServer) -> None:
    with lms.Client(token_server.url, api_token=API_TOKEN) as good:
        assert good.system.list_downloaded_models()
    with lms.Client(token_server.url, api_token=OTHER_TOKEN) as bad:
        with pytest.raises(lms.AuthenticationError):
            bad.system.list_downloaded_models()
    with lms.Client(token_server.url) as guest:
        with pytest.raises(lms.AuthenticationError):
            guest.system.list_downloaded_models()


def test_discovery(server: RunningServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pool_module, "DISCOVERY_PORTS", (free_port(), server.port))
    with lms.Client() as client:
        assert client.system.get_lmstudio_version()
        assert client.base_url == f"ws://127.0.0.1:{server.port}"


def test_no_server_found(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pool_module, "DISCOVERY_PORTS", (free_port(),))
    with lms.Client() as client:
        with pytest.raises(lms.ServerNotFoundError) as caught:
            client.system.list_downloaded_models()
    assert "lmstudio-sdk serve" in str(caught.value)


def test_server_killed_mid_stream_then_back(server_process: ServerProcess) -> None:
    with lms.Client(server_process.url, timeout=10) as client:
        model = client.llm.model(ECHO)
        stream = model.respond_stream("!long 1000")
        started = 0.0
        with pytest.raises(lms.LMStudioConnectionError):
            for _ in stream:
                if not started:
                    started = time.monotonic()
                    server_process.kill()
        assert time.monotonic() - started < 2
        with pytest.raises(lms.LMStudioConnectionError):
            client.system.list_downloaded_models()
        server_process.start()
        models = client.system.list_downloaded_models()
        assert ECHO in {m.model_key for m in models}
        reloaded = client.llm.model(ECHO)
        assert (reloaded.respond("back")).content == "You said: back"
