"""ClientConnection as transcripts: JSON frames in, events and JSON frames out."""

from __future__ import annotations

import json
import logging
from typing import Any

import msgspec
import pytest
from msgspec import UNSET, Raw

from lmstudio_sdk._exceptions import (
    AuthenticationError,
    DomainMismatchError,
    LMStudioConnectionError,
    LMStudioServerError,
    LocalProtocolError,
    ModelNotFoundError,
    PresetNotFoundError,
    RemoteProtocolError,
    UnsupportedFeatureError,
)
from lmstudio_sdk._protocol import envelope as wire
from lmstudio_sdk._protocol.client import MAX_WARNINGS_SENT, ClientConnection, State
from lmstudio_sdk._protocol.events import (
    Authenticated,
    ChannelClosed,
    ChannelFailed,
    ChannelMessage,
    ClientEvent,
    ConnectionFailed,
    RpcFailed,
    RpcSucceeded,
    WarningReceived,
)
from lmstudio_sdk._protocol.identity import Identity

IDENTITY = Identity("abcdEFGH", "abcdefghijABCDEFGHIJ")
AUTH_PACKET = {
    "authVersion": 1,
    "clientIdentifier": "abcdEFGH",
    "clientPasskey": "abcdefghijABCDEFGHIJ",
}
REFUSAL_HINT = (
    ". Check the API token (api_token=, or the LM_API_TOKEN / LMSTUDIO_API_TOKEN "
    "environment variables)."
)

# Recorded (TS 2.0 traffic, line 59), with the call id of our first call.
RPC_ERROR_NO_MODEL = (
    '{"type": "rpcError", "callId": 1, "error": {"title": "No model found that fits the query '
    '\\"missing-model\\"", "suggestion": "Load the model first.", "displayData": {"code": '
    '"generic.noModelMatchingQuery", "query": {"identifier": "missing-model"}, '
    '"loadedModelsSample": ["qwen2.5-0.5b-instruct"], "totalLoadedModels": 1}, "rootTitle": '
    '"No model found that fits the query \\"missing-model\\""}}'
)


# -- helpers ----------------------------------------------------------------------------------


def sent(conn: ClientConnection) -> list[Any]:
    """The frames the connection wants to send, decoded."""
    return [json.loads(frame) for frame in conn.data_to_send()]


def feed(conn: ClientConnection, *frames: str | dict[str, Any]) -> list[ClientEvent]:
    for frame in frames:
        conn.receive_text(frame if isinstance(frame, str) else json.dumps(frame))
    return conn.events_received()


def describe(event: ClientEvent) -> tuple[Any, ...]:
    """A comparable form of an event (exceptions compare by identity, Raw by bytes)."""
    match event:
        case RpcSucceeded(call_id=cid, result=result):
            value = "<unset>" if result is UNSET else msgspec.json.decode(result)
            return ("rpcSucceeded", cid, value)
        case RpcFailed(call_id=cid, error=error):
            return ("rpcFailed", cid, type(error), str(error))
        case ChannelMessage(channel_id=cid, message=message):
            return ("channelMessage", cid, msgspec.json.decode(message))
        case ChannelClosed(channel_id=cid):
            return ("channelClosed", cid)
        case ChannelFailed(channel_id=cid, error=error):
            return ("channelFailed", cid, type(error), str(error))
        case ConnectionFailed(error=error):
            return ("connectionFailed", type(error), str(error))
        case WarningReceived(warning=text, kind=kind):
            return ("warning", text, kind)
        case Authenticated():
            return ("authenticated",)
    raise AssertionError(event)  # pragma: no cover


def warning(text: str, kind: str) -> dict[str, Any]:
    return {"type": "communicationWarning", "warning": text, "kind": kind}


def authenticated(namespace: str = "") -> ClientConnection:
    conn = ClientConnection(IDENTITY, namespace=namespace)
    assert sent(conn) == [AUTH_PACKET]
    assert feed(conn, '{"success":true}') == [Authenticated()]
    assert sent(conn) == []
    assert conn.state is State.OPEN
    return conn


