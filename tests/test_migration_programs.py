"""Typical programs written for the official Python SDK, run with only the import changed.

Each program takes the SDK module as ``lms`` (``import lmstudio as lms`` or ``import
lmstudio_sdk as lms``) and returns what it observed; both modules run it against the same
embedded server (scripted engine), and the observations must be equal. Only the harness knows
which module it runs (to point and reset each one's default client); the programs never do.
Where the two differ on purpose (docs/migration.md), a test says so and checks both sides.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

import lmstudio_sdk

from .conftest import RunningServer

lmstudio = pytest.importorskip("lmstudio")
pydantic = pytest.importorskip("pydantic")
official_sync_api = pytest.importorskip("lmstudio.sync_api")

ECHO = "scripted-echo-1b"
VISION = "scripted-vision-1b"
EMBED = "scripted-embed-small"
# A 1x1 PNG.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
    "0000000d49444154789c6360000002000001e221bc330000000049454e44ae426082"
)

Program = Callable[[ModuleType, str], Any]


def _reset(lms: ModuleType) -> None:
    if lms is lmstudio_sdk:
        lmstudio_sdk.reset_default_client()
    else:
        official_sync_api._reset_default_client()


@pytest.fixture
def host(server: RunningServer) -> Iterator[str]:
    for module in (lmstudio_sdk, lmstudio):
        _reset(module)
    yield f"127.0.0.1:{server.port}"
    for module in (lmstudio_sdk, lmstudio):
        _reset(module)


def run_both(program: Program, host: str) -> Any:
    """The program's observations with the official SDK and with ours: they must be equal."""
    official = program(lmstudio, host)
    ours = program(lmstudio_sdk, host)
    assert ours == official
    return ours


# -- the programs (official-SDK code; `lms` is whichever module is imported as lms) -----------
# The official Chat has no public list of its messages; both keep them in `_messages`.


def chat_program(lms: Any, host: str) -> Any:
    lms.configure_default_client(host)
    model = lms.llm(ECHO)
    chat = lms.Chat("You are a terse assistant.")
    chat.add_user_message("What is the capital of France?")
    result = model.respond(chat)
    chat.add_assistant_response(result)
    chat.add_user_message("And of Spain?")
    second = model.respond(chat, config={"temperature": 0.0, "maxTokens": 50})
    info = result.model_info
    return (
        result.content,
        second.content,
        result.stats.stop_reason,
        result.stats.predicted_tokens_count > 0,
        info.model_key,
        info.type,
        info.display_name,
        len(chat._messages),
    )


def stream_program(lms: Any, host: str) -> Any:
    lms.configure_default_client(host)
    model = lms.llm(ECHO)
    stream = model.respond_stream("!long 12")
    pieces = [fragment.content for fragment in stream]
    result = stream.result()
    return "".join(pieces) == result.content, len(pieces), stream.stats.stop_reason


def act_program(lms: Any, host: str) -> Any:
    def multiply(a: float, b: float) -> float:
        """Multiply two numbers."""
        return a * b

    lms.configure_default_client(host)
    model = lms.llm(ECHO)
    chat = lms.Chat("You use tools.")
    chat.add_user_message('!tool multiply {"a": 6, "b": 7}')
    seen: list[str] = []

    def on_message(message: Any) -> None:
        seen.append(message.role)
        chat.append(message)

    result = model.act(chat, [multiply], on_message=on_message)
    roles = [m.role for m in chat._messages]
    return result.rounds, seen, roles


def act_with_chat_append_program(lms: Any, host: str) -> Any:
    """The official docs' idiom: on_message=chat.append."""

    def add(a: int, b: int) -> int:
        """Add two numbers."""
        return a + b

    lms.configure_default_client(host)
    chat = lms.Chat()
    chat.add_user_message('!tool add {"a": 2, "b": 3}')
    lms.llm(ECHO).act(chat, [add], on_message=chat.append)
    messages = chat._messages
    return [m.role for m in messages], str(messages[-1].content[0].text)


def tool_function_def_program(lms: Any, host: str) -> Any:
    def shout(text: str) -> str:
        return text.upper()

    tool = lms.ToolFunctionDef(
        name="shout",
        description="Shout a text",
        parameters={"text": str},
        implementation=shout,
    )
    lms.configure_default_client(host)
    result = lms.llm(ECHO).act('!tool shout {"text": "hey"}', [tool])
    return result.rounds


