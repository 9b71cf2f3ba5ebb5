"""``client.files``: upload files and images so that a chat can refer to them.

Source of truth for both faces (see ``scripts/unasync.py``).
"""

from __future__ import annotations

import base64
import io
import os
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from .._exceptions import LMStudioOSError, LMStudioValueError
from .._protocol.packets.files import UploadFileBase64Parameter, UploadFileBase64Result
from .._protocol.packets.shared import FilePart
from .._protocol.results import decode_result
from .._transport.asyncio import read_file_async
from .._types import NOT_GIVEN, Timeout, checked_arguments

if TYPE_CHECKING:
    from .pool import AsyncSessionPool

__all__ = ["AsyncFilesNamespace", "FileSource"]

FileSource = str | os.PathLike[str] | bytes | bytearray | memoryview | BinaryIO
"""A path, the bytes themselves (with a ``name``), or a binary file object (named after its
``name`` attribute unless ``name=`` is given)."""


class AsyncFilesNamespace:
    """Uploads live on the server while this client is connected."""

    def __init__(self, pool: AsyncSessionPool) -> None:
        self._pool = pool

    @checked_arguments
    async def prepare_file(
        self, source: FileSource, name: str | None = None, *, timeout: Timeout = NOT_GIVEN
    ) -> FilePart:
        """Upload a file (a path, a binary file object, or bytes with a ``name``); returns the
        part to put in a chat."""
        if name is not None and not isinstance(name, str):
            raise LMStudioValueError(f"name must be a string, not {type(name).__name__}")
        if isinstance(source, bytes | bytearray | memoryview):
            if not name:
                raise LMStudioValueError("uploading bytes needs a name=, e.g. 'photo.png'")
            data = bytes(source)
        elif not isinstance(source, str | os.PathLike):
            data, name = _read_file_object(source, name)
        else:
            path = Path(source)
            try:
                data = await read_file_async(path)
            except OSError as exc:
                raise LMStudioOSError(f"cannot read {path}: {exc.strerror}") from exc
            name = name or path.name
        parameter = UploadFileBase64Parameter(
            name=name, content_base64=base64.b64encode(data).decode("ascii")
        )
        raw = await self._pool.rpc("files", "uploadFileBase64", parameter, timeout)
        uploaded = decode_result(raw, UploadFileBase64Result, "uploadFileBase64")
        return FilePart(
            name=name,
            identifier=uploaded.identifier,
            size_bytes=uploaded.size_bytes,
            file_type=uploaded.file_type,
        )

    @checked_arguments
    async def prepare_image(
        self, source: FileSource, name: str | None = None, *, timeout: Timeout = NOT_GIVEN
    ) -> FilePart:
        """Upload an image; LMStudioValueError when the server does not see an image in it."""
        part = await self.prepare_file(source, name=name, timeout=timeout)
        if part.file_type != "image":
            raise LMStudioValueError(
                f"{part.name!r} is not an image (LM Studio sees {part.file_type!r})"
            )
        return part


def _read_file_object(source: object, name: str | None) -> tuple[bytes, str]:
    """The bytes of a binary file object and the name to upload them as."""
    read = getattr(source, "read", None)
    if isinstance(source, io.TextIOBase):
        raise LMStudioValueError(f"{source!r} is a text file: open the file in binary mode ('rb')")
    if not callable(read):
        raise LMStudioValueError(
            f"source must be a path, bytes or a binary file object, not {type(source).__name__}"
        )
    try:
        data = read()
    except OSError as exc:
        raise LMStudioOSError(f"cannot read {source!r}: {exc.strerror or exc}") from exc
    if not isinstance(data, bytes):
        raise LMStudioValueError(
            f"{source!r} gave {type(data).__name__}, not bytes: open the file in binary mode ('rb')"
        )
    own_name = getattr(source, "name", None)
    name = name or (Path(own_name).name if isinstance(own_name, str) else None)
    if not name:
        raise LMStudioValueError("uploading a file object without a name needs a name=")
    return data, name
