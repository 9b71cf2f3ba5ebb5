"""``client.files``: upload files and images so that a chat can refer to them, parse
documents to text, and retrieve the chunks of documents most relevant to a query.

Source of truth for both faces (see ``scripts/unasync.py``).
"""

from __future__ import annotations

import base64
import io
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Final

from .._exceptions import LMStudioOSError, LMStudioValueError
from .._protocol.documents import (
    DocumentParser,
    ParsedDocument,
    ParseState,
    RetrievalEntry,
    RetrievalProgress,
    RetrieveState,
    parser_of,
)
from .._protocol.packets.files import (
    GetDocumentParsingLibraryParameter,
    GetLocalFileAbsolutePathParameter,
    ParseDocumentCreationParameter,
    ParseDocumentCreationParameterParseOpts,
    RetrieveCreationParameter,
    UploadFileBase64Parameter,
    UploadFileBase64Result,
)
from .._protocol.packets.shared import (
    FilePart,
    GetDocumentParsingLibraryResult,
    GetLocalFileAbsolutePathResult,
    KVConfig,
    KVConfigField,
)
from .._protocol.results import decode_result
from .._transport.asyncio import read_file_async
from .._types import (
    NOT_GIVEN,
    AsyncCallback,
    Timeout,
    check_async_callback,
    checked_arguments,
    run_async_callback,
)
from .models import AsyncEmbeddingModel
from .session import AsyncChannel

if TYPE_CHECKING:
    from .pool import AsyncSessionPool

__all__ = ["AsyncFilesNamespace", "FileSource"]

FileSource = str | os.PathLike[str] | bytes | bytearray | memoryview | BinaryIO
"""A path, the bytes themselves (with a ``name``), or a binary file object (named after its
``name`` attribute unless ``name=`` is given)."""

# LM Studio's default chunking (retrieval.chunkingMethod): 512 tokens, 100 of them overlapping.
DEFAULT_CHUNK_SIZE: Final = 512
DEFAULT_CHUNK_OVERLAP: Final = 100
_CANCEL: Final = {"type": "cancel"}
_STOP: Final = {"type": "stop"}


def _check_file(file: object, name: str = "file") -> FilePart:
    if not isinstance(file, FilePart):
        raise LMStudioValueError(
            f"{name} must be a file handle from client.files.prepare_file(), "
            f"not {type(file).__name__}"
        )
    return file


