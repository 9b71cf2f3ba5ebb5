# GENERATED from tests/_async/test_migration_api.py by scripts/unasync.py. Do not edit: edit the source.
"""The official Python SDK's call shapes, added for migration (docs/migration.md), against the
embedded server (scripted engine). Written once for the async face; ``scripts/unasync.py``
generates the sync twin.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import msgspec
import pytest

import lmstudio_sdk as lms
from tests.conftest import CatalogServer, RunningServer

ECHO = "scripted-echo-1b"
EMBED = "scripted-embed-small"
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
    "0000000d49444154789c6360000002000001e221bc330000000049454e44ae426082"
)


@pytest.fixture
def client(server: RunningServer) -> Iterator[lms.Client]:
    with lms.Client(server.url, timeout=10) as client:
        yield client


def test_list_loaded_models_of_both_kinds(client: lms.Client) -> None:
    client.embedding.model(EMBED)
    client.llm.load_new_instance(ECHO, "mig-list")
    try:
        everything = client.list_loaded_models()
        llms = client.list_loaded_models("llm")
        embeddings = client.list_loaded_models("embedding")
    finally:
        client.llm.unload("mig-list")
    assert "mig-list" in {m.identifier for m in llms}
    assert all(isinstance(m, lms.LLM) for m in llms)
    assert all(isinstance(m, lms.EmbeddingModel) for m in embeddings)
    assert {m.identifier for m in everything} == {m.identifier for m in llms + embeddings}
    with pytest.raises(lms.LMStudioValueError, match="namespace must be 'llm', 'embedding'"):
        client.list_loaded_models("vision")


def test_downloaded_models_load_and_get(client: lms.Client) -> None:
    downloaded = client.list_downloaded_models()
    by_key = {m.model_key: m for m in downloaded}
    echo = by_key[ECHO]
    assert isinstance(echo, lms.DownloadedLlm)
    assert (echo.type, echo.info.model_key, echo.path) == ("llm", ECHO, echo.info.path)
    assert isinstance(by_key[EMBED], lms.DownloadedEmbeddingModel)
    assert [m.model_key for m in client.list_downloaded_models("embedding")] == [EMBED]
    assert ECHO in {m.model_key for m in client.llm.list_downloaded()}
    assert {m.model_key for m in client.embedding.list_downloaded()} == {EMBED}
    progress: list[float] = []
    model = echo.load_new_instance(
        instance_identifier="mig-downloaded", ttl=60, on_load_progress=progress.append
    )
    try:
        assert model.identifier == "mig-downloaded" and progress[-1] == 1.0
        assert (model.respond("hi")).content == "You said: hi"
        got = echo.model()
        assert got.info is not None and got.info.model_key == ECHO
    finally:
        client.llm.unload("mig-downloaded")
    embedding = by_key[EMBED]
    assert isinstance(embedding, lms.DownloadedEmbeddingModel)
    embedder = embedding.model()
    assert len(embedder.embed("hi")) > 8


def test_get_model_info_by_identifier_query_or_dict(client: lms.Client) -> None:
    model = client.llm.load_new_instance(ECHO, "mig-info")
    try:
        by_name = client.llm.get_model_info("mig-info")
        by_query = client.llm.get_model_info(lms.ModelQuery(identifier="mig-info"))
        by_dict = client.llm.get_model_info({"identifier": "mig-info"})
        by_reference = client.llm.get_model_info(
            {"type": "instanceReference", "instanceReference": by_name.instance_reference}
        )
    finally:
        model.unload()
    assert by_name == by_query == by_dict == by_reference
    assert (by_name.type, by_name.model_key, by_name.identifier) == ("llm", ECHO, "mig-info")
    with pytest.raises(lms.LMStudioModelNotFoundError):
        client.llm.get_model_info("mig-info")
    with pytest.raises(lms.LMStudioValueError, match="takes a model identifier"):
        client.llm.get_model_info(42)  # type: ignore[arg-type]
    with pytest.raises(lms.LMStudioValueError, match="get_model_info"):
        client.llm.get_model_info({"type": "nonsense"})
    embedder = client.embedding.model(EMBED)
    info = client.embedding.get_model_info(embedder.identifier)
    assert (info.type, info.model_key) == ("embedding", EMBED)


def test_model_takes_on_load_progress_not_both(client: lms.Client) -> None:
    progress: list[float] = []
    client.llm.load_new_instance(ECHO, "mig-progress", ttl=60)
    client.llm.unload("mig-progress")
    model = client.llm.model(ECHO, on_load_progress=progress.append)
    assert model.info is not None
    with pytest.raises(lms.LMStudioValueError, match="same callback"):
        client.llm.model(ECHO, on_progress=print, on_load_progress=print)


def test_config_structs_are_accepted_as_config(client: lms.Client) -> None:
    model = client.llm.load_new_instance(
        ECHO,
        "mig-config",
        config=lms.LlmLoadModelConfig(context_length=1024),  # type: ignore[arg-type]
    )
    try:
        assert (model.get_load_config()).context_length == 1024
        assert (model.get_context_length()) == 1024
    finally:
        model.unload()


def test_prepare_image_from_a_path_a_file_object_or_named_bytes(
    client: lms.Client, tmp_path: Path
) -> None:
    path = tmp_path / "dot.png"
    path.write_bytes(PNG)
    from_path = client.prepare_image(path)
    with path.open("rb") as handle:
        from_file = client.prepare_image(handle)
    from_bytes = client.prepare_image(PNG, "named.png")
    from_stream = client.files.prepare_image(io.BytesIO(PNG), "stream.png")
    assert [p.name for p in (from_path, from_file, from_bytes, from_stream)] == [
        "dot.png",
        "dot.png",
        "named.png",
        "stream.png",
    ]
    assert {p.file_type for p in (from_path, from_file, from_bytes, from_stream)} == {"image"}
    with pytest.raises(lms.LMStudioValueError, match="needs a name"):
        client.prepare_image(io.BytesIO(PNG))
    with path.open("r") as text:
        with pytest.raises(lms.LMStudioValueError, match="binary mode"):
            client.prepare_image(text)  # type: ignore[arg-type]
    with pytest.raises(lms.LMStudioOSError, match="cannot read") as caught:
        client.prepare_image(tmp_path / "missing.png")
    assert isinstance(caught.value, OSError) and isinstance(caught.value, lms.LMStudioValueError)


def test_stream_start_wait_for_result_stats_and_model_info(
    client: lms.Client,
) -> None:
    model = client.llm.model(ECHO)
    stream = model.respond_stream("hello")
    assert stream.stats is None and stream.model_info is None
    stream.start()
    stream.start()  # once sent, nothing more to do
    result = stream.wait_for_result()
    assert result.content == "You said: hello"
    assert stream.stats == result.stats and stream.model_info == result.model_info
    assert stream.cancel() is None  # a finished stream: nothing to stop


def test_api_host_and_probing(client: lms.Client, server: RunningServer) -> None:
    host = f"127.0.0.1:{server.port}"
    assert client.api_host == host
    assert lms.Client.is_valid_api_host(host)
    sock_free = "127.0.0.1:9"  # the discard port: nothing listens there
    assert not lms.Client.is_valid_api_host(sock_free, timeout=0.5)
    with pytest.raises(lms.LMStudioValueError, match="needs a port"):
        lms.Client.is_valid_api_host("localhost")
    found = lms.Client.find_default_local_api_host()
    assert found is None or found.startswith("127.0.0.1:")
    assert lms.Client().api_host is None  # not discovered yet


def test_error_names_of_the_official_sdk(client: lms.Client) -> None:
    model = client.llm.model(ECHO)
    with pytest.raises(lms.LMStudioPredictionError, match="failed on purpose") as caught:
        model.respond("!error")
    assert isinstance(caught.value, lms.LMStudioServerError)
    with pytest.raises(lms.LMStudioModelNotFoundError):
        client.llm.model("no-such-model")
    closed = lms.Client(client.base_url)
    closed.close()
    with pytest.raises(lms.LMStudioRuntimeError):
        closed.llm.list_loaded()
    assert lms.LMStudioWebsocketError is lms.LMStudioConnectionError
    assert issubclass(lms.LMStudioWebsocketError, lms.LMStudioClientError)


def test_wire_structs_to_dict_and_from_dict(client: lms.Client) -> None:
    (info,) = [m for m in client.system.list_downloaded_models() if m.model_key == ECHO]
    wire = info.to_dict()
    assert wire["modelKey"] == ECHO and wire["type"] == "llm"
    assert lms.LlmInfo.from_dict(wire) == info
    with pytest.raises(lms.ValidationError):
        lms.LlmInfo.from_dict({"modelKey": 3})
    assert msgspec.json.decode(msgspec.json.encode(info)) == wire


def test_download_option_positional_callbacks(
    catalog_server: CatalogServer,
) -> None:
    with lms.Client(catalog_server.url, timeout=20) as client:
        (entry,) = client.repository.search_models("tiny-chat-gguf", 5, ["gguf"])
        assert entry.search_result is entry.data
        options = entry.get_download_options()
        option = options[0]
        assert option.info is option.data
        events: list[str] = []
        key = option.download(
            lambda update: events.append("progress"), lambda: events.append("finalize")
        )
        assert key == "tiny-chat" and events[-1] == "finalize" and "progress" in events
        with pytest.raises(lms.LMStudioValueError, match="same callback"):
            option.download(on_finalize=print, on_start_finalizing=print)
