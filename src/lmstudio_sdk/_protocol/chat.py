"""Turning what users pass as a chat into the wire's ``ChatHistoryData``.

Messages are the packet vocabulary's role-tagged structs (``UserMessageData``, …).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, Literal, TypedDict

from msgspec import ValidationError, convert

from .._exceptions import LMStudioValueError
from .packets.shared import (
    AssistantMessageData,
    ChatHistoryData,
    ChatMessageData,
    FilePart,
    SystemMessageData,
    TextPart,
    ToolCallRequest,
    ToolCallRequestPart,
    ToolCallResultPart,
    ToolMessageData,
    UserMessageData,
)

__all__ = ["ChatLike", "ChatMessageDict", "message_data", "to_history"]

Role = Literal["system", "user", "assistant", "tool"]


class ChatMessageDict(TypedDict, total=False):
    """A message as a plain dict, OpenAI style: ``{"role": "user", "content": "hi"}``."""

    role: Role
    content: str | list[Any]
    images: list[FilePart]
    tool_calls: list[Any]
    tool_call_id: str
    name: str


ChatLike = str | ChatHistoryData | Sequence[ChatMessageDict | ChatMessageData | Mapping[str, Any]]

_ROLES = ("system", "user", "assistant", "tool")
# Any content part; which parts a role may hold is the server's to check, as before.
ContentPart = TextPart | FilePart | ToolCallRequestPart | ToolCallResultPart
_MESSAGE_TYPES: dict[str, type[Any]] = {
    "system": SystemMessageData,
    "user": UserMessageData,
    "assistant": AssistantMessageData,
    "tool": ToolMessageData,
}


def message_data(role: Role, parts: Sequence[ContentPart]) -> ChatMessageData:
    """The role-tagged message struct of ``role`` holding ``parts``."""
    message: ChatMessageData = _MESSAGE_TYPES[role](content=list(parts))
    return message


def to_history(chat: ChatLike) -> ChatHistoryData:
    """A single string is one user message; a sequence holds messages as dicts or structs."""
    if isinstance(chat, ChatHistoryData):
        return chat
    if isinstance(chat, str):
        return ChatHistoryData(messages=[UserMessageData(content=[TextPart(text=chat)])])
    if not isinstance(chat, Sequence):
        kind = type(chat).__name__
        raise LMStudioValueError(
            f"a chat must be a string, a list of messages or ChatHistoryData, not {kind}"
        )
    return ChatHistoryData(messages=[_message(m, i) for i, m in enumerate(chat)])


def _message(message: object, index: int) -> ChatMessageData:
    if isinstance(message, ChatMessageData):
        return message
    if not isinstance(message, Mapping):
        raise LMStudioValueError(
            f"chat message {index} must be a dict, not {type(message).__name__}"
        )
    role = message.get("role")
    if role not in _ROLES:
        raise LMStudioValueError(
            f"chat message {index} has role {role!r}; expected one of {', '.join(_ROLES)}"
        )
    content = message.get("content", "")
    parts: list[ContentPart] = []
    if role == "tool":
        text = content if isinstance(content, str) else str(content)
        parts.append(
            ToolCallResultPart(
                content=text, tool_call_id=message.get("tool_call_id"), name=message.get("name")
            )
        )
    elif isinstance(content, str):
        parts.append(TextPart(text=content))
    elif isinstance(content, list):
        for part in content:
            if isinstance(part, str):
                parts.append(TextPart(text=part))
            elif isinstance(part, TextPart | FilePart | ToolCallRequestPart | ToolCallResultPart):
                parts.append(part)
            elif isinstance(part, Mapping) and part.get("type") == "text":
                parts.append(TextPart(text=str(part.get("text", ""))))
            else:
                parts.append(_as_part(part, index))
    else:
        raise LMStudioValueError(f"chat message {index} content must be a string or a list")
    images = list(message.get("images") or [])
    for image in images:
        if not isinstance(image, FilePart):
            raise LMStudioValueError(
                f"chat message {index}: images must come from client.files.prepare_image()"
            )
    parts[:0] = images  # before the text, as the TypeScript SDK sends them
    for call in message.get("tool_calls") or []:
        if role != "assistant":
            raise LMStudioValueError(f"chat message {index}: only assistant messages call tools")
        parts.append(ToolCallRequestPart(tool_call_request=_tool_call(call, index)))
    return message_data(role, parts)


def _as_part(part: object, index: int) -> ContentPart:
    try:
        converted: ContentPart = convert(part, ContentPart)
        return converted
    except ValidationError as exc:
        raise LMStudioValueError(
            f"chat message {index} has an invalid content part: {exc}"
        ) from None


def _tool_call(call: object, index: int) -> ToolCallRequest:
    if isinstance(call, ToolCallRequest):
        return call
    if isinstance(call, Mapping):
        function = call.get("function", call)
        if isinstance(function, Mapping) and isinstance(function.get("name"), str):
            arguments = function.get("arguments")
            if isinstance(arguments, str):
                try:
                    arguments = json.loads(arguments or "{}")
                except ValueError:
                    arguments = ...  # not JSON: an invalid tool call
            # On the wire, arguments is a JSON object (or absent).
            if isinstance(arguments, Mapping):
                arguments = dict(arguments)
            if arguments is None or isinstance(arguments, dict):
                return ToolCallRequest(
                    name=function["name"], arguments=arguments, id=call.get("id")
                )
    raise LMStudioValueError(f"chat message {index} has an invalid tool call: {call!r}")