# -- authentication ---------------------------------------------------------------------------


def test_the_auth_packet_is_the_only_frame_before_the_reply() -> None:
    conn = ClientConnection(IDENTITY)
    assert conn.state is State.AUTHENTICATING
    assert conn.start_rpc("listLoaded") == 1
    assert sent(conn) == [AUTH_PACKET]
    assert conn.events_received() == []


def test_messages_queued_before_auth_are_released_in_order_after_success() -> None:
    conn = ClientConnection(IDENTITY)
    assert sent(conn) == [AUTH_PACKET]
    assert conn.start_rpc("listLoaded") == 1
    assert conn.open_channel("predict", wire.raw({"history": []})) == 1
    conn.send_on_channel(1, wire.raw({"type": "cancel"}))
    conn.send_keep_alive()
    assert conn.start_rpc("countTokens", wire.raw({"inputString": "hi"})) == 2
    assert sent(conn) == []  # still held

    assert feed(conn, '{"success": true}') == [Authenticated()]
    assert conn.state is State.OPEN
    assert sent(conn) == [
        {"type": "rpcCall", "endpoint": "listLoaded", "callId": 1},
        {
            "type": "channelCreate",
            "endpoint": "predict",
            "channelId": 1,
            "creationParameter": {"history": []},
        },
        {"type": "channelSend", "channelId": 1, "message": {"type": "cancel"}},
        {"type": "keepAlive"},
        {
            "type": "rpcCall",
            "endpoint": "countTokens",
            "callId": 2,
            "parameter": {"inputString": "hi"},
        },
    ]
    # Released once: nothing is left in the queue.
    assert sent(conn) == []
    conn.start_rpc("version")
    assert sent(conn) == [{"type": "rpcCall", "endpoint": "version", "callId": 3}]


@pytest.mark.parametrize(
    ("reply", "reason"),
    [
        ('{"success":false,"error":"Invalid passkey for client"}', "Invalid passkey for client"),
        ('{"success":false,"error":""}', "Unknown error"),
        ('{"success":false,"error":{"title":"Token revoked","cause":"x"}}', "Token revoked"),
        ('{"success":false,"error":{"rootTitle":"Root only"}}', "Root only"),
        ('{"success":false,"error":null}', "Unknown error"),
        ('{"success":false,"error":42}', "Unknown error"),
        ('{"success":false}', "no reason given"),
    ],
)
def test_auth_refusal_fails_every_pending_call_then_the_connection(reply: str, reason: str) -> None:
    conn = ClientConnection(IDENTITY, namespace="llm")
    conn.data_to_send()
    conn.start_rpc("listLoaded")
    conn.start_rpc("version")
    conn.open_channel("predict")
    message = f"LM Studio refused the connection: {reason}{REFUSAL_HINT}"

    events = feed(conn, reply)

    assert [describe(e) for e in events] == [
        ("rpcFailed", 1, AuthenticationError, message),
        ("rpcFailed", 2, AuthenticationError, message),
        ("channelFailed", 1, AuthenticationError, message),
        ("connectionFailed", AuthenticationError, message),
    ]
    errors = {id(e.error) for e in events if not isinstance(e, Authenticated | WarningReceived)}  # type: ignore[union-attr]
    assert len(errors) == 1  # one error object for everything
    assert conn.state is State.CLOSED
    assert conn.close_error is events[-1].error  # type: ignore[union-attr]
    assert sent(conn) == []  # the held calls are never sent
    assert conn.open_calls == frozenset()
    assert conn.open_channels == frozenset()
    with pytest.raises(AuthenticationError) as info:
        conn.start_rpc("version")
    assert info.value is conn.close_error


