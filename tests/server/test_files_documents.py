"""/files parseDocument, getDocumentParsingLibrary, getLocalFileAbsolutePath and retrieve, frame
by frame, on the scripted engine (whose embeddings are hashed bags of words: texts sharing words
are close, so ranking is real but predictable)."""

from __future__ import annotations

import asyncio
import base64
import os
import stat
import sys
from pathlib import Path
from typing import Any

import pytest

from lmstudio_sdk.server import LMStudioServer, ServerRecorder

from ..documents_kit import (
    ASTRONOMY,
    BAKING,
    BREAD_QUERY,
    HTML_PAGE,
    HTML_TEXT,
    PLANET_QUERY,
    PYPDF_MISSING,
    make_pdf,
)
from .helpers import EMBED_KEY, RawClient, assert_error, connect, load

needs_pypdf = pytest.mark.skipif(PYPDF_MISSING, reason="needs pypdf (the pdf extra)")


async def upload(files: RawClient, name: str, data: bytes | str) -> str:
    raw = data.encode() if isinstance(data, str) else data
    result = await files.rpc(
        "uploadFileBase64", {"name": name, "contentBase64": base64.b64encode(raw).decode()}
    )
    identifier: str = result["identifier"]
    return identifier


async def parse(files: RawClient, identifier: str, **opts: Any) -> tuple[list[Any], Any]:
    return await files.run_channel(
        "parseDocument", {"fileIdentifier": identifier, "parseOpts": opts}
    )


def retrieval_config(**fields: Any) -> dict[str, Any]:
    return {"fields": [{"key": f"retrieval.{k}", "value": v} for k, v in fields.items()]}


async def test_parse_text_markdown_and_html(lms: LMStudioServer) -> None:
    async with connect(lms.url, "/files") as files:
        text = await upload(files, "bread.txt", BAKING)
        packets, end = await parse(files, text)
        assert end["type"] == "channelClose", end
        assert packets[0]["type"] == "parserLoaded"
        assert packets[0]["parser"]["library"] == "lmstudio-sdk"
        assert packets[-1] == {"type": "result", "content": BAKING, "parser": packets[0]["parser"]}
        assert {"type": "progress", "progress": 1} in packets

        markdown = await upload(files, "notes.md", "# Title\n\n*some* text\n")
        packets, _ = await parse(files, markdown)
        assert packets[-1]["content"] == "# Title\n\n*some* text\n"

        page = await upload(files, "page.html", HTML_PAGE)
        library = await files.rpc("getDocumentParsingLibrary", {"fileIdentifier": page})
        assert library["library"] == "html.parser"
        packets, _ = await parse(files, page, parserId=library)
        assert packets[-1]["content"] == HTML_TEXT
        assert packets[-1]["parser"] == library


@needs_pypdf
async def test_parse_pdf_page_by_page(lms: LMStudioServer) -> None:
    async with connect(lms.url, "/files") as files:
        pdf = await upload(files, "doc.pdf", make_pdf(["First page text", "Second page text"]))
        library = await files.rpc("getDocumentParsingLibrary", {"fileIdentifier": pdf})
        assert library["library"] == "pypdf" and library["version"]
        packets, end = await parse(files, pdf)
        assert end["type"] == "channelClose", end
        assert packets[-1]["content"] == "First page text\n\nSecond page text"
        assert packets[-1]["parser"] == library
        assert [p["progress"] for p in packets if p["type"] == "progress"][-1] == 1


async def test_parse_refusals_are_typed(lms: LMStudioServer) -> None:
    async with connect(lms.url, "/files") as files:
        image = await upload(files, "dot.png", b"\x89PNG\r\n\x1a\n" + b"\0" * 16)
        _, end = await parse(files, image)
        assert end["type"] == "channelError"
        assert end["error"]["errorData"]["code"] == "notSupported"
        assert "image" in end["error"]["title"] and "dot.png" in end["error"]["title"]
        error = await files.rpc_error("getDocumentParsingLibrary", {"fileIdentifier": image})
        assert "image" in error["title"]

        text = await upload(files, "a.txt", "hello")
        _, end = await parse(files, text, parserId={"library": "docling", "version": "1"})
        assert end["type"] == "channelError"
        assert '"docling" is not available' in end["error"]["title"]

        latin1 = await upload(files, "old.txt", "café".encode("latin-1"))
        _, end = await parse(files, latin1)
        assert "not UTF-8" in end["error"]["title"]

        _, end = await parse(files, "no such file")
        assert_error(end["error"])
        assert "No uploaded file" in end["error"]["title"]


