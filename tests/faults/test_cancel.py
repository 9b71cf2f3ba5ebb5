"""Every way of abandoning a prediction tells the server within 100 ms, on both faces, and the
connection stays usable. Latency is measured on the server side, through its cancel log
(``ServerRecorder.cancels``: the monotonic time at which each cancel packet was handled)."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import threading
import time

import pytest

import lmstudio_sdk as lms
from lmstudio_sdk.server import ServerRecorder, ServerThread

ECHO = "scripted-echo-1b"
MAX_CANCEL_LATENCY = 0.1


def cancel_latency(handle: ServerThread, since: float) -> float:
    """Seconds from ``since`` to the first cancel the server handled after it."""
    received = [c.at for c in list(ServerRecorder.of(handle.server).cancels) if c.at >= since]
    assert received, "the server never saw a cancel"
    return received[0] - since


# -- sync face ----------------------------------------------------------------------------------


def test_sync_leaving_the_loop(slow_thread: ServerThread) -> None:
    with lms.Client(slow_thread.url, timeout=10) as client:
        model = client.llm.model(ECHO)
        stream = model.respond_stream("!long 500")
        for _ in stream:
            since = time.monotonic()
            break
        assert stream.result().stats.stop_reason == "userStopped"
        assert cancel_latency(slow_thread, since) < MAX_CANCEL_LATENCY
        assert model.respond("still here").content == "You said: still here"


def test_sync_closing_the_stream(slow_thread: ServerThread) -> None:
    with lms.Client(slow_thread.url, timeout=10) as client:
        model = client.llm.model(ECHO)
        with model.respond_stream("!long 500") as stream:
            # Keep the iterator: dropping it would run its finally (a cancel) right away.
            fragments = iter(stream)
            next(fragments)
            since = time.monotonic()
        # One prediction at a time per instance: this one runs only once the first stopped.
        assert model.respond("next").content == "You said: next"
        assert cancel_latency(slow_thread, since) < MAX_CANCEL_LATENCY


def test_sync_cancel_method_and_timeout(slow_thread: ServerThread) -> None:
    with lms.Client(slow_thread.url, timeout=10) as client:
        model = client.llm.model(ECHO)
        stream = model.respond_stream("!long 500")
        fragments = iter(stream)
        next(fragments)
        since = time.monotonic()
        stream.cancel()
        assert stream.result().stats.stop_reason == "userStopped"
        assert cancel_latency(slow_thread, since) < MAX_CANCEL_LATENCY
        # A per-packet timeout gives up on the prediction, and says so to the server.
        stream = model.respond_stream("!long 500", timeout=0.001)
        since = time.monotonic()
        with pytest.raises(lms.LMStudioTimeoutError):
            for _ in stream:
                pass
        assert stream.result(timeout=5).stats.stop_reason == "userStopped"
        assert cancel_latency(slow_thread, since) < MAX_CANCEL_LATENCY


@pytest.mark.skipif(os.name != "posix", reason="SIGINT delivery to the main thread")
def test_sync_ctrl_c(slow_thread: ServerThread) -> None:
    assert threading.current_thread() is threading.main_thread()
    with lms.Client(slow_thread.url, timeout=10) as client:
        model = client.llm.model(ECHO)
        stream = model.respond_stream("!long 500")
        sent_at: list[float] = []
        first = threading.Event()

        def interrupt() -> None:
            if first.wait(5):
                sent_at.append(time.monotonic())
                os.kill(os.getpid(), signal.SIGINT)

        timer = threading.Thread(target=interrupt, daemon=True)
        timer.start()
        try:
            with pytest.raises(KeyboardInterrupt):
                for _ in stream:
                    first.set()
        finally:
            first.set()
            timer.join(5)
        assert stream.result().stats.stop_reason == "userStopped"
        assert cancel_latency(slow_thread, sent_at[0]) < MAX_CANCEL_LATENCY
        assert model.respond("after").content == "You said: after"


# -- async face ---------------------------------------------------------------------------------


async def test_async_leaving_the_loop(slow_thread: ServerThread) -> None:
    async with lms.AsyncClient(slow_thread.url, timeout=10) as client:
        model = await client.llm.model(ECHO)
        stream = model.respond_stream("!long 500")
        async for _ in stream:
            since = time.monotonic()
            break
        assert (await stream.result()).stats.stop_reason == "userStopped"
        assert cancel_latency(slow_thread, since) < MAX_CANCEL_LATENCY
        assert (await model.respond("still here")).content == "You said: still here"


async def test_async_closing_the_stream(slow_thread: ServerThread) -> None:
    async with lms.AsyncClient(slow_thread.url, timeout=10) as client:
        model = await client.llm.model(ECHO)
        async with model.respond_stream("!long 500") as stream:
            fragments = aiter(stream)
            await anext(fragments)
            since = time.monotonic()
        assert (await model.respond("next")).content == "You said: next"
        assert cancel_latency(slow_thread, since) < MAX_CANCEL_LATENCY


async def test_async_task_cancellation(slow_thread: ServerThread) -> None:
    async with lms.AsyncClient(slow_thread.url, timeout=10) as client:
        model = await client.llm.model(ECHO)
        stream = model.respond_stream("!long 500")
        first = asyncio.Event()

        async def consume() -> None:
            async for _ in stream:
                first.set()

        task = asyncio.create_task(consume())
        await asyncio.wait_for(first.wait(), 5)
        since = time.monotonic()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert (await asyncio.wait_for(stream.result(), 5)).stats.stop_reason == "userStopped"
        assert cancel_latency(slow_thread, since) < MAX_CANCEL_LATENCY
        assert (await model.respond("after")).content == "You said: after"


async def test_async_timeout_cancels(slow_thread: ServerThread) -> None:
    async with lms.AsyncClient(slow_thread.url, timeout=10) as client:
        model = await client.llm.model(ECHO)
        stream = model.respond_stream("!long 500", timeout=0.001)
        since = time.monotonic()
        with pytest.raises(lms.LMStudioTimeoutError):
            async for _ in stream:
                pass
        assert (await stream.result(timeout=5)).stats.stop_reason == "userStopped"
        assert cancel_latency(slow_thread, since) < MAX_CANCEL_LATENCY


async def test_cancel_racing_the_end_is_quiet(
    fast_thread: ServerThread, caplog: pytest.LogCaptureFixture
) -> None:
    """A cancel that reaches the server after the prediction ended draws no warning (the
    official Python SDK logs every communicationWarning as an error)."""
    async with lms.AsyncClient(fast_thread.url, timeout=10) as client:
        model = await client.llm.model(ECHO)
        before = ServerRecorder.of(fast_thread.server).cancels_received
        with caplog.at_level(logging.WARNING, logger="lmstudio_sdk.protocol"):
            for i in range(20):
                # Most replies are short, so their cancel races the end; every fifth is long
                # enough that its cancel surely meets a running prediction, even on a busy box.
                prompt = "!long 20000" if i % 5 == 0 else f"race {i}"
                stream = model.respond_stream(prompt)
                async for _ in stream:
                    break  # the rest of the reply is already on its way
            # Frames are handled in order: a warning for any cancel above precedes this reply.
            assert (await model.respond("done")).content == "You said: done"
        # Some cancels reached a running prediction (and were logged); the others arrived
        # after its end, which is exactly the race that must stay quiet.
        assert ServerRecorder.of(fast_thread.server).cancels_received > before
        assert [r.getMessage() for r in caplog.records] == []
