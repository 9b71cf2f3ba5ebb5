"""The model catalogue behind /repository: search, download options, downloads.

Entries come from a catalogue folder's manifest (``local/catalog_files.py`` documents it) plus
the models that PyPI packages ship (``smollm2``, ``minilm``; fetched with pip when downloaded).
A download copies (or fetches) into a hidden staging folder inside the models folder, reports
bytes, total and speed, checks size and hash, and moves the file into LM Studio's layout in
one rename; cancelled or failed, it leaves the models folder exactly as it was.
"""

from __future__ import annotations

import asyncio
import difflib
import hashlib
import os
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..errors import ServerError
from ..local.catalog_files import (
    CatalogEntry,
    CatalogFile,
    DownloadCancelled,
    DownloadFailed,
    copy_with_progress,
    install_file,
    load_manifest,
    sha256_of,
    staging_dir,
)
from ..local.model_install import (
    MODELS,
    InstallCancelled,
    InstallError,
    fetch_packaged_model,
)
from ..local.models_dir import GGUFFormatError, read_gguf_metadata, scan_models

__all__ = ["MAX_SEARCH_LIMIT", "Catalog", "DownloadOption", "SearchHit"]

MAX_SEARCH_LIMIT = 25  # LM Studio's own bound on searchModels' limit
DEFAULT_SEARCH_LIMIT = 10
PROGRESS_INTERVAL_SECONDS = 0.1

_PACKAGED_DESCRIPTIONS = {
    "smollm2": ("SmolLM2 135M Instruct", "A 135M-parameter chat model (Q4_1 GGUF)"),
    "minilm": ("all-MiniLM-L6-v2", "A small sentence-embedding model (converted to f16 GGUF)"),
}


def packaged_entries() -> list[CatalogEntry]:
    """The models PyPI packages ship, as catalogue entries."""
    entries = []
    for name, model in MODELS.items():
        publisher, repo, file_name = model.rel_path.split("/")
        display, description = _PACKAGED_DESCRIPTIONS[name]
        entries.append(
            CatalogEntry(
                identifier=f"{publisher}/{repo}",
                name=display,
                description=f"{description}, from the PyPI package {model.requirement}",
                staff_pick=True,
                files=(
                    CatalogFile(
                        file_name=file_name,
                        size_bytes=model.size,
                        sha256=model.sha256 if name == "smollm2" else None,
                        quantization="Q4_1" if name == "smollm2" else "F16",
                        recommended=True,
                        packaged=name,
                    ),
                ),
            )
        )
    return entries


@dataclass(frozen=True, slots=True)
class SearchHit:
    entry: CatalogEntry
    exact: bool


@dataclass(frozen=True, slots=True)
class DownloadOption:
    entry: CatalogEntry
    file: CatalogFile
    download_identifier: str  # also the indexed model identifier: publisher/repo/file
    fit_estimation: str
    recommended: bool


_WORD = re.compile(r"[a-z0-9]+")
_WORDS_SCORE = 40.0  # every word of the term appears; below: a near miss (spelling)


def _score(term: str, entry: CatalogEntry) -> tuple[float, bool] | None:
    """How well ``term`` matches ``entry`` (higher is better) and whether exactly; None: not."""
    if not term:
        return 1.0, False
    ident = entry.identifier.lower()
    repo = ident.split("/", 1)[1]
    name = entry.name.lower()
    if term in (ident, repo, name):
        return 100.0, True
    if repo.startswith(term) or name.startswith(term):
        return 80.0, False
    if term in ident or term in name:
        return 60.0, False
    words = _WORD.findall(term)
    haystack = f"{ident} {name} {entry.description.lower()}"
    if words and all(w in haystack for w in words):
        return _WORDS_SCORE, False
    ratio = max(difflib.SequenceMatcher(None, term, s).ratio() for s in (repo, name))
    if ratio >= 0.6:
        return 20.0 * ratio, False
    return None


def _memory_bytes() -> int | None:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return None


def fit_estimation(size_bytes: int) -> str:
    """This server runs models on the CPU: a model fits when it takes under 80 % of RAM."""
    memory = _memory_bytes()
    if memory is None or size_bytes * 1.2 < memory * 0.8:
        return "fitWithoutGPU"
    return "willNotFit"


