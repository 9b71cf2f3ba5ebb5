"""ServerConnection as transcripts: client frames in, requests and server frames out."""

from __future__ import annotations

import json
from typing import Any

import pytest
from msgspec import UNSET, Raw

from lmstudio_sdk._exceptions import LocalProtocolError
from lmstudio_sdk._protocol.errors import error_data
from lmstudio_sdk._protocol.events import (
    AuthRequested,
    ChannelMessageReceived,
    ChannelOpened,
    RpcRequested,
    ServerEvent,
    WarningReceived,
)
from lmstudio_sdk._protocol.server import (
    FINISHED_CHANNELS_REMEMBERED,
    MAX_WARNINGS_SENT,
    ServerConnection,
    ServerState,
)

# Recorded auth packets of the official clients.
TS2_AUTH = (
    '{"authVersion": 1, "clientIdentifier": "guest:XJsF49fxG6OpPBTkmtPQ9s0W", '
    '"clientPasskey": "7s5wPupxW3JnIsrTwHVeFBhp"}'
)
PY15_AUTH = (
    '{"authVersion": 1, "clientIdentifier": "32150bf3-e1bd-49a9-954e-3ddb81badf9d", '
    '"clientPasskey": "974181de-716c-453a-82f6-40c6d7849b91"}'
)


def sent(conn: ServerConnection) -> list[Any]:
    return [json.loads(frame) for frame in conn.data_to_send()]


def feed(conn: ServerConnection, *frames: str | bytes | dict[str, Any]) -> list[ServerEvent]:
    for frame in frames:
        conn.receive_text(json.dumps(frame) if isinstance(frame, dict) else frame)
    return conn.events_received()


def warning(text: str, kind: str) -> dict[str, Any]:
    return {"type": "communicationWarning", "warning": text, "kind": kind}


def open_server() -> ServerConnection:
    conn = ServerConnection()
    assert feed(conn, TS2_AUTH) == [
        AuthRequested("guest:XJsF49fxG6OpPBTkmtPQ9s0W", "7s5wPupxW3JnIsrTwHVeFBhp")
    ]
    conn.accept_auth()
    assert conn.data_to_send() == ['{"success":true}']
    assert conn.state is ServerState.OPEN
    return conn


# -- authentication ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("packet", "identifier", "passkey"),
    [
        (TS2_AUTH, "guest:XJsF49fxG6OpPBTkmtPQ9s0W", "7s5wPupxW3JnIsrTwHVeFBhp"),
        (PY15_AUTH, "32150bf3-e1bd-49a9-954e-3ddb81badf9d", "974181de-716c-453a-82f6-40c6d7849b91"),
        (
            '{"authVersion":1,"clientIdentifier":"abcdEFGH","clientPasskey":"abcdefghijABCDEFGHIJ","x":1}',
            "abcdEFGH",
            "abcdefghijABCDEFGHIJ",
        ),
    ],
)
def test_recorded_auth_packets_are_requests(packet: str, identifier: str, passkey: str) -> None:
    conn = ServerConnection()
    assert conn.state is ServerState.AUTHENTICATING
    assert feed(conn, packet) == [AuthRequested(identifier, passkey)]
    assert conn.data_to_send() == []


def test_invalid_frames_are_ignored_while_waiting_for_the_auth_packet() -> None:
    conn = ServerConnection()
    invalid: list[str | bytes | dict[str, Any]] = [
        "",
        "garbage",
        b"\xff",
        "[]",
        "{}",
        {"authVersion": 2, "clientIdentifier": "a", "clientPasskey": "b"},
        {"authVersion": 1, "clientIdentifier": "a"},
        {"authVersion": 1, "clientIdentifier": 5, "clientPasskey": "b"},
        {"type": "rpcCall", "endpoint": "listLoaded", "callId": 0},
        {"type": "keepAlive"},
    ]
    assert feed(conn, *invalid) == []
    assert conn.data_to_send() == []
    assert conn.state is ServerState.AUTHENTICATING
    assert feed(conn, PY15_AUTH) == [
        AuthRequested(
            "32150bf3-e1bd-49a9-954e-3ddb81badf9d", "974181de-716c-453a-82f6-40c6d7849b91"
        )
    ]


