"""Load: many clients streaming at once get exactly their own fragments; a thousand
connect/disconnect cycles leave no file descriptors, threads or memory behind.

Tolerances (measured on a 2-core machine: after warm-up, 1000 cycles grow the fd count by 0, the
thread count by 0, traced Python memory by well under 100 kB and RSS by a few MB):

* file descriptors: +5 (a socket or two still closing when the count is taken);
* threads: +0 after their bounded join (websockets' per-connection threads must all end);
* traced memory (tracemalloc, this process's Python allocations: client and server): +1 MiB,
  i.e. about 1 kB per cycle, far below what leaking one socket, session or task per cycle costs;
* RSS: +32 MiB (allocator noise; a real leak of sockets or buffers exceeds it quickly).
"""

from __future__ import annotations

import asyncio
import gc
import threading
import time
import tracemalloc
from collections.abc import Iterator

import pytest

import lmstudio_sdk as lms
from lmstudio_sdk.server import ServerRecorder, ServerThread
from lmstudio_sdk.server.engines.scripted import ScriptedEngine
from tests.faults.helpers import no_pending_tasks, open_fds, rss_bytes

pytestmark = pytest.mark.slow

ECHO = "scripted-echo-1b"
CLIENTS = 50
PREDICTIONS = 20
CYCLES = 1000
FD_TOLERANCE = 5
TRACED_TOLERANCE = 1024 * 1024
RSS_TOLERANCE = 32 * 1024 * 1024


@pytest.fixture(scope="module")
def loaded_server() -> Iterator[ServerThread]:
    with ServerThread(
        engine_factory=lambda: ScriptedEngine(), port=0, observer=ServerRecorder()
    ) as handle:
        with lms.Client(handle.url, timeout=30) as client:
            client.llm.model(ECHO)
        yield handle


def settle(handle: ServerThread) -> None:
    """Wait until the server has closed every socket (and its tasks)."""
    handle.call(
        lambda server: asyncio.wait_for(ServerRecorder.of(server).wait_open_sockets(0), 10),
        timeout=15,
    )


async def test_fifty_async_clients_get_exactly_their_own_fragments(
    loaded_server: ServerThread,
) -> None:
    mismatches: list[str] = []

    async def one_client(c: int) -> int:
        streamed = 0
        async with lms.AsyncClient(loaded_server.url, timeout=60) as client:
            model = client.llm.handle(ECHO)
            for p in range(PREDICTIONS):
                prompt = f"client {c} prediction {p} marker-{c * 1000 + p}"
                stream = model.respond_stream(prompt)
                fragments = [f.content async for f in stream]
                result = await stream.result()
                expected = f"You said: {prompt}"
                if "".join(fragments) != expected or result.content != expected:
                    mismatches.append(f"{prompt!r} got {''.join(fragments)!r}")
                if len(fragments) != result.stats.predicted_tokens_count:
                    mismatches.append(f"{prompt!r}: fragments lost")
                streamed += len(fragments)
        return streamed

    started = time.monotonic()
    totals = await asyncio.wait_for(asyncio.gather(*(one_client(c) for c in range(CLIENTS))), 120)
    elapsed = time.monotonic() - started
    assert mismatches == []
    assert all(total > 0 for total in totals)
    print(f"{CLIENTS}x{PREDICTIONS} async predictions, {sum(totals)} fragments, {elapsed:.1f} s")
    await no_pending_tasks()
    settle(loaded_server)
    assert loaded_server.server.statistics().running_tasks == 0


def test_fifty_threads_share_sync_clients_and_get_their_own_fragments(
    loaded_server: ServerThread,
) -> None:
    mismatches: list[str] = []
    lock = threading.Lock()

    def one_client(c: int) -> None:
        with lms.Client(loaded_server.url, timeout=60) as client:
            model = client.llm.handle(ECHO)
            for p in range(PREDICTIONS):
                prompt = f"thread {c} prediction {p} marker-{c * 1000 + p}"
                stream = model.respond_stream(prompt)
                fragments = [f.content for f in stream]
                expected = f"You said: {prompt}"
                if "".join(fragments) != expected or stream.result().content != expected:
                    with lock:
                        mismatches.append(f"{prompt!r} got {''.join(fragments)!r}")

    threads = [
        threading.Thread(target=one_client, args=(c,), name=f"load-{c}") for c in range(CLIENTS)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not [t for t in threads if t.is_alive()]
    assert mismatches == []


def cycle_sync(url: str) -> None:
    with lms.Client(url, timeout=10) as client:
        assert client.system.get_lmstudio_version()


def test_connect_disconnect_cycles_leak_nothing_sync(loaded_server: ServerThread) -> None:
    url = loaded_server.url
    for _ in range(50):  # warm-up: imports, caches, allocator pools
        cycle_sync(url)
    settle(loaded_server)
    gc.collect()
    fds, threads, rss = open_fds(), set(threading.enumerate()), rss_bytes()
    tracemalloc.start()
    try:
        traced_before = tracemalloc.get_traced_memory()[0]
        for _ in range(CYCLES):
            cycle_sync(url)
        settle(loaded_server)
        join_new_threads(threads)
        gc.collect()
        traced_growth = tracemalloc.get_traced_memory()[0] - traced_before
    finally:
        tracemalloc.stop()
    report(fds, threads, rss, traced_growth)


async def test_connect_disconnect_cycles_leak_nothing_async(loaded_server: ServerThread) -> None:
    url = loaded_server.url

    async def cycle() -> None:
        async with lms.AsyncClient(url, timeout=10) as client:
            assert await client.system.get_lmstudio_version()

    for _ in range(50):
        await cycle()
    settle(loaded_server)
    gc.collect()
    fds, threads, rss = open_fds(), set(threading.enumerate()), rss_bytes()
    tracemalloc.start()
    try:
        traced_before = tracemalloc.get_traced_memory()[0]
        for _ in range(CYCLES):
            await cycle()
        await no_pending_tasks()
        settle(loaded_server)
        gc.collect()
        traced_growth = tracemalloc.get_traced_memory()[0] - traced_before
    finally:
        tracemalloc.stop()
    report(fds, threads, rss, traced_growth)


def join_new_threads(baseline: set[threading.Thread], grace: float = 5.0) -> None:
    """websockets' sync connections end their threads shortly after the socket closes."""
    deadline = time.monotonic() + grace
    for thread in set(threading.enumerate()) - baseline:
        thread.join(max(0.0, deadline - time.monotonic()))


def report(fds: int, threads: set[threading.Thread], rss: int, traced_growth: int) -> None:
    fd_growth = open_fds() - fds
    thread_growth = len(set(threading.enumerate()) - threads)
    rss_growth = rss_bytes() - rss
    print(
        f"{CYCLES} cycles: fds {fd_growth:+d}, threads {thread_growth:+d}, "
        f"traced {traced_growth / 1024:+.0f} kB, rss {rss_growth / 1024 / 1024:+.1f} MiB"
    )
    assert fd_growth <= FD_TOLERANCE
    assert thread_growth == 0
    assert traced_growth <= TRACED_TOLERANCE
    assert rss_growth <= RSS_TOLERANCE
