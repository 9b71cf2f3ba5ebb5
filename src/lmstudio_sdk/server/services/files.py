"""Uploaded files (``/files uploadFileBase64``), kept in the server's own temporary folder.

Like LM Studio, a file handle belongs to the identity that uploaded it and lives until the
last socket of that identity closes; its file on disk is deleted then (and the whole folder when
the server stops). The server hands a prediction the bytes of the files its chat refers to
(``PredictionRequest.files``), and only files of the caller's own identity.

The client's file name is never used as a path: it is reduced to a display name (its last
component, no control characters; a NUL byte or a name that is only dots is refused), and the
file on disk is named by the server's counter plus a plain alphanumeric suffix, created with
``O_EXCL | O_NOFOLLOW`` inside the folder. Each file is capped (``max_file_bytes``, 32 MiB by
default) and so is the total (512 MiB).
"""

from __future__ import annotations

import contextlib
import itertools
import os
import pathlib
import re
import shutil
import tempfile
import time
from dataclasses import dataclass

from ..errors import ServerError

__all__ = ["MAX_FILE_BYTES", "FileStore", "StoredFile", "display_name", "file_type_of"]

# Upper bound of what one server keeps; an upload past it is refused.
MAX_TOTAL_BYTES = 512 * 1024 * 1024
# Upper bound of one uploaded file (configurable per server).
MAX_FILE_BYTES = 32 * 1024 * 1024
MAX_NAME_LENGTH = 255

_SAFE_SUFFIX = re.compile(r"\.[A-Za-z0-9]{1,16}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

_IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".gif", ".webp", ".bmp"}
_TEXT_SUFFIXES = {
    ".md",
    ".csv",
    ".json",
    ".html",
    ".htm",
    ".markdown",
    ".rst",
    ".xml",
    ".yaml",
    ".yml",
    ".py",
    ".js",
    ".ts",
    ".log",
}
_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "image"),
    (b"\xff\xd8\xff", "image"),
    (b"GIF8", "image"),
    (b"%PDF", "application/pdf"),
)


def file_type_of(name: str, data: bytes) -> str:
    """LM Studio's FileType for a file: by content signature, else by extension."""
    for magic, kind in _MAGIC:
        if data.startswith(magic):
            return kind
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image"
    suffix = pathlib.PurePath(name).suffix.lower()
    if suffix in _IMAGE_SUFFIXES:
        return "image"
    if suffix == ".txt":
        return "text/plain"
    if suffix == ".pdf":
        return "application/pdf"
    if suffix in (".doc", ".docx"):
        return "application/word"
    if suffix in _TEXT_SUFFIXES:
        return "text/other"
    return "unknown"


def display_name(name: str) -> str:
    """The name a client gave, made harmless: its last path component, no control characters.

    Raises ServerError for a NUL byte, or a name with nothing left (empty, ``.``, ``..``).
    """
    if "\x00" in name:
        raise ServerError(
            "The file name contains a NUL byte",
            suggestion="Send the plain file name, e.g. photo.png.",
        )
    base = re.split(r"[/\\]", name)[-1]
    base = _CONTROL.sub("", base).strip()[:MAX_NAME_LENGTH]
    if base.strip(".") == "":
        raise ServerError(
            f"{name!r} is not a usable file name",
            suggestion="Send the plain file name, e.g. photo.png.",
        )
    return base


@dataclass(frozen=True, slots=True)
class StoredFile:
    identifier: str
    name: str  # the display name (see display_name)
    file_type: str
    size_bytes: int
    owner: str
    path: pathlib.Path  # inside FileStore.directory


class FileStore:
    """Every uploaded file of one server, in one private temporary folder."""

    def __init__(self, max_file_bytes: int = MAX_FILE_BYTES) -> None:
        if max_file_bytes < 1:
            raise ValueError("max_file_bytes must be at least 1")
        self.max_file_bytes = max_file_bytes
        self._files: dict[str, StoredFile] = {}
        self._counter = itertools.count(1)
        self._total = 0
        self._directory: pathlib.Path | None = None  # created on the first upload

    @property
    def directory(self) -> pathlib.Path | None:
        """The folder that holds the uploads (None until the first one)."""
        return self._directory

    def check_size(self, size: int) -> None:
        """ServerError when an upload of ``size`` bytes would be refused."""
        if size > self.max_file_bytes:
            raise ServerError(
                f"The file is {size} bytes; this server accepts uploads of at most "
                f"{self.max_file_bytes} bytes",
                suggestion="Send a smaller file (or start the server with a larger limit).",
            )
        if self._total + size > MAX_TOTAL_BYTES:
            raise ServerError(
                "Too many uploaded files are held by this server",
                suggestion="Close clients you no longer use; their files are then released.",
            )

    def add(self, owner: str, name: str, data: bytes) -> StoredFile:
        shown = display_name(name)
        self.check_size(len(data))
        suffix = pathlib.PurePath(shown).suffix.lower()
        if not _SAFE_SUFFIX.fullmatch(suffix):
            suffix = ""
        number = next(self._counter)
        # LM Studio's handles look like "<unix ms> - <n><suffix>".
        identifier = f"{int(time.time() * 1000)} - {number}{suffix}"
        directory = self._ensure_directory()
        path = directory / f"{number}{suffix}"
        fd = os.open(
            path,
            os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0),
            0o600,
        )
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
        except BaseException:
            with contextlib.suppress(OSError):
                path.unlink()
            raise
        stored = StoredFile(identifier, shown, file_type_of(shown, data), len(data), owner, path)
        self._files[identifier] = stored
        self._total += len(data)
        return stored

    def get(self, identifier: str, owner: str) -> StoredFile:
        """A file ``owner`` uploaded; ServerError when the handle is not theirs."""
        stored = self._files.get(identifier)
        if stored is None or stored.owner != owner:
            raise ServerError(
                f'No uploaded file has the identifier "{identifier}"',
                suggestion="Upload the file again (handles end when the client disconnects).",
            )
        return stored

    def read(self, identifier: str, owner: str) -> bytes:
        """The bytes of a file ``owner`` uploaded; ServerError when the handle is not theirs."""
        return self.get(identifier, owner).path.read_bytes()

    def release_owner(self, owner: str) -> None:
        """The identity is gone: delete its files."""
        for identifier in [k for k, v in self._files.items() if v.owner == owner]:
            stored = self._files.pop(identifier)
            self._total -= stored.size_bytes
            with contextlib.suppress(FileNotFoundError):
                stored.path.unlink()

    def close(self) -> None:
        """Delete every file and the folder (server shutdown)."""
        self._files.clear()
        self._total = 0
        directory, self._directory = self._directory, None
        if directory is not None:
            shutil.rmtree(directory, ignore_errors=True)

    def _ensure_directory(self) -> pathlib.Path:
        if self._directory is None or not self._directory.is_dir():
            self._directory = pathlib.Path(tempfile.mkdtemp(prefix="lmstudio-sdk-uploads-"))
        return self._directory

    def __len__(self) -> int:
        return len(self._files)