SCHEMA = {
    "type": "object",
    "properties": {"title": {"type": "string"}, "pages": {"type": "integer"}},
    "required": ["title", "pages"],
}


def schema_program(lms: Any, host: str) -> Any:
    lms.configure_default_client(host)
    result = lms.llm(ECHO).respond('!say {"title": "Dune", "pages": 412}', response_format=SCHEMA)
    return result.parsed, result.content


class Book(pydantic.BaseModel):  # type: ignore[name-defined,misc]
    title: str
    pages: int


def pydantic_program(lms: Any, host: str) -> Any:
    lms.configure_default_client(host)
    result = lms.llm(ECHO).respond('!say {"title": "Dune", "pages": 412}', response_format=Book)
    return result.parsed


def base_model_program(lms: Any, host: str) -> Any:
    """The official docs' structured output: a class of lms.BaseModel, read as a dict."""

    class BookSchema(lms.BaseModel):  # type: ignore[misc]
        title: str
        pages: int

    lms.configure_default_client(host)
    result = lms.llm(ECHO).respond(
        '!say {"title": "Dune", "pages": 412}', response_format=BookSchema
    )
    book = result.parsed
    return book["title"], book.get("pages"), "title" in book, sorted(book.keys()), result.content


def embed_program(lms: Any, host: str) -> Any:
    lms.configure_default_client(host)
    model = lms.embedding_model(EMBED)
    one = model.embed("A cat sat on the mat.")
    many = model.embed(["A cat sat on the mat.", "Taxes are due."])
    return [round(x, 6) for x in one], len(many), model.count_tokens("hello world")


def list_program(lms: Any, host: str) -> Any:
    lms.configure_default_client(host)
    lms.embedding_model(EMBED)
    loaded = sorted((m.identifier, type(m).__name__) for m in lms.list_loaded_models())
    downloaded = sorted((m.model_key, m.type) for m in lms.list_downloaded_models())
    llms = sorted(m.model_key for m in lms.list_downloaded_models("llm"))
    return loaded, downloaded, llms


def image_program(lms: Any, host: str, path: Path) -> Any:
    lms.configure_default_client(host)
    image = lms.prepare_image(path)
    chat = lms.Chat()
    chat.add_user_message("Describe this image.", images=[image])
    result = lms.llm(VISION).respond(chat)
    return image.name, image.file_type, image.size_bytes, result.content


def client_program(lms: Any, host: str) -> Any:
    with lms.Client(host) as client:
        model = client.llm.load_new_instance(ECHO, "migration-instance", ttl=60)
        try:
            info = client.llm.get_model_info("migration-instance")
            handles = [h.identifier for h in client.llm.list_loaded()]
            context = model.get_context_length()
            tokens = model.tokenize("hello world")
        finally:
            client.llm.unload("migration-instance")
        return info.identifier, info.type, "migration-instance" in handles, context, tokens


def error_program(lms: Any, host: str) -> Any:
    lms.configure_default_client(host)
    caught = []
    try:
        lms.llm("no-such-model")
    except lms.LMStudioServerError as exc:
        caught.append(f"no model: {'no-such-model' in str(exc)}")
    try:
        lms.llm(ECHO).respond("!error")
    except lms.LMStudioServerError as exc:
        caught.append(f"failed: {isinstance(exc, lms.LMStudioError)}")
    try:
        lms.configure_default_client(host)
    except lms.LMStudioClientError:
        caught.append("already created")
    return caught


async def async_program(lms: Any, host: str) -> Any:
    async with lms.AsyncClient(host) as client:
        model = await client.llm.model(ECHO)
        result = await model.respond("hello")
        stream = await model.respond_stream("!long 5")
        pieces = [fragment.content async for fragment in stream]
        waited = await model.respond("!long 5")
        loaded = await client.list_loaded_models("llm")
        return result.content, "".join(pieces) == waited.content, [m.identifier for m in loaded]


# -- the tests -----------------------------------------------------------------------------------


