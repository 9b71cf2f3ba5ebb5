"""A program written for the official `lmstudio` SDK, with only its import changed.

    python examples/from_lmstudio.py [HOST] [MODEL] [QUESTION]

HOST ("host:port") defaults to discovery on this machine; MODEL to any loaded LLM. Everything
below is the official SDK's API (docs/migration.md): the module-level default client, `Chat`,
`act()` with a plain function tool and `on_message=chat.append`, and its exception names.
"""

from __future__ import annotations

import sys

import lmstudio_sdk as lms  # was: import lmstudio as lms


def multiply(a: float, b: float) -> float:
    """Multiply two numbers."""
    return a * b


def main(host: str | None, model_key: str | None, question: str) -> None:
    if host is not None:
        lms.configure_default_client(host)
    model = lms.llm(model_key)
    chat = lms.Chat("You answer with the help of your tools.")
    chat.add_user_message(question)
    result = model.act(chat, [multiply], on_message=chat.append)
    print(f"{result.rounds} rounds; the chat now has {len(chat.messages)} messages")
    print(result.content)
    try:
        lms.llm("no-such-model-anywhere")
    except lms.LMStudioModelNotFoundError:
        print("no-such-model-anywhere: not found, as expected")
    for loaded in lms.list_loaded_models("llm"):
        print(f"loaded: {loaded.identifier}")


if __name__ == "__main__":
    args = sys.argv[1:4]
    main(
        args[0] if args else None,
        args[1] if len(args) > 1 else None,
        args[2] if len(args) > 2 else "What is 6 times 7?",
    )
