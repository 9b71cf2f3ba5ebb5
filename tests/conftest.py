"""Fixtures shared by the client tests: embedded servers on loopback, in their own threads."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import settings

from lmstudio_sdk.server import ServerThread
from lmstudio_sdk.server.engines.scripted import ScriptedEngine
from lmstudio_sdk.server.local.model_install import install_models

from .openai_engine.upstream import MISSING as UPSTREAM_MISSING
from .openai_engine.upstream import SKIP_REASON as UPSTREAM_SKIP_REASON
from .openai_engine.upstream import start_upstream
from .repository.catalog_kit import MIB, make_catalog

# Property tests check behaviour, never speed (benchmarks do that): no per-example deadline,
# which a loaded CI machine trips at random, and no example database left in the checkout.
settings.register_profile("lmstudio-sdk", deadline=None, database=None)
settings.load_profile("lmstudio-sdk")

API_TOKEN = "sk-lm-abcdEFGH:abcdefghijABCDEFGHIJ"
OTHER_TOKEN = "sk-lm-zzzzZZZZ:zzzzzzzzzzZZZZZZZZZZ"


@dataclass(frozen=True)
class RunningServer:
    url: str
    port: int


@pytest.fixture(scope="session")
def server() -> Iterator[RunningServer]:
    """A scripted-engine server that answers at full speed."""
    with ServerThread(engine_factory=lambda: ScriptedEngine(), port=0) as handle:
        yield RunningServer(handle.url, handle.port)


@pytest.fixture(scope="session")
def slow_server() -> Iterator[RunningServer]:
    """A scripted-engine server that takes 20 ms per token, for cancellation tests."""
    with ServerThread(engine_factory=lambda: ScriptedEngine(token_delay=0.02), port=0) as handle:
        yield RunningServer(handle.url, handle.port)


@pytest.fixture(scope="session")
def token_server() -> Iterator[RunningServer]:
    """A server that only accepts API_TOKEN."""
    with ServerThread(
        engine_factory=lambda: ScriptedEngine(), port=0, api_token=API_TOKEN
    ) as handle:
        yield RunningServer(handle.url, handle.port)


@dataclass(frozen=True)
class CatalogServer:
    url: str
    catalog: Path
    models_dir: Path
    handle: ServerThread

    def running_tasks(self) -> int:
        tasks: int = self.handle.call(lambda s: s.statistics().running_tasks)
        return tasks

    def wait_idle(self, timeout: float = 20.0) -> None:
        """Wait until no call or channel runs on the server (e.g. a cancelled download has
        cleaned up)."""
        deadline = time.monotonic() + timeout
        while self.running_tasks() > 0:
            if time.monotonic() > deadline:
                raise AssertionError("the server still runs a call or channel")
            time.sleep(0.02)


CATALOG_RATE = 4 * MIB  # bytes per second: the 16 MiB model takes 4 s to download


@pytest.fixture(scope="module")
def catalog_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CatalogServer]:
    """A scripted-engine server with a model catalogue (tests/repository/catalog_kit.py) and an
    empty models folder of its own, downloads capped at CATALOG_RATE; one per test module."""
    catalog = make_catalog(tmp_path_factory.mktemp("catalog"), big_size=16 * MIB)
    models_dir = tmp_path_factory.mktemp("models")
    with ServerThread(
        engine_factory=lambda: ScriptedEngine(),
        port=0,
        catalog=catalog,
        models_dir=models_dir,
        download_bytes_per_second=CATALOG_RATE,
    ) as handle:
        yield CatalogServer(handle.url, catalog, models_dir, handle)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class ServerProcess:
    """`lmstudio-sdk serve` in a subprocess, so that tests can kill it for real."""

    def __init__(self, port: int, *extra: str) -> None:
        self.port = port
        self.url = f"ws://127.0.0.1:{port}"
        self._extra = extra
        self.process: subprocess.Popen[str] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "lmstudio_sdk.cli",
                "serve",
                "--engine",
                "scripted",
                "--port",
                str(self.port),
                *self._extra,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        assert self.process.stdout is not None
        deadline = time.monotonic() + 30
        line = self.process.stdout.readline()
        if "listening on" not in line or time.monotonic() > deadline:
            self.kill()
            raise RuntimeError(f"server did not start: {line!r}")

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)


@pytest.fixture
def server_process() -> Iterator[ServerProcess]:
    proc = ServerProcess(free_port(), "--token-delay", "0.02")
    proc.start()
    try:
        yield proc
    finally:
        proc.kill()


@pytest.fixture(scope="session")
def upstream_models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundled models for llama-cpp-python's server, installed once per session."""
    if UPSTREAM_MISSING:
        pytest.skip(UPSTREAM_SKIP_REASON)
    root = tmp_path_factory.mktemp("openai-upstream-models")
    install_models(["all"], root, with_vision=False)
    return root


@pytest.fixture(scope="session")
def llama_cpp_upstream(
    upstream_models_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """llama-cpp-python's OpenAI-compatible server on SmolLM2 and MiniLM, once per session
    (the upstream of the openai engine's tests and of its conformance run); its URL."""
    upstream = start_upstream(upstream_models_dir, tmp_path_factory.mktemp("openai-upstream"))
    try:
        yield upstream.url
    finally:
        upstream.stop()
