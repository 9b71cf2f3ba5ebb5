"""The option tables: each user-facing option name, its KV key and how its value is checked.

Data for the conversions in ``kv_config``: one ``Domain`` each for prediction, LLM load and
embedding load configs, in the order TS 2.0 emits their fields.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Final

import msgspec

from .config_types import (
    ArgumentsOverrideDict,
    CacheQuantizationType,
    ContextOverflowPolicy,
    GpuSplitConfigDict,
    GpuSplitStrategy,
    LoadPromptTemplateDict,
    MirostatSamplingDict,
    MlxKvCacheQuantizationDict,
    PromptTemplateDict,
    ReasoningParsingDict,
    StructuredSettingDict,
    ToolChoiceDict,
    ToolNaming,
    ToolUseSettingDict,
)
from .kv_keys import (
    AUTO_FIT_KEYS,
    EMBEDDING_RATIO_KEY,
    EXPERT_RATIO_KEY,
    LLM_RATIO_KEY,
    SPLIT_KEY,
    EnvVars,
    LogitBiasList,
    Ratio,
)

__all__ = [
    "BOOL",
    "EMBEDDING_GPU_FIELDS",
    "EMBEDDING_LOAD",
    "GPU_FIELDS",
    "LLM_LOAD",
    "MANUAL_GPU_SETTINGS",
    "MANUAL_LOAD_OPTIONS",
    "NO_FALSE",
    "PREDICTION",
    "RATIO",
    "SPECULATIVE_SELECTORS",
    "SPECULATIVE_SIDECARS",
    "SPLIT_CONFIG",
    "TOOL_CHOICE",
    "Domain",
    "Kind",
    "Option",
]

# -- option tables ------------------------------------------------------------------------------


class Kind(msgspec.Struct, frozen=True):
    """How a user value is checked (and a received one read)."""

    check: Any  # msgspec type the value must convert to, strictly
    desc: str  # for "X must be <desc>, got ..."
    read: Any = None  # looser type for received values (enums become str); None = check
    nested: bool = False  # a JSON object: keep the caller's dict, extra keys included
    limit: str | None = None  # the range a value of the right type must be in, if any


def _one_of(values: tuple[str, ...]) -> str:
    return "one of " + ", ".join(repr(v) for v in values)


def _bounded(base: type, desc: str, limit: str, **bounds: float) -> Kind:
    """A number within the range LM Studio's own validators allow (received values: any)."""
    checked: Any = Annotated[base, msgspec.Meta(**bounds)]  # type: ignore[call-overload]
    return Kind(checked, desc, read=base, limit=limit)


_NUMBER = Kind(float, "a number")
_INT = Kind(int, "an integer")
_NON_NEGATIVE = _bounded(float, "a number", "a number >= 0", ge=0)
_UNIT = _bounded(float, "a number", "a number between 0 and 1", ge=0, le=1)
_POSITIVE_INT = _bounded(int, "an integer", "a positive integer", ge=1)
_COUNT = _bounded(int, "an integer", "an integer >= 0", ge=0)
_LOG_PROBS = _bounded(int, "an integer", "an integer from 0 to 100", ge=0, le=100)
_PARALLEL = _bounded(int, "an integer", "an integer from 1 to 1023", ge=1, le=1023)
BOOL = Kind(bool, "a boolean")
_STR = Kind(str, "a string")
_STR_LIST = Kind(list[str], "a list of strings")
_INT_LIST = Kind(list[int], "a list of integers")
_ANY_LIST = Kind(list[Any], "a list")
RATIO = Kind(Ratio, "a number between 0 and 1, 'max' or 'off'")
_OVERFLOW = Kind(
    ContextOverflowPolicy, _one_of(("stopAtLimit", "truncateMiddle", "rollingWindow")), str
)
_TOOL_NAMING = Kind(
    ToolNaming, _one_of(("passThrough", "removeSpecial", "snakeCase", "camelCase")), str
)
_CACHE_TYPE = Kind(
    CacheQuantizationType,
    _one_of(("f32", "f16", "q8_0", "q4_0", "q4_1", "iq4_nl", "q5_0", "q5_1")),
    str,
)
_SPLIT_STRATEGY = Kind(GpuSplitStrategy, _one_of(("evenly", "favorMainGpu")))
_LOGIT_BIAS = Kind(LogitBiasList, "a list of (token id, number or '-inf') pairs")
_ENV_VARS = Kind(EnvVars, "a mapping of 'HSA_OVERRIDE_GFX_VERSION' to a string", nested=True)


