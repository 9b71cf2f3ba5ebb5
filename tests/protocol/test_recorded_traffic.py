"""Replays of recorded traffic (fixtures/traffic-*.jsonl) through both connection objects.

* Client frames recorded from the official clients drive ``ServerConnection``; the server frames
  of the recording are then produced through the ServerConnection API and must come out equal.
* The same conversations drive ``ClientConnection``: our frames must equal the recorded client
  frames (PY 1.5 uses the same id scheme as we do; TS ids are renumbered), and the recorded
  server frames must produce exactly the expected events and nothing on the wire.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import msgspec
import pytest
from msgspec import UNSET, Raw

from lmstudio_sdk._exceptions import ModelNotFoundError
from lmstudio_sdk._protocol import envelope as wire
from lmstudio_sdk._protocol.client import ClientConnection
from lmstudio_sdk._protocol.errors import ErrorData
from lmstudio_sdk._protocol.events import (
    Authenticated,
    AuthRequested,
    ChannelClosed,
    ChannelMessage,
    ChannelMessageReceived,
    ChannelOpened,
    RpcFailed,
    RpcRequested,
    RpcSucceeded,
)
from lmstudio_sdk._protocol.identity import Identity
from lmstudio_sdk._protocol.loading import LoadState
from lmstudio_sdk._protocol.packets.shared import EmbeddingModelInstanceInfo, LLMInstanceInfo
from lmstudio_sdk._protocol.prediction import PredictionState
from lmstudio_sdk._protocol.server import ServerConnection

Record = dict[str, Any]
Traffic = Callable[[str], list[Record]]

RECORDINGS = ["ts2", "ts15", "py", "tsact"]


def conversations(records: list[Record]) -> dict[str, list[Record]]:
    """Records grouped by namespace socket, in order (HTTP records left out)."""
    by_ns: dict[str, list[Record]] = {}
    for record in records:
        if record["dir"] in ("c2s", "s2c"):
            by_ns.setdefault(record["ns"], []).append(record)
    return by_ns


def as_raw(value: Any) -> Raw:
    return Raw(json.dumps(value).encode())


def optional_raw(message: dict[str, Any], key: str) -> Raw | msgspec.UnsetType:
    return as_raw(message[key]) if key in message else UNSET


def test_the_recordings_hold_what_the_replays_rely_on(traffic: Traffic) -> None:
    kinds: dict[str, set[str]] = {}
    for name in RECORDINGS:
        for record in traffic(name):
            if "msg" in record:
                kinds.setdefault(name, set()).add(record["msg"].get("type", "auth"))
    assert kinds["ts2"] == {
        "auth", "rpcCall", "rpcResult", "rpcError", "channelCreate", "channelSend", "channelClose",
    }  # fmt: skip
    assert kinds["py"] == kinds["ts2"]
    assert len(conversations(traffic("ts2"))) == 4
    assert len(conversations(traffic("py"))) == 5


# -- official clients -> ServerConnection ------------------------------------------------------


@pytest.mark.parametrize("name", RECORDINGS)
def test_server_connection_replays_official_client_traffic(traffic: Traffic, name: str) -> None:
    for namespace, records in conversations(traffic(name)).items():
        conn = ServerConnection()
        auth, reply, *rest = records
        assert reply["msg"] == {"success": True}
        conn.receive_text(json.dumps(auth["msg"]))
        assert conn.events_received() == [
            AuthRequested(auth["msg"]["clientIdentifier"], auth["msg"]["clientPasskey"])
        ]
        conn.accept_auth()
        assert [json.loads(f) for f in conn.data_to_send()] == [reply["msg"]]

        for record in rest:
            msg = record["msg"]
            if record["dir"] == "c2s":
                conn.receive_text(json.dumps(msg))
                [event] = conn.events_received()
                match msg["type"]:
                    case "rpcCall":
                        assert event == RpcRequested(
                            msg["callId"], msg["endpoint"], optional_raw(msg, "parameter")
                        )
                    case "channelCreate":
                        assert event == ChannelOpened(
                            msg["channelId"],
                            msg["endpoint"],
                            optional_raw(msg, "creationParameter"),
                        )
                    case "channelSend":
                        assert event == ChannelMessageReceived(
                            msg["channelId"], as_raw(msg["message"])
                        )
                    case other:  # pragma: no cover
                        raise AssertionError(other)
                assert conn.data_to_send() == [], (namespace, msg)
                continue
            match msg["type"]:
                case "rpcResult":
                    conn.send_rpc_result(msg["callId"], optional_raw(msg, "result"))
                case "rpcError":
                    conn.send_rpc_error(msg["callId"], msgspec.convert(msg["error"], ErrorData))
                case "channelSend":
                    conn.send_channel_message(msg["channelId"], msg["message"])
                case "channelClose":
                    conn.close_channel(msg["channelId"])
                case other:  # pragma: no cover
                    raise AssertionError(other)
            assert [json.loads(f) for f in conn.data_to_send()] == [msg], (namespace, msg)
        assert conn.open_channels == frozenset(), namespace
        assert conn.events_received() == []


# -- recorded server frames -> ClientConnection ------------------------------------------------


@pytest.mark.parametrize("name", RECORDINGS)
def test_client_connection_replays_recorded_conversations(traffic: Traffic, name: str) -> None:
    for namespace, records in conversations(traffic(name)).items():
        auth, reply, *rest = records
        identity = Identity(auth["msg"]["clientIdentifier"], auth["msg"]["clientPasskey"])
        conn = ClientConnection(identity, namespace=namespace.strip("/"))
        # Our auth packet is byte-for-byte what the official clients send (modulo spacing).
        assert [json.loads(f) for f in conn.data_to_send()] == [auth["msg"]]
        conn.receive_text(json.dumps(reply["msg"]))
        assert conn.events_received() == [Authenticated()]

        calls: dict[int, int] = {}  # recorded id -> our id
        channels: dict[int, int] = {}
        for record in rest:
            msg = dict(record["msg"])
            if record["dir"] == "c2s":
                match msg["type"]:
                    case "rpcCall":
                        ours = conn.start_rpc(msg["endpoint"], optional_raw(msg, "parameter"))
                        calls[msg["callId"]] = ours
                        msg["callId"] = ours
                    case "channelCreate":
                        ours = conn.open_channel(
                            msg["endpoint"], optional_raw(msg, "creationParameter")
                        )
                        channels[msg["channelId"]] = ours
                        msg["channelId"] = ours
                    case "channelSend":
                        msg["channelId"] = channels[msg["channelId"]]
                        conn.send_on_channel(msg["channelId"], as_raw(msg["message"]))
                    case other:  # pragma: no cover
                        raise AssertionError(other)
                if name == "py":  # same id scheme: the very same frame
                    assert msg == record["msg"]
                assert [json.loads(f) for f in conn.data_to_send()] == [msg], (namespace, msg)
                continue
            if "callId" in msg:
                msg["callId"] = calls[msg["callId"]]
            if "channelId" in msg:
                msg["channelId"] = channels[msg["channelId"]]
            conn.receive_text(json.dumps(msg))
            [event] = conn.events_received()
            match msg["type"]:
                case "rpcResult":
                    assert event == RpcSucceeded(msg["callId"], optional_raw(msg, "result"))
                case "rpcError":
                    assert isinstance(event, RpcFailed)
                    assert event.call_id == msg["callId"]
                    assert isinstance(event.error, ModelNotFoundError)
                    assert event.error.title == msg["error"]["title"]
                case "channelSend":
                    assert event == ChannelMessage(msg["channelId"], as_raw(msg["message"]))
                case "channelClose":
                    assert event == ChannelClosed(msg["channelId"])
                case other:  # pragma: no cover
                    raise AssertionError(other)
            assert conn.data_to_send() == [], (namespace, msg)  # no acks, no warnings
        assert conn.open_calls == frozenset()
        assert conn.open_channels == frozenset()


# -- channel payloads through the state machines ----------------------------------------------


def channel_packets(records: list[Record], endpoint: str) -> list[tuple[str, list[Raw], bool]]:
    """Per channel of ``endpoint``: (namespace, server packets, closed) in order."""
    opened: dict[tuple[str, int], tuple[str, list[Raw], list[bool]]] = {}
    for record in records:
        msg = record.get("msg", {})
        key = (record.get("ns", ""), msg.get("channelId", -1))
        if (
            record["dir"] == "c2s"
            and msg.get("type") == "channelCreate"
            and msg["endpoint"] == endpoint
        ):
            opened[key] = (key[0], [], [False])
        elif record["dir"] == "s2c" and key in opened:
            if msg["type"] == "channelSend":
                opened[key][1].append(as_raw(msg["message"]))
            elif msg["type"] == "channelClose":
                opened[key][2][0] = True
    return [(ns, packets, closed[0]) for ns, packets, closed in opened.values()]


@pytest.mark.parametrize("name", RECORDINGS)
def test_recorded_predictions(traffic: Traffic, name: str) -> None:
    predictions = channel_packets(traffic(name), "predict") + channel_packets(
        traffic(name), "completeRawText"
    )
    assert predictions
    for _, packets, closed in predictions:
        state = PredictionState()
        for packet in packets:
            state.feed(packet)
        assert closed
        state.channel_closed()
        result = state.result()
        assert result.model_info.identifier == "qwen2.5-0.5b-instruct"
        assert result.load_config.get("llm.load.contextLength") == 4096
        if result.stats.stop_reason == "toolCalls":
            assert result.content == ""
            assert [(c.name, c.arguments, c.id) for c in result.tool_calls] == [
                ("add", {"a": 1, "b": 2}, "call_123")
            ]
        elif result.stats.stop_reason == "userStopped":
            assert result.content == "Hello"
        else:
            assert result.stats.stop_reason == "eosFound"
            assert result.content == result.non_reasoning_content == "Hello world"


@pytest.mark.parametrize("name", ["ts2", "ts15", "py"])
def test_recorded_loads(traffic: Traffic, name: str) -> None:
    loads = channel_packets(traffic(name), "loadModel") + channel_packets(
        traffic(name), "getOrLoad"
    )
    seen: list[tuple[str, list[float], bool, str]] = []
    for namespace, packets, closed in loads:
        state: LoadState[Any] = LoadState(
            EmbeddingModelInstanceInfo if namespace == "/embedding" else LLMInstanceInfo
        )
        progress = [value for packet in packets for value in state.feed(packet)]
        assert closed
        state.channel_closed()
        assert state.instance is not None
        seen.append((namespace, progress, state.already_loaded, state.instance.identifier))
    assert sorted(seen) == sorted(
        [
            ("/llm", [], True, "qwen2.5-0.5b-instruct"),  # getOrLoad of a loaded model
            ("/llm", [0.25, 1.0], False, "qwen2.5-0.5b-instruct"),  # loadModel
            ("/llm", [0.5, 1.0], False, "qwen2.5-0.5b-instruct"),  # getOrLoad with a JIT load
            ("/embedding", [], True, "text-embedding-nomic-embed-text-v1.5"),
        ]
    )


def test_recorded_server_frames_decode_as_server_messages(traffic: Traffic) -> None:
    for name in RECORDINGS:
        for record in traffic(name):
            if record["dir"] == "s2c" and "type" in record["msg"]:
                text = json.dumps(record["msg"])
                assert json.loads(wire.encode(wire.decode_server_message(text))) == record["msg"]
            elif record["dir"] == "c2s" and "type" in record["msg"]:
                text = json.dumps(record["msg"])
                assert json.loads(wire.encode(wire.decode_client_message(text))) == record["msg"]
