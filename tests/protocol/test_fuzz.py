"""Fuzzing both connection objects: arbitrary frames never raise and never break a socket."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from msgspec import UNSET

from lmstudio_sdk._protocol import envelope as wire
from lmstudio_sdk._protocol.client import MAX_WARNINGS_SENT, ClientConnection, State
from lmstudio_sdk._protocol.events import (
    Authenticated,
    AuthRequested,
    ChannelClosed,
    ChannelFailed,
    ChannelMessage,
    ChannelMessageReceived,
    ChannelOpened,
    ConnectionFailed,
    RpcFailed,
    RpcRequested,
    RpcSucceeded,
    WarningReceived,
)
from lmstudio_sdk._protocol.identity import Identity
from lmstudio_sdk._protocol.server import ServerConnection, ServerState

IDENTITY = Identity("abcdEFGH", "abcdefghijABCDEFGHIJ")
# Nested deeper than msgspec's recursion limit (msgspec raises RecursionError on these; both
# protocol cores treat them as malformed frames).
DEEP = ("[" * 5000, '{"a":' * 5000, '{"type":"rpcResult","callId":1,"result":' + "[" * 5000)

TYPES = [
    "rpcCall", "rpcResult", "rpcError", "channelCreate", "channelSend", "channelAck",
    "channelClose", "channelError", "signalSubscribe", "signalUnsubscribe", "signalUpdate",
    "signalError", "writableSignalSubscribe", "writableSignalUnsubscribe",
    "writableSignalUpdate", "writableSignalError", "communicationWarning", "keepAlive",
    "keepAliveAck",
]  # fmt: skip

json_values: st.SearchStrategy[Any] = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=10),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=6,
)
ids: st.SearchStrategy[Any] = st.integers(min_value=-2, max_value=5) | json_values
envelope_like = st.fixed_dictionaries(
    {},
    optional={
        "type": st.sampled_from(TYPES) | st.text(max_size=6) | json_values,
        "callId": ids,
        "channelId": ids,
        "subscribeId": ids,
        "ackId": ids,
        "endpoint": st.sampled_from(["predict", "listLoaded"]) | json_values,
        "parameter": json_values,
        "creationParameter": json_values,
        "result": json_values,
        "message": json_values,
        "error": json_values,
        "warning": st.text(max_size=10) | json_values,
        "kind": st.text(max_size=10) | json_values,
        "patches": st.lists(json_values, max_size=2) | json_values,
        "tags": st.lists(st.text(max_size=3), max_size=2) | json_values,
        "authVersion": st.just(1) | json_values,
        "clientIdentifier": st.text(max_size=8) | json_values,
        "clientPasskey": st.text(max_size=8) | json_values,
        "success": st.booleans() | json_values,
    },
)
frames: st.SearchStrategy[str | bytes] = st.one_of(
    envelope_like.map(json.dumps),
    envelope_like.map(json.dumps),
    json_values.map(json.dumps),
    st.text(max_size=40),
    st.binary(max_size=40),
    st.sampled_from(DEEP),
)


# -- client -----------------------------------------------------------------------------------


@settings(max_examples=100, deadline=None, database=None)
@given(frame=frames)
def test_client_auth_reply_fuzz(frame: str | bytes) -> None:
    conn = ClientConnection(IDENTITY)
    conn.data_to_send()
    conn.start_rpc("a")
    conn.receive_text(frame)
    events = conn.events_received()
    if conn.state is State.OPEN:
        assert events == [Authenticated()]
        assert [wire.decode_client_message(f) for f in conn.data_to_send()] == [
            wire.RpcCall(endpoint="a", call_id=1)
        ]
    else:
        assert conn.state is State.CLOSED
        assert [type(e) for e in events] == [RpcFailed, ConnectionFailed]
        assert conn.data_to_send() == []


@settings(max_examples=100, deadline=None, database=None)
@given(batch=st.lists(frames, min_size=1, max_size=8))
def test_client_never_raises_and_keeps_working(batch: list[str | bytes]) -> None:
    conn = ClientConnection(IDENTITY)
    conn.receive_text('{"success":true}')
    for endpoint in ("a", "b", "c"):
        conn.start_rpc(endpoint)
        conn.open_channel(endpoint)
    conn.events_received()
    conn.data_to_send()
    warnings_sent = 0

    for frame in batch:
        calls, channels = conn.open_calls, conn.open_channels
        conn.receive_text(frame)
        assert conn.state is State.OPEN
        for event in conn.events_received():
            match event:
                case RpcSucceeded(call_id=cid) | RpcFailed(call_id=cid):
                    assert cid in calls
                    assert cid not in conn.open_calls
                case ChannelMessage(channel_id=cid):
                    assert cid in channels
                case ChannelClosed(channel_id=cid) | ChannelFailed(channel_id=cid):
                    assert cid in channels
                    assert cid not in conn.open_channels
                case WarningReceived():
                    pass
                case _:  # pragma: no cover
                    raise AssertionError(event)
        for out in conn.data_to_send():
            message = wire.decode_client_message(out)  # everything we send is well-formed
            assert isinstance(message, wire.ChannelAck | wire.CommunicationWarning)
            warnings_sent += isinstance(message, wire.CommunicationWarning)
        assert warnings_sent <= MAX_WARNINGS_SENT

    call_id = conn.start_rpc("after")
    assert wire.decode_client_message(conn.data_to_send()[0]) == wire.RpcCall(
        endpoint="after", call_id=call_id
    )
    conn.receive_text(f'{{"type":"rpcResult","callId":{call_id}}}')
    assert conn.events_received() == [RpcSucceeded(call_id, UNSET)]


# -- server -----------------------------------------------------------------------------------


def server_out(conn: ServerConnection) -> list[wire.ServerMessage]:
    return [wire.decode_server_message(f) for f in conn.data_to_send()]


@settings(max_examples=100, deadline=None, database=None)
@given(batch=st.lists(frames, min_size=1, max_size=4))
def test_server_auth_fuzz(batch: list[str | bytes]) -> None:
    conn = ServerConnection()
    events = []
    for frame in batch:
        conn.receive_text(frame)
        events += conn.events_received()
        assert conn.data_to_send() == []
    assert len(events) <= 1
    assert all(isinstance(e, AuthRequested) for e in events)
    conn.accept_auth()
    assert conn.data_to_send() == ['{"success":true}']


@settings(max_examples=100, deadline=None, database=None)
@given(batch=st.lists(frames, min_size=1, max_size=8))
def test_server_never_raises_and_keeps_working(batch: list[str | bytes]) -> None:
    conn = ServerConnection()
    conn.receive_text('{"authVersion":1,"clientIdentifier":"a","clientPasskey":"b"}')
    conn.accept_auth()
    conn.data_to_send()
    conn.events_received()
    warnings_sent = 0

    for frame in batch:
        channels = conn.open_channels
        conn.receive_text(frame)
        assert conn.state is ServerState.OPEN
        for event in conn.events_received():
            match event:
                case ChannelMessageReceived(channel_id=cid):
                    assert cid in channels
                case ChannelOpened(channel_id=cid):
                    assert cid not in channels
                    assert cid in conn.open_channels
                case RpcRequested() | WarningReceived():
                    pass
                case _:  # pragma: no cover
                    raise AssertionError(event)
        for message in server_out(conn):
            assert isinstance(
                message, wire.ChannelAck | wire.CommunicationWarning | wire.KeepAliveAck
            )
            warnings_sent += isinstance(message, wire.CommunicationWarning)
        assert warnings_sent <= MAX_WARNINGS_SENT

    conn.receive_text('{"type":"keepAlive"}')
    assert server_out(conn) == [wire.KeepAliveAck()]
    conn.receive_text('{"type":"rpcCall","endpoint":"after","callId":1000}')
    assert conn.events_received() == [RpcRequested(1000, "after", UNSET)]
    conn.send_rpc_result(1000, {"ok": True})
    assert server_out(conn) == [wire.RpcResult(call_id=1000, result=wire.raw({"ok": True}))]
