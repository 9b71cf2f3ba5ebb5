"""/files: uploads (the bytes go to the file store, owned by the caller's identity), document
parsing (``services/documents.py``) and retrieval (``services/retrieval.py``).

Every handle a call names must be one of the caller's own uploads. ``getLocalFileAbsolutePath``
answers the real path of the upload in the server's private temporary folder: it is readable
only by the server's user (folder 0700, file 0600) and deleted with the identity's last socket.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from ..._protocol.packets import files as wire
from ..._protocol.packets.shared import (
    GetDocumentParsingLibraryResult,
    GetLocalFileAbsolutePathResult,
    ProgressPacket,
)
from ..errors import ServerError
from ..services import retrieval
from ..services.documents import ParsedDocument, parse_document, parser_for
from ..services.files import StoredFile
from ..services.models import Instance
from .context import CallContext, ChannelContext, ChannelEndpoint, NamespaceTable, RpcEndpoint

__all__ = ["TABLE"]

T = TypeVar("T")

PARSE = "/files/parseDocument"
RETRIEVE = "/files/retrieve"
# Progress packets of one step are sent at most this often (and always at its end).
PROGRESS_INTERVAL = 0.1


async def upload_file_base64(
    ctx: CallContext, p: wire.UploadFileBase64Parameter
) -> wire.UploadFileBase64Result:
    # Refuse an oversized upload before decoding it (4 base64 characters per 3 bytes).
    ctx.files.check_size(max(0, len(p.content_base64) * 3 // 4 - 2))
    try:
        data = base64.b64decode(p.content_base64, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ServerError(f"contentBase64 is not valid base64: {exc}") from exc
    stored = ctx.files.add(ctx.client_identifier, p.name, data)
    return wire.UploadFileBase64Result(
        identifier=stored.identifier, file_type=stored.file_type, size_bytes=len(data)
    )


async def get_local_file_absolute_path(
    ctx: CallContext, p: wire.GetLocalFileAbsolutePathParameter
) -> GetLocalFileAbsolutePathResult:
    stored = ctx.files.get(p.file_name, ctx.client_identifier)
    return GetLocalFileAbsolutePathResult(path=str(stored.path.resolve()))


async def get_document_parsing_library(
    ctx: CallContext, p: wire.GetDocumentParsingLibraryParameter
) -> GetDocumentParsingLibraryResult:
    stored = ctx.files.get(p.file_identifier, ctx.client_identifier)
    return parser_for(stored, "/files/getDocumentParsingLibrary")


async def _unless_stopped(ctx: ChannelContext, work: Coroutine[Any, Any, T], what: str) -> T:
    """Run work; the client's cancel (or stop) packet cancels it and fails the channel."""
    task = asyncio.ensure_future(work)
    stop_wait = asyncio.ensure_future(ctx.cancelled.wait())
    try:
        await asyncio.wait({task, stop_wait}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stop_wait.cancel()
        if not task.done():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
    if task.cancelled():
        raise ServerError(f"{what} was stopped", cause="The client asked to stop it.")
    return task.result()


def _throttled(send: Callable[[float], None]) -> Callable[[float], None]:
    """``send`` callable from any thread, at most every PROGRESS_INTERVAL seconds (and at 1)."""
    loop = asyncio.get_running_loop()
    loop_thread = threading.get_ident()
    last = [-PROGRESS_INTERVAL]

    def report(value: float) -> None:
        now = loop.time()
        if value < 1 and now - last[0] < PROGRESS_INTERVAL:
            return
        last[0] = now
        if threading.get_ident() == loop_thread:
            send(value)
        else:
            loop.call_soon_threadsafe(send, value)

    return report


async def _parse(
    stored: StoredFile,
    endpoint: str,
    on_progress: Callable[[float], None],
    requested: GetDocumentParsingLibraryResult | None = None,
) -> ParsedDocument:
    data = await asyncio.to_thread(stored.path.read_bytes)
    return await asyncio.to_thread(
        parse_document, stored, data, endpoint, requested=requested, on_progress=on_progress
    )


async def parse_document_channel(
    ctx: ChannelContext, p: wire.ParseDocumentCreationParameter
) -> None:
    stored = ctx.files.get(p.file_identifier, ctx.client_identifier)
    parser = parser_for(stored, PARSE)
    requested = p.parse_opts.parser_id
    ctx.send(wire.ParseDocumentParserLoadedPacket(parser=parser))
    progress = _throttled(lambda value: ctx.send(ProgressPacket(progress=value)))
    document = await _unless_stopped(
        ctx, _parse(stored, PARSE, progress, requested), f'Parsing "{stored.name}"'
    )
    ctx.send(wire.ParseDocumentResultPacket(content=document.content, parser=document.parser))


async def _index_file(
    ctx: ChannelContext,
    index: int,
    stored: StoredFile,
    instance: Instance,
    chunking: retrieval.ChunkingMethod,
) -> retrieval.IndexedFile:
    """Load, chunk and embed one file, reporting each step."""

    def step_progress(step: str) -> Callable[[float], None]:
        return _throttled(
            lambda value: ctx.send(
                wire.RetrieveOnFileProcessingStepProgressPacket(
                    index=index, step=step, progress=value
                )
            )
        )

    ctx.send(wire.RetrieveOnFileProcessingStartPacket(index=index))
    ctx.send(wire.RetrieveOnFileProcessingStepStartPacket(index=index, step="loading"))
    document = await _parse(stored, RETRIEVE, step_progress("loading"))
    ctx.send(wire.RetrieveOnFileProcessingStepEndPacket(index=index, step="loading"))
    ctx.send(wire.RetrieveOnFileProcessingStepStartPacket(index=index, step="chunking"))
    chunks = await retrieval.chunk_document(instance, document, chunking)
    step_progress("chunking")(1.0)
    ctx.send(wire.RetrieveOnFileProcessingStepEndPacket(index=index, step="chunking"))
    ctx.send(wire.RetrieveOnFileProcessingStepStartPacket(index=index, step="embedding"))
    vectors = await retrieval.embed_all(
        ctx.models, instance, [c.content for c in chunks], step_progress("embedding")
    )
    ctx.send(wire.RetrieveOnFileProcessingStepEndPacket(index=index, step="embedding"))
    ctx.send(wire.RetrieveOnFileProcessingEndPacket(index=index))
    return retrieval.IndexedFile(tuple(chunks), tuple(vectors))


async def _retrieve(ctx: ChannelContext, p: wire.RetrieveCreationParameter) -> None:
    request = retrieval.read_config(p.config)
    # Every handle must be the caller's and parseable before any work starts.
    stored = [ctx.files.get(identifier, ctx.client_identifier) for identifier in p.file_identifiers]
    for one in stored:
        parser_for(one, RETRIEVE)
    instance = retrieval.embedding_instance(ctx.models, request.embedding_model)
    keys = [ctx.retrieval.key(one, instance, request.chunking) for one in stored]
    indexed: dict[int, retrieval.IndexedFile] = {}
    for index, key in enumerate(keys):
        cached = ctx.retrieval.get(key)
        if cached is not None:
            indexed[index] = cached
    to_process = [index for index in range(len(stored)) if index not in indexed]
    ctx.send(wire.RetrieveOnFileProcessListPacket(indices=to_process))
    for index in to_process:
        if index in indexed:
            continue  # the same file twice in one request
        done = await _index_file(ctx, index, stored[index], instance, request.chunking)
        ctx.retrieval.put(keys[index], done)
        for other, key in enumerate(keys):
            if key == keys[index]:
                indexed[other] = done
    ctx.send(wire.RetrieveOnSearchingStartPacket())
    [query] = await retrieval.embed_all(ctx.models, instance, [p.query])
    # Pure Python over every chunk: in a thread, so the other sockets are served meanwhile.
    ranked = [indexed[i] for i in range(len(stored))]
    entries = await asyncio.to_thread(retrieval.rank, query, ranked, request.limit)
    ctx.send(wire.RetrieveOnSearchingEndPacket())
    ctx.send(wire.RetrieveResultPacket(result=wire.RetrieveResultPacketResult(entries=entries)))


async def retrieve_channel(ctx: ChannelContext, p: wire.RetrieveCreationParameter) -> None:
    await _unless_stopped(ctx, _retrieve(ctx, p), "Retrieval")


TABLE = NamespaceTable(
    "/files",
    rpcs={
        "uploadFileBase64": RpcEndpoint(upload_file_base64),
        "getLocalFileAbsolutePath": RpcEndpoint(get_local_file_absolute_path),
        "getDocumentParsingLibrary": RpcEndpoint(get_document_parsing_library),
    },
    channels={
        "parseDocument": ChannelEndpoint(parse_document_channel),
        "retrieve": ChannelEndpoint(retrieve_channel),
    },
)