@pytest.mark.parametrize(
    "reply",
    [
        "",
        "not json",
        "[]",
        "{}",
        '{"success":"yes"}',
        '{"success":true',
        b"\xff\xfe",
    ],
)
def test_malformed_auth_reply_fails_the_connection(reply: str | bytes) -> None:
    conn = ClientConnection(IDENTITY)
    conn.data_to_send()
    conn.start_rpc("listLoaded")

    conn.receive_text(reply)

    events = conn.events_received()
    assert [type(e) for e in events] == [RpcFailed, ConnectionFailed]
    error = events[-1].error  # type: ignore[union-attr]
    assert isinstance(error, RemoteProtocolError)
    assert str(error).startswith("malformed authentication reply: ")
    assert events[0] == RpcFailed(1, error)
    assert conn.state is State.CLOSED
    assert sent(conn) == []


def test_a_deeply_nested_auth_reply_fails_the_connection_instead_of_raising() -> None:
    conn = ClientConnection(IDENTITY)
    conn.receive_text('{"x":' * 100_000)
    events = conn.events_received()
    assert [type(e) for e in events] == [ConnectionFailed]
    assert isinstance(events[0].error, RemoteProtocolError)  # type: ignore[union-attr]
    assert str(events[0].error).startswith("malformed authentication reply: ")  # type: ignore[union-attr]


def test_frames_after_the_connection_closed_are_ignored() -> None:
    conn = ClientConnection(IDENTITY)
    feed(conn, '{"success":false,"error":"no"}')
    assert feed(conn, '{"success":true}', '{"type":"rpcResult","callId":1}', "garbage") == []
    assert sent(conn) == [AUTH_PACKET]
    assert conn.state is State.CLOSED


# -- ids and routing --------------------------------------------------------------------------


def test_calls_and_channels_have_separate_counters_starting_at_one() -> None:
    conn = authenticated()
    assert conn.start_rpc("a") == 1
    assert conn.open_channel("b") == 1
    assert conn.start_rpc("c") == 2
    assert conn.open_channel("d", wire.raw({})) == 2
    assert sent(conn) == [
        {"type": "rpcCall", "endpoint": "a", "callId": 1},
        {"type": "channelCreate", "endpoint": "b", "channelId": 1},
        {"type": "rpcCall", "endpoint": "c", "callId": 2},
        {"type": "channelCreate", "endpoint": "d", "channelId": 2, "creationParameter": {}},
    ]
    assert conn.open_calls == frozenset({1, 2})
    assert conn.open_channels == frozenset({1, 2})

    # callId 1 and channelId 1 are different things: finishing one leaves the other open.
    assert [describe(e) for e in feed(conn, {"type": "channelClose", "channelId": 1})] == [
        ("channelClosed", 1)
    ]
    assert conn.open_calls == frozenset({1, 2})
    assert conn.open_channels == frozenset({2})


def test_rpc_result_with_and_without_result() -> None:
    conn = authenticated()
    conn.start_rpc("countTokens")
    conn.start_rpc("unloadModel")
    conn.data_to_send()

    events = feed(
        conn,
        '{"type":"rpcResult","callId":1,"result":{"tokenCount":5}}',
        '{"type":"rpcResult","callId":2}',
    )

    assert events == [RpcSucceeded(1, Raw(b'{"tokenCount":5}')), RpcSucceeded(2, UNSET)]
    assert conn.open_calls == frozenset()
    assert sent(conn) == []


def test_rpc_result_null_is_a_result_not_a_void() -> None:
    conn = authenticated()
    conn.start_rpc("getModelInfo")
    assert feed(conn, '{"type":"rpcResult","callId":1,"result":null}') == [
        RpcSucceeded(1, Raw(b"null"))
    ]


