"""The envelope codec: exact wire shapes and hypothesis round trips of every struct."""

from __future__ import annotations

import json
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from msgspec import UNSET, Raw

from lmstudio_sdk._protocol import envelope as wire

# -- strategies -------------------------------------------------------------------------------

json_values: st.SearchStrategy[Any] = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
raws = json_values.map(wire.raw)
maybe_raw = st.just(UNSET) | raws
ids = st.integers(min_value=-(2**63), max_value=2**64 - 1)
texts = st.text(max_size=30)
patches = st.lists(
    st.fixed_dictionaries(
        {
            "op": st.sampled_from(["replace", "add", "remove"]),
            "path": st.lists(st.text(max_size=5) | st.integers(0, 9), max_size=3),
        },
        optional={"value": json_values},
    ).map(wire.raw),
    max_size=3,
)
tags = st.lists(texts, max_size=3)

STRATEGIES: dict[type[msgspec.Struct], st.SearchStrategy[Any]] = {
    wire.RpcCall: st.builds(wire.RpcCall, endpoint=texts, call_id=ids, parameter=maybe_raw),
    wire.ChannelCreate: st.builds(
        wire.ChannelCreate, endpoint=texts, channel_id=ids, creation_parameter=maybe_raw
    ),
    wire.ChannelSend: st.builds(
        wire.ChannelSend, channel_id=ids, message=raws, ack_id=st.just(UNSET) | ids
    ),
    wire.ChannelAck: st.builds(wire.ChannelAck, channel_id=ids, ack_id=ids),
    wire.SignalSubscribe: st.builds(
        wire.SignalSubscribe, endpoint=texts, subscribe_id=ids, creation_parameter=maybe_raw
    ),
    wire.SignalUnsubscribe: st.builds(wire.SignalUnsubscribe, subscribe_id=ids),
    wire.WritableSignalSubscribe: st.builds(
        wire.WritableSignalSubscribe, endpoint=texts, subscribe_id=ids, creation_parameter=maybe_raw
    ),
    wire.WritableSignalUnsubscribe: st.builds(wire.WritableSignalUnsubscribe, subscribe_id=ids),
    wire.WritableSignalUpdate: st.builds(
        wire.WritableSignalUpdate, subscribe_id=ids, patches=patches, tags=tags
    ),
    wire.CommunicationWarning: st.builds(
        wire.CommunicationWarning, warning=texts, kind=st.just(UNSET) | texts
    ),
    wire.KeepAlive: st.builds(wire.KeepAlive),
    wire.RpcResult: st.builds(wire.RpcResult, call_id=ids, result=maybe_raw),
    wire.RpcError: st.builds(wire.RpcError, call_id=ids, error=raws),
    wire.ChannelClose: st.builds(wire.ChannelClose, channel_id=ids),
    wire.ChannelError: st.builds(wire.ChannelError, channel_id=ids, error=raws),
    wire.SignalUpdate: st.builds(wire.SignalUpdate, subscribe_id=ids, patches=patches, tags=tags),
    wire.SignalError: st.builds(wire.SignalError, subscribe_id=ids, error=raws),
    wire.WritableSignalError: st.builds(wire.WritableSignalError, subscribe_id=ids, error=raws),
    wire.KeepAliveAck: st.builds(wire.KeepAliveAck),
}

CLIENT_TYPES = list(wire.ClientMessage.__args__)
SERVER_TYPES = list(wire.ServerMessage.__args__)


def test_every_union_member_has_a_strategy() -> None:
    assert set(CLIENT_TYPES) | set(SERVER_TYPES) == set(STRATEGIES)
    assert len(CLIENT_TYPES) == 11
    assert len(SERVER_TYPES) == 12


# -- round trips ------------------------------------------------------------------------------


@pytest.mark.parametrize("cls", CLIENT_TYPES, ids=lambda c: c.__name__)
@settings(max_examples=30, deadline=None, database=None)
@given(data=st.data())
def test_client_messages_round_trip(cls: type[msgspec.Struct], data: st.DataObject) -> None:
    message = data.draw(STRATEGIES[cls])
    text = wire.encode(message)
    assert isinstance(text, str)
    decoded = wire.decode_client_message(text)
    assert decoded == message
    assert type(decoded) is cls
    assert wire.decode_client_message(text.encode()) == message
    assert wire.encode(decoded) == text


