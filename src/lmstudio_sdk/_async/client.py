"""The client: where to connect, who we are, one lazily opened socket per namespace.

Source of truth for both faces (see ``scripts/unasync.py``).
"""

from __future__ import annotations

from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

import msgspec
from msgspec import UNSET

from .._exceptions import LMStudioValueError, ServerNotFoundError
from .._protocol import envelope as wire
from .._protocol.identity import resolve_identity
from .._protocol.params import LMStudioVersion, decode_model_list, decode_result
from .._protocol.schema import EmbeddingModelInfo, LLMInfo
from .._transport.asyncio import AsyncLock, find_local_server_async
from .._transport.common import DISCOVERY_PORTS
from .._types import NOT_GIVEN, Timeout, resolve_timeout
from .files import AsyncFilesNamespace
from .models import AsyncEmbeddingNamespace, AsyncLLMNamespace
from .session import AsyncChannel, AsyncSession

__all__ = ["AsyncClient", "AsyncSystemNamespace"]

NAMESPACES = (
    "llm",
    "embedding",
    "system",
    "diagnostics",
    "files",
    "repository",
    "plugins",
    "runtime",
)
DEFAULT_TIMEOUT = 60.0
DISCOVERY_TIMEOUT = 1.0


def base_url_from_host(host: str) -> str:
    """``host:port``, or a ``ws(s)://`` / ``http(s)://`` URL with an optional path prefix."""
    if "://" not in host:
        if ":" not in host.rsplit("]", 1)[-1]:
            raise LMStudioValueError(f"host {host!r} needs a port, e.g. '127.0.0.1:1234'")
        return f"ws://{host}"
    parts = urlsplit(host)
    scheme = {"http": "ws", "https": "wss"}.get(parts.scheme, parts.scheme)
    if scheme not in ("ws", "wss"):
        raise LMStudioValueError(f"unsupported URL scheme {parts.scheme!r} in {host!r}")
    if parts.query or parts.fragment or parts.username or parts.password:
        raise LMStudioValueError(f"the base URL {host!r} may not have a query, fragment or user")
    if not parts.hostname:
        raise LMStudioValueError(f"the base URL {host!r} has no host")
    return f"{scheme}://{parts.netloc}{parts.path.rstrip('/')}"


class AsyncSystemNamespace:
    """``client.system``: what is downloaded, and which LM Studio this is."""

    def __init__(self, client: AsyncClient) -> None:
        self._client = client

    async def list_downloaded_models(
        self, domain: str | None = None, *, timeout: Timeout = NOT_GIVEN
    ) -> list[LLMInfo | EmbeddingModelInfo]:
        """Every downloaded model, or only those of ``domain`` ("llm" or "embedding")."""
        raw = await self._client._raw_rpc("system", "listDownloadedModels", None, timeout)
        models: list[LLMInfo | EmbeddingModelInfo] = decode_model_list(
            raw, "listDownloadedModels", instances=False
        )
        return [m for m in models if domain is None or m.domain == domain]

    async def get_lmstudio_version(self, *, timeout: Timeout = NOT_GIVEN) -> LMStudioVersion:
        raw = await self._client._raw_rpc("system", "version", None, timeout)
        return decode_result(raw, LMStudioVersion, "version")


class AsyncClient:
    """A client of one LM Studio (or of ``lmstudio-sdk serve``).

    Args:
        host: ``"host:port"`` or a ``ws://``/``wss://`` base URL (a path prefix is allowed).
            When omitted, LM Studio is found on this machine through its discovery ports.
        api_token: an LM Studio API token (``sk-lm-…``); defaults to ``$LM_API_TOKEN``, then
            ``$LMSTUDIO_API_TOKEN``, else a guest identity.
        timeout: the default for every call's ``timeout=`` (seconds; ``None`` waits forever).
            For streams it bounds each wait for the next packet.
    """

    def __init__(
        self,
        host: str | None = None,
        *,
        api_token: str | None = None,
        timeout: float | None = DEFAULT_TIMEOUT,
    ) -> None:
        self._base_url = base_url_from_host(host) if host is not None else None
        self._identity = resolve_identity(api_token)
        self._default_timeout = timeout
        self._sessions: dict[str, AsyncSession] = {}
        self._setup_lock = AsyncLock()
        self._closed = False
        self.llm = AsyncLLMNamespace(self)
        self.embedding = AsyncEmbeddingNamespace(self)
        self.system = AsyncSystemNamespace(self)
        self.files = AsyncFilesNamespace(self)

    @property
    def base_url(self) -> str | None:
        """The server's base URL, once known (given, or found by discovery)."""
        return self._base_url

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close every socket. The client can still be used afterwards: it reconnects."""
        sessions = list(self._sessions.values())
        self._sessions.clear()
        for session in sessions:
            await session.aclose()

    # -- escape hatch: any endpoint --------------------------------------------------------------

    async def rpc(
        self,
        namespace: str,
        endpoint: str,
        parameter: Any = None,
        *,
        timeout: Timeout = NOT_GIVEN,
    ) -> Any:
        """Call any RPC endpoint; ``parameter`` and the result are plain JSON values."""
        raw = await self._raw_rpc(namespace, endpoint, parameter, timeout)
        return None if raw is UNSET else msgspec.json.decode(raw)

    async def open_channel(
        self,
        namespace: str,
        endpoint: str,
        creation_parameter: Any = None,
        *,
        timeout: Timeout = NOT_GIVEN,
    ) -> AsyncChannel:
        """Open any channel; ``receive_value()`` gives packets as plain JSON values."""
        session = self._sessions.get(namespace) or await self._session(namespace, timeout)
        payload = UNSET if creation_parameter is None else wire.raw(creation_parameter)
        return await session.open_channel(endpoint, payload, timeout=self._timeout(timeout))

    # -- internals used by namespaces and handles ------------------------------------------------

    def _timeout(self, timeout: Timeout) -> float | None:
        return resolve_timeout(timeout, self._default_timeout)

    async def _raw_rpc(
        self, namespace: str, endpoint: str, parameter: Any, timeout: Timeout
    ) -> Any:
        session = self._sessions.get(namespace) or await self._session(namespace, timeout)
        payload = UNSET if parameter is None else wire.raw(parameter)
        return await session.rpc(endpoint, payload, timeout=self._timeout(timeout))

    async def _session(self, namespace: str, timeout: Timeout) -> AsyncSession:
        # Hot paths call `self._sessions.get(namespace) or await self._session(...)`: an
        # existing session then costs a dict lookup, not a coroutine.
        session = self._sessions.get(namespace)
        if session is not None:
            return session
        if namespace not in NAMESPACES:
            raise LMStudioValueError(
                f"unknown namespace {namespace!r}; expected one of {', '.join(NAMESPACES)}"
            )
        async with self._setup_lock.hold(self._timeout(timeout)):
            session = self._sessions.get(namespace)
            if session is None:
                base_url = await self._resolve_base_url()
                session = AsyncSession(base_url, namespace, self._identity)
                self._sessions[namespace] = session
            return session

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
