"""Retrieval (``/files retrieve``): documents chunked, chunks embedded with a loaded embedding
model, ranked by cosine similarity to the query's embedding.

A file's chunks and their embeddings are cached per (file, owner, model instance, chunking), so
a second query over the same files embeds only the query; the cache is bounded (least recently
used entries go first) and drops a client's entries when its files are released.

Scores are cosine similarities in [-1, 1] (embeddings are L2-normalised, so the dot product),
highest first. Each entry names its source by its index in the request's file list, with the
lines (text) or pages (PDF) it spans.
"""

from __future__ import annotations

import asyncio
import collections
import heapq
import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final

from ..._protocol.packets.files import RetrieveResultPacketResultEntry
from ..._protocol.packets.shared import KVConfig, ModelQuery, QuerySpecifier
from ..engines.base import count_tokens
from ..errors import ServerError
from .chunking import Chunk, chunk_text, line_span, page_span
from .documents import ParsedDocument
from .files import StoredFile
from .models import Instance, ModelManager

__all__ = ["ChunkingMethod", "IndexedFile", "RetrievalCache", "RetrievalRequest"]

DEFAULT_LIMIT: Final = 5
DEFAULT_CHUNK_SIZE: Final = 512
DEFAULT_CHUNK_OVERLAP: Final = 100
# Chunks embedded at a time (the engine batches concurrent embeddings).
EMBED_GROUP: Final = 16
MAX_CACHED_FILES: Final = 64
MAX_CACHED_CHUNKS: Final = 50_000
CHARACTERS_PER_TOKEN: Final = 4
YIELD_EVERY: Final = 64  # token counts between two returns to the event loop

logger = logging.getLogger("lmstudio_sdk.server")


@dataclass(frozen=True, slots=True)
class ChunkingMethod:
    chunk_size: int
    chunk_overlap: int


@dataclass(frozen=True, slots=True)
class RetrievalRequest:
    """The retrieve channel's config, checked."""

    limit: int
    chunking: ChunkingMethod
    embedding_model: str  # an instance identifier, or "" for the loaded embedding model


def _config_error(key: str, value: Any, needs: str) -> ServerError:
    return ServerError(
        f"{key} is {value!r}; it must be {needs}",
        suggestion="Fix the retrieval configuration (client.files.retrieve's arguments).",
    )


