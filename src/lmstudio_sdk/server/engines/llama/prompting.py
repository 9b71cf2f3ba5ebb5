"""A chat or raw prompt as the tokens a loaded model evaluates, fitted into its context."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from ...._protocol.packets.shared import ChatHistoryData
from ...errors import ServerError, unsupported_feature
from .instance import LlamaInstance
from .sampling import SamplingParams
from .templates import (
    PreparedChat,
    Segment,
    build_prompt,
    manual_template_prompt,
    prepare_messages,
)

__all__ = ["fit_history", "fit_tokens", "prompt_segments", "tokens_of"]

_log = logging.getLogger("lmstudio_sdk.server.engines.llama")


def prompt_segments(
    m: LlamaInstance, params: SamplingParams, history: ChatHistoryData, marker: str | None
) -> tuple[list[Segment], PreparedChat, bool]:
    template_spec = params.prompt_template
    use_tools = bool(params.tools) and params.tool_choice != "none"
    if template_spec is not None and template_spec.get("type") == "jinja":
        jinja = template_spec.get("jinjaPromptTemplate") or {}
        template = str(jinja.get("template") or "")
        if not template:
            raise ServerError("The prompt template in the prediction config is empty")
        bos = str(jinja.get("bosToken", m._bos_text))
        eos = str(jinja.get("eosToken", m._eos_text))
    elif template_spec is not None:
        template, bos, eos = "", m._bos_text, m._eos_text
    else:
        template = m._chat_template()
        bos, eos = m._bos_text, m._eos_text
    native = bool(template) and m._native_tools(template)
    extra = _thinking_variables(template, params)
    prepared = prepare_messages(
        history,
        native_tools=native,
        tools=params.tools if use_tools else (),
        system_prompt=params.system_prompt,
        image_marker=marker,
    )
    if prepared.dropped_files:
        names = ", ".join(f.name for f in prepared.dropped_files)
        _log.warning(
            "%s: file parts other than images are not supported; dropped %s",
            m.info.model_key,
            names,
        )
    if template_spec is not None and template_spec.get("type") == "manual":
        spec = template_spec.get("manualPromptTemplate") or {}
        segments = manual_template_prompt(spec, prepared.messages)
    else:
        extra_tools = params.tools if (use_tools and native) else None
        segments = build_prompt(
            template,
            prepared.messages,
            bos_token=bos,
            eos_token=eos,
            tools=extra_tools,
            protected=(marker,) if marker else (),
            extra=extra,
        )
    return segments, prepared, native


def _thinking_variables(template: str, params: SamplingParams) -> dict[str, Any]:
    """``enable_thinking`` for templates that read it (Qwen3 and the like); a key the model's
    template cannot honour is refused, naming it, rather than ignored."""
    thinks = "enable_thinking" in template
    if params.enable_thinking is not None and not thinks:
        raise unsupported_feature(
            "llm.prediction.reasoning.enableThinking",
            "this model's chat template has no enable_thinking switch",
            "Leave enable_thinking unset for this model, or use a model whose template "
            "supports it (e.g. Qwen3).",
        )
    tags = params.reasoning
    if params.reasoning_budget is not None and not (
        tags is not None and (thinks or tags.start in template)
    ):
        raise unsupported_feature(
            "llm.prediction.reasoning.budgetTokens",
            "this model's chat template does not reason (no enable_thinking switch and no "
            "reasoning tags)",
            "Leave reasoning_budget unset for this model, or use a reasoning model.",
        )
    return {} if params.enable_thinking is None else {"enable_thinking": params.enable_thinking}


def tokens_of(m: LlamaInstance, segments: Sequence[Segment]) -> list[int]:
    tokens: list[int] = []
    for i, seg in enumerate(segments):
        tokens.extend(m._tokenize(seg.text, add_bos=(i == 0), special=seg.from_template))
    if len(tokens) >= 2 and tokens[0] == tokens[1] == m._bos_id:
        del tokens[0]  # the template wrote BOS and the tokenizer added one too
    return tokens


def _budget(m: LlamaInstance) -> int:
    # Leave room for at least a few generated tokens.
    return max(1, m._n_ctx - 8)


def fit_tokens(m: LlamaInstance, tokens: list[int], params: SamplingParams) -> list[int]:
    budget = _budget(m)
    if len(tokens) <= budget:
        return tokens
    if params.overflow_policy == "stopAtLimit":
        raise ServerError(
            f"The prompt ({len(tokens)} tokens) does not fit in the context ({m._n_ctx} tokens)",
            suggestion="Load the model with a longer context, shorten the prompt, or "
            "use the truncateMiddle / rollingWindow context overflow policy.",
        )
    if params.overflow_policy == "rollingWindow":
        keep = 1 if tokens and tokens[0] == m._bos_id else 0
    else:
        keep = min(len(tokens) // 4, budget // 4)
    _log.warning(
        "%s: the prompt (%d tokens) does not fit in the context (%d tokens): "
        "%d tokens dropped (%s)",
        m.info.model_key,
        len(tokens),
        m._n_ctx,
        len(tokens) - budget,
        params.overflow_policy,
    )
    return tokens[:keep] + tokens[len(tokens) - (budget - keep) :]


def fit_history(
    m: LlamaInstance,
    tokens: list[int],
    segments: list[Segment],
    params: SamplingParams,
    history: ChatHistoryData,
    marker: str | None,
) -> list[int]:
    """Drop whole messages (middle or oldest) until the prompt fits, then cut tokens."""
    budget = _budget(m)
    if len(tokens) <= budget or params.overflow_policy == "stopAtLimit":
        return fit_tokens(m, tokens, params)
    messages = list(history.messages)
    _log.warning(
        "%s: the prompt (%d tokens, %d messages) does not fit in the context (%d tokens): "
        "dropping messages (%s)",
        m.info.model_key,
        len(tokens),
        len(messages),
        m._n_ctx,
        params.overflow_policy,
    )
    while len(tokens) > budget:
        first_kept = 1 if messages and messages[0].role == "system" else 0
        if params.overflow_policy == "truncateMiddle":
            # Keep the system prompt and the first user message.
            first_kept += 1
        if len(messages) - first_kept <= 1:
            break
        del messages[first_kept]
        while len(messages) > first_kept + 1 and messages[first_kept].role == "tool":
            del messages[first_kept]  # a tool result without its call makes no sense
        segments, _prepared, _native = prompt_segments(
            m, params, ChatHistoryData(messages=messages), marker
        )
        tokens = tokens_of(m, segments)
    return fit_tokens(m, tokens, params)