def test_one_auth_packet_per_socket() -> None:
    conn = ServerConnection()
    assert len(feed(conn, TS2_AUTH)) == 1
    assert feed(conn, PY15_AUTH, '{"type":"rpcCall","endpoint":"x","callId":1}') == []
    conn.accept_auth()
    assert sent(conn) == [{"success": True}]
    assert feed(conn, PY15_AUTH) == []  # now it is just an invalid message
    assert sent(conn) == [
        warning("Received an invalid message: Object missing required field `type`", "unknown")
    ]


def test_accept_auth() -> None:
    conn = open_server()
    with pytest.raises(LocalProtocolError, match="connection is OPEN, not AUTHENTICATING"):
        conn.accept_auth()
    with pytest.raises(LocalProtocolError):
        conn.refuse_auth("late")
    assert conn.data_to_send() == []


def test_refuse_auth_sends_the_error_as_a_string_and_closes() -> None:
    conn = ServerConnection()
    feed(conn, TS2_AUTH)
    conn.refuse_auth("Invalid passkey for client")
    assert conn.data_to_send() == ['{"success":false,"error":"Invalid passkey for client"}']
    assert conn.state is ServerState.CLOSED
    assert feed(conn, '{"type":"rpcCall","endpoint":"x","callId":1}', "garbage") == []
    assert conn.data_to_send() == []
    with pytest.raises(LocalProtocolError, match="connection is CLOSED, not AUTHENTICATING"):
        conn.accept_auth()


def test_nothing_is_sent_before_the_connection_is_open() -> None:
    conn = ServerConnection()
    conn.send_warning("early")
    assert conn.data_to_send() == []
    with pytest.raises(LocalProtocolError, match="connection is AUTHENTICATING, not OPEN"):
        conn.send_rpc_result(0)
    with pytest.raises(LocalProtocolError):
        conn.send_channel_message(0, {})


# -- routing ----------------------------------------------------------------------------------


def test_rpc_call_routing() -> None:
    conn = open_server()
    events = feed(
        conn,
        '{"type":"rpcCall","endpoint":"listLoaded","callId":0}',
        '{"type":"rpcCall","endpoint":"countTokens","callId":1,"parameter":{"inputString":"hi"}}',
    )
    assert events == [
        RpcRequested(0, "listLoaded", UNSET),
        RpcRequested(1, "countTokens", Raw(b'{"inputString":"hi"}')),
    ]
    assert conn.data_to_send() == []


def test_channel_routing_and_acks() -> None:
    conn = open_server()
    events = feed(
        conn,
        '{"type":"channelCreate","endpoint":"predict","channelId":0,"creationParameter":{"a":1}}',
        '{"type":"channelCreate","endpoint":"loadModel","channelId":1}',
        '{"type":"channelSend","channelId":0,"message":{"type":"cancel"}}',
        '{"type":"channelSend","channelId":1,"message":{"type":"cancel"},"ackId":4}',
    )
    assert events == [
        ChannelOpened(0, "predict", Raw(b'{"a":1}')),
        ChannelOpened(1, "loadModel", UNSET),
        ChannelMessageReceived(0, Raw(b'{"type":"cancel"}')),
        ChannelMessageReceived(1, Raw(b'{"type":"cancel"}')),
    ]
    assert sent(conn) == [{"type": "channelAck", "channelId": 1, "ackId": 4}]
    assert conn.open_channels == frozenset({0, 1})


def test_call_and_channel_ids_are_separate_tables() -> None:
    conn = open_server()
    events = feed(
        conn,
        '{"type":"rpcCall","endpoint":"a","callId":1}',
        '{"type":"channelCreate","endpoint":"b","channelId":1}',
    )
    assert events == [RpcRequested(1, "a", UNSET), ChannelOpened(1, "b", UNSET)]
    assert conn.data_to_send() == []


