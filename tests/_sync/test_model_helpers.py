# GENERATED from tests/_async/test_model_helpers.py by scripts/unasync.py. Do not edit: edit the source.
"""Model helpers on handles and namespaces (processing state, resource estimate, base
prediction config), full model queries for dynamic handles, and LM Link device identifiers,
against the embedded server (scripted engine) over real loopback WebSockets. Written once for
the async face; ``scripts/unasync.py`` generates the sync twin.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Callable, Iterator
from typing import Any

import pytest

import lmstudio_sdk as lms
from lmstudio_sdk._transport.sync import Worker
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
def client(url: str) -> Iterator[lms.Client]:
    with lms.Client(url, timeout=10) as client:
        yield client
        for namespace in (client.llm, client.embedding):
            for handle in namespace.list_loaded():
                handle.unload()


def test_processing_state_sees_other_clients_work(client: lms.Client, url: str) -> None:
    model = client.llm.load(ECHO)
    embedder = client.embedding.load(EMBED)
    assert model.get_processing_state() == lms.ModelProcessingState(status="idle", queued=0)
    assert (embedder.get_processing_state()).status == "idle"
    with lms.Client(url, timeout=10) as other:
        theirs = other.llm.model(ECHO)
        first = theirs.respond_stream("!long 500")
        for _ in first:
            break  # running now
        state = model.get_processing_state()
        assert state.status in ("processingPrompt", "generating") and state.queued == 1
        second = theirs.respond_stream("!long 500")

        def start_second() -> None:
            for _ in second:
                break

        waiter = Worker(start_second, "test second prediction")
        deadline = time.monotonic() + 10
        while (model.get_processing_state()).queued < 2:  # the second waits for the slot
            assert time.monotonic() < deadline, "the second prediction was never queued"
        first.close()
        assert waiter.join(10), "the second prediction never started"
        second.close()
    deadline = time.monotonic() + 10
    while (state := model.get_processing_state()).queued:  # the cancels land
        assert time.monotonic() < deadline, state
    assert state == lms.ModelProcessingState(status="idle", queued=0)
    model.unload()
    with pytest.raises(lms.ModelNotFoundError):
        model.get_processing_state()


def test_base_prediction_config_is_the_servers_defaults(client: lms.Client) -> None:
    model = client.llm.load(ECHO)
    base = model.get_base_prediction_config()
    assert isinstance(base, lms.LlmPredictionConfig)
    assert base.temperature == 0.8 and base.top_k_sampling == 40
    assert base.max_tokens is False  # present, unchecked: no limit
    assert {f.key for f in base.raw.fields} >= {"llm.prediction.temperature"}
    with pytest.raises(lms.LMStudioValueError, match="timeout"):
        model.get_base_prediction_config(timeout=-1)


def test_estimate_resources_usage(client: lms.Client) -> None:
    info = next(m for m in client.system.list_downloaded_models("llm") if m.model_key == ECHO)
    small = client.llm.estimate_resources_usage(ECHO, {"context_length": 1024})
    large = client.llm.estimate_resources_usage(ECHO, {"context_length": 2048})
    assert isinstance(small, lms.EstimatedResourcesUsage)
    memory: lms.EstimatedModelMemoryUsage = small.memory
    assert memory.confidence == "low"  # no GGUF header behind the scripted engine
    assert memory.model_bytes == info.size_bytes
    assert memory.context_bytes == 1024 * RULE_OF_THUMB_BYTES_PER_TOKEN
    assert memory.total_bytes == memory.model_bytes + memory.context_bytes
    assert large.memory.context_bytes == 2 * memory.context_bytes
    assert small.passes_guardrails is True
    embedding = client.embedding.estimate_resources_usage(EMBED)
    assert embedding.memory.model_bytes > 0
    assert client.llm.list_loaded() == [], "estimating loads nothing"
    with pytest.raises(lms.ModelNotFoundError):
        client.llm.estimate_resources_usage("no-such-model")
    with pytest.raises(lms.LMStudioServerError, match="larger than this model supports"):
        client.llm.estimate_resources_usage(ECHO, {"context_length": 10**7})
    with pytest.raises(lms.ConfigKeyError):
        client.llm.estimate_resources_usage(ECHO, {"context_lenght": 5})  # type: ignore[arg-type]
    with pytest.raises(lms.LMStudioValueError, match="model_key"):
        client.llm.estimate_resources_usage(3)  # type: ignore[arg-type]


def test_full_model_queries(client: lms.Client) -> None:
    client.llm.load(ECHO)
    client.llm.load(VISION, identifier="eyes")
    by_vision = client.llm.handle(lms.ModelQuery(vision=True))
    assert (by_vision.get_info()).identifier == "eyes"
    by_dict = client.llm.handle({"path": "lmstudio-sdk/scripted-echo-1b-GGUF", "vision": False})
    assert (by_dict.get_info()).model_key == ECHO
    assert (by_dict.respond("hi")).content == "You said: hi"
    pinned = client.llm.model({"domain": "llm", "vision": True})
    assert pinned.identifier == "eyes"
    assert (client.llm.model(lms.ModelQuery(identifier="eyes"))).info is not None
    with pytest.raises(lms.ModelNotFoundError):
        client.llm.handle({"identifier": "nobody"}).get_info()
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
        client.llm.model({"identifier": ""})


def test_device_identifiers(client: lms.Client) -> None:
    own = (client.repository.lm_link_status()).device_identifier
    assert own is not None and own.startswith("lmstudio-sdk-")
    here = client.llm.load(ECHO, identifier="here", device_identifier=own)
    client.llm.load(ECHO, identifier="local", device_identifier=None)
    assert here.info is not None and here.info.device_identifier is None  # listed as local
    found = client.llm.model(ECHO, device_identifier=own)
    assert found.identifier == "here"
    by_query = client.llm.handle({"identifier": "local", "device_identifier": own})
    assert (by_query.get_info()).identifier == "local"
    pinned = client.llm.model({"identifier": "local"}, device_identifier=None)
    assert pinned.identifier == "local"
    assert {h.identifier for h in client.llm.list_loaded(device_identifier=None)} == {
        "here",
        "local",
    }
    # Instances are listed as this machine's (null), not by the device's identifier.
    assert client.llm.list_loaded(device_identifier=own) == []
    refusals: list[Callable[[], Any]] = [  # made inside pytest.raises (sync calls at once)
        lambda: client.llm.load(ECHO, device_identifier=OTHER_DEVICE),
        lambda: client.llm.model(ECHO, device_identifier=OTHER_DEVICE),
        lambda: client.llm.unload("here", device_identifier=OTHER_DEVICE),
        lambda: client.llm.estimate_resources_usage(ECHO, device_identifier=OTHER_DEVICE),
        lambda: client.llm.handle({"device_identifier": OTHER_DEVICE}).get_info(),
    ]
    for call in refusals:
        with pytest.raises(lms.DeviceNotFoundError, match=OTHER_DEVICE) as caught:
            call()
        assert caught.value.device_identifier == OTHER_DEVICE
        assert own in str(caught.value)
    client.llm.unload("here", device_identifier=own)
    client.llm.unload("local", device_identifier=None)
    assert client.llm.list_loaded() == []
    for bad in (5, ""):
        with pytest.raises(lms.LMStudioValueError, match="device_identifier"):
            client.llm.list_loaded(device_identifier=bad)  # type: ignore[arg-type]
        with pytest.raises(lms.LMStudioValueError, match="device_identifier"):
            client.llm.load(ECHO, device_identifier=bad)  # type: ignore[arg-type]
    with pytest.raises(lms.LMStudioValueError, match="pass one"):
        client.llm.model({"device_identifier": own}, device_identifier=None)
