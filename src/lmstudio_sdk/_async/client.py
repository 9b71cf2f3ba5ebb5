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
from .._protocol.packets.shared import FilePart, LLMInfo
from .._transport.asyncio import find_local_server_async, probe_greeting_async
from .._transport.common import DEFAULT_KEEPALIVE, DISCOVERY_PORTS, Keepalive
from .._types import (
    NOT_GIVEN,
    Timeout,
    check_timeout,
    checked_arguments,
    reject_unknown_arguments,
)
from .downloaded import AsyncDownloadedEmbeddingModel, AsyncDownloadedLlm
from .files import AsyncFilesNamespace, FileSource
from .models import (
    AsyncDownloadedModel,
    AsyncEmbeddingModel,
    AsyncEmbeddingNamespace,
    AsyncLLM,
    AsyncLLMNamespace,
)
from .namespaces import AsyncDiagnosticsNamespace, AsyncRuntimeNamespace, AsyncSystemNamespace
from .plugins import AsyncPluginsNamespace
from .pool import DISCOVERY_TIMEOUT, AsyncSessionPool, Retries, check_retries
from .repository import AsyncRepositoryNamespace
from .session import DEFAULT_MAX_RETRIES, AsyncChannel, AsyncSubscription

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


def _check_namespace(where: str, namespace: object) -> None:
    if namespace not in (None, "llm", "embedding"):
        raise LMStudioValueError(
            f"{where}: namespace must be 'llm', 'embedding' or None (both), not {namespace!r}"
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
            For streams and loads it bounds each wait for the next packet; their
            ``deadline=`` bounds the whole call.
        keepalive_interval: seconds between WebSocket pings on each open socket (default 20;
            ``None`` sends none).
        keepalive_timeout: seconds a ping may wait for its pong (default 20; ``None``: never
            judged). A server that vanishes without closing (a black-holed route) is thus
            noticed within ``keepalive_interval + keepalive_timeout`` seconds: every waiting
            call, channel and stream gets an ``LMStudioConnectionError``.
        max_retries: how often a refused or lost connection is retried, with exponential
            backoff and jitter (default 2; 0: never). Connecting is retried for every call;
            a call lost after it was sent only if it just reads (listing, info, tokenize,
            count tokens, embed, version), never a prediction or a load.
        max_concurrent_predictions: at most this many predictions of this client run at once;
            more wait (first come, first served, within their timeout) instead of failing.
            Default ``None``: no limit.

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
        keepalive_interval: float | None = DEFAULT_KEEPALIVE.interval,
        keepalive_timeout: float | None = DEFAULT_KEEPALIVE.timeout,
        max_retries: int = DEFAULT_MAX_RETRIES,
        max_concurrent_predictions: int | None = None,
        **unknown: Never,
    ) -> None:
        reject_unknown_arguments(
            "AsyncClient()",
            unknown,
            (
                "host",
                "api_token",
                "timeout",
                "keepalive_interval",
                "keepalive_timeout",
                "max_retries",
                "max_concurrent_predictions",
            ),
        )
        base_url = base_url_from_host(host) if host is not None else None
        if api_token is not None and not isinstance(api_token, str):
            raise LMStudioValueError(
                f"api_token must be a string ('sk-lm-…'), not {type(api_token).__name__}"
            )
        self._identity = resolve_identity(api_token)
        keepalive = Keepalive(
            check_timeout(keepalive_interval, "keepalive_interval"),
            check_timeout(keepalive_timeout, "keepalive_timeout"),
        )
        if max_concurrent_predictions is not None:
            cap: object = max_concurrent_predictions
            if isinstance(cap, bool) or not isinstance(cap, int) or cap < 1:
                raise LMStudioValueError(
                    f"max_concurrent_predictions={cap!r} is impossible; pass a whole number "
                    "from 1 up, or None for no limit"
                )
        self._pool = AsyncSessionPool(
            base_url,
            self._identity,
            check_timeout(timeout),
            keepalive=keepalive,
            max_retries=check_retries(max_retries),
            max_concurrent_predictions=max_concurrent_predictions,
        )
        self.llm = AsyncLLMNamespace(self._pool)
        """LLMs: ``model()``, ``load()``, ``list_loaded()``, ``unload()``."""
        self.embedding = AsyncEmbeddingNamespace(self._pool)
        """Embedding models: ``model()``, ``load()``, ``list_loaded()``, ``unload()``."""
        self.system = AsyncSystemNamespace(self._pool)
        """The server itself: version, info, downloaded models, notifications, shutdown."""
        self.files = AsyncFilesNamespace(self._pool)
        """Files and images to attach to chat messages (uploaded to the server)."""
        self.repository = AsyncRepositoryNamespace(self._pool)
        """Search the model catalogue and download models."""
        self.runtime = AsyncRuntimeNamespace(self._pool)
        """Engines (``list_engines()``, ``select_engine()``) and the hardware survey."""
        self.diagnostics = AsyncDiagnosticsNamespace(self._pool)
        """The server's log stream (``stream_logs()``)."""
        self.plugins = AsyncPluginsNamespace(self._pool)
        """Plugins: generators used like models, tools providers' tools."""

    @property
    def base_url(self) -> str | None:
        """The server's base URL, once known (given, or found by discovery)."""
        return self._pool.base_url

    @property
    def api_host(self) -> str | None:
        """``host:port`` of the server, once known (the official SDK's name)."""
        base_url = self._pool.base_url
        return None if base_url is None else urlsplit(base_url).netloc

    @classmethod
    async def is_valid_api_host(cls, api_host: str, *, timeout: float = 1.0) -> bool:
        """Whether an LM Studio (or ``lmstudio-sdk serve``) answers at ``host:port``: its
        ``/lmstudio-greeting`` says so within ``timeout`` seconds."""
        parts = urlsplit(base_url_from_host(api_host))
        limit = check_timeout(timeout, "timeout")
        if parts.hostname is None or parts.port is None or limit is None:
            raise LMStudioValueError(
                f"is_valid_api_host() needs 'host:port' and a finite timeout, not {api_host!r}"
            )
        return await probe_greeting_async(parts.hostname, parts.port, limit)

    @classmethod
    async def find_default_local_api_host(cls) -> str | None:
        """``127.0.0.1:port`` of the LM Studio running on this machine (its discovery ports
        probed at once), or None when none answers."""
        port = await find_local_server_async(DISCOVERY_PORTS, DISCOVERY_TIMEOUT)
        return None if port is None else f"127.0.0.1:{port}"

    # -- the official SDK's shortcuts ------------------------------------------------------------

    @checked_arguments
    async def list_loaded_models(
        self, namespace: str | None = None, *, timeout: Timeout = NOT_GIVEN
    ) -> list[AsyncLLM | AsyncEmbeddingModel]:
        """Handles to every loaded model: LLMs, then embedding models (``namespace="llm"`` or
        ``"embedding"`` for one kind)."""
        _check_namespace("list_loaded_models()", namespace)
        models: list[AsyncLLM | AsyncEmbeddingModel] = []
        if namespace in (None, "llm"):
            models.extend(await self.llm.list_loaded(timeout=timeout))
        if namespace in (None, "embedding"):
            models.extend(await self.embedding.list_loaded(timeout=timeout))
        return models

    @checked_arguments
    async def list_downloaded_models(
        self, namespace: str | None = None, *, timeout: Timeout = NOT_GIVEN
    ) -> list[AsyncDownloadedModel]:
        """Every downloaded model, each with ``model()`` and ``load_new_instance()``
        (``namespace="llm"`` or ``"embedding"`` for one kind)."""
        _check_namespace("list_downloaded_models()", namespace)
        infos = await self.system.list_downloaded_models(namespace, timeout=timeout)
        return [
            AsyncDownloadedLlm(info, self.llm)
            if isinstance(info, LLMInfo)
            else AsyncDownloadedEmbeddingModel(info, self.embedding)
            for info in infos
        ]

    @checked_arguments
    async def prepare_image(
        self, src: FileSource, name: str | None = None, *, timeout: Timeout = NOT_GIVEN
    ) -> FilePart:
        """``client.files.prepare_image()``: upload an image for a chat message."""
        return await self.files.prepare_image(src, name, timeout=timeout)

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
        max_retries: Retries = NOT_GIVEN,
    ) -> Any:
        """Call any RPC endpoint; ``parameter`` and the result are plain JSON values.

        A lost connection is retried only for the endpoints known to just read.
        """
        _check_names(namespace, endpoint)
        raw = await self._pool.rpc(namespace, endpoint, parameter, timeout, max_retries)
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

    async def subscribe(
        self,
        namespace: str,
        endpoint: str,
        creation_parameter: Any = None,
        *,
        timeout: Timeout = NOT_GIVEN,
    ) -> AsyncSubscription:
        """Open a long-lived channel (e.g. ``system``/``alive``) that is re-opened after every
        reconnect; ``receive_value()`` gives its packets as plain JSON values."""
        _check_names(namespace, endpoint)
        return await self._pool.subscribe(namespace, endpoint, creation_parameter, timeout)