def test_duplicate_ids_get_warnings_and_no_second_request() -> None:
    conn = open_server()
    feed(
        conn,
        '{"type":"rpcCall","endpoint":"a","callId":3}',
        '{"type":"channelCreate","endpoint":"b","channelId":3}',
    )
    assert (
        feed(
            conn,
            '{"type":"rpcCall","endpoint":"a","callId":3}',
            '{"type":"channelCreate","endpoint":"b","channelId":3}',
        )
        == []
    )
    assert sent(conn) == [
        warning("RPC call 3 is already in progress", "rpcUnknown"),
        warning("Channel 3 is already open", "channelAlreadyOpen"),
    ]
    # Once finished, an id may be used again.
    conn.send_rpc_result(3)
    conn.close_channel(3)
    conn.data_to_send()
    assert feed(
        conn,
        '{"type":"rpcCall","endpoint":"a","callId":3}',
        '{"type":"channelCreate","endpoint":"b","channelId":3}',
    ) == [RpcRequested(3, "a", UNSET), ChannelOpened(3, "b", UNSET)]


def test_channel_send_for_an_unknown_channel_is_warned_about_and_not_acked() -> None:
    conn = open_server()
    assert (
        feed(conn, '{"type":"channelSend","channelId":8,"message":{"type":"cancel"},"ackId":1}')
        == []
    )
    assert sent(conn) == [warning("Received a message for unknown channel 8", "channelUnknown")]


def test_keep_alive_is_acknowledged() -> None:
    conn = open_server()
    assert feed(conn, '{"type":"keepAlive"}', '{"type":"keepAlive"}') == []
    assert sent(conn) == [{"type": "keepAliveAck"}, {"type": "keepAliveAck"}]


def test_client_warnings_are_events() -> None:
    conn = open_server()
    assert feed(
        conn,
        '{"type":"communicationWarning","warning":"bad result","kind":"rpcResultTypeError"}',
        '{"type":"communicationWarning","warning":"no kind"}',
    ) == [
        WarningReceived("bad result", "rpcResultTypeError"),
        WarningReceived("no kind", "unknown"),
    ]
    assert conn.data_to_send() == []


def test_signal_subscriptions_are_refused_with_a_warning() -> None:
    conn = open_server()
    assert (
        feed(
            conn,
            '{"type":"signalSubscribe","endpoint":"loadedModels","subscribeId":0}',
            '{"type":"writableSignalSubscribe","endpoint":"config","subscribeId":0,"creationParameter":1}',
        )
        == []
    )
    assert sent(conn) == [
        warning("No signal endpoint named 'loadedModels'", "signalEndpointUnknown"),
        warning("No signal endpoint named 'config'", "writableSignalEndpointUnknown"),
    ]


@pytest.mark.parametrize(
    "frame",
    [
        '{"type":"signalUnsubscribe","subscribeId":0}',
        '{"type":"writableSignalUnsubscribe","subscribeId":0}',
        '{"type":"writableSignalUpdate","subscribeId":0,"patches":[],"tags":["a"]}',
        '{"type":"channelAck","channelId":0,"ackId":1}',
    ],
)
def test_messages_without_a_subscription_are_ignored(frame: str) -> None:
    conn = open_server()
    assert feed(conn, frame) == []
    assert conn.data_to_send() == []


@pytest.mark.parametrize(
    ("frame", "detail"),
    [
        ("garbage", "JSON is malformed: invalid character (byte 0)"),
        ('{"type":"rpcResult","callId":1}', "Invalid value 'rpcResult' - at `$.type`"),
        ('{"type":"rpcCall","callId":1}', "Object missing required field `endpoint`"),
        (
            '{"type":"rpcCall","endpoint":"a","callId":"1"}',
            "Expected `int`, got `str` - at `$.callId`",
        ),
        ('{"endpoint":"a","callId":1}', "Object missing required field `type`"),
    ],
)
def test_malformed_frames_get_a_warning_and_the_socket_keeps_serving(
    frame: str, detail: str
) -> None:
    conn = open_server()
    assert feed(conn, frame) == []
    assert sent(conn) == [warning(f"Received an invalid message: {detail}", "unknown")]
    assert feed(conn, '{"type":"rpcCall","endpoint":"a","callId":1}') == [
        RpcRequested(1, "a", UNSET)
    ]


