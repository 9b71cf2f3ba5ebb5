"""Ask for JSON that follows a type, read it back as that type, and watch it stream in.

python examples/structured_output.py [HOST] [MODEL]

``response_format=`` takes a msgspec Struct (below), a pydantic model (if pydantic is
installed), a dataclass, a TypedDict or a JSON schema dict; ``result.parsed`` is then an
instance of that type (mypy sees it), and ``stream.partial()`` yields the object as it grows.
"""

from __future__ import annotations

import json
import sys

import msgspec

import lmstudio_sdk as lms


class Person(msgspec.Struct):
    name: str
    age: int


# Greedy decoding and room for the whole object: a reply cut off by max_tokens is not JSON.
CONFIG: lms.LlmPredictionConfigDict = {"max_tokens": 80, "temperature": 0}


def main(host: str | None, model_key: str | None) -> None:
    with lms.Client(host) as client:
        model = client.llm.model(model_key)
        try:
            result = model.respond("Invent a person.", response_format=Person, config=CONFIG)
        except lms.LMStudioServerError as exc:
            print(f"the server refused: {exc}")
            return
        try:
            person = result.parsed  # a Person
        except lms.StructuredOutputError as exc:  # cut off, or not a valid Person
            print(f"no valid {exc.target} ({exc.stop_reason}): {exc.raw_text!r}")
            return
        print("msgspec:", json.dumps(msgspec.to_builtins(person)))
        print("pydantic:", with_pydantic(model))
        stream = model.respond_stream("Invent a person.", response_format=Person, config=CONFIG)
        snapshots = list(stream.partial())  # dicts growing as the JSON streams in
        print(f"partial: {len(snapshots)} snapshots, the last {json.dumps(snapshots[-1])}")


def with_pydantic(model: lms.LLM) -> str:
    """The same with a pydantic model; pydantic is optional for the SDK."""
    try:
        import pydantic
    except ImportError:
        return "not installed"

    class PersonModel(pydantic.BaseModel):
        name: str
        age: int

    result = model.respond("Invent a person.", response_format=PersonModel, config=CONFIG)
    try:
        return result.parsed.model_dump_json()  # a PersonModel
    except lms.StructuredOutputError as exc:
        return f"no valid {exc.target}: {exc.raw_text!r}"


def arguments() -> tuple[str | None, str | None]:
    """HOST and MODEL from the command line; None lets the SDK choose."""
    args = sys.argv[1:3]
    return (args[0] if args else None, args[1] if len(args) > 1 else None)


if __name__ == "__main__":
    main(*arguments())
