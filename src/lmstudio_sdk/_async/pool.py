"""The sockets of one client: a session per namespace, opened on first use, one default timeout.

The client owns one pool and hands it to its namespaces and handles, so that they call
endpoints without reaching into the client. Every call goes straight to the session (a dict
lookup once the socket is open): the pool adds no coroutine or hop of its own to a call.

Source of truth for both faces (see ``scripts/unasync.py``).
"""

from __future__ import annotations

from typing import Any

from msgspec import UNSET, Raw, UnsetType

from .._exceptions import LMStudioClientClosedError, LMStudioValueError, ServerNotFoundError
from .._protocol.identity import Identity
from .._protocol.namespaces import NAMESPACES
from .._transport.asyncio import AsyncLock, find_local_server_async
from .._transport.common import DISCOVERY_PORTS
from .._types import Timeout, resolve_timeout
from .session import CLIENT_CLOSED, AsyncChannel, AsyncSession, encode_payload

__all__ = ["AsyncSessionPool"]

DISCOVERY_TIMEOUT = 1.0


class AsyncSessionPool:
    """One lazily opened session per namespace of one server, and the default timeout."""

    def __init__(
        self, base_url: str | None, identity: Identity, default_timeout: float | None
    ) -> None:
        self._base_url = base_url
        self._identity = identity
        self._default_timeout = default_timeout
        self._sessions: dict[str, AsyncSession] = {}
        self._setup_lock = AsyncLock()
        self._closed = False

    @property
    def base_url(self) -> str | None:
        """The server's base URL, once known (given, or found by discovery)."""
        return self._base_url

    def check_open(self) -> None:
        if self._closed:
            raise LMStudioClientClosedError(CLIENT_CLOSED)

    def timeout_for(self, timeout: Timeout) -> float | None:
        """A call's ``timeout=`` argument, with the client's default when it was not given."""
        return resolve_timeout(timeout, self._default_timeout)

    async def rpc(
        self, namespace: str, endpoint: str, parameter: Any, timeout: Timeout
    ) -> Raw | UnsetType:
        """Call an endpoint; ``parameter`` is a struct or plain JSON values (None: no payload)."""
        session = self._sessions.get(namespace) or await self.session(namespace, timeout)
        payload = UNSET if parameter is None else encode_payload(parameter)
        return await session.rpc(endpoint, payload, timeout=self.timeout_for(timeout))

    async def open_channel(
        self, namespace: str, endpoint: str, creation_parameter: Any, timeout: Timeout
    ) -> AsyncChannel:
        """Open a channel; ``creation_parameter`` as for ``rpc``."""
        session = self._sessions.get(namespace) or await self.session(namespace, timeout)
        payload = (
            UNSET
            if creation_parameter is None
            else encode_payload(creation_parameter, "creation parameter")
        )
        return await session.open_channel(endpoint, payload, timeout=self.timeout_for(timeout))

    async def session(self, namespace: str, timeout: Timeout) -> AsyncSession:
        """The namespace's session, made on first use (its socket connects on its first call).

        ``rpc`` and ``open_channel`` look the session up themselves first: an existing
        session then costs a dict lookup, not a coroutine.
        """
        session = self._sessions.get(namespace)
        if session is not None:
            return session
        self.check_open()
        if f"/{namespace}" not in NAMESPACES:
            names = ", ".join(ns.lstrip("/") for ns in NAMESPACES)
            raise LMStudioValueError(f"unknown namespace {namespace!r}; expected one of {names}")
        async with self._setup_lock.hold(self.timeout_for(timeout)):
            self.check_open()
            session = self._sessions.get(namespace)
            if session is None:
                base_url = await self._resolve_base_url()
                session = AsyncSession(base_url, namespace, self._identity)
                self._sessions[namespace] = session
            return session

    async def aclose(self) -> None:
        """Close every socket for good; later calls raise LMStudioClientClosedError."""
        self._closed = True
        sessions = list(self._sessions.values())
        self._sessions.clear()
        for session in sessions:
            await session.aclose()

    async def _resolve_base_url(self) -> str:
        if self._base_url is None:
            port = await find_local_server_async(DISCOVERY_PORTS, DISCOVERY_TIMEOUT)
            if port is None:
                raise ServerNotFoundError(
                    "no LM Studio is running on this machine (probed ports "
                    f"{', '.join(map(str, DISCOVERY_PORTS))}). Start LM Studio or `lms server "
                    "start`, or run the embedded server with `lmstudio-sdk serve`; or pass the "
                    "address, e.g. Client('127.0.0.1:1234')."
                )
            self._base_url = f"ws://127.0.0.1:{port}"
        return self._base_url