def test_recorded_rpc_error_becomes_model_not_found() -> None:
    conn = authenticated()
    conn.start_rpc("getModelInfo")
    conn.data_to_send()

    [event] = feed(conn, RPC_ERROR_NO_MODEL)

    assert isinstance(event, RpcFailed)
    assert event.call_id == 1
    error = event.error
    assert type(error) is ModelNotFoundError
    assert str(error) == (
        'No model found that fits the query "missing-model"\nSuggestion: Load the model first.'
    )
    assert error.title == 'No model found that fits the query "missing-model"'
    assert error.display_code == "generic.noModelMatchingQuery"
    assert error.display_data == {
        "code": "generic.noModelMatchingQuery",
        "query": {"identifier": "missing-model"},
        "loadedModelsSample": ["qwen2.5-0.5b-instruct"],
        "totalLoadedModels": 1,
    }
    assert error.data.root_title == error.title
    assert conn.open_calls == frozenset()
    assert sent(conn) == []


@pytest.mark.parametrize(
    ("code", "cls"),
    [
        ("generic.noModelMatchingQuery", ModelNotFoundError),
        ("generic.pathNotFound", ModelNotFoundError),
        ("generic.identifierNotFound", ModelNotFoundError),
        ("generic.specificModelUnloaded", ModelNotFoundError),
        ("generic.presetNotFound", PresetNotFoundError),
        ("generic.domainMismatch", DomainMismatchError),
        ("generic.engineDoesNotSupportFeature", UnsupportedFeatureError),
        ("generic.missingRuntimeExtension", UnsupportedFeatureError),
        ("generic.somethingNew", LMStudioServerError),
    ],
)
def test_rpc_and_channel_errors_map_display_codes(code: str, cls: type[Exception]) -> None:
    conn = authenticated()
    conn.start_rpc("x")
    conn.open_channel("y")
    error = {"title": "Boom", "displayData": {"code": code}}

    events = feed(
        conn,
        {"type": "rpcError", "callId": 1, "error": error},
        {"type": "channelError", "channelId": 1, "error": error},
    )

    assert [describe(e) for e in events] == [
        ("rpcFailed", 1, cls, "Boom"),
        ("channelFailed", 1, cls, "Boom"),
    ]
    assert conn.open_calls == frozenset()
    assert conn.open_channels == frozenset()


def test_ill_typed_error_fields_are_dropped_not_fatal() -> None:
    conn = authenticated()
    conn.start_rpc("x")
    conn.open_channel("y")
    events = feed(
        conn,
        '{"type":"rpcError","callId":1,"error":{"title":5,"cause":"It broke","displayData":"no"}}',
        '{"type":"channelError","channelId":1,"error":"just a string"}',
    )
    assert [describe(e) for e in events] == [
        ("rpcFailed", 1, LMStudioServerError, "Unknown error\nCause: It broke"),
        ("channelFailed", 1, LMStudioServerError, "just a string"),
    ]


def test_channel_send_packets_and_close() -> None:
    conn = authenticated()
    conn.open_channel("loadModel")
    conn.data_to_send()
    events = feed(
        conn,
        '{"type":"channelSend","channelId":1,"message":{"type":"progress","progress":0.25}}',
        '{"type":"channelSend","channelId":1,"message":{"type":"progress","progress":1}}',
        '{"type":"channelClose","channelId":1}',
    )
    assert events == [
        ChannelMessage(1, Raw(b'{"type":"progress","progress":0.25}')),
        ChannelMessage(1, Raw(b'{"type":"progress","progress":1}')),
        ChannelClosed(1),
    ]
    assert sent(conn) == []


def test_channel_send_with_ack_id_is_acknowledged() -> None:
    conn = authenticated()
    conn.open_channel("predict")
    conn.data_to_send()

    events = feed(conn, '{"type":"channelSend","channelId":1,"message":{"type":"x"},"ackId":7}')

    assert events == [ChannelMessage(1, Raw(b'{"type":"x"}'))]
    assert sent(conn) == [{"type": "channelAck", "channelId": 1, "ackId": 7}]


def test_acks_and_keep_alive_acks_from_the_server_are_accepted_silently() -> None:
    conn = authenticated()
    conn.open_channel("predict")
    conn.data_to_send()
    assert (
        feed(conn, '{"type":"channelAck","channelId":1,"ackId":3}', '{"type":"keepAliveAck"}') == []
    )
    assert sent(conn) == []


