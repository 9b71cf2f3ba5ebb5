"""``client.repository`` against the embedded server's catalogue (tests/repository/catalog_kit.py):
search, download options, downloads with progress, cancellation that leaves the models folder
as it was, LM Link status, and misuse. Written for the async face; the sync twin is generated.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

import lmstudio_sdk as lms
from lmstudio_sdk.server.local.models_dir import scan_models
from tests.conftest import CatalogServer, RunningServer
from tests.repository.catalog_kit import MIB, tree


@pytest.fixture
async def client(catalog_server: CatalogServer) -> AsyncIterator[lms.AsyncClient]:
    async with lms.AsyncClient(catalog_server.url, timeout=20) as client:
        yield client


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


async def _option(client: lms.AsyncClient, term: str, file_name: str) -> lms.AsyncDownloadOption:
    results = await client.repository.search_models(term)
    options = await results[0].get_download_options()
    return next(o for o in options if o.name == file_name)


class Stop(Exception):
    pass


async def test_search_ranks_by_term(client: lms.AsyncClient) -> None:
    results = await client.repository.search_models("tiny")
    names = [r.identifier.identifier for r in results]
    # Both start with the term; the staff pick comes first. The others do not match.
    assert names == ["acme/Tiny-Chat-GGUF", "acme/Tiny-Embed-GGUF"]
    assert results[0].staff_pick and not results[1].staff_pick
    assert not results[0].exact
    exact = await client.repository.search_models("Tiny-Embed-GGUF")
    assert exact[0].identifier.identifier == "acme/Tiny-Embed-GGUF" and exact[0].exact
    described = await client.repository.search_models("chat model for tests")
    assert [r.name for r in described] == ["Tiny-Chat-GGUF"]
    assert await client.repository.search_models("zzzz-no-such-model") == []


async def test_search_limit_compatibility_and_packaged_models(client: lms.AsyncClient) -> None:
    everything = await client.repository.search_models()
    # The catalogue's three models and the two that PyPI packages ship.
    assert len(everything) == 5
    assert len(await client.repository.search_models(limit=2)) == 2
    assert await client.repository.search_models(compatibility=["safetensors"]) == []
    assert len(await client.repository.search_models(compatibility=["gguf"])) == 5
    smol = await client.repository.search_models("smollm2")
    assert smol[0].identifier.identifier == "HuggingFaceTB/SmolLM2-135M-Instruct-GGUF"
    options = await smol[0].get_download_options()
    assert options[0].name == "SmolLM2-135M-Instruct-Q4_1.gguf" and options[0].recommended


async def test_download_options(client: lms.AsyncClient) -> None:
    (entry,) = await client.repository.search_models("tiny-chat-gguf")
    options = await entry.get_download_options()
    assert [(o.name, o.quantization, o.size_bytes) for o in options] == [
        ("Tiny-Chat-Q4_K_M.gguf", "Q4_K_M", MIB),
        ("Tiny-Chat-Q8_0.gguf", "Q8_0", 2 * MIB),
    ]
    # None is marked in the manifest: the largest that fits is recommended.
    assert [o.recommended for o in options] == [False, True]
    assert {o.fit_estimation for o in options} == {"fitWithoutGPU"}
    assert {o.compatibility_type for o in options} == {"gguf"}
    assert options[1].indexed_model_identifier == "acme/Tiny-Chat-GGUF/Tiny-Chat-Q8_0.gguf"


async def test_download_with_progress_returns_the_model_key(
    client: lms.AsyncClient, catalog_server: CatalogServer
) -> None:
    option = await _option(client, "tiny chat", "Tiny-Chat-Q8_0.gguf")
    updates: list[lms.DownloadProgressUpdate] = []
    events: list[str] = []

    def on_progress(update: lms.DownloadProgressUpdate) -> None:
        updates.append(update)
        events.append("progress")

    key = await client.repository.download(
        option, on_progress=on_progress, on_start_finalizing=lambda: events.append("finalizing")
    )
    assert key == "tiny-chat"
    # 2 MiB at 4 MiB/s, reported every 0.1 s: several rising updates, the last one complete.
    assert len(updates) >= 3
    done = [u.downloaded_bytes for u in updates]
    assert done == sorted(done) and done[-1] == 2 * MIB
    assert {u.total_bytes for u in updates} == {2 * MIB}
    assert all(u.speed_bytes_per_second > 0 for u in updates)
    assert events[-1] == "finalizing" and events.count("finalizing") == 1
    installed = catalog_server.models_dir / "acme/Tiny-Chat-GGUF/Tiny-Chat-Q8_0.gguf"
    source = catalog_server.catalog / "Tiny-Chat-GGUF/Tiny-Chat-Q8_0.gguf"
    assert _sha256(installed) == _sha256(source)
    assert "tiny-chat" in {m.model_key for m in scan_models(catalog_server.models_dir)}
    # Downloading it again finds it installed and intact.
    assert await option.download() == "tiny-chat"


async def test_a_download_cancelled_at_half_leaves_the_models_folder_as_before(
    client: lms.AsyncClient, catalog_server: CatalogServer
) -> None:
    option = await _option(client, "big llama", "Big-Llama-Q4_0.gguf")
    catalog_server.wait_idle()
    before = tree(catalog_server.models_dir)
    seen: list[int] = []

    def stop_at_half(update: lms.DownloadProgressUpdate) -> None:
        seen.append(update.downloaded_bytes)
        if update.downloaded_bytes >= update.total_bytes // 2:
            raise Stop

    with pytest.raises(Stop):
        await option.download(on_progress=stop_at_half)
    assert seen[-1] < 16 * MIB  # stopped mid-way, not at the end
    catalog_server.wait_idle()  # the server noticed the cancel and cleaned up
    assert tree(catalog_server.models_dir) == before
    # Nothing half-installed blocks a later download.
    assert await option.download() == "big-llama"


async def test_a_corrupt_catalogue_file_is_refused_and_not_installed(
    client: lms.AsyncClient, catalog_server: CatalogServer
) -> None:
    option = await _option(client, "tiny embed", "Tiny-Embed-F16.gguf")
    source = catalog_server.catalog / "Tiny-Embed-GGUF/Tiny-Embed-F16.gguf"
    original = source.read_bytes()
    catalog_server.wait_idle()
    before = tree(catalog_server.models_dir)
    source.write_bytes(original[:-1] + bytes([original[-1] ^ 0xFF]))  # same size, other hash
    try:
        with pytest.raises(lms.LMStudioServerError, match="SHA-256"):
            await option.download()
    finally:
        source.write_bytes(original)
    assert tree(catalog_server.models_dir) == before
    assert await option.download() == "text-embedding-tiny-embed"


async def test_lm_link_status_reports_this_server_offline(client: lms.AsyncClient) -> None:
    status = await client.repository.lm_link_status()
    assert status.status == "offline"
    assert status.issues == ["noAccess"] and status.peers == []
    assert isinstance(status, lms.LmLinkStatusResult)
    with pytest.raises(lms.UnsupportedFeatureError, match="LM Link"):
        await client.repository.lm_link_set_disabled(True)
    with pytest.raises(lms.UnsupportedFeatureError, match="LM Link"):
        await client.repository.lm_link_update_device_name("laptop")
    with pytest.raises(lms.UnsupportedFeatureError, match="LM Link"):
        await client.repository.lm_link_set_preferred_device("peer-1")


async def test_lm_link_setters_reject_bad_input(client: lms.AsyncClient) -> None:
    with pytest.raises(lms.LMStudioValueError, match="True or False"):
        await client.repository.lm_link_set_disabled("yes")  # type: ignore[arg-type]
    with pytest.raises(lms.LMStudioValueError, match="non-empty string"):
        await client.repository.lm_link_update_device_name(" ")
    with pytest.raises(lms.LMStudioValueError, match="non-empty string"):
        await client.repository.lm_link_set_preferred_device(3)  # type: ignore[arg-type]


async def test_hugging_face_results_are_refused(client: lms.AsyncClient) -> None:
    parameter = {"modelSearchResultIdentifier": {"type": "hf", "identifier": "a/b"}}
    with pytest.raises(lms.UnsupportedFeatureError, match="Hugging Face"):
        await client.rpc("repository", "getModelDownloadOptions", parameter)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"limit": 0}, "from 1 to 25"),
        ({"limit": 26}, "from 1 to 25"),
        ({"limit": True}, "from 1 to 25"),
        ({"compatibility": "gguf"}, "list of formats"),
        ({"compatibility": ["gguff"]}, "unknown"),
        ({"term": 3}, "term must be a string"),
        ({"limt": 3}, "did you mean 'limit'"),
        ({"timeout": -1}, "impossible"),
    ],
)
async def test_search_rejects_bad_input(
    client: lms.AsyncClient, kwargs: dict[str, object], match: str
) -> None:
    with pytest.raises(lms.LMStudioValueError, match=match):
        await client.repository.search_models(**kwargs)  # type: ignore[arg-type]


async def test_download_rejects_bad_input(client: lms.AsyncClient) -> None:
    with pytest.raises(lms.LMStudioValueError, match="DownloadOption"):
        await client.repository.download("acme/Tiny-Chat-GGUF/Tiny-Chat-Q8_0.gguf")  # type: ignore[arg-type]
    option = await _option(client, "tiny chat", "Tiny-Chat-Q8_0.gguf")
    with pytest.raises(lms.LMStudioValueError, match="on_progress"):
        await option.download(on_progress=3)  # type: ignore[arg-type]
    with pytest.raises(lms.LMStudioValueError, match="on_progres"):
        await option.download(on_progres=print)  # type: ignore[call-arg]


async def test_a_server_without_a_catalogue_says_how_to_get_one(server: RunningServer) -> None:
    async with lms.AsyncClient(server.url, timeout=10) as client:
        with pytest.raises(lms.LMStudioServerError, match="no model catalogue") as caught:
            await client.repository.search_models("tiny")
        assert "--catalog" in str(caught.value)
        assert (await client.repository.lm_link_status()).status == "offline"
