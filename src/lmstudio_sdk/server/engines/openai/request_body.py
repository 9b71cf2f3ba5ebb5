"""LM Studio's prediction config and chat → an OpenAI-compatible request body.

Standard fields (temperature, top_p, max_tokens, seed, penalties, tools, tool_choice,
response_format) go where the OpenAI API puts them; llama.cpp-style samplers
(top_k, min_p, repeat_penalty) go in the body as extra fields, which vLLM, SGLang and the
llama.cpp servers read and strict servers ignore. Stop strings are matched here, not upstream,
so that the stop reason can say which one ended the reply.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ...._protocol.packets.shared import (
    ChatHistoryData,
    ChatMessageData,
    FilePart,
    KVConfig,
    TextPart,
    ToolCallRequestPart,
    ToolCallResultPart,
)
from ...errors import ServerError

__all__ = [
    "PredictionSettings",
    "chat_body",
    "completion_body",
    "legacy_response_format",
    "settings_from_config",
]

P = "llm.prediction."


# Streamed, with the token counts in a last chunk where the upstream offers that (vLLM,
# SGLang, llama-server); others ignore the option and the engine counts itself.
_STREAM: dict[str, Any] = {"stream": True, "stream_options": {"include_usage": True}}


def _checkbox(value: Any) -> tuple[bool, Any]:
    """``(checked, value)`` of a checkbox value; plain values count as checked."""
    if isinstance(value, dict) and "checked" in value:
        return bool(value["checked"]), value.get("value")
    return value is not None, value


def _number(value: Any) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None


@dataclass(slots=True)
class PredictionSettings:
    """What one prediction asks of the upstream, and what the engine checks itself."""

    body: dict[str, Any] = field(default_factory=dict)
    stop_strings: list[str] = field(default_factory=list)
    max_tokens: int | None = None
    tools: list[dict[str, Any]] = field(default_factory=list)
    #: ``llm.prediction.logProbs``: None (off), else how many top alternatives per token.
    logprobs: int | None = None


def settings_from_config(config: KVConfig) -> PredictionSettings:
    s = PredictionSettings()
    body = s.body
    temperature = _number(config.get(P + "temperature"))
    if temperature is not None:
        body["temperature"] = max(temperature, 0.0)
    for key, name, off in (
        ("topPSampling", "top_p", None),
        ("minPSampling", "min_p", None),
        ("repeatPenalty", "repeat_penalty", None),
        ("llama.presencePenalty", "presence_penalty", None),
        ("llama.frequencyPenalty", "frequency_penalty", None),
    ):
        checked, value = _checkbox(config.get(P + key))
        number = _number(value)
        if checked and number is not None and number != off:
            body[name] = number
    top_k = _number(config.get(P + "topKSampling"))
    if top_k is not None and top_k > 0:
        body["top_k"] = int(top_k)
    checked, seed = _checkbox(config.get(P + "seed"))
    if checked and isinstance(seed, int) and seed >= 0:
        body["seed"] = seed
    checked, limit = _checkbox(config.get(P + "maxPredictedTokens"))
    if checked and isinstance(limit, int) and limit > 0:
        s.max_tokens = body["max_tokens"] = limit
    stops = config.get(P + "stopStrings")
    if isinstance(stops, list):
        s.stop_strings = [x for x in stops if isinstance(x, str) and x]
    structured = config.get(P + "structured")
    if isinstance(structured, dict) and structured.get("type") == "json":
        schema = structured.get("jsonSchema")
        body["response_format"] = (
            {"type": "json_schema", "json_schema": {"name": "response", "schema": schema}}
            if isinstance(schema, dict)
            else {"type": "json_object"}
        )
    elif isinstance(structured, dict) and structured.get("type") == "gbnf":
        body["grammar"] = structured.get("gbnfGrammar")  # llama.cpp servers read this
    checked, top = _checkbox(config.get(P + "logProbs"))
    if checked and isinstance(top, int) and not isinstance(top, bool) and top >= 0:
        s.logprobs = min(top, 20)  # the OpenAI API's limit
        body["logprobs"] = True
        body["top_logprobs"] = s.logprobs
    bias = config.get(P + "llama.logitBias")
    if isinstance(bias, list) and bias:
        # OpenAI's shape: token id (as a string) -> bias in [-100, 100]; -100 bans.
        body["logit_bias"] = {
            str(item[0]): -100.0 if item[1] == "-inf" else max(-100.0, min(100.0, item[1]))
            for item in bias
            if isinstance(item, list | tuple)
            and len(item) == 2
            and isinstance(item[0], int)
            and (item[1] == "-inf" or _number(item[1]) is not None)
        }
    _add_tools(s, config)
    return s


def _add_tools(s: PredictionSettings, config: KVConfig) -> None:
    setting = config.get(P + "tools")
    if not isinstance(setting, dict) or setting.get("type") != "toolArray":
        return
    tools = [t for t in setting.get("tools") or [] if isinstance(t, dict)]
    s.tools = [t for t in tools if isinstance(t.get("function"), dict)]
    if not s.tools:
        return
    s.body["tools"] = [{"type": "function", "function": t["function"]} for t in s.tools]
    choice = config.get(P + "toolChoice")
    mode = choice.get("mode") if isinstance(choice, dict) else choice
    if mode == "required" and len(s.tools) == 1:
        # The same demand, in the form every upstream honours (llama-cpp-python ignores
        # "required" but forces a named function).
        name = s.tools[0]["function"].get("name")
        s.body["tool_choice"] = {"type": "function", "function": {"name": name}}
    elif mode in ("none", "auto", "required"):
        s.body["tool_choice"] = mode
    elif isinstance(choice, dict) and isinstance(choice.get("name"), str):
        s.body["tool_choice"] = {"type": "function", "function": {"name": choice["name"]}}


def _image_url(part: FilePart, files: Mapping[str, bytes]) -> dict[str, Any]:
    data = files.get(part.identifier)
    if data is None:
        raise ServerError(f"The image {part.name!r} is not available to the engine")
    kind = part.name.rsplit(".", 1)[-1].lower() if "." in part.name else "png"
    mime = "image/jpeg" if kind in ("jpg", "jpeg") else f"image/{kind}"
    encoded = base64.b64encode(data).decode("ascii")
    return {"type": "image_url", "image_url": {"url": f"data:{mime};base64,{encoded}"}}


def _message(message: ChatMessageData, files: Mapping[str, bytes]) -> list[dict[str, Any]]:
    """One LM Studio message → one OpenAI message (or several: one per tool result)."""
    if message.role == "tool":
        return [
            {"role": "tool", "tool_call_id": p.tool_call_id or "", "content": p.content}
            for p in message.content
            if isinstance(p, ToolCallResultPart)
        ]
    text = "".join(p.text for p in message.content if isinstance(p, TextPart))
    images = [p for p in message.content if isinstance(p, FilePart) and p.file_type == "image"]
    out: dict[str, Any] = {"role": message.role}
    if images:
        out["content"] = [{"type": "text", "text": text}] + [_image_url(p, files) for p in images]
    else:
        out["content"] = text
    calls = [p.tool_call_request for p in message.content if isinstance(p, ToolCallRequestPart)]
    if calls:
        out["tool_calls"] = [
            {
                "id": call.id or f"call_{index}",
                "type": "function",
                "function": {"name": call.name, "arguments": json.dumps(call.arguments or {})},
            }
            for index, call in enumerate(calls)
        ]
    return [out]


def chat_body(
    model: str, history: ChatHistoryData, settings: PredictionSettings, files: Mapping[str, bytes]
) -> dict[str, Any]:
    messages = [m for message in history.messages for m in _message(message, files)]
    return {"model": model, "messages": messages, **_STREAM, **settings.body}


def completion_body(model: str, prompt: str, settings: PredictionSettings) -> dict[str, Any]:
    body = {k: v for k, v in settings.body.items() if k not in ("tools", "tool_choice")}
    body.pop("response_format", None)  # not part of /v1/completions
    body.pop("top_logprobs", None)
    if settings.logprobs is not None:
        body["logprobs"] = settings.logprobs  # /v1/completions takes the count here
    return {"model": model, "prompt": prompt, **_STREAM, **body}


def legacy_response_format(body: dict[str, Any]) -> dict[str, Any] | None:
    """The body with llama-cpp-python's older shape of a JSON schema response format
    (``{"type": "json_object", "schema": …}``), for upstreams that refuse ``json_schema``;
    None when the body asks for no schema."""
    requested = body.get("response_format")
    if not isinstance(requested, dict) or requested.get("type") != "json_schema":
        return None
    schema = (requested.get("json_schema") or {}).get("schema")
    return {**body, "response_format": {"type": "json_object", "schema": schema}}
