"""A network path that stops forwarding (a loopback proxy that stalls): every wait of the
client is bounded by its timeout and ends in LMStudioTimeoutError, on both faces. Once the path
flows again, the same client works."""

from __future__ import annotations

import base64
import time

import pytest

import lmstudio_sdk as lms
from lmstudio_sdk.server import ServerThread
from tests.faults.helpers import StallProxy, no_new_threads, no_pending_tasks

ECHO = "scripted-echo-1b"
TIMEOUT = 0.3
SLACK = 1.5  # a timeout fires within TIMEOUT + SLACK seconds
# 16 MB of content: ~21 MB frame, far more than loopback socket buffers hold.
BIG_UPLOAD = {"name": "big.bin", "contentBase64": base64.b64encode(b"x" * 16_000_000).decode()}


def small_upload() -> dict[str, str]:
    return {"name": "small.txt", "contentBase64": base64.b64encode(b"hi").decode()}


def check_elapsed(started: float) -> None:
    elapsed = time.monotonic() - started
    assert TIMEOUT * 0.9 <= elapsed < TIMEOUT + SLACK, elapsed


# -- sync face ----------------------------------------------------------------------------------


def test_sync_rpc_times_out_on_a_stalled_path(fast_thread: ServerThread) -> None:
    with (
        no_new_threads(),
        StallProxy(fast_thread.port) as proxy,
        lms.Client(proxy.url, timeout=10) as client,
    ):
        assert client.system.get_lmstudio_version()
        proxy.stall()
        started = time.monotonic()
        with pytest.raises(lms.LMStudioTimeoutError):
            client.system.list_downloaded_models(timeout=TIMEOUT)
        check_elapsed(started)
        proxy.resume()
        # The late answer to the abandoned call is dropped; the socket carries on.
        assert client.system.list_downloaded_models()


def test_sync_large_call_on_a_stalled_path_times_out(fast_thread: ServerThread) -> None:
    """A frame larger than the socket buffers cannot be sent while the path is stalled; the
    caller still gets its timeout (the frame waits in the writer thread, not in the caller)."""
    with (
        no_new_threads(),
        StallProxy(fast_thread.port) as proxy,
        lms.Client(proxy.url, timeout=10) as client,
    ):
        assert client.rpc("files", "uploadFileBase64", small_upload())
        proxy.stall()
        started = time.monotonic()
        with pytest.raises(lms.LMStudioTimeoutError):
            client.rpc("files", "uploadFileBase64", BIG_UPLOAD, timeout=TIMEOUT)
        check_elapsed(started)
        proxy.resume()
        assert client.rpc("files", "uploadFileBase64", small_upload())


def test_sync_stream_idle_timeout(slow_thread: ServerThread) -> None:
    with (
        no_new_threads(),
        StallProxy(slow_thread.port) as proxy,
        lms.Client(proxy.url, timeout=10) as client,
    ):
        model = client.llm.model(ECHO)
        stream = model.respond_stream("!long 500", timeout=TIMEOUT)
        with pytest.raises(lms.LMStudioTimeoutError):
            for _ in stream:
                if not proxy_stalled(proxy):
                    proxy.stall()
                    started = time.monotonic()
        check_elapsed(started)
        proxy.resume()
        # The cancel sent on the timeout was held by the stall; it gets through now.
        assert stream.result(timeout=5).stats.stop_reason == "userStopped"
        assert model.respond("flowing again").content == "You said: flowing again"


def test_sync_connect_times_out(fast_thread: ServerThread) -> None:
    with (
        no_new_threads(),
        StallProxy(fast_thread.port) as proxy,
        lms.Client(proxy.url, timeout=10) as client,
    ):
        proxy.stall()  # TCP connects; the WebSocket upgrade never gets an answer
        started = time.monotonic()
        with pytest.raises(lms.LMStudioTimeoutError):
            client.system.get_lmstudio_version(timeout=TIMEOUT)
        check_elapsed(started)
        proxy.resume()
        assert client.system.get_lmstudio_version()


def test_sync_auth_times_out(fast_thread: ServerThread) -> None:
    with (
        no_new_threads(),
        StallProxy(fast_thread.port, hold_after_handshake=True) as proxy,
        lms.Client(proxy.url, timeout=10) as client,
    ):
        started = time.monotonic()
        with pytest.raises(lms.LMStudioTimeoutError):
            client.system.get_lmstudio_version(timeout=TIMEOUT)
        check_elapsed(started)


# -- async face ---------------------------------------------------------------------------------


async def test_async_rpc_times_out_on_a_stalled_path(fast_thread: ServerThread) -> None:
    with StallProxy(fast_thread.port) as proxy:
        async with lms.AsyncClient(proxy.url, timeout=10) as client:
            assert await client.system.get_lmstudio_version()
            proxy.stall()
            started = time.monotonic()
            with pytest.raises(lms.LMStudioTimeoutError):
                await client.system.list_downloaded_models(timeout=TIMEOUT)
            check_elapsed(started)
            proxy.resume()
            assert await client.system.list_downloaded_models()
    await no_pending_tasks()


async def test_async_large_call_on_a_stalled_path_times_out(fast_thread: ServerThread) -> None:
    with StallProxy(fast_thread.port) as proxy:
        async with lms.AsyncClient(proxy.url, timeout=10) as client:
            assert await client.rpc("files", "uploadFileBase64", small_upload())
            proxy.stall()
            started = time.monotonic()
            with pytest.raises(lms.LMStudioTimeoutError):
                await client.rpc("files", "uploadFileBase64", BIG_UPLOAD, timeout=TIMEOUT)
            check_elapsed(started)
            proxy.resume()
            assert await client.rpc("files", "uploadFileBase64", small_upload())
    await no_pending_tasks()


async def test_async_stream_idle_timeout(slow_thread: ServerThread) -> None:
    with StallProxy(slow_thread.port) as proxy:
        async with lms.AsyncClient(proxy.url, timeout=10) as client:
            model = await client.llm.model(ECHO)
            stream = model.respond_stream("!long 500", timeout=TIMEOUT)
            with pytest.raises(lms.LMStudioTimeoutError):
                async for _ in stream:
                    if not proxy_stalled(proxy):
                        proxy.stall()
                        started = time.monotonic()
            check_elapsed(started)
            proxy.resume()
            assert (await stream.result(timeout=5)).stats.stop_reason == "userStopped"
            assert (await model.respond("flowing again")).content == "You said: flowing again"
    await no_pending_tasks()


async def test_async_connect_times_out(fast_thread: ServerThread) -> None:
    with StallProxy(fast_thread.port) as proxy:
        async with lms.AsyncClient(proxy.url, timeout=10) as client:
            proxy.stall()
            started = time.monotonic()
            with pytest.raises(lms.LMStudioTimeoutError):
                await client.system.get_lmstudio_version(timeout=TIMEOUT)
            check_elapsed(started)
            proxy.resume()
            assert await client.system.get_lmstudio_version()
    await no_pending_tasks()


async def test_async_auth_times_out(fast_thread: ServerThread) -> None:
    with StallProxy(fast_thread.port, hold_after_handshake=True) as proxy:
        async with lms.AsyncClient(proxy.url, timeout=10) as client:
            started = time.monotonic()
            with pytest.raises(lms.LMStudioTimeoutError):
                await client.system.get_lmstudio_version(timeout=TIMEOUT)
            check_elapsed(started)
    await no_pending_tasks()


def proxy_stalled(proxy: StallProxy) -> bool:
    return not proxy._flowing.is_set()
