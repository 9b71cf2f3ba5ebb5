"""The client: where to connect, who we are, one lazily opened socket per namespace.

Source of truth for both faces (see ``scripts/unasync.py``).
"""

from __future__ import annotations

from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

import msgspec
from msgspec import UNSET

from .._exceptions import LMStudioValueError
from .._protocol.identity import resolve_identity
from .._protocol.packets.shared import EmbeddingModelInfo, LLMInfo
from .._protocol.results import LMStudioVersion, decode_model_list, decode_version
from .._types import NOT_GIVEN, Timeout
from .files import AsyncFilesNamespace
from .models import AsyncEmbeddingNamespace, AsyncLLMNamespace
from .pool import AsyncSessionPool
from .session import AsyncChannel

__all__ = ["AsyncClient", "AsyncSystemNamespace"]

DEFAULT_TIMEOUT = 60.0


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

    def __init__(self, pool: AsyncSessionPool) -> None:
        self._pool = pool

    async def list_downloaded_models(
        self, domain: str | None = None, *, timeout: Timeout = NOT_GIVEN
    ) -> list[LLMInfo | EmbeddingModelInfo]:
        """Every downloaded model, or only those of ``domain`` ("llm" or "embedding")."""
        raw = await self._pool.rpc("system", "listDownloadedModels", None, timeout)
        models: list[LLMInfo | EmbeddingModelInfo] = decode_model_list(
            raw, "listDownloadedModels", instances=False
        )
        return [m for m in models if domain is None or m.domain == domain]

    async def get_lmstudio_version(self, *, timeout: Timeout = NOT_GIVEN) -> LMStudioVersion:
        raw = await self._pool.rpc("system", "version", None, timeout)
        return decode_version(raw)


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
        base_url = base_url_from_host(host) if host is not None else None
        self._identity = resolve_identity(api_token)
        self._pool = AsyncSessionPool(base_url, self._identity, timeout)
        self.llm = AsyncLLMNamespace(self._pool)
        self.embedding = AsyncEmbeddingNamespace(self._pool)
        self.system = AsyncSystemNamespace(self._pool)
        self.files = AsyncFilesNamespace(self._pool)

    @property
    def base_url(self) -> str | None:
        """The server's base URL, once known (given, or found by discovery)."""
        return self._pool.base_url

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
        await self._pool.aclose()

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
        raw = await self._pool.rpc(namespace, endpoint, parameter, timeout)
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
        return await self._pool.open_channel(namespace, endpoint, creation_parameter, timeout)
