# GENERATED from src/lmstudio_sdk/_async/session.py by scripts/unasync.py. Do not edit: edit the source.
"""One namespace socket of a client: connect lazily, authenticate, multiplex calls and channels.

The sans-I/O ``ClientConnection`` holds every protocol rule; this layer only connects, feeds it
frames, sends what it produces and hands its events to the mailbox of whoever waits for them.
A session survives its socket: after a drop, the next call opens a new one.

This file is the source of truth for both faces: ``scripts/unasync.py`` generates the sync twin
in ``_sync/session.py``. Keep to constructs that have a mechanical sync counterpart.
"""

from __future__ import annotations

import threading
from typing import Any

import msgspec
from msgspec import UNSET, Raw, UnsetType

from .._exceptions import (
    LMStudioClientClosedError,
    LMStudioError,
    LMStudioValueError,
    LocalProtocolError,
)
from .._protocol import envelope as wire
from .._protocol.client import ClientConnection, State
from .._protocol.events import (
    Authenticated,
    ChannelClosed,
    ChannelEvent,
    ChannelFailed,
    ChannelMessage,
    ClientEvent,
    ConnectionFailed,
    RpcEvent,
    RpcFailed,
    RpcSucceeded,
)
from .._protocol.identity import Identity
from .._transport.sync import Lock, Mailbox, Transport
from .._types import check_timeout

__all__ = ["CLIENT_CLOSED", "Channel", "PendingCall", "Session", "encode_payload"]

CLIENT_CLOSED = "this Client is closed (close() was called); create a new Client"


def encode_payload(value: Any, what: str = "parameter") -> Raw:
    """A struct or plain JSON values as the bytes to send; refused before anything is sent."""
    try:
        return wire.raw(value)
    except (TypeError, msgspec.EncodeError) as exc:
        raise LMStudioValueError(f"the {what} cannot be sent as JSON: {exc}") from None


def fresh(error: LMStudioError) -> LMStudioError:
    """A new instance of an error that may be raised in several waiters at once."""
    copy = error.__class__.__new__(error.__class__)
    copy.__dict__.update(error.__dict__)
    copy.args = error.args
    copy.__cause__ = error.__cause__
    return copy


class _Link(msgspec.Struct):
    """One socket and the routing tables that die with it."""

    core: ClientConnection
    auth: Mailbox[ClientEvent]
    transport: Transport | None = None
    calls: dict[int, Mailbox[RpcEvent]] = msgspec.field(default_factory=dict)
    channels: dict[int, Mailbox[ChannelEvent]] = msgspec.field(default_factory=dict)

    @property
    def usable(self) -> bool:
        return (
            self.core.state is State.OPEN
            and self.transport is not None
            and not self.transport.closed
            and self.transport.on_own_loop()
        )


