"""The catalogue behind /repository: manifest checks, search ranking, and downloads that are
cancelled by a task cancellation or a timeout, or that fail, leaving the models folder as it was.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

import lmstudio_sdk as lms
from lmstudio_sdk.server import ServerThread
from lmstudio_sdk.server.engines import create_engine
from lmstudio_sdk.server.engines.scripted import ScriptedEngine
from lmstudio_sdk.server.errors import ServerError
from lmstudio_sdk.server.local.catalog_files import (
    MANIFEST_NAME,
    CatalogFormatError,
    load_manifest,
    write_manifest,
)
from lmstudio_sdk.server.services.catalog import Catalog
from tests.conftest import CatalogServer
from tests.server.helpers import connect

from .catalog_kit import MIB, make_catalog, tree, write_gguf

SLOW_RATE = 256 * 1024  # bytes per second: one 256 KiB chunk, then a second's pause
BIG = "acme/Big-Llama-GGUF/Big-Llama-Q4_0.gguf"


@pytest.fixture(scope="module")
def slow_catalog(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CatalogServer]:
    """Downloads at 256 KiB/s: progress packets arrive a second apart."""
    catalog = make_catalog(tmp_path_factory.mktemp("catalog"))
    models_dir = tmp_path_factory.mktemp("models") / "not-yet-created"
    with ServerThread(
        engine_factory=lambda: ScriptedEngine(),
        catalog=catalog,
        models_dir=models_dir,
        download_bytes_per_second=SLOW_RATE,
    ) as handle:
        yield CatalogServer(handle.url, catalog, models_dir, handle)


async def _big_option(client: lms.AsyncClient) -> lms.AsyncDownloadOption:
    (entry,) = await client.repository.search_models("big llama")
    (option,) = await entry.get_download_options()
    return option


async def test_task_cancellation_cancels_the_download(slow_catalog: CatalogServer) -> None:
    assert not slow_catalog.models_dir.exists()
    async with lms.AsyncClient(slow_catalog.url, timeout=20) as client:
        option = await _big_option(client)
        started = asyncio.Event()
        task = asyncio.create_task(option.download(on_progress=lambda _: started.set()))
        await asyncio.wait_for(started.wait(), 20)
        assert slow_catalog.models_dir.exists()  # the staging folder is in there
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    slow_catalog.wait_idle()
    # The models folder did not exist before: it does not exist after.
    assert not slow_catalog.models_dir.exists()


async def test_a_timeout_cancels_the_download(slow_catalog: CatalogServer) -> None:
    slow_catalog.models_dir.mkdir(parents=True, exist_ok=True)
    (slow_catalog.models_dir / "keep.txt").write_text("mine")
    before = tree(slow_catalog.models_dir)
    async with lms.AsyncClient(slow_catalog.url, timeout=20) as client:
        option = await _big_option(client)
        updates: list[lms.DownloadProgressUpdate] = []
        with pytest.raises(lms.LMStudioTimeoutError):
            await option.download(on_progress=updates.append, timeout=0.5)
        assert updates and updates[-1].downloaded_bytes < updates[-1].total_bytes
    slow_catalog.wait_idle()
    assert tree(slow_catalog.models_dir) == before


def test_the_sync_face_cancels_on_an_exception_from_its_callback(
    slow_catalog: CatalogServer,
) -> None:
    slow_catalog.models_dir.mkdir(parents=True, exist_ok=True)
    before = tree(slow_catalog.models_dir)
    with lms.Client(slow_catalog.url, timeout=20) as client:
        (entry,) = client.repository.search_models("big llama")
        (option,) = entry.get_download_options()

        def interrupt(_: lms.DownloadProgressUpdate) -> None:
            raise KeyboardInterrupt  # what Ctrl-C raises in the main thread

        with pytest.raises(KeyboardInterrupt):
            option.download(on_progress=interrupt)
    slow_catalog.wait_idle()
    assert tree(slow_catalog.models_dir) == before


async def test_two_downloads_of_one_file_install_it_once(
    catalog_server: CatalogServer,
) -> None:
    async with lms.AsyncClient(catalog_server.url, timeout=20) as client:
        (entry,) = await client.repository.search_models("tiny-embed-gguf")
        (option,) = await entry.get_download_options()
        keys = await asyncio.gather(option.download(), option.download())
    assert list(keys) == ["text-embedding-tiny-embed"] * 2
    installed = list(catalog_server.models_dir.rglob("*.gguf"))
    assert [p.name for p in installed] == ["Tiny-Embed-F16.gguf"]
    assert [p.name for p in catalog_server.models_dir.iterdir()] == ["acme"]  # no leftovers


def test_search_finds_near_misses_only_when_nothing_matches(tmp_path: Path) -> None:
    catalog = Catalog(make_catalog(tmp_path / "c"), tmp_path / "m", packaged=False)
    assert [h.entry.identifier for h in catalog.search("tiny-chta", None, None)] == [
        "acme/Tiny-Chat-GGUF"
    ]
    assert [h.entry.identifier for h in catalog.search("big", None, None)] == [
        "acme/Big-Llama-GGUF"
    ]
    with pytest.raises(ServerError, match="out of range"):
        catalog.search("tiny", 0, None)


def test_a_size_that_differs_from_the_manifest_is_refused(tmp_path: Path) -> None:
    folder = make_catalog(tmp_path / "c")
    manifest = json.loads((folder / MANIFEST_NAME).read_text())
    manifest["models"][0]["files"][0]["sizeBytes"] += 1
    (folder / MANIFEST_NAME).write_text(json.dumps(manifest))
    models_dir = tmp_path / "m"
    models_dir.mkdir()
    with ServerThread(lambda: ScriptedEngine(), catalog=folder, models_dir=models_dir) as handle:
        with lms.Client(handle.url, timeout=20) as client:
            (entry,) = client.repository.search_models("big llama")
            (option,) = entry.get_download_options()
            with pytest.raises(lms.LMStudioServerError, match="bytes"):
                option.download()
    assert list(models_dir.iterdir()) == []


def test_a_file_that_is_not_gguf_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "c"
    (folder / "Junk").mkdir(parents=True)
    (folder / "Junk/junk.gguf").write_bytes(b"not a gguf at all")
    write_manifest(folder)
    models_dir = tmp_path / "m"
    models_dir.mkdir()
    with ServerThread(lambda: ScriptedEngine(), catalog=folder, models_dir=models_dir) as handle:
        with lms.Client(handle.url, timeout=20) as client:
            (entry,) = client.repository.search_models("junk")
            (option,) = entry.get_download_options()
            with pytest.raises(lms.LMStudioServerError, match="not a GGUF"):
                option.download()
    assert list(models_dir.iterdir()) == []


@pytest.mark.parametrize(
    ("manifest", "match"),
    [
        ("not json", "not readable JSON"),
        ({"model": []}, "'models' list"),
        ({"models": [{"id": "no-slash", "files": [{}]}]}, "publisher/repo"),
        ({"models": [{"id": "a/b", "files": []}]}, "non-empty list"),
        ({"models": [{"id": "a/b", "files": [{"path": "x.gguf"}]}]}, "sizeBytes"),
        (
            {"models": [{"id": "a/b", "files": [{"path": "x.gguf", "sizeBytes": 1}]}]},
            "sha256",
        ),
        (
            {
                "models": [
                    {
                        "id": "a/b",
                        "files": [{"path": "../x.gguf", "sizeBytes": 1, "sha256": "0" * 64}],
                    }
                ]
            },
            "leaves the catalogue folder",
        ),
        (
            {"models": [{"id": "a/b", "files": [{"path": "x", "size": 1}]}]},
            "unknown keys",
        ),
    ],
)
def test_bad_manifests_are_refused_with_the_reason(
    tmp_path: Path, manifest: object, match: str
) -> None:
    text = manifest if isinstance(manifest, str) else json.dumps(manifest)
    (tmp_path / MANIFEST_NAME).write_text(text)
    with pytest.raises(CatalogFormatError, match=match):
        load_manifest(tmp_path)


def test_a_missing_manifest_says_how_to_write_one(tmp_path: Path) -> None:
    write_gguf(tmp_path / "x.gguf", name="x", size=1024)
    with pytest.raises(CatalogFormatError, match="catalog init"):
        load_manifest(tmp_path)
    with pytest.raises(CatalogFormatError, match="does not exist"):
        load_manifest(tmp_path / "nope")


def test_write_manifest_describes_every_file(tmp_path: Path) -> None:
    folder = make_catalog(tmp_path, big_size=MIB)
    entries = {e.identifier: e for e in load_manifest(folder)}
    assert sorted(entries) == ["acme/Big-Llama-GGUF", "acme/Tiny-Chat-GGUF", "acme/Tiny-Embed-GGUF"]
    chat = entries["acme/Tiny-Chat-GGUF"]
    assert chat.staff_pick and chat.description == "A tiny chat model for tests"
    assert [(f.file_name, f.quantization, f.size_bytes) for f in chat.files] == [
        ("Tiny-Chat-Q4_K_M.gguf", "Q4_K_M", MIB),
        ("Tiny-Chat-Q8_0.gguf", "Q8_0", 2 * MIB),
    ]


async def test_a_dropped_socket_cancels_the_download(slow_catalog: CatalogServer) -> None:
    slow_catalog.models_dir.mkdir(parents=True, exist_ok=True)
    before = tree(slow_catalog.models_dir)
    async with connect(slow_catalog.url, "/repository") as raw:
        await raw.send(
            {
                "type": "channelCreate",
                "endpoint": "downloadModel",
                "channelId": 1,
                "creationParameter": {"downloadIdentifier": BIG},
            }
        )
        await raw.wait_for(lambda f: f.get("message", {}).get("type") == "downloadProgress")
    # The socket is gone without a cancel packet: the server cancels the download itself.
    slow_catalog.wait_idle()
    assert tree(slow_catalog.models_dir) == before


def test_stopping_the_server_cancels_a_download(tmp_path: Path) -> None:
    catalog = make_catalog(tmp_path / "c")
    models_dir = tmp_path / "m"
    models_dir.mkdir()
    with ServerThread(
        lambda: ScriptedEngine(),
        catalog=catalog,
        models_dir=models_dir,
        download_bytes_per_second=SLOW_RATE,
    ) as handle:
        client = lms.Client(handle.url, timeout=20)
        (entry,) = client.repository.search_models("big llama")
        (option,) = entry.get_download_options()
        # Runs until the server stops under it.
        started = threading.Event()
        errors: list[BaseException] = []

        def download() -> None:
            try:
                option.download(on_progress=lambda _: started.set())
            except lms.LMStudioError as exc:
                errors.append(exc)

        worker = threading.Thread(target=download)
        worker.start()
        assert started.wait(20)
    worker.join(20)
    client.close()
    assert errors and isinstance(errors[0], lms.LMStudioConnectionError)
    assert list(models_dir.iterdir()) == []


@pytest.mark.llama
def test_a_downloaded_model_is_listed_by_the_llama_engine(tmp_path: Path) -> None:
    """The llama engine lists its models folder: what `get` downloads, `ls` then shows."""
    pytest.importorskip("llama_cpp", reason="the llama engine needs llama-cpp-python")
    models_dir = tmp_path / "m"
    models_dir.mkdir()
    with ServerThread(
        lambda: create_engine("llama", models_dir=models_dir), catalog=make_catalog(tmp_path / "c")
    ) as handle:
        with lms.Client(handle.url, timeout=20) as client:
            assert client.system.list_downloaded_models() == []
            get = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "lmstudio_sdk.cli",
                    "get",
                    "tiny chat",
                    "--host",
                    handle.url,
                ],
                capture_output=True,
                text=True,
                timeout=60,
                check=True,
            )
            assert "lmstudio-sdk load tiny-chat" in get.stdout
            (model,) = client.system.list_downloaded_models()
            assert model.model_key == "tiny-chat"
            assert model.path == "acme/Tiny-Chat-GGUF/Tiny-Chat-Q8_0.gguf"
