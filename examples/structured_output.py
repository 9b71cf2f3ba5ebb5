"""Ask for JSON that follows a schema, and read it back parsed.

python examples/structured_output.py [HOST] [MODEL]
"""

from __future__ import annotations

import sys
from typing import Any

import lmstudio_sdk as lms

PERSON: dict[str, Any] = {
    "type": "object",
    "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
    "required": ["name", "age"],
}


def main(host: str | None, model_key: str | None) -> None:
    with lms.Client(host) as client:
        model = client.llm.model(model_key)
        try:
            result = model.respond(
                "Invent a person.",
                # Greedy decoding: with SmolLM2 under llama-cpp-python 0.3.36, sampled output
                # occasionally escaped the JSON grammar (about 1 in 30 at temperature 0.8).
                config={
                    "structured": {"type": "json", "jsonSchema": PERSON},
                    "max_tokens": 80,
                    "temperature": 0,
                },
            )
        except lms.LMStudioServerError as exc:
            print(f"the server refused: {exc}")
            return
        try:
            print(result.parsed)
        except lms.StructuredOutputError as exc:  # e.g. max_tokens cut the JSON off
            print(f"no complete JSON ({exc.stop_reason}): {exc.raw_text!r}")


def arguments() -> tuple[str | None, str | None]:
    """HOST and MODEL from the command line; None lets the SDK choose."""
    args = sys.argv[1:3]
    return (args[0] if args else None, args[1] if len(args) > 1 else None)


if __name__ == "__main__":
    main(*arguments())
