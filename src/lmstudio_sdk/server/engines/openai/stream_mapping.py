"""OpenAI stream chunks (chat or text completion) → the engine's prediction events.

Content deltas become fragments (one token each: servers send one delta per sampled token),
``reasoning_content`` deltas reasoning fragments, tool-call deltas LM Studio's tool-call events
(started, name, argument fragments, then ended or failed once the arguments are complete),
``finish_reason`` the stop reason, ``usage`` the token counts.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Any

from ...._protocol.packets.shared import ToolCallRequest
from ...errors import ServerError
from ..base import (
    EngineEvent,
    FragmentGenerated,
    TokenLogProb,
    ToolCallArgumentFragment,
    ToolCallEnded,
    ToolCallFailed,
    ToolCallNameReceived,
    ToolCallStarted,
)
from ..stop_strings import StopStringStreamer

__all__ = ["ChunkMapper", "upstream_logprobs"]

# finish_reason → LM Studio stop reason ("length" depends on the token limit: see stop_reason).
_STOP_REASONS = {
    "stop": "eosFound",
    "eos": "eosFound",
    "tool_calls": "toolCalls",
    "function_call": "toolCalls",
    "content_filter": "failed",
}


@dataclass(slots=True)
class _ToolCall:
    id: str | None = None
    name: str = ""
    arguments: str = ""
    named: bool = False


class ChunkMapper:
    """Feed it every chunk of one choice-0 stream, then ``finish()``."""

    def __init__(
        self, stop_strings: list[str], max_tokens: int | None, *, logprobs: bool = False
    ) -> None:
        self._logprobs = logprobs
        self._pending_logprobs: list[TokenLogProb] = []
        self._stream = StopStringStreamer(stop_strings)
        self._max_tokens = max_tokens
        self._calls: dict[int, _ToolCall] = {}
        self.deltas = 0
        self.usage: dict[str, Any] = {}
        self.finish_reason: str | None = None
        self.stop_string: str | None = None

    @property
    def stopped(self) -> bool:
        """A stop string ended the reply: stop reading (and close the upstream stream)."""
        return self.stop_string is not None

    def feed(self, chunk: Any) -> list[EngineEvent]:
        events = self._feed(chunk)
        if not self._logprobs:
            return events
        if isinstance(chunk, dict) and isinstance(chunk.get("choices"), list) and chunk["choices"]:
            choice = chunk["choices"][0]
            if isinstance(choice, dict):
                self._pending_logprobs += upstream_logprobs(choice.get("logprobs"))
        return self._with_logprobs(events)

    def _with_logprobs(self, events: list[EngineEvent]) -> list[EngineEvent]:
        """Each fragment carries the tokens the upstream sent since the previous one."""
        out: list[EngineEvent] = []
        for event in events:
            if isinstance(event, FragmentGenerated):
                event = dataclasses.replace(event, tokens=tuple(self._pending_logprobs))
                self._pending_logprobs = []
            out.append(event)
        return out

    def _feed(self, chunk: Any) -> list[EngineEvent]:
        if not isinstance(chunk, dict):
            return []
        if isinstance(chunk.get("error"), dict | str):
            error = chunk["error"]
            message = error.get("message") if isinstance(error, dict) else error
            raise ServerError(f"The upstream failed during the prediction: {message}")
        if isinstance(chunk.get("usage"), dict):
            self.usage = chunk["usage"]
        choices = chunk.get("choices")
        if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
            return []
        choice = choices[0]
        events: list[EngineEvent] = []
        delta = choice.get("delta")
        if isinstance(delta, dict):
            events += self._text(delta.get("reasoning_content"), "reasoning")
            events += self._text(delta.get("content"), "none")
            for call in delta.get("tool_calls") or []:
                if isinstance(call, dict):
                    events += self._tool_delta(call)
        else:  # /v1/completions
            events += self._text(choice.get("text"), "none")
        if isinstance(choice.get("finish_reason"), str):
            self.finish_reason = choice["finish_reason"]
        return events

    def _text(self, text: Any, reasoning_type: str) -> list[EngineEvent]:
        if not isinstance(text, str) or not text or self.stopped:
            return []
        self.deltas += 1
        fragments, found = self._stream.push(text, reasoning_type)
        if found is not None:
            self.stop_string = found
        return list(fragments)

    def _tool_delta(self, delta: dict[str, Any]) -> list[EngineEvent]:
        index = delta.get("index", 0)
        events: list[EngineEvent] = []
        call = self._calls.get(index)
        if call is None:
            events += self._stream.flush()
            call = self._calls[index] = _ToolCall(id=delta.get("id"))
            events.append(ToolCallStarted(call.id))
        function = delta.get("function") or {}
        name = function.get("name")
        # A name may arrive in pieces before the arguments; some servers (llama-cpp-python)
        # repeat the whole name in every delta.
        if isinstance(name, str) and not call.named and name != call.name:
            call.name += name
        arguments = function.get("arguments")
        if isinstance(arguments, dict):  # some servers send the object, not its JSON
            arguments = json.dumps(arguments)
        if isinstance(arguments, str) and arguments:
            if not call.named and call.name:
                call.named = True
                events.append(ToolCallNameReceived(call.name))
            call.arguments += arguments
            self.deltas += 1
            events.append(ToolCallArgumentFragment(arguments))
        return events

    def finish(self, *, cancelled: bool = False) -> list[EngineEvent]:
        """What is still held back, and the end of every tool call (not when cancelled)."""
        events: list[EngineEvent] = list(self._stream.flush()) if not self.stopped else []
        if self._logprobs:
            events = self._with_logprobs(events)
        if cancelled:
            return events
        for call in self._calls.values():
            if not call.named and call.name:
                events.append(ToolCallNameReceived(call.name))
            raw = json.dumps({"name": call.name, "arguments": call.arguments or "{}"})
            try:
                arguments = json.loads(call.arguments or "{}")
            except ValueError as exc:
                events.append(ToolCallFailed(f"The tool call arguments are not JSON: {exc}", raw))
                continue
            if not call.name or not isinstance(arguments, dict):
                events.append(ToolCallFailed("The upstream sent an incomplete tool call", raw))
                continue
            request = ToolCallRequest(name=call.name, arguments=arguments, id=call.id)
            events.append(ToolCallEnded(request, raw))
        return events

    def predicted_tokens(self) -> int:
        reported = self.usage.get("completion_tokens")
        if isinstance(reported, int) and reported > 0:
            return reported
        if self.finish_reason == "length" and self._max_tokens is not None:
            return self._max_tokens  # the upstream stopped exactly at the limit
        return self.deltas

    def stop_reason(self) -> str:
        if self.stop_string is not None:
            return "stopStringFound"
        if self._calls:
            return "toolCalls"
        if self.finish_reason == "length":
            limited = self._max_tokens is not None and self.predicted_tokens() >= self._max_tokens
            return "maxPredictedTokensReached" if limited else "contextLengthReached"
        return _STOP_REASONS.get(self.finish_reason or "stop", "eosFound")


def upstream_logprobs(logprobs: Any) -> list[TokenLogProb]:
    """A chunk's ``logprobs`` as tokens: the chat shape (``content: [{token, logprob,
    top_logprobs}]``) or the completions one (``tokens``, ``token_logprobs``,
    ``top_logprobs: [{token: logprob}]``). OpenAI's API sends no token ids: they are -1."""
    out: list[TokenLogProb] = []
    if not isinstance(logprobs, dict):
        return out
    content = logprobs.get("content")
    if isinstance(content, list):
        for item in content:
            if isinstance(item, dict) and isinstance(item.get("token"), str):
                top = item.get("top_logprobs")
                if not isinstance(top, list):
                    top = []
                candidates = tuple(
                    (c["token"], -1, float(c["logprob"]))
                    for c in top
                    if isinstance(c, dict)
                    and isinstance(c.get("token"), str)
                    and isinstance(c.get("logprob"), int | float)
                )
                logprob = item.get("logprob")
                if isinstance(logprob, int | float):
                    out.append(TokenLogProb(item["token"], -1, float(logprob), candidates))
        return out
    tokens, values = logprobs.get("tokens"), logprobs.get("token_logprobs")
    tops = logprobs.get("top_logprobs")
    if isinstance(tokens, list) and isinstance(values, list):
        for i, (token, value) in enumerate(zip(tokens, values, strict=False)):
            if not isinstance(token, str) or not isinstance(value, int | float):
                continue
            top = tops[i] if isinstance(tops, list) and i < len(tops) else None
            candidates = (
                tuple(
                    sorted(
                        (
                            (t, -1, float(lp))
                            for t, lp in (top or {}).items()
                            if isinstance(lp, int | float)
                        ),
                        key=lambda c: -c[2],
                    )
                )
                if isinstance(top, dict)
                else ()
            )
            out.append(TokenLogProb(token, -1, float(value), candidates))
    return out
