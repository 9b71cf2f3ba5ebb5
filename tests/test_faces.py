"""What only one face can show: threads sharing a sync client, a sync client inside a running
event loop, Ctrl-C in sync code, task cancellation in async code."""

from __future__ import annotations

import asyncio
import os
import signal
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

import lmstudio_sdk as lms
from tests.conftest import RunningServer

ECHO = "scripted-echo-1b"


def test_threads_share_one_sync_client(server: RunningServer) -> None:
    with lms.Client(server.url, timeout=10) as client:
        model = client.llm.model(ECHO)

        def chat(i: int) -> str:
            return model.respond(f"thread {i}").content

        with ThreadPoolExecutor(max_workers=8) as pool:
            replies = list(pool.map(chat, range(32)))
    assert replies == [f"You said: thread {i}" for i in range(32)]


async def test_sync_client_inside_a_running_loop(server: RunningServer) -> None:
    # As in a Jupyter cell: the sync face never touches the running loop.
    asyncio.get_running_loop()
    with lms.Client(server.url, timeout=10) as client:
        assert client.llm.model(ECHO).respond("jupyter").content == "You said: jupyter"


@pytest.mark.skipif(os.name != "posix", reason="SIGINT delivery to the main thread")
def test_ctrl_c_in_sync_code_cancels_the_prediction(slow_server: RunningServer) -> None:
    with lms.Client(slow_server.url, timeout=10) as client:
        model = client.llm.model(ECHO)
        stream = model.respond_stream("!long 500")
        timer = threading.Timer(0.2, os.kill, (os.getpid(), signal.SIGINT))
        timer.start()
        try:
            with pytest.raises(KeyboardInterrupt):
                for _ in stream:
                    pass
        finally:
            timer.cancel()
        result = stream.result()
        assert result.stats.stop_reason == "userStopped"
        assert model.respond("after").content == "You said: after"


async def test_task_cancellation_cancels_the_prediction(slow_server: RunningServer) -> None:
    async with lms.AsyncClient(slow_server.url, timeout=10) as client:
        model = await client.llm.model(ECHO)
        stream = model.respond_stream("!long 500")
        first = asyncio.Event()

        async def consume() -> None:
            async for _ in stream:
                first.set()

        task = asyncio.create_task(consume())
        await asyncio.wait_for(first.wait(), 5)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        result = await asyncio.wait_for(stream.result(), 5)
        assert result.stats.stop_reason == "userStopped"


async def test_async_list_is_embedded_concurrently(server: RunningServer) -> None:
    async with lms.AsyncClient(server.url, timeout=10) as client:
        model = await client.embedding.model("scripted-embed-small")
        texts = [f"sentence number {i}" for i in range(50)]
        vectors = await model.embed(texts)
        singles = [await model.embed(t) for t in texts[:3]]
    assert len(vectors) == 50
    assert vectors[:3] == singles
