"""Typical user code for structured output, type-checked by ``mypy --strict`` with the rest of
the repository (pyproject's ``files``): the user's type comes back as ``result.parsed`` on both
faces, with no ``Any`` leaking (``assert_type`` fails the check otherwise). Also run by
``tests/typing/test_structured_user_code.py``, against the scripted server.
"""

from __future__ import annotations

import dataclasses
from typing import TypedDict, assert_type

import msgspec
import pydantic

import lmstudio_sdk as lms


class PydanticBook(pydantic.BaseModel):
    title: str
    year: int


class StructBook(msgspec.Struct):
    title: str
    year: int


@dataclasses.dataclass
class DataclassBook:
    title: str
    year: int


class DictBook(TypedDict):
    title: str
    year: int


def sync_user(client: lms.Client, prompt: str) -> list[str]:
    model = client.llm.model("scripted-echo-1b")
    a = model.respond(prompt, response_format=PydanticBook)
    assert_type(a, lms.PredictionResult[PydanticBook])
    b = model.respond(prompt, response_format=StructBook).parsed
    assert_type(b, StructBook)
    c = model.respond(prompt, response_format=DataclassBook).parsed
    assert_type(c, DataclassBook)
    d = model.respond(prompt, response_format=DictBook).parsed
    assert_type(d, DictBook)
    stream = model.respond_stream(prompt, response_format=StructBook)
    assert_type(stream, lms.PredictionStream[StructBook])
    for partial in stream.partial():
        assert_type(partial, lms.JsonValue)
    e = stream.result().parsed
    assert_type(e, StructBook)
    f = model.complete(prompt, response_format=DictBook).parsed
    assert_type(f, DictBook)
    schema = model.respond(prompt, response_format={"type": "object"})
    assert_type(schema, lms.PredictionResult[lms.JsonValue])
    overflow = schema.context_overflow
    assert_type(overflow, lms.ContextOverflow | None)
    if overflow is not None and overflow.prompt_was_cut:
        assert_type(overflow.full_prompt_tokens, int | None)
    return [a.parsed.title, b.title, c.title, d["title"], e.title, f["title"]]


async def async_user(client: lms.AsyncClient, prompt: str) -> list[int]:
    model = await client.llm.model("scripted-echo-1b")
    a = (await model.respond(prompt, response_format=PydanticBook)).parsed
    assert_type(a, PydanticBook)
    b = (await model.respond(prompt, response_format=StructBook)).parsed
    assert_type(b, StructBook)
    c = (await model.respond(prompt, response_format=DataclassBook)).parsed
    assert_type(c, DataclassBook)
    d = (await model.respond(prompt, response_format=DictBook)).parsed
    assert_type(d, DictBook)
    stream = model.respond_stream(prompt, response_format=DataclassBook)
    assert_type(stream, lms.AsyncPredictionStream[DataclassBook])
    async for partial in stream.partial():
        assert_type(partial, lms.JsonValue)
    e = (await stream.result()).parsed
    assert_type(e, DataclassBook)
    f = (await model.complete(prompt, response_format=PydanticBook)).parsed
    assert_type(f, PydanticBook)
    return [a.year, b.year, c.year, d["year"], e.year, f.year]
