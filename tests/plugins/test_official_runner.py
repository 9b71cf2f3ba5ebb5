"""Interoperability: the official Python SDK 1.5's own plugin runner against our server."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import lmstudio_sdk as lms
from lmstudio_sdk.server import ServerRecorder, ServerThread
from lmstudio_sdk.server.engines.scripted import ScriptedEngine

from .harness import hooks_of

pytest.importorskip("lmstudio.plugin")

OFFICIAL = Path(__file__).resolve().parent / "official"
DISCOVERY_PORT = 41343  # the official runner finds LM Studio only on its discovery ports


def port_free(port: int) -> bool:
    """Whether a server could listen on the port now. SO_REUSEADDR, as the server sets it: a
    port that an earlier test's server just left is in TIME_WAIT, which plain bind() refuses
    (this test was skipped in every CI run, after the official suite's server on 41343)."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


@pytest.fixture
def discoverable_server() -> Iterator[ServerThread]:
    if not port_free(DISCOVERY_PORT):
        pytest.skip(f"port {DISCOVERY_PORT} (LM Studio's discovery port) is busy")
    with ServerThread(
        engine_factory=lambda: ScriptedEngine(), port=DISCOVERY_PORT, observer=ServerRecorder()
    ) as handle:
        yield handle


def test_official_dev_runner_registers_and_its_preprocessor_runs_in_our_predictions(
    discoverable_server: ServerThread,
) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "lmstudio.plugin", "--dev", str(OFFICIAL)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while "promptPreprocessor" not in hooks_of(discoverable_server, "tests/official"):
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the official runner did not register:\n{process.communicate()[0]}")
            time.sleep(0.1)
        with lms.Client(discoverable_server.url, timeout=20) as client:
            model = client.llm.model("scripted-echo-1b")
            config: lms.LlmPredictionConfigDict = {
                "raw": lms.plugins_field([("tests/official", {"prefix": "theirs"})])
            }
            result = model.respond("hello", config=config)
        assert result.content == "You said: theirs: hello"
        statuses = ServerRecorder.of(discoverable_server.server).plugin_statuses
        assert ("tests/official", "done", "preprocessed") in statuses
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGINT)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
