"""Client side of one namespace socket, with no I/O.

A driver uses it like this::

    conn = ClientConnection(identity)
    send_all(conn.data_to_send())           # the auth packet
    ...
    conn.receive_text(frame)                # every frame the socket delivers
    for event in conn.events_received(): route(event)
    send_all(conn.data_to_send())           # acks, queued calls after auth
    ...
    conn.connection_lost(exc)               # when the socket ends; fails everything open

Rules this file keeps (and the tests check):

1. Bad input from the server never raises. A frame that cannot be decoded fails only the call
   or channel it names (if it names one), else it is logged and dropped.
2. Ids are allocated from separate counters for calls and channels; a server must not assume
   they are unique across kinds.
3. Messages for ids that were used and finished are dropped silently (a late ``channelClose`` is
   normal); ids never allocated get a ``communicationWarning`` back, at most five per socket.
4. Nothing but the auth packet is sent before the server accepted it; calls made meanwhile wait
   in order.
"""

from __future__ import annotations

import enum
import logging
from typing import Any

import msgspec
from msgspec import UNSET, Raw, UnsetType

from .._exceptions import (
    AuthenticationError,
    LMStudioConnectionError,
    LMStudioError,
    LocalProtocolError,
    RemoteProtocolError,
    server_error,
)
from . import envelope as wire
from .errors import parse_error_data
from .events import (
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
from .identity import Identity

__all__ = ["MAX_WARNINGS_SENT", "ClientConnection", "State"]

logger = logging.getLogger("lmstudio_sdk.protocol")

MAX_WARNINGS_SENT = 5

_SERVER_MESSAGE_TYPES = frozenset(cls.__struct_config__.tag for cls in wire.ServerMessage.__args__)
_unknown_types_seen: set[str] = set()
_FIRST_ID = 1  # first call and channel id; ids below it were never allocated


class State(enum.IntEnum):
    AUTHENTICATING = 1
    OPEN = 2
    CLOSED = 3


class ClientConnection:
    """Protocol state of one client socket: auth, id allocation, routing."""

    def __init__(self, identity: Identity, *, namespace: str = "") -> None:
        self.namespace = namespace
        self.state = State.AUTHENTICATING
        self._events: list[ClientEvent] = []
        self._outgoing: list[str] = [wire.encode(identity.auth_packet())]
        self._held: list[str] = []  # frames waiting for the auth reply
        self._next_call_id = _FIRST_ID
        self._next_channel_id = _FIRST_ID
        self._open_calls: set[int] = set()
        self._open_channels: set[int] = set()
        self._warnings_sent = 0
        self.close_error: LMStudioError | None = None

    # -- output -------------------------------------------------------------------------------

    def events_received(self) -> list[ClientEvent]:
        events, self._events = self._events, []
        return events

    def data_to_send(self) -> list[str]:
        frames, self._outgoing = self._outgoing, []
        return frames

    @property
    def open_calls(self) -> frozenset[int]:
        return frozenset(self._open_calls)

    @property
    def open_channels(self) -> frozenset[int]:
        return frozenset(self._open_channels)

    # -- commands -----------------------------------------------------------------------------

    def start_rpc(self, endpoint: str, parameter: Raw | UnsetType = UNSET) -> int:
        """Queue an ``rpcCall``; the answer arrives as RpcSucceeded/RpcFailed with this id."""
        self._check_usable()
        call_id = self._next_call_id
        self._next_call_id += 1
        self._open_calls.add(call_id)
        self._send(wire.RpcCall(endpoint=endpoint, call_id=call_id, parameter=parameter))
        return call_id

    def open_channel(self, endpoint: str, creation_parameter: Raw | UnsetType = UNSET) -> int:
        """Queue a ``channelCreate``; packets arrive as ChannelMessage until closed or failed."""
        self._check_usable()
        channel_id = self._next_channel_id
        self._next_channel_id += 1
        self._open_channels.add(channel_id)
        self._send(
            wire.ChannelCreate(
                endpoint=endpoint, channel_id=channel_id, creation_parameter=creation_parameter
            )
        )
        return channel_id

    def send_on_channel(self, channel_id: int, message: Raw) -> None:
        """Queue a client packet (e.g. ``{"type": "cancel"}``) on an open channel."""
        self._check_usable()
        if channel_id not in self._open_channels:
            raise LocalProtocolError(f"channel {channel_id} is not open")
        self._send(wire.ChannelSend(channel_id=channel_id, message=message))

    def abandon_channel(self, channel_id: int) -> None:
        """Stop routing a channel locally; later packets for it are dropped silently."""
        self._open_channels.discard(channel_id)

    def abandon_call(self, call_id: int) -> None:
        """Stop routing a call locally (its caller gave up); a late answer is dropped."""
        self._open_calls.discard(call_id)

    def send_keep_alive(self) -> None:
        self._check_usable()
        self._send(wire.KeepAlive())

    def connection_lost(self, cause: BaseException | None = None) -> None:
        """The socket is gone: fail every open call and channel, then the connection."""
        if self.state is State.CLOSED:
            return
        where = f" /{self.namespace}" if self.namespace else ""
        error = LMStudioConnectionError(
            f"the connection to LM Studio{where} was lost"
            + (f": {cause}" if cause is not None and str(cause) else "")
        )
        error.__cause__ = cause
        self._fail(error)

    # -- input --------------------------------------------------------------------------------

    def receive_text(self, text: str | bytes) -> None:
        """Feed one frame received from the server."""
        if self.state is State.AUTHENTICATING:
            self._receive_auth_reply(text)
            return
        if self.state is State.CLOSED:
            return
        try:
            message = wire.decode_server_message(text)
        except (msgspec.DecodeError, msgspec.ValidationError, RecursionError) as exc:
            # RecursionError: msgspec's answer to JSON nested deeper than the stack allows.
            self._receive_malformed(text, exc)
            return
        self._dispatch(message)

    def _receive_auth_reply(self, text: str | bytes) -> None:
        try:
            reply = msgspec.json.decode(text, type=wire.AuthReply)
        except (msgspec.DecodeError, msgspec.ValidationError, RecursionError) as exc:
            self._fail(RemoteProtocolError(f"malformed authentication reply: {exc}"))
            return
        if reply.success:
            self.state = State.OPEN
            self._outgoing.extend(self._held)
            self._held.clear()
            self._events.append(Authenticated())
            return
        detail = (
            parse_error_data(msgspec.json.decode(reply.error))
            if not isinstance(reply.error, UnsetType)
            else None
        )
        reason = detail.title if detail else "no reason given"
        self._fail(
            AuthenticationError(
                f"LM Studio refused the connection: {reason}. Check the API token "
                "(api_token=, or the LM_API_TOKEN / LMSTUDIO_API_TOKEN environment variables)."
            )
        )

    def _dispatch(self, message: wire.ServerMessage) -> None:
        match message:
            case wire.ChannelSend(channel_id=cid, message=payload, ack_id=ack_id):
                if not isinstance(ack_id, UnsetType):
                    self._send(wire.ChannelAck(channel_id=cid, ack_id=ack_id))
                if self._channel_known(cid, "channelUnknown"):
                    self._events.append(ChannelMessage(cid, payload))
            case wire.ChannelClose(channel_id=cid):
                if self._channel_known(cid, "channelUnknown"):
                    self._open_channels.discard(cid)
                    self._events.append(ChannelClosed(cid))
            case wire.ChannelError(channel_id=cid, error=error):
                if self._channel_known(cid, "channelUnknown"):
                    self._open_channels.discard(cid)
                    self._events.append(ChannelFailed(cid, _server_error(error)))
            case wire.RpcResult(call_id=cid, result=result):
                if self._call_known(cid):
                    self._open_calls.discard(cid)
                    self._events.append(RpcSucceeded(cid, result))
            case wire.RpcError(call_id=cid, error=error):
                if self._call_known(cid):
                    self._open_calls.discard(cid)
                    self._events.append(RpcFailed(cid, _server_error(error)))
            case wire.CommunicationWarning(warning=text, kind=kind):
                kind_text = kind if isinstance(kind, str) else "unknown"
                logger.warning("LM Studio sent a protocol warning (%s): %s", kind_text, text)
                self._events.append(WarningReceived(text, kind_text))
            case wire.ChannelAck() | wire.KeepAliveAck():
                pass  # we never request acks; a keepAliveAck answers our keepAlive
            case _:
                # Signals: no SDK endpoint subscribes to any, so any update is for an id we
                # never opened. Dropped quietly, as the TS client drops late signal updates.
                logger.debug("ignoring %s for an unknown subscription", type(message).__name__)

    def _receive_malformed(self, text: str | bytes, exc: Exception) -> None:
        """Fail only what the bad frame names; never the connection."""
        try:
            loose: Any = msgspec.json.decode(text)
        except (msgspec.DecodeError, RecursionError):
            loose = None
        kind = loose.get("type") if isinstance(loose, dict) else None
        if isinstance(kind, str) and kind not in _SERVER_MESSAGE_TYPES:
            # A message type from a newer LM Studio: tolerated like unknown fields (the TS
            # client does the same), so it must not fail the call it names.
            if kind not in _unknown_types_seen:
                _unknown_types_seen.add(kind)
                logger.info("ignoring a message type this SDK does not know: %r", kind)
            self._warn(f"Received an invalid message: unknown type {kind!r}", "unknown")
            return
        call_id = loose.get("callId") if isinstance(loose, dict) else None
        channel_id = loose.get("channelId") if isinstance(loose, dict) else None
        problem = RemoteProtocolError(f"LM Studio sent a malformed {kind or 'frame'}: {exc}")
        if isinstance(call_id, int) and call_id in self._open_calls:
            self._open_calls.discard(call_id)
            self._events.append(RpcFailed(call_id, problem))
        elif isinstance(channel_id, int) and channel_id in self._open_channels:
            self._open_channels.discard(channel_id)
            self._events.append(ChannelFailed(channel_id, problem))
        else:
            logger.warning("dropping a frame LM Studio sent: %s", problem)
            self._warn(f"Received an invalid message: {exc}", "unknown")

    # -- helpers ------------------------------------------------------------------------------

    def _call_known(self, call_id: int) -> bool:
        if call_id in self._open_calls:
            return True
        if not _FIRST_ID <= call_id < self._next_call_id:
            self._warn(f"Received a result for unknown call {call_id}", "rpcUnknown")
        return False  # finished or abandoned: a late answer is normal

    def _channel_known(self, channel_id: int, kind: str) -> bool:
        if channel_id in self._open_channels:
            return True
        if not _FIRST_ID <= channel_id < self._next_channel_id:
            self._warn(f"Received a message for unknown channel {channel_id}", kind)
        return False

    def _warn(self, text: str, kind: str) -> None:
        if self._warnings_sent >= MAX_WARNINGS_SENT or self.state is not State.OPEN:
            return
        self._warnings_sent += 1
        self._send(wire.CommunicationWarning(warning=text, kind=kind))

    def _send(self, message: msgspec.Struct) -> None:
        frame = wire.encode(message)
        if self.state is State.AUTHENTICATING:
            self._held.append(frame)
        else:
            self._outgoing.append(frame)

    def _check_usable(self) -> None:
        if self.state is State.CLOSED:
            assert self.close_error is not None
            raise self.close_error

    def _fail(self, error: LMStudioError) -> None:
        self.state = State.CLOSED
        self.close_error = error
        self._held.clear()
        for call_id in sorted(self._open_calls):
            self._events.append(RpcFailed(call_id, error))
        for channel_id in sorted(self._open_channels):
            self._events.append(ChannelFailed(channel_id, error))
        self._open_calls.clear()
        self._open_channels.clear()
        self._events.append(ConnectionFailed(error))


def _server_error(error: Raw) -> LMStudioError:
    try:
        loose: Any = msgspec.json.decode(error)
    except msgspec.DecodeError:  # pragma: no cover - Raw always holds valid JSON
        loose = None
    return server_error(parse_error_data(loose))
