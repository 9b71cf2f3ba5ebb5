"""Turning a chat history into a prompt: template messages, Jinja rendering, segmentation.

The result of :func:`build_prompt` is a list of :class:`Segment` pieces whose concatenation is
the rendered prompt. Pieces that came from the template are tokenised with special tokens
parsed (``<|im_start|>`` → one control token); pieces that came from the conversation are
tokenised as plain text, so a user who types ``<|im_end|>`` cannot close their own turn.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ...._protocol.packets.shared import (
    ChatHistoryData,
    FilePart,
    TextPart,
    ToolCallRequestPart,
    ToolCallResultPart,
)
from ...errors import ServerError
from .tools import format_tool_call, format_tool_result, tool_system_prompt

__all__ = [
    "PreparedChat",
    "Segment",
    "build_prompt",
    "prepare_messages",
    "render_template",
]

IMAGE_MARKER_DEFAULT = "<__media__>"


@dataclass(frozen=True, slots=True)
class Segment:
    text: str
    from_template: bool


@dataclass(slots=True)
class PreparedChat:
    """Template-ready messages plus the images they refer to (in order)."""

    messages: list[dict[str, Any]]
    images: list[FilePart] = field(default_factory=list)
    dropped_files: list[FilePart] = field(default_factory=list)


def _text_of(parts: Sequence[Any]) -> str:
    return "\n".join(p.text for p in parts if isinstance(p, TextPart) and p.text)


def prepare_messages(
    history: ChatHistoryData,
    *,
    native_tools: bool,
    tools: Sequence[dict[str, Any]] = (),
    system_prompt: str | None = None,
    image_marker: str | None = None,
) -> PreparedChat:
    """Convert the wire history into the dicts chat templates expect.

    * text parts are joined with newlines; image parts become ``image_marker`` (when given)
      and are collected in ``images``; other files are dropped (their content never reaches
      the engine) and reported in ``dropped_files``;
    * with ``native_tools`` (the template renders ``tools`` itself and uses ``<tool_call>``),
      tool calls and results use the template's ``tool_calls`` / ``tool`` role; otherwise they
      are written as text (and tool results become user turns), and the tool instructions are
      prepended to the system message.
    """
    prepared = PreparedChat(messages=[])
    out = prepared.messages
    for message in history.messages:
        if message.role == "tool":
            for part in message.content:
                if not isinstance(part, ToolCallResultPart):
                    continue
                if native_tools:
                    entry: dict[str, Any] = {"role": "tool", "content": part.content}
                    if part.tool_call_id:
                        entry["tool_call_id"] = part.tool_call_id
                    if part.name:
                        entry["name"] = part.name
                    out.append(entry)
                else:
                    _append_merged(out, "user", format_tool_result(part.content))
            continue
        pieces: list[str] = []
        tool_calls: list[dict[str, Any]] = []
        for part in message.content:
            if isinstance(part, TextPart):
                if part.text:
                    pieces.append(part.text)
            elif isinstance(part, FilePart):
                if part.file_type == "image" and image_marker is not None:
                    prepared.images.append(part)
                    pieces.append(image_marker)
                elif part.file_type == "image":
                    raise ServerError(
                        "This model does not support images",
                        cause=f"The chat contains the image {part.name!r}, but the model "
                        "has no vision projector (mmproj) beside it.",
                        suggestion="Use a vision model, or remove the image from the chat.",
                    )
                else:
                    prepared.dropped_files.append(part)
            elif isinstance(part, ToolCallRequestPart):
                call = part.tool_call_request
                if native_tools:
                    tool_calls.append(
                        {
                            "id": call.id or "",
                            "type": "function",
                            "function": {"name": call.name, "arguments": call.arguments or {}},
                        }
                    )
                else:
                    pieces.append(format_tool_call(call.name, call.arguments))
        content = "\n".join(pieces)
        if message.role == "user" and not native_tools:
            _append_merged(out, "user", content)
            continue
        entry = {"role": message.role, "content": content}
        if tool_calls:
            entry["tool_calls"] = tool_calls
        out.append(entry)

    if system_prompt and not any(m["role"] == "system" for m in out):
        out.insert(0, {"role": "system", "content": system_prompt})
    if tools and not native_tools:
        instructions = tool_system_prompt(tools)
        if out and out[0]["role"] == "system":
            existing = out[0]["content"]
            out[0]["content"] = f"{existing}\n\n{instructions}" if existing else instructions
        else:
            out.insert(0, {"role": "system", "content": instructions})
    return prepared


def _append_merged(out: list[dict[str, Any]], role: str, content: str) -> None:
    # Many templates insist that user and assistant turns alternate; merge adjacent user turns
    # (a tool result followed by the user's next question, say).
    if out and out[-1]["role"] == role and "tool_calls" not in out[-1]:
        out[-1]["content"] = f"{out[-1]['content']}\n\n{content}"
    else:
        out.append({"role": role, "content": content})


# -- Jinja rendering ---------------------------------------------------------------------------


def _environment() -> Any:
    import jinja2
    import jinja2.ext
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    env = ImmutableSandboxedEnvironment(
        trim_blocks=True,
        lstrip_blocks=True,
        extensions=[jinja2.ext.loopcontrols],
        undefined=jinja2.Undefined,
    )

    def tojson(value: Any, indent: int | None = None, ensure_ascii: bool = False, **_: Any) -> str:
        return json.dumps(value, indent=indent, ensure_ascii=ensure_ascii)

    env.filters["tojson"] = tojson
    return env


_ENV: Any = None
_TEMPLATE_CACHE: dict[str, Any] = {}


def _compile(template: str) -> Any:
    global _ENV
    compiled = _TEMPLATE_CACHE.get(template)
    if compiled is None:
        if _ENV is None:
            _ENV = _environment()
        try:
            compiled = _ENV.from_string(template)
        except Exception as exc:
            raise ServerError("The model's chat template cannot be parsed", cause=str(exc)) from exc
        if len(_TEMPLATE_CACHE) > 32:
            _TEMPLATE_CACHE.clear()
        _TEMPLATE_CACHE[template] = compiled
    return compiled


def _raise_exception(message: str) -> None:
    raise ServerError("The chat template rejected this conversation", cause=message)


def render_template(
    template: str,
    messages: list[dict[str, Any]],
    *,
    bos_token: str,
    eos_token: str,
    tools: Sequence[dict[str, Any]] | None = None,
    add_generation_prompt: bool = True,
    extra: dict[str, Any] | None = None,
) -> str:
    compiled = _compile(template)
    try:
        rendered: str = compiled.render(
            messages=messages,
            bos_token=bos_token,
            eos_token=eos_token,
            add_generation_prompt=add_generation_prompt,
            tools=list(tools) if tools else None,
            raise_exception=_raise_exception,
            strftime_now=lambda fmt: datetime.now().strftime(fmt),
            **(extra or {}),
        )
    except ServerError:
        raise
    except Exception as exc:
        raise ServerError("The chat template failed to render", cause=str(exc)) from exc
    return rendered


def build_prompt(
    template: str,
    messages: list[dict[str, Any]],
    *,
    bos_token: str,
    eos_token: str,
    tools: Sequence[dict[str, Any]] | None = None,
    protected: Sequence[str] = (),
    extra: dict[str, Any] | None = None,
) -> list[Segment]:
    """Render and split the prompt into template and conversation pieces.

    Each message's ``content`` is replaced by a sentinel, rendered, and the sentinels are then
    swapped back; if the template transforms content (``| trim`` etc.) so that this does not
    reproduce the real rendering, the contents are located in the real rendering instead.
    ``protected`` are extra strings (such as image markers) that stay template-side.
    """
    real = render_template(
        template, messages, bos_token=bos_token, eos_token=eos_token, tools=tools, extra=extra
    )
    contents = [m["content"] for m in messages if isinstance(m.get("content"), str)]
    sentinel_messages = []
    index = 0
    for m in messages:
        copy = dict(m)
        if isinstance(m.get("content"), str):
            copy["content"] = f"\x1eLMSSEG{index}\x1f"
            index += 1
        sentinel_messages.append(copy)
    segments: list[Segment] | None = None
    try:
        masked = render_template(
            template,
            sentinel_messages,
            bos_token=bos_token,
            eos_token=eos_token,
            tools=tools,
            extra=extra,
        )
    except ServerError:
        masked = None
    if masked is not None:
        parts = re.split(r"\x1eLMSSEG(\d+)\x1f", masked)
        candidate: list[Segment] = []
        for i, part in enumerate(parts):
            if i % 2 == 0:
                candidate.append(Segment(part, True))
            else:
                candidate.append(Segment(contents[int(part)], False))
        if "".join(s.text for s in candidate) == real:
            segments = candidate
    if segments is None:
        segments = _locate_contents(real, contents)
    return _split_protected(segments, protected)


def _locate_contents(real: str, contents: Sequence[str]) -> list[Segment]:
    segments: list[Segment] = []
    cursor = 0
    for content in contents:
        for needle in (content, content.strip()):
            if not needle:
                break
            idx = real.find(needle, cursor)
            if idx >= 0:
                segments.append(Segment(real[cursor:idx], True))
                segments.append(Segment(needle, False))
                cursor = idx + len(needle)
                break
    segments.append(Segment(real[cursor:], True))
    return segments


def _split_protected(segments: list[Segment], protected: Sequence[str]) -> list[Segment]:
    if not protected:
        return [s for s in segments if s.text]
    pattern = re.compile("(" + "|".join(re.escape(p) for p in protected) + ")")
    out: list[Segment] = []
    for seg in segments:
        if seg.from_template:
            out.append(seg)
            continue
        for i, piece in enumerate(pattern.split(seg.text)):
            out.append(Segment(piece, i % 2 == 1))
    return [s for s in out if s.text]


def manual_template_prompt(spec: dict[str, Any], messages: list[dict[str, Any]]) -> list[Segment]:
    """LM Studio's "manual" prompt template (before/after strings per role)."""
    segments: list[Segment] = []
    for m in messages:
        role = m["role"] if m["role"] in ("system", "user", "assistant") else "user"
        cap = role.capitalize()
        segments.append(Segment(str(spec.get(f"before{cap}", "")), True))
        segments.append(Segment(str(m.get("content", "")), False))
        segments.append(Segment(str(spec.get(f"after{cap}", "")), True))
    segments.append(Segment(str(spec.get("beforeAssistant", "")), True))
    return [s for s in segments if s.text]
