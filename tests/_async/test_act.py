"""act(), Chat and the typed prediction events against the embedded server (scripted engine).
Written once for the async face; ``scripts/unasync.py`` generates the sync twin.

The scripted engine calls tools on ``!tool NAME {json}`` lines (several lines: several calls
in one round) and answers ``Tool result: ...`` once the last message is a tool result.
"""

from __future__ import annotations

import json
import threading
from collections.abc import AsyncIterator
from typing import Any, Literal

import pytest

import lmstudio_sdk as lms
from lmstudio_sdk._protocol.packets.shared import ToolCallRequestPart
from tests.conftest import RunningServer

ECHO = "scripted-echo-1b"


@pytest.fixture
async def client(server: RunningServer) -> AsyncIterator[lms.AsyncClient]:
    async with lms.AsyncClient(server.url, timeout=10) as client:
        yield client


@lms.tool
def add(a: int, b: int = 10) -> int:
    """Add two integers.

    Args:
        a: The first.
        b: The second.
    """
    return a + b


@lms.tool
def unit_name(unit: Literal["C", "F"]) -> str:
    """The name of a temperature unit."""
    return {"C": "Celsius", "F": "Fahrenheit"}[unit]


@lms.tool
def explode(reason: str) -> str:
    """Always fails."""
    raise RuntimeError(reason)


def request_chat(*calls: str) -> lms.Chat:
    chat = lms.Chat("You use tools.")
    chat.add_user_message("\n".join(f"!tool {c}" for c in calls))
    return chat


async def test_act_runs_several_calls_of_a_round_and_appends_every_message(
    client: lms.AsyncClient,
) -> None:
    model = await client.llm.model(ECHO)
    chat = request_chat('add {"a": 1, "b": 2}', 'unit_name {"unit": "F"}', 'add {"a": 5}')
    seen: list[str] = []
    rounds: list[int] = []
    result = await model.act(
        chat,
        [add, unit_name],
        on_message=lambda message: seen.append(message.role),
        on_round_start=rounds.append,
    )
    assert result.rounds == 2 and rounds == [0, 1]
    assert [r.round_index for r in result.results] == [0, 1]
    assert result.results[0].stats.stop_reason == "toolCalls"
    assert len(result.results[0].tool_calls) == 3
    # The results go back in the order of the calls; a str is JSON-quoted, as the SDKs send it.
    assert result.content == 'Tool result: 3, "Fahrenheit", 15'
    assert seen == ["assistant", "tool", "assistant"]
    assert result.chat is chat
    assert [m.role for m in chat.messages] == ["system", "user", "assistant", "tool", "assistant"]
    tool_message = chat.messages[3]
    ids = [p.tool_call_id for p in tool_message.content if isinstance(p, lms.ToolCallResultPart)]
    assert ids == [c.id for c in result.results[0].tool_calls]


async def test_bad_arguments_and_a_raising_tool_become_errors_the_model_sees(
    client: lms.AsyncClient,
) -> None:
    model = await client.llm.model(ECHO)
    failures: list[lms.ToolCallError] = []
    outcomes: list[lms.ToolCallOutcome] = []
    result = await model.act(
        request_chat('add {"a": "one"}', 'explode {"reason": "boom"}', 'add {"a": 1, "c": 2}'),
        [add, explode],
        on_tool_call_failure=lambda error, _round: failures.append(error),
        on_tool_call_result=lambda outcome, _round: outcomes.append(outcome),
    )
    errors = [json.loads(o.result.content)["error"] for o in outcomes]
    assert "Expected `int`, got `str` - at `$.a`" in errors[0]
    assert errors[1] == "tool 'explode' raised RuntimeError: boom"
    assert "unknown field `c`" in errors[2]
    # Arguments are checked before any call starts; the raising tool fails while running.
    assert [type(f) for f in failures] == [
        lms.ToolArgumentsError,
        lms.ToolArgumentsError,
        lms.ToolCallFailedError,
    ]
    failed = next(f for f in failures if isinstance(f, lms.ToolCallFailedError))
    assert isinstance(failed.__cause__, RuntimeError) and failed.tool_name == "explode"
    assert result.content.startswith("Tool result: ")


async def test_on_tool_error_raise_raises_the_typed_error(client: lms.AsyncClient) -> None:
    model = await client.llm.model(ECHO)
    chat = request_chat('explode {"reason": "boom"}')
    with pytest.raises(lms.ToolCallFailedError) as info:
        await model.act(chat, [explode], on_tool_error="raise")
    assert isinstance(info.value.__cause__, RuntimeError)
    assert str(info.value.__cause__) == "boom"


