"""The official TypeScript client (@lmstudio/sdk 2.0.0, unchanged) searches our server's model
catalogue and downloads from it with progress, and an aborted download leaves nothing behind
(ts_scenarios.mjs --repository). Our SDK runs the same flow on both faces in
tests/_async/test_repository.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.repository.catalog_kit import MIB, make_catalog

from .harness import HERE, ScenarioResult, ScriptRun, run_script, start_server, stop_server

pytestmark = [pytest.mark.conformance, pytest.mark.timeout(300)]

RATE = 4 * MIB  # bytes per second: the 16 MiB model downloads in 4 s, so the abort comes mid-way


@pytest.fixture(scope="module")
def repository_run(node: str, tmp_path_factory: pytest.TempPathFactory) -> tuple[ScriptRun, Path]:
    root = tmp_path_factory.mktemp("ts-repository")
    catalog = make_catalog(root / "catalog", big_size=16 * MIB)
    models_dir = root / "models"
    models_dir.mkdir()
    server = start_server(
        *("--engine", "scripted", "--catalog", str(catalog), "--models-dir", str(models_dir)),
        *("--download-rate", str(RATE)),
        stderr_path=root / "stderr.txt",
    )
    try:
        run = run_script([node, str(HERE / "ts_scenarios.mjs"), "--repository", server.url], 60)
    finally:
        stop_server(server.process)  # after this, no download runs: the folder is final
    run.server_log = server.log_tail()
    return run, models_dir


def _scenario(repository_run: tuple[ScriptRun, Path], name: str) -> ScenarioResult:
    run, _ = repository_run
    result = run.results.get(name)
    assert result is not None, f"no result for {name}\n{run.diagnostics()}"
    assert result.ok, f"{name}: {result.detail}\n{run.diagnostics()}"
    return result


def test_search(repository_run: tuple[ScriptRun, Path]) -> None:
    d = _scenario(repository_run, "repository_search").detail
    assert d["results"] == [
        {"name": "Tiny-Chat-GGUF", "exact": False, "staffPick": True},
        {"name": "Tiny-Embed-GGUF", "exact": False, "staffPick": False},
    ]
    assert d["limitedCount"] == 2


def test_download_with_progress(repository_run: tuple[ScriptRun, Path]) -> None:
    d = _scenario(repository_run, "repository_download").detail
    assert [
        (o["name"], o["quantization"], o["sizeBytes"], o["recommended"]) for o in d["options"]
    ] == [
        ("Tiny-Chat-Q4_K_M.gguf", "Q4_K_M", MIB, False),
        ("Tiny-Chat-Q8_0.gguf", "Q8_0", 2 * MIB, True),
    ]
    assert {o["compatibilityType"] for o in d["options"]} == {"gguf"}
    assert d["modelKey"] == "tiny-chat"
    done = [u["downloadedBytes"] for u in d["updates"]]
    assert len(done) >= 3 and done == sorted(done) and done[-1] == 2 * MIB
    assert {u["totalBytes"] for u in d["updates"]} == {2 * MIB}
    assert d["finalizing"] == 1
    assert not [line for line in d["clientLog"] if "warn" in line.lower()]


def test_an_aborted_download_leaves_nothing_behind(repository_run: tuple[ScriptRun, Path]) -> None:
    d = _scenario(repository_run, "repository_download_cancel").detail
    assert d["error"]["name"] == "AbortError"
    last = d["lastUpdate"]
    assert last["totalBytes"] // 2 <= last["downloadedBytes"] < last["totalBytes"]
    _, models_dir = repository_run
    files = sorted(p.relative_to(models_dir).as_posix() for p in models_dir.rglob("*"))
    # Only what the completed download installed: no staging folder, no part of Big-Llama.
    assert files == ["acme", "acme/Tiny-Chat-GGUF", "acme/Tiny-Chat-GGUF/Tiny-Chat-Q8_0.gguf"]


def test_lm_link_status(repository_run: tuple[ScriptRun, Path]) -> None:
    d = _scenario(repository_run, "repository_lm_link_status").detail
    assert d["status"]["status"] == "offline"
    assert d["status"]["issues"] == ["noAccess"] and d["status"]["peers"] == []
