"""The module-level convenience API of the official Python SDK, on a default sync ``Client``.

    import lmstudio_sdk as lms

    model = lms.llm("smollm2-135m-instruct")      # the default client is made on first use
    print(model.respond("Hello!").content)
    lms.configure_default_client("127.0.0.1:1234")  # before first use: where it connects
    lms.set_default_client(lms.Client("10.0.0.5:1234", api_token="sk-lm-…"))  # or bring one
    lms.reset_default_client()                      # close it; the next use makes a new one

The default client is created lazily, once, under a lock (so several threads that use it at
the same time share one client); replacing or resetting it closes the old one, whose calls
still under way then raise ``LMStudioClientClosedError``. Sync only, as in ``lmstudio``: async
code makes its own ``AsyncClient``.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

from ._exceptions import LMStudioClientError, LMStudioValueError
from ._protocol.config_types import EmbeddingLoadConfigDict, LlmLoadConfigDict
from ._protocol.packets.shared import FilePart
from ._sync.client import DEFAULT_TIMEOUT, Client
from ._sync.downloaded import DEFAULT_TTL_SECONDS
from ._sync.files import FileSource
from ._sync.models import LLM, DownloadedModel, EmbeddingModel, ModelHandle
from ._types import check_timeout

__all__ = [
    "AnyDownloadedModel",
    "SyncModelHandle",
    "configure_default_client",
    "embedding_model",
    "get_default_client",
    "get_sync_api_timeout",
    "list_downloaded_models",
    "list_loaded_models",
    "llm",
    "prepare_image",
    "reset_default_client",
    "set_default_client",
    "set_sync_api_timeout",
]

# The official SDK's names of the sync handle base and of either kind of downloaded model.
SyncModelHandle = ModelHandle
AnyDownloadedModel = DownloadedModel
"""A downloaded model of either domain."""

_lock = threading.Lock()
_client: Client | None = None
_api_host: str | None = None
_api_token: str | None = None
_timeout: float | None = DEFAULT_TIMEOUT


def configure_default_client(api_host: str | None = None, *, api_token: str | None = None) -> None:
    """Say where the default client connects (``"host:port"``; None: find LM Studio on this
    machine), and as whom, before it is made (its timeout: ``set_sync_api_timeout()``). Once
    it exists this raises LMStudioClientError: ``reset_default_client()`` first, or
    ``set_default_client()``."""
    global _api_host, _api_token
    if api_host is not None and not isinstance(api_host, str):
        raise LMStudioValueError(
            f"api_host must be 'host:port', e.g. '127.0.0.1:1234', not {type(api_host).__name__}"
        )
    if api_token is not None and not isinstance(api_token, str):
        raise LMStudioValueError(
            f"api_token must be a string ('sk-lm-…'), not {type(api_token).__name__}"
        )
    with _lock:
        if _client is not None:
            raise LMStudioClientError(
                "the default client already exists, so its host cannot change; call "
                "lms.reset_default_client() first, or lms.set_default_client(client)"
            )
        _api_host, _api_token = api_host, api_token


def get_default_client(api_host: str | None = None) -> Client:
    """The default client, made on first use (with ``configure_default_client``'s settings).

    ``api_host`` configures it first (LMStudioClientError if it already exists).
    """
    global _client
    if api_host is not None:
        configure_default_client(api_host)
    with _lock:
        if _client is None:
            _client = Client(_api_host, api_token=_api_token, timeout=_timeout)
        return _client


def set_default_client(client: Client) -> None:
    """Make ``client`` the default client; the previous one (if another) is closed."""
    global _client
    if not isinstance(client, Client):
        raise LMStudioValueError(
            f"set_default_client() takes an lmstudio_sdk.Client, not {type(client).__name__}"
        )
    with _lock:
        previous, _client = _client, client
    if previous is not None and previous is not client:
        previous.close()


def reset_default_client() -> None:
    """Close the default client and forget its host and token (not the sync API timeout): the
    next use makes a new one."""
    global _client, _api_host, _api_token
    with _lock:
        previous, _client = _client, None
        _api_host, _api_token = None, None
    if previous is not None:
        previous.close()


def get_sync_api_timeout() -> float | None:
    """The ``timeout=`` (seconds, None: no limit) the default client is made with."""
    return _timeout


def set_sync_api_timeout(timeout: float | None) -> None:
    """Set the ``timeout=`` the default client is made with: the next one, so call it before
    the first use (or ``reset_default_client()`` after it). A ``Client`` you make yourself
    takes ``timeout=``."""
    global _timeout
    checked = check_timeout(timeout)
    with _lock:
        _timeout = checked


def llm(
    model_key: str | None = None,
    /,
    *,
    ttl: float | None = DEFAULT_TTL_SECONDS,
    config: LlmLoadConfigDict | None = None,
) -> LLM:
    """``get_default_client().llm.model(...)``: the loaded LLM with this key (loading it if
    needed), or any loaded LLM without one."""
    return get_default_client().llm.model(model_key, ttl=ttl, config=config)


def embedding_model(
    model_key: str | None = None,
    /,
    *,
    ttl: float | None = DEFAULT_TTL_SECONDS,
    config: EmbeddingLoadConfigDict | None = None,
) -> EmbeddingModel:
    """``get_default_client().embedding.model(...)``."""
    return get_default_client().embedding.model(model_key, ttl=ttl, config=config)


def list_loaded_models(namespace: str | None = None) -> list[LLM | EmbeddingModel]:
    """``get_default_client().list_loaded_models(namespace)``."""
    return get_default_client().list_loaded_models(namespace)


def list_downloaded_models(namespace: str | None = None) -> Sequence[DownloadedModel]:
    """``get_default_client().list_downloaded_models(namespace)``."""
    return get_default_client().list_downloaded_models(namespace)


def prepare_image(src: FileSource, name: str | None = None) -> FilePart:
    """``get_default_client().prepare_image(src, name)``: upload an image for a chat."""
    return get_default_client().prepare_image(src, name)
