"""What only one face of act() can do: cancel running async tools (AsyncClient), refuse async
tools (Client)."""

from __future__ import annotations

import asyncio

import pytest

import lmstudio_sdk as lms
from tests.conftest import RunningServer

ECHO = "scripted-echo-1b"


async def test_cancelling_act_cancels_the_running_tool_calls(server: RunningServer) -> None:
    started = asyncio.Event()
    cancelled: list[str] = []

    async def wait_forever(name: str) -> str:
        """Waits until cancelled."""
        started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.append(name)
            raise
        return name

    async with lms.AsyncClient(server.url, timeout=10) as client:
        model = await client.llm.model(ECHO)
        chat = lms.Chat()
        chat.add_user_message('!tool wait_forever {"name": "a"}\n!tool wait_forever {"name": "b"}')
        task = asyncio.ensure_future(model.act(chat, [wait_forever]))
        await asyncio.wait_for(started.wait(), 10)
        await asyncio.sleep(0)  # let the second call start too
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert sorted(cancelled) == ["a", "b"]
        # The round stopped: the chat has the calls but no results, and the client still works.
        assert [m.role for m in chat] == ["user", "assistant"]
        assert (await model.respond("still here")).content == "You said: still here"


async def test_async_tool_timeout_cancels_the_tasks(server: RunningServer) -> None:
    cancelled = asyncio.Event()

    async def slow() -> str:
        """Takes too long."""
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return "late"

    async with lms.AsyncClient(server.url, timeout=10) as client:
        model = await client.llm.model(ECHO)
        with pytest.raises(lms.LMStudioTimeoutError, match=r"did not finish within 0\.2 s"):
            await model.act("!tool slow {}", [slow], tool_timeout=0.2)
        assert cancelled.is_set()


def test_the_sync_client_refuses_async_tools(server: RunningServer) -> None:
    async def fetch(url: str) -> str:
        """Fetch a page."""
        return url

    with lms.Client(server.url, timeout=10) as client:
        model = client.llm.model(ECHO)
        with pytest.raises(lms.LMStudioValueError, match="async function; the sync Client"):
            model.act("hi", [fetch])
