"""Attach a file to a chat, then answer from a document through embeddings (retrieval).

    python examples/files_and_retrieval.py [HOST] [MODEL] [EMBEDDING_MODEL]

HOST defaults to discovery on this machine; MODEL to any loaded LLM, EMBEDDING_MODEL to any
loaded embedding model.
"""

from __future__ import annotations

import math
import sys
import tempfile
from pathlib import Path

import lmstudio_sdk as lms

HANDBOOK = [
    "Backups run every night at 02:00 and are kept for thirty days.",
    "The office is closed on public holidays; the helpdesk answers e-mail only.",
    "New laptops are ordered through the IT portal and arrive within a week.",
    "Passwords must be changed every ninety days and never reused.",
]


def cosine(a: list[float], b: list[float]) -> float:
    dot = math.fsum(x * y for x, y in zip(a, b, strict=True))
    return dot / math.sqrt(math.fsum(x * x for x in a) * math.fsum(y * y for y in b))


def main(host: str | None, model_key: str | None, embedding_key: str | None) -> None:
    with lms.Client(host) as client:
        model = client.llm.model(model_key)

        # 1. A file attached to a message: uploaded once, the chat refers to it.
        with tempfile.TemporaryDirectory() as folder:
            notes = Path(folder) / "handbook.txt"
            notes.write_text("\n".join(HANDBOOK), encoding="utf-8")
            part = client.files.prepare_file(notes)
        print(f"uploaded {part.name}: {part.size_bytes} bytes, {part.file_type}")
        chat = lms.Chat("Answer from the attached handbook, in one sentence.")
        chat.add_user_message("When do backups run?", files=[part])
        print("[with the file]", model.respond(chat, config={"max_tokens": 48}).content)

        # 2. Retrieval: embed the paragraphs once, pick the two closest to the question, and
        #    give the model only those.
        embedder = client.embedding.model(embedding_key)
        question = "How long are backups kept?"
        query, *vectors = embedder.embed([question, *HANDBOOK])  # sent at once
        ranked = sorted(zip(HANDBOOK, vectors, strict=True), key=lambda p: -cosine(query, p[1]))
        context = "\n".join(paragraph for paragraph, _ in ranked[:2])
        print(f"[retrieved] {ranked[0][0]}")
        # Get-or-load again: a model loaded just in time may have been evicted by the next one
        # (LM Studio keeps one just-in-time model loaded by default).
        model = client.llm.model(model_key)
        reply = model.respond(
            [
                {"role": "system", "content": f"Answer from this context only:\n{context}"},
                {"role": "user", "content": question},
            ],
            config={"max_tokens": 48},
        )
        print("[with retrieval]", reply.content)


def arguments() -> tuple[str | None, str | None, str | None]:
    """HOST, MODEL and EMBEDDING_MODEL from the command line; None lets the SDK choose."""
    args = sys.argv[1:4]
    return (
        args[0] if args else None,
        args[1] if len(args) > 1 else None,
        args[2] if len(args) > 2 else None,
    )


if __name__ == "__main__":
    main(*arguments())