class Session:
    """Calls and channels on one namespace socket."""

    def __init__(self, base_url: str, namespace: str, identity: Identity) -> None:
        self.namespace = namespace
        self.url = f"{base_url}/{namespace}"
        self._identity = identity
        self._connect_lock = Lock()
        # Guards the core and the routing tables: the sync face's reader thread and its
        # callers share them. Never held across a wait.
        self._guard = threading.Lock()
        self._link: _Link | None = None
        self._client_closed = False

    # -- connection ---------------------------------------------------------------------------

    def _usable_link(self) -> _Link | None:
        """The open socket, if any: the fast path of every call (no coroutine to create)."""
        link = self._link
        return link if link is not None and link.usable else None

    def _open(self, timeout: float | None) -> _Link:
        link = self._link
        if link is not None and link.usable:
            return link
        if self._client_closed:
            raise LMStudioClientClosedError(CLIENT_CLOSED)
        if link is not None and link.transport is not None and link.transport.orphaned():
            # Its event loop is gone (an earlier asyncio.run() ended): nothing can read this
            # socket any more, and no call of the running loop is waiting on it.
            self._link = None
            link.transport.abort()
        with self._connect_lock.hold(timeout):
            link = self._link
            if link is not None and link.usable:
                return link
            if self._client_closed:  # closed while we waited for the lock
                raise LMStudioClientClosedError(CLIENT_CLOSED)
            if link is not None and link.transport is not None:
                link.transport.close()
            link = _Link(ClientConnection(self._identity, namespace=self.namespace), Mailbox())
            link.transport = Transport.connect(
                self.url,
                timeout=timeout,
                on_text=lambda text: self._receive(link, text),
                on_closed=lambda cause: self._closed(link, cause),
            )
            self._flush(link)
            try:
                event = link.auth.get(timeout)
            except BaseException:
                # No closing handshake: a peer that did not answer the auth packet in time may
                # not answer a close frame either, and the caller's timeout has already run out.
                link.transport.abort()
                raise
            if isinstance(event, ConnectionFailed):
                link.transport.abort()
                raise fresh(event.error)
            self._link = link
            return link

    def close(self) -> None:
        """Close the socket for good: later calls raise LMStudioClientClosedError."""
        self._client_closed = True
        link, self._link = self._link, None
        if link is not None and link.transport is not None:
            if link.transport.on_own_loop():
                link.transport.close()
            else:  # no closing handshake from a loop the socket does not belong to
                link.transport.abort()

    # -- calls --------------------------------------------------------------------------------

    def start_rpc(
        self, endpoint: str, parameter: Raw | UnsetType, timeout: float | None
    ) -> PendingCall:
        """Send an ``rpcCall`` now; wait for its answer later (lets callers pipeline calls)."""
        link = self._usable_link() or self._open(timeout)
        box: Mailbox[RpcEvent] = Mailbox()
        with self._guard:
            call_id = link.core.start_rpc(endpoint, parameter)
            link.calls[call_id] = box
        self._flush(link)
        return PendingCall(self, link, call_id, box, endpoint)

    def rpc(
        self, endpoint: str, parameter: Raw | UnsetType = UNSET, *, timeout: float | None
    ) -> Raw | UnsetType:
        call = self.start_rpc(endpoint, parameter, timeout)
        return call.result(timeout)

    def open_channel(
        self, endpoint: str, creation_parameter: Raw | UnsetType, *, timeout: float | None
    ) -> Channel:
        link = self._usable_link() or self._open(timeout)
        box: Mailbox[ChannelEvent] = Mailbox()
        with self._guard:
            channel_id = link.core.open_channel(endpoint, creation_parameter)
            link.channels[channel_id] = box
        self._flush(link)
        return Channel(self, link, channel_id, box, endpoint)

    # -- plumbing used by calls and channels ----------------------------------------------------

    def _flush(self, link: _Link) -> None:
        if link.transport is None:
            return  # still connecting: the frames wait in the core until the first flush
        # Queued under the guard (sending only queues, on both faces), so that frames reach
        # the wire in the order the core produced them even when threads flush concurrently
        # (a cancel from one thread never overtakes its channelCreate from another).
        with self._guard:
            for frame in link.core.data_to_send():
                link.transport.send(frame)

    def _receive(self, link: _Link, text: str) -> None:
        with self._guard:
            link.core.receive_text(text)
            self._route(link, link.core.events_received())
        self._flush(link)

    def _closed(self, link: _Link, cause: BaseException | None) -> None:
        with self._guard:
            link.core.connection_lost(cause)
            self._route(link, link.core.events_received())

    @staticmethod
    def _route(link: _Link, events: list[ClientEvent]) -> None:
        for event in events:
            match event:
                case RpcSucceeded(call_id=cid) | RpcFailed(call_id=cid):
                    call_box = link.calls.pop(cid, None)
                    if call_box is not None:
                        call_box.put(event)
                case ChannelMessage(channel_id=cid):
                    channel_box = link.channels.get(cid)
                    if channel_box is not None:
                        channel_box.put(event)
                case ChannelClosed(channel_id=cid) | ChannelFailed(channel_id=cid):
                    channel_box = link.channels.pop(cid, None)
                    if channel_box is not None:
                        channel_box.put(event)
                case Authenticated() | ConnectionFailed():
                    link.auth.put(event)
                case _:
                    pass  # warnings: the core has logged them

    def _abandon_call(self, link: _Link, call_id: int) -> None:
        with self._guard:
            link.core.abandon_call(call_id)
            link.calls.pop(call_id, None)

    def _send_on_channel(self, link: _Link, channel_id: int, message: Raw) -> None:
        with self._guard:
            link.core.send_on_channel(channel_id, message)
        self._flush(link)

    def _abandon_channel(self, link: _Link, channel_id: int) -> None:
        with self._guard:
            link.core.abandon_channel(channel_id)
            link.channels.pop(channel_id, None)


class PendingCall:
    """An RPC that has been sent; ``result()`` waits for its answer."""

    def __init__(
        self,
        session: Session,
        link: _Link,
        call_id: int,
        box: Mailbox[RpcEvent],
        endpoint: str,
    ) -> None:
        self._session = session
        self._link = link
        self._call_id = call_id
        self._box = box
        self.endpoint = endpoint

    def result(self, timeout: float | None) -> Raw | UnsetType:
        if self._link.transport is not None:
            self._link.transport.ensure_own_loop(f"the {self.endpoint} call")
        try:
            event = self._box.get(timeout)
        except BaseException:
            self._session._abandon_call(self._link, self._call_id)
            raise
        if isinstance(event, RpcFailed):
            raise fresh(event.error)
        return event.result

    def abandon(self) -> None:
        """Stop waiting; a late answer is dropped."""
        self._session._abandon_call(self._link, self._call_id)


class Channel:
    """An open channel: receive server packets, send client packets."""

    def __init__(
        self,
        session: Session,
        link: _Link,
        channel_id: int,
        box: Mailbox[ChannelEvent],
        endpoint: str,
    ) -> None:
        self._session = session
        self._link = link
        self.channel_id = channel_id
        self._box = box
        self.endpoint = endpoint
        self.finished = False

    def receive(self, timeout: float | None) -> Raw | None:
        """The next packet, or None once the server closed the channel.

        Raises the server's error (channelError) or the connection's.
        """
        if self.finished:
            raise LocalProtocolError(f"the {self.endpoint} channel has already finished")
        if self._link.transport is not None:
            self._link.transport.ensure_own_loop(f"the {self.endpoint} channel")
        event = self._box.get(timeout)
        if isinstance(event, ChannelMessage):
            return event.message
        self.finished = True
        if isinstance(event, ChannelFailed):
            raise fresh(event.error)
        return None

    def receive_value(self, timeout: float | None) -> Any:
        """The next packet as plain JSON values, or None once the channel closed."""
        message = self.receive(check_timeout(timeout))
        return None if message is None else msgspec.json.decode(message)

    def send(self, message: Any) -> bool:
        """Send a client packet; False when the channel or socket is already gone."""
        payload = encode_payload(message, "message")
        if self.finished or not self._link.usable:
            return False
        try:
            self._session._send_on_channel(self._link, self.channel_id, payload)
        except LMStudioError:
            return False
        return True

    def abandon(self) -> None:
        """Stop listening; whatever the server still sends on this channel is dropped, and a
        ``receive`` waiting (in another task or thread) returns None."""
        if not self.finished:
            self._box.put(ChannelClosed(channel_id=self.channel_id))
        self.finished = True
        self._session._abandon_channel(self._link, self.channel_id)
