"""Shared fixtures of the protocol-core tests.

The recorded frames in ``fixtures/traffic-*.jsonl`` are copies of real traffic of the official
clients (TS 2.0, TS 1.5, Python 1.5 and a TS ``act()`` run) against a hand-made server: client
frames are real, server frames are hand-made. One JSON object per line, ``dir`` is ``c2s``,
``s2c`` or ``http``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from lmstudio_sdk._protocol import prediction, results, tolerance

FIXTURES = Path(__file__).parent / "fixtures"

Record = dict[str, Any]


def _load(name: str) -> list[Record]:
    with (FIXTURES / f"traffic-{name}.jsonl").open(encoding="utf-8") as file:
        return [json.loads(line) for line in file if line.strip()]


@pytest.fixture(scope="session")
def traffic() -> Callable[[str], list[Record]]:
    """``traffic("ts2")`` -> the recorded records of ``fixtures/traffic-ts2.jsonl``."""
    cache: dict[str, list[Record]] = {}

    def get(name: str) -> list[Record]:
        if name not in cache:
            cache[name] = _load(name)
        return cache[name]

    return get


@pytest.fixture(autouse=True)
def _fresh_log_once_sets(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The "log once" sets are module globals; give every test its own."""
    monkeypatch.setattr(prediction, "_unknown_seen", set(), raising=False)
    monkeypatch.setattr(results, "_skipped_domains", set(), raising=False)
    monkeypatch.setattr(tolerance, "_seen", set(), raising=False)
    yield
