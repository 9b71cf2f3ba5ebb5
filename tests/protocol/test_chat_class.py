"""Chat: building, copying, saving and restoring a conversation (pure, no server)."""

from __future__ import annotations

import copy
import json

import pytest

import lmstudio_sdk as lms
from lmstudio_sdk._protocol.chat import to_history

IMAGE = lms.FilePart(name="cat.png", identifier="f-1", size_bytes=3, file_type="image")
DOC = lms.FilePart(name="notes.txt", identifier="f-2", size_bytes=5, file_type="text/plain")
CALL = lms.ToolCallRequest(id="call_1", name="add", arguments={"a": 1})


def full_chat() -> lms.Chat:
    chat = lms.Chat("You are terse.")
    chat.add_system_prompt("Second system message.")
    chat.add_user_message("What is this?", images=[IMAGE])
    chat.add_user_message(["and this", DOC])  # joins the previous user message
    chat.add_assistant_response("Let me add.", [CALL])
    chat.add_tool_result({"content": "2", "tool_call_id": "call_1"})
    chat.add_tool_results([lms.ToolCallResultPart(content="3", tool_call_id="call_2", name="add")])
    chat.add_assistant_response("Two.")
    chat.add_assistant_response("And three.")  # consecutive assistant messages stay separate
    return chat


def test_messages_roles_and_parts() -> None:
    chat = full_chat()
    assert [m.role for m in chat] == [
        "system",
        "system",
        "user",
        "assistant",
        "tool",
        "tool",
        "assistant",
        "assistant",
    ]
    user = chat[2]
    assert [type(p).__name__ for p in user.content] == [
        "TextPart",
        "FilePart",
        "TextPart",
        "FilePart",
    ]
    assert len(chat) == 8


def test_json_round_trip_and_wire_shape() -> None:
    chat = full_chat()
    text = chat.to_json()
    assert lms.Chat.from_json(text) == chat
    data = json.loads(text)
    assert data["messages"][3] == {
        "role": "assistant",
        "content": [
            {"type": "text", "text": "Let me add."},
            {
                "type": "toolCallRequest",
                "toolCallRequest": {
                    "type": "function",
                    "id": "call_1",
                    "arguments": {"a": 1},
                    "name": "add",
                },
            },
        ],
    }
    assert lms.Chat.from_history(data) == chat
    assert lms.Chat.from_history(chat.to_dict()) == chat
    assert to_history(chat) == chat.to_history()
    with pytest.raises(lms.LMStudioValueError, match="not a saved chat"):
        lms.Chat.from_json('{"messages": [{"role": "nobody"}]}')


def test_built_from_strings_messages_chats_and_history() -> None:
    assert [m.role for m in lms.Chat.from_history("hi")] == ["user"]
    openai_style = lms.Chat.from_history(
        [
            {"role": "system", "content": "s"},
            {"role": "user", "content": "u"},
            {
                "role": "assistant",
                "content": "",
                "tool_calls": [{"id": "c", "function": {"name": "f", "arguments": "{}"}}],
            },
            {"role": "tool", "content": "r", "tool_call_id": "c"},
        ]
    )
    assert [m.role for m in openai_style] == ["system", "user", "assistant", "tool"]
    assert lms.Chat.from_history(openai_style.to_history()) == openai_style
    assert lms.Chat.from_history(openai_style) == openai_style


def test_copies_are_independent() -> None:
    chat = full_chat()
    for duplicate in (
        chat.copy(),
        copy.copy(chat),
        copy.deepcopy(chat),
        lms.Chat.from_history(chat),
    ):
        assert duplicate == chat
        duplicate.add_user_message("more")
        assert duplicate != chat and len(chat) == 8


def test_append_and_add_entry() -> None:
    chat = lms.Chat()
    chat.append({"role": "user", "content": "hi"})
    chat.add_entry("assistant", "hello")
    chat.add_entry("tool", {"content": "x", "tool_call_id": "c"})
    chat.append(chat[0])
    assert [m.role for m in chat] == ["user", "assistant", "tool", "user"]
    with pytest.raises(lms.LMStudioValueError, match="unknown chat role"):
        chat.add_entry("robot", "x")


def test_readable_str() -> None:
    chat = full_chat()
    lines = str(chat).splitlines()
    assert lines[0] == "system: You are terse."
    assert lines[2] == "user: What is this? [image: cat.png] and this [text/plain: notes.txt]"
    assert lines[3] == 'assistant: Let me add. [tool call #call_1: add({"a": 1})]'
    assert lines[4] == "tool: [tool result #call_1: 2]"
    assert repr(chat).startswith("Chat.from_history({'messages': [")


def test_misuse_is_a_typed_error() -> None:
    chat = lms.Chat()
    with pytest.raises(lms.LMStudioValueError, match="FilePart"):
        chat.add_user_message("x", images=["cat.png"])  # type: ignore[list-item]
    with pytest.raises(lms.LMStudioValueError, match="empty"):
        chat.add_user_message([])
    with pytest.raises(lms.LMStudioValueError, match="tool result 0"):
        chat.add_tool_result({"content": 3})
    with pytest.raises(lms.LMStudioValueError, match="invalid tool call"):
        chat.add_assistant_response("x", [{"nope": 1}])
    with pytest.raises(lms.LMStudioValueError, match="'messages' list"):
        lms.Chat.from_history({"msgs": []})
    assert len(chat) == 0  # nothing half-added
