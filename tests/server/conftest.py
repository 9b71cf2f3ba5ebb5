"""Fixtures of the server tests: an LMStudioServer on loopback in the test's own event loop."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest_asyncio

from lmstudio_sdk.server import LMStudioServer, ServerRecorder
from lmstudio_sdk.server.engines.scripted import ScriptedEngine

MakeServer = Callable[..., Awaitable[LMStudioServer]]


@pytest_asyncio.fixture
async def make_server() -> AsyncIterator[MakeServer]:
    """Start servers with custom options; all of them stop at the end of the test."""
    started: list[LMStudioServer] = []

    async def make(engine: ScriptedEngine | None = None, **options: Any) -> LMStudioServer:
        options.setdefault("observer", ServerRecorder())
        server = LMStudioServer(engine or ScriptedEngine(), host="127.0.0.1", port=0, **options)
        await server.start()
        started.append(server)
        return server

    try:
        yield make
    finally:
        for server in started:
            await server.stop()


@pytest_asyncio.fixture
async def lms(make_server: MakeServer) -> LMStudioServer:
    """A scripted server at full speed, helpful errors on."""
    return await make_server()
