"""Keepalive, retries, deadlines, subscriptions and the prediction cap, against real faults.

A black-holed route (the proxy reads and drops every byte, no FIN, no reset) is noticed by the
keepalive within interval + timeout, and every waiter (call, channel, stream) gets a typed
connection error; a server that refuses the first connections is reached by retries; a
slowly dripping stream and a slow load stop at their deadline; a subscription is re-opened on
the new socket; a cap on predictions queues them. Both faces.
"""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest

import lmstudio_sdk as lms
from lmstudio_sdk.server import LMStudioServer, ServerRecorder, ServerThread
from tests.faults.helpers import StallProxy, no_new_threads, no_pending_tasks

ECHO = "scripted-echo-1b"
INTERVAL = 0.2
KEEPALIVE_TIMEOUT = 0.3
SLACK = 1.5  # scheduling latency allowed on a loaded machine
DETECTED_WITHIN = INTERVAL + KEEPALIVE_TIMEOUT + SLACK
KEEPALIVE: dict[str, Any] = {
    "keepalive_interval": INTERVAL,
    "keepalive_timeout": KEEPALIVE_TIMEOUT,
}
DEADLINE = 0.4


def lost(error: BaseException) -> bool:
    """A connection error caused by the keepalive (not a timeout, not any other error)."""
    return (
        isinstance(error, lms.LMStudioConnectionError)
        and not isinstance(error, lms.LMStudioTimeoutError)
        and "keepalive" in str(error)
    )


def system_channels(thread: ServerThread) -> list[int]:
    """Running calls and channels of each open /system socket of the server."""

    def snapshot(server: LMStudioServer) -> list[int]:
        recorder = ServerRecorder.of(server)
        sockets = recorder._sockets
        return sorted(s.running_tasks for s in sockets if s.namespace.strip("/") == "system")

    result: list[int] = thread.call(snapshot)
    return result


def wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    """Poll a condition of another thread's state (the server's) until it holds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


# -- keepalive: a black-holed route --------------------------------------------------------------


def test_sync_black_hole_fails_every_waiter_within_interval_plus_timeout(
    slow_thread: ServerThread,
) -> None:
    with (
        no_new_threads(),
        StallProxy(slow_thread.port) as proxy,
        lms.Client(proxy.url, timeout=30, max_retries=0, **KEEPALIVE) as client,
    ):
        model = client.llm.model(ECHO)
        assert client.system.get_lmstudio_version()
        channel = client.open_channel("system", "alive")
        stream = model.respond_stream("!long 1000")
        fragments = iter(stream)
        next(fragments)
        proxy.blackhole()
        started = time.monotonic()
        with pytest.raises(lms.LMStudioConnectionError) as call_error:
            client.system.list_downloaded_models()
        assert time.monotonic() - started < DETECTED_WITHIN
        assert lost(call_error.value.__cause__ or call_error.value)
        with pytest.raises(lms.LMStudioConnectionError):
            channel.receive_value(timeout=DETECTED_WITHIN)
        with pytest.raises(lms.LMStudioConnectionError) as stream_error:
            for _ in fragments:
                pass
        assert lost(stream_error.value.__cause__ or stream_error.value)
        assert time.monotonic() - started < DETECTED_WITHIN


async def test_async_black_hole_fails_every_waiter_within_interval_plus_timeout(
    slow_thread: ServerThread,
) -> None:
    with StallProxy(slow_thread.port) as proxy:
        async with lms.AsyncClient(proxy.url, timeout=30, max_retries=0, **KEEPALIVE) as client:
            model = await client.llm.model(ECHO)
            assert await client.system.get_lmstudio_version()
            channel = await client.open_channel("system", "alive")
            stream = model.respond_stream("!long 1000")
            fragments = aiter(stream)
            await anext(fragments)
            proxy.blackhole()
            started = time.monotonic()

            async def drain() -> None:
                async for _ in fragments:
                    pass

            outcomes = await asyncio.gather(
                client.system.list_downloaded_models(),
                channel.receive_value(timeout=30),
                drain(),
                return_exceptions=True,
            )
            assert time.monotonic() - started < DETECTED_WITHIN
            for outcome in outcomes:
                assert isinstance(outcome, lms.LMStudioConnectionError), outcome
                assert lost(outcome.__cause__ or outcome)
    await no_pending_tasks()


def test_sync_keepalive_interval_none_disables_it(fast_thread: ServerThread) -> None:
    """No pings: a black hole is only noticed by the call's own timeout, even well past the
    time a keepalive with this keepalive_timeout would have needed."""
    with (
        StallProxy(fast_thread.port) as proxy,
        lms.Client(
            proxy.url,
            timeout=30,
            max_retries=0,
            keepalive_interval=None,
            keepalive_timeout=KEEPALIVE_TIMEOUT,
        ) as client,
    ):
        assert client.system.get_lmstudio_version()
        proxy.blackhole()
        with pytest.raises(lms.LMStudioTimeoutError):
            client.system.list_downloaded_models(timeout=KEEPALIVE_TIMEOUT * 3)


def test_keepalive_arguments_are_checked() -> None:
    bad: Any
    for bad in (0, -1, "1", float("nan")):
        with pytest.raises(lms.LMStudioValueError, match="keepalive_interval"):
            lms.Client("127.0.0.1:1", keepalive_interval=bad)
        with pytest.raises(lms.LMStudioValueError, match="keepalive_timeout"):
            lms.AsyncClient("127.0.0.1:1", keepalive_timeout=bad)
    for bad in (-1, 1.5, True, "2"):
        with pytest.raises(lms.LMStudioValueError, match="max_retries"):
            lms.Client("127.0.0.1:1", max_retries=bad)
    for bad in (0, -3, 2.0):
        with pytest.raises(lms.LMStudioValueError, match="max_concurrent_predictions"):
            lms.AsyncClient("127.0.0.1:1", max_concurrent_predictions=bad)


# -- retries ------------------------------------------------------------------------------------


def test_sync_connect_retries_past_two_refusals(fast_thread: ServerThread) -> None:
    with StallProxy(fast_thread.port, refuse_first=2) as proxy:
        with lms.Client(proxy.url, max_retries=1) as client:
            with pytest.raises(lms.LMStudioConnectionError):
                client.system.get_lmstudio_version()
            assert proxy.refused == 2
    with StallProxy(fast_thread.port, refuse_first=2) as proxy:
        with lms.Client(proxy.url, max_retries=5) as client:
            with pytest.raises(lms.LMStudioConnectionError):
                client.system.get_lmstudio_version(max_retries=0)  # per call
            assert proxy.refused == 1
            assert client.system.get_lmstudio_version()  # refused once more, then through
            assert proxy.refused == 2


async def test_async_connect_retries_past_two_refusals(fast_thread: ServerThread) -> None:
    with StallProxy(fast_thread.port, refuse_first=2) as proxy:
        async with lms.AsyncClient(proxy.url) as client:  # default: 2 retries
            assert await client.system.get_lmstudio_version()
            assert proxy.refused == 2
    with StallProxy(fast_thread.port, refuse_first=2) as proxy:
        async with lms.AsyncClient(proxy.url, max_retries=0) as client:
            with pytest.raises(lms.LMStudioConnectionError):
                await client.rpc("system", "version")
            assert await client.rpc("system", "version", max_retries=1)
            assert proxy.refused == 2
    await no_pending_tasks()


def test_sync_predictions_are_connect_retried(fast_thread: ServerThread) -> None:
    """A prediction whose connect was refused is retried: nothing had been sent."""
    with (
        StallProxy(fast_thread.port, refuse_first=2) as proxy,
        lms.Client(fast_thread.url) as direct,
        lms.Client(proxy.url) as client,
    ):
        direct.llm.model(ECHO)
        assert client.llm.handle(ECHO).respond("hi").content == "You said: hi"
        assert proxy.refused == 2


def test_sync_reads_are_retried_after_a_drop_but_predictions_are_not(
    fast_thread: ServerThread,
) -> None:
    with StallProxy(fast_thread.port) as proxy, lms.Client(proxy.url, **KEEPALIVE) as client:
        model = client.llm.model(ECHO)
        proxy.blackhole()  # the keepalive drops the socket; the retry connects anew
        assert [m.identifier for m in client.llm.list_loaded()] == [model.identifier]
        assert proxy.connections == 2
        proxy.blackhole()
        with pytest.raises(lms.LMStudioConnectionError):
            model.respond("!long 5")  # sent before the drop: never sent twice
        assert proxy.connections == 2
        assert model.tokenize(["a b", "c"]) == [model.tokenize("a b"), model.tokenize("c")]
        assert proxy.connections == 3
        proxy.blackhole()
        with pytest.raises(lms.LMStudioConnectionError):
            model.count_tokens("a b", max_retries=0)  # per call: no retry
        assert proxy.connections == 3
        assert model.count_tokens("a b", max_retries=1) == 2
        assert proxy.connections == 4


async def test_async_reads_are_retried_after_a_drop_but_loads_are_not(
    slow_thread: ServerThread,
) -> None:
    with StallProxy(slow_thread.port) as proxy:
        async with lms.AsyncClient(proxy.url, **KEEPALIVE) as client:
            model = await client.llm.model(ECHO)
            proxy.blackhole()
            assert (await model.count_tokens("one two")) == 2
            assert proxy.connections == 2
            proxy.blackhole()
            with pytest.raises(lms.LMStudioConnectionError):
                await client.llm.load(ECHO, identifier="second")  # 0.4 s load: outlives the drop
            assert proxy.connections == 2
            assert (await model.count_tokens("one")) == 1
            assert proxy.connections == 3
    await no_pending_tasks()


# -- deadlines ----------------------------------------------------------------------------------


def test_sync_stream_deadline_on_a_dripping_stream(slow_thread: ServerThread) -> None:
    """20 ms per token keeps the idle timeout happy; the deadline ends the prediction."""
    with lms.Client(slow_thread.url, timeout=10) as client:
        model = client.llm.model(ECHO)
        before = ServerRecorder.of(slow_thread.server).cancels_received
        stream = model.respond_stream("!long 1000", deadline=DEADLINE)
        started = time.monotonic()
        received = 0
        with pytest.raises(lms.LMStudioTimeoutError, match="deadline"):
            for _ in stream:
                received += 1
        assert DEADLINE * 0.9 <= time.monotonic() - started < DEADLINE + SLACK
        assert received > 1  # it did drip
        with pytest.raises(lms.LMStudioTimeoutError, match="deadline"):
            stream.result()  # the deadline has passed for good
        wait_for(lambda: ServerRecorder.of(slow_thread.server).cancels_received > before)


async def test_async_stream_deadline_on_a_dripping_stream(slow_thread: ServerThread) -> None:
    async with lms.AsyncClient(slow_thread.url, timeout=10) as client:
        model = await client.llm.model(ECHO)
        before = ServerRecorder.of(slow_thread.server).cancels_received
        started = time.monotonic()
        with pytest.raises(lms.LMStudioTimeoutError, match="deadline"):
            await model.respond("!long 1000", deadline=DEADLINE)
        assert DEADLINE * 0.9 <= time.monotonic() - started < DEADLINE + SLACK
        wait_for(lambda: ServerRecorder.of(slow_thread.server).cancels_received > before)
        assert (await model.respond("quick", deadline=10)).content == "You said: quick"
    await no_pending_tasks()


def test_sync_load_deadline(slow_thread: ServerThread) -> None:
    with lms.Client(slow_thread.url, timeout=10) as client:
        started = time.monotonic()
        with pytest.raises(lms.LMStudioTimeoutError, match="deadline"):
            client.llm.load(ECHO, identifier="late", deadline=0.1)  # loads take 0.4 s
        assert time.monotonic() - started < 0.1 + SLACK
        with pytest.raises(lms.LMStudioValueError, match="deadline"):
            client.llm.load(ECHO, deadline=-1)


async def test_async_load_deadline(slow_thread: ServerThread) -> None:
    async with lms.AsyncClient(slow_thread.url, timeout=10) as client:
        with pytest.raises(lms.LMStudioTimeoutError, match="deadline"):
            await client.llm.model("scripted-vision-1b", deadline=0.1)
        with pytest.raises(lms.LMStudioValueError, match="deadline"):
            client.llm.handle(ECHO).respond_stream("x", deadline=0)
    await no_pending_tasks()


# -- subscriptions ------------------------------------------------------------------------------


def test_sync_subscription_is_reopened_on_reconnect(fast_thread: ServerThread) -> None:
    with (
        StallProxy(fast_thread.port) as proxy,
        lms.Client(proxy.url, timeout=10, **KEEPALIVE) as client,
    ):
        subscription = client.subscribe("system", "alive")
        wait_for(lambda: system_channels(fast_thread) == [1])
        proxy.blackhole()
        # receive() notices the loss, reconnects and re-opens; alive never sends, so it waits.
        with pytest.raises(lms.LMStudioTimeoutError):
            subscription.receive_value(timeout=DETECTED_WITHIN + 0.5)
        assert subscription.reopened == 1
        assert proxy.connections == 2
        # The black-holed socket's alive still runs on the server; the new one has its own.
        wait_for(lambda: system_channels(fast_thread) == [1, 1])
        subscription.close()
        with pytest.raises(lms.LocalProtocolError):
            subscription.receive_value(timeout=0.2)


async def test_async_subscription_is_reopened_by_any_reconnect(fast_thread: ServerThread) -> None:
    with StallProxy(fast_thread.port) as proxy:
        async with lms.AsyncClient(proxy.url, timeout=10, **KEEPALIVE) as client:
            subscription = await client.subscribe("system", "alive")
            wait_for(lambda: system_channels(fast_thread) == [1])
            proxy.blackhole()
            # Another call on the namespace reconnects (retried after the keepalive drop), and
            # the session re-opens the subscription on the new socket at once.
            assert await client.system.get_lmstudio_version()
            assert subscription.reopened == 1
            wait_for(lambda: system_channels(fast_thread) == [1, 1])
            with pytest.raises(lms.LMStudioTimeoutError):
                await subscription.receive_value(timeout=0.2)
            subscription.close()
            with pytest.raises(lms.LocalProtocolError):
                await subscription.receive_value(timeout=0.2)
    await no_pending_tasks()


def _read_until_subscribed(events: Iterator[lms.LogEvent]) -> None:
    for event in events:
        if isinstance(event.data, lms.ServerLog) and "subscribed" in event.data.content:
            return
    raise AssertionError("the log stream ended before the subscription was confirmed")


def test_sync_log_stream_is_reopened_on_reconnect(fast_thread: ServerThread) -> None:
    with (
        StallProxy(fast_thread.port) as proxy,
        lms.Client(proxy.url, timeout=10, **KEEPALIVE) as client,
    ):
        logs = client.diagnostics.stream_logs(timeout=DETECTED_WITHIN + 5)
        events = iter(logs)
        _read_until_subscribed(events)
        proxy.blackhole()
        # The keepalive notices the loss; the stream reconnects and subscribes again, and the
        # server confirms the new subscription on it.
        _read_until_subscribed(events)
        assert logs.reopened == 1 and proxy.connections == 2
        with lms.Client(fast_thread.url, timeout=10) as direct:
            direct.llm.model(ECHO).respond("after the drop")
        assert any(
            isinstance(e.data, lms.PredictionInputLog) and "after the drop" in e.data.input
            for e in itertools.islice(events, 20)
        )
        logs.stop()
        for _ in events:
            pass  # the rest, up to the server's close
        assert logs.finished


async def test_async_log_stream_is_reopened_on_reconnect(fast_thread: ServerThread) -> None:
    async def until_subscribed(events: AsyncIterator[lms.LogEvent]) -> None:
        async for event in events:
            if isinstance(event.data, lms.ServerLog) and "subscribed" in event.data.content:
                return
        raise AssertionError("the log stream ended before the subscription was confirmed")

    with StallProxy(fast_thread.port) as proxy:
        async with lms.AsyncClient(proxy.url, timeout=10, **KEEPALIVE) as client:
            logs = await client.diagnostics.stream_logs(timeout=DETECTED_WITHIN + 5)
            events = aiter(logs)
            await until_subscribed(events)
            proxy.blackhole()
            await until_subscribed(events)
            assert logs.reopened == 1 and proxy.connections == 2
            async with lms.AsyncClient(fast_thread.url, timeout=10) as direct:
                await (await direct.llm.model(ECHO)).respond("after the drop")
            async for event in events:
                data = event.data
                if isinstance(data, lms.PredictionInputLog) and "after the drop" in data.input:
                    break
            logs.stop()
            async for _ in events:
                pass  # the rest, up to the server's close
            assert logs.finished
            await logs.aclose()
    await no_pending_tasks()


def test_a_stopped_log_stream_is_not_reopened(fast_thread: ServerThread) -> None:
    """A stop sent just before the socket went must not come back as a new subscription."""
    with (
        StallProxy(fast_thread.port) as proxy,
        lms.Client(proxy.url, timeout=10, **KEEPALIVE) as client,
    ):
        logs = client.diagnostics.stream_logs(timeout=DETECTED_WITHIN + 5)
        events = iter(logs)
        _read_until_subscribed(events)
        proxy.blackhole()
        logs.stop()  # swallowed by the black hole: the server never answers it
        assert list(events) == []  # ends once the keepalive notices the loss
        assert logs.finished and logs.reopened == 0 and proxy.connections == 1


# -- a cap on predictions in flight -------------------------------------------------------------


def test_sync_prediction_cap_queues(slow_thread: ServerThread) -> None:
    with lms.Client(slow_thread.url, timeout=10, max_concurrent_predictions=1) as client:
        model = client.llm.model(ECHO)
        first = model.respond_stream("!long 1000")
        fragments = iter(first)  # kept: a dropped iterator would cancel the prediction
        next(fragments)
        finished: list[str] = []
        second_started = threading.Event()

        def second() -> None:
            second_started.set()
            finished.append(model.respond("queued").content)

        worker = threading.Thread(target=second)
        worker.start()
        second_started.wait(5)
        # The second waits for the first's slot; its own timeout bounds that wait.
        with pytest.raises(lms.LMStudioTimeoutError, match="max_concurrent_predictions"):
            model.respond("third", timeout=0.2)
        assert finished == []
        first.cancel()
        assert first.result().stats.stop_reason == "userStopped"
        worker.join(10)
        assert finished == ["You said: queued"]


async def test_async_prediction_cap_queues(slow_thread: ServerThread) -> None:
    async with lms.AsyncClient(slow_thread.url, timeout=10, max_concurrent_predictions=1) as client:
        model = await client.llm.model(ECHO)
        first = model.respond_stream("!long 1000")
        fragments = aiter(first)
        await anext(fragments)
        queued = asyncio.ensure_future(model.respond("queued"))
        with pytest.raises(lms.LMStudioTimeoutError, match="max_concurrent_predictions"):
            await model.respond("third", timeout=0.2)
        assert not queued.done()
        first.cancel()
        assert (await first.result()).stats.stop_reason == "userStopped"
        assert (await queued).content == "You said: queued"

    async with lms.AsyncClient(slow_thread.url, timeout=10, max_concurrent_predictions=2) as client:
        model = client.llm.handle(ECHO)
        contents = await asyncio.gather(*(model.respond(f"!long {3 + i}") for i in range(5)))
        assert [c.content.split()[-1] for c in contents] == [f"word{2 + i}" for i in range(5)]
        # Every slot came back (the cap counts channels, freed however they end).
        assert client._pool._prediction_gate is not None
        assert client._pool._prediction_gate._free == 2
    await no_pending_tasks()
