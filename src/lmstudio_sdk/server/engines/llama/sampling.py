"""LM Studio's prediction KV config (``llm.prediction.*``) → sampling parameters.

:func:`sampling_from_config` reads every key a llama.cpp-style engine can honour and lists the
ones it cannot (with values that would change the output) in ``unsupported``, so the engine can
log them instead of ignoring them silently.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ...._protocol.packets.shared import KVConfig
from ..tool_naming import TOOL_NAMINGS, rename_tools
from .tools import ReasoningTags, tools_from_config

__all__ = ["SamplingParams", "checkbox", "sampling_from_config"]

P = "llm.prediction."


def checkbox(value: Any) -> tuple[bool, Any]:
    """``(checked, value)`` of a checkbox value; plain values count as checked."""
    if isinstance(value, dict) and "checked" in value:
        return bool(value["checked"]), value.get("value")
    return value is not None, value


@dataclass(slots=True)
class SamplingParams:
    temperature: float = 0.8
    top_k: int = 40
    top_p: float = 0.95
    min_p: float = 0.05
    typical_p: float = 1.0
    repeat_penalty: float = 1.1
    presence_penalty: float = 0.0
    frequency_penalty: float = 0.0
    mirostat_mode: int = 0
    mirostat_tau: float = 5.0
    mirostat_eta: float = 0.1
    max_tokens: int | None = None
    stop_strings: list[str] = field(default_factory=list)
    seed: int | None = None
    overflow_policy: str = "truncateMiddle"
    structured: dict[str, Any] | None = None
    tools: list[dict[str, Any]] = field(default_factory=list)
    """The tools as the model sees them (``toolNaming`` applied)."""
    tool_names: dict[str, str] = field(default_factory=dict)
    """The model's name of each tool -> the tool's own name."""
    tool_choice: str = "auto"
    reasoning: ReasoningTags | None = field(default_factory=ReasoningTags)
    enable_thinking: bool | None = None
    #: ``llm.prediction.speculativeDecoding.draftModel``: the draft model's key or path.
    draft_model: str | None = None
    #: ``speculativeDecoding.maxTokensToDraft``: at most this many drafted tokens per step.
    draft_max_tokens: int = 16
    #: ``speculativeDecoding.minDraftLengthToConsider``: shorter drafts are not verified.
    draft_min_tokens: int = 0
    #: ``speculativeDecoding.minContinueDraftingProbability``: drafting stops below it.
    draft_min_p: float = 0.75
    #: ``speculativeDecoding.numDraftTokensExact``: draft exactly this many (no cut-off).
    draft_exact: int | None = None
    #: ``llm.prediction.reasoning.budgetTokens``: at most this many reasoning tokens.
    reasoning_budget: int | None = None
    prompt_template: dict[str, Any] | None = None
    system_prompt: str | None = None
    cpu_threads: int | None = None
    #: ``llm.prediction.logProbs``: None (off), else how many top alternatives per token.
    logprobs: int | None = None
    #: ``llm.prediction.llama.logitBias``: token id -> bias (``-inf`` bans the token).
    logit_bias: dict[int, float] = field(default_factory=dict)
    unsupported: list[tuple[str, Any]] = field(default_factory=list)


def _num(value: Any, default: float) -> float:
    return (
        float(value) if isinstance(value, int | float) and not isinstance(value, bool) else default
    )


def _is_unchecked(value: Any) -> bool:
    checked, _ = checkbox(value)
    return not checked


def _is_empty(value: Any) -> bool:
    return value in (None, "", [], {})


# Keys the engine does not act on, with the values for which that makes no difference.
_NEUTRAL: dict[str, Callable[[Any], bool]] = {
    P + "llama.xtcProbability": _is_unchecked,
    P + "llama.xtcThreshold": _is_unchecked,
    P + "llama.tailFreeSampling": _is_unchecked,
    P + "speculativeDecoding.numReuseTokens": lambda v: True,
    # Image sizing: the vision projector resizes every image to its own input size anyway.
    P + "vision.userMaxImageDimensionPixels": lambda v: True,
    P + "vision.ignoreModelPreferredMaxImageDimension": lambda v: True,
    P + "toolCallStopStrings": _is_empty,
    P + "contextPrefill": _is_empty,
}


def sampling_from_config(config: KVConfig) -> SamplingParams:
    p = SamplingParams()
    handled: set[str] = set()

    def get(key: str) -> Any:
        handled.add(P + key)
        return config.get(P + key)

    temperature = get("temperature")
    if temperature is not None:
        p.temperature = max(0.0, _num(temperature, p.temperature))
    top_k = get("topKSampling")
    if top_k is not None:
        p.top_k = int(_num(top_k, p.top_k))
    for key, attr in (
        ("topPSampling", "top_p"),
        ("minPSampling", "min_p"),
        ("repeatPenalty", "repeat_penalty"),
        ("llama.presencePenalty", "presence_penalty"),
        ("llama.frequencyPenalty", "frequency_penalty"),
        ("llama.locallyTypicalSampling", "typical_p"),
    ):
        value = get(key)
        if value is None:
            continue
        checked, inner = checkbox(value)
        off = {"top_p": 1.0, "min_p": 0.0, "repeat_penalty": 1.0, "typical_p": 1.0}.get(attr, 0.0)
        setattr(p, attr, _num(inner, off) if checked else off)

    mirostat = get("llama.mirostatSampling")
    if isinstance(mirostat, dict):
        p.mirostat_mode = int(_num(mirostat.get("version"), 0))
        p.mirostat_eta = _num(mirostat.get("learningRate"), p.mirostat_eta)
        p.mirostat_tau = _num(mirostat.get("targetEntropy"), p.mirostat_tau)

    max_tokens = get("maxPredictedTokens")
    if max_tokens is not None:
        checked, inner = checkbox(max_tokens)
        if checked and isinstance(inner, int) and inner > 0:
            p.max_tokens = inner

    stops = get("stopStrings")
    if isinstance(stops, list):
        p.stop_strings = [s for s in stops if isinstance(s, str) and s]

    seed = get("seed")
    if seed is not None:
        checked, inner = checkbox(seed)
        if checked and isinstance(inner, int) and inner >= 0:
            p.seed = inner

    policy = get("contextOverflowPolicy")
    if policy in ("stopAtLimit", "truncateMiddle", "rollingWindow"):
        p.overflow_policy = policy

    structured = get("structured")
    if isinstance(structured, dict) and structured.get("type") in ("json", "gbnf"):
        p.structured = structured

    naming = get("toolNaming")
    if naming is not None and naming not in TOOL_NAMINGS:
        p.unsupported.append((P + "toolNaming", naming))
        naming = None
    p.tools, p.tool_names = rename_tools(tools_from_config(get("tools")), naming)
    choice = get("toolChoice")
    if isinstance(choice, dict) and choice.get("mode") in ("none", "auto", "required"):
        p.tool_choice = str(choice["mode"])
    elif choice in ("none", "auto", "required"):
        p.tool_choice = str(choice)

    parsing = get("reasoning.parsing")
    if isinstance(parsing, dict):
        if parsing.get("enabled", True):
            p.reasoning = ReasoningTags(
                start=str(parsing.get("startString") or "<think>"),
                end=str(parsing.get("endString") or "</think>"),
            )
        else:
            p.reasoning = None
    thinking = get("reasoning.enableThinking")
    if isinstance(thinking, bool):
        p.enable_thinking = thinking
    checked, budget = checkbox(get("reasoning.budgetTokens"))
    if checked and isinstance(budget, int) and not isinstance(budget, bool) and budget >= 0:
        p.reasoning_budget = budget

    template = get("promptTemplate")
    if isinstance(template, dict) and template.get("type") in ("jinja", "manual"):
        p.prompt_template = template
        extra_stops = template.get("stopStrings")
        if isinstance(extra_stops, list):
            p.stop_strings.extend(s for s in extra_stops if isinstance(s, str) and s)

    system_prompt = get("systemPrompt")
    if isinstance(system_prompt, str) and system_prompt.strip():
        p.system_prompt = system_prompt

    draft = get("speculativeDecoding.draftModel")
    if isinstance(draft, str) and draft:
        p.draft_model = draft
    for key, attr in (
        ("maxTokensToDraft", "draft_max_tokens"),
        ("minDraftLengthToConsider", "draft_min_tokens"),
        ("numDraftTokensExact", "draft_exact"),
    ):
        value = get("speculativeDecoding." + key)
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            setattr(p, attr, value)
    min_p = get("speculativeDecoding.minContinueDraftingProbability")
    if isinstance(min_p, int | float) and not isinstance(min_p, bool) and 0 <= min_p <= 1:
        p.draft_min_p = float(min_p)
    checked, top = checkbox(get("logProbs"))
    if checked and isinstance(top, int) and not isinstance(top, bool) and top >= 0:
        p.logprobs = min(top, 100)  # LM Studio's limit
    bias = get("llama.logitBias")
    if isinstance(bias, list):
        for item in bias:
            if isinstance(item, list | tuple) and len(item) == 2 and isinstance(item[0], int):
                value = item[1]
                if value == "-inf":
                    p.logit_bias[item[0]] = float("-inf")
                elif isinstance(value, int | float) and not isinstance(value, bool):
                    p.logit_bias[item[0]] = float(value)

    threads = get("llama.cpuThreads")
    if isinstance(threads, int) and not isinstance(threads, bool) and threads > 0:
        p.cpu_threads = threads

    for item in config.fields:
        if item.key in handled:
            continue
        neutral = _NEUTRAL.get(item.key)
        if neutral is not None and neutral(item.value):
            continue
        p.unsupported.append((item.key, item.value))
    return p