def _obj(typ: Any, desc: str) -> Kind:
    return Kind(typ, desc, nested=True)


_STRUCTURED = _obj(StructuredSettingDict, "a structured-output setting")
_TOOL_USE = _obj(ToolUseSettingDict, "a tool-use setting")
TOOL_CHOICE = _obj(ToolChoiceDict, "'none', 'auto', 'required' or a tool choice mapping")
_REASONING_PARSING = _obj(ReasoningParsingDict, "a reasoning-parsing setting")
_PROMPT_TEMPLATE = _obj(PromptTemplateDict, "a prompt template")
_LOAD_PROMPT_TEMPLATE = _obj(LoadPromptTemplateDict, "a prompt template")
_MIROSTAT = _obj(MirostatSamplingDict, "a mirostat setting")
_ARGS_OVERRIDE = _obj(ArgumentsOverrideDict, "a llama.cpp arguments override")
_MLX_KV = _obj(MlxKvCacheQuantizationDict, "an MLX KV cache quantization setting")

NO_FALSE: Final[Any] = None


class Option(msgspec.Struct, frozen=True):
    """One user-facing option that maps to one KV key."""

    name: str  # snake_case: the option and the read-back field
    camel: str  # the official SDKs' name
    key: str
    kind: Kind
    checkbox: bool = False  # wire value is {"checked": bool, "value": ...}
    when_false: Any = NO_FALSE  # what ``False`` sends (checkbox placeholder or object)


def _cb(name: str, camel: str, key: str, kind: Kind, placeholder: Any) -> Option:
    return Option(name, camel, key, kind, checkbox=True, when_false=placeholder)


