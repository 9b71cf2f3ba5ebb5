"""to_history: what users pass as a chat, turned into the wire's ChatHistoryData."""

from __future__ import annotations

import json
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import msgspec
import pytest

from lmstudio_sdk._exceptions import LMStudioValueError
from lmstudio_sdk._protocol.chat import message_data, to_history
from lmstudio_sdk._protocol.packets.shared import (
    ChatHistoryData,
    FilePart,
    TextPart,
    ToolCallRequest,
    ToolCallRequestPart,
    ToolCallResultPart,
)


def wire(history: ChatHistoryData) -> Any:
    return json.loads(msgspec.json.encode(history))


def test_a_string_is_one_user_message() -> None:
    # traffic-ts2.jsonl line 8: respond("hi")
    assert wire(to_history("hi")) == {
        "messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}]
    }


def test_history_data_passes_through_unchanged() -> None:
    history = ChatHistoryData(messages=[])
    assert to_history(history) is history


def test_the_recorded_act_round_two_history() -> None:
    # traffic-tsact.jsonl line 14 (TS 2.0, act() second round), built from OpenAI-style dicts.
    chat: list[Mapping[str, Any]] = [
        {"role": "user", "content": "please use the tool"},
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [
                {
                    "id": "call_123",
                    "type": "function",
                    "function": {"name": "add", "arguments": '{"a": 1, "b": 2}'},
                }
            ],
        },
        {"role": "tool", "content": "3", "tool_call_id": "call_123", "name": "add"},
    ]
    assert wire(to_history(chat)) == {
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "please use the tool"}]},
            {
                "role": "assistant",
                "content": [
                    {"type": "text", "text": ""},
                    {
                        "type": "toolCallRequest",
                        "toolCallRequest": {
                            "id": "call_123",
                            "type": "function",
                            "arguments": {"a": 1, "b": 2},
                            "name": "add",
                        },
                    },
                ],
            },
            {
                "role": "tool",
                "content": [
                    {
                        "type": "toolCallResult",
                        "content": "3",
                        "toolCallId": "call_123",
                        "name": "add",
                    }
                ],
            },
        ]
    }


def test_content_lists_mix_strings_parts_and_dicts() -> None:
    file_part = FilePart(
        name="x.png", identifier="1700000000000 - 123.png", size_bytes=68, file_type="image"
    )
    history = to_history(
        [
            {"role": "system", "content": "be brief"},
            {
                "role": "user",
                "content": [
                    "look:",
                    TextPart(text="at this"),
                    {"type": "text", "text": 42},
                    {"type": "text"},
                    {
                        "type": "file",
                        "name": "y.txt",
                        "identifier": "id",
                        "sizeBytes": 3,
                        "fileType": "text/plain",
                    },
                    file_part,
                ],
            },
            message_data("assistant", [TextPart(text="ok")]),
            {"role": "assistant"},
        ]
    )
    assert history.messages == [
        message_data("system", [TextPart(text="be brief")]),
        message_data(
            "user",
            [
                TextPart(text="look:"),
                TextPart(text="at this"),
                TextPart(text="42"),
                TextPart(text=""),
                FilePart(name="y.txt", identifier="id", size_bytes=3, file_type="text/plain"),
                file_part,
            ],
        ),
        message_data("assistant", [TextPart(text="ok")]),
        message_data("assistant", [TextPart(text="")]),
    ]


def test_tool_messages_and_tool_call_shapes() -> None:
    request = ToolCallRequest(name="f", arguments={"x": 1}, id="c0")
    history = to_history(
        [
            {
                "role": "assistant",
                "content": "calling",
                "tool_calls": [
                    request,
                    {"id": "c1", "function": {"name": "g", "arguments": {"y": 2}}},
                    {"name": "h", "arguments": ""},
                    {"function": {"name": "k"}},
                ],
            },
            {"role": "tool", "content": {"result": 3}},
            {"role": "tool", "content": "plain", "tool_call_id": "c1"},
        ]
    )
    assert history.messages == [
        message_data(
            "assistant",
            [
                TextPart(text="calling"),
                ToolCallRequestPart(tool_call_request=request),
                ToolCallRequestPart(
                    tool_call_request=ToolCallRequest(name="g", arguments={"y": 2}, id="c1")
                ),
                ToolCallRequestPart(tool_call_request=ToolCallRequest(name="h", arguments={})),
                ToolCallRequestPart(tool_call_request=ToolCallRequest(name="k")),
            ],
        ),
        message_data("tool", [ToolCallResultPart(content="{'result': 3}")]),
        message_data("tool", [ToolCallResultPart(content="plain", tool_call_id="c1")]),
    ]


