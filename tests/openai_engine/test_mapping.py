"""The openai engine's pure mappings: SSE decoding, stream chunks → prediction events and stop
reasons, LM Studio config and chat → request bodies. No network."""

from __future__ import annotations

from typing import Any

import pytest

from lmstudio_sdk._protocol.chat import message_data
from lmstudio_sdk._protocol.packets.shared import (
    ChatHistoryData,
    KVConfig,
    KVConfigField,
    TextPart,
    ToolCallRequest,
    ToolCallRequestPart,
    ToolCallResultPart,
)
from lmstudio_sdk.server.engines.base import (
    FragmentGenerated,
    TokenLogProb,
    ToolCallArgumentFragment,
    ToolCallEnded,
    ToolCallFailed,
    ToolCallNameReceived,
    ToolCallStarted,
)
from lmstudio_sdk.server.engines.openai.request_body import (
    chat_body,
    completion_body,
    legacy_response_format,
    settings_from_config,
)
from lmstudio_sdk.server.engines.openai.sse import DONE, SseDecoder
from lmstudio_sdk.server.engines.openai.stream_mapping import ChunkMapper, upstream_logprobs
from lmstudio_sdk.server.errors import ServerError

from .fake_upstream import chunk


def kv(**fields: Any) -> KVConfig:
    return KVConfig(
        fields=[KVConfigField(key=f"llm.prediction.{k}", value=v) for k, v in fields.items()]
    )


def tool_delta(index: int, **function: Any) -> dict[str, Any]:
    call: dict[str, Any] = {"index": index, "function": function}
    if "id" in function:
        call["id"] = function.pop("id")
    return chunk(tool_calls=[call])


# -- SSE ----------------------------------------------------------------------------------------


def test_sse_events_comments_multiline_and_done() -> None:
    decoder = SseDecoder()
    lines = [": keep-alive", "", 'data: {"a":', "data: 1}", "", "event: x", "data: [DONE]", ""]
    events = [e for e in (decoder.feed(line) for line in lines) if e is not None]
    assert events == [{"a": 1}, DONE]


def test_sse_last_event_without_blank_line_and_garbage() -> None:
    decoder = SseDecoder()
    assert decoder.feed("data: not json") is None
    event = decoder.end()
    assert isinstance(event, dict) and "unreadable" in event["error"]["message"]
    assert decoder.end() is None


# -- chunks → events ----------------------------------------------------------------------------


def feed_all(mapper: ChunkMapper, chunks: list[dict[str, Any]]) -> list[Any]:
    events = [e for c in chunks for e in mapper.feed(c)]
    return events + mapper.finish()


def test_content_deltas_become_fragments_and_eos() -> None:
    mapper = ChunkMapper([], None)
    events = feed_all(
        mapper, [chunk(role="assistant"), chunk("Hel"), chunk("lo"), chunk(finish="stop")]
    )
    assert [e.content for e in events] == ["Hel", "lo"]
    assert all(isinstance(e, FragmentGenerated) and e.tokens_count == 1 for e in events)
    assert mapper.stop_reason() == "eosFound" and mapper.predicted_tokens() == 2


def test_usage_wins_over_counted_deltas() -> None:
    mapper = ChunkMapper([], None)
    feed_all(
        mapper,
        [
            chunk("a"),
            chunk(finish="stop"),
            {"choices": [], "usage": {"prompt_tokens": 9, "completion_tokens": 3}},
        ],
    )
    assert mapper.predicted_tokens() == 3 and mapper.usage["prompt_tokens"] == 9


@pytest.mark.parametrize(
    ("max_tokens", "deltas", "reason", "predicted"),
    [
        (3, 3, "maxPredictedTokensReached", 3),
        # Fewer deltas than tokens (a character spanning tokens): the limit was still reached.
        (4, 3, "maxPredictedTokensReached", 4),
        (None, 3, "contextLengthReached", 3),
    ],
)
def test_finish_length(max_tokens: int | None, deltas: int, reason: str, predicted: int) -> None:
    mapper = ChunkMapper([], max_tokens)
    feed_all(mapper, [*(chunk("x") for _ in range(deltas)), chunk(finish="length")])
    assert mapper.stop_reason() == reason and mapper.predicted_tokens() == predicted


