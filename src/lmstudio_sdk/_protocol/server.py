"""Server side of one namespace socket, with no I/O.

Mirrors ClientConnection. Behaviour follows LM Studio's reference server:

* While authenticating, frames that are not a valid auth packet are ignored.
* Malformed frames (including JSON nested deeper than the decoder allows), unknown channels and
  signal subscriptions get a ``communicationWarning`` (at most five per socket) and nothing
  else; the socket keeps serving.
* A ``channelSend`` for a channel that this socket opened and that has already ended (a cancel
  racing with the end is normal) is dropped quietly; only ids never opened are warned about.
  The last ``FINISHED_CHANNELS_REMEMBERED`` ended ids are remembered, which covers any race.
* Every call ends with exactly one rpcResult/rpcError; every channel ends with exactly one
  channelClose or channelError. Calls after the end of a channel are refused locally
  (LocalProtocolError) so that a handler bug cannot put two terminal messages on the wire.
"""

from __future__ import annotations

import enum
import logging
from collections import OrderedDict
from typing import Any

import msgspec
from msgspec import UNSET, Raw, UnsetType

from .._exceptions import LocalProtocolError
from . import envelope as wire
from .errors import ErrorData
from .events import (
    AuthRequested,
    ChannelMessageReceived,
    ChannelOpened,
    RpcRequested,
    ServerEvent,
    WarningReceived,
)

__all__ = ["ServerConnection", "ServerState"]

logger = logging.getLogger("lmstudio_sdk.server.protocol")

MAX_WARNINGS_SENT = 5
# How many ended channel ids a socket remembers, so that late packets for them stay quiet.
FINISHED_CHANNELS_REMEMBERED = 1024


class ServerState(enum.IntEnum):
    AUTHENTICATING = 1
    OPEN = 2
    CLOSED = 3