def _int(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return int(value) if float(value).is_integer() else None


def read_config(config: KVConfig) -> RetrievalRequest:
    """The retrieval keys of a request's KV config (``retrieval.limit``, ``.chunkingMethod``,
    ``.embeddingModel``; ``.databaseFile`` is ignored: the index lives in memory)."""
    limit_value = config.get("retrieval.limit", DEFAULT_LIMIT)
    limit = _int(limit_value)
    if limit is None or limit < 1:
        raise _config_error("retrieval.limit", limit_value, "an integer of at least 1")
    method = config.get("retrieval.chunkingMethod")
    if method is None:
        chunking = ChunkingMethod(DEFAULT_CHUNK_SIZE, DEFAULT_CHUNK_OVERLAP)
    else:
        if not isinstance(method, dict) or method.get("type") != "recursive-v1":
            raise _config_error(
                "retrieval.chunkingMethod", method, 'of type "recursive-v1" (the only method)'
            )
        size, overlap = _int(method.get("chunkSize")), _int(method.get("chunkOverlap"))
        if size is None or overlap is None or size < 1 or not 0 <= overlap < size:
            raise _config_error(
                "retrieval.chunkingMethod",
                method,
                "a chunkSize of at least 1 and a chunkOverlap from 0 to chunkSize - 1",
            )
        chunking = ChunkingMethod(size, overlap)
    model = config.get("retrieval.embeddingModel", "")
    if not isinstance(model, str):
        raise _config_error("retrieval.embeddingModel", model, "a model identifier")
    return RetrievalRequest(limit, chunking, model.strip())


def embedding_instance(models: ModelManager, identifier: str) -> Instance:
    """The embedding model a retrieval uses: the one named, else the only (or first) loaded."""
    if identifier:
        return models.find(QuerySpecifier(query=ModelQuery(identifier=identifier)), "embedding")
    loaded = [i for i in models.loaded("embedding") if not i.unloading]
    if not loaded:
        raise ServerError(
            "Retrieval needs an embedding model, and none is loaded",
            suggestion="Load one (e.g. client.embedding.model(KEY)) and pass it as the "
            "embedding model of the retrieval.",
        )
    return loaded[0]


@dataclass(frozen=True, slots=True)
class IndexedChunk:
    content: str
    lines: tuple[int, int]
    pages: tuple[int, int] | None


@dataclass(frozen=True, slots=True)
class IndexedFile:
    chunks: tuple[IndexedChunk, ...]
    vectors: tuple[tuple[float, ...], ...]


CacheKey = tuple[str, str, str, int, int]


class RetrievalCache:
    """Indexed files, least recently used first out, bounded in files and in chunks."""

    def __init__(
        self, max_files: int = MAX_CACHED_FILES, max_chunks: int = MAX_CACHED_CHUNKS
    ) -> None:
        self._entries: collections.OrderedDict[CacheKey, IndexedFile] = collections.OrderedDict()
        self._chunks = 0
        self.max_files = max_files
        self.max_chunks = max_chunks

    @staticmethod
    def key(stored: StoredFile, instance: Instance, chunking: ChunkingMethod) -> CacheKey:
        return (
            stored.identifier,
            stored.owner,
            instance.instance_reference,
            chunking.chunk_size,
            chunking.chunk_overlap,
        )

    def get(self, key: CacheKey) -> IndexedFile | None:
        found = self._entries.get(key)
        if found is not None:
            self._entries.move_to_end(key)
        return found

    def put(self, key: CacheKey, indexed: IndexedFile) -> None:
        old = self._entries.pop(key, None)
        if old is not None:
            self._chunks -= len(old.chunks)
        self._entries[key] = indexed
        self._chunks += len(indexed.chunks)
        while len(self._entries) > 1 and (
            len(self._entries) > self.max_files or self._chunks > self.max_chunks
        ):
            _, dropped = self._entries.popitem(last=False)
            self._chunks -= len(dropped.chunks)

    def release_owner(self, owner: str) -> None:
        for key in [k for k in self._entries if k[1] == owner]:
            self._chunks -= len(self._entries.pop(key).chunks)

    def __len__(self) -> int:
        return len(self._entries)


def _token_budget(instance: Instance, chunk_size: int) -> int:
    """The chunk size the model can embed: its context less its start/end markers and a margin
    for tokens that merge differently across piece boundaries."""
    context = instance.model.context_length
    usable = context - 2 - max(2, context // 32)
    return max(1, min(chunk_size, usable))


def _estimated_tokens(piece: str) -> int:
    """About four characters a token: the count when the model cannot tokenize."""
    return -(-len(piece) // CHARACTERS_PER_TOKEN)


async def chunk_document(
    instance: Instance, document: ParsedDocument, chunking: ChunkingMethod
) -> list[IndexedChunk]:
    """Chunks by the model's tokens; by characters (CHARACTERS_PER_TOKEN a token) when the
    engine cannot tokenize (an OpenAI-compatible upstream without a tokenize endpoint)."""
    text = document.content

    async def by_tokens(piece: str) -> int:
        return await count_tokens(instance.model, piece)

    async def by_characters(piece: str) -> int:
        return _estimated_tokens(piece)

    measure = by_tokens
    try:
        await by_tokens("probe")
    except ServerError:
        logger.info("%s cannot tokenize; chunking by characters", instance.identifier)
        measure = by_characters
    counted = 0

    async def count(piece: str) -> int:
        # Counting rarely suspends (the tokenizers are synchronous): let the event loop serve
        # other sockets, and this channel's stop packet, every so often.
        nonlocal counted
        counted += 1
        if counted % YIELD_EVERY == 0:
            await asyncio.sleep(0)
        return await measure(piece)

    size = _token_budget(instance, chunking.chunk_size)
    overlap = min(chunking.chunk_overlap, size - 1)
    chunks: list[Chunk] = await chunk_text(text, size, overlap, count)
    return [
        IndexedChunk(
            content=text[c.start : c.end],
            lines=line_span(text, c),
            pages=None if document.page_starts is None else page_span(document.page_starts, c),
        )
        for c in chunks
    ]


async def embed_all(
    models: ModelManager,
    instance: Instance,
    texts: Sequence[str],
    on_progress: Callable[[float], None] | None = None,
) -> list[tuple[float, ...]]:
    """Embeddings of ``texts`` in order, a group at a time (each embedding takes a slot of the
    instance, as an ``embedString`` call does)."""

    async def one(text: str) -> tuple[float, ...]:
        async with models.use(instance, "computingEmbedding"):
            return tuple(await instance.model.embed(text))

    vectors: list[tuple[float, ...]] = []
    for first in range(0, len(texts), EMBED_GROUP):
        group = texts[first : first + EMBED_GROUP]
        vectors.extend(await asyncio.gather(*(one(t) for t in group)))
        if on_progress is not None:
            on_progress(len(vectors) / len(texts))
    return vectors


def _cosine(a: Sequence[float], b: Sequence[float]) -> float:
    norms = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    return sum(x * y for x, y in zip(a, b, strict=True)) / norms if norms else 0.0


def rank(
    query: Sequence[float], files: Sequence[IndexedFile], limit: int
) -> list[RetrieveResultPacketResultEntry]:
    """The ``limit`` chunks most similar to the query, best first, with their sources."""
    scored = (
        (_cosine(query, vector), index, chunk)
        for index, indexed in enumerate(files)
        for chunk, vector in zip(indexed.chunks, indexed.vectors, strict=True)
    )
    best = heapq.nlargest(limit, scored, key=lambda item: item[0])
    return [
        RetrieveResultPacketResultEntry(
            content=chunk.content,
            score=round(score, 6),
            source_index=index,
            line_number=chunk.lines[0] if chunk.lines[0] == chunk.lines[1] else chunk.lines,
            page_number=None
            if chunk.pages is None
            else (chunk.pages[0] if chunk.pages[0] == chunk.pages[1] else chunk.pages),
        )
        for score, index, chunk in best
    ]
