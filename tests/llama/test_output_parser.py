"""The streaming output parser and the prompt helpers (no model needed)."""

from __future__ import annotations

import json

import pytest

from lmstudio_sdk._protocol.chat import message_data
from lmstudio_sdk._protocol.packets.shared import (
    ChatHistoryData,
    FilePart,
    KVConfig,
    KVConfigField,
)
from lmstudio_sdk.server.engines.base import (
    FragmentGenerated,
    ToolCallArgumentFragment,
    ToolCallEnded,
    ToolCallFailed,
    ToolCallNameReceived,
    ToolCallStarted,
)
from lmstudio_sdk.server.engines.llama.sampling import sampling_from_config
from lmstudio_sdk.server.engines.llama.templates import build_prompt, prepare_messages
from lmstudio_sdk.server.engines.llama.tools import OutputParser, ReasoningTags
from lmstudio_sdk.server.errors import ServerError

pytestmark = pytest.mark.llama


def feed_chars(parser: OutputParser, text: str) -> list[object]:
    events: list[object] = []
    for ch in text:
        events.extend(parser.feed(ch))
    events.extend(parser.finish())
    return events


def test_reasoning_split_char_by_char() -> None:
    events = feed_chars(OutputParser(reasoning=ReasoningTags()), "<think>hm</think>Answer <th")
    frags = [(e.reasoning_type, e.content) for e in events if isinstance(e, FragmentGenerated)]
    merged: dict[str, str] = {}
    for kind, content in frags:
        merged[kind] = merged.get(kind, "") + content
    assert merged == {
        "reasoningStartTag": "<think>",
        "reasoning": "hm",
        "reasoningEndTag": "</think>",
        "none": "Answer <th",
    }


def test_start_in_reasoning() -> None:
    events = feed_chars(
        OutputParser(reasoning=ReasoningTags(), start_in_reasoning=True), "a</think>b"
    )
    kinds = [e.reasoning_type for e in events if isinstance(e, FragmentGenerated)]
    assert kinds == ["reasoning", "reasoningEndTag", "none"]


def test_tool_call_streaming() -> None:
    raw = 'Sure. <tool_call>\n{"name": "add", "arguments": {"a": 1, "b": [2, 3]}}\n</tool_call>'
    events = feed_chars(OutputParser(parse_tools=True), raw)
    kinds = [type(e) for e in events]
    assert (
        kinds.index(ToolCallStarted)
        < kinds.index(ToolCallNameReceived)
        < kinds.index(ToolCallEnded)
    )
    args = "".join(e.content for e in events if isinstance(e, ToolCallArgumentFragment))
    assert json.loads(args) == {"a": 1, "b": [2, 3]}
    ended = next(e for e in events if isinstance(e, ToolCallEnded))
    assert ended.request.arguments == {"a": 1, "b": [2, 3]}
    text = "".join(e.content for e in events if isinstance(e, FragmentGenerated))
    assert text == "Sure. "


def test_broken_tool_call_fails() -> None:
    events = feed_chars(OutputParser(parse_tools=True), "<tool_call>{not json</tool_call>")
    assert any(isinstance(e, ToolCallFailed) for e in events)
    events = feed_chars(OutputParser(parse_tools=True), '<tool_call>{"name": "x", "argu')
    failed = [e for e in events if isinstance(e, ToolCallFailed)]
    assert failed and "cut off" in failed[0].title


def test_token_counts_add_up() -> None:
    parser = OutputParser(reasoning=ReasoningTags())
    events = []
    for piece in ["Hel", "lo <", "thi", "nk>x", "</think>", "y"]:
        events.extend(parser.feed(piece, 1))
    events.extend(parser.finish())
    assert sum(e.tokens_count for e in events if isinstance(e, FragmentGenerated)) == 6