class ServerConnection:
    """Protocol state of one server socket."""

    def __init__(self) -> None:
        self.state = ServerState.AUTHENTICATING
        self._events: list[ServerEvent] = []
        self._outgoing: list[str] = []
        self._open_calls: set[int] = set()
        self._open_channels: set[int] = set()
        # Ids of channels that ended, oldest first (bounded; values unused).
        self._finished_channels: OrderedDict[int, None] = OrderedDict()
        self._warnings_sent = 0
        self._auth_requested = False

    def events_received(self) -> list[ServerEvent]:
        events, self._events = self._events, []
        return events

    def data_to_send(self) -> list[str]:
        frames, self._outgoing = self._outgoing, []
        return frames

    @property
    def open_channels(self) -> frozenset[int]:
        return frozenset(self._open_channels)

    # -- authentication -----------------------------------------------------------------------

    def accept_auth(self) -> None:
        self._require(ServerState.AUTHENTICATING)
        self.state = ServerState.OPEN
        self._outgoing.append('{"success":true}')

    def refuse_auth(self, reason: str) -> None:
        """Answer with a failure; the driver closes the socket after sending it."""
        self._require(ServerState.AUTHENTICATING)
        self.state = ServerState.CLOSED
        self._outgoing.append(wire.encode(wire.AuthReply(success=False, error=wire.raw(reason))))

    # -- input --------------------------------------------------------------------------------

    def receive_text(self, text: str | bytes) -> None:
        if self.state is ServerState.AUTHENTICATING:
            if self._auth_requested:
                return  # one auth packet per socket; the rest waits for our answer
            try:
                packet = msgspec.json.decode(text, type=wire.AuthPacket)
            except (msgspec.DecodeError, msgspec.ValidationError, RecursionError):
                # RecursionError: msgspec's answer to JSON nested deeper than the stack allows.
                return  # the reference server keeps waiting for a valid packet
            self._auth_requested = True
            self._events.append(AuthRequested(packet.client_identifier, packet.client_passkey))
            return
        if self.state is ServerState.CLOSED:
            return
        try:
            message = wire.decode_client_message(text)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            self.send_warning(f"Received an invalid message: {exc}", "unknown")
            return
        except RecursionError:
            self.send_warning("Received an invalid message: JSON nested too deeply", "unknown")
            return
        self._dispatch(message)

    def _dispatch(self, message: wire.ClientMessage) -> None:
        match message:
            case wire.RpcCall(endpoint=endpoint, call_id=cid, parameter=parameter):
                if cid in self._open_calls:
                    self.send_warning(f"RPC call {cid} is already in progress", "rpcUnknown")
                    return
                self._open_calls.add(cid)
                self._events.append(RpcRequested(cid, endpoint, parameter))
            case wire.ChannelCreate(endpoint=endpoint, channel_id=cid, creation_parameter=param):
                if cid in self._open_channels:
                    self.send_warning(f"Channel {cid} is already open", "channelAlreadyOpen")
                    return
                self._open_channels.add(cid)
                self._finished_channels.pop(cid, None)
                self._events.append(ChannelOpened(cid, endpoint, param))
            case wire.ChannelSend(channel_id=cid, message=payload, ack_id=ack_id):
                if cid not in self._open_channels:
                    if cid not in self._finished_channels:
                        self.send_warning(
                            f"Received a message for unknown channel {cid}", "channelUnknown"
                        )
                    # else: a cancel racing with the channel's end is normal; drop it quietly.
                    return
                if not isinstance(ack_id, UnsetType):
                    self._outgoing.append(
                        wire.encode(wire.ChannelAck(channel_id=cid, ack_id=ack_id))
                    )
                self._events.append(ChannelMessageReceived(cid, payload))
            case wire.KeepAlive():
                self._outgoing.append(wire.encode(wire.KeepAliveAck()))
            case wire.CommunicationWarning(warning=text, kind=kind):
                kind_text = kind if isinstance(kind, str) else "unknown"
                logger.warning("client sent a protocol warning (%s): %s", kind_text, text)
                self._events.append(WarningReceived(text, kind_text))
            case (
                wire.SignalSubscribe(endpoint=endpoint)
                | wire.WritableSignalSubscribe(endpoint=endpoint)
            ):
                kind = (
                    "signalEndpointUnknown"
                    if isinstance(message, wire.SignalSubscribe)
                    else "writableSignalEndpointUnknown"
                )
                self.send_warning(f"No signal endpoint named {endpoint!r}", kind)
            case _:
                pass  # acks, unsubscribes and signal writes for subscriptions that never existed

    # -- output -------------------------------------------------------------------------------

    def send_rpc_result(self, call_id: int, result: Any = UNSET) -> None:
        self._end_call(call_id)
        payload = result if isinstance(result, UnsetType) else _as_raw(result)
        self._outgoing.append(wire.encode(wire.RpcResult(call_id=call_id, result=payload)))

    def send_rpc_error(self, call_id: int, error: ErrorData) -> None:
        self._end_call(call_id)
        self._outgoing.append(wire.encode(wire.RpcError(call_id=call_id, error=wire.raw(error))))

    def send_channel_message(self, channel_id: int, message: Any) -> None:
        self._require_channel(channel_id)
        self._outgoing.append(
            wire.encode(wire.ChannelSend(channel_id=channel_id, message=_as_raw(message)))
        )

    def close_channel(self, channel_id: int) -> None:
        self._require_channel(channel_id)
        self._channel_ended(channel_id)
        self._outgoing.append(wire.encode(wire.ChannelClose(channel_id=channel_id)))

    def fail_channel(self, channel_id: int, error: ErrorData) -> None:
        self._require_channel(channel_id)
        self._channel_ended(channel_id)
        self._outgoing.append(
            wire.encode(wire.ChannelError(channel_id=channel_id, error=wire.raw(error)))
        )

    def drop_call(self, call_id: int) -> None:
        """End a call without answering (the reference server's reaction to a bad call)."""
        self._open_calls.discard(call_id)

    def drop_channel(self, channel_id: int) -> None:
        """Forget a channel without a terminal message (bad creation parameter)."""
        if channel_id in self._open_channels:
            self._channel_ended(channel_id)

    def send_warning(self, text: str, kind: str = "unknown") -> None:
        if self._warnings_sent >= MAX_WARNINGS_SENT or self.state is not ServerState.OPEN:
            return
        self._warnings_sent += 1
        self._outgoing.append(wire.encode(wire.CommunicationWarning(warning=text, kind=kind)))

    def connection_lost(self) -> None:
        self.state = ServerState.CLOSED
        self._open_calls.clear()
        self._open_channels.clear()
        self._finished_channels.clear()

    # -- helpers ------------------------------------------------------------------------------

    def _channel_ended(self, channel_id: int) -> None:
        self._open_channels.discard(channel_id)
        self._finished_channels[channel_id] = None
        self._finished_channels.move_to_end(channel_id)
        if len(self._finished_channels) > FINISHED_CHANNELS_REMEMBERED:
            self._finished_channels.popitem(last=False)

    def _end_call(self, call_id: int) -> None:
        self._require(ServerState.OPEN)
        if call_id not in self._open_calls:
            raise LocalProtocolError(f"call {call_id} is not open")
        self._open_calls.discard(call_id)

    def _require_channel(self, channel_id: int) -> None:
        self._require(ServerState.OPEN)
        if channel_id not in self._open_channels:
            raise LocalProtocolError(f"channel {channel_id} is not open")

    def _require(self, state: ServerState) -> None:
        if self.state is not state:
            raise LocalProtocolError(f"connection is {self.state.name}, not {state.name}")


def _as_raw(value: Any) -> Raw:
    return value if isinstance(value, Raw) else wire.raw(value)
