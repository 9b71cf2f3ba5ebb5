"""The official Python SDK's call shapes, added for migration (docs/migration.md), against the
embedded server (scripted engine). Written once for the async face; ``scripts/unasync.py``
generates the sync twin.
"""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
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
async def client(server: RunningServer) -> AsyncIterator[lms.AsyncClient]:
    async with lms.AsyncClient(server.url, timeout=10) as client:
        yield client


async def test_list_loaded_models_of_both_kinds(client: lms.AsyncClient) -> None:
    await client.embedding.model(EMBED)
    await client.llm.load_new_instance(ECHO, "mig-list")
    try:
        everything = await client.list_loaded_models()
        llms = await client.list_loaded_models("llm")
        embeddings = await client.list_loaded_models("embedding")
    finally:
        await client.llm.unload("mig-list")
    assert "mig-list" in {m.identifier for m in llms}
    assert all(isinstance(m, lms.AsyncLLM) for m in llms)
    assert all(isinstance(m, lms.AsyncEmbeddingModel) for m in embeddings)
    assert {m.identifier for m in everything} == {m.identifier for m in llms + embeddings}
    with pytest.raises(lms.LMStudioValueError, match="namespace must be 'llm', 'embedding'"):
        await client.list_loaded_models("vision")


async def test_downloaded_models_load_and_get(client: lms.AsyncClient) -> None:
    downloaded = await client.list_downloaded_models()
    by_key = {m.model_key: m for m in downloaded}
    echo = by_key[ECHO]
    assert isinstance(echo, lms.AsyncDownloadedLlm)
    assert (echo.type, echo.info.model_key, echo.path) == ("llm", ECHO, echo.info.path)
    assert isinstance(by_key[EMBED], lms.AsyncDownloadedEmbeddingModel)
    assert [m.model_key for m in await client.list_downloaded_models("embedding")] == [EMBED]
    assert ECHO in {m.model_key for m in await client.llm.list_downloaded()}
    assert {m.model_key for m in await client.embedding.list_downloaded()} == {EMBED}
    progress: list[float] = []
    model = await echo.load_new_instance(
        instance_identifier="mig-downloaded", ttl=60, on_load_progress=progress.append
    )
    try:
        assert model.identifier == "mig-downloaded" and progress[-1] == 1.0
        assert (await model.respond("hi")).content == "You said: hi"
        got = await echo.model()
        assert got.info is not None and got.info.model_key == ECHO
    finally:
        await client.llm.unload("mig-downloaded")
    embedding = by_key[EMBED]
    assert isinstance(embedding, lms.AsyncDownloadedEmbeddingModel)
    embedder = await embedding.model()
    assert len(await embedder.embed("hi")) > 8


async def test_get_model_info_by_identifier_query_or_dict(client: lms.AsyncClient) -> None:
    model = await client.llm.load_new_instance(ECHO, "mig-info")
    try:
        by_name = await client.llm.get_model_info("mig-info")
        by_query = await client.llm.get_model_info(lms.ModelQuery(identifier="mig-info"))
        by_dict = await client.llm.get_model_info({"identifier": "mig-info"})
        by_reference = await client.llm.get_model_info(
            {"type": "instanceReference", "instanceReference": by_name.instance_reference}
        )
    finally:
        await model.unload()
    assert by_name == by_query == by_dict == by_reference
    assert (by_name.type, by_name.model_key, by_name.identifier) == ("llm", ECHO, "mig-info")
    with pytest.raises(lms.LMStudioModelNotFoundError):
        await client.llm.get_model_info("mig-info")
    with pytest.raises(lms.LMStudioValueError, match="takes a model identifier"):
        await client.llm.get_model_info(42)  # type: ignore[arg-type]
    with pytest.raises(lms.LMStudioValueError, match="get_model_info"):
        await client.llm.get_model_info({"type": "nonsense"})
    embedder = await client.embedding.model(EMBED)
    info = await client.embedding.get_model_info(embedder.identifier)
    assert (info.type, info.model_key) == ("embedding", EMBED)


async def test_model_takes_on_load_progress_not_both(client: lms.AsyncClient) -> None:
    progress: list[float] = []
    await client.llm.load_new_instance(ECHO, "mig-progress", ttl=60)
    await client.llm.unload("mig-progress")
    model = await client.llm.model(ECHO, on_load_progress=progress.append)
    assert model.info is not None
    with pytest.raises(lms.LMStudioValueError, match="same callback"):
        await client.llm.model(ECHO, on_progress=print, on_load_progress=print)


async def test_config_structs_are_accepted_as_config(client: lms.AsyncClient) -> None:
    model = await client.llm.load_new_instance(
        ECHO,
        "mig-config",
        config=lms.LlmLoadModelConfig(context_length=1024),  # type: ignore[arg-type]
    )
    try:
        assert (await model.get_load_config()).context_length == 1024
        assert (await model.get_context_length()) == 1024
    finally:
        await model.unload()


