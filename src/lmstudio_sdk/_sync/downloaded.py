# GENERATED from src/lmstudio_sdk/_async/downloaded.py by scripts/unasync.py. Do not edit: edit the source.
"""Downloaded models as the official Python SDK lists them: a model's info plus ``model()``
and ``load_new_instance()`` (``client.list_downloaded_models()``, ``client.llm.list_downloaded()``).

Source of truth for both faces (see ``scripts/unasync.py``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Generic, TypeVar

from .._protocol.config_types import EmbeddingLoadConfigDict, LlmLoadConfigDict
from .._protocol.packets.shared import EmbeddingModelInfo, LLMInfo
from .._types import NOT_GIVEN, Callback, Timeout, checked_arguments

if TYPE_CHECKING:
    from .models import EmbeddingModel, LLM, _ModelNamespace

__all__ = ["DownloadedEmbeddingModel", "DownloadedLlm"]

# The official SDK unloads JIT-loaded models after an hour of idleness by default.
DEFAULT_TTL_SECONDS = 3600.0

DownloadedInfoT = TypeVar("DownloadedInfoT", LLMInfo, EmbeddingModelInfo)
DownloadedHandleT = TypeVar("DownloadedHandleT", "LLM", "EmbeddingModel")
DownloadedConfigT = TypeVar("DownloadedConfigT", LlmLoadConfigDict, EmbeddingLoadConfigDict)


class _DownloadedModel(Generic[DownloadedInfoT, DownloadedHandleT, DownloadedConfigT]):
    """What the two kinds of downloaded model share: their info, read as attributes, and
    ``model()`` / ``load_new_instance()`` through their namespace."""

    def __init__(
        self,
        info: DownloadedInfoT,
        namespace: _ModelNamespace[DownloadedHandleT, DownloadedConfigT],
    ) -> None:
        self._info: DownloadedInfoT = info
        self._namespace: _ModelNamespace[DownloadedHandleT, DownloadedConfigT] = namespace

    @property
    def info(self) -> DownloadedInfoT:
        """Everything the server said about the download (``LLMInfo`` / ``EmbeddingModelInfo``)."""
        return self._info

    @property
    def model_key(self) -> str:
        """The key to load it by (``client.llm.model(key)``)."""
        return self._info.model_key

    @property
    def path(self) -> str:
        """Its path in the models folder (``publisher/repo/file.gguf``)."""
        return self._info.path

    @property
    def type(self) -> str:
        """``"llm"`` or ``"embedding"``."""
        return self._info.domain

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.model_key!r})"

    @checked_arguments
    def model(
        self,
        *,
        ttl: float | None = DEFAULT_TTL_SECONDS,
        config: DownloadedConfigT | None = None,
        on_load_progress: Callback[float] | None = None,
        timeout: Timeout = NOT_GIVEN,
        deadline: float | None = None,
    ) -> DownloadedHandleT:
        """The loaded instance of this model, loading it first if none is loaded."""
        return self._namespace.model(
            self.model_key,
            ttl=ttl,
            config=config,
            on_load_progress=on_load_progress,
            timeout=timeout,
            deadline=deadline,
        )

    @checked_arguments
    def load_new_instance(
        self,
        *,
        ttl: float | None = DEFAULT_TTL_SECONDS,
        instance_identifier: str | None = None,
        config: DownloadedConfigT | None = None,
        on_load_progress: Callback[float] | None = None,
        timeout: Timeout = NOT_GIVEN,
        deadline: float | None = None,
    ) -> DownloadedHandleT:
        """Load a new instance of this model (even if one is already loaded)."""
        return self._namespace.load_new_instance(
            self.model_key,
            instance_identifier,
            ttl=ttl,
            config=config,
            on_load_progress=on_load_progress,
            timeout=timeout,
            deadline=deadline,
        )


class DownloadedLlm(_DownloadedModel[LLMInfo, "LLM", LlmLoadConfigDict]):
    """A downloaded LLM: ``model()`` gets or loads it, ``load_new_instance()`` loads another."""


class DownloadedEmbeddingModel(
    _DownloadedModel[EmbeddingModelInfo, "EmbeddingModel", EmbeddingLoadConfigDict]
):
    """A downloaded embedding model: ``model()`` gets or loads it, ``load_new_instance()``
    loads another."""