async def test_guard_allows_overrides_and_denies(client: lms.AsyncClient) -> None:
    model = await client.llm.model(ECHO)
    asked: list[tuple[int, str]] = []

    def guard(round_index: int, request: lms.ToolCallRequest) -> lms.GuardDecision:
        asked.append((round_index, request.name))
        if request.name == "unit_name":
            return lms.GuardDecision.deny("units are secret")
        if request.arguments == {"a": 1}:
            return lms.GuardDecision.allow_with({"a": 100, "b": 1})
        return lms.GuardDecision.allow()

    result = await model.act(
        request_chat('add {"a": 1}', 'unit_name {"unit": "C"}', 'add {"a": 2, "b": 2}'),
        [add, unit_name],
        guard_tool_call=guard,
    )
    assert asked == [(0, "add"), (0, "unit_name"), (0, "add")]
    # A denial is compact JSON, as the TypeScript SDK sends it.
    assert result.content == 'Tool result: 101, {"error":"units are secret"}, 4'
    # An overridden call is in the history with the arguments it ran with (as in the TS SDK).
    asked_for = [
        part.tool_call_request.arguments
        for message in result.chat.messages
        for part in message.content
        if isinstance(part, ToolCallRequestPart)
    ]
    assert asked_for == [{"a": 100, "b": 1}, {"unit": "C"}, {"a": 2, "b": 2}]


async def test_unknown_tool_and_invalid_request_handler(client: lms.AsyncClient) -> None:
    model = await client.llm.model(ECHO)
    # The scripted engine offers only configured tools: "nosuch" fails to generate (no request).
    with pytest.raises(lms.InvalidToolRequestError):
        await model.act(request_chat("nosuch {}"), [add])
    handled: list[tuple[str, lms.ToolCallRequest | None]] = []

    def handler(error: lms.ToolCallError, request: lms.ToolCallRequest | None) -> str | None:
        handled.append((type(error).__name__, request))
        return None if request is None else "try again with integers"

    result = await model.act(request_chat("nosuch {}"), [add], handle_invalid_tool_request=handler)
    assert handled == [("InvalidToolRequestError", None)]
    assert result.rounds == 1
    handled.clear()
    result = await model.act(
        request_chat('add {"a": "x"}'), [add], handle_invalid_tool_request=handler
    )
    assert handled[0][0] == "ToolArgumentsError" and handled[0][1] is not None
    assert result.content == 'Tool result: {"error":"try again with integers"}'


async def test_round_limit_withholds_tools_on_the_last_round(client: lms.AsyncClient) -> None:
    model = await client.llm.model(ECHO)
    result = await model.act(request_chat('add {"a": 1}'), [add], max_prediction_rounds=1)
    # Without tools the scripted model echoes the directive instead of calling.
    assert result.rounds == 1
    assert result.content.startswith("You said: !tool add")


async def test_tool_call_events_and_callbacks(client: lms.AsyncClient) -> None:
    model = await client.llm.model(ECHO)
    events: list[str] = []
    fragments: list[str] = []
    await model.act(
        request_chat('add {"a": 1, "b": 2}'),
        [add],
        on_tool_call_start=lambda e, r: events.append(f"start:{r}"),
        on_tool_call_name=lambda e, r: events.append(f"name:{e.name}"),
        on_tool_call_argument_fragment=lambda e, r: fragments.append(e.content),
        on_tool_call_end=lambda e, r: events.append(f"end:{e.request.name}"),
        on_first_token=lambda r: events.append(f"first:{r}"),
        on_prediction_completed=lambda res: events.append(f"done:{res.round_index}"),
        on_round_end=lambda r: events.append(f"round_end:{r}"),
    )
    assert events[:5] == ["first:0", "start:0", "name:add", "end:add", "done:0"]
    assert json.loads("".join(fragments)) == {"a": 1, "b": 2}
    assert events[-2:] == ["done:1", "round_end:1"]
    # The stream itself yields the same typed events.
    stream = model.respond_stream(
        request_chat('add {"a": 1}'),
        config={"raw_tools": {"type": "toolArray", "tools": [add.to_llm_tool()]}},
    )
    kinds = [type(e).__name__ async for e in stream.events()]
    assert kinds[0] == "PromptProcessingProgress"
    assert kinds[2:4] == ["ToolCallGenerationStarted", "ToolCallNameReceived"]
    assert kinds[-1] == "ToolCallGenerationEnded"


async def test_the_stream_is_awaitable_and_iterable(client: lms.AsyncClient) -> None:
    model = await client.llm.model(ECHO)
    stream = await model.respond_stream("hello")
    text = "".join([f.content async for f in stream])
    assert text == "You said: hello"
    assert (await stream.result()).content == text
    async for fragment in model.respond_stream("again"):
        assert fragment.content
        break


