"""Stream a chat reply, then print the stats (sync face).

    python examples/chat_stream.py [HOST] [MODEL]

HOST defaults to discovery on this machine; MODEL to any loaded LLM.
"""

from __future__ import annotations

import sys

import lmstudio_sdk as lms


def main(host: str | None, model_key: str | None) -> None:
    with lms.Client(host) as client:
        model = client.llm.model(model_key)
        stream = model.respond_stream(
            [
                {"role": "system", "content": "You answer in one sentence."},
                {"role": "user", "content": "What is a local LLM?"},
            ],
            config={"temperature": 0.3, "max_tokens": 64},
        )
        for fragment in stream:
            print(fragment.content, end="", flush=True)
        result = stream.result()
        print(f"\n[{result.stats.stop_reason}, {result.stats.predicted_tokens_count} tokens]")


def arguments() -> tuple[str | None, str | None]:
    """HOST and MODEL from the command line; None lets the SDK choose."""
    args = sys.argv[1:3]
    return (args[0] if args else None, args[1] if len(args) > 1 else None)


if __name__ == "__main__":
    main(*arguments())