def test_content_filter_and_missing_finish() -> None:
    filtered = ChunkMapper([], None)
    feed_all(filtered, [chunk("x", finish="content_filter")])
    assert filtered.stop_reason() == "failed"
    ended = ChunkMapper([], None)
    feed_all(ended, [chunk("x")])
    assert ended.stop_reason() == "eosFound"


def test_stop_string_across_deltas_is_held_back_and_cut() -> None:
    mapper = ChunkMapper(["END"], None)
    chunks = [chunk("one E"), chunk("N"), chunk("D two")]
    events: list[Any] = [e for c in chunks for e in mapper.feed(c)]
    assert mapper.stopped and mapper.stop_string == "END"
    events += mapper.finish()
    assert "".join(e.content for e in events) == "one "
    assert mapper.stop_reason() == "stopStringFound"
    assert mapper.feed(chunk("more")) == []  # nothing after the stop string


def test_reasoning_content_is_a_reasoning_fragment() -> None:
    mapper = ChunkMapper([], None)
    events = feed_all(mapper, [chunk(reasoning_content="hmm"), chunk("answer")])
    assert [(e.content, e.reasoning_type) for e in events] == [
        ("hmm", "reasoning"),
        ("answer", "none"),
    ]


def test_openai_style_tool_call_deltas() -> None:
    mapper = ChunkMapper([], None)
    chunks = [
        tool_delta(0, id="call_1", name="add", arguments=""),
        tool_delta(0, arguments='{"a": 2, '),
        tool_delta(0, arguments='"b": 3}'),
        chunk(finish="tool_calls"),
    ]
    events = feed_all(mapper, chunks)
    assert [type(e) for e in events] == [
        ToolCallStarted,
        ToolCallNameReceived,
        ToolCallArgumentFragment,
        ToolCallArgumentFragment,
        ToolCallEnded,
    ]
    assert events[0].tool_call_id == "call_1" and events[1].name == "add"
    end = events[-1]
    assert end.request == ToolCallRequest(name="add", arguments={"a": 2, "b": 3}, id="call_1")
    assert mapper.stop_reason() == "toolCalls"


def test_llama_cpp_python_repeats_the_name_in_every_delta() -> None:
    mapper = ChunkMapper([], None)
    chunks = [tool_delta(0, id="c", name="add", arguments=p) for p in ('{"a"', ": 1}", "")]
    events = feed_all(mapper, [*chunks, chunk(finish="tool_calls")])
    names = [e.name for e in events if isinstance(e, ToolCallNameReceived)]
    assert names == ["add"]
    assert events[-1].request.arguments == {"a": 1}


def test_two_tool_calls_and_text_before_them() -> None:
    mapper = ChunkMapper([], None)
    chunks = [
        chunk("Let me "),
        tool_delta(0, id="a", name="f", arguments="{}"),
        tool_delta(1, id="b", name="g", arguments='{"x": 1}'),
    ]
    events = feed_all(mapper, chunks)
    assert isinstance(events[0], FragmentGenerated)
    ended = [e.request.name for e in events if isinstance(e, ToolCallEnded)]
    assert ended == ["f", "g"]


def test_bad_tool_arguments_fail_the_call() -> None:
    mapper = ChunkMapper([], None)
    events = feed_all(mapper, [tool_delta(0, id="c", name="f", arguments="{not json")])
    assert isinstance(events[-1], ToolCallFailed) and "not JSON" in events[-1].title


def test_cancel_ends_no_tool_call() -> None:
    mapper = ChunkMapper([], None)
    for c in [chunk("ab"), tool_delta(0, id="c", name="f", arguments="{")]:
        mapper.feed(c)
    assert mapper.finish(cancelled=True) == []


def test_an_error_event_raises() -> None:
    with pytest.raises(ServerError, match="out of memory"):
        ChunkMapper([], None).feed({"error": {"message": "out of memory"}})


def test_text_completion_chunks() -> None:
    mapper = ChunkMapper([], None)
    events = feed_all(mapper, [{"choices": [{"index": 0, "text": "abc", "finish_reason": None}]}])
    assert [e.content for e in events] == ["abc"]


# -- config and chat → body ---------------------------------------------------------------------


