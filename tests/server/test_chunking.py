"""The recursive-v1 chunker and the retrieval cache, on their own (token counts from the scripted
engine's tokenizer: one token per word or punctuation mark)."""

from __future__ import annotations

import itertools
from types import SimpleNamespace
from typing import Any

import pytest

from lmstudio_sdk.server.engines.scripted import scripted_tokenize
from lmstudio_sdk.server.errors import ServerError
from lmstudio_sdk.server.services.chunking import Chunk, chunk_text, line_span, page_span
from lmstudio_sdk.server.services.documents import TEXT_PARSER, ParsedDocument
from lmstudio_sdk.server.services.retrieval import (
    CHARACTERS_PER_TOKEN,
    ChunkingMethod,
    IndexedChunk,
    IndexedFile,
    RetrievalCache,
    chunk_document,
)

from ..documents_kit import ASTRONOMY, BAKING


async def count(text: str) -> int:
    return len(scripted_tokenize(text))


@pytest.mark.parametrize(("size", "overlap"), [(8, 0), (12, 3), (24, 4), (40, 10), (500, 100)])
async def test_chunks_are_slices_that_fit_and_cover_the_text(size: int, overlap: int) -> None:
    text = BAKING + "\n" + ASTRONOMY
    chunks = await chunk_text(text, size, overlap, count)
    assert chunks
    for chunk in chunks:
        body = text[chunk.start : chunk.end]
        assert body == body.strip() and body
        assert await count(body) <= size
    # Every word of the text is in some chunk, in order; chunks start in order.
    covered = " ".join(text[c.start : c.end] for c in chunks)
    assert set(text.split()) <= set(covered.split())
    starts = [c.start for c in chunks]
    assert starts == sorted(starts) and len(set(starts)) == len(starts)
    if size >= 500:
        assert len(chunks) == 1


async def test_overlap_repeats_the_end_of_the_previous_chunk() -> None:
    text = " ".join(f"w{i}" for i in range(60))
    chunks = await chunk_text(text, 10, 3, count)
    for before, after in itertools.pairwise(chunks):
        assert after.start < before.end  # they share text
        shared = text[after.start : before.end]
        assert 1 <= await count(shared) <= 3
    plain = await chunk_text(text, 10, 0, count)
    assert all(a.end <= b.start for a, b in itertools.pairwise(plain))


async def test_paragraphs_are_kept_whole_when_they_fit() -> None:
    text = "one two three.\n\nfour five six.\n\nseven eight nine."
    # 5 tokens each with its separator: one paragraph per chunk, never a cut inside one.
    chunks = await chunk_text(text, 5, 0, count)
    assert [text[c.start : c.end] for c in chunks] == [
        "one two three.",
        "four five six.",
        "seven eight nine.",
    ]


async def test_a_word_longer_than_a_chunk_is_cut_by_characters() -> None:
    async def by_character(text: str) -> int:
        return len(text)

    text = "x" * 50
    chunks = await chunk_text(text, 8, 0, by_character)
    assert "".join(text[c.start : c.end] for c in chunks) == text
    assert all(c.end - c.start <= 8 for c in chunks)


async def test_blank_text_has_no_chunks() -> None:
    assert await chunk_text(" \n\n \n", 10, 2, count) == []


def test_lines_and_pages_of_a_chunk() -> None:
    text = "a\nb\nc\n\nd"
    assert line_span(text, Chunk(2, 5, 0)) == (2, 3)  # "b\nc"
    assert line_span(text, Chunk(8, 9, 0)) == (5, 5)
    starts = (0, 10, 20)
    assert page_span(starts, Chunk(0, 5, 0)) == (1, 1)
    assert page_span(starts, Chunk(8, 15, 0)) == (1, 2)
    assert page_span(starts, Chunk(25, 30, 0)) == (3, 3)


def _indexed(chunks: int) -> IndexedFile:
    return IndexedFile(
        tuple(IndexedChunk("x", (1, 1), None) for _ in range(chunks)),
        tuple((1.0,) for _ in range(chunks)),
    )


def test_the_cache_is_bounded_and_least_recently_used_goes_first() -> None:
    cache = RetrievalCache(max_files=3, max_chunks=10)
    keys = [(f"f{i}", "owner", "inst", 512, 100) for i in range(5)]
    for key in keys[:3]:
        cache.put(key, _indexed(2))
    assert cache.get(keys[0]) is not None  # now the most recently used
    cache.put(keys[3], _indexed(2))
    assert len(cache) == 3 and cache.get(keys[1]) is None
    cache.put(keys[4], _indexed(8))  # 14 chunks > 10: the oldest go until 10 are left
    assert [cache.get(k) is not None for k in keys] == [False, False, False, True, True]
    cache.put(("other", "someone", "inst", 512, 100), _indexed(1))
    cache.release_owner("owner")
    assert len(cache) == 1


class _NoTokenizer:
    """An embedding model whose engine cannot tokenize (as an OpenAI-compatible upstream
    without a tokenize endpoint)."""

    context_length = 512

    async def tokenize(self, text: str) -> list[int]:
        raise ServerError("tokenize is not supported by the upstream")


async def test_chunking_falls_back_to_characters_without_a_tokenizer() -> None:
    instance: Any = SimpleNamespace(model=_NoTokenizer(), identifier="upstream-embedder")
    document = ParsedDocument(BAKING, TEXT_PARSER)
    chunks = await chunk_document(instance, document, ChunkingMethod(20, 0))
    assert len(chunks) > 3
    assert all(len(c.content) <= 20 * CHARACTERS_PER_TOKEN for c in chunks)
    assert all(c.content in BAKING for c in chunks)
