"""An AsyncClient met by a second event loop: detected at once, never a timeout that blames
the server. Only the async face has event loops, so this file has no sync twin."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

import lmstudio_sdk as lms
from tests.conftest import RunningServer


async def _version(client: lms.AsyncClient) -> str:
    return (await client.system.get_lmstudio_version()).version


def test_asyncio_run_twice_reconnects_on_the_new_loop(server: RunningServer) -> None:
    client = lms.AsyncClient(server.url, timeout=10)
    first = asyncio.run(_version(client))
    started = time.monotonic()
    assert asyncio.run(_version(client)) == first
    assert time.monotonic() - started < 5
    asyncio.run(client.aclose())


def test_aclose_from_another_loop_after_the_first_closed(server: RunningServer) -> None:
    client = lms.AsyncClient(server.url, timeout=10)
    asyncio.run(_version(client))
    asyncio.run(client.aclose())  # no "attached to a different loop"
    with pytest.raises(lms.LMStudioClientClosedError):
        asyncio.run(_version(client))


def test_a_loop_that_is_still_open_keeps_its_client(server: RunningServer) -> None:
    client = lms.AsyncClient(server.url, timeout=10)
    owner = asyncio.new_event_loop()
    thread = threading.Thread(target=owner.run_forever, daemon=True)
    thread.start()
    try:
        asyncio.run_coroutine_threadsafe(_version(client), owner).result(10)
        started = time.monotonic()
        with pytest.raises(lms.LMStudioEventLoopError, match="one AsyncClient per event loop"):
            asyncio.run(_version(client))
        assert time.monotonic() - started < 1
        # Its own loop still uses it; closing from elsewhere is allowed (the owner loop aborts).
        assert asyncio.run_coroutine_threadsafe(_version(client), owner).result(10)
        asyncio.run(client.aclose())
        with pytest.raises(lms.LMStudioClientClosedError):
            asyncio.run_coroutine_threadsafe(_version(client), owner).result(10)
    finally:
        owner.call_soon_threadsafe(owner.stop)
        thread.join(5)
        owner.close()


def test_a_channel_left_on_a_closed_loop_says_so(server: RunningServer) -> None:
    client = lms.AsyncClient(server.url, timeout=10)

    async def open_channel() -> lms.AsyncChannel:
        return await client.open_channel(
            "llm",
            "getOrLoad",
            {"identifier": "scripted-echo-1b", "loadConfigStack": {"layers": []}},
        )

    channel = asyncio.run(open_channel())
    started = time.monotonic()
    with pytest.raises(lms.LMStudioEventLoopError, match=r"getOrLoad .*another event loop"):
        asyncio.run(channel.receive_value(5))
    assert time.monotonic() - started < 1
    assert asyncio.run(_version(client))  # the client itself moves on to the new loop
    asyncio.run(client.aclose())
