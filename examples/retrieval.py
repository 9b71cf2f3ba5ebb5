"""Answer a question from two documents: upload them, retrieve the most relevant chunks, and
give those to the model as context.

python examples/retrieval.py [HOST] [LLM] [EMBEDDING_MODEL]
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import lmstudio_sdk as lms

DOCUMENTS = {
    "bread.md": (
        "# Baking bread\n\n"
        "Mix flour, water, salt and yeast, and knead the dough for ten minutes.\n"
        "Let it rise for an hour in a warm place.\n\n"
        "Bake the loaf at 230 degrees for thirty minutes, until the crust is brown.\n"
    ),
    "planets.md": (
        "# Watching the planets\n\n"
        "Jupiter and Saturn are bright in the night sky; a small telescope shows Saturn's "
        "rings.\n\n"
        "Mars looks red because of iron oxide dust on its surface.\n"
    ),
}
QUESTION = "How many minutes and degrees to bake the loaf?"


def lines(span: int | tuple[int, int] | None) -> str:
    if span is None:
        return ""
    return f"line {span}" if isinstance(span, int) else f"lines {span[0]}-{span[1]}"


def main(host: str | None, llm_key: str | None, embedding_key: str | None) -> None:
    with lms.Client(host) as client, tempfile.TemporaryDirectory() as folder:
        files = []
        for name, text in DOCUMENTS.items():
            path = Path(folder) / name
            path.write_text(text)
            files.append(client.files.prepare_file(path))

        embedder = client.embedding.model(embedding_key)
        entries = client.files.retrieve(
            QUESTION, files, embedding_model=embedder, limit=2, chunk_size=24, chunk_overlap=4
        )
        for entry in entries:
            print(f"{entry.score:+.3f}  {entry.source.name} {lines(entry.line_number)}")

        context = "\n\n".join(f"[{e.source.name}]\n{e.content.strip()}" for e in entries)
        model = client.llm.model(llm_key)
        answer = model.respond(
            f"Answer from these excerpts only.\n\n{context}\n\nQuestion: {QUESTION}",
            config={"temperature": 0, "max_tokens": 120},
        )
        print(answer.content)


def arguments() -> tuple[str | None, str | None, str | None]:
    """HOST, LLM and EMBEDDING_MODEL from the command line; None lets the SDK choose."""
    args = [*sys.argv[1:4], None, None, None]
    return (args[0], args[1], args[2])


if __name__ == "__main__":
    main(*arguments())
