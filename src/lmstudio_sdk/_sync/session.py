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
import time
from collections.abc import Callable
from typing import Any

import msgspec
from msgspec import UNSET, Raw, UnsetType

from .._exceptions import (
    LMStudioClientClosedError,
    LMStudioConnectionError,
    LMStudioError,
    LMStudioTimeoutError,
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
from .._transport.sync import Lock, Mailbox, Transport, pause
from .._transport.common import DEFAULT_KEEPALIVE, Keepalive, backoff_delay, transient
from .._types import check_timeout

__all__ = [
    "CLIENT_CLOSED",
    "DEFAULT_MAX_RETRIES",
    "Channel",
    "PendingCall",
    "Session",
    "Subscription",
    "deadline_after",
    "encode_payload",
    "remaining",
]

CLIENT_CLOSED = "this Client is closed (close() was called); create a new Client"

# Retries after a refused or dropped connection (see _transport.common.backoff_delay).
DEFAULT_MAX_RETRIES = 2


def deadline_after(seconds: float | None) -> float | None:
    """The monotonic time ``seconds`` from now (None: no deadline)."""
    return None if seconds is None else time.monotonic() + seconds


def remaining(deadline: float | None, what: str) -> float | None:
    """Seconds left until ``deadline``; LMStudioTimeoutError once it has passed."""
    if deadline is None:
        return None
    left = deadline - time.monotonic()
    if left <= 0:
        raise LMStudioTimeoutError(f"{what} ran out of time")
    return left


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
    # What to run once a channel ends, however it ends (e.g. free a prediction slot).
    channel_ends: dict[int, Callable[[], None]] = msgspec.field(default_factory=dict)

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

    def __init__(
        self,
        base_url: str,
        namespace: str,
        identity: Identity,
        *,
        keepalive: Keepalive = DEFAULT_KEEPALIVE,
        max_retries: int = DEFAULT_MAX_RETRIES,
    ) -> None:
        self.namespace = namespace
        self.url = f"{base_url}/{namespace}"
        self._identity = identity
        self._keepalive = keepalive
        self.max_retries = max_retries
        # Channels re-opened on every new socket (see Subscription).
        self._subscriptions: dict[int, Subscription] = {}
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
                keepalive=self._keepalive,
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
            for subscription in list(self._subscriptions.values()):
                subscription._attach(link)
            return link

    def _connect(self, deadline: float | None, retries: int | None) -> _Link:
        """The open socket, connecting (and retrying a refused or dropped connect, with
        backoff, within the deadline) if needed. Nothing of the caller's has been sent yet,
        so this is safe for every call, predictions and loads included."""
        link = self._usable_link()
        if link is not None:
            return link
        attempts = 1 + (self.max_retries if retries is None else retries)
        for attempt in range(attempts):
            try:
                return self._open(remaining(deadline, f"connecting to {self.url}"))
            except LMStudioConnectionError as exc:
                if attempt + 1 >= attempts or not transient(exc) or self._client_closed:
                    raise
                self._backoff(attempt, deadline, exc)
        raise AssertionError("unreachable")  # pragma: no cover

    @staticmethod
    def _backoff(attempt: int, deadline: float | None, error: LMStudioError) -> None:
        """Wait before retry ``attempt``; re-raise ``error`` if that would pass the deadline."""
        delay = backoff_delay(attempt)
        if deadline is not None and time.monotonic() + delay >= deadline:
            raise error
        pause(delay)

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
        self,
        endpoint: str,
        parameter: Raw | UnsetType,
        timeout: float | None,
        *,
        retries: int | None = None,
    ) -> PendingCall:
        """Send an ``rpcCall`` now; wait for its answer later (lets callers pipeline calls)."""
        link = self._usable_link() or self._connect(deadline_after(timeout), retries)
        box: Mailbox[RpcEvent] = Mailbox()
        with self._guard:
            call_id = link.core.start_rpc(endpoint, parameter)
            link.calls[call_id] = box
        self._flush(link)
        return PendingCall(self, link, call_id, box, endpoint)

    def rpc(
        self,
        endpoint: str,
        parameter: Raw | UnsetType = UNSET,
        *,
        timeout: float | None,
        retries: int | None = None,
        idempotent: bool = False,
    ) -> Raw | UnsetType:
        """One call. A refused connect is retried for any call (nothing was sent yet).

        A connection lost after the call was sent is retried only for an ``idempotent`` call
        (asking again cannot do a thing twice), never for one that changes the server's state;
        for those ``timeout`` bounds the call as a whole, retries and backoff included.
        """
        if not idempotent:
            call = self.start_rpc(endpoint, parameter, timeout, retries=retries)
            return call.result(timeout)
        deadline = deadline_after(timeout)
        attempts = 1 + (self.max_retries if retries is None else retries)
        what = f"the {endpoint} call"
        for attempt in range(attempts):
            if self._usable_link() is None:
                self._connect(deadline, attempts - attempt - 1)
            call = self.start_rpc(endpoint, parameter, remaining(deadline, what), retries=0)
            try:
                return call.result(remaining(deadline, what))
            except LMStudioConnectionError as exc:
                if not idempotent or attempt + 1 >= attempts or not transient(exc):
                    raise
                if self._client_closed:
                    raise
                self._backoff(attempt, deadline, exc)
        raise AssertionError("unreachable")  # pragma: no cover

    def open_channel(
        self,
        endpoint: str,
        creation_parameter: Raw | UnsetType,
        *,
        timeout: float | None,
        retries: int | None = None,
        on_end: Callable[[], None] | None = None,
    ) -> Channel:
        """Open a channel (connecting first, with retries, if needed). ``on_end`` runs once
        when the channel ends, however it ends (closed, failed, abandoned, socket lost)."""
        link = self._usable_link() or self._connect(deadline_after(timeout), retries)
        return self._open_channel_on(link, endpoint, creation_parameter, on_end)

    def _open_channel_on(
        self,
        link: _Link,
        endpoint: str,
        creation_parameter: Raw | UnsetType,
        on_end: Callable[[], None] | None,
    ) -> Channel:
        box: Mailbox[ChannelEvent] = Mailbox()
        with self._guard:
            channel_id = link.core.open_channel(endpoint, creation_parameter)
            link.channels[channel_id] = box
            if on_end is not None:
                link.channel_ends[channel_id] = on_end
        self._flush(link)
        return Channel(self, link, channel_id, box, endpoint)

    def subscribe(
        self, endpoint: str, creation_parameter: Raw | UnsetType, *, timeout: float | None
    ) -> Subscription:
        """Open a channel that is re-opened on every new socket (see Subscription)."""
        subscription = Subscription(self, endpoint, creation_parameter)
        link = self._connect(deadline_after(timeout), None)
        self._subscriptions[id(subscription)] = subscription
        subscription._attach(link)
        return subscription

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
                    on_end = link.channel_ends.pop(cid, None)
                    if on_end is not None:
                        on_end()
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
            on_end = link.channel_ends.pop(channel_id, None)
        if on_end is not None:
            on_end()


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

    def end_with_this_channel(self) -> None:
        """Do not re-open after the current channel ends (its end ends the subscription):
        for a subscription told to stop, whose socket may go before the server's answer."""
        self._reopen = False

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


