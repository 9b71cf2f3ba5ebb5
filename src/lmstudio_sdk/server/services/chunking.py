"""LM Studio's ``recursive-v1`` chunking: a document cut into overlapping chunks of at most
``chunk_size`` tokens of the embedding model.

The text is split at the coarsest separator that makes every piece fit (paragraphs, then
lines, then sentences, then words, then characters), each piece keeping its separator, so the
pieces are exact slices of the text; neighbouring pieces are then merged into chunks of up to
``chunk_size`` tokens, and each chunk starts with the last pieces of the one before, up to
``chunk_overlap`` tokens. Every chunk is a slice of the text without the whitespace around it
(``start``/``end`` offsets), so its lines and pages can be told.
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

__all__ = ["Chunk", "chunk_text", "line_span", "page_span"]

SEPARATORS = ("\n\n", "\n", ". ", " ")

Count = Callable[[str], Awaitable[int]]


@dataclass(frozen=True, slots=True)
class Chunk:
    start: int  # offset of the chunk's first character in the text
    end: int  # offset after its last character
    tokens: int


@dataclass(frozen=True, slots=True)
class _Piece:
    start: int
    end: int
    tokens: int


async def _pieces(
    text: str, start: int, end: int, size: int, level: int, count: Count
) -> list[_Piece]:
    tokens = await count(text[start:end])
    if tokens <= size or end - start <= 1:
        return [_Piece(start, end, tokens)]
    if level < len(SEPARATORS):
        separator = SEPARATORS[level]
        cuts = [start]
        position = text.find(separator, start, end)
        while position != -1:
            cut = position + len(separator)
            if start < cut < end:
                cuts.append(cut)
            position = text.find(separator, cut, end)
        cuts.append(end)
        if len(cuts) == 2:  # the separator does not occur: try the next one
            return await _pieces(text, start, end, size, level + 1, count)
    else:  # characters: halve until each part fits
        middle = (start + end) // 2
        cuts = [start, middle, end]
    out: list[_Piece] = []
    for left, right in itertools.pairwise(cuts):
        out.extend(await _pieces(text, left, right, size, level + 1, count))
    return out


async def chunk_text(text: str, chunk_size: int, chunk_overlap: int, count: Count) -> list[Chunk]:
    """Chunks of ``text`` (none for blank text); ``count`` is the embedding model's token count
    of a string. Requires ``0 <= chunk_overlap < chunk_size``."""
    if not text.strip():
        return []
    pieces = await _pieces(text, 0, len(text), chunk_size, 0, count)
    chunks: list[Chunk] = []
    window: list[_Piece] = []
    total = 0
    for piece in pieces:
        if window and total + piece.tokens > chunk_size:
            chunks.append(Chunk(window[0].start, window[-1].end, total))
            # Keep the tail of this chunk (at most chunk_overlap tokens) to start the next.
            while window and (total > chunk_overlap or total + piece.tokens > chunk_size):
                total -= window.pop(0).tokens
        window.append(piece)
        total += piece.tokens
    if window:
        chunks.append(Chunk(window[0].start, window[-1].end, total))
    # Each chunk without its surrounding whitespace (blank lines at a cut); whitespace-only
    # chunks say nothing and would only dilute the search.
    out: list[Chunk] = []
    for chunk in chunks:
        body = text[chunk.start : chunk.end]
        stripped = body.strip()
        if stripped:
            start = chunk.start + (len(body) - len(body.lstrip()))
            out.append(Chunk(start, start + len(stripped), chunk.tokens))
    return out


def line_span(text: str, chunk: Chunk) -> tuple[int, int]:
    """The first and last line (1-based) of a chunk."""
    first = text.count("\n", 0, chunk.start) + 1
    return first, first + text.count("\n", chunk.start, chunk.end)


def page_span(page_starts: tuple[int, ...], chunk: Chunk) -> tuple[int, int]:
    """The first and last page (1-based) a chunk of a paged document covers."""
    first = bisect.bisect_right(page_starts, chunk.start)
    last = bisect.bisect_right(page_starts, max(chunk.start, chunk.end - 1))
    return max(first, 1), max(last, 1)