@pytest.mark.parametrize("cls", SERVER_TYPES, ids=lambda c: c.__name__)
@settings(max_examples=30, deadline=None, database=None)
@given(data=st.data())
def test_server_messages_round_trip(cls: type[msgspec.Struct], data: st.DataObject) -> None:
    message = data.draw(STRATEGIES[cls])
    text = wire.encode(message)
    decoded = wire.decode_server_message(text)
    assert decoded == message
    assert type(decoded) is cls
    assert wire.decode_server_message(text.encode()) == message
    assert wire.encode(decoded) == text


@pytest.mark.parametrize(
    "cls", [c for c in CLIENT_TYPES if c not in SERVER_TYPES], ids=lambda c: c.__name__
)
@settings(max_examples=10, deadline=None, database=None)
@given(data=st.data())
def test_client_only_messages_are_not_server_messages(
    cls: type[msgspec.Struct], data: st.DataObject
) -> None:
    with pytest.raises(msgspec.ValidationError, match=r"Invalid value '\w+' - at `\$.type`"):
        wire.decode_server_message(wire.encode(data.draw(STRATEGIES[cls])))


@pytest.mark.parametrize(
    "cls", [c for c in SERVER_TYPES if c not in CLIENT_TYPES], ids=lambda c: c.__name__
)
@settings(max_examples=10, deadline=None, database=None)
@given(data=st.data())
def test_server_only_messages_are_not_client_messages(
    cls: type[msgspec.Struct], data: st.DataObject
) -> None:
    with pytest.raises(msgspec.ValidationError, match=r"Invalid value '\w+' - at `\$.type`"):
        wire.decode_client_message(wire.encode(data.draw(STRATEGIES[cls])))


@settings(max_examples=50, deadline=None, database=None)
@given(identifier=st.text(max_size=256), passkey=st.text(max_size=256))
def test_auth_packet_round_trip(identifier: str, passkey: str) -> None:
    packet = wire.AuthPacket(auth_version=1, client_identifier=identifier, client_passkey=passkey)
    text = wire.encode(packet)
    assert json.loads(text) == {
        "authVersion": 1,
        "clientIdentifier": identifier,
        "clientPasskey": passkey,
    }
    assert msgspec.json.decode(text, type=wire.AuthPacket) == packet


@settings(max_examples=50, deadline=None, database=None)
@given(success=st.booleans(), error=maybe_raw)
def test_auth_reply_round_trip(success: bool, error: Raw | msgspec.UnsetType) -> None:
    reply = wire.AuthReply(success=success, error=error)
    text = wire.encode(reply)
    assert msgspec.json.decode(text, type=wire.AuthReply) == reply