def test_at_most_five_warnings_per_socket() -> None:
    conn = open_server()
    assert (
        feed(conn, *(["garbage"] * 4), '{"type":"signalSubscribe","endpoint":"s","subscribeId":0}')
        == []
    )
    assert len(sent(conn)) == 5
    assert MAX_WARNINGS_SENT == 5
    feed(conn, "garbage", '{"type":"channelSend","channelId":1,"message":{}}')
    conn.send_warning("by hand")
    assert conn.data_to_send() == []
    # Keep-alives are answers, not warnings: still sent.
    feed(conn, '{"type":"keepAlive"}')
    assert sent(conn) == [{"type": "keepAliveAck"}]


# -- replies and the terminal-message-once rule -----------------------------------------------


def test_rpc_replies() -> None:
    conn = open_server()
    feed(conn, *[f'{{"type":"rpcCall","endpoint":"e","callId":{n}}}' for n in range(4)])
    conn.send_rpc_result(0)
    conn.send_rpc_result(1, {"tokenCount": 5})
    conn.send_rpc_result(2, Raw(b"[1, 2]"))
    conn.send_rpc_error(3, error_data("No model", suggestion="Load it", display_data={"code": "x"}))
    assert conn.data_to_send() == [
        '{"type":"rpcResult","callId":0}',
        '{"type":"rpcResult","callId":1,"result":{"tokenCount":5}}',
        '{"type":"rpcResult","callId":2,"result":[1, 2]}',
        '{"type":"rpcError","callId":3,"error":{"title":"No model","suggestion":"Load it",'
        '"displayData":{"code":"x"},"rootTitle":"No model"}}',
    ]


def test_channel_replies() -> None:
    conn = open_server()
    feed(
        conn,
        '{"type":"channelCreate","endpoint":"predict","channelId":1}',
        '{"type":"channelCreate","endpoint":"loadModel","channelId":2}',
    )
    conn.send_channel_message(1, {"type": "fragment", "fragment": {"content": "Hi"}})
    conn.send_channel_message(1, Raw(b'{"type":"success"}'))
    conn.close_channel(1)
    conn.fail_channel(2, error_data("Out of memory"))
    assert conn.data_to_send() == [
        '{"type":"channelSend","channelId":1,"message":{"type":"fragment","fragment":{"content":"Hi"}}}',
        '{"type":"channelSend","channelId":1,"message":{"type":"success"}}',
        '{"type":"channelClose","channelId":1}',
        '{"type":"channelError","channelId":2,'
        '"error":{"title":"Out of memory","rootTitle":"Out of memory"}}',
    ]
    assert conn.open_channels == frozenset()


def test_a_second_terminal_message_for_a_call_is_refused_locally() -> None:
    conn = open_server()
    feed(conn, '{"type":"rpcCall","endpoint":"e","callId":1}')
    conn.send_rpc_result(1)
    conn.data_to_send()
    with pytest.raises(LocalProtocolError, match="call 1 is not open"):
        conn.send_rpc_result(1)
    with pytest.raises(LocalProtocolError, match="call 1 is not open"):
        conn.send_rpc_error(1, error_data("late"))
    with pytest.raises(LocalProtocolError, match="call 2 is not open"):
        conn.send_rpc_result(2)
    assert conn.data_to_send() == []


