# GENERATED from src/lmstudio_sdk/_async/repository.py by scripts/unasync.py. Do not edit: edit the source.
"""``client.repository``: search LM Studio's model catalogue and download models.

``search_models(term)`` returns entries; an entry's ``get_download_options()`` lists its files
(quantisations); ``option.download(on_progress=…)`` (or ``client.repository.download(option)``)
downloads one and returns the model key to load it with. Leaving a download early (task
cancellation, Ctrl-C, ``timeout``, a raising callback) sends ``cancel``: LM Studio (and the
embedded server) then drops the partial file. ``lm_link_status()`` reports LM Link, and the
``lm_link_*`` setters change it (LM Studio only: the embedded server has no LM Link).

Source of truth for both faces (see ``scripts/unasync.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Final

from msgspec import Raw, UnsetType

from .._exceptions import LMStudioValueError
from .._protocol.download import FINALIZING, DownloadState
from .._protocol.packets.repository import (
    DownloadModelCreationParameter,
    GetModelDownloadOptionsParameter,
    GetModelDownloadOptionsResult,
    GetModelDownloadOptionsResultResult,
    LmLinkSetDisabledParameter,
    LmLinkSetPreferredDeviceParameter,
    LmLinkStatusResult,
    LmLinkUpdateDeviceNameParameter,
    SearchModelsParameter,
    SearchModelsParameterOpts,
    SearchModelsResult,
    SearchModelsResultResult,
)
from .._protocol.packets.shared import DownloadProgressUpdate, ModelSearchIdentifier
from .._protocol.results import decode_result
from .._types import (
    NOT_GIVEN,
    Callback,
    Notice,
    Timeout,
    call_hook,
    check_callback,
    checked_arguments,
    run_callback,
)

if TYPE_CHECKING:
    from .pool import SessionPool

__all__ = ["DownloadOption", "ModelSearchResult", "RepositoryNamespace"]

MAX_SEARCH_LIMIT: Final = 25  # LM Studio's bound
COMPATIBILITY_TYPES: Final = (
    "gguf",
    "safetensors",
    "onnx",
    "ggml",
    "pte",
    "mlx_placeholder",
    "torch_safetensors",
    "yuzu",
)
_CANCEL = {"type": "cancel"}


class DownloadOption:
    """One file (quantisation) of a search result; ``download()`` fetches it."""

    def __init__(self, pool: SessionPool, data: GetModelDownloadOptionsResultResult) -> None:
        self._pool = pool
        self.data = data

    @property
    def info(self) -> GetModelDownloadOptionsResultResult:
        """The official SDK's name of ``data``: everything the server said about the file."""
        return self.data

    @property
    def name(self) -> str:
        """The file's name, e.g. ``SmolLM2-135M-Instruct-Q4_1.gguf``."""
        return self.data.name

    @property
    def quantization(self) -> str | None:
        """The quantisation (``Q4_1``, ``Q8_0``, …), if the catalogue names one."""
        return self.data.quantization

    @property
    def size_bytes(self) -> int:
        """The download's size in bytes."""
        return self.data.size_bytes

    @property
    def fit_estimation(self) -> str:
        """``fullGPUOffload``, ``partialGPUOffload``, ``fitWithoutGPU`` or ``willNotFit``."""
        return self.data.fit_estimation

    @property
    def recommended(self) -> bool:
        """Whether the catalogue recommends this file for this machine."""
        return bool(self.data.recommended)

    @property
    def compatibility_type(self) -> str:
        """The file's format: ``gguf``, ``safetensors``, ``mlx_placeholder``, …"""
        return self.data.compatibility_type

    @property
    def indexed_model_identifier(self) -> str:
        """The model's identifier in the catalogue (``publisher/repo``)."""
        return self.data.indexed_model_identifier

    @property
    def download_identifier(self) -> str:
        """What the server downloads: the file's identifier in the catalogue."""
        return self.data.download_identifier

    def __repr__(self) -> str:
        return (
            f"<DownloadOption {self.name!r} {self.quantization or '-'} "
            f"{self.size_bytes} bytes{' recommended' if self.recommended else ''}>"
        )

    @checked_arguments
    def download(
        self,
        on_progress: Callback[DownloadProgressUpdate] | None = None,
        on_finalize: Notice | None = None,
        *,
        on_start_finalizing: Notice | None = None,
        timeout: Timeout = NOT_GIVEN,
    ) -> str:
        """Download this file and return its model key (for ``client.llm.model(key)``).

        ``on_progress`` receives updates with ``downloaded_bytes``, ``total_bytes`` and
        ``speed_bytes_per_second``; ``on_start_finalizing()`` is called once the bytes
        are in and the file is being checked and installed (``on_finalize`` is its official
        name; pass one). ``timeout`` bounds each wait for
        the next packet; when it runs out the download is cancelled.
        """
        check_callback(on_progress, "on_progress")
        check_callback(on_start_finalizing, "on_start_finalizing")
        check_callback(on_finalize, "on_finalize")
        if on_finalize is not None and on_start_finalizing is not None:
            raise LMStudioValueError(
                "download() got on_finalize= and on_start_finalizing=: they are the same "
                "callback (on_finalize is the official SDK's name), pass one"
            )
        on_start_finalizing = on_start_finalizing or on_finalize
        parameter = DownloadModelCreationParameter(download_identifier=self.download_identifier)
        channel = self._pool.open_channel("repository", "downloadModel", parameter, timeout)
        limit = self._pool.timeout_for(timeout)
        state = DownloadState()
        try:
            while state.model_key is None:
                message = channel.receive(limit)
                if message is None:
                    state.channel_closed()
                    continue
                for event in state.feed(message):
                    if event == FINALIZING:
                        call_hook(on_start_finalizing)
                    elif isinstance(event, DownloadProgressUpdate):
                        run_callback(on_progress, event)
        except BaseException:
            if not channel.finished:
                channel.send(_CANCEL)
                channel.abandon()
            raise
        channel.abandon()
        return state.model_key


