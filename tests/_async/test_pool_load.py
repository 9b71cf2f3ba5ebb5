"""AsyncPool / Pool routing by every client's load (the hosts' own reports) and by LM Link
device, against embedded servers (scripted engine, one prediction at a time, 20 ms a token)
over real loopback WebSockets. Written once for the async face; ``scripts/unasync.py``
generates the sync twin.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import ExitStack

import pytest

import lmstudio_sdk as lms
from lmstudio_sdk._transport.asyncio import AsyncWorker
from lmstudio_sdk.server import ServerThread
from lmstudio_sdk.server.engines.scripted import ScriptedEngine

ECHO = "scripted-echo-1b"
BUSY_REQUESTS = 4


@pytest.fixture
def two() -> Iterator[list[str]]:
    """Two fresh scripted servers (a test's other client leaves work on one)."""
    with ExitStack() as stack:
        handles = [
            stack.enter_context(
                ServerThread(engine_factory=lambda: ScriptedEngine(token_delay=0.02), port=0)
            )
            for _ in range(2)
        ]
        yield [h.url for h in handles]


class _Busy:
    """Another client keeping a host busy with long predictions (one runs, the rest wait)."""

    def __init__(self, client: lms.AsyncClient, model: lms.AsyncLLM) -> None:
        self.client = client
        self.model = model
        self.streams = [model.respond_stream("!long 2000") for _ in range(BUSY_REQUESTS)]
        self.workers: list[AsyncWorker] = []
        for stream in self.streams:

            async def drain(stream: lms.AsyncPredictionStream[lms.JsonValue] = stream) -> None:
                async for _ in stream:
                    pass

            self.workers.append(AsyncWorker(drain, "test busy client"))

    async def stop(self) -> None:
        for stream in self.streams:
            stream.cancel()
        for worker in self.workers:
            assert await worker.join(20), "a busy prediction did not stop"


@pytest.fixture
async def busy(two: list[str]) -> AsyncIterator[_Busy]:
    """The first host, busy with BUSY_REQUESTS predictions of another client."""
    async with lms.AsyncClient(two[0], timeout=10) as other:
        model = await other.llm.model(ECHO)
        load = _Busy(other, model)
        try:
            for _ in range(2000):  # each check is a round trip
                if (await model.get_processing_state()).queued == BUSY_REQUESTS:
                    break
            assert (await model.get_processing_state()).queued == BUSY_REQUESTS
            yield load
        finally:
            await load.stop()


async def run_all(*targets: object) -> None:
    workers = [AsyncWorker(target, "test pool") for target in targets]  # type: ignore[arg-type]
    for worker in workers:
        assert await worker.join(30), "a pool call did not end within 30 s"


async def test_a_host_busy_with_another_clients_work_gets_fewer_predictions(
    two: list[str], busy: _Busy
) -> None:
    busy_host, idle_host = two
    async with lms.AsyncPool(two, timeout=10) as pool:
        await pool.check_health()  # asks each host for its load now
        assert pool.host_load() == {busy_host: BUSY_REQUESTS, idle_host: 0}
        model = await pool.llm.model(ECHO)
        hosts: list[str | None] = []

        async def one() -> None:
            stream = model.respond_stream("!long 5")
            await stream.result()
            hosts.append(stream.host)

        await run_all(*([one] * BUSY_REQUESTS))
        # Counting only its own calls, the pool would have sent half of them to the busy host.
        assert hosts == [idle_host] * BUSY_REQUESTS, hosts
        assert pool.in_flight() == dict.fromkeys(two, 0)


async def test_the_reports_are_refreshed_in_the_background(two: list[str], busy: _Busy) -> None:
    busy_host, idle_host = two
    async with lms.AsyncPool(list(reversed(two)), timeout=10, load_ttl=0.2) as pool:
        assert pool.host_load() == {idle_host: 0, busy_host: 0}  # nothing reported yet
        model = await pool.llm.model(ECHO)
        # Each call asks for fresh reports when they are older than load_ttl; the prober
        # fetches them while the calls go on.
        for _ in range(200):
            if pool.host_load()[busy_host] == BUSY_REQUESTS:
                break
            assert (await model.respond("ping")).content == "You said: ping"
        assert pool.host_load() == {idle_host: 0, busy_host: BUSY_REQUESTS}
        stream = model.respond_stream("!long 3")
        await stream.result()
        assert stream.host == idle_host


async def test_a_host_given_with_its_device(two: list[str]) -> None:
    url = two[1]
    async with lms.AsyncClient(url, timeout=10) as client:
        own = (await client.repository.lm_link_status()).device_identifier
        assert own is not None
    async with lms.AsyncPool([(url, own)], timeout=10) as pool:
        name = f"{url}@{own}"
        assert pool.hosts == {name: True}
        model = await pool.llm.model(ECHO)
        stream = model.respond_stream("device")
        assert (await stream.result()).content == "You said: device"
        assert stream.host == name
        await pool.check_health()
        assert pool.host_load() == {name: 0}
    async with lms.AsyncPool([(url, "peer-device-9")], timeout=10) as pool:
        with pytest.raises(lms.DeviceNotFoundError, match="peer-device-9"):
            await pool.llm.model(ECHO)
    both = lms.AsyncPool([(url, "a"), (url, "b"), url], timeout=10)
    assert list(both.hosts) == [f"{url}@a", f"{url}@b", url]
    await both.aclose()
    for bad, match in (
        ([(url,)], "pair"),
        ([(url, "")], "pair"),
        ([(url, 5)], "pair"),
        ([(url, "a"), (url, "a")], "twice"),
    ):
        with pytest.raises(lms.LMStudioValueError, match=match):
            lms.AsyncPool(bad)  # type: ignore[arg-type]
    with pytest.raises(lms.LMStudioValueError, match="load_ttl"):
        lms.AsyncPool([url], load_ttl=0)
