"""Wire envelopes of the SDK API: the auth handshake and every message type, both directions.

The envelope is a tagged union on ``type``. Payload slots (``parameter``, ``result``,
``creationParameter``, ``message``) stay ``msgspec.Raw`` here: the envelope does not know the
endpoint's schema, the endpoint decodes its own payload into its own struct later. That keeps
routing cheap (no dict is ever built for a payload) and payload validation precise.
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec
from msgspec import UNSET, Raw, UnsetType

__all__ = [
    "UNSET",
    "AuthPacket",
    "AuthReply",
    "ChannelAck",
    "ChannelClose",
    "ChannelCreate",
    "ChannelError",
    "ChannelSend",
    "ClientMessage",
    "CommunicationWarning",
    "KeepAlive",
    "KeepAliveAck",
    "RpcCall",
    "RpcError",
    "RpcResult",
    "ServerMessage",
    "SignalError",
    "SignalSubscribe",
    "SignalUnsubscribe",
    "SignalUpdate",
    "WritableSignalError",
    "WritableSignalSubscribe",
    "WritableSignalUnsubscribe",
    "WritableSignalUpdate",
    "decode_client_message",
    "decode_server_message",
    "encode",
    "raw",
]


class _Message(msgspec.Struct, frozen=True, kw_only=True, rename="camel", tag_field="type"):
    pass


# -- both directions --------------------------------------------------------------------------


class ChannelSend(_Message, frozen=True, tag="channelSend"):
    channel_id: int
    message: Raw
    ack_id: int | UnsetType = UNSET


class ChannelAck(_Message, frozen=True, tag="channelAck"):
    channel_id: int
    ack_id: int


class CommunicationWarning(_Message, frozen=True, tag="communicationWarning"):
    warning: str
    kind: str | UnsetType = UNSET


class WritableSignalUpdate(_Message, frozen=True, tag="writableSignalUpdate"):
    subscribe_id: int
    patches: list[Raw]
    tags: list[str]


# -- client to server -------------------------------------------------------------------------


class RpcCall(_Message, frozen=True, tag="rpcCall"):
    endpoint: str
    call_id: int
    parameter: Raw | UnsetType = UNSET


class ChannelCreate(_Message, frozen=True, tag="channelCreate"):
    endpoint: str
    channel_id: int
    creation_parameter: Raw | UnsetType = UNSET


class SignalSubscribe(_Message, frozen=True, tag="signalSubscribe"):
    endpoint: str
    subscribe_id: int
    creation_parameter: Raw | UnsetType = UNSET


class SignalUnsubscribe(_Message, frozen=True, tag="signalUnsubscribe"):
    subscribe_id: int


class WritableSignalSubscribe(_Message, frozen=True, tag="writableSignalSubscribe"):
    endpoint: str
    subscribe_id: int
    creation_parameter: Raw | UnsetType = UNSET


class WritableSignalUnsubscribe(_Message, frozen=True, tag="writableSignalUnsubscribe"):
    subscribe_id: int


class KeepAlive(_Message, frozen=True, tag="keepAlive"):
    pass


# -- server to client -------------------------------------------------------------------------


class RpcResult(_Message, frozen=True, tag="rpcResult"):
    call_id: int
    result: Raw | UnsetType = UNSET


class RpcError(_Message, frozen=True, tag="rpcError"):
    call_id: int
    error: Raw


class ChannelClose(_Message, frozen=True, tag="channelClose"):
    channel_id: int


class ChannelError(_Message, frozen=True, tag="channelError"):
    channel_id: int
    error: Raw


class SignalUpdate(_Message, frozen=True, tag="signalUpdate"):
    subscribe_id: int
    patches: list[Raw]
    tags: list[str]


class SignalError(_Message, frozen=True, tag="signalError"):
    subscribe_id: int
    error: Raw


class WritableSignalError(_Message, frozen=True, tag="writableSignalError"):
    subscribe_id: int
    error: Raw


class KeepAliveAck(_Message, frozen=True, tag="keepAliveAck"):
    pass


ClientMessage = (
    RpcCall
    | ChannelCreate
    | ChannelSend
    | ChannelAck
    | SignalSubscribe
    | SignalUnsubscribe
    | WritableSignalSubscribe
    | WritableSignalUnsubscribe
    | WritableSignalUpdate
    | CommunicationWarning
    | KeepAlive
)

ServerMessage = (
    RpcResult
    | RpcError
    | ChannelSend
    | ChannelAck
    | ChannelClose
    | ChannelError
    | SignalUpdate
    | SignalError
    | WritableSignalUpdate
    | WritableSignalError
    | CommunicationWarning
    | KeepAliveAck
)


# -- authentication (not part of the tagged union: it has no "type") ---------------------------


class AuthPacket(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    auth_version: Literal[1]
    client_identifier: str
    client_passkey: str


class AuthReply(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    success: bool
    # A string in every known server; kept as Raw so an object-shaped error is tolerated too.
    error: Raw | UnsetType = UNSET


# -- codec ------------------------------------------------------------------------------------

_encoder = msgspec.json.Encoder()
_server_decoder = msgspec.json.Decoder(ServerMessage)
_client_decoder = msgspec.json.Decoder(ClientMessage)


def encode(message: msgspec.Struct) -> str:
    """Encode one message as the text of a WebSocket frame."""
    return _encoder.encode(message).decode()


def raw(value: Any) -> Raw:
    """Pre-encode a payload (struct or builtins) for a payload slot."""
    return Raw(_encoder.encode(value))


def decode_server_message(text: str | bytes) -> ServerMessage:
    """Decode a frame sent by a server. Raises msgspec.DecodeError/ValidationError."""
    message: ServerMessage = _server_decoder.decode(text)
    return message


def decode_client_message(text: str | bytes) -> ClientMessage:
    """Decode a frame sent by a client. Raises msgspec.DecodeError/ValidationError."""
    message: ClientMessage = _client_decoder.decode(text)
    return message