def test_keep_alive_round_trip() -> None:
    conn = authenticated()
    conn.send_keep_alive()
    assert sent(conn) == [{"type": "keepAlive"}]
    assert feed(conn, '{"type":"keepAliveAck"}') == []
    assert sent(conn) == []


def test_late_messages_for_finished_channels_and_calls_are_dropped_silently() -> None:
    conn = authenticated()
    conn.start_rpc("a")
    conn.open_channel("b")
    conn.open_channel("c")
    conn.data_to_send()
    feed(
        conn,
        '{"type":"rpcResult","callId":1}',
        '{"type":"channelClose","channelId":1}',
        '{"type":"channelError","channelId":2,"error":{"title":"x"}}',
    )

    late = feed(
        conn,
        '{"type":"channelClose","channelId":1}',
        '{"type":"channelClose","channelId":2}',
        '{"type":"channelSend","channelId":1,"message":{"type":"fragment"}}',
        '{"type":"channelError","channelId":1,"error":{"title":"x"}}',
        '{"type":"rpcResult","callId":1,"result":1}',
        '{"type":"rpcError","callId":1,"error":{"title":"x"}}',
    )

    assert late == []
    assert sent(conn) == []


def test_abandoned_calls_and_channels_drop_their_late_answers() -> None:
    conn = authenticated()
    conn.start_rpc("a")
    conn.open_channel("b")
    conn.data_to_send()
    conn.abandon_call(1)
    conn.abandon_channel(1)
    assert conn.open_calls == frozenset()
    assert conn.open_channels == frozenset()
    assert (
        feed(
            conn,
            '{"type":"rpcResult","callId":1,"result":1}',
            '{"type":"channelSend","channelId":1,"message":{}}',
            '{"type":"channelClose","channelId":1}',
        )
        == []
    )
    assert sent(conn) == []
    with pytest.raises(LocalProtocolError, match="channel 1 is not open"):
        conn.send_on_channel(1, wire.raw({"type": "cancel"}))


@pytest.mark.parametrize(
    ("frame", "expected"),
    [
        (
            '{"type":"rpcResult","callId":9}',
            warning("Received a result for unknown call 9", "rpcUnknown"),
        ),
        (
            '{"type":"rpcError","callId":9,"error":{"title":"x"}}',
            warning("Received a result for unknown call 9", "rpcUnknown"),
        ),
        (
            '{"type":"channelSend","channelId":9,"message":{}}',
            warning("Received a message for unknown channel 9", "channelUnknown"),
        ),
        (
            '{"type":"channelClose","channelId":9}',
            warning("Received a message for unknown channel 9", "channelUnknown"),
        ),
        (
            '{"type":"channelError","channelId":9,"error":{"title":"x"}}',
            warning("Received a message for unknown channel 9", "channelUnknown"),
        ),
    ],
)
def test_messages_for_never_allocated_ids_get_a_warning(
    frame: str, expected: dict[str, Any]
) -> None:
    conn = authenticated()
    conn.start_rpc("a")
    conn.open_channel("b")
    conn.data_to_send()
    assert feed(conn, frame) == []
    assert sent(conn) == [expected]
    assert conn.open_calls == frozenset({1})
    assert conn.open_channels == frozenset({1})


@pytest.mark.parametrize(
    ("frame", "expected"),
    [
        (
            '{"type":"rpcResult","callId":0}',
            warning("Received a result for unknown call 0", "rpcUnknown"),
        ),
        (
            '{"type":"rpcResult","callId":-3}',
            warning("Received a result for unknown call -3", "rpcUnknown"),
        ),
        (
            '{"type":"channelClose","channelId":0}',
            warning("Received a message for unknown channel 0", "channelUnknown"),
        ),
        (
            '{"type":"channelSend","channelId":-1,"message":{}}',
            warning("Received a message for unknown channel -1", "channelUnknown"),
        ),
    ],
)
def test_ids_below_the_first_allocated_id_are_unknown_too(
    frame: str, expected: dict[str, Any]
) -> None:
    # Our ids start at 1, so 0 (a TS-style first id) and negatives were never allocated.
    conn = authenticated()
    conn.start_rpc("a")
    conn.open_channel("b")
    conn.data_to_send()
    assert feed(conn, frame) == []
    assert sent(conn) == [expected]