@pytest.mark.parametrize("end", ["close", "fail", "drop"])
def test_nothing_may_follow_the_end_of_a_channel(end: str) -> None:
    conn = open_server()
    feed(conn, '{"type":"channelCreate","endpoint":"predict","channelId":1}')
    if end == "close":
        conn.close_channel(1)
    elif end == "fail":
        conn.fail_channel(1, error_data("x"))
    else:
        conn.drop_channel(1)
    conn.data_to_send()
    with pytest.raises(LocalProtocolError, match="channel 1 is not open"):
        conn.close_channel(1)
    with pytest.raises(LocalProtocolError, match="channel 1 is not open"):
        conn.fail_channel(1, error_data("x"))
    with pytest.raises(LocalProtocolError, match="channel 1 is not open"):
        conn.send_channel_message(1, {"type": "fragment"})
    assert conn.data_to_send() == []
    # The client's cancel racing with the end is normal: dropped quietly, every time.
    for _ in range(3):
        assert feed(conn, '{"type":"channelSend","channelId":1,"message":{"type":"cancel"}}') == []
    assert sent(conn) == []
    # An id that was never opened is still warned about.
    assert feed(conn, '{"type":"channelSend","channelId":2,"message":{"type":"cancel"}}') == []
    assert sent(conn) == [warning("Received a message for unknown channel 2", "channelUnknown")]


def test_a_dropped_call_is_never_answered() -> None:
    conn = open_server()
    feed(conn, '{"type":"rpcCall","endpoint":"bad","callId":1,"parameter":5}')
    conn.drop_call(1)
    with pytest.raises(LocalProtocolError, match="call 1 is not open"):
        conn.send_rpc_result(1)
    assert conn.data_to_send() == []


def test_connection_lost_ends_everything() -> None:
    conn = open_server()
    feed(
        conn,
        '{"type":"rpcCall","endpoint":"a","callId":1}',
        '{"type":"channelCreate","endpoint":"b","channelId":1}',
    )
    conn.connection_lost()
    assert conn.state is ServerState.CLOSED
    assert conn.open_channels == frozenset()
    assert feed(conn, '{"type":"rpcCall","endpoint":"a","callId":2}', "garbage") == []
    with pytest.raises(LocalProtocolError, match="connection is CLOSED, not OPEN"):
        conn.send_rpc_result(1)
    with pytest.raises(LocalProtocolError):
        conn.close_channel(1)
    conn.send_warning("late")
    assert conn.data_to_send() == []


# -- formerly known bugs -----------------------------------------------------------------------


@pytest.mark.parametrize("authenticating", [False, True])
def test_a_deeply_nested_frame_never_raises(authenticating: bool) -> None:
    conn = ServerConnection() if authenticating else open_server()
    conn.receive_text('{"a":' * 100_000)
    assert conn.events_received() == []
    if not authenticating:
        [out] = sent(conn)
        assert out["kind"] == "unknown"
    # The socket still works: a valid auth packet, or a call, is accepted afterwards.
    next_frame = TS2_AUTH if authenticating else '{"type":"rpcCall","endpoint":"a","callId":1}'
    assert feed(conn, next_frame) != []


def test_the_server_core_remembers_a_bounded_number_of_ended_channels() -> None:
    """Late packets for ended channels are dropped quietly; the memory of them is bounded."""
    conn = ServerConnection()
    conn.receive_text('{"authVersion":1,"clientIdentifier":"a","clientPasskey":"b"}')
    conn.accept_auth()
    total = FINISHED_CHANNELS_REMEMBERED + 10
    for cid in range(1, total + 1):
        conn.receive_text(f'{{"type":"channelCreate","endpoint":"predict","channelId":{cid}}}')
        conn.close_channel(cid)
    conn.data_to_send()
    conn.events_received()
    assert len(conn._finished_channels) == FINISHED_CHANNELS_REMEMBERED
    cancel = '{{"type":"channelSend","channelId":{},"message":{{"type":"cancel"}}}}'
    conn.receive_text(cancel.format(total))  # recently ended: quiet
    assert conn.data_to_send() == []
    conn.receive_text(cancel.format(1))  # forgotten long ago: treated as unknown
    assert '"channelUnknown"' in conn.data_to_send()[0]


def test_dropping_a_channel_that_is_not_open_changes_nothing() -> None:
    conn = open_server()
    conn.drop_channel(42)
    assert conn.open_channels == frozenset()
    assert conn._finished_channels == {}