_P = "llm.prediction."
_SD = "llm.prediction.speculativeDecoding."
# Order = the order TS 2.0 emits fields in (not significant on the wire, but easy to compare).
_PREDICTION_OPTIONS: Final = (
    Option("temperature", "temperature", _P + "temperature", _NON_NEGATIVE),
    Option(
        "context_overflow_policy", "contextOverflowPolicy", _P + "contextOverflowPolicy", _OVERFLOW
    ),
    _cb("max_tokens", "maxTokens", _P + "maxPredictedTokens", _POSITIVE_INT, 1),
    _cb("reasoning_budget", "reasoningBudget", _P + "reasoning.budgetTokens", _COUNT, 1024),
    Option("stop_strings", "stopStrings", _P + "stopStrings", _STR_LIST),
    Option("tool_call_stop_strings", "toolCallStopStrings", _P + "toolCallStopStrings", _STR_LIST),
    Option("structured", "structured", _P + "structured", _STRUCTURED),
    Option("raw_tools", "rawTools", _P + "tools", _TOOL_USE),
    Option("tool_choice", "toolChoice", _P + "toolChoice", TOOL_CHOICE),
    Option("tool_naming", "toolNaming", _P + "toolNaming", _TOOL_NAMING),
    Option("top_k_sampling", "topKSampling", _P + "topKSampling", _NUMBER),
    _cb("repeat_penalty", "repeatPenalty", _P + "repeatPenalty", _NON_NEGATIVE, 1.1),
    _cb("presence_penalty", "presencePenalty", _P + "llama.presencePenalty", _NUMBER, 0),
    _cb("min_p_sampling", "minPSampling", _P + "minPSampling", _UNIT, 0.05),
    _cb("top_p_sampling", "topPSampling", _P + "topPSampling", _UNIT, 0.95),
    _cb("xtc_probability", "xtcProbability", _P + "llama.xtcProbability", _UNIT, 0),
    _cb("xtc_threshold", "xtcThreshold", _P + "llama.xtcThreshold", _UNIT, 0),
    _cb("log_probs", "logProbs", _P + "logProbs", _LOG_PROBS, 0),
    Option("cpu_threads", "cpuThreads", _P + "llama.cpuThreads", _POSITIVE_INT),
    Option("enable_thinking", "enableThinking", _P + "reasoning.enableThinking", BOOL),
    Option("prompt_template", "promptTemplate", _P + "promptTemplate", _PROMPT_TEMPLATE),
    Option("draft_model", "draftModel", _SD + "draftModel", _STR),
    Option(
        "speculative_decoding_num_draft_tokens_exact",
        "speculativeDecodingNumDraftTokensExact",
        _SD + "numDraftTokensExact",
        _POSITIVE_INT,
    ),
    Option(
        "speculative_decoding_min_draft_length_to_consider",
        "speculativeDecodingMinDraftLengthToConsider",
        _SD + "minDraftLengthToConsider",
        _COUNT,
    ),
    Option(
        "speculative_decoding_min_continue_drafting_probability",
        "speculativeDecodingMinContinueDraftingProbability",
        _SD + "minContinueDraftingProbability",
        _UNIT,
    ),
    Option("reasoning_parsing", "reasoningParsing", _P + "reasoning.parsing", _REASONING_PARSING),
    _cb(
        "user_max_image_dimension_pixels",
        "userMaxImageDimensionPixels",
        _P + "vision.userMaxImageDimensionPixels",
        _POSITIVE_INT,
        1024,
    ),
    Option(
        "ignore_model_preferred_max_image_dimension",
        "ignoreModelPreferredMaxImageDimension",
        _P + "vision.ignoreModelPreferredMaxImageDimension",
        BOOL,
    ),
    # Not mapped by either official SDK; ``False`` sends the key's default as placeholder.
    Option("system_prompt", "systemPrompt", _P + "systemPrompt", _STR),
    _cb("seed", "seed", _P + "seed", _INT, -1),
    Option("context_prefill", "contextPrefill", _P + "contextPrefill", _ANY_LIST),
    Option(
        "speculative_decoding_num_reuse_tokens",
        "speculativeDecodingNumReuseTokens",
        _SD + "numReuseTokens",
        _COUNT,
    ),
    Option(
        "speculative_decoding_max_tokens_to_draft",
        "speculativeDecodingMaxTokensToDraft",
        _SD + "maxTokensToDraft",
        _POSITIVE_INT,
    ),
    _cb("frequency_penalty", "frequencyPenalty", _P + "llama.frequencyPenalty", _NUMBER, 0),
    Option("mirostat_sampling", "mirostatSampling", _P + "llama.mirostatSampling", _MIROSTAT),
    _cb("tail_free_sampling", "tailFreeSampling", _P + "llama.tailFreeSampling", _UNIT, 0.95),
    _cb(
        "locally_typical_sampling",
        "locallyTypicalSampling",
        _P + "llama.locallyTypicalSampling",
        _UNIT,
        0.9,
    ),
    Option("logit_bias", "logitBias", _P + "llama.logitBias", _LOGIT_BIAS),
)

