"""The llama engine's thread-to-loop hand-off: every call runs, in order, with one wake-up per
burst (it needs no model: the engine's threads are stood in for by plain threads)."""

from __future__ import annotations

import asyncio
import threading

from lmstudio_sdk.server.engines.llama.handoff import inbox_for


async def test_calls_from_threads_run_in_order_with_one_wakeup_per_burst() -> None:
    loop = asyncio.get_running_loop()
    inbox = inbox_for(loop)
    assert inbox_for(loop) is inbox
    seen: list[tuple[int, int]] = []
    done = asyncio.Event()
    wakeups = 0
    original = loop.call_soon_threadsafe

    def counting(*args: object, **kwargs: object) -> asyncio.Handle:
        nonlocal wakeups
        wakeups += 1
        return original(*args, **kwargs)  # type: ignore[arg-type]

    loop.call_soon_threadsafe = counting  # type: ignore[method-assign]
    gate = threading.Barrier(2)

    def producer(tag: int) -> None:
        gate.wait()
        for i in range(500):
            inbox.post(seen.append, (tag, i))

    try:
        threads = [threading.Thread(target=producer, args=(t,)) for t in (0, 1)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)  # blocking the loop: it cannot drain while the threads post
        assert not any(t.is_alive() for t in threads)
        inbox.post(done.set)
        await asyncio.wait_for(done.wait(), 30)
    finally:
        del loop.call_soon_threadsafe
    assert len(seen) == 1000
    for tag in (0, 1):
        assert [i for t, i in seen if t == tag] == list(range(500))
    assert wakeups == 1  # one burst, one wake-up


async def test_a_failing_call_does_not_lose_the_next() -> None:
    loop = asyncio.get_running_loop()
    done = asyncio.Event()

    def fail() -> None:
        raise ValueError("boom")

    def post() -> None:
        inbox_for(loop).post(fail)
        inbox_for(loop).post(done.set)

    await asyncio.to_thread(post)
    await asyncio.wait_for(done.wait(), 30)


def test_a_closed_loop_drops_posts() -> None:
    loop = asyncio.new_event_loop()
    inbox = inbox_for(loop)
    loop.close()
    inbox.post(print, "never")  # no error: nobody is left to receive it
