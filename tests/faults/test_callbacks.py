"""A callback that raises cancels its prediction or load; its exception reaches the caller (the
very object, not a wrapper) and the client stays usable. Both faces."""

from __future__ import annotations

import time

import pytest

import lmstudio_sdk as lms
from lmstudio_sdk.server import ServerRecorder, ServerThread

ECHO = "scripted-echo-1b"


class Boom(Exception):
    pass


def raising(after: int = 1) -> tuple[Boom, object]:
    """An exception and a callback that raises it on its ``after``-th call."""
    error = Boom("callback failed")
    calls = 0

    def callback(*_: object) -> None:
        nonlocal calls
        calls += 1
        if calls >= after:
            raise error

    return error, callback


def cancels_since(handle: ServerThread, since: float) -> int:
    return len([c for c in list(ServerRecorder.of(handle.server).cancels) if c.at >= since])


def loaded(handle: ServerThread) -> tuple[str, ...]:
    return handle.server.statistics().loaded_instances


# -- sync face ----------------------------------------------------------------------------------


@pytest.mark.parametrize("which", ["on_fragment", "on_prompt_processing_progress"])
def test_sync_prediction_callback_raises(slow_thread: ServerThread, which: str) -> None:
    with lms.Client(slow_thread.url, timeout=10) as client:
        model = client.llm.model(ECHO)
        error, callback = raising(after=2)
        since = time.monotonic()
        with pytest.raises(Boom) as caught:
            model.respond("!long 500", **{which: callback})  # type: ignore[call-overload]
        assert caught.value is error
        # The server stopped the prediction (the next one would wait 10 s for it otherwise).
        started = time.monotonic()
        assert model.respond("next").content == "You said: next"
        assert time.monotonic() - started < 2
        assert cancels_since(slow_thread, since) == 1


def test_sync_load_progress_callback_raises(slow_thread: ServerThread) -> None:
    with lms.Client(slow_thread.url, timeout=10) as client:
        error, callback = raising()
        since = time.monotonic()
        with pytest.raises(Boom) as caught:
            client.llm.load(ECHO, identifier="cb-sync", on_progress=callback)  # type: ignore[arg-type]
        assert caught.value is error
        # Sent on the same socket after the cancel, so handled after it; and it ends after the
        # failed load would have ended, had it not been cancelled.
        other = client.llm.load(ECHO, identifier="cb-sync-2")
        assert cancels_since(slow_thread, since) == 1
        assert "cb-sync" not in loaded(slow_thread)
        other.unload()


# -- async face ---------------------------------------------------------------------------------


@pytest.mark.parametrize("which", ["on_fragment", "on_prompt_processing_progress"])
async def test_async_prediction_callback_raises(slow_thread: ServerThread, which: str) -> None:
    async with lms.AsyncClient(slow_thread.url, timeout=10) as client:
        model = await client.llm.model(ECHO)
        error, callback = raising(after=2)
        since = time.monotonic()
        stream = model.respond_stream("!long 500", **{which: callback})  # type: ignore[call-overload]
        with pytest.raises(Boom) as caught:
            async for _ in stream:
                pass
        assert caught.value is error
        with pytest.raises(Boom):  # result() reports the same failure
            await stream.result()
        started = time.monotonic()
        assert (await model.respond("next")).content == "You said: next"
        assert time.monotonic() - started < 2
        assert cancels_since(slow_thread, since) == 1


async def test_async_load_progress_callback_raises(slow_thread: ServerThread) -> None:
    async with lms.AsyncClient(slow_thread.url, timeout=10) as client:
        error, callback = raising()
        since = time.monotonic()
        with pytest.raises(Boom) as caught:
            await client.llm.load(ECHO, identifier="cb-async", on_progress=callback)  # type: ignore[arg-type]
        assert caught.value is error
        # Sent on the same socket after the cancel, so handled after it; and it ends after the
        # failed load would have ended, had it not been cancelled.
        other = await client.llm.load(ECHO, identifier="cb-async-2")
        assert cancels_since(slow_thread, since) == 1
        assert "cb-async" not in loaded(slow_thread)
        await other.unload()