def test_ack_for_an_unknown_channel_is_answered_and_warned_about() -> None:
    conn = authenticated()
    assert feed(conn, '{"type":"channelSend","channelId":4,"message":{},"ackId":1}') == []
    assert sent(conn) == [
        {"type": "channelAck", "channelId": 4, "ackId": 1},
        warning("Received a message for unknown channel 4", "channelUnknown"),
    ]


def test_at_most_five_warnings_are_sent_per_socket() -> None:
    conn = authenticated()
    frames = [f'{{"type":"rpcResult","callId":{n}}}' for n in range(10, 20)] + ["garbage"]
    assert feed(conn, *frames) == []
    assert sent(conn) == [
        warning(f"Received a result for unknown call {n}", "rpcUnknown") for n in range(10, 15)
    ]
    assert MAX_WARNINGS_SENT == 5
    # Routing still works after the cap.
    conn.start_rpc("a")
    conn.data_to_send()
    assert feed(conn, '{"type":"rpcResult","callId":1}') == [RpcSucceeded(1, UNSET)]


def test_server_warnings_become_events_and_are_never_answered(
    caplog: pytest.LogCaptureFixture,
) -> None:
    conn = authenticated()
    with caplog.at_level(logging.WARNING, logger="lmstudio_sdk.protocol"):
        events = feed(
            conn,
            '{"type":"communicationWarning","warning":"Received invalid result",'
            '"kind":"rpcResultTypeError"}',
            '{"type":"communicationWarning","warning":"old server"}',
        )
    assert events == [
        WarningReceived("Received invalid result", "rpcResultTypeError"),
        WarningReceived("old server", "unknown"),
    ]
    assert sent(conn) == []
    assert [r.getMessage() for r in caplog.records] == [
        "LM Studio sent a protocol warning (rpcResultTypeError): Received invalid result",
        "LM Studio sent a protocol warning (unknown): old server",
    ]


@pytest.mark.parametrize(
    "frame",
    [
        '{"type":"signalUpdate","subscribeId":0,"patches":[{"op":"replace","path":[],"value":1}],"tags":[]}',
        '{"type":"signalError","subscribeId":0,"error":{"title":"x"}}',
        '{"type":"writableSignalUpdate","subscribeId":0,"patches":[],"tags":["t"]}',
        '{"type":"writableSignalError","subscribeId":0,"error":{"title":"x"}}',
    ],
)
def test_signal_messages_are_ignored(frame: str) -> None:
    conn = authenticated()
    conn.start_rpc("a")
    conn.data_to_send()
    assert feed(conn, frame) == []
    assert sent(conn) == []
    assert conn.open_calls == frozenset({1})


# -- malformed frames -------------------------------------------------------------------------


def open_call_and_channel() -> ClientConnection:
    conn = authenticated()
    assert conn.start_rpc("a") == 1
    assert conn.start_rpc("b") == 2
    assert conn.open_channel("c") == 1
    assert conn.open_channel("d") == 2
    conn.data_to_send()
    return conn


