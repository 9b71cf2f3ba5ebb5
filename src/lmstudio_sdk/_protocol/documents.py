"""Document parsing and retrieval (``/files parseDocument`` and ``retrieve``): what the client
returns, and each channel as a pure state machine.

Packets decode with the channel's ``to_client`` union from the packet vocabulary; an unknown
packet type is logged once and ignored, as for downloads.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

import msgspec
from msgspec import Raw

from .._exceptions import RemoteProtocolError
from .packets import ENDPOINTS
from .packets.files import (
    ParseDocumentParserLoadedPacket,
    ParseDocumentResultPacket,
    RetrieveOnFileProcessingStepEndPacket,
    RetrieveOnFileProcessingStepProgressPacket,
    RetrieveOnFileProcessingStepStartPacket,
    RetrieveOnSearchingEndPacket,
    RetrieveOnSearchingStartPacket,
    RetrieveResultPacket,
)
from .packets.shared import FilePart, GetDocumentParsingLibraryResult, ProgressPacket

__all__ = [
    "DocumentParser",
    "ParseState",
    "ParsedDocument",
    "RetrievalEntry",
    "RetrievalProgress",
    "RetrieveState",
]

logger = logging.getLogger("lmstudio_sdk.protocol")


@dataclass(frozen=True, slots=True)
class DocumentParser:
    """A document parsing library and its version (e.g. ``pypdf`` 5.1.0)."""

    library: str
    version: str


@dataclass(frozen=True, slots=True)
class ParsedDocument:
    """The text of a document, and the parser that produced it."""

    content: str
    parser: DocumentParser


@dataclass(frozen=True, slots=True)
class RetrievalEntry:
    """One retrieved chunk: its text, its similarity to the query (higher is closer), the file
    it comes from, and, when the server says, the lines or pages it spans (a number, or a
    ``(first, last)`` pair)."""

    content: str
    score: float
    source: FilePart
    line_number: int | tuple[int, int] | None = None
    page_number: int | tuple[int, int] | None = None


@dataclass(frozen=True, slots=True)
class RetrievalProgress:
    """Where a retrieval is: a file's ``loading``, ``chunking`` or ``embedding`` step (with
    ``file``), or ``searching`` (``file`` None); ``progress`` runs from 0 to 1 in each."""

    stage: str
    progress: float
    file: FilePart | None = None


def parser_of(wire: GetDocumentParsingLibraryResult) -> DocumentParser:
    return DocumentParser(library=wire.library, version=wire.version)


class _Decoder:
    def __init__(self, endpoint: str, known: Sequence[str], what: str) -> None:
        self._decoder: Any = msgspec.json.Decoder(ENDPOINTS["files", endpoint].to_client)
        self._known = set(known)
        self._what = what
        self._unknown_seen: set[str] = set()

    def decode(self, message: Raw) -> Any:
        """The packet, or None for an unknown packet type (logged once)."""
        try:
            return self._decoder.decode(message)
        except msgspec.ValidationError as exc:
            loose = msgspec.json.decode(message)
            kind = loose.get("type") if isinstance(loose, dict) else None
            if isinstance(kind, str) and kind not in self._known:
                if kind not in self._unknown_seen:
                    self._unknown_seen.add(kind)
                    logger.info("ignoring an unknown %s packet type %r", self._what, kind)
                return None
            raise RemoteProtocolError(
                f"LM Studio sent an invalid {self._what} packet: {exc}"
            ) from exc


class ParseState:
    """Feed ``parseDocument`` packets; ``feed()`` returns progress values (0 to 1) to report,
    ``result`` is set at the end."""

    def __init__(self) -> None:
        self._decoder = _Decoder("parseDocument", ("parserLoaded", "progress", "result"), "parse")
        self.parser: DocumentParser | None = None
        self.result: ParsedDocument | None = None

    def feed(self, message: Raw) -> list[float]:
        packet = self._decoder.decode(message)
        if isinstance(packet, ParseDocumentParserLoadedPacket):
            self.parser = parser_of(packet.parser)
        elif isinstance(packet, ProgressPacket):
            return [float(packet.progress)]
        elif isinstance(packet, ParseDocumentResultPacket):
            self.result = ParsedDocument(packet.content, parser_of(packet.parser))
        return []

    def channel_closed(self) -> ParsedDocument:
        if self.result is None:
            raise RemoteProtocolError("LM Studio closed the parseDocument channel without a result")
        return self.result


_RETRIEVE_TYPES: Final = (
    "onFileProcessList",
    "onFileProcessingStart",
    "onFileProcessingEnd",
    "onFileProcessingStepStart",
    "onFileProcessingStepProgress",
    "onFileProcessingStepEnd",
    "onSearchingStart",
    "onSearchingEnd",
    "result",
)


def _span(value: int | tuple[int, int] | None) -> int | tuple[int, int] | None:
    if value is None or isinstance(value, int):
        return value
    first, last = value
    return (int(first), int(last))


class RetrieveState:
    """Feed ``retrieve`` packets for the request's ``files``; ``feed()`` returns progress events,
    ``entries`` is set at the end."""

    def __init__(self, files: Sequence[FilePart]) -> None:
        self._files = list(files)
        self._decoder = _Decoder("retrieve", _RETRIEVE_TYPES, "retrieve")
        self.entries: list[RetrievalEntry] | None = None

    def _file(self, index: int) -> FilePart:
        if not 0 <= index < len(self._files):
            raise RemoteProtocolError(
                f"LM Studio named file {index} of a retrieval over {len(self._files)} files"
            )
        return self._files[index]

    def feed(self, message: Raw) -> list[RetrievalProgress]:
        packet = self._decoder.decode(message)
        if isinstance(packet, RetrieveOnFileProcessingStepStartPacket):
            return [RetrievalProgress(packet.step, 0.0, self._file(packet.index))]
        if isinstance(packet, RetrieveOnFileProcessingStepProgressPacket):
            progress = float(packet.progress)
            return [RetrievalProgress(packet.step, progress, self._file(packet.index))]
        if isinstance(packet, RetrieveOnFileProcessingStepEndPacket):
            return [RetrievalProgress(packet.step, 1.0, self._file(packet.index))]
        if isinstance(packet, RetrieveOnSearchingStartPacket):
            return [RetrievalProgress("searching", 0.0)]
        if isinstance(packet, RetrieveOnSearchingEndPacket):
            return [RetrievalProgress("searching", 1.0)]
        if isinstance(packet, RetrieveResultPacket):
            self.entries = [
                RetrievalEntry(
                    content=entry.content,
                    score=float(entry.score),
                    source=self._file(entry.source_index),
                    line_number=_span(entry.line_number),
                    page_number=_span(entry.page_number),
                )
                for entry in packet.result.entries
            ]
        return []  # the process list and file start/end say nothing the steps do not

    def channel_closed(self) -> list[RetrievalEntry]:
        if self.entries is None:
            raise RemoteProtocolError("LM Studio closed the retrieve channel without a result")
        return self.entries
