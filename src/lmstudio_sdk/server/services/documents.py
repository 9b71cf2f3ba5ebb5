"""Text out of uploaded documents (``/files parseDocument``, and the first step of ``retrieve``).

Plain text and Markdown (and the other text files the store classifies as text: CSV, JSON, YAML,
source code, logs) are decoded as UTF-8 and kept as they are; HTML goes through the standard
library's ``html.parser``, which keeps the text and drops scripts, styles and markup; PDF goes
through ``pypdf`` (pure Python, the optional ``pdf`` extra), page by page. Anything else (images,
Word documents, unknown binaries) is refused with a typed error naming the file's type.

Each parser is named by a ``DocumentParsingLibraryIdentifier`` (library, version), which
``getDocumentParsingLibrary`` reports and every result carries: ``lmstudio-sdk`` for text and
Markdown (decoded by this server itself), ``html.parser`` with the Python version, ``pypdf`` with
its own version.
"""

from __future__ import annotations

import html.parser
import io
import pathlib
import platform
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from ..._protocol.packets.shared import GetDocumentParsingLibraryResult
from ..._version import __version__
from ..errors import ServerError, not_supported
from .files import StoredFile

__all__ = [
    "PDF_EXTRA",
    "ParsedDocument",
    "parse_document",
    "parser_for",
]

PDF_EXTRA: Final = "pdf"
_HTML_SUFFIXES = {".html", ".htm", ".xhtml"}
_TEXT_TYPES = {"text/plain", "text/other"}
# Elements whose text is not part of what a reader sees.
_HIDDEN = {"script", "style", "noscript", "template", "head", "svg"}
# Elements that end a line (or a paragraph) when the text is extracted.
_BLOCKS = {
    "p",
    "div",
    "br",
    "li",
    "ul",
    "ol",
    "tr",
    "table",
    "section",
    "article",
    "header",
    "footer",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "pre",
    "blockquote",
    "title",
    "hr",
    "dd",
    "dt",
}

TEXT_PARSER: Final = GetDocumentParsingLibraryResult(library="lmstudio-sdk", version=__version__)
HTML_PARSER: Final = GetDocumentParsingLibraryResult(
    library="html.parser", version=platform.python_version()
)


@dataclass(frozen=True, slots=True)
class ParsedDocument:
    """A document's text, the parser that made it, and where each page starts (PDF only)."""

    content: str
    parser: GetDocumentParsingLibraryResult
    page_starts: tuple[int, ...] | None = None  # offsets into content, one per page


def _endpoint_refusal(endpoint: str, stored: StoredFile) -> ServerError:
    return not_supported(
        endpoint,
        f'documents of type {stored.file_type} ("{stored.name}") cannot be parsed; this server '
        "parses plain text, Markdown, HTML and PDF",
        suggestion="Upload the document as .txt, .md, .html or .pdf.",
    )


def _pypdf(endpoint: str) -> Any:
    try:
        import pypdf
    except ImportError:
        raise not_supported(
            endpoint,
            f"parsing PDF needs the optional `{PDF_EXTRA}` extra (pypdf), which is not installed",
            suggestion=f"Install it where the server runs: pip install 'lmstudio-sdk[{PDF_EXTRA}]'",
        ) from None
    return pypdf


def _kind(stored: StoredFile) -> str | None:
    if stored.file_type == "application/pdf":
        return "pdf"
    if stored.file_type in _TEXT_TYPES:
        suffix = pathlib.PurePath(stored.name).suffix.lower()
        return "html" if suffix in _HTML_SUFFIXES else "text"
    return None


def parser_for(stored: StoredFile, endpoint: str) -> GetDocumentParsingLibraryResult:
    """The parser this server uses for ``stored``; a typed refusal when there is none."""
    kind = _kind(stored)
    if kind == "text":
        return TEXT_PARSER
    if kind == "html":
        return HTML_PARSER
    if kind == "pdf":
        pypdf = _pypdf(endpoint)
        return GetDocumentParsingLibraryResult(library="pypdf", version=str(pypdf.__version__))
    raise _endpoint_refusal(endpoint, stored)


def parse_document(
    stored: StoredFile,
    data: bytes,
    endpoint: str,
    *,
    requested: GetDocumentParsingLibraryResult | None = None,
    on_progress: Callable[[float], None] | None = None,
) -> ParsedDocument:
    """The text of an uploaded document (CPU-bound: run it in a thread for big files).

    ``requested`` is the client's ``parserId``: honoured when it names the parser this server
    uses for the file (any version), refused otherwise.
    """
    parser = parser_for(stored, endpoint)
    if requested is not None and requested.library != parser.library:
        raise ServerError(
            f'The parser "{requested.library}" is not available for "{stored.name}"',
            cause=f"This server parses {stored.file_type} files with {parser.library} "
            f"{parser.version} only.",
            suggestion="Leave the parser out to use the server's own.",
        )
    if parser.library == "pypdf":
        text, starts = _pdf_text(data, stored.name, endpoint, on_progress)
        return ParsedDocument(text, parser, starts)
    text = _decode(data, stored.name)
    if parser is HTML_PARSER:
        text = html_text(text)
    if on_progress is not None:
        on_progress(1.0)
    return ParsedDocument(text, parser)


def _decode(data: bytes, name: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ServerError(
            f'"{name}" is not UTF-8 text (byte {exc.start} is not valid UTF-8)',
            suggestion="Save the document as UTF-8 and upload it again.",
        ) from None


class _TextExtractor(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _HIDDEN:
            self._hidden += 1
        elif tag in _BLOCKS:
            self.parts.append("\n")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _HIDDEN:
            self._hidden = max(0, self._hidden - 1)
        elif tag in _BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self.parts.append(data)


def html_text(source: str) -> str:
    """The visible text of an HTML document: one line per block, runs of blank lines and of
    spaces collapsed, scripts and styles dropped."""
    extractor = _TextExtractor()
    extractor.feed(source)
    extractor.close()
    lines = [" ".join(line.split()) for line in "".join(extractor.parts).splitlines()]
    out: list[str] = []
    for line in lines:
        if line or (out and out[-1]):
            out.append(line)
    return "\n".join(out).strip()


def _pdf_text(
    data: bytes, name: str, endpoint: str, on_progress: Callable[[float], None] | None
) -> tuple[str, tuple[int, ...]]:
    pypdf = _pypdf(endpoint)
    try:
        reader = pypdf.PdfReader(io.BytesIO(data))
        pages = reader.pages
        count = len(pages)
        texts: list[str] = []
        for index, page in enumerate(pages):
            texts.append((page.extract_text() or "").strip())
            if on_progress is not None:
                on_progress((index + 1) / max(count, 1))
    except pypdf.errors.PyPdfError as exc:
        raise ServerError(
            f'"{name}" is not a readable PDF: {exc}',
            suggestion="Check that the file is a complete, unencrypted PDF.",
        ) from None
    starts: list[int] = []
    offset = 0
    for text in texts:
        starts.append(offset)
        offset += len(text) + 2  # the "\n\n" that joins pages
    return "\n\n".join(texts), tuple(starts)
