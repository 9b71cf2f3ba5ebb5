"""Chats: the ``Chat`` builder, and turning what users pass as a chat into ``ChatHistoryData``.

Messages are the packet vocabulary's role-tagged structs (``UserMessageData``, …). ``Chat``
is pure data (no I/O): both faces append to it, and every method that takes a chat takes one.
"""

from __future__ import annotations

import copy as _copy
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, Literal, Protocol, TypedDict, overload

import msgspec
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

__all__ = ["Chat", "ChatLike", "ChatMessageDict", "assistant_message", "message_data", "to_history"]

Role = Literal["system", "user", "assistant", "tool"]


class ChatMessageDict(TypedDict, total=False):
    """A message as a plain dict, OpenAI style: ``{"role": "user", "content": "hi"}``."""

    role: Role
    content: str | list[object]
    images: list[FilePart]
    tool_calls: list[object]
    tool_call_id: str
    name: str


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
    if isinstance(chat, Chat):
        return chat.to_history()
    if isinstance(chat, ChatHistoryData):
        return chat
    if isinstance(chat, str):
        return ChatHistoryData(messages=[UserMessageData(content=[TextPart(text=chat)])])
    if not isinstance(chat, Sequence):
        kind = type(chat).__name__
        raise LMStudioValueError(
            f"a chat must be a string, a Chat, a list of messages or ChatHistoryData, not {kind}"
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


# -- Chat ------------------------------------------------------------------------------------


class _AssistantReply(Protocol):
    """What ``add_assistant_response`` takes besides text: a ``PredictionResult``."""

    @property
    def content(self) -> str: ...


UserContentInput = str | TextPart | FilePart | Mapping[str, Any]
"""A part of a user or system message: text, a ``FilePart`` from ``client.files``, or its dict."""
ToolCallRequestInput = ToolCallRequest | ToolCallRequestPart | Mapping[str, Any]
ToolCallResultInput = ToolCallResultPart | Mapping[str, Any]
AnyMessage = ChatMessageData


class Chat:
    """A conversation to send to a model, built message by message.

        chat = Chat("You are a terse assistant.")      # a system prompt
        chat.add_user_message("What is in this picture?", images=[image])
        reply = model.respond(chat)
        chat.add_assistant_response(reply)

    Every method that takes a chat (``respond``, ``respond_stream``, ``act``,
    ``apply_prompt_template``) takes a ``Chat``; ``act`` appends every message of its rounds
    to it. ``to_json()`` / ``Chat.from_json()`` save and restore one exactly; ``copy()`` gives
    an independent chat. The method names are those of the official ``lmstudio.Chat`` (a
    superset): ``add_system_prompt``, ``add_user_message``, ``add_assistant_response``,
    ``add_tool_result(s)``, ``add_entry``, ``append``, ``from_history``, ``copy``.
    """

    def __init__(self, initial_prompt: str | TextPart | None = None) -> None:
        self._messages: list[ChatMessageData] = []
        if initial_prompt is not None:
            self.add_system_prompt(initial_prompt)

    # -- building -----------------------------------------------------------------------------

    @classmethod
    def from_history(
        cls,
        history: str
        | Chat
        | ChatHistoryData
        | Mapping[str, object]
        | Sequence[ChatMessageDict | ChatMessageData | Mapping[str, object]],
    ) -> Chat:
        """A new chat from a string (one user message), another ``Chat`` (copied),
        ``ChatHistoryData``, a ``{"messages": [...]}`` dict (the wire shape, as ``to_dict()``
        makes) or a list of messages (dicts in OpenAI or wire style, or message structs)."""
        chat = cls()
        if isinstance(history, Mapping):
            messages = history.get("messages")
            if not isinstance(messages, list):
                raise LMStudioValueError(
                    "a chat history dict needs a 'messages' list, e.g. "
                    '{"messages": [{"role": "user", "content": "hi"}]}'
                )
            for index, message in enumerate(messages):
                chat._messages.append(_any_message(message, index))
            return chat
        chat._messages.extend(to_history(history).messages)
        return chat

    @classmethod
    def from_json(cls, text: str | bytes) -> Chat:
        """The chat that ``to_json()`` saved."""
        if not isinstance(text, str | bytes):
            raise LMStudioValueError(f"from_json() takes a JSON string, not {type(text).__name__}")
        try:
            history = msgspec.json.decode(text, type=ChatHistoryData)
        except (msgspec.DecodeError, ValidationError) as exc:
            raise LMStudioValueError(f"from_json(): not a saved chat ({exc})") from None
        return cls.from_history(history)

    def add_system_prompt(self, prompt: str | TextPart | Mapping[str, Any]) -> SystemMessageData:
        """Add a system message (consecutive ones stay separate messages)."""
        message = SystemMessageData(content=[_user_part(prompt, "system prompt")])
        self._messages.append(message)
        return message

    def add_user_message(
        self,
        content: UserContentInput | Iterable[UserContentInput],
        *,
        images: Sequence[FilePart] = (),
        files: Sequence[FilePart] = (),
    ) -> UserMessageData:
        """Add a user message: text and/or ``FilePart``s (from ``client.files.prepare_image``
        / ``prepare_file``). Right after another user message, the parts join that message
        (one multi-part message), as in ``lmstudio.Chat``."""
        items: list[UserContentInput]
        if isinstance(content, str | TextPart | FilePart | Mapping):
            items = [content]
        elif isinstance(content, Iterable):
            items = list(content)
        else:
            raise LMStudioValueError(
                f"add_user_message() takes text, a FilePart or a list of them, "
                f"not {type(content).__name__}"
            )
        for name, handles in (("images", images), ("files", files)):
            if isinstance(handles, str | bytes) or not isinstance(handles, Sequence):
                raise LMStudioValueError(f"add_user_message() {name}= takes a list of FileParts")
            for handle in handles:
                if not isinstance(handle, FilePart):
                    raise LMStudioValueError(
                        f"add_user_message() {name}= takes FileParts from "
                        f"client.files.prepare_image() / prepare_file(), not "
                        f"{type(handle).__name__}"
                    )
            items.extend(handles)
        parts = [_user_part(item, "user message") for item in items]
        if not parts:
            raise LMStudioValueError("add_user_message() got an empty message")
        if self._messages and isinstance(self._messages[-1], UserMessageData):
            message = UserMessageData(content=[*self._messages[-1].content, *parts])
            self._messages[-1] = message
            return message
        message = UserMessageData(content=parts)
        self._messages.append(message)
        return message

    def add_assistant_response(
        self,
        response: str | TextPart | FilePart | _AssistantReply | Mapping[str, Any],
        tool_call_requests: Iterable[ToolCallRequestInput] = (),
    ) -> AssistantMessageData:
        """Add an assistant message: text or a ``PredictionResult``, then the tool calls it
        made (``ToolCallRequest``s, e.g. ``result.tool_calls``)."""
        parts: list[TextPart | FilePart | ToolCallRequestPart] = []
        if isinstance(response, str):
            parts.append(TextPart(text=response))
        elif isinstance(response, TextPart | FilePart):
            parts.append(response)
        elif isinstance(response, Mapping):
            part = _user_part(response, "assistant response")
            parts.append(part)
        elif isinstance(getattr(response, "content", None), str):
            parts.append(TextPart(text=response.content))
        else:
            raise LMStudioValueError(
                f"add_assistant_response() takes text or a PredictionResult, "
                f"not {type(response).__name__}"
            )
        if isinstance(tool_call_requests, str | Mapping) or not isinstance(
            tool_call_requests, Iterable
        ):
            raise LMStudioValueError(
                "add_assistant_response() tool_call_requests takes a list of ToolCallRequests"
            )
        for index, request in enumerate(tool_call_requests):
            parts.append(ToolCallRequestPart(tool_call_request=_tool_request(request, index)))
        message = AssistantMessageData(content=parts)
        self._messages.append(message)
        return message

    def add_tool_result(self, result: ToolCallResultInput) -> ToolMessageData:
        """Add one tool result as its own message (``ToolCallResultPart`` or a dict with
        ``content`` and ``tool_call_id``)."""
        message = ToolMessageData(content=[_tool_result(result, 0)])
        self._messages.append(message)
        return message

    def add_tool_results(self, results: Iterable[ToolCallResultInput]) -> ToolMessageData:
        """Add several tool results (those of one round) as one message."""
        if isinstance(results, str | Mapping) or not isinstance(results, Iterable):
            raise LMStudioValueError("add_tool_results() takes a list of tool results")
        parts = [_tool_result(result, index) for index, result in enumerate(results)]
        if not parts:
            raise LMStudioValueError("add_tool_results() got no results")
        message = ToolMessageData(content=parts)
        self._messages.append(message)
        return message

    def add_entry(self, role: str, content: Any) -> ChatMessageData:
        """Add a message for ``role`` (``system``, ``user``, ``assistant``, ``tool``)."""
        if role == "user":
            return self.add_user_message(content)
        if role == "system":
            return self.add_system_prompt(content)
        if role == "assistant":
            if isinstance(content, str | TextPart | FilePart | Mapping):
                return self.add_assistant_response(content)
            items = list(content)
            if not items:
                raise LMStudioValueError("add_entry('assistant', ...) got no content")
            message = _any_message({"role": "assistant", "content": items}, len(self._messages))
            self._messages.append(message)
            return message
        if role == "tool":
            if isinstance(content, ToolCallResultPart | Mapping):
                return self.add_tool_result(content)
            return self.add_tool_results(content)
        raise LMStudioValueError(f"unknown chat role {role!r}; expected one of {', '.join(_ROLES)}")

    def append(
        self, message: ChatMessageData | ChatMessageDict | Mapping[str, object]
    ) -> ChatMessageData:
        """Append a whole message (a message struct, or a dict in OpenAI or wire style) as is."""
        converted = _any_message(message, len(self._messages))
        self._messages.append(converted)
        return converted

    # -- reading ------------------------------------------------------------------------------

    @property
    def messages(self) -> tuple[ChatMessageData, ...]:
        """The messages so far (frozen structs; add messages with the methods)."""
        return tuple(self._messages)

    def __len__(self) -> int:
        return len(self._messages)

    def __iter__(self) -> Iterator[ChatMessageData]:
        return iter(tuple(self._messages))

    @overload
    def __getitem__(self, index: int) -> ChatMessageData: ...

    @overload
    def __getitem__(self, index: slice) -> list[ChatMessageData]: ...

    def __getitem__(self, index: int | slice) -> ChatMessageData | list[ChatMessageData]:
        return self._messages[index]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Chat) and self._messages == other._messages

    __hash__ = None  # type: ignore[assignment]  # mutable

    def to_history(self) -> ChatHistoryData:
        """The wire's ``ChatHistoryData`` (a snapshot: later additions do not change it)."""
        return ChatHistoryData(messages=list(self._messages))

    def to_dict(self) -> dict[str, Any]:
        """The wire shape as plain data (``{"messages": [...]}``); ``from_history`` reads it."""
        data: dict[str, Any] = msgspec.to_builtins(self.to_history())
        return data

    def to_json(self) -> str:
        """The chat as JSON (the wire's history shape); ``Chat.from_json`` restores it."""
        return msgspec.json.encode(self.to_history()).decode()

    def copy(self) -> Chat:
        """An independent copy (messages are frozen, so sharing them is safe)."""
        duplicate = type(self)()
        duplicate._messages = list(self._messages)
        return duplicate

    __copy__ = copy

    def __deepcopy__(self, memo: dict[int, Any]) -> Chat:
        duplicate = type(self)()
        duplicate._messages = _copy.deepcopy(self._messages, memo)
        return duplicate

    def __repr__(self) -> str:
        return f"Chat.from_history({self.to_dict()!r})"

    def __str__(self) -> str:
        """One line per message: ``role: text``, with files and tool calls named."""
        return "\n".join(_describe(message) for message in self._messages)


