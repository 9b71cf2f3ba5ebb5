"""The type-checked user code of ``structured_user_code.py`` also runs, on both faces."""

from __future__ import annotations

import json

import pytest

import lmstudio_sdk as lms
from tests.conftest import RunningServer

pytest.importorskip("pydantic")

from .structured_user_code import async_user, sync_user

PROMPT = "!say " + json.dumps({"title": "Dune", "year": 1965})


def test_sync_user_code(server: RunningServer) -> None:
    with lms.Client(server.url, timeout=10) as client:
        assert sync_user(client, PROMPT) == ["Dune"] * 6


async def test_async_user_code(server: RunningServer) -> None:
    async with lms.AsyncClient(server.url, timeout=10) as client:
        assert await async_user(client, PROMPT) == [1965] * 6