def _check_count(name: str, value: object, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise LMStudioValueError(f"{name} must be an integer, not {type(value).__name__}")
    if value < minimum:
        raise LMStudioValueError(f"{name} must be at least {minimum}, not {value}")
    return value


def _chunking(chunk_size: int | None, chunk_overlap: int | None) -> dict[str, Any] | None:
    if chunk_size is None and chunk_overlap is None:
        return None
    size = DEFAULT_CHUNK_SIZE if chunk_size is None else _check_count("chunk_size", chunk_size, 1)
    if chunk_overlap is None:
        overlap = min(DEFAULT_CHUNK_OVERLAP, size // 5)
    else:
        overlap = _check_count("chunk_overlap", chunk_overlap, 0)
    if overlap >= size:
        raise LMStudioValueError(
            f"chunk_overlap ({overlap}) must be smaller than chunk_size ({size})"
        )
    return {"type": "recursive-v1", "chunkSize": size, "chunkOverlap": overlap}


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

    @checked_arguments
    async def get_local_file_absolute_path(
        self, file: FilePart, *, timeout: Timeout = NOT_GIVEN
    ) -> str:
        """Where the server keeps an uploaded file: a path on the server's machine (the file is
        deleted when this client disconnects)."""
        parameter = GetLocalFileAbsolutePathParameter(file_name=_check_file(file).identifier)
        raw = await self._pool.rpc("files", "getLocalFileAbsolutePath", parameter, timeout)
        return decode_result(raw, GetLocalFileAbsolutePathResult, "getLocalFileAbsolutePath").path

    @checked_arguments
    async def get_document_parsing_library(
        self, file: FilePart, *, timeout: Timeout = NOT_GIVEN
    ) -> DocumentParser:
        """The library the server would parse ``file`` with (e.g. ``pypdf`` for a PDF)."""
        parameter = GetDocumentParsingLibraryParameter(file_identifier=_check_file(file).identifier)
        raw = await self._pool.rpc("files", "getDocumentParsingLibrary", parameter, timeout)
        return parser_of(
            decode_result(raw, GetDocumentParsingLibraryResult, "getDocumentParsingLibrary")
        )

    @checked_arguments
    async def parse_document(
        self,
        file: FilePart,
        *,
        parser: DocumentParser | None = None,
        on_progress: AsyncCallback[float] | None = None,
        timeout: Timeout = NOT_GIVEN,
    ) -> ParsedDocument:
        """The text of an uploaded document (plain text, Markdown, HTML or PDF on the embedded
        server), with the parser used.

        ``parser`` asks for a parser (one from ``get_document_parsing_library()``);
        ``on_progress`` receives values from 0 to 1. ``timeout`` bounds each wait for the next
        packet; leaving early (timeout, cancellation, a raising callback) cancels the parse.
        """
        identifier = _check_file(file).identifier
        if parser is not None and not isinstance(parser, DocumentParser):
            raise LMStudioValueError(
                f"parser must be a DocumentParser or None, not {type(parser).__name__}"
            )
        check_async_callback(on_progress, "on_progress")
        parser_id = (
            None
            if parser is None
            else GetDocumentParsingLibraryResult(library=parser.library, version=parser.version)
        )
        parameter = ParseDocumentCreationParameter(
            file_identifier=identifier,
            parse_opts=ParseDocumentCreationParameterParseOpts(parser_id=parser_id),
        )
        channel = await self._pool.open_channel("files", "parseDocument", parameter, timeout)
        limit = self._pool.timeout_for(timeout)
        state = ParseState()
        async with _closing(channel, _CANCEL):
            while state.result is None:
                message = await channel.receive(limit)
                if message is None:
                    return state.channel_closed()
                for progress in state.feed(message):
                    await run_async_callback(on_progress, progress)
        return state.result

    @checked_arguments
    async def retrieve(
        self,
        query: str,
        files: Sequence[FilePart],
        *,
        embedding_model: AsyncEmbeddingModel | str | None = None,
        limit: int | None = None,
        chunk_size: int | None = None,
        chunk_overlap: int | None = None,
        on_progress: AsyncCallback[RetrievalProgress] | None = None,
        timeout: Timeout = NOT_GIVEN,
    ) -> list[RetrievalEntry]:
        """The chunks of ``files`` most similar to ``query``, best first.

        The server parses each file, cuts it into chunks of ``chunk_size`` tokens of the
        embedding model (``chunk_overlap`` of them shared with the previous chunk; LM Studio's
        defaults are 512 and 100, and a ``chunk_size`` alone overlaps by a fifth of it), embeds
        them with ``embedding_model`` (a handle or an instance identifier; None: the loaded
        embedding model) and answers the ``limit`` best (default 5) with their score and source
        file. ``on_progress`` receives a ``RetrievalProgress`` at each step of each file and of
        the search. ``timeout`` bounds each wait for the next packet; leaving early stops the
        retrieval.
        """
        if not isinstance(query, str):
            raise LMStudioValueError(f"query must be a string, not {type(query).__name__}")
        if isinstance(files, str | bytes) or not isinstance(files, Sequence):
            raise LMStudioValueError(
                f"files must be a list of file handles, not {type(files).__name__}"
            )
        handles = [_check_file(f, f"files[{i}]") for i, f in enumerate(files)]
        if not handles:
            raise LMStudioValueError("files is empty: pass the uploaded files to search")
        if embedding_model is not None and not isinstance(
            embedding_model, AsyncEmbeddingModel | str
        ):
            raise LMStudioValueError(
                "embedding_model must be an embedding model handle, an identifier or None, "
                f"not {type(embedding_model).__name__}"
            )
        if limit is not None:
            _check_count("limit", limit, 1)
        chunking = _chunking(chunk_size, chunk_overlap)
        check_async_callback(on_progress, "on_progress")
        # The keys in the order the TypeScript SDK sends them.
        fields: dict[str, Any] = {}
        if chunking is not None:
            fields["retrieval.chunkingMethod"] = chunking
        if isinstance(embedding_model, AsyncEmbeddingModel):
            info = embedding_model.info or await embedding_model.get_info(timeout=timeout)
            fields["retrieval.embeddingModel"] = info.identifier
        elif embedding_model is not None:
            fields["retrieval.embeddingModel"] = embedding_model
        if limit is not None:
            fields["retrieval.limit"] = limit
        parameter = RetrieveCreationParameter(
            query=query,
            file_identifiers=[f.identifier for f in handles],
            config=KVConfig(fields=[KVConfigField(key=k, value=v) for k, v in fields.items()]),
        )
        channel = await self._pool.open_channel("files", "retrieve", parameter, timeout)
        wait = self._pool.timeout_for(timeout)
        state = RetrieveState(handles)
        async with _closing(channel, _STOP):
            while state.entries is None:
                message = await channel.receive(wait)
                if message is None:
                    return state.channel_closed()
                for event in state.feed(message):
                    await run_async_callback(on_progress, event)
        return state.entries


class _closing:
    """Leaving a channel's loop: on an error (timeout, cancellation, a raising callback) send
    ``stop_packet`` unless the server already ended the channel; in any case stop listening."""

    def __init__(self, channel: AsyncChannel, stop_packet: dict[str, str]) -> None:
        self._channel = channel
        self._stop = stop_packet

    async def __aenter__(self) -> None:
        return None

    async def __aexit__(self, kind: object, error: object, traceback: object) -> None:
        if kind is not None and not self._channel.finished:
            self._channel.send(self._stop)
        self._channel.abandon()


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
