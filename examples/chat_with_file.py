"""Attach a file to a chat message: upload it once, and the chat refers to it.

    python examples/chat_with_file.py [HOST] [MODEL]

HOST defaults to discovery on this machine; MODEL to any loaded LLM. For answering from
documents too large for the prompt, see examples/retrieval.py (``client.files.retrieve``).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import lmstudio_sdk as lms

HANDBOOK = """\
Backups run every night at 02:00 and are kept for thirty days.
The office is closed on public holidays; the helpdesk answers e-mail only.
"""


def main(host: str | None, model_key: str | None) -> None:
    with lms.Client(host) as client:
        with tempfile.TemporaryDirectory() as folder:
            notes = Path(folder) / "handbook.txt"
            notes.write_text(HANDBOOK, encoding="utf-8")
            part = client.files.prepare_file(notes)  # or prepare_file(data, name="x.txt")
        print(f"uploaded {part.name}: {part.size_bytes} bytes, {part.file_type}")

        chat = lms.Chat("Answer from the attached handbook, in one sentence.")
        chat.add_user_message("When do backups run?", files=[part])
        model = client.llm.model(model_key)
        result = model.respond(chat, config={"max_tokens": 48})
        print(result.content)


def arguments() -> tuple[str | None, str | None]:
    """HOST and MODEL from the command line; None lets the SDK choose."""
    args = sys.argv[1:3]
    return (args[0] if args else None, args[1] if len(args) > 1 else None)


if __name__ == "__main__":
    main(*arguments())
