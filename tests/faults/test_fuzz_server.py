"""The server's receive path fed malformed client frames over a raw WebSocket: each bad frame
gets at most a communicationWarning (five per socket) or the close of that socket, the socket
that survives still answers, and the server keeps serving every other client."""

from __future__ import annotations

import contextlib
import json
import logging
import time
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

import lmstudio_sdk as lms
from lmstudio_sdk.server import ServerThread
from lmstudio_sdk.server.engines.scripted import ScriptedEngine

TIMEOUT = 5.0
CLIENT_TYPES = [
    "rpcCall", "channelCreate", "channelSend", "channelAck", "signalSubscribe",
    "signalUnsubscribe", "writableSignalSubscribe", "writableSignalUnsubscribe",
    "writableSignalUpdate", "communicationWarning", "keepAlive", "rpcResult", "bogus",
]  # fmt: skip
ENDPOINTS = [
    "version", "listDownloadedModels", "predict", "getOrLoad", "listLoaded", "tokenize",
    "uploadFileBase64", "alive", "nope",
]  # fmt: skip
DEEP = ["[" * 5000, '{"a":' * 100_000, '{"type":"rpcCall","callId":1,"parameter":' + "[" * 5000]

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
ids = st.integers(min_value=-1, max_value=5) | json_values
envelopes = st.fixed_dictionaries(
    {"type": st.sampled_from(CLIENT_TYPES) | json_values},
    optional={
        "endpoint": st.sampled_from(ENDPOINTS) | json_values,
        "callId": ids,
        "channelId": ids,
        "subscribeId": ids,
        "ackId": ids,
        "parameter": json_values,
        "creationParameter": json_values,
        "message": st.just({"type": "cancel"}) | json_values,
        "warning": json_values,
    },
)
frames: st.SearchStrategy[str | bytes] = (
    envelopes.map(json.dumps)
    | st.text(max_size=30)
    | st.binary(max_size=30)
    | st.sampled_from(DEEP)
)


@pytest.fixture(scope="module")
def target() -> Iterator[ServerThread]:
    with ServerThread(engine_factory=lambda: ScriptedEngine(), port=0) as handle:
        yield handle


@contextlib.contextmanager
def raw_socket(url: str, namespace: str) -> Iterator[ClientConnection]:
    with connect(url + namespace, open_timeout=TIMEOUT, max_size=None, compression=None) as ws:
        auth = {"authVersion": 1, "clientIdentifier": "fuzzer", "clientPasskey": "pw"}
        ws.send(json.dumps(auth))
        assert json.loads(ws.recv(TIMEOUT)) == {"success": True}
        yield ws


def still_answers(ws: ClientConnection) -> tuple[bool, int]:
    """(answered a keepAlive, warnings seen before the answer); (False, n) if closed."""
    warnings = 0
    try:
        ws.send('{"type":"keepAlive"}')
        deadline = time.monotonic() + TIMEOUT
        while True:
            frame = json.loads(ws.recv(max(0.0, deadline - time.monotonic())))
            if frame.get("type") == "communicationWarning":
                warnings += 1
            elif frame.get("type") == "keepAliveAck":
                return True, warnings
    except ConnectionClosed:
        return False, warnings


@pytest.mark.parametrize("namespace", ["/llm", "/system", "/files"])
def test_server_survives_malformed_frames(
    target: ServerThread, namespace: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="lmstudio_sdk")
    with lms.Client(target.url, timeout=TIMEOUT) as bystander:

        @settings(
            max_examples=50,
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.too_slow],
        )
        @given(batch=st.lists(frames, min_size=1, max_size=8))
        def check(batch: list[str | bytes]) -> None:
            with raw_socket(target.url, namespace) as ws:
                closed = False
                try:
                    for frame in batch:
                        ws.send(frame)
                except ConnectionClosed:
                    closed = True
                if not closed:
                    answered, warnings = still_answers(ws)
                    # Either the server closed this socket, or it answers, having warned at
                    # most five times.
                    assert warnings <= 5 or not answered
            # Another client is served all along.
            assert bystander.system.get_lmstudio_version()

        check()
    # No handler or dispatch bug was logged.
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
    # Nothing is left running for the fuzzer's sockets.
    stats = target.call(lambda server: server.statistics())
    assert stats.running_tasks <= stats.open_sockets


def test_invalid_utf8_text_frame_closes_only_that_socket(target: ServerThread) -> None:
    with lms.Client(target.url, timeout=TIMEOUT) as bystander:
        assert bystander.system.get_lmstudio_version()
        with raw_socket(target.url, "/system") as ws:
            ws.send(b"\xff\xfe not utf-8", text=True)
            with pytest.raises(ConnectionClosed) as caught:
                while True:
                    ws.recv(TIMEOUT)
            assert caught.value.rcvd is not None and caught.value.rcvd.code == 1007
        assert bystander.system.get_lmstudio_version()


def test_binary_and_deep_frames_are_warnings(target: ServerThread) -> None:
    with raw_socket(target.url, "/system") as ws:
        ws.send(b"\x00binary")
        ws.send('{"a":' * 100_000)
        ws.send('{"type":"rpcCall","endpoint":"version","callId":' + "[" * 5000)
        answered, warnings = still_answers(ws)
        assert answered and warnings == 3
        ws.send(json.dumps({"type": "rpcCall", "endpoint": "version", "callId": 1}))
        reply = json.loads(ws.recv(TIMEOUT))
        assert reply["type"] == "rpcResult" and reply["callId"] == 1
