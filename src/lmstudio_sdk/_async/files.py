"""``client.files``: upload files and images so that a chat can refer to them.

Source of truth for both faces (see ``scripts/unasync.py``).
"""

from __future__ import annotations

import base64
import os
from pathlib import Path
from typing import TYPE_CHECKING

from .._exceptions import LMStudioValueError
from .._protocol.packets.files import UploadFileBase64Parameter, UploadFileBase64Result
from .._protocol.packets.shared import FilePart
from .._protocol.results import decode_result
from .._transport.asyncio import read_file_async
from .._types import NOT_GIVEN, Timeout, checked_arguments

if TYPE_CHECKING:
    from .pool import AsyncSessionPool

__all__ = ["AsyncFilesNamespace", "FileSource"]

FileSource = str | os.PathLike[str] | bytes


class AsyncFilesNamespace:
    """Uploads live on the server while this client is connected."""

    def __init__(self, pool: AsyncSessionPool) -> None:
        self._pool = pool

    @checked_arguments
    async def prepare_file(
        self, source: FileSource, *, name: str | None = None, timeout: Timeout = NOT_GIVEN
    ) -> FilePart:
        """Upload a file (a path, or bytes with a ``name``); returns the part to put in a chat."""
        if name is not None and not isinstance(name, str):
            raise LMStudioValueError(f"name must be a string, not {type(name).__name__}")
        if not isinstance(source, str | os.PathLike | bytes):
            raise LMStudioValueError(f"source must be a path or bytes, not {type(source).__name__}")
        if isinstance(source, bytes):
            if not name:
                raise LMStudioValueError("uploading bytes needs a name=, e.g. 'photo.png'")
            data = source
        else:
            path = Path(source)
            try:
                data = await read_file_async(path)
            except OSError as exc:
                raise LMStudioValueError(f"cannot read {path}: {exc.strerror}") from exc
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
        self, source: FileSource, *, name: str | None = None, timeout: Timeout = NOT_GIVEN
    ) -> FilePart:
        """Upload an image; LMStudioValueError when the server does not see an image in it."""
        part = await self.prepare_file(source, name=name, timeout=timeout)
        if part.file_type != "image":
            raise LMStudioValueError(
                f"{part.name!r} is not an image (LM Studio sees {part.file_type!r})"
            )
        return part