def test_chat_and_respond(host: str) -> None:
    content, second, stop, produced, key, kind, _name, messages = run_both(chat_program, host)
    assert content == "You said: What is the capital of France?"
    assert second == "You said: And of Spain?"
    assert (stop, produced, key, kind, messages) == ("eosFound", True, ECHO, "llm", 4)


def test_respond_stream_loop(host: str) -> None:
    assert run_both(stream_program, host) == (True, 12, "eosFound")


def test_act_with_a_plain_function_tool(host: str) -> None:
    rounds, seen, roles = run_both(act_program, host)
    assert rounds == 2
    assert seen == ["assistant", "tool", "assistant"]
    assert roles == ["system", "user", "assistant", "tool", "assistant"]


def test_act_with_on_message_chat_append_appends_each_message_once(host: str) -> None:
    roles, last = run_both(act_with_chat_append_program, host)
    assert roles == ["user", "assistant", "tool", "assistant"]
    assert last == "Tool result: 5"


def test_act_with_a_tool_function_def(host: str) -> None:
    assert run_both(tool_function_def_program, host) == 2


def test_response_format_json_schema(host: str) -> None:
    parsed, _content = run_both(schema_program, host)
    assert parsed == {"title": "Dune", "pages": 412}


def test_response_format_pydantic_model_parsed_is_an_instance_here(host: str) -> None:
    """The one listed behaviour difference of structured output: ``parsed`` is a dict there,
    an instance of the model here (docs/migration.md)."""
    assert pydantic_program(lmstudio, host) == {"title": "Dune", "pages": 412}
    assert pydantic_program(lmstudio_sdk, host) == Book(title="Dune", pages=412)


def test_response_format_base_model_reads_like_the_official_dict(host: str) -> None:
    title, pages, has_title, keys, _content = run_both(base_model_program, host)
    assert (title, pages, has_title, keys) == ("Dune", 412, True, ["pages", "title"])


def test_embedding_model_embed(host: str) -> None:
    vector, count, tokens = run_both(embed_program, host)
    assert len(vector) > 8 and count == 2 and tokens == 2


def test_list_loaded_and_downloaded_models(host: str) -> None:
    loaded, downloaded, llms = run_both(list_program, host)
    assert (EMBED, "EmbeddingModel") in loaded
    assert (EMBED, "embedding") in downloaded and ECHO in llms


def test_prepare_image_and_an_image_message(host: str, tmp_path: Path) -> None:
    path = tmp_path / "dot.png"
    path.write_bytes(PNG)
    name, file_type, size, content = run_both(lambda lms, h: image_program(lms, h, path), host)
    assert (name, file_type, size) == ("dot.png", "image", len(PNG))
    assert "Describe this image." in content


def test_client_load_new_instance_and_model_info(host: str) -> None:
    identifier, kind, listed, context, tokens = run_both(client_program, host)
    assert (identifier, kind, listed) == ("migration-instance", "llm", True)
    assert context > 0 and len(tokens) == 2


def test_exceptions_by_their_official_names(host: str) -> None:
    assert run_both(error_program, host) == ["no model: True", "failed: True", "already created"]


def test_an_unknown_model_is_an_lmstudio_model_not_found_error_here(host: str) -> None:
    """The official SDK raises a plain LMStudioServerError for a model it cannot find; ours
    raises its subclass ModelNotFoundError (= LMStudioModelNotFoundError)."""
    lmstudio_sdk.configure_default_client(host)
    with pytest.raises(lmstudio_sdk.LMStudioModelNotFoundError):
        lmstudio_sdk.llm("no-such-model")


def test_a_failed_prediction_is_an_lmstudio_prediction_error_here(host: str) -> None:
    """The official SDK raises a plain LMStudioServerError for an error the server ends a
    prediction with; ours raises its subclass LMStudioPredictionError (the official name)."""
    lmstudio_sdk.configure_default_client(host)
    with pytest.raises(lmstudio_sdk.LMStudioPredictionError, match="failed on purpose"):
        lmstudio_sdk.llm(ECHO).respond("!error")


