"""Keep a conversation in a Chat, save it as JSON, restore it later and carry on (async face).

    python examples/chat_history.py [HOST] [MODEL] [FILE]

HOST defaults to discovery on this machine; MODEL to any loaded LLM; FILE (the saved chat) to
chat.json in a temporary directory.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from pathlib import Path

import lmstudio_sdk as lms


def save(chat: lms.Chat, path: Path) -> None:
    path.write_text(chat.to_json())


def load(path: Path) -> lms.Chat:
    return lms.Chat.from_json(path.read_text())


async def main(host: str | None, model_key: str | None, path: Path) -> None:
    async with lms.AsyncClient(host) as client:
        model = await client.llm.model(model_key)

        chat = lms.Chat("You are a helpful assistant. Answer in one sentence.")
        chat.add_user_message("Name a planet with rings.")
        chat.add_assistant_response(await model.respond(chat))
        save(chat, path)  # a small file: no need to leave the event loop
        print(f"saved {len(chat)} messages to {path}")

        restored = load(path)
        assert restored == chat
        restored.add_user_message("Name another one.")
        restored.add_assistant_response(await model.respond(restored))
        print(restored)


def arguments() -> tuple[str | None, str | None, Path]:
    """HOST, MODEL and FILE from the command line; None lets the SDK choose."""
    args = sys.argv[1:4]
    host = args[0] if args else None
    model = args[1] if len(args) > 1 else None
    path = Path(args[2]) if len(args) > 2 else Path(tempfile.mkdtemp()) / "chat.json"
    return host, model, path


if __name__ == "__main__":
    asyncio.run(main(*arguments()))