def drop_echo(chat: Chat, message: ChatMessageData) -> None:
    """If ``chat`` ends with ``message`` twice (act() appended it, then its ``on_message``
    callback appended it again), drop the second."""
    messages = chat._messages
    if len(messages) >= 2 and messages[-2] is message and messages[-1] == message:
        messages.pop()


def assistant_message(result: _AssistantReply) -> AssistantMessageData:
    """A finished prediction as the assistant message a chat records (with its tool calls)."""
    calls: list[ToolCallRequest] = list(getattr(result, "tool_calls", []))
    parts: list[TextPart | FilePart | ToolCallRequestPart] = [TextPart(text=result.content)]
    parts += [ToolCallRequestPart(tool_call_request=call) for call in calls]
    return AssistantMessageData(content=parts)


ChatLike = (
    str
    | Chat
    | ChatHistoryData
    | Sequence[ChatMessageDict | ChatMessageData | Mapping[str, object]]
)
"""What every method that takes a chat accepts."""


def _user_part(item: object, where: str) -> TextPart | FilePart:
    if isinstance(item, str):
        return TextPart(text=item)
    if isinstance(item, TextPart | FilePart):
        return item
    if isinstance(item, Mapping):
        if isinstance(item.get("text"), str) and item.get("type", "text") == "text":
            return TextPart(text=item["text"])
        if item.get("type") == "file" or "identifier" in item:
            data = {"type": "file", **item}
            if "file_type" in data or "size_bytes" in data:  # snake_case, as lmstudio accepts
                data = {_camel(k): v for k, v in data.items()}
            try:
                return convert(data, FilePart)
            except ValidationError as exc:
                raise LMStudioValueError(f"{where}: invalid file part: {exc}") from None
    raise LMStudioValueError(
        f"{where}: cannot use {type(item).__name__} {item!r} as content; pass text or a "
        f"FilePart from client.files.prepare_image() / prepare_file()"
    )


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(word.title() for word in rest)