_L = "llm.load."
_LL = "llm.load.llama."
_LSD = "llm.load.llama.speculativeDecoding."
_LLM_LOAD_OPTIONS: Final = (
    Option("gpu_strict_vram_cap", "gpuStrictVramCap", "load.gpuStrictVramCap", BOOL),
    Option(
        "max_parallel_predictions", "maxParallelPredictions", _L + "numParallelSessions", _PARALLEL
    ),
    Option("use_unified_kv_cache", "useUnifiedKvCache", _L + "useUnifiedKvCache", BOOL),
    Option("offload_kv_cache_to_gpu", "offloadKVCacheToGpu", _L + "offloadKVCacheToGpu", BOOL),
    Option("context_length", "contextLength", _L + "contextLength", _POSITIVE_INT),
    Option("prompt_template", "promptTemplate", _L + "promptTemplate", _LOAD_PROMPT_TEMPLATE),
    _cb("rope_frequency_base", "ropeFrequencyBase", _LL + "ropeFrequencyBase", _NUMBER, 0),
    _cb("rope_frequency_scale", "ropeFrequencyScale", _LL + "ropeFrequencyScale", _NUMBER, 0),
    Option("eval_batch_size", "evalBatchSize", _LL + "evalBatchSize", _POSITIVE_INT),
    Option("physical_batch_size", "physicalBatchSize", _LL + "physicalBatchSize", _POSITIVE_INT),
    Option("flash_attention", "flashAttention", _LL + "flashAttention", BOOL),
    Option("context_checkpoints", "contextCheckpoints", _LL + "contextCheckpoints", _COUNT),
    Option(
        "reasoning_budget_message", "reasoningBudgetMessage", _LL + "reasoningBudgetMessage", _STR
    ),
    Option("speculative_draft_mtp", "speculativeDraftMtp", _LSD + "draftMtp", BOOL),
    Option("speculative_draft_simple", "speculativeDraftSimple", _LSD + "draftSimple", BOOL),
    Option(
        "speculative_draft_dflash_sidecar",
        "speculativeDraftDflashSidecar",
        _LSD + "draftDflashSidecar",
        BOOL,
    ),
    Option(
        "speculative_draft_dspark_sidecar",
        "speculativeDraftDsparkSidecar",
        _LSD + "draftDsparkSidecar",
        BOOL,
    ),
    Option(
        "speculative_draft_mtp_sidecar",
        "speculativeDraftMtpSidecar",
        _LSD + "draftMtpSidecar",
        BOOL,
    ),
    Option("speculative_draft_model", "speculativeDraftModel", _LSD + "draftModel", _STR),
    Option(
        "speculative_draft_max_tokens", "speculativeDraftMaxTokens", _LSD + "draftMaxTokens", _INT
    ),
    Option(
        "speculative_draft_min_tokens", "speculativeDraftMinTokens", _LSD + "draftMinTokens", _INT
    ),
    Option(
        "speculative_draft_min_continue_probability",
        "speculativeDraftMinContinueProbability",
        _LSD + "draftMinContinueProbability",
        _UNIT,
    ),
    Option("keep_model_in_memory", "keepModelInMemory", _LL + "keepModelInMemory", BOOL),
    _cb("seed", "seed", _L + "seed", _INT, 0),
    Option("use_fp16_for_kv_cache", "useFp16ForKVCache", _LL + "useFp16ForKVCache", BOOL),
    Option("try_mmap", "tryMmap", _LL + "tryMmap", BOOL),
    Option("try_direct_io", "tryDirectIO", _LL + "tryDirectIO", BOOL),
    Option(
        "llama_cpp_arguments_override",
        "llamaCppArgumentsOverride",
        _LL + "argumentsOverride",
        _ARGS_OVERRIDE,
    ),
    Option("num_experts", "numExperts", _L + "numExperts", _COUNT),
    _cb(
        "llama_k_cache_quantization_type",
        "llamaKCacheQuantizationType",
        _LL + "kCacheQuantizationType",
        _CACHE_TYPE,
        "f16",
    ),
    _cb(
        "llama_v_cache_quantization_type",
        "llamaVCacheQuantizationType",
        _LL + "vCacheQuantizationType",
        _CACHE_TYPE,
        "f16",
    ),
    Option("mlx_disk_cache", "mlxDiskCache", _L + "mlx.diskCache", BOOL),
    Option(
        "mlx_kv_cache_quantization",
        "mlxKvCacheQuantization",
        _L + "mlx.kvCacheQuantization",
        _MLX_KV,
        when_false={"enabled": False, "bits": 8, "groupSize": 64, "quantizedStart": 5000},
    ),
    # Not mapped by either official SDK:
    Option(
        "auto_fit_min_context_length",
        "autoFitMinContextLength",
        _L + "autoFitMinContextLength",
        _INT,
    ),
    Option("cpu_thread_pool_size", "cpuThreadPoolSize", _LL + "cpuThreadPoolSize", _POSITIVE_INT),
    Option(
        "vllm_gpu_memory_utilization",
        "vllmGpuMemoryUtilization",
        _L + "vllm.gpuMemoryUtilization",
        _UNIT,
    ),
    Option("vllm_reasoning_parser", "vllmReasoningParser", _L + "vllm.reasoningParser", _STR),
    Option("vllm_tool_call_parser", "vllmToolCallParser", _L + "vllm.toolCallParser", _STR),
    Option("env_vars", "envVars", "envVars", _ENV_VARS),
)