def test_sampling_params_mapping() -> None:
    config = KVConfig(
        fields=[
            KVConfigField(key="llm.prediction.temperature", value=0.3),
            KVConfigField(
                key="llm.prediction.topPSampling", value={"checked": False, "value": 0.5}
            ),
            KVConfigField(key="llm.prediction.minPSampling", value={"checked": True, "value": 0.1}),
            KVConfigField(
                key="llm.prediction.llama.presencePenalty", value={"checked": True, "value": 0.4}
            ),
            KVConfigField(key="llm.prediction.seed", value={"checked": True, "value": 42}),
            KVConfigField(key="llm.prediction.stopStrings", value=["\n\n", ""]),
            KVConfigField(key="llm.prediction.logProbs", value={"checked": False, "value": 0}),
            KVConfigField(key="llm.prediction.somethingNew", value=1),
        ]
    )
    p = sampling_from_config(config)
    assert (p.temperature, p.top_p, p.min_p, p.presence_penalty, p.seed) == (0.3, 1.0, 0.1, 0.4, 42)
    assert p.stop_strings == ["\n\n"]
    assert p.max_tokens is None
    assert p.unsupported == [("llm.prediction.somethingNew", 1)]


def test_images_need_a_vision_model() -> None:
    history = ChatHistoryData(
        messages=[
            message_data(
                "user",
                [FilePart(name="a.png", identifier="f", size_bytes=1, file_type="image")],
            )
        ]
    )
    with pytest.raises(ServerError, match="does not support images"):
        prepare_messages(history, native_tools=False)


def test_segments_survive_content_transforming_templates() -> None:
    template = (
        "{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] | trim }}<|end|>{% endfor %}"
        "{% if add_generation_prompt %}<|assistant|>{% endif %}"
    )
    messages = [{"role": "user", "content": "  hi <|end|>  "}]
    segments = build_prompt(template, messages, bos_token="", eos_token="")
    assert "".join(s.text for s in segments) == "<|user|>hi <|end|><|end|><|assistant|>"
    assert [s.text for s in segments if not s.from_template] == ["hi <|end|>"]


def test_tool_naming_renames_for_the_model_and_maps_calls_back() -> None:
    tool = {"type": "function", "function": {"name": "get-weather", "parameters": {}}}
    fields = [
        KVConfigField(key="llm.prediction.tools", value={"type": "toolArray", "tools": [tool]})
    ]
    default = sampling_from_config(KVConfig(fields=fields))  # removeSpecial by default
    assert [t["function"]["name"] for t in default.tools] == ["get_weather"]
    assert default.tool_names == {"get_weather": "get-weather"}
    camel = sampling_from_config(
        KVConfig(
            fields=[*fields, KVConfigField(key="llm.prediction.toolNaming", value="camelCase")]
        )
    )
    assert camel.tool_names == {"getWeather": "get-weather"} and not camel.unsupported
    parser = OutputParser(parse_tools=True, tool_names=camel.tool_names)
    events = feed_chars(
        parser, '<tool_call>{"name": "getWeather", "arguments": {"city": "Oslo"}}</tool_call>'
    )
    names = [e.name for e in events if isinstance(e, ToolCallNameReceived)]
    ended = [e.request for e in events if isinstance(e, ToolCallEnded)]
    assert names == ["get-weather"]
    assert [(r.name, r.arguments) for r in ended] == [("get-weather", {"city": "Oslo"})]
    bogus = sampling_from_config(
        KVConfig(fields=[*fields, KVConfigField(key="llm.prediction.toolNaming", value="kebab")])
    )
    assert bogus.unsupported == [("llm.prediction.toolNaming", "kebab")]


def test_several_tool_calls_in_one_reply() -> None:
    parser = OutputParser(parse_tools=True)
    text = (
        '<tool_call>{"name": "a", "arguments": {"x": 1}}</tool_call>\n'
        '<tool_call>{"name": "b", "arguments": {}}</tool_call>'
    )
    events = feed_chars(parser, text)
    assert [e.request.name for e in events if isinstance(e, ToolCallEnded)] == ["a", "b"]
    assert [type(e).__name__ for e in events if isinstance(e, ToolCallStarted)] == [
        "ToolCallStarted"
    ] * 2
