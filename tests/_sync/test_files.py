# GENERATED from tests/_async/test_files.py by scripts/unasync.py. Do not edit: edit the source.
"""client.files: parse_document, get_document_parsing_library, get_local_file_absolute_path and
retrieve against the embedded server (scripted engine: hashed bag-of-words embeddings, so texts
sharing words rank close). Written once for the async face; ``scripts/unasync.py`` generates
the sync twin.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import lmstudio_sdk as lms
from tests.conftest import RunningServer
from tests.documents_kit import (
    ASTRONOMY,
    BAKING,
    BREAD_QUERY,
    HTML_PAGE,
    HTML_TEXT,
    PLANET_QUERY,
    PYPDF_MISSING,
    make_pdf,
)

EMBED = "scripted-embed-small"


@pytest.fixture
def client(server: RunningServer) -> Iterator[lms.Client]:
    with lms.Client(server.url, timeout=10) as client:
        yield client


def test_parse_document_text_html_and_pdf(client: lms.Client) -> None:
    text = client.files.prepare_file(BAKING.encode(), name="bread.txt")
    progress: list[float] = []
    parsed = client.files.parse_document(text, on_progress=progress.append)
    assert parsed.content == BAKING
    assert parsed.parser == client.files.get_document_parsing_library(text)
    assert parsed.parser.library == "lmstudio-sdk"
    assert progress and progress[-1] == 1

    page = client.files.prepare_file(HTML_PAGE.encode(), name="page.html")
    parser = client.files.get_document_parsing_library(page)
    assert parser.library == "html.parser"
    parsed = client.files.parse_document(page, parser=parser)
    assert parsed.content == HTML_TEXT and parsed.parser == parser

    if not PYPDF_MISSING:
        pdf = client.files.prepare_file(make_pdf(["One", "Two"]), name="doc.pdf")
        parsed = client.files.parse_document(pdf)
        assert (parsed.content, parsed.parser.library) == ("One\n\nTwo", "pypdf")


def test_parse_document_refusals_are_typed(client: lms.Client) -> None:
    image = client.files.prepare_image(b"\x89PNG\r\n\x1a\n" + b"\0" * 16, name="dot.png")
    with pytest.raises(lms.NotSupportedByServerError, match="image"):
        client.files.parse_document(image)
    text = client.files.prepare_file(b"hello", name="a.txt")
    with pytest.raises(lms.LMStudioServerError, match="not available"):
        client.files.parse_document(text, parser=lms.DocumentParser("docling", "1"))
    with pytest.raises(lms.LMStudioValueError, match="prepare_file"):
        client.files.parse_document("a.txt")  # type: ignore[arg-type]


def _read(path: str) -> str:
    return Path(path).read_text()


def test_local_file_absolute_path(client: lms.Client) -> None:
    part = client.files.prepare_file(BAKING.encode(), name="bread.txt")
    path = client.files.get_local_file_absolute_path(part)
    assert Path(path).is_absolute()
    assert _read(path) == BAKING  # the server runs on this machine


def test_retrieve_ranks_the_querys_topic_first(client: lms.Client) -> None:
    embedder = client.embedding.model(EMBED)
    bread = client.files.prepare_file(BAKING.encode(), name="bread.txt")
    planets = client.files.prepare_file(ASTRONOMY.encode(), name="planets.md")
    events: list[lms.RetrievalProgress] = []
    entries = client.files.retrieve(
        BREAD_QUERY,
        [bread, planets],
        embedding_model=embedder,
        limit=3,
        chunk_size=24,
        chunk_overlap=4,
        on_progress=events.append,
    )
    assert len(entries) == 3
    assert entries[0].source == bread
    assert entries[0].content in BAKING
    assert entries[0].line_number is not None
    assert [e.score for e in entries] == sorted((e.score for e in entries), reverse=True)
    stages = {(e.stage, e.file.name if e.file else None) for e in events}
    for name in ("bread.txt", "planets.md"):
        assert {("loading", name), ("chunking", name), ("embedding", name)} <= stages
    assert events[-1] == lms.RetrievalProgress("searching", 1.0)

    # The same files by identifier of the model, the other topic.
    entries = client.files.retrieve(
        PLANET_QUERY, [bread, planets], embedding_model=EMBED, chunk_size=24
    )
    assert entries[0].source == planets
    assert len(entries) == 5  # the default limit


def test_retrieve_refuses_misuse(client: lms.Client) -> None:
    bread = client.files.prepare_file(BAKING.encode(), name="bread.txt")
    for kwargs, fragment in (
        ({"limit": 0}, "limit must be at least 1"),
        ({"limit": True}, "limit must be an integer"),
        ({"chunk_size": 10, "chunk_overlap": 10}, "smaller than chunk_size"),
        ({"chunk_overlap": -1}, "chunk_overlap must be at least 0"),
        ({"embedding_model": 3}, "embedding_model must be"),
    ):
        with pytest.raises(lms.LMStudioValueError, match=fragment):
            client.files.retrieve("q", [bread], **kwargs)
    with pytest.raises(lms.LMStudioValueError, match="files is empty"):
        client.files.retrieve("q", [])
    with pytest.raises(lms.LMStudioValueError, match="files must be a list"):
        client.files.retrieve("q", bread)  # type: ignore[arg-type]
    with pytest.raises(lms.ModelNotFoundError):
        client.files.retrieve("q", [bread], embedding_model="no-such-embedder")


def test_leaving_a_retrieval_early_stops_it(client: lms.Client) -> None:
    client.embedding.model(EMBED)
    bread = client.files.prepare_file(BAKING.encode(), name="bread.txt")

    def fail(event: lms.RetrievalProgress) -> None:
        raise RuntimeError(f"stop at {event.stage}")

    with pytest.raises(RuntimeError, match="stop at loading"):
        client.files.retrieve("bread", [bread], embedding_model=EMBED, on_progress=fail)
    # The client and the server go on: the same retrieval, to its end.
    entries = client.files.retrieve("bread", [bread], embedding_model=EMBED)
    assert entries[0].source == bread