async def test_prepare_image_from_a_path_a_file_object_or_named_bytes(
    client: lms.AsyncClient, tmp_path: Path
) -> None:
    path = tmp_path / "dot.png"
    path.write_bytes(PNG)
    from_path = await client.prepare_image(path)
    with path.open("rb") as handle:
        from_file = await client.prepare_image(handle)
    from_bytes = await client.prepare_image(PNG, "named.png")
    from_stream = await client.files.prepare_image(io.BytesIO(PNG), "stream.png")
    assert [p.name for p in (from_path, from_file, from_bytes, from_stream)] == [
        "dot.png",
        "dot.png",
        "named.png",
        "stream.png",
    ]
    assert {p.file_type for p in (from_path, from_file, from_bytes, from_stream)} == {"image"}
    with pytest.raises(lms.LMStudioValueError, match="needs a name"):
        await client.prepare_image(io.BytesIO(PNG))
    with path.open("r") as text:
        with pytest.raises(lms.LMStudioValueError, match="binary mode"):
            await client.prepare_image(text)  # type: ignore[arg-type]
    with pytest.raises(lms.LMStudioOSError, match="cannot read") as caught:
        await client.prepare_image(tmp_path / "missing.png")
    assert isinstance(caught.value, OSError) and isinstance(caught.value, lms.LMStudioValueError)


async def test_stream_start_wait_for_result_stats_and_model_info(
    client: lms.AsyncClient,
) -> None:
    model = await client.llm.model(ECHO)
    stream = model.respond_stream("hello")
    assert stream.stats is None and stream.model_info is None
    await stream.start()
    await stream.start()  # once sent, nothing more to do
    result = await stream.wait_for_result()
    assert result.content == "You said: hello"
    assert stream.stats == result.stats and stream.model_info == result.model_info
    assert await stream.cancel() is None  # a finished stream: nothing to stop


async def test_api_host_and_probing(client: lms.AsyncClient, server: RunningServer) -> None:
    host = f"127.0.0.1:{server.port}"
    assert client.api_host == host
    assert await lms.AsyncClient.is_valid_api_host(host)
    sock_free = "127.0.0.1:9"  # the discard port: nothing listens there
    assert not await lms.AsyncClient.is_valid_api_host(sock_free, timeout=0.5)
    with pytest.raises(lms.LMStudioValueError, match="needs a port"):
        await lms.AsyncClient.is_valid_api_host("localhost")
    found = await lms.AsyncClient.find_default_local_api_host()
    assert found is None or found.startswith("127.0.0.1:")
    assert lms.AsyncClient().api_host is None  # not discovered yet


async def test_error_names_of_the_official_sdk(client: lms.AsyncClient) -> None:
    model = await client.llm.model(ECHO)
    with pytest.raises(lms.LMStudioPredictionError, match="failed on purpose") as caught:
        await model.respond("!error")
    assert isinstance(caught.value, lms.LMStudioServerError)
    with pytest.raises(lms.LMStudioModelNotFoundError):
        await client.llm.model("no-such-model")
    closed = lms.AsyncClient(client.base_url)
    await closed.aclose()
    with pytest.raises(lms.LMStudioRuntimeError):
        await closed.llm.list_loaded()
    assert lms.LMStudioWebsocketError is lms.LMStudioConnectionError
    assert issubclass(lms.LMStudioWebsocketError, lms.LMStudioClientError)


async def test_wire_structs_to_dict_and_from_dict(client: lms.AsyncClient) -> None:
    (info,) = [m for m in await client.system.list_downloaded_models() if m.model_key == ECHO]
    wire = info.to_dict()
    assert wire["modelKey"] == ECHO and wire["type"] == "llm"
    assert lms.LlmInfo.from_dict(wire) == info
    with pytest.raises(lms.ValidationError):
        lms.LlmInfo.from_dict({"modelKey": 3})
    assert msgspec.json.decode(msgspec.json.encode(info)) == wire


async def test_download_option_positional_callbacks(
    catalog_server: CatalogServer,
) -> None:
    async with lms.AsyncClient(catalog_server.url, timeout=20) as client:
        (entry,) = await client.repository.search_models("tiny-chat-gguf", 5, ["gguf"])
        assert entry.search_result is entry.data
        options = await entry.get_download_options()
        option = options[0]
        assert option.info is option.data
        events: list[str] = []
        key = await option.download(
            lambda update: events.append("progress"), lambda: events.append("finalize")
        )
        assert key == "tiny-chat" and events[-1] == "finalize" and "progress" in events
        with pytest.raises(lms.LMStudioValueError, match="same callback"):
            await option.download(on_finalize=print, on_start_finalizing=print)