async def test_pdf_without_pypdf_names_the_extra(
    lms: LMStudioServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "pypdf", None)  # import pypdf now fails
    async with connect(lms.url, "/files") as files:
        pdf = await upload(files, "doc.pdf", make_pdf(["x"]))
        _, end = await parse(files, pdf)
        assert end["error"]["errorData"]["code"] == "notSupported"
        assert "`pdf` extra" in end["error"]["title"]
        assert "lmstudio-sdk[pdf]" in end["error"]["suggestion"]


def _file_facts(path: Path) -> tuple[str, int, int] | None:
    """(text, file mode, folder mode) of a file, None when it is gone."""
    if not os.path.exists(path):
        return None
    return (
        path.read_text(),
        stat.S_IMODE(path.stat().st_mode),
        stat.S_IMODE(path.parent.stat().st_mode),
    )


async def test_local_path_is_the_stored_file_of_the_caller_only(lms: LMStudioServer) -> None:
    async with connect(lms.url, "/files", "owner", "pw") as files:
        identifier = await upload(files, "bread.txt", BAKING)
        result = await files.rpc("getLocalFileAbsolutePath", {"fileName": identifier})
        path = Path(result["path"])
        assert path.is_absolute()
        assert _file_facts(path) == (BAKING, 0o600, 0o700)
        async with connect(lms.url, "/files", "stranger", "pw") as other:
            error = await other.rpc_error("getLocalFileAbsolutePath", {"fileName": identifier})
            assert "No uploaded file" in error["title"]
            assert str(path) not in str(error)
    # The identity left: its files went with it.
    await asyncio.wait_for(ServerRecorder.of(lms).wait_open_sockets(0), 5)
    assert _file_facts(path) is None


async def _loaded_embedder(lms: LMStudioServer) -> None:
    async with connect(lms.url, "/embedding") as embedding:
        await load(embedding, EMBED_KEY)


async def test_retrieve_ranks_the_querys_topic_first(lms: LMStudioServer) -> None:
    await _loaded_embedder(lms)
    async with connect(lms.url, "/files") as files:
        bread = await upload(files, "bread.txt", BAKING)
        planets = await upload(files, "planets.md", ASTRONOMY)
        small = {"type": "recursive-v1", "chunkSize": 24, "chunkOverlap": 4}
        for query, expected in ((BREAD_QUERY, 0), (PLANET_QUERY, 1)):
            config = retrieval_config(chunkingMethod=small, limit=3, embeddingModel=EMBED_KEY)
            packets, end = await files.run_channel(
                "retrieve", {"query": query, "fileIdentifiers": [bread, planets], "config": config}
            )
            assert end["type"] == "channelClose", end
            entries = packets[-1]["result"]["entries"]
            assert len(entries) == 3
            assert entries[0]["sourceIndex"] == expected, entries
            scores = [e["score"] for e in entries]
            assert scores == sorted(scores, reverse=True) and scores[0] > 0
            source = (BAKING, ASTRONOMY)[expected]
            assert entries[0]["content"] in source
            first, last = (
                entries[0]["lineNumber"]
                if isinstance(entries[0]["lineNumber"], list)
                else [entries[0]["lineNumber"]] * 2
            )
            lines = source.splitlines()[first - 1 : last]
            assert entries[0]["content"].strip().splitlines()[0] in lines[0]


