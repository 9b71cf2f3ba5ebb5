"""The client's receive path against a hostile server (a real WebSocket server in a thread):
malformed JSON, wrong types, unknown message types, unknown ids, absurd nesting, a channel closed
before its result, a frame beyond the size limit. The affected call gets at most a typed error,
the connection never breaks (a probe on the same socket answers afterwards), nothing hangs."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import lmstudio_sdk as lms
from lmstudio_sdk._transport.common import MAX_FRAME_BYTES
from tests.faults.helpers import ID, HostileServer

CALL_TIMEOUT = 5.0
MODES = ("rpc", "typed", "channel", "predict", "load")
NAMESPACE = {"rpc": "system", "typed": "system", "channel": "system", "predict": "llm"}

SERVER_TYPES = [
    "rpcResult", "rpcError", "channelSend", "channelAck", "channelClose", "channelError",
    "signalUpdate", "signalError", "writableSignalUpdate", "writableSignalError",
    "communicationWarning", "keepAliveAck", "rpcCall", "keepAlive", "noSuchType",
]  # fmt: skip
PACKET_TYPES = [
    "fragment", "promptProcessingProgress", "toolCallGenerationStart",
    "toolCallGenerationNameReceived", "toolCallGenerationArgumentFragmentGenerated",
    "toolCallGenerationEnd", "toolCallGenerationFailed", "success", "resolved", "progress",
    "loadProgress", "startLoading", "loadSuccess", "alreadyLoaded", "weird",
]  # fmt: skip
DEEP = ["[" * 5000, '{"a":' * 5000, '{"type":"rpcResult","callId":"<ID>","result":' + "[" * 5000]

json_values: st.SearchStrategy[Any] = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats()
    | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=6,
)
# Never-allocated ids only (besides "<ID>"): a hostile frame for an id the client allocates
# later would legitimately fail that later call, which is not what these tests look at.
ids: st.SearchStrategy[Any] = (
    st.just(ID)
    | st.integers(min_value=-1, max_value=0)
    | st.integers(min_value=10**6, max_value=10**6 + 3)
    | json_values
)
packets = st.fixed_dictionaries(
    {"type": st.sampled_from(PACKET_TYPES) | json_values},
    optional={
        "fragment": st.fixed_dictionaries(
            {},
            optional={
                "content": st.text(max_size=8) | json_values,
                "tokensCount": st.integers(-1, 5) | json_values,
                "containsDrafted": st.booleans() | json_values,
                "reasoningType": st.sampled_from(["none", "reasoning", "bogus"]) | json_values,
                "isStructural": st.booleans() | json_values,
            },
        )
        | json_values,
        "progress": st.floats() | json_values,
        "stats": st.fixed_dictionaries({"stopReason": st.text(max_size=8) | json_values})
        | json_values,
        "info": json_values,
        "error": json_values,
        "toolCallRequest": json_values,
        "name": json_values,
        "content": json_values,
    },
)
error_data = st.fixed_dictionaries(
    {},
    optional={
        "title": json_values,
        "cause": json_values,
        "displayData": st.fixed_dictionaries({"code": st.text(max_size=30) | json_values})
        | json_values,
    },
)
envelopes = st.fixed_dictionaries(
    {"type": st.sampled_from(SERVER_TYPES) | json_values},
    optional={
        "callId": ids,
        "channelId": ids,
        "result": json_values | packets,
        "message": packets | json_values,
        "error": error_data | json_values,
        "ackId": ids,
        "warning": json_values,
        "kind": json_values,
        "subscribeId": ids,
        "patches": json_values,
        "tags": json_values,
    },
)
frames: st.SearchStrategy[str | bytes] = (
    envelopes.map(json.dumps)
    | st.text(max_size=30)
    | st.binary(max_size=30)
    | st.sampled_from(DEEP)
)
scripts = st.lists(frames, max_size=6)


def check_outcome(run: Callable[[], Any]) -> None:
    """At most a typed, non-connection error; never a hang."""
    started = time.monotonic()
    try:
        run()
    except (lms.LMStudioConnectionError, lms.LMStudioTimeoutError):
        raise
    except lms.LMStudioError:
        pass
    assert time.monotonic() - started < CALL_TIMEOUT


@pytest.fixture(scope="module")
def hostile() -> Iterator[HostileServer]:
    with HostileServer() as server:
        yield server


@pytest.mark.parametrize("mode", MODES)
def test_sync_client_survives_hostile_frames(hostile: HostileServer, mode: str) -> None:
    with lms.Client(hostile.url, timeout=CALL_TIMEOUT) as client:
        namespace = NAMESPACE.get(mode, "llm")

        def run() -> None:
            if mode == "rpc":
                client.rpc("system", "hostile")
            elif mode == "typed":
                client.system.list_downloaded_models()
            elif mode == "channel":
                channel = client.open_channel("system", "hostile")
                while channel.receive_value(CALL_TIMEOUT) is not None:
                    pass
            elif mode == "predict":
                client.llm.handle("m").respond("hi")
            else:
                client.llm.load("m")

        @settings(
            max_examples=60,
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.too_slow],
        )
        @given(script=scripts)
        def check(script: list[str | bytes]) -> None:
            hostile.script = script
            answered = hostile.answered
            check_outcome(run)
            hostile.wait_answered(answered + 1)
            assert client.rpc(namespace, "probe") == "ok"

        check()


@pytest.mark.parametrize("mode", MODES)
def test_async_client_survives_hostile_frames(hostile: HostileServer, mode: str) -> None:
    with asyncio.Runner() as runner:
        client = lms.AsyncClient(hostile.url, timeout=CALL_TIMEOUT)
        namespace = NAMESPACE.get(mode, "llm")

        async def run() -> None:
            if mode == "rpc":
                await client.rpc("system", "hostile")
            elif mode == "typed":
                await client.system.list_downloaded_models()
            elif mode == "channel":
                channel = await client.open_channel("system", "hostile")
                while await channel.receive_value(CALL_TIMEOUT) is not None:
                    pass
            elif mode == "predict":
                await client.llm.handle("m").respond("hi")
            else:
                await client.llm.load("m")

        @settings(
            max_examples=60,
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.too_slow],
        )
        @given(script=scripts)
        def check(script: list[str | bytes]) -> None:
            hostile.script = script
            answered = hostile.answered
            check_outcome(lambda: runner.run(run()))
            hostile.wait_answered(answered + 1)
            assert runner.run(client.rpc(namespace, "probe")) == "ok"

        try:
            check()
        finally:
            runner.run(client.aclose())


# -- the specific cases, by name ------------------------------------------------------------------


def fragment(content: str) -> str:
    packet = {
        "type": "fragment",
        "fragment": {
            "content": content,
            "tokensCount": 1,
            "containsDrafted": False,
            "reasoningType": "none",
            "isStructural": False,
        },
    }
    return json.dumps({"type": "channelSend", "channelId": ID, "message": packet})


def test_channel_closed_before_success_is_a_protocol_error(hostile: HostileServer) -> None:
    hostile.script = [fragment("partial")]
    with lms.Client(hostile.url, timeout=CALL_TIMEOUT) as client:
        stream = client.llm.handle("m").respond_stream("hi")
        with pytest.raises(lms.RemoteProtocolError, match="before sending the final result"):
            assert [f.content for f in stream] == ["partial"]
        with pytest.raises(lms.RemoteProtocolError, match="before the model loaded"):
            client.llm.load("m")
        hostile.script = []
        assert client.rpc("llm", "probe") == "ok"


async def test_async_channel_closed_before_success(hostile: HostileServer) -> None:
    hostile.script = [fragment("partial")]
    async with lms.AsyncClient(hostile.url, timeout=CALL_TIMEOUT) as client:
        with pytest.raises(lms.RemoteProtocolError, match="before sending the final result"):
            await client.llm.handle("m").respond("hi")
        with pytest.raises(lms.RemoteProtocolError, match="before the model loaded"):
            await client.llm.load("m")
        assert await client.rpc("llm", "probe") == "ok"


def test_unknown_ids_and_types_are_ignored(hostile: HostileServer) -> None:
    hostile.script = [
        json.dumps({"type": "rpcResult", "callId": 999, "result": 1}),
        json.dumps({"type": "channelClose", "channelId": 999}),
        json.dumps({"type": "teleport", "channelId": 999}),
        json.dumps({"type": "signalUpdate", "subscribeId": 3, "patches": [], "tags": []}),
        json.dumps({"type": "rpcResult", "callId": ID, "result": "first"}),
        json.dumps({"type": "rpcResult", "callId": ID, "result": "second"}),  # a late duplicate
    ]
    with lms.Client(hostile.url, timeout=CALL_TIMEOUT) as client:
        assert client.rpc("system", "hostile") == "first"
        assert client.rpc("system", "probe") == "ok"
        # A message type from a newer server that names an open call does not fail it.
        hostile.script = [
            json.dumps({"type": "teleport", "callId": ID}),
            json.dumps({"type": "rpcResult", "callId": ID, "result": "after"}),
        ]
        assert client.rpc("system", "hostile") == "after"
        # A known message the client cannot decode that names an open call fails that call only.
        hostile.script = [json.dumps({"type": "rpcError", "callId": ID})]
        answered = hostile.answered
        with pytest.raises(lms.RemoteProtocolError, match="rpcError"):
            client.rpc("system", "hostile")
        hostile.wait_answered(answered + 1)
        assert client.rpc("system", "probe") == "ok"


@pytest.mark.parametrize("face", ["sync", "async"])
def test_a_frame_beyond_the_size_limit_fails_the_socket_not_the_client(
    hostile: HostileServer, face: str
) -> None:
    """A frame past MAX_FRAME_BYTES makes websockets close the socket (1009): every call on it
    gets a typed connection error, and the next call opens a new socket."""
    hostile.script = ["x" * (MAX_FRAME_BYTES + 1)]
    before = hostile.connections
    if face == "sync":
        with lms.Client(hostile.url, timeout=CALL_TIMEOUT) as client:
            with pytest.raises(lms.LMStudioConnectionError, match="too big"):
                client.rpc("system", "hostile")
            hostile.script = []
            assert client.rpc("system", "probe") == "ok"
    else:

        async def scenario() -> None:
            async with lms.AsyncClient(hostile.url, timeout=CALL_TIMEOUT) as client:
                with pytest.raises(lms.LMStudioConnectionError, match="too big"):
                    await client.rpc("system", "hostile")
                hostile.script = []
                assert await client.rpc("system", "probe") == "ok"

        asyncio.run(scenario())
    assert hostile.connections == before + 2