def _tool_request(request: object, index: int) -> ToolCallRequest:
    if isinstance(request, ToolCallRequestPart):
        return request.tool_call_request
    if isinstance(request, Mapping) and request.get("type") == "toolCallRequest":
        inner = request.get("toolCallRequest", request.get("tool_call_request"))
        return _tool_call(inner, index)
    return _tool_call(request, index)


def _tool_result(result: object, index: int) -> ToolCallResultPart:
    if isinstance(result, ToolCallResultPart):
        return result
    if isinstance(result, Mapping) and "content" in result:
        content = result["content"]
        call_id = result.get("tool_call_id", result.get("toolCallId"))
        name = result.get("name")
        if (
            isinstance(content, str)
            and isinstance(call_id, str | None)
            and isinstance(name, str | None)
        ):
            return ToolCallResultPart(content=content, tool_call_id=call_id, name=name)
    raise LMStudioValueError(
        f"tool result {index} must be a ToolCallResultPart or a dict with a string 'content' "
        f"and 'tool_call_id', not {result!r}"
    )


def _any_message(message: object, index: int) -> ChatMessageData:
    """A message struct, a wire-style dict (typed parts) or an OpenAI-style dict."""
    if isinstance(message, Mapping):
        content = message.get("content")
        if isinstance(content, list) and all(
            isinstance(p, Mapping) and "type" in p for p in content
        ):
            try:
                wire: ChatMessageData = convert(message, ChatMessageData)
                return wire
            except ValidationError:
                pass  # e.g. {"type": "text", ...} parts inside an OpenAI-style tool message
    return _message(message, index)


def _describe(message: ChatMessageData) -> str:
    pieces: list[str] = []
    for part in message.content:
        if isinstance(part, TextPart):
            if part.text:
                pieces.append(part.text)
        elif isinstance(part, FilePart):
            pieces.append(f"[{part.file_type}: {part.name}]")
        elif isinstance(part, ToolCallRequestPart):
            call = part.tool_call_request
            arguments = json.dumps(call.arguments or {}, ensure_ascii=False)
            call_id = f" #{call.id}" if call.id else ""
            pieces.append(f"[tool call{call_id}: {call.name}({arguments})]")
        elif isinstance(part, ToolCallResultPart):
            call_id = f" #{part.tool_call_id}" if part.tool_call_id else ""
            pieces.append(f"[tool result{call_id}: {part.content}]")
    return f"{message.role}: " + " ".join(pieces)
