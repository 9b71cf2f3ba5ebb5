"""The client: where to connect, who we are, one lazily opened socket per namespace.

Source of truth for both faces (see ``scripts/unasync.py``).
"""

from __future__ import annotations

from types import TracebackType
from typing import Any, Never
from urllib.parse import urlsplit

import msgspec
from msgspec import UNSET

from .._exceptions import LMStudioValueError
from .._protocol.identity import resolve_identity
from .._types import NOT_GIVEN, Timeout, check_timeout, reject_unknown_arguments
from .files import AsyncFilesNamespace
from .models import AsyncEmbeddingNamespace, AsyncLLMNamespace
from .namespaces import AsyncDiagnosticsNamespace, AsyncRuntimeNamespace, AsyncSystemNamespace
from .pool import AsyncSessionPool
from .repository import AsyncRepositoryNamespace
from .session import AsyncChannel

__all__ = ["AsyncClient"]

DEFAULT_TIMEOUT = 60.0


def base_url_from_host(host: object) -> str:
    """``host:port``, or a ``ws(s)://`` / ``http(s)://`` URL, each with an optional path prefix.

    A trailing slash is dropped: the sockets are ``<base URL>/<namespace>``.
    """
    if not isinstance(host, str):
        raise LMStudioValueError(
            f"host must be a string such as '127.0.0.1:1234' or 'ws://127.0.0.1:1234', "
            f"not {type(host).__name__}"
        )
    if not host.strip():
        raise LMStudioValueError(
            "host '' is empty; pass 'host:port', e.g. '127.0.0.1:1234', or leave it out to find "
            "LM Studio on this machine"
        )
    if "://" not in host:
        if ":" not in host.split("/", 1)[0].rsplit("]", 1)[-1]:
            raise LMStudioValueError(f"host {host!r} needs a port, e.g. '127.0.0.1:1234'")
        url = f"ws://{host}"
    else:
        url = host
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        raise LMStudioValueError(f"host {host!r} is not a valid address: {exc}") from None
    scheme = {"http": "ws", "https": "wss"}.get(parts.scheme, parts.scheme)
    if scheme not in ("ws", "wss"):
        raise LMStudioValueError(f"unsupported URL scheme {parts.scheme!r} in {host!r}")
    if parts.query or parts.fragment or parts.username or parts.password:
        raise LMStudioValueError(f"the base URL {host!r} may not have a query, fragment or user")
    if not parts.hostname:
        raise LMStudioValueError(f"the base URL {host!r} has no host")
    _check_port(host, parts.netloc)
    return f"{scheme}://{parts.netloc}{parts.path.rstrip('/')}"


def _check_port(host: str, netloc: str) -> None:
    """A port, if written, is a number from 1 to 65535 (urlsplit only checks when asked)."""
    after_address = netloc.rsplit("]", 1)[-1]
    if ":" not in after_address:
        return  # the scheme's default port
    text = after_address.rsplit(":", 1)[1]
    if not text.isdigit():
        raise LMStudioValueError(f"host {host!r}: port {text!r} is not a number")
    if not 1 <= int(text) <= 65535:
        raise LMStudioValueError(
            f"host {host!r}: port {int(text)} is impossible; use a port from 1 to 65535"
        )


def _check_names(namespace: object, endpoint: object) -> None:
    for what, value in (("namespace", namespace), ("endpoint", endpoint)):
        if not isinstance(value, str):
            raise LMStudioValueError(
                f"the {what} must be a string such as 'llm' or 'getModelInfo', "
                f"not {type(value).__name__}"
            )


class AsyncClient:
    """A client of one LM Studio (or of ``lmstudio-sdk serve``).

    Args:
        host: ``"host:port"`` or a ``ws://``/``wss://`` base URL (a path prefix is allowed).
            When omitted, LM Studio is found on this machine through its discovery ports.
        api_token: an LM Studio API token (``sk-lm-…``); defaults to ``$LM_API_TOKEN``, then
            ``$LMSTUDIO_API_TOKEN``, else a guest identity.
        timeout: the default for every call's ``timeout=`` (seconds; ``None`` waits forever).
            For streams it bounds each wait for the next packet.

    Close it with ``aclose()`` (or ``async with``); a closed client raises
    ``LMStudioClientClosedError`` on every call instead of reconnecting. Unknown keyword
    arguments and impossible values raise ``LMStudioValueError``.
    """

    def __init__(
        self,
        host: str | None = None,
        *,
        api_token: str | None = None,
        timeout: float | None = DEFAULT_TIMEOUT,
        **unknown: Never,
    ) -> None:
        reject_unknown_arguments("AsyncClient()", unknown, ("host", "api_token", "timeout"))
        base_url = base_url_from_host(host) if host is not None else None
        if api_token is not None and not isinstance(api_token, str):
            raise LMStudioValueError(
                f"api_token must be a string ('sk-lm-…'), not {type(api_token).__name__}"
            )
        self._identity = resolve_identity(api_token)
        self._pool = AsyncSessionPool(base_url, self._identity, check_timeout(timeout))
        self.llm = AsyncLLMNamespace(self._pool)
        self.embedding = AsyncEmbeddingNamespace(self._pool)
        self.system = AsyncSystemNamespace(self._pool)
        self.files = AsyncFilesNamespace(self._pool)
        self.repository = AsyncRepositoryNamespace(self._pool)
        self.runtime = AsyncRuntimeNamespace(self._pool)
        self.diagnostics = AsyncDiagnosticsNamespace(self._pool)

    @property
    def base_url(self) -> str | None:
        """The server's base URL, once known (given, or found by discovery)."""
        return self._pool.base_url

    async def __aenter__(self) -> AsyncClient:
        self._pool.check_open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close every socket, for good: afterwards every call raises LMStudioClientClosedError.

        Closing twice is harmless (on the async face, so is closing from another event loop).
        """
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
        _check_names(namespace, endpoint)
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
        _check_names(namespace, endpoint)
        return await self._pool.open_channel(namespace, endpoint, creation_parameter, timeout)
