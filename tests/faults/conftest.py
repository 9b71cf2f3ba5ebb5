"""Fixtures of the fault tests: embedded servers whose internals the tests may observe."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from lmstudio_sdk.server import ServerRecorder, ServerThread
from lmstudio_sdk.server.engines.scripted import ScriptedEngine


@pytest.fixture(scope="module")
def slow_thread() -> Iterator[ServerThread]:
    """A scripted server taking 20 ms per token and 0.4 s per load; tests read its cancel log."""
    with ServerThread(
        engine_factory=lambda: ScriptedEngine(token_delay=0.02, load_delay=0.4),
        port=0,
        observer=ServerRecorder(),
    ) as handle:
        yield handle


@pytest.fixture(scope="module")
def fast_thread() -> Iterator[ServerThread]:
    """A scripted server at full speed."""
    with ServerThread(
        engine_factory=lambda: ScriptedEngine(), port=0, observer=ServerRecorder()
    ) as handle:
        yield handle