def test_sampling_settings_go_where_upstreams_read_them() -> None:
    settings = settings_from_config(
        kv(
            temperature=0.5,
            topPSampling={"checked": True, "value": 0.9},
            minPSampling={"checked": False, "value": 0.05},
            topKSampling=20,
            repeatPenalty={"checked": True, "value": 1.2},
            maxPredictedTokens={"checked": True, "value": 7},
            stopStrings=["\n\n", ""],
            seed={"checked": True, "value": 42},
        )
    )
    assert settings.body == {
        "temperature": 0.5,
        "top_p": 0.9,
        "repeat_penalty": 1.2,
        "top_k": 20,
        "seed": 42,
        "max_tokens": 7,
    }
    assert settings.max_tokens == 7 and settings.stop_strings == ["\n\n"]
    assert "stop" not in settings.body  # matched by the engine, which knows which one hit


def test_json_schema_and_its_legacy_shape() -> None:
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}}
    settings = settings_from_config(kv(structured={"type": "json", "jsonSchema": schema}))
    body = settings.body
    assert body["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "response", "schema": schema},
    }
    legacy = legacy_response_format(body)
    assert legacy is not None
    assert legacy["response_format"] == {"type": "json_object", "schema": schema}
    assert legacy_response_format({"temperature": 0}) is None
    assert completion_body("m", "p", settings).get("response_format") is None


TOOL = {"type": "function", "function": {"name": "add", "parameters": {"type": "object"}}}


@pytest.mark.parametrize(
    ("choice", "tools", "expected"),
    [
        ("required", [TOOL], {"type": "function", "function": {"name": "add"}}),
        ({"type": "generic", "mode": "required"}, [TOOL, TOOL], "required"),
        ({"type": "generic", "mode": "none"}, [TOOL], "none"),
    ],
)
def test_tools_and_tool_choice(choice: Any, tools: list[Any], expected: Any) -> None:
    settings = settings_from_config(
        kv(tools={"type": "toolArray", "tools": tools}, toolChoice=choice)
    )
    assert settings.body["tools"][0] == TOOL
    assert settings.body["tool_choice"] == expected


def test_chat_with_tool_round_becomes_openai_messages() -> None:
    call = ToolCallRequest(name="add", arguments={"a": 1}, id="c1")
    history = ChatHistoryData(
        messages=[
            message_data("system", [TextPart(text="Be brief.")]),
            message_data("user", [TextPart(text="1+?")]),
            message_data("assistant", [ToolCallRequestPart(tool_call_request=call)]),
            message_data("tool", [ToolCallResultPart(content="1", tool_call_id="c1")]),
        ]
    )
    body = chat_body("m", history, settings_from_config(kv(temperature=0)), {})
    assert body["model"] == "m" and body["stream"] is True and body["temperature"] == 0
    assert body["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "1+?"},
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [
                {
                    "id": "c1",
                    "type": "function",
                    "function": {"name": "add", "arguments": '{"a": 1}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "c1", "content": "1"},
    ]


def test_chat_logprobs_ride_on_the_fragments() -> None:
    mapper = ChunkMapper([], None, logprobs=True)
    first = chunk("Hel")
    first["choices"][0]["logprobs"] = {
        "content": [
            {
                "token": "Hel",
                "logprob": -0.5,
                "top_logprobs": [{"token": "Hel", "logprob": -0.5}, {"token": "Hi", "logprob": -1}],
            }
        ]
    }
    events = feed_all(mapper, [first, chunk("lo"), chunk(finish="stop")])
    assert events[0].tokens == (
        TokenLogProb("Hel", -1, -0.5, (("Hel", -1, -0.5), ("Hi", -1, -1.0))),
    )
    assert events[1].tokens == ()  # the upstream sent none for this one


def test_completion_logprobs_shape() -> None:
    tokens = upstream_logprobs(
        {"tokens": [" a"], "token_logprobs": [-0.25], "top_logprobs": [{" b": -2, " a": -0.25}]}
    )
    assert tokens == [TokenLogProb(" a", -1, -0.25, ((" a", -1, -0.25), (" b", -1, -2.0)))]
    assert upstream_logprobs(None) == [] and upstream_logprobs({"content": None}) == []