class _Speed:
    """Bytes per second over the last few seconds."""

    def __init__(self) -> None:
        self._samples: list[tuple[float, int]] = [(time.monotonic(), 0)]

    def update(self, done: int) -> float:
        now = time.monotonic()
        self._samples.append((now, done))
        while len(self._samples) > 2 and now - self._samples[0][0] > 3.0:
            self._samples.pop(0)
        t0, d0 = self._samples[0]
        return (done - d0) / (now - t0) if now > t0 else 0.0


ProgressCallback = Callable[[int, int, float], None]  # done, total, bytes per second


class Catalog:
    """One server's catalogue: the manifest of ``folder`` plus the packaged models.

    ``bytes_per_second`` caps copy speed (a bandwidth limit, also handy to watch progress).
    """

    def __init__(
        self,
        folder: Path | None,
        models_dir: Path,
        *,
        bytes_per_second: float | None = None,
        packaged: bool = True,
    ) -> None:
        self.folder = folder
        self.models_dir = models_dir
        self.bytes_per_second = bytes_per_second
        entries = load_manifest(folder) if folder is not None else []
        if packaged:
            taken = {e.identifier.lower() for e in entries}
            entries += [e for e in packaged_entries() if e.identifier.lower() not in taken]
        self.entries = entries
        self._locks: dict[str, asyncio.Lock] = {}

    # -- search --------------------------------------------------------------------------------

    def search(
        self, term: str | None, limit: int | None, compatibility_types: list[str] | None
    ) -> list[SearchHit]:
        if limit is not None and not 1 <= limit <= MAX_SEARCH_LIMIT:
            raise ServerError(
                f"Search limit {limit} is out of range",
                suggestion=f"Use a limit from 1 to {MAX_SEARCH_LIMIT}.",
            )
        wanted = set(compatibility_types) if compatibility_types else None
        needle = (term or "").strip().lower()
        scored: list[tuple[float, bool, CatalogEntry]] = []
        for entry in self.entries:
            if wanted is not None and not any(f.compatibility_type in wanted for f in entry.files):
                continue
            found = _score(needle, entry)
            if found is not None:
                scored.append((found[0], found[1], entry))
        if any(score >= _WORDS_SCORE for score, _, _ in scored):  # near misses only when
            scored = [s for s in scored if s[0] >= _WORDS_SCORE]  # nothing really matched
        scored.sort(key=lambda s: (-s[0], not s[2].staff_pick, s[2].name.lower()))
        return [SearchHit(e, exact) for _, exact, e in scored[: limit or DEFAULT_SEARCH_LIMIT]]

    def entry(self, identifier: str) -> CatalogEntry:
        for entry in self.entries:
            if entry.identifier.lower() == identifier.lower():
                return entry
        raise ServerError(
            f'No model "{identifier}" in the catalogue',
            suggestion="Search first (searchModels) and use an identifier it returned.",
        )

    def options(self, identifier: str) -> list[DownloadOption]:
        entry = self.entry(identifier)
        fits = [fit_estimation(f.size_bytes) for f in entry.files]
        marked = [f.recommended for f in entry.files]
        if not any(marked):  # none marked: the largest that fits
            fitting = [i for i, fit in enumerate(fits) if fit != "willNotFit"]
            if fitting:
                best = max(fitting, key=lambda i: entry.files[i].size_bytes)
                marked[best] = True
        return [
            DownloadOption(entry, f, f"{entry.identifier}/{f.file_name}", fits[i], marked[i])
            for i, f in enumerate(entry.files)
        ]

    def option(self, download_identifier: str) -> DownloadOption:
        identifier, _, file_name = download_identifier.rpartition("/")
        for option in self.options(identifier) if identifier.count("/") == 1 else []:
            if option.file.file_name == file_name:
                return option
        raise ServerError(
            f'No download "{download_identifier}" in the catalogue',
            suggestion="Use a downloadIdentifier that getModelDownloadOptions returned.",
        )

    # -- download ------------------------------------------------------------------------------

    async def download(
        self,
        download_identifier: str,
        *,
        on_progress: ProgressCallback,
        on_finalizing: Callable[[], None],
        cancel: threading.Event,
    ) -> str:
        """Install the option into the models folder and return its model key."""
        option = self.option(download_identifier)
        target = self.models_dir / option.entry.identifier / option.file.file_name
        lock = self._locks.setdefault(str(target), asyncio.Lock())
        async with lock:  # one download of a file at a time; the second finds it installed
            loop = asyncio.get_running_loop()
            work = loop.run_in_executor(
                None, self._install, option, target, on_progress, on_finalizing, cancel
            )
            try:
                await asyncio.shield(work)
            except asyncio.CancelledError:
                cancel.set()  # the socket went: stop the copy and wait for its clean-up
                await asyncio.gather(work, return_exceptions=True)
                raise
            except DownloadCancelled:
                raise ServerError(
                    f"The download of {option.file.file_name} was cancelled",
                    cause="The client sent a cancel packet; nothing was installed.",
                ) from None
            except (DownloadFailed, InstallError, OSError) as exc:
                raise ServerError(
                    f"The download of {option.file.file_name} failed",
                    cause=f"{exc}; nothing was installed.",
                ) from None
        return self._model_key(target)

    def _install(
        self,
        option: DownloadOption,
        target: Path,
        on_progress: ProgressCallback,
        on_finalizing: Callable[[], None],
        cancel: threading.Event,
    ) -> None:
        file = option.file
        if target.is_file() and file.sha256 is not None:
            if target.stat().st_size == file.size_bytes and sha256_of(target) == file.sha256:
                on_progress(file.size_bytes, file.size_bytes, 0.0)
                on_finalizing()
                return  # already installed, intact
        reporter = _Reporter(on_progress)
        with staging_dir(self.models_dir) as staging:
            if file.packaged is not None:
                try:
                    staged = fetch_packaged_model(
                        file.packaged, staging, on_progress=reporter, cancelled=cancel.is_set
                    )
                except InstallCancelled:
                    raise DownloadCancelled() from None
                size = staged.stat().st_size  # the fetch checked the package's hash
            else:
                assert file.source is not None
                staged = staging / file.file_name
                digest = hashlib.sha256()
                try:
                    src_file = file.source.open("rb")
                except OSError as exc:
                    raise DownloadFailed(f"the catalogue file is unreadable: {exc}") from None
                with src_file as src, staged.open("wb") as dst:
                    copy_with_progress(
                        src,
                        dst,
                        on_progress=lambda done: reporter(done, file.size_bytes),
                        cancelled=cancel.is_set,
                        bytes_per_second=self.bytes_per_second,
                        digest=digest,
                    )
                if file.sha256 is not None and digest.hexdigest() != file.sha256:
                    raise DownloadFailed(
                        f"{file.file_name}: the SHA-256 does not match the catalogue's"
                    )
                size = file.size_bytes
            reporter.finish()
            if cancel.is_set():
                raise DownloadCancelled()
            on_finalizing()
            try:
                read_gguf_metadata(staged)
            except (OSError, GGUFFormatError) as exc:
                raise DownloadFailed(f"{file.file_name} is not a GGUF model: {exc}") from None
            install_file(staged, target, size_bytes=size, models_dir=self.models_dir)

    def _model_key(self, target: Path) -> str:
        rel = target.relative_to(self.models_dir).as_posix()
        for info in scan_models(self.models_dir):
            if info.path == rel:
                return info.model_key
        raise ServerError(f"{rel} was installed but the models folder does not list it")


class _Reporter:
    """Throttles progress to one report per interval, always reporting the last one."""

    def __init__(self, on_progress: ProgressCallback) -> None:
        self._on_progress = on_progress
        self._speed = _Speed()
        self._last_sent = 0.0
        self._pending: tuple[int, int] | None = None

    def __call__(self, done: int, total: int) -> None:
        speed = self._speed.update(done)
        now = time.monotonic()
        if now - self._last_sent >= PROGRESS_INTERVAL_SECONDS or done >= total:
            self._last_sent = now
            self._pending = None
            self._on_progress(done, total, speed)
        else:
            self._pending = (done, total)

    def finish(self) -> None:
        if self._pending is not None:
            done, total = self._pending
            self._pending = None
            self._on_progress(done, total, self._speed.update(done))
