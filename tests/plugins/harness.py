"""Test harness: plugins in their own processes (``lmstudio-sdk plugin dev``) against an
embedded server."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from lmstudio_sdk.server import LMStudioServer, ServerRecorder, ServerThread
from lmstudio_sdk.server.engines.scripted import ScriptedEngine

ROOT = Path(__file__).resolve().parent.parent.parent
FAULTY = Path(__file__).resolve().parent / "faulty"
EXAMPLES = ROOT / "examples" / "plugins"
DEADLINE = 2.0  # the server's plugin hook deadline in these tests


@pytest.fixture(scope="module")
def plugin_server() -> Iterator[ServerThread]:
    with ServerThread(
        engine_factory=lambda: ScriptedEngine(),
        port=0,
        observer=ServerRecorder(),
        plugin_deadline=DEADLINE,
    ) as handle:
        yield handle


def hooks_of(handle: ServerThread, identifier: str) -> set[str]:
    def read(server: LMStudioServer) -> set[str]:
        registry = server.services.plugins
        try:
            plugin = registry.get(identifier)
        except Exception:
            return set()
        return set(plugin.hooks) if plugin.init_completed else set()

    found: set[str] = handle.call(read)
    return found


class DevPlugin:
    """``lmstudio-sdk plugin dev DIR`` in a subprocess, ready once the server has its hooks."""

    def __init__(self, handle: ServerThread, directory: Path, identifier: str) -> None:
        self.handle = handle
        self.identifier = identifier
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "lmstudio_sdk.cli",
                "plugin",
                "dev",
                str(directory),
                "--host",
                handle.url,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )

    def wait_ready(self, hooks: set[str], timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while not hooks <= hooks_of(self.handle, self.identifier):
            if self.process.poll() is not None or time.monotonic() > deadline:
                out = self.stop()
                raise AssertionError(f"the plugin did not come up:\n{out}")
            time.sleep(0.1)

    def stop(self) -> str:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        assert self.process.stdout is not None
        return self.process.stdout.read()


def start_plugin(
    handle: ServerThread, directory: Path, identifier: str, hooks: set[str]
) -> DevPlugin:
    plugin = DevPlugin(handle, directory, identifier)
    plugin.wait_ready(hooks)
    return plugin


@pytest.fixture(scope="module")
def faulty(plugin_server: ServerThread) -> Iterator[DevPlugin]:
    plugin = start_plugin(
        plugin_server, FAULTY, "tests/faulty", {"promptPreprocessor", "generator", "toolsProvider"}
    )
    yield plugin
    plugin.stop()
