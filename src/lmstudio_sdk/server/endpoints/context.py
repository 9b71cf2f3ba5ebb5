"""What a handler receives, and how a namespace declares its handlers.

A handler sees the services it may use (models, files, engine name, experiment flags, the
notification sink, the diagnostics log bus, the shutdown request) and who is calling, never
the server, the session or the socket. A channel handler can also send packets and learn of
the client's cancel (or, on ``streamLogs``, its stop).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..._protocol.packets.shared import CancelPacket, StopPacket
from ..services import Services

__all__ = ["CallContext", "ChannelContext", "ChannelEndpoint", "NamespaceTable", "RpcEndpoint"]


class CallContext:
    """What an RPC handler may use."""

    def __init__(self, services: Services, namespace: str, client_identifier: str) -> None:
        self.namespace = namespace
        self.client_identifier = client_identifier
        self.models = services.models
        self.files = services.files
        self.retrieval = services.retrieval
        self.catalog = services.catalog
        self.engine_name = services.engine_name
        self.experiment_flags = services.experiment_flags
        self.notify = services.notify
        self.plugins = services.plugins
        self.identities = services.identities
        self.observer = services.observer
        self.logs = services.logs
        # Only a client that presented the server's API token counts as authenticated; without
        # a token every client is a guest (anyone may claim any identifier).
        self.holds_api_token = services.identities.requires_token
        self._shutdown_requested = services.shutdown_requested

    def request_shutdown(self) -> None:
        """Ask the app to stop once this call has been answered."""
        self._shutdown_requested.set()


class ChannelContext(CallContext):
    """What a channel handler may use: send packets, see client packets."""

    def __init__(
        self,
        services: Services,
        namespace: str,
        client_identifier: str,
        send: Callable[[Any], None],
    ) -> None:
        super().__init__(services, namespace, client_identifier)
        self._send = send
        self.cancelled = asyncio.Event()  # the client sent a cancel (or stop) packet
        self._cancel_callbacks: list[Callable[[], None]] = []
        self._packet_callbacks: list[Callable[[Any], None]] = []

    def send(self, message: Any) -> None:
        """Queue one channel packet, a struct of the endpoint's ``to_client`` union (no-op once
        the channel or the socket is gone)."""
        self._send(message)

    def on_cancel(self, callback: Callable[[], None]) -> None:
        self._cancel_callbacks.append(callback)
        if self.cancelled.is_set():
            callback()

    def on_packet(self, callback: Callable[[Any], None]) -> None:
        """Call ``callback`` with every client packet of this channel (decoded)."""
        self._packet_callbacks.append(callback)

    def receive(self, packet: Any) -> None:
        if isinstance(packet, CancelPacket | StopPacket) and not self.cancelled.is_set():
            self.cancelled.set()
            for callback in self._cancel_callbacks:
                callback()
        for on_packet in self._packet_callbacks:
            on_packet(packet)


# The wire types of an endpoint (parameter, result, packets) come from the packet vocabulary's
# ENDPOINTS registry, looked up by the router; a table names only the handler.


@dataclass(frozen=True, slots=True)
class RpcEndpoint:
    """An RPC handler: takes the decoded parameter (None if void), returns a struct of the
    endpoint's result type (None: no result). A superjson endpoint returns its result already
    wrapped in superjson's envelope."""

    handler: Callable[[CallContext, Any], Awaitable[Any]]
    # The schema lets the client omit the parameter (an ``anyOf`` with a void branch that the
    # generated alias does not show, e.g. surveyHardware's scope): the handler then gets None.
    parameter_optional: bool = False


@dataclass(frozen=True, slots=True)
class ChannelEndpoint:
    """A channel handler: takes the decoded creation parameter, sends packets through its
    context and returns to close the channel (raising fails it)."""

    handler: Callable[[ChannelContext, Any], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class NamespaceTable:
    """The handlers one namespace module exports; the router composes these."""

    namespace: str
    rpcs: Mapping[str, RpcEndpoint] = field(default_factory=dict)
    channels: Mapping[str, ChannelEndpoint] = field(default_factory=dict)
