"""Events the sans-I/O connections emit. Drivers route them; they never carry I/O objects.

Client side: every event names the call or channel it belongs to, or the whole connection.
Server side: every event is a request from the client for the server's dispatcher.
"""

from __future__ import annotations

import msgspec
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


class _Event(msgspec.Struct, frozen=True):
    """Events are msgspec Structs rather than dataclasses: as fast, and far cheaper to define
    (dataclass creation was the largest share of this package's import time)."""


# -- client side ------------------------------------------------------------------------------


class Authenticated(_Event, frozen=True):
    """The server accepted the auth packet; queued messages are now on their way."""


class ConnectionFailed(_Event, frozen=True):
    """The connection is over (refused auth, socket closed, or broken beyond repair).

    Every open call and channel has received its own failure event before this one.
    """

    error: LMStudioError


class WarningReceived(_Event, frozen=True):
    """The peer sent a ``communicationWarning``; worth logging, never fatal."""

    warning: str
    kind: str


class RpcSucceeded(_Event, frozen=True):
    call_id: int
    result: Raw | UnsetType


class RpcFailed(_Event, frozen=True):
    call_id: int
    error: LMStudioError


class ChannelMessage(_Event, frozen=True):
    channel_id: int
    message: Raw


class ChannelClosed(_Event, frozen=True):
    channel_id: int


class ChannelFailed(_Event, frozen=True):
    channel_id: int
    error: LMStudioError


RpcEvent = RpcSucceeded | RpcFailed
ChannelEvent = ChannelMessage | ChannelClosed | ChannelFailed
ClientEvent = Authenticated | ConnectionFailed | WarningReceived | RpcEvent | ChannelEvent


# -- server side ------------------------------------------------------------------------------


class AuthRequested(_Event, frozen=True):
    """A well-formed auth packet arrived; answer with accept_auth() or refuse_auth()."""

    client_identifier: str
    client_passkey: str


class RpcRequested(_Event, frozen=True):
    call_id: int
    endpoint: str
    parameter: Raw | UnsetType


class ChannelOpened(_Event, frozen=True):
    channel_id: int
    endpoint: str
    creation_parameter: Raw | UnsetType


class ChannelMessageReceived(_Event, frozen=True):
    channel_id: int
    message: Raw


ServerEvent = (
    AuthRequested | RpcRequested | ChannelOpened | ChannelMessageReceived | WarningReceived
)
