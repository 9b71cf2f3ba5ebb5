"""Events the sans-I/O connections emit. Drivers route them; they never carry I/O objects.

Client side: every event names the call or channel it belongs to, or the whole connection.
Server side: every event is a request from the client for the server's dispatcher.
"""

from __future__ import annotations

from dataclasses import dataclass

from msgspec import Raw, UnsetType

from .._exceptions import LMStudioError

__all__ = [
    "AuthRequested",
    "Authenticated",
    "ChannelClosed",
    "ChannelEvent",
    "ChannelFailed",
    "ChannelMessage",
    "ChannelMessageReceived",
    "ChannelOpened",
    "ClientEvent",
    "ConnectionFailed",
    "RpcEvent",
    "RpcFailed",
    "RpcRequested",
    "RpcSucceeded",
    "ServerEvent",
    "WarningReceived",
]


# -- client side ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Authenticated:
    """The server accepted the auth packet; queued messages are now on their way."""


@dataclass(frozen=True, slots=True)
class ConnectionFailed:
    """The connection is over (refused auth, socket closed, or broken beyond repair).

    Every open call and channel has received its own failure event before this one.
    """

    error: LMStudioError


@dataclass(frozen=True, slots=True)
class WarningReceived:
    """The peer sent a ``communicationWarning``; worth logging, never fatal."""

    warning: str
    kind: str


@dataclass(frozen=True, slots=True)
class RpcSucceeded:
    call_id: int
    result: Raw | UnsetType


@dataclass(frozen=True, slots=True)
class RpcFailed:
    call_id: int
    error: LMStudioError


@dataclass(frozen=True, slots=True)
class ChannelMessage:
    channel_id: int
    message: Raw


@dataclass(frozen=True, slots=True)
class ChannelClosed:
    channel_id: int


@dataclass(frozen=True, slots=True)
class ChannelFailed:
    channel_id: int
    error: LMStudioError


RpcEvent = RpcSucceeded | RpcFailed
ChannelEvent = ChannelMessage | ChannelClosed | ChannelFailed
ClientEvent = Authenticated | ConnectionFailed | WarningReceived | RpcEvent | ChannelEvent


# -- server side ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AuthRequested:
    """A well-formed auth packet arrived; answer with accept_auth() or refuse_auth()."""

    client_identifier: str
    client_passkey: str


@dataclass(frozen=True, slots=True)
class RpcRequested:
    call_id: int
    endpoint: str
    parameter: Raw | UnsetType


@dataclass(frozen=True, slots=True)
class ChannelOpened:
    channel_id: int
    endpoint: str
    creation_parameter: Raw | UnsetType


@dataclass(frozen=True, slots=True)
class ChannelMessageReceived:
    channel_id: int
    message: Raw


ServerEvent = (
    AuthRequested | RpcRequested | ChannelOpened | ChannelMessageReceived | WarningReceived
)