async def test_retrieve_reports_progress_and_caches_embeddings(lms: LMStudioServer) -> None:
    await _loaded_embedder(lms)
    async with connect(lms.url, "/files") as files:
        bread = await upload(files, "bread.txt", BAKING)
        planets = await upload(files, "planets.md", ASTRONOMY)
        creation = {
            "query": BREAD_QUERY,
            "fileIdentifiers": [bread, planets],
            "config": retrieval_config(),
        }
        packets, _ = await files.run_channel("retrieve", creation)
        kinds = [p["type"] for p in packets]
        assert packets[0] == {"type": "onFileProcessList", "indices": [0, 1]}
        assert kinds[-3:] == ["onSearchingStart", "onSearchingEnd", "result"]
        for index in (0, 1):
            mine = [p for p in packets if p.get("index") == index]
            assert mine[0]["type"] == "onFileProcessingStart"
            assert mine[-1]["type"] == "onFileProcessingEnd"
            steps = [
                (p["type"], p["step"])
                for p in mine
                if p["type"].endswith(("Start", "End")) and "step" in p
            ]
            assert steps == [
                (f"onFileProcessingStep{edge}", step)
                for step in ("loading", "chunking", "embedding")
                for edge in ("Start", "End")
            ]
            progress = [p["progress"] for p in mine if p["type"] == "onFileProcessingStepProgress"]
            assert progress and progress[-1] == 1
        # Default chunking (512 tokens): each short file is one chunk; limit 5 keeps both.
        entries = packets[-1]["result"]["entries"]
        assert [e["sourceIndex"] for e in entries] == [0, 1]
        assert entries[0]["content"] == BAKING.strip()

        # Again: nothing left to process, the same answer.
        again, _ = await files.run_channel("retrieve", creation)
        assert again[0] == {"type": "onFileProcessList", "indices": []}
        assert [p["type"] for p in again] == [
            "onFileProcessList",
            "onSearchingStart",
            "onSearchingEnd",
            "result",
        ]
        assert again[-1] == packets[-1]
        # Other chunking: processed anew.
        creation["config"] = retrieval_config(
            chunkingMethod={"type": "recursive-v1", "chunkSize": 30, "chunkOverlap": 0}
        )
        other, _ = await files.run_channel("retrieve", creation)
        assert other[0]["indices"] == [0, 1]
        assert len(other[-1]["result"]["entries"]) > 2


async def test_retrieve_refusals(make_server: Any) -> None:
    lms = await make_server()
    async with connect(lms.url, "/files") as files:
        bread = await upload(files, "bread.txt", BAKING)
        creation = {"query": "q", "fileIdentifiers": [bread], "config": retrieval_config()}
        _, end = await files.run_channel("retrieve", creation)
        assert "none is loaded" in end["error"]["title"]
        await _loaded_embedder(lms)
        for config, fragment in (
            (retrieval_config(limit=0), "retrieval.limit"),
            (retrieval_config(embeddingModel="nope"), "nope"),
            (
                retrieval_config(
                    chunkingMethod={"type": "recursive-v1", "chunkSize": 10, "chunkOverlap": 10}
                ),
                "chunkOverlap",
            ),
        ):
            _, end = await files.run_channel("retrieve", {**creation, "config": config})
            assert end["type"] == "channelError" and fragment in end["error"]["title"], end
        image = await upload(files, "dot.png", b"\x89PNG\r\n\x1a\n")
        _, end = await files.run_channel(
            "retrieve", {**creation, "fileIdentifiers": [bread, image]}
        )
        assert end["error"]["errorData"]["code"] == "notSupported"
        assert "image" in end["error"]["title"]


@needs_pypdf
async def test_retrieve_from_a_pdf_names_the_page(lms: LMStudioServer) -> None:
    await _loaded_embedder(lms)
    pages = ["Knead the dough and bake the bread", "Saturn has rings of ice and rock"]
    async with connect(lms.url, "/files") as files:
        pdf = await upload(files, "doc.pdf", make_pdf(pages))
        small = {"type": "recursive-v1", "chunkSize": 8, "chunkOverlap": 0}
        packets, end = await files.run_channel(
            "retrieve",
            {
                "query": "rings of Saturn",
                "fileIdentifiers": [pdf],
                "config": retrieval_config(chunkingMethod=small, limit=1),
            },
        )
        assert end["type"] == "channelClose", end
        [entry] = packets[-1]["result"]["entries"]
        assert entry["content"] == pages[1] and entry["pageNumber"] == 2


async def test_stop_ends_a_retrieval_midway(lms: LMStudioServer) -> None:
    await _loaded_embedder(lms)
    # 120,000 two-token chunks: seconds of chunking, then of embedding; the stop lands while
    # it runs (chunking returns to the event loop often enough to see it).
    big = "\n".join(f"line {i} of the long file" for i in range(20_000))
    async with connect(lms.url, "/files") as files:
        identifier = await upload(files, "long.txt", big)
        tiny = {"type": "recursive-v1", "chunkSize": 2, "chunkOverlap": 0}
        channel = await files.open_channel(
            "retrieve",
            {
                "query": "line",
                "fileIdentifiers": [identifier],
                "config": retrieval_config(chunkingMethod=tiny),
            },
        )
        await files.wait_for(lambda f: f.get("channelId") == channel and f["type"] == "channelSend")
        await files.channel_send(channel, {"type": "stop"})
        end = await files.channel_end(channel)
        assert end["type"] == "channelError", end
        assert "stopped" in end["error"]["title"]
        assert all(p["type"] != "result" for p in files.channel_packets(channel))
    assert len(lms.services.retrieval) == 0  # nothing half-done was cached
