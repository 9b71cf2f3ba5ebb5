"""AsyncPool / Pool: one client over several embedded servers (scripted engine), over real
loopback WebSockets. Written once for the async face; ``scripts/unasync.py`` generates the sync
twin. Concurrent calls run on the transport's Worker twin (tasks here, threads in the twin).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import pytest

import lmstudio_sdk as lms
from lmstudio_sdk._transport.asyncio import AsyncWorker
from lmstudio_sdk.server import ServerThread
from lmstudio_sdk.server.engines.scripted import ScriptedEngine
from tests.conftest import ServerProcess, free_port

ECHO = "scripted-echo-1b"
EMBED = "scripted-embed-small"


@pytest.fixture(scope="module")
def three() -> Iterator[list[str]]:
    """Three scripted servers, 20 ms per token (so that predictions overlap)."""
    with ExitStack() as stack:
        handles = [
            stack.enter_context(
                ServerThread(engine_factory=lambda: ScriptedEngine(token_delay=0.02), port=0)
            )
            for _ in range(3)
        ]
        yield [h.url for h in handles]


async def run_all(*targets: Any) -> None:
    workers = [AsyncWorker(target, "test pool") for target in targets]
    for worker in workers:
        assert await worker.join(30), "a pool call did not end within 30 s"


async def test_predictions_spread_over_the_hosts(three: list[str]) -> None:
    async with lms.AsyncPool(three, timeout=10) as pool:
        model = await pool.llm.model(ECHO)
        hosts: list[str | None] = []
        replies: list[str] = []

        async def one() -> None:
            stream = model.respond_stream("!long 15")
            async for _ in stream:
                pass
            replies.append((await stream.result()).content)
            hosts.append(stream.host)

        await run_all(*([one] * 6))
        assert len(replies) == 6
        assert all(r.split() == [f"word{i}" for i in range(15)] for r in replies)
        assert set(hosts) == set(three), f"every host serves: {hosts}"
        assert pool.in_flight() == dict.fromkeys(three, 0)
        loaded = await pool.llm.list_loaded()
        assert all(ECHO in {m.info.model_key for m in loaded[h] if m.info} for h in three)


async def test_complete_and_respond(three: list[str]) -> None:
    async with lms.AsyncPool(three, timeout=10) as pool:
        model = await pool.llm.model(ECHO)
        assert (await model.respond("hello")).content == "You said: hello"
        fragments: list[str] = []
        capped = await model.respond(
            "!long 9", config={"max_tokens": 4}, on_fragment=lambda f: fragments.append(f.content)
        )
        assert capped.content.split() == ["word0", "word1", "word2", "word3"]
        assert "".join(fragments) == capped.content
        assert (await model.complete("!long 3")).content.split() == ["word0", "word1", "word2"]


async def test_embeddings_are_spread_and_keep_their_order(three: list[str]) -> None:
    texts = [f"text number {i}" for i in range(7)]
    async with lms.AsyncClient(three[0], timeout=10) as client:
        single = await (await client.embedding.model(EMBED)).embed(texts)
        one = await (await client.embedding.model(EMBED)).embed("alone")
    async with lms.AsyncPool(three, timeout=10) as pool:
        model = await pool.embedding.model(EMBED)
        assert await model.embed(texts) == single
        assert await model.embed("alone") == one
        assert await model.embed([]) == []
        loaded = await pool.embedding.list_loaded()
        assert all(loaded[h] for h in three), "each host embedded a slice"


async def test_bad_input_is_refused_with_typed_errors(three: list[str]) -> None:
    with pytest.raises(lms.LMStudioValueError, match="empty"):
        lms.AsyncPool([])
    with pytest.raises(lms.LMStudioValueError, match="list"):
        lms.AsyncPool(three[0])
    with pytest.raises(lms.LMStudioValueError, match="twice"):
        lms.AsyncPool([three[0], three[0] + "/"])
    with pytest.raises(lms.LMStudioValueError, match="port"):
        lms.AsyncPool(["localhost"])
    with pytest.raises(lms.LMStudioValueError, match="retry_unstarted"):
        lms.AsyncPool(three, retry_unstarted="yes")  # type: ignore[arg-type]
    with pytest.raises(lms.LMStudioValueError, match="probe_interval"):
        lms.AsyncPool(three, probe_interval=0)
    with pytest.raises(lms.LMStudioValueError, match="retries"):
        lms.AsyncPool(three, retries=2)  # type: ignore[arg-type]
    async with lms.AsyncPool(three, timeout=10) as pool:
        with pytest.raises(lms.LMStudioValueError, match="key"):
            await pool.llm.model("")
        with pytest.raises(lms.LMStudioValueError, match="ttl"):
            await pool.llm.model(ECHO, tll=3)  # type: ignore[call-arg]
        model = await pool.llm.model(ECHO)
        with pytest.raises(lms.LMStudioValueError, match="bogus"):
            model.respond_stream("hi", bogus=1)  # type: ignore[call-arg]
        with pytest.raises(lms.ConfigKeyError, match="max_tokens"):
            model.respond_stream("hi", config={"max_tokenz": 3})  # type: ignore[arg-type]
        with pytest.raises(lms.LMStudioValueError, match="config="):
            model.respond_stream("hi", temperature=0.5)  # type: ignore[call-arg]
        with pytest.raises(lms.LMStudioValueError, match="timeout"):
            model.complete_stream("hi", timeout=-1)
        with pytest.raises(lms.LMStudioValueError, match="prompt"):
            model.complete_stream(123)  # type: ignore[arg-type]
        with pytest.raises(lms.LMStudioValueError):
            model.respond_stream(42)  # type: ignore[arg-type]
        embedder = await pool.embedding.model(EMBED)
        with pytest.raises(lms.LMStudioValueError, match="list of strings"):
            await embedder.embed(5)  # type: ignore[call-overload]
        with pytest.raises(lms.ModelNotFoundError):
            await pool.llm.model("no-such-model-anywhere")
    with pytest.raises(lms.HostUnavailableError, match="closed"):
        await pool.llm.model(ECHO)


async def test_a_dead_host_is_named_then_routed_around(three: list[str]) -> None:
    dead = f"127.0.0.1:{free_port()}"  # nothing listens there
    async with lms.AsyncPool([dead, three[0]], timeout=5) as pool:
        with pytest.raises(lms.HostUnavailableError) as caught:
            await pool.llm.model(ECHO)
        assert caught.value.host == dead and dead in str(caught.value)
        assert pool.hosts == {dead: False, three[0]: True}
        model = await pool.llm.model(ECHO)  # new calls go elsewhere
        stream = model.respond_stream("hi")
        assert (await stream.result()).content == "You said: hi"
        assert stream.host == three[0]


async def test_retry_unstarted_moves_the_call_to_another_host(three: list[str]) -> None:
    dead = f"127.0.0.1:{free_port()}"
    async with lms.AsyncPool([dead, three[1]], timeout=5, retry_unstarted=True) as pool:
        model = await pool.llm.model(ECHO)
        assert pool.hosts[dead] is False
        stream = model.respond_stream("again")
        assert (await stream.result()).content == "You said: again"
        assert stream.host == three[1]


async def test_no_healthy_host_left() -> None:
    dead = [f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"]
    async with lms.AsyncPool(dead, timeout=5, retry_unstarted=True, probe_timeout=1) as pool:
        with pytest.raises(lms.HostUnavailableError) as caught:
            await pool.llm.model(ECHO)
        assert caught.value.host is None
        assert all(name in str(caught.value) for name in dead)


async def test_the_probe_brings_a_host_back() -> None:
    process = ServerProcess(free_port())
    host = f"127.0.0.1:{process.port}"
    async with lms.AsyncPool([host], timeout=5, probe_interval=0.1, probe_timeout=1) as pool:
        assert await pool.check_health() == {host: False}
        process.start()
        try:
            deadline = time.monotonic() + 20
            while not pool.hosts[host] and time.monotonic() < deadline:
                await pool.check_health(timeout=1)  # the prober may get there first
            assert pool.hosts[host] is True
            model = await pool.llm.model(ECHO)
            assert (await model.respond("back")).content == "You said: back"
        finally:
            process.kill()


async def test_result_after_a_partial_iteration_continues_the_same_prediction(
    three: list[str],
) -> None:
    async with lms.AsyncPool(three, timeout=10) as pool:
        model = await pool.llm.model(ECHO)
        stream = model.respond_stream("!long 10")
        seen: list[str] = []
        async for fragment in stream:
            seen.append(fragment.content)
            if len(seen) == 3:
                break
        async for fragment in stream:  # iterating again continues
            seen.append(fragment.content)
            if len(seen) == 5:
                break
        result = await stream.result()
        assert result.content.split() == [f"word{i}" for i in range(10)]
        assert "".join(seen) == result.content[: len("".join(seen))]
        assert pool.in_flight() == dict.fromkeys(three, 0)
        async with model.respond_stream("!long 200") as early:
            async for _ in early:
                break
        assert pool.in_flight() == dict.fromkeys(three, 0), "aclose releases the host"


async def test_a_model_unloaded_behind_the_pools_back_is_loaded_again(three: list[str]) -> None:
    async with lms.AsyncPool(three[2:], timeout=10) as pool:
        model = await pool.llm.model(ECHO)
        assert (await model.respond("one")).content == "You said: one"
        async with lms.AsyncClient(three[2], timeout=10) as client:
            for loaded in await client.llm.list_loaded():
                await loaded.unload()
        assert (await model.respond("two")).content == "You said: two"
        assert pool.hosts == {three[2]: True}
