"""The server process is SIGKILLed mid-stream, mid-load and mid-RPC: the caller gets a typed
LMStudioConnectionError within 2 s on both faces, no thread or task is left behind, and once the
server is back on the same port the same client object works on its next call."""

from __future__ import annotations

import asyncio
import signal
import threading
import time
from collections.abc import Iterator

import pytest

import lmstudio_sdk as lms
from tests.conftest import ServerProcess, free_port
from tests.faults.helpers import no_new_threads, no_pending_tasks, sdk_tasks, sdk_threads

pytestmark = pytest.mark.slow

ECHO = "scripted-echo-1b"
DEADLINE = 2.0  # seconds from the kill to the caller's exception


@pytest.fixture
def process() -> Iterator[ServerProcess]:
    """20 ms per token, 0.4 s per load (a progress step every 0.1 s)."""
    proc = ServerProcess(free_port(), "--token-delay", "0.02", "--load-delay", "0.4")
    proc.start()
    try:
        yield proc
    finally:
        proc.kill()


def sync_readers_end() -> None:
    for thread in sdk_threads():
        thread.join(timeout=DEADLINE)
    assert not [t for t in sdk_threads() if t.is_alive()], "a reader thread outlived its socket"


async def async_tasks_end() -> None:
    tasks = sdk_tasks()
    if tasks:
        await asyncio.wait(tasks, timeout=DEADLINE)
    assert not [t for t in sdk_tasks() if not t.done()], "a reader/writer outlived its socket"


def back_again_sync(process: ServerProcess, client: lms.Client) -> None:
    process.start()
    assert ECHO in {m.model_key for m in client.system.list_downloaded_models()}
    assert client.system.get_lmstudio_version()


async def back_again_async(process: ServerProcess, client: lms.AsyncClient) -> None:
    process.start()
    assert ECHO in {m.model_key for m in await client.system.list_downloaded_models()}
    assert await client.system.get_lmstudio_version()


# -- sync face ----------------------------------------------------------------------------------


def test_sync_killed_mid_stream(process: ServerProcess) -> None:
    with no_new_threads(), lms.Client(process.url, timeout=10) as client:
        model = client.llm.model(ECHO)
        stream = model.respond_stream("!long 1000")
        killed_at = 0.0
        with pytest.raises(lms.LMStudioConnectionError):
            for _ in stream:
                if not killed_at:
                    killed_at = time.monotonic()
                    process.kill()
        assert time.monotonic() - killed_at < DEADLINE
        with pytest.raises(lms.LMStudioConnectionError):  # the stream stays failed
            stream.result()
        sync_readers_end()
        back_again_sync(process, client)
        # The model went with the old process: load it again and chat.
        assert client.llm.model(ECHO).respond("back").content == "You said: back"


def test_sync_killed_mid_load(process: ServerProcess) -> None:
    with no_new_threads(), lms.Client(process.url, timeout=10) as client:
        loading = threading.Event()
        killed_at: list[float] = []

        def killer() -> None:
            if loading.wait(10):
                killed_at.append(time.monotonic())
                process.kill()

        thread = threading.Thread(target=killer, name="test-killer")
        thread.start()
        try:
            with pytest.raises(lms.LMStudioConnectionError):
                client.llm.load(ECHO, on_progress=lambda _: loading.set())
        finally:
            loading.set()
            thread.join(10)
        assert killed_at and time.monotonic() - killed_at[0] < DEADLINE
        sync_readers_end()
        back_again_sync(process, client)


def test_sync_killed_mid_rpc(process: ServerProcess) -> None:
    with no_new_threads(), lms.Client(process.url, timeout=10) as client:
        assert client.system.get_lmstudio_version()  # the socket is open
        assert process.process is not None
        process.process.send_signal(signal.SIGSTOP)  # the call below is sent, never answered
        killed_at: list[float] = []

        def kill() -> None:
            killed_at.append(time.monotonic())
            process.kill()

        timer = threading.Timer(0.3, kill)
        timer.start()
        try:
            with pytest.raises(lms.LMStudioConnectionError):
                client.system.list_downloaded_models()
        finally:
            timer.join(10)
        assert time.monotonic() - killed_at[0] < DEADLINE
        sync_readers_end()
        back_again_sync(process, client)


# -- async face ---------------------------------------------------------------------------------


async def test_async_killed_mid_stream(process: ServerProcess) -> None:
    async with lms.AsyncClient(process.url, timeout=10) as client:
        model = await client.llm.model(ECHO)
        stream = model.respond_stream("!long 1000")
        killed_at = 0.0
        with pytest.raises(lms.LMStudioConnectionError):
            async for _ in stream:
                if not killed_at:
                    killed_at = time.monotonic()
                    process.kill()
        assert time.monotonic() - killed_at < DEADLINE
        with pytest.raises(lms.LMStudioConnectionError):
            await stream.result()
        await async_tasks_end()
        await back_again_async(process, client)
        reloaded = await client.llm.model(ECHO)
        assert (await reloaded.respond("back")).content == "You said: back"
    await no_pending_tasks()


async def test_async_killed_mid_load(process: ServerProcess) -> None:
    async with lms.AsyncClient(process.url, timeout=10) as client:
        loading = asyncio.Event()
        killed_at: list[float] = []

        async def killer() -> None:
            await asyncio.wait_for(loading.wait(), 10)
            killed_at.append(time.monotonic())
            process.kill()

        task = asyncio.create_task(killer())
        with pytest.raises(lms.LMStudioConnectionError):
            await client.llm.load(ECHO, on_progress=lambda _: loading.set())
        await asyncio.wait_for(task, 10)
        assert time.monotonic() - killed_at[0] < DEADLINE
        await async_tasks_end()
        await back_again_async(process, client)
    await no_pending_tasks()


async def test_async_killed_mid_rpc(process: ServerProcess) -> None:
    async with lms.AsyncClient(process.url, timeout=10) as client:
        assert await client.system.get_lmstudio_version()
        assert process.process is not None
        process.process.send_signal(signal.SIGSTOP)
        killed_at: list[float] = []

        def kill() -> None:
            killed_at.append(time.monotonic())
            process.kill()

        handle = asyncio.get_running_loop().call_later(0.3, kill)
        try:
            with pytest.raises(lms.LMStudioConnectionError):
                await client.system.list_downloaded_models()
        finally:
            handle.cancel()
        assert time.monotonic() - killed_at[0] < DEADLINE
        await async_tasks_end()
        await back_again_async(process, client)
    await no_pending_tasks()