@pytest.mark.parametrize(
    ("frame", "failed", "kind"),
    [
        ('{"type":"rpcResult","callId":1,"extra":1,"result":1', None, None),  # truncated JSON
        ('{"type":"rpcError","callId":1}', ("rpc", 1), "rpcError"),  # missing error
        ('{"type":"channelSend","channelId":2}', ("channel", 2), "channelSend"),  # missing message
        (
            '{"type":"channelSend","channelId":1,"message":{},"ackId":"7"}',
            ("channel", 1),
            "channelSend",
        ),
        (
            '{"type":"channelClose","channelId":"1"}',
            None,
            None,
        ),  # id of the wrong type names nothing
        # A message type this SDK does not know (a newer LM Studio): tolerated, nothing fails.
        ('{"type":"fancyNewThing","callId":2}', None, None),
        ('{"type":"fancyNewThing","channelId":1}', None, None),
        ('{"type":"fancyNewThing","callId":7,"channelId":2}', None, None),
        ('{"callId":1}', ("rpc", 1), None),  # no type at all
        ('{"type":"rpcResult","callId":1.5}', None, None),
        ("[1, 2, 3]", None, None),
        ('"rpcResult"', None, None),
        ("null", None, None),
        ("", None, None),
        (b"\xff\xfe\x00", None, None),
    ],
)
def test_a_malformed_frame_fails_only_what_it_names(
    frame: str | bytes, failed: tuple[str, int] | None, kind: str | None
) -> None:
    conn = open_call_and_channel()

    conn.receive_text(frame)
    events = conn.events_received()

    out = sent(conn)
    if failed is None:
        assert events == []
        assert len(out) == 1
        assert out[0]["type"] == "communicationWarning"
        assert out[0]["kind"] == "unknown"
        assert out[0]["warning"].startswith("Received an invalid message: ")
        assert conn.open_calls == frozenset({1, 2})
        assert conn.open_channels == frozenset({1, 2})
    else:
        assert out == []
        [event] = events
        error = event.error  # type: ignore[union-attr]
        assert isinstance(error, RemoteProtocolError)
        assert str(error).startswith(f"LM Studio sent a malformed {kind or 'frame'}: ")
        if failed[0] == "rpc":
            assert event == RpcFailed(failed[1], error)
            assert conn.open_calls == frozenset({1, 2}) - {failed[1]}
            assert conn.open_channels == frozenset({1, 2})
        else:
            assert event == ChannelFailed(failed[1], error)
            assert conn.open_calls == frozenset({1, 2})
            assert conn.open_channels == frozenset({1, 2}) - {failed[1]}
    # The connection keeps working for everything else.
    assert conn.state is State.OPEN
    for cid in sorted(conn.open_calls):
        assert feed(conn, {"type": "rpcResult", "callId": cid}) == [RpcSucceeded(cid, UNSET)]
    for cid in sorted(conn.open_channels):
        assert feed(conn, {"type": "channelClose", "channelId": cid}) == [ChannelClosed(cid)]


def test_a_malformed_frame_naming_a_finished_call_is_only_warned_about() -> None:
    conn = authenticated()
    conn.start_rpc("a")
    conn.data_to_send()
    feed(conn, '{"type":"rpcResult","callId":1}')
    assert feed(conn, '{"type":"rpcError","callId":1}') == []
    [out] = sent(conn)
    assert out == warning(
        "Received an invalid message: Object missing required field `error`", "unknown"
    )


def test_malformed_frame_error_text_is_exact() -> None:
    conn = authenticated()
    conn.open_channel("predict")
    [event] = feed(conn, '{"type":"channelSend","channelId":1}')
    assert describe(event) == (
        "channelFailed",
        1,
        RemoteProtocolError,
        "LM Studio sent a malformed channelSend: Object missing required field `message`",
    )


def test_a_huge_frame_is_routed_whole() -> None:
    conn = authenticated()
    conn.start_rpc("embedString")
    conn.data_to_send()
    embedding = [0.5] * 500_000
    frame = json.dumps({"type": "rpcResult", "callId": 1, "result": {"embedding": embedding}})
    assert len(frame) > 2_000_000

    [event] = feed(conn, frame)

    assert isinstance(event, RpcSucceeded)
    assert msgspec.json.decode(event.result) == {"embedding": embedding}  # type: ignore[arg-type]
    assert sent(conn) == []