# -- exact wire shapes (TS 2.0 / PY 1.5 recordings) -------------------------------------------


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        (
            wire.RpcCall(endpoint="listLoaded", call_id=0),
            '{"type":"rpcCall","endpoint":"listLoaded","callId":0}',
        ),
        (
            wire.RpcCall(
                endpoint="unloadModel", call_id=11, parameter=wire.raw({"identifier": "my-qwen"})
            ),
            '{"type":"rpcCall","endpoint":"unloadModel","callId":11,"parameter":{"identifier":"my-qwen"}}',
        ),
        (
            wire.ChannelCreate(endpoint="predict", channel_id=2, creation_parameter=wire.raw({})),
            '{"type":"channelCreate","endpoint":"predict","channelId":2,"creationParameter":{}}',
        ),
        (
            wire.ChannelCreate(endpoint="x", channel_id=0),
            '{"type":"channelCreate","endpoint":"x","channelId":0}',
        ),
        (
            wire.ChannelSend(channel_id=5, message=wire.raw({"type": "cancel"})),
            '{"type":"channelSend","channelId":5,"message":{"type":"cancel"}}',
        ),
        (
            wire.ChannelSend(channel_id=5, message=wire.raw(None), ack_id=0),
            '{"type":"channelSend","channelId":5,"message":null,"ackId":0}',
        ),
        (wire.ChannelAck(channel_id=1, ack_id=2), '{"type":"channelAck","channelId":1,"ackId":2}'),
        (wire.ChannelClose(channel_id=2), '{"type":"channelClose","channelId":2}'),
        (
            wire.ChannelError(channel_id=2, error=wire.raw({"title": "x"})),
            '{"type":"channelError","channelId":2,"error":{"title":"x"}}',
        ),
        (wire.RpcResult(call_id=11), '{"type":"rpcResult","callId":11}'),
        (
            wire.RpcResult(call_id=1, result=wire.raw(None)),
            '{"type":"rpcResult","callId":1,"result":null}',
        ),
        (
            wire.RpcError(call_id=13, error=wire.raw({"title": "t"})),
            '{"type":"rpcError","callId":13,"error":{"title":"t"}}',
        ),
        (
            wire.SignalSubscribe(endpoint="s", subscribe_id=0),
            '{"type":"signalSubscribe","endpoint":"s","subscribeId":0}',
        ),
        (wire.SignalUnsubscribe(subscribe_id=0), '{"type":"signalUnsubscribe","subscribeId":0}'),
        (
            wire.WritableSignalSubscribe(
                endpoint="w", subscribe_id=1, creation_parameter=wire.raw(1)
            ),
            '{"type":"writableSignalSubscribe","endpoint":"w","subscribeId":1,"creationParameter":1}',
        ),
        (
            wire.WritableSignalUnsubscribe(subscribe_id=1),
            '{"type":"writableSignalUnsubscribe","subscribeId":1}',
        ),
        (
            wire.WritableSignalUpdate(
                subscribe_id=1, patches=[wire.raw({"op": "remove", "path": [0]})], tags=["t"]
            ),
            '{"type":"writableSignalUpdate","subscribeId":1,"patches":[{"op":"remove","path":[0]}],"tags":["t"]}',
        ),
        (
            wire.SignalUpdate(subscribe_id=0, patches=[], tags=[]),
            '{"type":"signalUpdate","subscribeId":0,"patches":[],"tags":[]}',
        ),
        (
            wire.SignalError(subscribe_id=0, error=wire.raw("e")),
            '{"type":"signalError","subscribeId":0,"error":"e"}',
        ),
        (
            wire.WritableSignalError(subscribe_id=0, error=wire.raw("e")),
            '{"type":"writableSignalError","subscribeId":0,"error":"e"}',
        ),
        (wire.CommunicationWarning(warning="w"), '{"type":"communicationWarning","warning":"w"}'),
        (
            wire.CommunicationWarning(warning="w", kind="rpcUnknown"),
            '{"type":"communicationWarning","warning":"w","kind":"rpcUnknown"}',
        ),
        (wire.KeepAlive(), '{"type":"keepAlive"}'),
        (wire.KeepAliveAck(), '{"type":"keepAliveAck"}'),
        (
            wire.AuthPacket(
                auth_version=1, client_identifier="abcdEFGH", client_passkey="abcdefghijABCDEFGHIJ"
            ),
            '{"authVersion":1,"clientIdentifier":"abcdEFGH","clientPasskey":"abcdefghijABCDEFGHIJ"}',
        ),
        (wire.AuthReply(success=True), '{"success":true}'),
        (
            wire.AuthReply(success=False, error=wire.raw("Invalid passkey for client")),
            '{"success":false,"error":"Invalid passkey for client"}',
        ),
    ],
)
def test_exact_wire_text(message: msgspec.Struct, expected: str) -> None:
    assert wire.encode(message) == expected


def test_decoding_ignores_unknown_fields_and_keeps_payloads_verbatim() -> None:
    message = wire.decode_server_message(
        '{"type":"rpcResult","future":[1,2],"callId":6,"result": {"tokenCount" : 5}}'
    )
    assert message == wire.RpcResult(call_id=6, result=Raw(b'{"tokenCount" : 5}'))


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("", msgspec.DecodeError),
        ("{", msgspec.DecodeError),
        ("[]", msgspec.ValidationError),
        ("{}", msgspec.ValidationError),
        ('{"type":"nope"}', msgspec.ValidationError),
        ('{"type":"rpcResult"}', msgspec.ValidationError),
        ('{"type":"rpcResult","callId":true}', msgspec.ValidationError),
        ('{"type":"rpcResult","callId":1.0}', msgspec.ValidationError),
        ('{"type":"signalUpdate","subscribeId":1,"patches":{},"tags":[]}', msgspec.ValidationError),
    ],
)
def test_decoding_errors(text: str, error: type[Exception]) -> None:
    with pytest.raises(error):
        wire.decode_server_message(text)
    with pytest.raises(error):
        wire.decode_client_message(text)


def test_raw_pre_encodes_structs_and_builtins() -> None:
    assert wire.raw({"a": [1, None, True]}) == Raw(b'{"a":[1,null,true]}')
    assert wire.raw(wire.KeepAlive()) == Raw(b'{"type":"keepAlive"}')
    assert wire.UNSET is UNSET
