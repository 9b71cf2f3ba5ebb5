"""Tool prompting, output parsing (tool calls, reasoning) and grammar glue for local engines.

LM Studio's ``.act()`` needs tool calls from models whose chat template knows nothing about
tools (SmolLM2's ChatML template ignores ``tools``). So the engine does its own prompting:
the tool definitions and a fixed call format go into the system message, and the model's
output is scanned for

    <tool_call>
    {"name": "<tool name>", "arguments": {...}}
    </tool_call>

(the Hermes/Qwen convention, which many instruction-tuned models follow natively). When the
client requires a tool call (``toolChoice: required``), a GBNF grammar forces exactly that
shape, so a round trip works even with a 135M model.

:class:`OutputParser` turns the streamed text into engine events: plain fragments, reasoning
fragments (``<think>`` … ``</think>`` by default), and tool-call events, holding back text
that might be the start of a tag until the next token decides.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ...._protocol.packets.shared import ToolCallRequest
from ..base import (
    EngineEvent,
    FragmentGenerated,
    ToolCallArgumentFragment,
    ToolCallEnded,
    ToolCallFailed,
    ToolCallNameReceived,
    ToolCallStarted,
)

__all__ = [
    "TOOL_CALL_CLOSE",
    "TOOL_CALL_OPEN",
    "OutputParser",
    "ReasoningTags",
    "format_tool_call",
    "format_tool_result",
    "json_schema_grammar",
    "tool_call_grammar",
    "tool_system_prompt",
    "tools_from_config",
]

TOOL_CALL_OPEN = "<tool_call>"
TOOL_CALL_CLOSE = "</tool_call>"


def tools_from_config(value: Any) -> list[dict[str, Any]]:
    """The ``LLMTool`` list of an ``llm.prediction.tools`` value (``[]`` for none)."""
    if not isinstance(value, dict) or value.get("type") != "toolArray":
        return []
    tools = value.get("tools")
    if not isinstance(tools, list):
        return []
    return [t for t in tools if isinstance(t, dict) and isinstance(t.get("function"), dict)]


def tool_system_prompt(tools: Sequence[dict[str, Any]]) -> str:
    """The instruction block that teaches a model the tool-call format."""
    lines = [
        "# Tools",
        "",
        "You can call the functions described below when they help to answer the user.",
        "Their signatures, as JSON, are listed between <tools> and </tools>:",
        "<tools>",
    ]
    lines.extend(json.dumps(tool, ensure_ascii=False) for tool in tools)
    lines += [
        "</tools>",
        "",
        "To call a function, reply with a JSON object holding its name and its arguments,",
        f"between {TOOL_CALL_OPEN} and {TOOL_CALL_CLOSE}, like this:",
        TOOL_CALL_OPEN,
        '{"name": "<function name>", "arguments": {<arguments as JSON>}}',
        TOOL_CALL_CLOSE,
        "The result of a call comes back between <tool_response> and </tool_response>.",
    ]
    return "\n".join(lines)


def format_tool_call(name: str, arguments: dict[str, Any] | None) -> str:
    """An earlier tool call, written back into an assistant message."""
    payload = json.dumps({"name": name, "arguments": arguments or {}}, ensure_ascii=False)
    return f"{TOOL_CALL_OPEN}\n{payload}\n{TOOL_CALL_CLOSE}"


def format_tool_result(content: str) -> str:
    """A tool result, for templates without a ``tool`` role."""
    return f"<tool_response>\n{content}\n</tool_response>"


# -- grammars ----------------------------------------------------------------------------------


# llama-cpp-python's schema converter (0.3.x) writes the character of a JSON string as
# ``[^"\\]``, which admits the raw control characters U+0000-U+001F that JSON forbids inside a
# string: a sampled newline inside a value ended in output no JSON parser accepts (about one
# reply in 30 at temperature 0.8 with SmolLM2). llama.cpp's own converter excludes them; so do
# we, in every rule of that shape (``char``, ``string-char``, …).
_LOOSE_STRING_CHAR = re.compile(r'^([\w-]*char ::= )\[\^"\\\\\]', re.MULTILINE)
_STRICT_STRING_CHAR = r'\1[^"\\\\\\x7F\\x00-\\x1F]'


def strict_json_strings(grammar: str) -> str:
    """The grammar with JSON strings that cannot contain raw control characters."""
    return _LOOSE_STRING_CHAR.sub(_STRICT_STRING_CHAR, grammar)


def json_schema_grammar(schema: Any) -> str:
    """GBNF for a JSON schema (llama-cpp-python's converter, with strict JSON strings)."""
    from llama_cpp.llama_grammar import json_schema_to_gbnf

    if schema is True or schema == {}:
        schema = {"type": "object"}
    return strict_json_strings(json_schema_to_gbnf(json.dumps(schema)))


def tool_call_grammar(tools: Sequence[dict[str, Any]]) -> str:
    """GBNF accepting exactly one ``<tool_call>{"name": …, "arguments": …}</tool_call>``.

    The arguments must match the chosen tool's parameter schema.
    """
    from llama_cpp.llama_grammar import json_schema_to_gbnf

    alternatives = []
    for tool in tools:
        fn = tool["function"]
        params = fn.get("parameters") or {"type": "object", "properties": {}}
        alternatives.append(
            {
                "type": "object",
                "properties": {"name": {"const": fn["name"]}, "arguments": params},
                "required": ["name", "arguments"],
            }
        )
    schema: dict[str, Any] = alternatives[0] if len(alternatives) == 1 else {"anyOf": alternatives}
    body = strict_json_strings(
        json_schema_to_gbnf(json.dumps(schema), prop_order=["name", "arguments"])
    )
    body = re.sub(r"^root ::=", "tool-call-json ::=", body, flags=re.MULTILINE)
    open_lit = json.dumps(TOOL_CALL_OPEN + "\n")
    close_lit = json.dumps("\n" + TOOL_CALL_CLOSE)
    return f"root ::= {open_lit} tool-call-json {close_lit}\n{body}"


# -- output parsing ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReasoningTags:
    start: str = "<think>"
    end: str = "</think>"


_NAME_RE = re.compile(r'"name"\s*:\s*"((?:[^"\\]|\\.)*)"')
_ARGS_RE = re.compile(r'"arguments"\s*:\s*')


class OutputParser:
    """Incremental splitter of model output into fragments and tool-call events.

    Call :meth:`feed` with each decoded piece (``tokens`` = how many tokens produced it) and
    :meth:`finish` at the end. Token counts are attributed to the first fragment emitted after
    they were fed, so the fragments' counts add up to the tokens that produced visible text.
    """

    def __init__(
        self,
        *,
        reasoning: ReasoningTags | None = None,
        parse_tools: bool = False,
        start_in_reasoning: bool = False,
        tool_names: Mapping[str, str] | None = None,
    ) -> None:
        self._reasoning = reasoning
        self._parse_tools = parse_tools
        # toolNaming: the model writes the names it was shown; calls carry the tools' own.
        self._tool_names = dict(tool_names or {})
        self._state = "reasoning" if (start_in_reasoning and reasoning) else "text"
        self._buf = ""
        self._pending_tokens = 0
        self._tool_buf = ""
        self._tool_name_sent = False
        self._tool_args_sent = 0  # characters of the raw arguments already streamed
        self.tool_calls: list[ToolCallRequest] = []
        self.failed_tool_calls = 0

    # -- public ---------------------------------------------------------------------------

    def feed(self, text: str, tokens: int = 1) -> list[EngineEvent]:
        self._pending_tokens += tokens
        self._buf += text
        events: list[EngineEvent] = []
        self._drain(events, final=False)
        return events

    def finish(self) -> list[EngineEvent]:
        events: list[EngineEvent] = []
        self._drain(events, final=True)
        if self._state == "tool":
            self._end_tool_call(events, closed=False)
            self._state = "text"
        if self._pending_tokens and events:
            pass  # counts already attributed to emitted fragments
        return events

    @property
    def in_reasoning(self) -> bool:
        return self._state == "reasoning"

    @property
    def in_tool_call(self) -> bool:
        return self._state == "tool"

    # -- internals ------------------------------------------------------------------------

    def _fragment(self, events: list[EngineEvent], content: str, reasoning_type: str) -> None:
        if not content:
            return
        events.append(
            FragmentGenerated(
                content=content,
                tokens_count=self._pending_tokens,
                reasoning_type=reasoning_type,
            )
        )
        self._pending_tokens = 0

    def _markers(self) -> list[tuple[str, str]]:
        if self._state == "text":
            found = []
            if self._reasoning:
                found.append((self._reasoning.start, "reasoning_start"))
            if self._parse_tools:
                found.append((TOOL_CALL_OPEN, "tool_open"))
            return found
        if self._state == "reasoning":
            assert self._reasoning is not None
            return [(self._reasoning.end, "reasoning_end")]
        return [(TOOL_CALL_CLOSE, "tool_close")]

    def _drain(self, events: list[EngineEvent], *, final: bool) -> None:
        while True:
            markers = self._markers()
            best: tuple[int, str, str] | None = None
            for marker, kind in markers:
                idx = self._buf.find(marker)
                if idx >= 0 and (best is None or idx < best[0]):
                    best = (idx, marker, kind)
            if best is None:
                hold = 0 if final else _partial_suffix(self._buf, [m for m, _ in markers])
                emit = self._buf[: len(self._buf) - hold]
                self._buf = self._buf[len(self._buf) - hold :]
                self._emit_body(events, emit)
                return
            idx, marker, kind = best
            self._emit_body(events, self._buf[:idx])
            self._buf = self._buf[idx + len(marker) :]
            if kind == "reasoning_start":
                self._fragment(events, marker, "reasoningStartTag")
                self._state = "reasoning"
            elif kind == "reasoning_end":
                self._fragment(events, marker, "reasoningEndTag")
                self._state = "text"
            elif kind == "tool_open":
                events.append(ToolCallStarted(tool_call_id=None))
                self._pending_tokens = 0
                self._tool_buf = ""
                self._tool_name_sent = False
                self._tool_args_sent = 0
                self._state = "tool"
            else:  # tool_close
                self._end_tool_call(events, closed=True)
                self._state = "text"

    def _emit_body(self, events: list[EngineEvent], text: str) -> None:
        if not text:
            return
        if self._state == "text":
            self._fragment(events, text, "none")
        elif self._state == "reasoning":
            self._fragment(events, text, "reasoning")
        else:
            self._tool_buf += text
            self._stream_tool(events)

    def _stream_tool(self, events: list[EngineEvent]) -> None:
        self._pending_tokens = 0
        if not self._tool_name_sent:
            m = _NAME_RE.search(self._tool_buf)
            if m is None:
                return
            try:
                name = json.loads(f'"{m.group(1)}"')
            except json.JSONDecodeError:
                name = m.group(1)
            name = self._tool_names.get(str(name), str(name))
            events.append(ToolCallNameReceived(name=name))
            self._tool_name_sent = True
        m_args = _ARGS_RE.search(self._tool_buf)
        if m_args is None:
            return
        raw = self._tool_buf[m_args.end() :]
        # Hold back a possible closing brace of the outer object (and whitespace before it).
        stripped = raw.rstrip()
        safe_len = len(stripped) - 1 if stripped.endswith("}") else len(stripped)
        safe_len = max(safe_len, self._tool_args_sent)
        if safe_len > self._tool_args_sent:
            events.append(ToolCallArgumentFragment(content=raw[self._tool_args_sent : safe_len]))
            self._tool_args_sent = safe_len

    def _end_tool_call(self, events: list[EngineEvent], *, closed: bool) -> None:
        raw = self._tool_buf.strip()
        self._tool_buf = ""
        try:
            payload = json.loads(raw)
        except json.JSONDecodeError:
            payload = None
        name = payload.get("name") if isinstance(payload, dict) else None
        arguments = payload.get("arguments", {}) if isinstance(payload, dict) else None
        if isinstance(arguments, str):
            try:
                arguments = json.loads(arguments)
            except json.JSONDecodeError:
                arguments = None
        if not isinstance(name, str) or not isinstance(arguments, dict):
            self.failed_tool_calls += 1
            reason = "is not valid JSON" if payload is None else "lacks a name or arguments"
            if not closed:
                reason = f"was cut off ({reason})"
            events.append(ToolCallFailed(title=f"The model's tool call {reason}", raw_content=raw))
            return
        name = self._tool_names.get(name, name)
        if not self._tool_name_sent:
            events.append(ToolCallNameReceived(name=name))
        # Stream whatever part of the raw arguments text was held back.
        m_args = _ARGS_RE.search(raw)
        if m_args is not None:
            tail = raw[m_args.end() :].rstrip()
            tail = tail[:-1] if tail.endswith("}") else tail
            if len(tail) > self._tool_args_sent:
                events.append(ToolCallArgumentFragment(content=tail[self._tool_args_sent :]))
        request = ToolCallRequest(
            name=name, arguments=arguments, id=f"call_{uuid.uuid4().hex[:24]}"
        )
        self.tool_calls.append(request)
        events.append(ToolCallEnded(request=request, raw_content=raw))


def _partial_suffix(text: str, markers: Sequence[str]) -> int:
    """Length of the longest suffix of ``text`` that is a proper prefix of a marker."""
    best = 0
    for marker in markers:
        for n in range(min(len(marker) - 1, len(text)), best, -1):
            if text.endswith(marker[:n]):
                best = n
                break
    return best