class ModelSearchResult:
    """One model found by ``search_models``."""

    def __init__(self, pool: SessionPool, data: SearchModelsResultResult) -> None:
        self._pool = pool
        self.data = data

    @property
    def search_result(self) -> SearchModelsResultResult:
        """The official SDK's name of ``data``: everything the server said about the model."""
        return self.data

    @property
    def name(self) -> str:
        """The model's name as the catalogue shows it."""
        return self.data.name

    @property
    def identifier(self) -> ModelSearchIdentifier:
        """``{type: "catalog" | "hf", identifier}``: where the result comes from."""
        return self.data.identifier

    @property
    def exact(self) -> bool:
        """Whether the result matches the search term exactly."""
        return bool(self.data.exact)

    @property
    def staff_pick(self) -> bool:
        """Whether the catalogue marks the model as a staff pick."""
        return bool(self.data.staff_pick)

    def __repr__(self) -> str:
        return f"<ModelSearchResult {self.name!r} ({self.identifier.identifier})>"

    @checked_arguments
    def get_download_options(
        self, *, timeout: Timeout = NOT_GIVEN
    ) -> list[DownloadOption]:
        """The files (quantisations) that can be downloaded for this model."""
        parameter = GetModelDownloadOptionsParameter(model_search_result_identifier=self.identifier)
        raw = self._pool.rpc("repository", "getModelDownloadOptions", parameter, timeout)
        result = decode_result(raw, GetModelDownloadOptionsResult, "getModelDownloadOptions")
        return [DownloadOption(self._pool, data) for data in result.results]


