"""Retrieval with a real embedding model: MiniLM through llama.cpp, behind the embedded server.

The queries share almost no words with the documents, so ranking them right takes the
embeddings' meaning, not word overlap.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

import lmstudio_sdk as lms
from lmstudio_sdk.server import ServerThread
from tests.documents_kit import ASTRONOMY, BAKING

pytestmark = pytest.mark.llama

MINILM = "text-embedding-all-minilm-l6-v2"


@pytest.fixture(scope="module")
def llama_url(models_dir: Path) -> Iterator[str]:
    from lmstudio_sdk.server.engines.llama import LlamaEngine

    with ServerThread(engine_factory=lambda: LlamaEngine(models_dir, n_threads=1), port=0) as h:
        yield h.url


@pytest.fixture
async def client(llama_url: str) -> AsyncIterator[lms.AsyncClient]:
    async with lms.AsyncClient(llama_url, timeout=120) as client:
        yield client


async def test_the_querys_topic_ranks_first(client: lms.AsyncClient) -> None:
    embedder = await client.embedding.model(MINILM)
    bread = await client.files.prepare_file(BAKING.encode(), name="bread.txt")
    planets = await client.files.prepare_file(ASTRONOMY.encode(), name="planets.txt")
    for query, expected in (
        ("How do I make a loaf at home?", bread),
        ("Which celestial body is surrounded by rings?", planets),
    ):
        entries = await client.files.retrieve(
            query, [bread, planets], embedding_model=embedder, chunk_size=32, chunk_overlap=4
        )
        assert entries[0].source == expected, [(e.source.name, e.score) for e in entries]
        assert entries[0].score > entries[-1].score
        assert len(entries) == 5 and len({e.content for e in entries}) == 5


async def test_default_chunks_of_a_long_document_fit_the_model(client: lms.AsyncClient) -> None:
    # ~1,500 tokens: the default chunk size (512) is cut to what MiniLM's 512-token context
    # holds with its markers, and every chunk embeds.
    long_text = "\n\n".join(f"Section {i}.\n{BAKING}\n{ASTRONOMY}" for i in range(10))
    document = await client.files.prepare_file(long_text.encode(), name="long.md")
    embedder = await client.embedding.model(MINILM)
    events: list[lms.RetrievalProgress] = []
    entries = await client.files.retrieve(
        "rings of Saturn",
        [document],
        embedding_model=embedder,
        limit=20,
        on_progress=events.append,
    )
    assert 3 <= len(entries) < 20  # every chunk, none over the context
    assert all(entry.content in long_text for entry in entries)
    assert all(isinstance(entry.line_number, tuple) for entry in entries)
    for entry in entries:
        assert len(await embedder.tokenize(entry.content)) <= 512
    embedding = [e.progress for e in events if e.stage == "embedding"]
    assert embedding[0] == 0 and embedding[-1] == 1