def test_async_stream_cancel_and_wait_for_result(host: str) -> None:
    async def program() -> tuple[str, bool]:
        async with lmstudio_sdk.AsyncClient(host) as client:
            model = await client.llm.model(ECHO)
            stream = model.respond_stream("!long 400")
            await stream.start()
            assert stream.stats is None and stream.model_info is None
            async for _ in stream:
                await stream.cancel()  # the official SDK's async cancel() is awaited
            result = await stream.wait_for_result()
            assert stream.stats is not None and stream.model_info is not None
            return result.stats.stop_reason, stream.stats == result.stats

    assert asyncio.run(program()) == ("userStopped", True)


def test_async_client_program(host: str) -> None:
    official = asyncio.run(async_program(lmstudio, host))
    ours = asyncio.run(async_program(lmstudio_sdk, host))
    assert ours == official
    assert ours[0] == "You said: hello" and ours[1] is True and ECHO in ours[2]


# -- the default client: lazy, shared by threads, replaceable, resettable ------------------------


def test_the_default_client_is_made_once_for_threads_that_race(host: str) -> None:
    lmstudio_sdk.configure_default_client(host)
    barrier = threading.Barrier(8)
    clients: list[lmstudio_sdk.Client] = []

    def use() -> None:
        barrier.wait()
        clients.append(lmstudio_sdk.get_default_client())

    threads = [threading.Thread(target=use) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert len(clients) == 8 and all(c is clients[0] for c in clients)
    assert clients[0].api_host == host


def test_set_and_reset_default_client_close_the_old_one(host: str) -> None:
    lmstudio_sdk.configure_default_client(host)
    first = lmstudio_sdk.get_default_client()
    assert lmstudio_sdk.llm(ECHO).respond("hi").content == "You said: hi"
    mine = lmstudio_sdk.Client(host)
    lmstudio_sdk.set_default_client(mine)
    assert lmstudio_sdk.get_default_client() is mine
    with pytest.raises(lmstudio_sdk.LMStudioClientClosedError):
        first.llm.list_loaded()
    assert [m.identifier for m in lmstudio_sdk.list_loaded_models("llm")]
    with pytest.raises(lmstudio_sdk.LMStudioClientError, match="reset_default_client"):
        lmstudio_sdk.configure_default_client(host)
    lmstudio_sdk.reset_default_client()
    with pytest.raises(lmstudio_sdk.LMStudioClientClosedError):
        mine.llm.list_loaded()
    lmstudio_sdk.configure_default_client(host)
    fresh = lmstudio_sdk.get_default_client()
    assert fresh is not mine and fresh is not first
    assert lmstudio_sdk.embedding_model(EMBED).embed("hi")


def test_sync_api_timeout_is_the_default_clients_timeout() -> None:
    """A server that accepts the connection and never answers: the default client gives up
    after the sync API timeout, not the 60 s default."""
    assert lmstudio_sdk.get_sync_api_timeout() == 60
    silent = socket.create_server(("127.0.0.1", 0))
    lmstudio_sdk.set_sync_api_timeout(0.3)
    try:
        lmstudio_sdk.configure_default_client(f"127.0.0.1:{silent.getsockname()[1]}")
        assert lmstudio_sdk.get_sync_api_timeout() == 0.3
        started = time.monotonic()
        with pytest.raises(lmstudio_sdk.LMStudioTimeoutError):
            lmstudio_sdk.list_loaded_models()
        assert time.monotonic() - started < 10
    finally:
        lmstudio_sdk.set_sync_api_timeout(60)
        lmstudio_sdk.reset_default_client()
        silent.close()


def test_convenience_api_misuse_is_refused(host: str) -> None:
    with pytest.raises(lmstudio_sdk.LMStudioValueError, match="api_host"):
        lmstudio_sdk.configure_default_client(1234)  # type: ignore[arg-type]
    with pytest.raises(lmstudio_sdk.LMStudioValueError, match="set_default_client"):
        lmstudio_sdk.set_default_client("127.0.0.1:1234")  # type: ignore[arg-type]
    with pytest.raises(lmstudio_sdk.LMStudioValueError):
        lmstudio_sdk.set_sync_api_timeout(-1)
    with pytest.raises(lmstudio_sdk.LMStudioValueError, match="namespace"):
        lmstudio_sdk.configure_default_client(host)
        lmstudio_sdk.list_loaded_models("vision")