class Subscription:
    """A long-lived channel (``alive``-style, log streams) that outlives its socket.

    The session re-opens it on every new socket, with the same creation parameter: at once
    when any call reconnects the session, or when ``receive`` finds its channel lost to the
    connection (``receive`` then reconnects, retrying with backoff like any call). Packets sent
    while no socket was open are lost; ``reopened`` counts the re-opens. It ends when the
    server closes the channel (``receive`` returns None), on a server error, or on ``close()``.
    """

    def __init__(
        self, session: Session, endpoint: str, creation_parameter: Raw | UnsetType
    ) -> None:
        self._session = session
        self.endpoint = endpoint
        self._creation_parameter = creation_parameter
        self._channel: Channel | None = None
        self._attached_to: _Link | None = None
        self.reopened = 0
        self.finished = False
        self._reopen = True

    def _attach(self, link: _Link) -> None:
        """Open this subscription's channel on a new socket (called by the session)."""
        if self.finished or self._attached_to is link:
            return
        if not self._reopen and self._attached_to is not None:
            self.close()  # asked to end with its current channel (a stop was sent on it)
            return
        if self._attached_to is not None:
            self.reopened += 1
        self._attached_to = link
        self._channel = self._session._open_channel_on(
            link, self.endpoint, self._creation_parameter, None
        )

    def receive(self, timeout: float | None) -> Raw | None:
        """The next packet, or None once the server closed the subscription.

        A lost connection is not an end: the channel is re-opened on a new socket. A
        connection that cannot be re-established raises LMStudioConnectionError (a later
        ``receive`` tries again); ``timeout`` bounds the whole wait, reconnects included.
        """
        deadline = deadline_after(timeout)
        what = f"waiting on the {self.endpoint} subscription"
        while True:
            if self.finished:
                raise LocalProtocolError(f"the {self.endpoint} subscription has already finished")
            channel = self._channel
            if (channel is None or channel.finished) and not self._reopen:
                self.close()
                return None
            if channel is None or channel.finished:
                link = self._session._connect(deadline, None)
                self._attach(link)
                continue
            try:
                message = channel.receive(remaining(deadline, what))
            except LMStudioConnectionError:
                if self._channel is channel:  # not re-opened yet: reconnect on the next turn
                    self._channel = None
                continue
            except BaseException:
                if channel.finished:  # a server error ends the subscription
                    self.close()
                raise
            if message is None:
                self.close()
            return message

    def end_with_this_channel(self) -> None:
        """Do not re-open after the current channel ends (its end ends the subscription):
        for a subscription told to stop, whose socket may go before the server's answer."""
        self._reopen = False

    def send(self, message: Any) -> bool:
        """Send a client packet on the current channel; False when none is open (the socket
        went and the subscription is not re-opened yet) or it has finished."""
        channel = self._channel
        if self.finished or channel is None or channel.finished:
            return False
        return channel.send(message)

    def receive_value(self, timeout: float | None) -> Any:
        """The next packet as plain JSON values, or None once the subscription ended."""
        message = self.receive(check_timeout(timeout))
        return None if message is None else msgspec.json.decode(message)

    def close(self) -> None:
        """Stop re-opening the channel and stop listening to it."""
        self.finished = True
        self._session._subscriptions.pop(id(self), None)
        if self._channel is not None and not self._channel.finished:
            self._channel.abandon()
