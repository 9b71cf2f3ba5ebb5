"""One authenticated namespace socket: drives the sans-I/O ServerConnection over websockets.

The router finds the handler of each call and channel; the handler gets a context with the
services, never the session itself.

Every call and channel runs in its own task, so a slow one never blocks the others; all of
them are cancelled when the socket closes. A single writer task sends frames in the order the
protocol core produced them.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any

import msgspec
from msgspec import UNSET, Raw, UnsetType
from websockets.asyncio.server import ServerConnection as WebSocket
from websockets.exceptions import ConnectionClosed

from .._protocol.errors import ErrorData, error_data
from .._protocol.events import (
    AuthRequested,
    ChannelMessageReceived,
    ChannelOpened,
    RpcRequested,
    ServerEvent,
)
from .._protocol.packets.shared import CancelPacket
from .._protocol.server import ServerConnection, ServerState
from .endpoints.context import CallContext, ChannelContext, ChannelEndpoint, RpcEndpoint
from .errors import ServerError, error_from_exception, not_supported
from .router import Missing, Route, Router
from .services import Services
from .traffic_log import ConnectionTraffic
from .unimplemented import reason_for

__all__ = ["Session"]

logger = logging.getLogger("lmstudio_sdk.server")

# How long a closing socket waits for its queued frames to go out.
WRITER_DRAIN_SECONDS = 5.0
# How long a closing socket waits for its cancelled calls and channels to finish.
TEARDOWN_SECONDS = 10.0


class Session:
    """Server side of one socket, from the auth packet to the close."""

    def __init__(
        self,
        ws: WebSocket,
        namespace: str,
        *,
        router: Router,
        services: Services,
        auth_timeout: float,
        faithful_errors: bool,
        traffic: ConnectionTraffic | None = None,
    ) -> None:
        self.ws = ws
        self.traffic = traffic  # None unless the server records its traffic
        self.namespace = namespace
        self.router = router
        self.services = services
        self.auth_timeout = auth_timeout
        self.faithful_errors = faithful_errors
        self.conn = ServerConnection()
        self.client_identifier: str | None = None
        self._outgoing: asyncio.Queue[str | None] = asyncio.Queue()
        self._tasks: set[asyncio.Task[None]] = set()
        self._channels: dict[int, _OpenChannel] = {}

    # -- lifecycle ----------------------------------------------------------------------------

    async def run(self) -> None:
        identity = await self._authenticate()
        if identity is None:
            return
        self.client_identifier = identity
        writer = asyncio.create_task(self._writer())
        try:
            await self._serve()
        finally:
            await self._teardown(writer)
            self.services.release_client(identity)

    async def _authenticate(self) -> str | None:
        request: AuthRequested | None = None
        try:
            async with asyncio.timeout(self.auth_timeout):
                while request is None:
                    frame = await self.ws.recv()
                    if self.traffic is not None:
                        self.traffic.received(frame)
                    self.conn.receive_text(frame)
                    for event in self.conn.events_received():
                        if isinstance(event, AuthRequested):
                            request = event
        except TimeoutError:
            await self._refuse("Authentication timed out")
            return None
        except ConnectionClosed:
            return None
        problem = self.services.identities.acquire(
            request.client_identifier, request.client_passkey
        )
        if problem is not None:
            logger.info("refused %s on %s: %s", request.client_identifier, self.namespace, problem)
            await self._refuse(problem)
            return None
        self.conn.accept_auth()
        try:
            for frame in self.conn.data_to_send():
                await self._send(frame)
        except ConnectionClosed:
            self.services.release_client(request.client_identifier)
            return None
        return request.client_identifier

    async def _refuse(self, reason: str) -> None:
        self.conn.refuse_auth(reason)
        with contextlib.suppress(ConnectionClosed):
            for frame in self.conn.data_to_send():
                await self._send(frame)
            await self.ws.close(1008, "authentication failed")

    async def _serve(self) -> None:
        with contextlib.suppress(ConnectionClosed):
            async for frame in self.ws:
                if self.traffic is not None:
                    self.traffic.received(frame)
                if isinstance(frame, bytes):
                    self.conn.send_warning(
                        "Binary frames are not supported: send each message as a JSON text frame",
                        "unknown",
                    )
                else:
                    self.conn.receive_text(frame)
                    for event in self.conn.events_received():
                        try:
                            self._handle(event)
                        except Exception:  # a dispatch bug must not take the socket down
                            logger.exception("dispatching %r failed", event)
                self.flush()

    async def _teardown(self, writer: asyncio.Task[None]) -> None:
        for channel in self._channels.values():
            # Set cancel tokens first so that engine threads stop, then cancel the tasks.
            channel.context.receive(_CANCEL)
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            try:
                async with asyncio.timeout(TEARDOWN_SECONDS):
                    await asyncio.gather(*tasks, return_exceptions=True)
            except TimeoutError:
                logger.warning("%d calls on %s ignored cancellation", len(tasks), self.namespace)
        self.conn.connection_lost()
        self._outgoing.put_nowait(None)
        try:
            async with asyncio.timeout(WRITER_DRAIN_SECONDS):
                await writer
        except TimeoutError:
            writer.cancel()
            await asyncio.gather(writer, return_exceptions=True)

    async def _writer(self) -> None:
        while True:
            frame = await self._outgoing.get()
            if frame is None:
                return
            try:
                await self._send(frame)
            except ConnectionClosed:
                return

    async def _send(self, frame: str) -> None:
        if self.traffic is not None:
            self.traffic.sent(frame)
        await self.ws.send(frame)

    def flush(self) -> None:
        """Hand everything the protocol core produced to the writer, in order."""
        for frame in self.conn.data_to_send():
            self._outgoing.put_nowait(frame)

    @property
    def running_tasks(self) -> int:
        return len(self._tasks)

    # -- dispatch -----------------------------------------------------------------------------

    def _handle(self, event: ServerEvent) -> None:
        if isinstance(event, RpcRequested):
            self._start_rpc(event)
        elif isinstance(event, ChannelOpened):
            self._start_channel(event)
        elif isinstance(event, ChannelMessageReceived):
            self._channel_message(event)

    def _reject_call(
        self, call_id: int, warning: str, kind: str, refusal: ServerError | None = None
    ) -> None:
        """LM Studio only warns; unless faithful, we also end the call with an error. An
        endpoint LM Studio has and we lack always ends with one (LM Studio would answer it)."""
        self.conn.send_warning(warning, kind)
        if self.faithful_errors and kind != "rpcEndpointUnhandled":
            self.conn.drop_call(call_id)
        else:
            self.conn.send_rpc_error(call_id, _rejection(warning, kind, refusal))

    def _reject_channel(
        self, channel_id: int, warning: str, kind: str, refusal: ServerError | None = None
    ) -> None:
        self.conn.send_warning(warning, kind)
        if self.faithful_errors and kind != "channelEndpointUnhandled":
            self.conn.drop_channel(channel_id)
        else:
            self.conn.fail_channel(channel_id, _rejection(warning, kind, refusal))

    def _missing_endpoint(
        self, what: str, endpoint: str, route: Missing
    ) -> tuple[str, str, ServerError | None]:
        """The warning, its kind and (for an endpoint the protocol knows) the error that says
        why this server leaves it out."""
        kind = what.lower()
        if route == "unhandled":
            kind += "EndpointUnhandled"
            path = f"{self.namespace}/{endpoint}"
            refusal = not_supported(
                path, reason_for(self.namespace, endpoint), suggestion=_HELP[kind]
            )
            return refusal.title, kind, refusal
        where = f'{what} endpoint "{endpoint}" on {self.namespace}'
        return f"{where} does not exist", kind + "EndpointUnknown", None

    def _start_rpc(self, event: RpcRequested) -> None:
        route = self.router.rpc(self.namespace, event.endpoint)
        if not isinstance(route, Route):
            self._reject_call(event.call_id, *self._missing_endpoint("RPC", event.endpoint, route))
            return
        try:
            superjson = route.wire.serialization == "superjson"
            raw = _unwrap_superjson(event.parameter) if superjson else event.parameter
            omitted = isinstance(raw, UnsetType) and route.handler.parameter_optional
            param = None if omitted else _decode_param(raw, route.wire.parameter)
        except ValueError as exc:
            self._reject_call(
                event.call_id,
                f'Invalid parameter for RPC "{event.endpoint}" on {self.namespace}: {exc}',
                "rpcParameterTypeError",
            )
            return
        self._spawn(self._run_rpc(event.call_id, route.handler, param), f"rpc {event.endpoint}")

    def _start_channel(self, event: ChannelOpened) -> None:
        route = self.router.channel(self.namespace, event.endpoint)
        if not isinstance(route, Route):
            self._reject_channel(
                event.channel_id, *self._missing_endpoint("Channel", event.endpoint, route)
            )
            return
        try:
            param = _decode_param(event.creation_parameter, route.wire.creation_parameter)
        except ValueError as exc:
            self._reject_channel(
                event.channel_id,
                f'Invalid creation parameter for channel "{event.endpoint}" on '
                f"{self.namespace}: {exc}",
                "channelCreationParameterTypeError",
            )
            return
        context = ChannelContext(
            self.services,
            self.namespace,
            self._identity(),
            functools.partial(self._send_channel_message, event.channel_id),
        )
        self._channels[event.channel_id] = _OpenChannel(
            event.channel_id, route.handler, route.wire.to_server, context
        )
        self._spawn(
            self._run_channel(self._channels[event.channel_id], param), f"channel {event.endpoint}"
        )

    def _identity(self) -> str:
        assert self.client_identifier is not None  # calls and channels follow authentication
        return self.client_identifier

    def _send_channel_message(self, channel_id: int, message: Any) -> None:
        """Queue one channel packet (no-op once the channel or the socket is gone)."""
        conn = self.conn
        if conn.state is ServerState.OPEN and channel_id in conn.open_channels:
            conn.send_channel_message(channel_id, message)
            self.flush()

    def _channel_message(self, event: ChannelMessageReceived) -> None:
        channel = self._channels.get(event.channel_id)
        if channel is None:
            return
        packet_type = channel.packet_type
        try:
            if packet_type is None:
                raise ValueError("this channel takes no packets from the client")
            packet = msgspec.json.decode(event.message, type=packet_type)
        except (ValueError, msgspec.ValidationError) as exc:
            self.conn.send_warning(
                f"Invalid packet on channel {event.channel_id}: {exc}", "channelMessageTypeError"
            )
            return
        if isinstance(packet, CancelPacket):
            self.services.observer.cancel_received(
                self.namespace, event.channel_id, self.client_identifier
            )
        channel.context.receive(packet)

    def _spawn(self, coro: Coroutine[Any, Any, None], name: str) -> None:
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run_rpc(self, call_id: int, endpoint: RpcEndpoint, param: Any) -> None:
        try:
            context = CallContext(self.services, self.namespace, self._identity())
            result = await endpoint.handler(context, param)
        except asyncio.CancelledError:
            raise  # the socket is closing; nobody is left to answer
        except Exception as exc:
            if not _is_expected(exc):
                logger.exception("RPC handler failed")
            if self.conn.state is ServerState.OPEN:
                self.conn.send_rpc_error(call_id, error_from_exception(exc))
                self.flush()
            return
        if self.conn.state is ServerState.OPEN:
            try:
                self.conn.send_rpc_result(call_id, UNSET if result is None else result)
            except (TypeError, msgspec.EncodeError) as exc:  # an unencodable result is a bug
                logger.exception("RPC result could not be encoded")
                self.conn.send_rpc_error(call_id, error_from_exception(exc))
            self.flush()

    async def _run_channel(self, channel: _OpenChannel, param: Any) -> None:
        channel_id = channel.channel_id
        try:
            await channel.handler.handler(channel.context, param)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if not _is_expected(exc):
                logger.exception("channel handler failed")
            if self.conn.state is ServerState.OPEN and channel_id in self.conn.open_channels:
                self.conn.fail_channel(channel_id, error_from_exception(exc))
                self.flush()
            return
        else:
            if self.conn.state is ServerState.OPEN and channel_id in self.conn.open_channels:
                self.conn.close_channel(channel_id)
                self.flush()
        finally:
            self._channels.pop(channel_id, None)


@dataclass(frozen=True, slots=True)
class _OpenChannel:
    channel_id: int
    handler: ChannelEndpoint
    packet_type: Any  # the endpoint's to_server union; None: the client sends no packets
    context: ChannelContext


_CANCEL = CancelPacket()

_HELP = {
    "rpcEndpointUnknown": "Check the endpoint name and the namespace (socket path) it is sent on.",
    "rpcEndpointUnhandled": "docs/server.md lists what the embedded lmstudio-sdk server "
    "implements.",
    "rpcParameterTypeError": "Send the parameter in the shape the endpoint's schema requires.",
    "channelEndpointUnknown": "Check the endpoint name and the namespace (socket path).",
    "channelEndpointUnhandled": "docs/server.md lists what the embedded lmstudio-sdk server "
    "implements.",
    "channelCreationParameterTypeError": "Send the creation parameter in the shape the "
    "endpoint's schema requires.",
}


def _rejection(warning: str, kind: str, refusal: ServerError | None) -> ErrorData:
    """The error that ends a rejected call: for an endpoint this server leaves out, the
    refusal that says why (NotSupportedByServerError on the client)."""
    if refusal is not None:
        return refusal.data
    return error_data(warning, suggestion=_HELP[kind])


def _is_expected(exc: Exception) -> bool:
    return isinstance(exc, ServerError)


def _decode_param(raw: Raw | UnsetType, param_type: Any) -> Any:
    """Decode a payload slot; ValueError with a readable reason when it does not fit."""
    if param_type is None:
        if not isinstance(raw, UnsetType):
            raise ValueError("this endpoint takes no parameter; omit the key")
        return None
    if isinstance(raw, UnsetType):
        raise ValueError("the parameter is missing")
    try:
        return msgspec.json.decode(raw, type=param_type)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        raise ValueError(str(exc)) from exc


def _unwrap_superjson(raw: Raw | UnsetType) -> Raw | UnsetType:
    """The plain JSON inside a superjson payload; superjson's ``undefined`` becomes UNSET."""
    if isinstance(raw, UnsetType):
        return raw
    try:
        wrapped = msgspec.json.decode(raw)
    except msgspec.DecodeError as exc:
        raise ValueError(str(exc)) from exc
    if not isinstance(wrapped, dict) or "json" not in wrapped:
        raise ValueError('a superjson payload is an object with a "json" member')
    meta = wrapped.get("meta")
    if wrapped["json"] is None and isinstance(meta, dict) and meta.get("values") == ["undefined"]:
        return UNSET
    return msgspec.Raw(msgspec.json.encode(wrapped["json"]))
