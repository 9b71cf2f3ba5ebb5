"""``response_format=``: the user's type goes out as a JSON schema and comes back parsed, and
``partial()`` shows the JSON as it streams in; against the embedded server (scripted engine,
whose ``!say TEXT`` directive replies TEXT, so a test chooses the reply). Written once for the
async face; ``scripts/unasync.py`` generates the sync twin.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
from collections.abc import AsyncIterator
from typing import Any, TypedDict

import msgspec
import pytest

import lmstudio_sdk as lms
from tests.conftest import RunningServer

ECHO = "scripted-echo-1b"
BOOK = {"title": "Dune", "year": 1965, "tags": ["sf", "desert"]}


class BookStruct(msgspec.Struct):
    title: str
    year: int
    tags: list[str]


@dataclasses.dataclass
class BookDataclass:
    title: str
    year: int
    tags: list[str]


class BookDict(TypedDict):
    title: str
    year: int
    tags: list[str]


@pytest.fixture
async def model(server: RunningServer) -> AsyncIterator[lms.AsyncLLM]:
    async with lms.AsyncClient(server.url, timeout=10) as client:
        yield await client.llm.model(ECHO)


def say(value: object) -> str:
    return "!say " + (value if isinstance(value, str) else json.dumps(value))


def sent_schema(result: lms.PredictionResult[Any]) -> Any:
    setting = result.prediction_config.get("llm.prediction.structured")
    assert isinstance(setting, dict) and setting["type"] == "json"
    return setting["jsonSchema"]


@pytest.mark.parametrize("book_type", [BookStruct, BookDataclass])
async def test_struct_and_dataclass_come_back_as_instances(
    model: lms.AsyncLLM, book_type: type[BookStruct] | type[BookDataclass]
) -> None:
    result = await model.respond(say(BOOK), response_format=book_type)
    assert result.parsed == book_type(title="Dune", year=1965, tags=["sf", "desert"])
    assert result.structured
    schema = sent_schema(result)
    assert schema["type"] == "object"  # the root is inlined, not a bare $ref
    assert set(schema["required"]) == {"title", "year", "tags"}
    assert schema["properties"]["year"] == {"type": "integer"}


async def test_typed_dict_and_json_schema_dict_come_back_as_dicts(model: lms.AsyncLLM) -> None:
    typed = await model.respond(say(BOOK), response_format=BookDict)
    assert typed.parsed == BOOK
    schema = {"type": "object", "properties": {"title": {"type": "string"}}}
    plain = await model.respond(say(BOOK), response_format=schema)
    assert plain.parsed == BOOK
    assert sent_schema(plain) == schema
    setting = await model.respond(say(BOOK), response_format={"type": "json", "jsonSchema": schema})
    assert sent_schema(setting) == schema


async def test_pydantic_model_comes_back_as_an_instance(model: lms.AsyncLLM) -> None:
    pydantic = pytest.importorskip("pydantic")

    class Book(pydantic.BaseModel):  # type: ignore[name-defined,misc]
        title: str
        year: int
        tags: list[str]

    result = await model.respond(say(BOOK), response_format=Book)
    assert isinstance(result.parsed, Book)
    assert result.parsed.year == 1965
    assert sent_schema(result)["required"] == ["title", "year", "tags"]
    bad = await model.respond(say({"title": "Dune"}), response_format=Book)
    with pytest.raises(lms.StructuredOutputError, match="not a valid Book") as caught:
        bad.parsed  # noqa: B018
    assert isinstance(caught.value.error, pydantic.ValidationError)


async def test_the_official_sdks_base_model_works_unchanged(model: lms.AsyncLLM) -> None:
    lmstudio = pytest.importorskip("lmstudio")

    class BookSchema(lmstudio.BaseModel):  # type: ignore[name-defined,misc]  # lmstudio 1.5 docs
        title: str
        year: int

    result = await model.respond(say({"title": "Dune", "year": 1965}), response_format=BookSchema)
    assert result.parsed == BookSchema(title="Dune", year=1965)
    assert sent_schema(result)["required"] == ["title", "year"]


async def test_gbnf_grammar_comes_back_as_text(model: lms.AsyncLLM) -> None:
    grammar = 'root ::= "yes" | "no"'
    result = await model.respond(
        "!say yes", response_format={"type": "gbnf", "gbnfGrammar": grammar}
    )
    assert result.parsed == "yes"
    assert result.prediction_config.get("llm.prediction.structured") == {
        "type": "gbnf",
        "gbnfGrammar": grammar,
    }


async def test_completion_takes_response_format_too(model: lms.AsyncLLM) -> None:
    result = await model.complete(say(BOOK), response_format=BookStruct)
    assert sent_schema(result)["type"] == "object"
    stream = model.complete_stream("x", response_format=BookStruct)
    assert (await stream.result()).response_format is not None


async def test_json_that_does_not_validate_is_a_typed_error_with_the_raw_text(
    model: lms.AsyncLLM,
) -> None:
    reply = {"title": "Dune", "year": "nineteen sixty-five", "tags": []}
    result = await model.respond(say(reply), response_format=BookStruct)
    with pytest.raises(lms.StructuredOutputError, match=r"not a valid BookStruct") as caught:
        result.parsed  # noqa: B018
    error = caught.value
    assert json.loads(error.raw_text) == reply
    assert error.target == "BookStruct" and error.stop_reason == "eosFound"
    assert isinstance(error.error, msgspec.ValidationError) and "$.year" in str(error)
    cut = await model.respond(say(BOOK), response_format=BookStruct, config={"max_tokens": 4})
    with pytest.raises(lms.StructuredOutputError, match="max_tokens cut it off"):
        cut.parsed  # noqa: B018


async def test_partial_yields_the_object_as_it_streams_in(model: lms.AsyncLLM) -> None:
    stream = model.respond_stream(say(BOOK), response_format=BookStruct)
    snapshots = [snapshot async for snapshot in stream.partial()]
    assert snapshots[-1] == BOOK
    assert {} in snapshots and {"title": "Dune"} in snapshots
    assert {"title": "Dune", "year": 1965, "tags": ["sf"]} in snapshots
    assert all(a != b for a, b in itertools.pairwise(snapshots))
    result = await stream.result()
    assert result.parsed == BookStruct(title="Dune", year=1965, tags=["sf", "desert"])


async def test_partial_needs_a_json_reply(model: lms.AsyncLLM) -> None:
    with pytest.raises(lms.LMStudioValueError, match="partial\\(\\) needs a JSON reply"):
        model.respond_stream("hi").partial()
    stream = model.respond_stream(say(BOOK), config={"structured": {"type": "json"}})
    assert [s async for s in stream.partial()][-1] == BOOK


async def test_bad_response_formats_are_refused_before_anything_is_sent(
    model: lms.AsyncLLM,
) -> None:
    for bad in (42, "json", int, {"title": "x"}, {"type": "gbnf"}):
        with pytest.raises(lms.LMStudioValueError, match="response_format"):
            await model.respond("hi", response_format=bad)  # type: ignore[arg-type]
    with pytest.raises(lms.LMStudioValueError, match="both response_format= and config"):
        await model.respond(
            "hi",
            response_format=BookStruct,
            config={"structured": {"type": "json", "jsonSchema": {}}},
        )
    assert (await model.respond("hi")).content == "You said: hi"