@pytest.mark.parametrize(
    "frame",
    [
        "[" * 100_000,
        '{"a":' * 100_000,
        '{"type":"rpcResult","callId":1,"result":' + "[" * 100_000 + "]" * 100_000 + "}",
        '{"type":"channelSend","channelId":1,"message":' + '{"a":' * 50_000 + "1" + "}" * 50_001,
    ],
)
def test_a_deeply_nested_frame_never_raises(frame: str) -> None:
    conn = open_call_and_channel()

    conn.receive_text(frame)

    assert conn.events_received() == []
    [out] = sent(conn)
    assert out["type"] == "communicationWarning"
    assert out["kind"] == "unknown"
    assert conn.state is State.OPEN
    assert feed(conn, '{"type":"rpcResult","callId":1}') == [RpcSucceeded(1, UNSET)]


# -- commands and connection loss -------------------------------------------------------------


def test_send_on_channel() -> None:
    conn = authenticated()
    conn.open_channel("predict")
    conn.data_to_send()
    conn.send_on_channel(1, wire.raw({"type": "cancel"}))
    assert sent(conn) == [{"type": "channelSend", "channelId": 1, "message": {"type": "cancel"}}]
    with pytest.raises(LocalProtocolError, match="channel 2 is not open"):
        conn.send_on_channel(2, wire.raw({"type": "cancel"}))
    assert sent(conn) == []


def test_connection_lost_fails_every_open_call_and_channel_then_the_connection() -> None:
    conn = authenticated(namespace="llm")
    for endpoint in ("a", "b", "c"):
        conn.start_rpc(endpoint)
    conn.open_channel("d")
    conn.open_channel("e")
    feed(conn, '{"type":"rpcResult","callId":2}')
    conn.data_to_send()
    cause = OSError("socket reset")

    conn.connection_lost(cause)

    message = "the connection to LM Studio /llm was lost: socket reset"
    events = conn.events_received()
    assert [describe(e) for e in events] == [
        ("rpcFailed", 1, LMStudioConnectionError, message),
        ("rpcFailed", 3, LMStudioConnectionError, message),
        ("channelFailed", 1, LMStudioConnectionError, message),
        ("channelFailed", 2, LMStudioConnectionError, message),
        ("connectionFailed", LMStudioConnectionError, message),
    ]
    error = conn.close_error
    assert error is not None
    assert error.__cause__ is cause
    assert issubclass(type(error), ConnectionError)  # catchable as the builtin
    assert conn.state is State.CLOSED
    assert conn.open_calls == frozenset()
    assert conn.open_channels == frozenset()

    # Only once; later frames and losses change nothing.
    conn.connection_lost(OSError("again"))
    assert feed(conn, '{"type":"rpcResult","callId":1}') == []
    assert sent(conn) == []
    for command in (
        lambda: conn.start_rpc("x"),
        lambda: conn.open_channel("x"),
        lambda: conn.send_on_channel(1, wire.raw({})),
        conn.send_keep_alive,
    ):
        with pytest.raises(LMStudioConnectionError) as info:
            command()
        assert info.value is error


@pytest.mark.parametrize(
    ("namespace", "cause", "message"),
    [
        ("", None, "the connection to LM Studio was lost"),
        ("system", None, "the connection to LM Studio /system was lost"),
        ("", OSError(), "the connection to LM Studio was lost"),
        ("", EOFError("closed 1006"), "the connection to LM Studio was lost: closed 1006"),
    ],
)
def test_connection_lost_message(namespace: str, cause: BaseException | None, message: str) -> None:
    conn = authenticated(namespace)
    conn.connection_lost(cause)
    assert [describe(e) for e in conn.events_received()] == [
        ("connectionFailed", LMStudioConnectionError, message)
    ]


def test_connection_lost_while_authenticating_drops_held_frames() -> None:
    conn = ClientConnection(IDENTITY)
    conn.data_to_send()
    conn.start_rpc("a")
    conn.open_channel("b")
    conn.connection_lost()
    assert [type(e) for e in conn.events_received()] == [RpcFailed, ChannelFailed, ConnectionFailed]
    assert feed(conn, '{"success":true}') == []
    assert sent(conn) == []
    assert conn.state is State.CLOSED
