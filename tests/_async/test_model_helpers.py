"""Model helpers on handles and namespaces (processing state, resource estimate, base
prediction config), full model queries for dynamic handles, and LM Link device identifiers,
against the embedded server (scripted engine) over real loopback WebSockets. Written once for
the async face; ``scripts/unasync.py`` generates the sync twin.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest

import lmstudio_sdk as lms
from lmstudio_sdk._transport.asyncio import AsyncWorker
from lmstudio_sdk.server import ServerThread
from lmstudio_sdk.server.engines.scripted import ScriptedEngine

ECHO = "scripted-echo-1b"
VISION = "scripted-vision-1b"
EMBED = "scripted-embed-small"
OTHER_DEVICE = "peer-device-7"
# The scripted engine has no GGUF header: the server's rule of thumb (bytes per context token).
RULE_OF_THUMB_BYTES_PER_TOKEN = 131_072


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    """A server of this module's own (its loaded models are the tests' business), 20 ms per
    token so that a prediction is still running when its state is read."""
    with ServerThread(engine_factory=lambda: ScriptedEngine(token_delay=0.02), port=0) as handle:
        yield handle.url


@pytest.fixture
async def client(url: str) -> AsyncIterator[lms.AsyncClient]:
    async with lms.AsyncClient(url, timeout=10) as client:
        yield client
        for namespace in (client.llm, client.embedding):
            for handle in await namespace.list_loaded():
                await handle.unload()


async def test_processing_state_sees_other_clients_work(client: lms.AsyncClient, url: str) -> None:
    model = await client.llm.load(ECHO)
    embedder = await client.embedding.load(EMBED)
    assert await model.get_processing_state() == lms.ModelProcessingState(status="idle", queued=0)
    assert (await embedder.get_processing_state()).status == "idle"
    async with lms.AsyncClient(url, timeout=10) as other:
        theirs = await other.llm.model(ECHO)
        first = theirs.respond_stream("!long 500")
        async for _ in first:
            break  # running now
        state = await model.get_processing_state()
        assert state.status in ("processingPrompt", "generating") and state.queued == 1
        second = theirs.respond_stream("!long 500")

        async def start_second() -> None:
            async for _ in second:
                break

        waiter = AsyncWorker(start_second, "test second prediction")
        deadline = time.monotonic() + 10
        while (await model.get_processing_state()).queued < 2:  # the second waits for the slot
            assert time.monotonic() < deadline, "the second prediction was never queued"
        await first.aclose()
        assert await waiter.join(10), "the second prediction never started"
        await second.aclose()
    deadline = time.monotonic() + 10
    while (state := await model.get_processing_state()).queued:  # the cancels land
        assert time.monotonic() < deadline, state
    assert state == lms.ModelProcessingState(status="idle", queued=0)
    await model.unload()
    with pytest.raises(lms.ModelNotFoundError):
        await model.get_processing_state()


async def test_base_prediction_config_is_the_servers_defaults(client: lms.AsyncClient) -> None:
    model = await client.llm.load(ECHO)
    base = await model.get_base_prediction_config()
    assert isinstance(base, lms.LlmPredictionConfig)
    assert base.temperature == 0.8 and base.top_k_sampling == 40
    assert base.max_tokens is False  # present, unchecked: no limit
    assert {f.key for f in base.raw.fields} >= {"llm.prediction.temperature"}
    with pytest.raises(lms.LMStudioValueError, match="timeout"):
        await model.get_base_prediction_config(timeout=-1)


async def test_estimate_resources_usage(client: lms.AsyncClient) -> None:
    info = next(m for m in await client.system.list_downloaded_models("llm") if m.model_key == ECHO)
    small = await client.llm.estimate_resources_usage(ECHO, {"context_length": 1024})
    large = await client.llm.estimate_resources_usage(ECHO, {"context_length": 2048})
    assert isinstance(small, lms.EstimatedResourcesUsage)
    memory: lms.EstimatedModelMemoryUsage = small.memory
    assert memory.confidence == "low"  # no GGUF header behind the scripted engine
    assert memory.model_bytes == info.size_bytes
    assert memory.context_bytes == 1024 * RULE_OF_THUMB_BYTES_PER_TOKEN
    assert memory.total_bytes == memory.model_bytes + memory.context_bytes
    assert large.memory.context_bytes == 2 * memory.context_bytes
    assert small.passes_guardrails is True
    embedding = await client.embedding.estimate_resources_usage(EMBED)
    assert embedding.memory.model_bytes > 0
    assert await client.llm.list_loaded() == [], "estimating loads nothing"
    with pytest.raises(lms.ModelNotFoundError):
        await client.llm.estimate_resources_usage("no-such-model")
    with pytest.raises(lms.LMStudioServerError, match="larger than this model supports"):
        await client.llm.estimate_resources_usage(ECHO, {"context_length": 10**7})
    with pytest.raises(lms.ConfigKeyError):
        await client.llm.estimate_resources_usage(ECHO, {"context_lenght": 5})  # type: ignore[arg-type]
    with pytest.raises(lms.LMStudioValueError, match="model_key"):
        await client.llm.estimate_resources_usage(3)  # type: ignore[arg-type]


async def test_full_model_queries(client: lms.AsyncClient) -> None:
    await client.llm.load(ECHO)
    await client.llm.load(VISION, identifier="eyes")
    by_vision = client.llm.handle(lms.ModelQuery(vision=True))
    assert (await by_vision.get_info()).identifier == "eyes"
    by_dict = client.llm.handle({"path": "lmstudio-sdk/scripted-echo-1b-GGUF", "vision": False})
    assert (await by_dict.get_info()).model_key == ECHO
    assert (await by_dict.respond("hi")).content == "You said: hi"
    pinned = await client.llm.model({"domain": "llm", "vision": True})
    assert pinned.identifier == "eyes"
    assert (await client.llm.model(lms.ModelQuery(identifier="eyes"))).info is not None
    with pytest.raises(lms.ModelNotFoundError):
        await client.llm.handle({"identifier": "nobody"}).get_info()
    # Impossible or malformed queries are refused before anything is sent.
    with pytest.raises(lms.LMStudioValueError, match="domain='embedding' can never match"):
        client.llm.handle({"domain": "embedding"})
    with pytest.raises(lms.LMStudioValueError, match="embedding models take no images"):
        client.embedding.handle(lms.ModelQuery(vision=True))
    with pytest.raises(lms.LMStudioValueError, match="no member 'visoin'"):
        client.llm.handle({"visoin": True})  # type: ignore[arg-type]
    with pytest.raises(lms.LMStudioValueError, match="vision must be True or False"):
        client.llm.handle({"vision": "yes"})  # type: ignore[arg-type]
    with pytest.raises(lms.LMStudioValueError, match="forward"):
        client.llm.handle({"path": "a\\b"})
    with pytest.raises(lms.LMStudioValueError, match="path="):
        client.llm.handle(lms.ModelQuery(identifier="eyes"), path="x")
    with pytest.raises(lms.LMStudioValueError, match="ModelQuery"):
        client.llm.handle(42)  # type: ignore[arg-type]
    with pytest.raises(lms.LMStudioValueError, match="identifier"):
        await client.llm.model({"identifier": ""})


async def test_device_identifiers(client: lms.AsyncClient) -> None:
    own = (await client.repository.lm_link_status()).device_identifier
    assert own is not None and own.startswith("lmstudio-sdk-")
    here = await client.llm.load(ECHO, identifier="here", device_identifier=own)
    await client.llm.load(ECHO, identifier="local", device_identifier=None)
    assert here.info is not None and here.info.device_identifier is None  # listed as local
    found = await client.llm.model(ECHO, device_identifier=own)
    assert found.identifier == "here"
    by_query = client.llm.handle({"identifier": "local", "device_identifier": own})
    assert (await by_query.get_info()).identifier == "local"
    pinned = await client.llm.model({"identifier": "local"}, device_identifier=None)
    assert pinned.identifier == "local"
    assert {h.identifier for h in await client.llm.list_loaded(device_identifier=None)} == {
        "here",
        "local",
    }
    # Instances are listed as this machine's (null), not by the device's identifier.
    assert await client.llm.list_loaded(device_identifier=own) == []
    refusals: list[Callable[[], Any]] = [  # made inside pytest.raises (sync calls at once)
        lambda: client.llm.load(ECHO, device_identifier=OTHER_DEVICE),
        lambda: client.llm.model(ECHO, device_identifier=OTHER_DEVICE),
        lambda: client.llm.unload("here", device_identifier=OTHER_DEVICE),
        lambda: client.llm.estimate_resources_usage(ECHO, device_identifier=OTHER_DEVICE),
        lambda: client.llm.handle({"device_identifier": OTHER_DEVICE}).get_info(),
    ]
    for call in refusals:
        with pytest.raises(lms.DeviceNotFoundError, match=OTHER_DEVICE) as caught:
            await call()
        assert caught.value.device_identifier == OTHER_DEVICE
        assert own in str(caught.value)
    await client.llm.unload("here", device_identifier=own)
    await client.llm.unload("local", device_identifier=None)
    assert await client.llm.list_loaded() == []
    for bad in (5, ""):
        with pytest.raises(lms.LMStudioValueError, match="device_identifier"):
            await client.llm.list_loaded(device_identifier=bad)  # type: ignore[arg-type]
        with pytest.raises(lms.LMStudioValueError, match="device_identifier"):
            await client.llm.load(ECHO, device_identifier=bad)  # type: ignore[arg-type]
    with pytest.raises(lms.LMStudioValueError, match="pass one"):
        await client.llm.model({"device_identifier": own}, device_identifier=None)