def test_read_only_mappings_are_messages_too() -> None:
    message = MappingProxyType({"role": "user", "content": "hi"})
    assert to_history([message]).messages == [message_data("user", [TextPart(text="hi")])]


@pytest.mark.parametrize(
    ("chat", "message"),
    [
        (5, "a chat must be a string, a Chat, a list of messages or ChatHistoryData, not int"),
        (
            {"role": "user", "content": "hi"},
            "a chat must be a string, a Chat, a list of messages or ChatHistoryData, not dict",
        ),
        (["hi"], "chat message 0 must be a dict, not str"),
        ([{"role": "user", "content": "a"}, 3], "chat message 1 must be a dict, not int"),
        (
            [{"content": "x"}],
            "chat message 0 has role None; expected one of system, user, assistant, tool",
        ),
        (
            [{"role": "developer", "content": "x"}],
            "chat message 0 has role 'developer'; expected one of",
        ),
        ([{"role": "user", "content": 5}], "chat message 0 content must be a string or a list"),
        ([{"role": "user", "content": [5]}], "chat message 0 has an invalid content part: "),
        (
            [{"role": "user", "content": [{"type": "image"}]}],
            "chat message 0 has an invalid content part: ",
        ),
        (
            [{"role": "user", "content": "x", "tool_calls": [{"name": "f"}]}],
            "chat message 0: only assistant messages call tools",
        ),
        (
            [{"role": "assistant", "tool_calls": ["f"]}],
            "chat message 0 has an invalid tool call: 'f'",
        ),
        (
            [{"role": "assistant", "tool_calls": [{"function": {"arguments": "{}"}}]}],
            "chat message 0 has an invalid tool call: ",
        ),
        (
            [
                {
                    "role": "assistant",
                    "tool_calls": [{"function": {"name": "f", "arguments": "{oops"}}],
                }
            ],
            "chat message 0 has an invalid tool call: ",
        ),
        (
            [
                {
                    "role": "assistant",
                    "tool_calls": [{"function": {"name": "f", "arguments": "[1, 2]"}}],
                }
            ],
            "chat message 0 has an invalid tool call: ",
        ),
        (
            [{"role": "assistant", "tool_calls": [{"function": {"name": "f", "arguments": 7}}]}],
            "chat message 0 has an invalid tool call: ",
        ),
    ],
)
def test_invalid_chats_are_value_errors(chat: Any, message: str) -> None:
    with pytest.raises(LMStudioValueError) as info:
        to_history(chat)
    assert str(info.value).startswith(message)


IMAGE = FilePart(name="a.png", identifier="123 - 1.png", size_bytes=10, file_type="image")


def test_images_precede_the_text_of_their_message() -> None:
    # As the TypeScript SDK 2.0 sends them (tests/parity respond_image): a vision prompt
    # template then sees the image before the question about it.
    history = to_history([{"role": "user", "content": "look", "images": [IMAGE]}])
    assert history.messages[0].content == [IMAGE, TextPart(text="look")]


def test_file_parts_may_sit_in_the_content_list() -> None:
    history = to_history([{"role": "user", "content": [IMAGE, "and this"]}])
    assert history.messages[0].content == [IMAGE, TextPart(text="and this")]


def test_images_must_be_prepared_handles() -> None:
    with pytest.raises(LMStudioValueError, match=r"prepare_image\(\)"):
        to_history([{"role": "user", "content": "x", "images": ["photo.png"]}])
