"""Plugins end to end: a plugin process (``lmstudio-sdk plugin dev``) serving hooks on the
embedded server, used by this client. Written for the async face; the sync twin is generated.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import pytest

import lmstudio_sdk as lms
from lmstudio_sdk.server import ServerRecorder, ServerThread
from tests.plugins.harness import DEADLINE, DevPlugin, faulty, plugin_server

__all__ = ["faulty", "plugin_server"]

ECHO = "scripted-echo-1b"
FAULTY = "tests/faulty"


@pytest.fixture
async def client(plugin_server: ServerThread) -> AsyncIterator[lms.AsyncClient]:
    async with lms.AsyncClient(plugin_server.url, timeout=20) as client:
        yield client


def with_plugins(*plugins: str | tuple[str, dict[str, object]]) -> lms.LlmPredictionConfigDict:
    return {"raw": lms.plugins_field(list(plugins))}


async def test_preprocessor_reads_typed_config_and_shows_status(
    client: lms.AsyncClient, faulty: DevPlugin, plugin_server: ServerThread
) -> None:
    model = await client.llm.model(ECHO)
    config = {
        "count": 7,
        "loud": True,
        "tags": ["a", "b"],
        "mode": "long",
        "budget": {"checked": True, "value": 1.5},
    }
    result = await model.respond("hi", config=with_plugins((FAULTY, config)))
    assert result.content == (
        "You said: hi | [7, 0.5, 'abc', True, ['a', 'b'], 'long', 1.5] | "
        "['int', 'float', 'str', 'bool', 'list', 'str', 'float'] | hello"
    )
    assert (FAULTY, "done", "typed") in ServerRecorder.of(plugin_server.server).plugin_statuses


async def test_preprocessor_defaults_and_history(
    client: lms.AsyncClient, faulty: DevPlugin
) -> None:
    model = await client.llm.model(ECHO)
    result = await model.respond("hi", config=with_plugins(FAULTY))
    assert "[2, 0.5, 'abc', False, ['x'], 'short', None]" in result.content
    chat = [
        {"role": "user", "content": "one"},
        {"role": "assistant", "content": "two"},
        {"role": "user", "content": "history"},
    ]
    result = await model.respond(chat, config=with_plugins(FAULTY))
    assert result.content == "You said: history has 2 message(s)"


async def test_bad_plugin_config_is_refused_naming_the_field(
    client: lms.AsyncClient, faulty: DevPlugin
) -> None:
    model = await client.llm.model(ECHO)
    with pytest.raises(lms.LMStudioServerError, match=r"count.*above the maximum 10"):
        await model.respond("hi", config=with_plugins((FAULTY, {"count": 11})))
    with pytest.raises(lms.LMStudioServerError, match=r"unknown config field.*nope"):
        await model.respond("hi", config=with_plugins((FAULTY, {"nope": 1})))
    with pytest.raises(lms.LMStudioServerError, match='No plugin "tests/absent"'):
        await model.respond("hi", config=with_plugins("tests/absent"))


async def test_a_raising_hook_fails_the_prediction_and_the_plugin_keeps_serving(
    client: lms.AsyncClient, faulty: DevPlugin
) -> None:
    model = await client.llm.model(ECHO)
    with pytest.raises(lms.LMStudioServerError, match=r"tests/faulty.*ValueError") as info:
        await model.respond("raise", config=with_plugins(FAULTY))
    assert "the faulty plugin raised" in str(info.value)
    with pytest.raises(lms.LMStudioServerError, match=r"a typed refusal"):
        await model.respond("typed", config=with_plugins(FAULTY))
    result = await model.respond("again", config=with_plugins(FAULTY))
    assert result.content.startswith("You said: again |")


async def test_a_hanging_hook_fails_within_the_deadline(
    client: lms.AsyncClient, faulty: DevPlugin
) -> None:
    model = await client.llm.model(ECHO)
    started = time.monotonic()
    with pytest.raises(lms.LMStudioServerError, match='"tests/faulty" did not answer'):
        await model.respond("hang", config=with_plugins(FAULTY))
    assert time.monotonic() - started < DEADLINE + 5
    result = await model.respond("after", config=with_plugins(FAULTY))
    assert result.content.startswith("You said: after |")


async def test_cancelling_the_prediction_aborts_the_hook_at_once(
    client: lms.AsyncClient, faulty: DevPlugin
) -> None:
    model = await client.llm.model(ECHO)
    stream = model.respond_stream("hang", config=with_plugins(FAULTY))
    stream.cancel()  # sent right after the channel opens, while the hook hangs
    started = time.monotonic()
    result = await stream.result()
    assert result.stats.stop_reason == "userStopped"
    assert time.monotonic() - started < DEADLINE
    # A client that stops waiting cancels the generation; the plugin is told to abort.
    with pytest.raises(lms.LMStudioTimeoutError):
        await client.plugins.generator(FAULTY).respond("hang", timeout=0.3)
    result_after = await model.respond("fine", config=with_plugins(FAULTY))
    assert result_after.content.startswith("You said: fine |")


async def test_generator_streams_text_and_tool_calls(
    client: lms.AsyncClient, faulty: DevPlugin
) -> None:
    generator = client.plugins.generator(FAULTY, config={"count": 1})
    fragments = [f.content async for f in generator.respond_stream("make it loud")]
    assert fragments == ["MAKE ", "IT ", "LOUD "]
    tool = {
        "type": "function",
        "function": {"name": "add", "parameters": {"type": "object", "properties": {}}},
    }
    result = await generator.respond("tool please", tools=[tool])
    assert result.content == "TOOL PLEASE "
    assert [(c.name, c.arguments, c.id) for c in result.tool_calls] == [("add", {"a": 1}, "call-1")]
    assert result.plugin_identifier == FAULTY


async def test_generator_act_runs_the_tool_calls_it_emits(
    client: lms.AsyncClient, faulty: DevPlugin
) -> None:
    calls: list[dict[str, object]] = []

    def add(a: int, b: int = 10) -> int:
        """Add two numbers."""
        calls.append({"a": a, "b": b})
        return a + b

    rounds: list[int] = []
    completed: list[lms.GeneratorResult] = []
    ended: list[str] = []
    chat = lms.Chat()
    chat.add_user_message("use the tool")
    result = await client.plugins.generator(FAULTY).act(
        chat,
        [add],
        on_round_start=rounds.append,
        on_prediction_completed=completed.append,
        on_tool_call_end=lambda event, _round: ended.append(event.request.name),
    )
    assert calls == [{"a": 1, "b": 10}]
    assert rounds == [0, 1]
    assert ended == ["add"]
    assert result.rounds == 2
    assert [r.round_index for r in result.results] == [0, 1]
    assert [r.content for r in completed] == ["USE THE TOOL ", "the tool said 11"]
    assert result.content == "the tool said 11"
    assert result.results[0].tool_calls[0].id == "call-1"
    assert [m.role for m in chat.messages] == ["user", "assistant", "tool", "assistant"]
    # the last round of max_prediction_rounds offers no tools: the generator makes no call
    capped = await client.plugins.generator(FAULTY).act("again", [add], max_prediction_rounds=1)
    assert capped.rounds == 1 and capped.final.tool_calls == []
    assert calls == [{"a": 1, "b": 10}]
    with pytest.raises(lms.LMStudioValueError, match="at least one tool"):
        await client.plugins.generator(FAULTY).act("hi", [])
    with pytest.raises(lms.LMStudioValueError, match="max_prediction_rounds"):
        await client.plugins.generator(FAULTY).act("hi", [add], max_prediction_rounds=0)


async def test_generator_failures_are_typed_and_name_the_plugin(
    client: lms.AsyncClient, faulty: DevPlugin
) -> None:
    generator = client.plugins.generator(FAULTY)
    with pytest.raises(lms.LMStudioServerError, match=r"tests/faulty.*RuntimeError"):
        await generator.respond("raise")
    started = time.monotonic()
    with pytest.raises(lms.LMStudioServerError, match=r"did not answer its generator"):
        await generator.respond("hang")
    assert time.monotonic() - started < DEADLINE + 5
    with pytest.raises(lms.LMStudioServerError, match=r"has no generator hook|No plugin"):
        await client.plugins.generator("tests/absent").respond("hi")


async def test_generator_handle_rejects_bad_input(client: lms.AsyncClient) -> None:
    with pytest.raises(lms.LMStudioValueError, match=r"owner/name"):
        client.plugins.generator("no-slash")
    with pytest.raises(lms.LMStudioValueError, match=r"mapping"):
        client.plugins.generator(FAULTY, config=[1])  # type: ignore[arg-type]
    with pytest.raises(lms.LMStudioValueError, match=r"confg"):
        client.plugins.generator(FAULTY, confg={})  # type: ignore[arg-type]
    with pytest.raises(lms.LMStudioValueError, match=r"tool"):
        client.plugins.generator(FAULTY).respond_stream("hi", tools=[{"type": "nope"}])


async def test_tools_provider_session_over_the_wire(
    client: lms.AsyncClient, faulty: DevPlugin
) -> None:
    channel = await client.open_channel(
        "plugins",
        "startToolUseSession",
        {
            "pluginIdentifier": FAULTY,
            "pluginConfigSpecifier": {
                "type": "direct",
                "config": {"fields": [{"key": "count", "value": 4}]},
            },
        },
    )
    ready = await channel.receive_value(10)
    assert ready["type"] == "sessionReady"
    tools = {t["function"]["name"]: t["function"] for t in ready["toolDefinitions"]}
    assert set(tools) == {"add", "slow", "boom", "double"}
    assert tools["add"]["description"] == "Add two numbers (config count=4)"
    channel.send({"type": "callTool", "callId": 1, "name": "add", "arguments": {"a": 2, "b": 3}})
    status = await channel.receive_value(10)
    assert status == {"type": "toolCallStatus", "callId": 1, "statusText": "adding 2 and 3"}
    assert await channel.receive_value(10) == {"type": "toolCallComplete", "callId": 1, "result": 5}
    channel.send({"type": "callTool", "callId": 2, "name": "boom", "arguments": {}})
    error = await channel.receive_value(10)
    assert error["type"] == "toolCallError" and "KeyError" in error["error"]["title"]
    channel.send({"type": "callTool", "callId": 3, "name": "add", "arguments": {"a": 1}})
    error = await channel.receive_value(10)
    assert error["type"] == "toolCallError"
    assert "missing required argument(s): b" in error["error"]["title"]
    channel.send({"type": "callTool", "callId": 4, "name": "slow", "arguments": {"seconds": 60}})
    assert (await channel.receive_value(10))["type"] == "toolCallWarn"
    started = time.monotonic()
    error = await channel.receive_value(DEADLINE + 10)  # the server's deadline, not 60 s
    assert error["type"] == "toolCallError" and "did not answer" in error["error"]["title"]
    assert time.monotonic() - started < DEADLINE + 5
    channel.send({"type": "discardSession"})
    assert await channel.receive_value(10) is None


async def test_plugin_tools_session_calls_tools_with_reports_and_errors(
    client: lms.AsyncClient, faulty: DevPlugin
) -> None:
    statuses: list[str] = []
    warnings: list[str] = []
    async with client.plugins.plugin_tools(FAULTY, config={"count": 9}) as session:
        assert sorted(session.names) == ["add", "boom", "double", "slow"]
        described = {d.function.name: d.function.description for d in session.definitions}
        assert described["add"] == "Add two numbers (config count=9)"
        assert await session.call("add", {"a": 1, "b": 2}, on_status=statuses.append) == 3
        assert statuses == ["adding 1 and 2"]
        with pytest.raises(lms.LMStudioServerError, match="KeyError"):
            await session.call("boom")
        with pytest.raises(lms.LMStudioTimeoutError):
            await session.call("slow", {"seconds": 30}, on_warn=warnings.append, timeout=0.5)
        assert warnings == ["this takes a while"]
        assert await session.call("add", {"a": 2, "b": 2}) == 4  # usable after an abort
        with pytest.raises(lms.LMStudioValueError, match="no tool 'nope'"):
            await session.call("nope")
    with pytest.raises(lms.LMStudioServerError, match=r"count.*above the maximum"):
        async with client.plugins.plugin_tools(FAULTY, config={"count": 99}):
            pass
    with pytest.raises(lms.LMStudioValueError, match="working_directory"):
        client.plugins.plugin_tools(FAULTY, working_directory=3)  # type: ignore[arg-type]


async def test_plugin_tools_run_in_act(client: lms.AsyncClient, faulty: DevPlugin) -> None:
    model = await client.llm.model(ECHO)
    async with client.plugins.plugin_tools(FAULTY) as session:
        result = await model.act('!tool add {"a": 2, "b": 3}', session.tools)
        assert result.results[-1].content == "Tool result: 5"
        result = await model.act('!tool double {"x": 21}', session.tools)
        assert result.results[-1].content == "Tool result: 42"
        assert session.tools[0].parameters["required"] == ["a", "b"]