async def test_chat_works_everywhere_a_chat_is_taken(client: lms.AsyncClient) -> None:
    model = await client.llm.model(ECHO)
    chat = lms.Chat("Be brief.")
    chat.add_user_message("hello there")
    reply = await model.respond(chat)
    assert reply.content == "You said: hello there"
    chat.add_assistant_response(reply)
    prompt = await model.apply_prompt_template(chat)
    assert "hello there" in prompt and "Be brief." in prompt
    restored = lms.Chat.from_json(chat.to_json())
    assert restored == chat
    assert (await model.respond(restored)).content == "You said: hello there"


async def test_tools_of_a_round_run_concurrently(client: lms.AsyncClient) -> None:
    model = await client.llm.model(ECHO)
    both_started = threading.Barrier(2, timeout=5)

    def wait_for_the_other(name: str) -> str:
        """Waits until the other call has started too (fails if calls run one by one)."""
        both_started.wait()
        return name

    result = await model.act(
        request_chat('wait_for_the_other {"name": "x"}', 'wait_for_the_other {"name": "y"}'),
        [wait_for_the_other],
    )
    assert result.content == 'Tool result: "x", "y"'


async def test_a_tool_timeout_stops_the_round(client: lms.AsyncClient) -> None:
    model = await client.llm.model(ECHO)
    release = threading.Event()

    def stuck() -> str:
        """Never answers in time."""
        release.wait(10)
        return "late"

    try:
        with pytest.raises(lms.LMStudioTimeoutError):
            await model.act(request_chat("stuck {}"), [stuck], tool_timeout=0.2)
    finally:
        release.set()


async def test_act_refuses_misuse(client: lms.AsyncClient) -> None:
    model = await client.llm.model(ECHO)

    def undocumented(x: int) -> int:
        return x

    with pytest.raises(lms.LMStudioValueError, match="no description"):
        await model.act("hi", [undocumented])
    with pytest.raises(lms.LMStudioValueError, match="max_prediction_rounds"):
        await model.act("hi", [add], max_prediction_rounds=0)
    with pytest.raises(lms.LMStudioValueError, match="two tools"):
        await model.act("hi", [add, add])
    with pytest.raises(lms.LMStudioValueError, match="raw_tools"):
        await model.act("hi", [add], config={"raw_tools": {"type": "none"}})
    args: dict[str, Any] = {"on_round_start": 3}
    with pytest.raises(lms.LMStudioValueError, match="on_round_start"):
        await model.act("hi", [add], **args)


async def test_stream_callbacks_and_reasoning_split(client: lms.AsyncClient) -> None:
    model = await client.llm.model(ECHO)
    firsts: list[bool] = []
    fragments: list[lms.PredictionFragment] = []
    messages: list[lms.ChatMessageData] = []
    progress: list[float] = []
    chat = lms.Chat()
    chat.add_user_message("!think about it")
    result = await model.respond(
        chat,
        on_first_token=lambda: firsts.append(True),
        on_prediction_fragment=fragments.append,
        on_message=messages.append,
        on_prompt_processing_progress=progress.append,
    )
    assert firsts == [True]
    assert "".join(f.content for f in fragments) == result.content
    assert {f.reasoning_type for f in fragments} >= {"reasoning", "none"}
    assert result.reasoning_content and result.non_reasoning_content == "You said: about it"
    assert progress[-1] == 1.0
    assert len(messages) == 1 and messages[0].role == "assistant"
    chat.append(messages[0])
    assert str(chat).splitlines()[-1] == f"assistant: {result.content}"
    with pytest.raises(lms.LMStudioValueError, match="same callback"):
        await model.respond("x", on_fragment=print, on_prediction_fragment=print)


async def test_tool_naming_shows_the_model_other_names_and_maps_calls_back(
    client: lms.AsyncClient,
) -> None:
    model = await client.llm.model(ECHO)

    def lookup(word: str) -> str:
        """Look a word up."""
        return word.upper()

    dotted = lms.tool(lookup, name="dict.lookup")
    # removeSpecial (LM Studio's default) shows the model "dict_lookup"; the call comes back
    # under the tool's own name, so act() finds the tool.
    result = await model.act(request_chat('dict_lookup {"word": "hi"}'), [dotted])
    assert result.results[0].tool_calls[0].name == "dict.lookup"
    assert result.content == 'Tool result: "HI"'
    camel = await model.act(
        request_chat('dictLookup {"word": "x"}'), [dotted], config={"tool_naming": "camelCase"}
    )
    assert camel.content == 'Tool result: "X"'
    # passThrough: the model sees "dict.lookup", so "dict_lookup" names no tool.
    with pytest.raises(lms.InvalidToolRequestError):
        await model.act(
            request_chat('dict_lookup {"word": "hi"}'),
            [dotted],
            config={"tool_naming": "passThrough"},
        )
