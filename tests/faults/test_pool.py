"""A Pool over three `lmstudio-sdk serve` processes, 60 concurrent predictions, one host
SIGKILLed mid-run: every prediction either completes with the right reply or raises
HostUnavailableError naming the killed host, none hangs, and the pool keeps serving on the
other two. Both faces, with and without ``retry_unstarted`` (with it, only predictions that had
received fragments may fail).

The scripted engine runs one prediction per model at a time (no parallel slots): the server
queues the rest, so each host works through its ~20 predictions in turn and the per-packet
timeout must cover that queue.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

import lmstudio_sdk as lms
from tests.conftest import ServerProcess, free_port

pytestmark = pytest.mark.slow

ECHO = "scripted-echo-1b"
COUNT = 60
TOKENS = 20  # 20 ms each: 0.4 s per prediction, ~20 queued per host
KILL_AFTER = 50  # fragments received in total before the kill: a prediction is mid-stream
TIMEOUT = 40.0  # per packet: covers a host's queue (~30 predictions after the kill)
DEADLINE = 120.0  # the whole run; a hang fails the test instead of blocking it
EXPECTED = [f"word{i}" for i in range(TOKENS)]


@pytest.fixture
def processes() -> Iterator[list[ServerProcess]]:
    procs = [ServerProcess(free_port(), "--token-delay", "0.02") for _ in range(3)]
    try:
        for proc in procs:
            proc.start()
        yield procs
    finally:
        for proc in procs:
            proc.kill()


@dataclass
class Tally:
    lock: threading.Lock = field(default_factory=threading.Lock)
    fragments: int = 0
    victim: str | None = None
    completed: list[str] = field(default_factory=list)  # the host of each completed prediction
    failed: list[tuple[lms.HostUnavailableError, int]] = field(default_factory=list)
    other: list[BaseException] = field(default_factory=list)
    killed: threading.Event = field(default_factory=threading.Event)


def kill_if_due(tally: Tally, host: str | None, procs: list[ServerProcess], received: int) -> None:
    """Once KILL_AFTER fragments came in, SIGKILL the host of the next stream that has just
    begun (its first or second fragment): that prediction still has most of its tokens to go,
    so it is mid-stream for sure (a stream near its end may already sit whole in the client's
    socket buffer when the client runs behind, and then completes)."""
    with tally.lock:
        tally.fragments += 1
        if tally.victim is not None or tally.fragments < KILL_AFTER or received > 2:
            return
        tally.victim = host
    next(p for p in procs if p.url == host).kill()
    tally.killed.set()


def check(tally: Tally, procs: list[ServerProcess], retry: bool) -> None:
    assert tally.killed.is_set() and tally.victim is not None
    assert not tally.other, f"untyped failures: {tally.other[:3]}"
    assert len(tally.completed) + len(tally.failed) == COUNT
    assert tally.failed, "the killed host had a prediction mid-stream; it must fail"
    assert all(e.host == tally.victim and tally.victim in str(e) for e, _ in tally.failed)
    if retry:
        assert all(received for _, received in tally.failed), "an unstarted call was not retried"
    else:
        assert any(not received for _, received in tally.failed), "queued calls fail too"
    survivors = {p.url for p in procs} - {tally.victim}
    assert set(tally.completed) - {tally.victim} <= survivors


# -- sync face ----------------------------------------------------------------------------------


@pytest.mark.parametrize("retry", [False, True], ids=["no-retry", "retry-unstarted"])
def test_sync_pool_survives_a_killed_host(processes: list[ServerProcess], retry: bool) -> None:
    tally = Tally()
    urls = [p.url for p in processes]
    with lms.Pool(urls, timeout=TIMEOUT, probe_interval=0.5, retry_unstarted=retry) as pool:
        model = pool.llm.model(ECHO)

        def one() -> None:
            stream = model.respond_stream(f"!long {TOKENS}")
            received = 0
            try:
                for _ in stream:
                    received += 1
                    kill_if_due(tally, stream.host, processes, received)
                assert stream.result().content.split() == EXPECTED
                assert stream.host is not None
                tally.completed.append(stream.host)
            except lms.HostUnavailableError as exc:
                tally.failed.append((exc, received))
            except BaseException as exc:  # reported by check()
                tally.other.append(exc)

        threads = [threading.Thread(target=one, name=f"pool-{i}") for i in range(COUNT)]
        for thread in threads:
            thread.start()
        end = time.monotonic() + DEADLINE
        for thread in threads:
            thread.join(max(0.0, end - time.monotonic()))
        assert not [t for t in threads if t.is_alive()], "a prediction hung"
        check(tally, processes, retry)
        assert pool.hosts[tally.victim] is False  # type: ignore[index]
        # The pool keeps serving on the other two.
        for i in range(6):
            stream = model.respond_stream(f"after {i}")
            assert stream.result().content == f"You said: after {i}"
            assert stream.host != tally.victim


# -- async face ---------------------------------------------------------------------------------


@pytest.mark.parametrize("retry", [False, True], ids=["no-retry", "retry-unstarted"])
async def test_async_pool_survives_a_killed_host(
    processes: list[ServerProcess], retry: bool
) -> None:
    tally = Tally()
    urls = [p.url for p in processes]
    async with lms.AsyncPool(
        urls, timeout=TIMEOUT, probe_interval=0.5, retry_unstarted=retry
    ) as pool:
        model = await pool.llm.model(ECHO)

        async def one() -> None:
            stream = model.respond_stream(f"!long {TOKENS}")
            received = 0
            try:
                async for _ in stream:
                    received += 1
                    kill_if_due(tally, stream.host, processes, received)
                assert (await stream.result()).content.split() == EXPECTED
                assert stream.host is not None
                tally.completed.append(stream.host)
            except lms.HostUnavailableError as exc:
                tally.failed.append((exc, received))
            except Exception as exc:  # reported by check()
                tally.other.append(exc)

        await asyncio.wait_for(asyncio.gather(*(one() for _ in range(COUNT))), DEADLINE)
        check(tally, processes, retry)
        assert pool.hosts[tally.victim] is False  # type: ignore[index]
        results = await asyncio.gather(
            *(model.respond_stream(f"after {i}").result() for i in range(6))
        )
        assert [r.content for r in results] == [f"You said: after {i}" for i in range(6)]
        assert pool.in_flight()[tally.victim] == 0  # type: ignore[index]