_E = "embedding.load."
_EMBEDDING_LOAD_OPTIONS: Final = (
    Option("context_length", "contextLength", _E + "contextLength", _POSITIVE_INT),
    _cb("rope_frequency_base", "ropeFrequencyBase", _E + "llama.ropeFrequencyBase", _NUMBER, 0),
    _cb("rope_frequency_scale", "ropeFrequencyScale", _E + "llama.ropeFrequencyScale", _NUMBER, 0),
    Option("keep_model_in_memory", "keepModelInMemory", _E + "llama.keepModelInMemory", BOOL),
    Option("try_mmap", "tryMmap", _E + "llama.tryMmap", BOOL),
    # Not mapped by either official SDK:
    _cb("seed", "seed", _E + "seed", _INT, -1),
    Option("eval_batch_size", "evalBatchSize", _E + "llama.evalBatchSize", _POSITIVE_INT),
    Option("env_vars", "envVars", "envVars", _ENV_VARS),
)

# gpu= settings: snake name -> (camel name, kind)
GPU_FIELDS: Final[Mapping[str, tuple[str, Kind]]] = {
    "ratio": ("ratio", RATIO),
    "main_gpu": ("mainGpu", _INT),
    "split_strategy": ("splitStrategy", _SPLIT_STRATEGY),
    "disabled_gpus": ("disabledGpus", _INT_LIST),
    "num_cpu_expert_layers_ratio": ("numCpuExpertLayersRatio", RATIO),
}
EMBEDDING_GPU_FIELDS: Final = ("ratio", "main_gpu", "split_strategy", "disabled_gpus")

# Options whose presence makes TS 2.0 switch autoFit off (unless auto_fit is given).
MANUAL_LOAD_OPTIONS: Final = frozenset({"context_length", "gpu_strict_vram_cap"})
MANUAL_GPU_SETTINGS: Final = frozenset(
    {"ratio", "num_cpu_expert_layers_ratio", "main_gpu", "split_strategy"}
)
# Setting any public speculative selector clears the sidecar selectors TS 2.0 keeps internal.
SPECULATIVE_SELECTORS: Final = frozenset(
    {"speculative_draft_mtp", "speculative_draft_simple", "speculative_draft_model"}
)
SPECULATIVE_SIDECARS: Final = (
    "speculative_draft_dflash_sidecar",
    "speculative_draft_dspark_sidecar",
    "speculative_draft_mtp_sidecar",
)


class Domain(msgspec.Struct, frozen=True):
    where: str  # for error messages: "unknown <where> key ..."
    options: tuple[Option, ...]
    pairs: tuple[tuple[str, str], ...]  # (snake, camel) of every option, special ones included
    names: Mapping[str, str]  # either spelling -> snake name
    by_name: Mapping[str, Option]
    by_key: Mapping[str, str]  # KV key -> snake name
    order: Mapping[str, int]  # KV key -> emission position


def _domain(
    where: str,
    options: tuple[Option, ...],
    special: tuple[tuple[str, str], ...],
    leading_keys: tuple[str, ...],
) -> Domain:
    pairs = tuple((o.name, o.camel) for o in options) + special
    names = {spelling: snake for snake, camel in pairs for spelling in (snake, camel)}
    keys = leading_keys + tuple(o.key for o in options)
    return Domain(
        where=where,
        options=options,
        pairs=pairs,
        names=names,
        by_name={o.name: o for o in options},
        by_key={o.key: o.name for o in options},
        # A leading key keeps its leading place even when an option has it too.
        order={key: i for i, key in reversed(list(enumerate(keys)))},
    )


_RAW: Final = ("raw", "raw")
_GPU: Final = ("gpu", "gpu")
PREDICTION = _domain("prediction config", _PREDICTION_OPTIONS, (_RAW,), ())
LLM_LOAD = _domain(
    "LLM load config",
    _LLM_LOAD_OPTIONS,
    (("auto_fit", "autoFit"), _GPU, _RAW),
    (*AUTO_FIT_KEYS, SPLIT_KEY, "load.gpuStrictVramCap", LLM_RATIO_KEY, EXPERT_RATIO_KEY),
)
EMBEDDING_LOAD = _domain(
    "embedding load config",
    _EMBEDDING_LOAD_OPTIONS,
    (_GPU, _RAW),
    (SPLIT_KEY, EMBEDDING_RATIO_KEY),
)

# How a received load.gpuSplitConfig value is read back into gpu= settings.
SPLIT_CONFIG = _obj(GpuSplitConfigDict, "a GPU split config")