class RepositoryNamespace:
    """``client.repository``: model search and download, LM Link status."""

    def __init__(self, pool: SessionPool) -> None:
        self._pool = pool

    @checked_arguments
    def search_models(
        self,
        term: str | None = None,
        limit: int | None = None,
        compatibility: Sequence[str] | None = None,
        *,
        timeout: Timeout = NOT_GIVEN,
    ) -> list[ModelSearchResult]:
        """Models matching ``term`` (all of them without one), best first.

        ``limit``: at most this many (1 to 25; LM Studio's default otherwise).
        ``compatibility``: only models with files of these formats, e.g. ``["gguf"]``.
        """
        if term is not None and not isinstance(term, str):
            raise LMStudioValueError(f"term must be a string, not {type(term).__name__}")
        if limit is not None and (
            isinstance(limit, bool)
            or not isinstance(limit, int)
            or not 1 <= limit <= MAX_SEARCH_LIMIT
        ):
            raise LMStudioValueError(
                f"limit={limit!r} is impossible; pass a whole number from 1 to {MAX_SEARCH_LIMIT}"
            )
        types = _compatibility_types(compatibility)
        parameter = SearchModelsParameter(
            opts=SearchModelsParameterOpts(search_term=term, limit=limit, compatibility_types=types)
        )
        raw = self._pool.rpc("repository", "searchModels", parameter, timeout)
        result = decode_result(raw, SearchModelsResult, "searchModels")
        return [ModelSearchResult(self._pool, data) for data in result.results]

    @checked_arguments
    def download(
        self,
        option: DownloadOption,
        *,
        on_progress: Callback[DownloadProgressUpdate] | None = None,
        on_start_finalizing: Notice | None = None,
        timeout: Timeout = NOT_GIVEN,
    ) -> str:
        """Download ``option`` (from ``get_download_options()``); returns the model key."""
        if not isinstance(option, DownloadOption):
            raise LMStudioValueError(
                f"option must be a DownloadOption from get_download_options(), "
                f"not {type(option).__name__}"
            )
        return option.download(
            on_progress=on_progress, on_start_finalizing=on_start_finalizing, timeout=timeout
        )

    @checked_arguments
    def lm_link_status(self, *, timeout: Timeout = NOT_GIVEN) -> LmLinkStatusResult:
        """LM Link's state: ``status`` (offline, starting, online, stopping), ``issues``,
        ``peers`` and this device's name."""
        raw: Raw | UnsetType = self._pool.rpc("repository", "lmLinkStatus", None, timeout)
        return decode_result(raw, LmLinkStatusResult, "lmLinkStatus")

    @checked_arguments
    def lm_link_set_disabled(self, disabled: bool, *, timeout: Timeout = NOT_GIVEN) -> None:
        """Turn LM Link off (True) or on (False) on this device."""
        if not isinstance(disabled, bool):
            raise LMStudioValueError(f"disabled must be True or False, not {disabled!r}")
        parameter = LmLinkSetDisabledParameter(disabled=disabled)
        self._pool.rpc("repository", "lmLinkSetDisabled", parameter, timeout)

    @checked_arguments
    def lm_link_update_device_name(
        self, device_name: str, *, timeout: Timeout = NOT_GIVEN
    ) -> None:
        """The name other LM Link devices see for this one."""
        _check_text("device_name", device_name)
        parameter = LmLinkUpdateDeviceNameParameter(device_name=device_name)
        self._pool.rpc("repository", "lmLinkUpdateDeviceName", parameter, timeout)

    @checked_arguments
    def lm_link_set_preferred_device(
        self, device_identifier: str, *, timeout: Timeout = NOT_GIVEN
    ) -> None:
        """The LM Link peer (``status.peers[i].device_identifier``) to prefer."""
        _check_text("device_identifier", device_identifier)
        parameter = LmLinkSetPreferredDeviceParameter(device_identifier=device_identifier)
        self._pool.rpc("repository", "lmLinkSetPreferredDevice", parameter, timeout)


def _check_text(name: str, value: object) -> None:
    if not isinstance(value, str) or not value.strip():
        raise LMStudioValueError(f"{name} must be a non-empty string, not {value!r}")


def _compatibility_types(compatibility: object) -> list[str] | None:
    if compatibility is None:
        return None
    if isinstance(compatibility, str) or not isinstance(compatibility, Sequence):
        raise LMStudioValueError(
            f"compatibility must be a list of formats such as ['gguf'], not {compatibility!r}"
        )
    types = list(compatibility)
    for value in types:
        if value not in COMPATIBILITY_TYPES:
            raise LMStudioValueError(
                f"compatibility type {value!r} is unknown; use {', '.join(COMPATIBILITY_TYPES)}"
            )
    return types
