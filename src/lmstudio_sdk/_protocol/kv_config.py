"""LM Studio KV configs: the key table, typed user configs, and conversions both ways.

LM Studio sends prediction and load settings as flat ``KVConfig`` lists of dotted keys
(protocol §4.6-4.9). This module owns that mapping:

* :data:`KV_KEYS` lists every key of ``@lmstudio/sdk`` 2.0.0 with its value type and default.
* ``*ConfigDict`` TypedDicts are what users pass (snake_case; the official SDKs' camelCase
  names are accepted too). ``*_to_kv`` encode them exactly like TS 2.0, including its side
  effects (``*.autoFit: false`` for manual load settings, speculative selector side-writes).
* ``kv_to_*`` decode a received KVConfig into frozen read-back structs. They never raise:
  unknown keys and ill-typed values stay in ``raw`` and are logged once per key.

Deliberate differences from TS 2.0 (documented at the functions): ``gpu.ratio`` is also
mapped for embedding models (as the official Python SDK does); ``llama_cpp_arguments_override``
is sent (TS 2.0's recorded conversion dropped it); and keys neither official SDK exposes
(``seed``, ``system_prompt``, ``frequency_penalty``, ...) have option names.
"""

from __future__ import annotations

import difflib
import logging
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from types import MappingProxyType
from typing import Annotated, Any, Final, Literal, NamedTuple, NotRequired, Required, TypedDict

import msgspec

from .._exceptions import ConfigKeyError, LMStudioValueError
from .schema import KVConfig, KVConfigField, KVConfigLayer, KVConfigStack

__all__ = [
    "COMPLETE_MODE_TEMPLATE_LAYER",
    "KV_KEYS",
    "ArgumentOverrideParameterDict",
    "ArgumentsOverrideDict",
    "CacheQuantizationType",
    "ContextOverflowPolicy",
    "EmbeddingGpuSettingDict",
    "EmbeddingLoadConfig",
    "EmbeddingLoadConfigDict",
    "GpuSetting",
    "GpuSettingDict",
    "GpuSplitConfigDict",
    "GpuSplitStrategy",
    "JinjaPromptTemplateDict",
    "KVKeyInfo",
    "LlmLoadConfig",
    "LlmLoadConfigDict",
    "LlmPredictionConfig",
    "LlmPredictionConfigDict",
    "LoadPromptTemplateDict",
    "LogitBias",
    "ManualPromptTemplateDict",
    "MirostatSamplingDict",
    "MlxKvCacheQuantizationDict",
    "OffloadRatio",
    "PromptTemplateDict",
    "ReasoningParsingDict",
    "StructuredSettingDict",
    "ToolChoiceDict",
    "ToolNaming",
    "ToolUseSettingDict",
    "api_override_stack",
    "completion_stack",
    "embedding_load_config_to_kv",
    "kv_to_embedding_load_config",
    "kv_to_llm_load_config",
    "kv_to_prediction_config",
    "llm_load_config_to_kv",
    "prediction_config_to_kv",
    "unknown_keys",
    "validate_kv_value",
]

logger = logging.getLogger("lmstudio_sdk.protocol")

# -- value types (wire shapes keep their camelCase keys) -------------------------------------

ContextOverflowPolicy = Literal["stopAtLimit", "truncateMiddle", "rollingWindow"]
ToolNaming = Literal["passThrough", "removeSpecial", "snakeCase", "camelCase"]
CacheQuantizationType = Literal["f32", "f16", "q8_0", "q4_0", "q4_1", "iq4_nl", "q5_0", "q5_1"]
OffloadRatio = float | Literal["max", "off"]
"""Share of the model offloaded to the GPU: 0..1, ``"max"`` or ``"off"``."""
GpuSplitStrategy = Literal["evenly", "favorMainGpu"]
LogitBias = Sequence[tuple[int, float | Literal["-inf"]]]
"""``[(token_id, bias), ...]``; a bias of ``"-inf"`` bans the token."""


class StructuredSettingDict(TypedDict, total=False):
    """``llm.prediction.structured``: constrain the output to a JSON schema or a GBNF grammar."""

    type: Required[Literal["none", "json", "gbnf"]]
    jsonSchema: dict[str, Any]
    gbnfGrammar: str


class ToolUseSettingDict(TypedDict, total=False):
    """``llm.prediction.tools``: the tools offered to the model (§4.4)."""

    type: Required[Literal["none", "toolArray"]]
    tools: list[dict[str, Any]]


class ToolChoiceDict(TypedDict):
    """``llm.prediction.toolChoice``."""

    type: Literal["generic"]
    mode: Literal["none", "auto", "required"]


class ReasoningParsingDict(TypedDict):
    """``llm.prediction.reasoning.parsing``: how reasoning is split from the answer."""

    enabled: bool
    startString: str
    endString: str


class ManualPromptTemplateDict(TypedDict):
    """The six strings of a manual prompt template."""

    beforeSystem: str
    afterSystem: str
    beforeUser: str
    afterUser: str
    beforeAssistant: str
    afterAssistant: str


class JinjaPromptTemplateDict(TypedDict):
    """A Jinja prompt template (the token and input settings are optional)."""

    template: str
    bosToken: NotRequired[str]
    eosToken: NotRequired[str]
    inputConfig: NotRequired[dict[str, Any]]


class _PromptTemplateBase(TypedDict, total=False):
    type: Required[Literal["manual", "jinja"]]
    manualPromptTemplate: ManualPromptTemplateDict
    jinjaPromptTemplate: JinjaPromptTemplateDict


class LoadPromptTemplateDict(_PromptTemplateBase, total=False):
    """``llm.load.promptTemplate``: the model's chat template."""

    stopStrings: list[str]


class PromptTemplateDict(_PromptTemplateBase):
    """``llm.prediction.promptTemplate`` (``stopStrings`` is required here)."""

    stopStrings: list[str]


class MirostatSamplingDict(TypedDict):
    """``llm.prediction.llama.mirostatSampling`` (version 0 = off)."""

    version: Literal[0, 1, 2]
    learningRate: float
    targetEntropy: float


class ArgumentOverrideParameterDict(TypedDict):
    """One llama.cpp command-line argument (``value`` is ``""`` for a flag)."""

    key: str
    value: str


class ArgumentsOverrideDict(TypedDict):
    """``llm.load.llama.argumentsOverride``: raw llama.cpp arguments (experimental)."""

    enabled: bool
    disabledParameters: list[str]
    overrideParameters: list[ArgumentOverrideParameterDict]
    excludeAllConfig: bool


class MlxKvCacheQuantizationDict(TypedDict):
    """``llm.load.mlx.kvCacheQuantization``."""

    enabled: bool
    bits: Literal[8, 6, 4, 3, 2]
    groupSize: Literal[32, 64, 128]
    quantizedStart: int


class GpuSplitConfigDict(TypedDict):
    """``load.gpuSplitConfig`` as sent on the wire (derived from the ``gpu`` setting)."""

    strategy: Literal["evenly", "priorityOrder", "tensor", "custom"]
    disabledGpus: list[int]
    priority: list[int]
    customRatio: NotRequired[list[float]]


class _CheckboxNumberDict(TypedDict):
    checked: bool
    value: float


class _CheckboxCacheTypeDict(TypedDict):
    checked: bool
    value: CacheQuantizationType


class _ChunkingMethodDict(TypedDict):
    type: Literal["recursive-v1"]
    chunkSize: int
    chunkOverlap: int


_Ratio = Annotated[float, msgspec.Meta(ge=0, le=1)] | Literal["max", "off"]
_EnvVars = dict[Literal["HSA_OVERRIDE_GFX_VERSION"], str]
_LogitBiasList = list[tuple[int, float | Literal["-inf"]]]

# -- the key table ------------------------------------------------------------------------------


class KVKeyInfo(NamedTuple):
    """Value type tag and default of one KV key (defaults are shared: do not mutate them)."""

    type_tag: str
    default: Any


# Every key of @lmstudio/sdk 2.0.0 (lms-kv-config globalConfigSchematics): key, tag, default.
_KV_KEY_ROWS: Final[tuple[tuple[str, str, Any], ...]] = (
    ("envVars", "envVars", {}),
    ("llm.prediction.temperature", "numeric", 0.8),
    ("llm.prediction.contextOverflowPolicy", "contextOverflowPolicy", "truncateMiddle"),
    ("llm.prediction.maxPredictedTokens", "checkboxNumeric", {"checked": False, "value": 1000}),
    ("llm.prediction.stopStrings", "stringArray", []),
    ("llm.prediction.toolCallStopStrings", "stringArray", []),
    ("llm.prediction.structured", "llamaStructuredOutput", {"type": "none"}),
    ("llm.prediction.speculativeDecoding.draftModel", "speculativeDecodingDraftModel", ""),
    ("llm.prediction.speculativeDecoding.minDraftLengthToConsider", "numeric", 0),
    ("llm.prediction.speculativeDecoding.numReuseTokens", "numeric", 256),
    ("llm.prediction.speculativeDecoding.minContinueDraftingProbability", "numeric", 0.75),
    ("llm.prediction.speculativeDecoding.maxTokensToDraft", "numeric", 16),
    ("llm.prediction.speculativeDecoding.numDraftTokensExact", "numeric", 2),
    ("llm.prediction.tools", "toolUse", {"type": "none"}),
    ("llm.prediction.toolChoice", "toolChoice", {"type": "generic", "mode": "auto"}),
    ("llm.prediction.toolNaming", "toolNaming", "removeSpecial"),
    (
        "llm.prediction.promptTemplate",
        "llmPromptTemplate",
        {
            "type": "manual",
            "manualPromptTemplate": {
                "beforeSystem": "Instruct: ",
                "afterSystem": "\n",
                "beforeUser": "Human: ",
                "afterUser": "\n",
                "beforeAssistant": "AI: ",
                "afterAssistant": "\n",
            },
            "stopStrings": [],
        },
    ),
    ("llm.prediction.systemPrompt", "string", ""),
    ("llm.prediction.seed", "checkboxNumeric", {"checked": False, "value": -1}),
    ("llm.prediction.contextPrefill", "context", []),
    ("llm.prediction.topKSampling", "numeric", 40),
    ("llm.prediction.repeatPenalty", "checkboxNumeric", {"checked": True, "value": 1.1}),
    ("llm.prediction.minPSampling", "checkboxNumeric", {"checked": True, "value": 0.05}),
    ("llm.prediction.topPSampling", "checkboxNumeric", {"checked": True, "value": 0.95}),
    ("llm.prediction.logProbs", "checkboxNumeric", {"checked": False, "value": 0}),
    ("llm.prediction.reasoning.enableThinking", "boolean", True),
    ("llm.prediction.reasoning.budgetTokens", "checkboxNumeric", {"checked": False, "value": 1024}),
    (
        "llm.prediction.reasoning.parsing",
        "llmReasoningParsing",
        {"enabled": True, "startString": "<think>", "endString": "</think>"},
    ),
    (
        "llm.prediction.vision.userMaxImageDimensionPixels",
        "checkboxNumeric",
        {"checked": True, "value": 1024},
    ),
    ("llm.prediction.vision.ignoreModelPreferredMaxImageDimension", "boolean", False),
    ("llm.prediction.llama.cpuThreads", "numeric", 4),
    ("llm.prediction.llama.frequencyPenalty", "checkboxNumeric", {"checked": False, "value": 0}),
    ("llm.prediction.llama.xtcProbability", "checkboxNumeric", {"checked": False, "value": 0.5}),
    ("llm.prediction.llama.xtcThreshold", "checkboxNumeric", {"checked": False, "value": 0.1}),
    ("llm.prediction.llama.presencePenalty", "checkboxNumeric", {"checked": False, "value": 0}),
    (
        "llm.prediction.llama.mirostatSampling",
        "llamaMirostatSampling",
        {"version": 0, "learningRate": 0.1, "targetEntropy": 5},
    ),
    ("llm.prediction.llama.tailFreeSampling", "checkboxNumeric", {"checked": False, "value": 0.95}),
    (
        "llm.prediction.llama.locallyTypicalSampling",
        "checkboxNumeric",
        {"checked": False, "value": 0.9},
    ),
    ("llm.prediction.llama.logitBias", "llamaLogitBias", []),
    ("llm.load.contextLength", "contextLength", 2048),
    ("llm.load.autoFitMinContextLength", "numeric", 0),
    ("llm.load.numExperts", "numeric", 0),
    ("llm.load.seed", "checkboxNumeric", {"checked": False, "value": -1}),
    (
        "llm.load.promptTemplate",
        "llmLoadPromptTemplate",
        {
            "type": "jinja",
            "jinjaPromptTemplate": {
                "template": (
                    "{% for message in messages %}"
                    "{% if message['role'] == 'system' %}"
                    "{{ 'Instruct: ' + message['content'] + '\\n' }}"
                    "{% elif message['role'] == 'user' %}"
                    "{{ 'Human: ' + message['content'] + '\\n' }}"
                    "{% elif message['role'] == 'assistant' %}"
                    "{{ 'AI: ' + message['content'] + '\\n' }}"
                    "{% endif %}{% endfor %}"
                    "{% if add_generation_prompt %}{{ 'AI: ' }}{% endif %}"
                )
            },
        },
    ),
    ("llm.load.offloadKVCacheToGpu", "boolean", True),
    ("llm.load.numCpuExpertLayersRatio", "llamaAccelerationOffloadRatio", "off"),
    ("llm.load.numParallelSessions", "numeric", 4),
    ("llm.load.useUnifiedKvCache", "boolean", True),
    ("llm.load.llama.autoFit", "boolean", True),
    ("llm.load.llama.acceleration.offloadRatio", "llamaAccelerationOffloadRatio", "max"),
    ("llm.load.llama.cpuThreadPoolSize", "numeric", 4),
    ("llm.load.llama.evalBatchSize", "numeric", 2048),
    ("llm.load.llama.physicalBatchSize", "numeric", 512),
    ("llm.load.llama.flashAttention", "boolean", False),
    ("llm.load.llama.contextCheckpoints", "numeric", 32),
    ("llm.load.llama.reasoningBudgetMessage", "string", ""),
    ("llm.load.llama.speculativeDecoding.draftMtp", "boolean", False),
    ("llm.load.llama.speculativeDecoding.draftSimple", "boolean", False),
    ("llm.load.llama.speculativeDecoding.draftDflashSidecar", "boolean", False),
    ("llm.load.llama.speculativeDecoding.draftDsparkSidecar", "boolean", False),
    ("llm.load.llama.speculativeDecoding.draftMtpSidecar", "boolean", False),
    ("llm.load.llama.speculativeDecoding.draftModel", "string", ""),
    ("llm.load.llama.speculativeDecoding.draftMaxTokens", "numeric", 3),
    ("llm.load.llama.speculativeDecoding.draftMinTokens", "numeric", 0),
    ("llm.load.llama.speculativeDecoding.draftMinContinueProbability", "numeric", 0),
    ("llm.load.llama.ropeFrequencyBase", "checkboxNumeric", {"checked": False, "value": 0}),
    ("llm.load.llama.ropeFrequencyScale", "checkboxNumeric", {"checked": False, "value": 0}),
    ("llm.load.llama.keepModelInMemory", "boolean", True),
    ("llm.load.llama.useFp16ForKVCache", "boolean", True),
    ("llm.load.llama.tryMmap", "boolean", True),
    ("llm.load.llama.tryDirectIO", "boolean", False),
    (
        "llm.load.llama.argumentsOverride",
        "llamaCppArgumentsOverride",
        {
            "enabled": False,
            "disabledParameters": [],
            "overrideParameters": [],
            "excludeAllConfig": False,
        },
    ),
    (
        "llm.load.llama.kCacheQuantizationType",
        "llamaCacheQuantizationType",
        {"checked": False, "value": "f16"},
    ),
    (
        "llm.load.llama.vCacheQuantizationType",
        "llamaCacheQuantizationType",
        {"checked": False, "value": "f16"},
    ),
    ("llm.load.mlx.autoFit", "boolean", True),
    ("llm.load.mlx.diskCache", "boolean", True),
    (
        "llm.load.mlx.kvCacheQuantization",
        "mlxKvCacheQuantizationType",
        {"enabled": False, "bits": 8, "groupSize": 64, "quantizedStart": 5000},
    ),
    ("llm.load.yuzu.autoFit", "boolean", True),
    ("llm.load.vllm.gpuMemoryUtilization", "numeric", 0.92),
    ("llm.load.vllm.reasoningParser", "string", ""),
    ("llm.load.vllm.toolCallParser", "string", ""),
    (
        "load.gpuSplitConfig",
        "gpuSplitConfig",
        {"strategy": "evenly", "disabledGpus": [], "priority": [], "customRatio": []},
    ),
    ("load.gpuStrictVramCap", "boolean", False),
    ("embedding.load.contextLength", "contextLength", 2048),
    ("embedding.load.seed", "checkboxNumeric", {"checked": False, "value": -1}),
    ("embedding.load.llama.acceleration.offloadRatio", "llamaAccelerationOffloadRatio", "max"),
    ("embedding.load.llama.evalBatchSize", "numeric", 2048),
    ("embedding.load.llama.ropeFrequencyBase", "checkboxNumeric", {"checked": False, "value": 0}),
    ("embedding.load.llama.ropeFrequencyScale", "checkboxNumeric", {"checked": False, "value": 0}),
    ("embedding.load.llama.keepModelInMemory", "boolean", True),
    ("embedding.load.llama.tryMmap", "boolean", True),
    ("retrieval.databaseFile", "string", ""),
    (
        "retrieval.chunkingMethod",
        "retrievalChunkingMethod",
        {"type": "recursive-v1", "chunkSize": 512, "chunkOverlap": 100},
    ),
    ("retrieval.limit", "numeric", 5),
    ("retrieval.embeddingModel", "modelIdentifier", ""),
)

KV_KEYS: Final[Mapping[str, KVKeyInfo]] = MappingProxyType(
    {key: KVKeyInfo(tag, default) for key, tag, default in _KV_KEY_ROWS}
)
"""Every KV key LM Studio knows (as of SDK 2.0.0), with its value type tag and default."""

# msgspec type that a value of each tag must convert to (strictly: bools are not numbers).
_TAG_TYPES: Final[Mapping[str, Any]] = {
    "boolean": bool,
    "checkboxNumeric": _CheckboxNumberDict,
    "context": list[Any],
    "contextLength": int,
    "contextOverflowPolicy": ContextOverflowPolicy,
    "envVars": _EnvVars,
    "gpuSplitConfig": GpuSplitConfigDict,
    "llamaAccelerationOffloadRatio": _Ratio,
    "llamaCacheQuantizationType": _CheckboxCacheTypeDict,
    "llamaCppArgumentsOverride": ArgumentsOverrideDict,
    "llamaLogitBias": _LogitBiasList,
    "llamaMirostatSampling": MirostatSamplingDict,
    "llamaStructuredOutput": StructuredSettingDict,
    "llmLoadPromptTemplate": LoadPromptTemplateDict,
    "llmPromptTemplate": PromptTemplateDict,
    "llmReasoningParsing": ReasoningParsingDict,
    "mlxKvCacheQuantizationType": MlxKvCacheQuantizationDict,
    "modelIdentifier": str,
    "numeric": float,
    "retrievalChunkingMethod": _ChunkingMethodDict,
    "speculativeDecodingDraftModel": str,
    "string": str,
    "stringArray": list[str],
    "toolChoice": ToolChoiceDict,
    "toolNaming": ToolNaming,
    "toolUse": ToolUseSettingDict,
}

_SPLIT_KEY: Final = "load.gpuSplitConfig"
_LLM_RATIO_KEY: Final = "llm.load.llama.acceleration.offloadRatio"
_EXPERT_RATIO_KEY: Final = "llm.load.numCpuExpertLayersRatio"
_EMBEDDING_RATIO_KEY: Final = "embedding.load.llama.acceleration.offloadRatio"
_AUTO_FIT_KEYS: Final = ("llm.load.llama.autoFit", "llm.load.mlx.autoFit", "llm.load.yuzu.autoFit")
_STOP_STRINGS_KEY: Final = "llm.prediction.stopStrings"

# -- user-facing config dicts ------------------------------------------------------------------


class EmbeddingGpuSettingDict(TypedDict, total=False):
    """GPU settings of an embedding model load (``gpu=``)."""

    ratio: OffloadRatio
    main_gpu: int
    split_strategy: GpuSplitStrategy
    disabled_gpus: Sequence[int]


class GpuSettingDict(EmbeddingGpuSettingDict, total=False):
    """GPU settings of an LLM load (``gpu=``); camelCase keys are accepted too."""

    num_cpu_expert_layers_ratio: OffloadRatio


class LlmPredictionConfigDict(TypedDict, total=False):
    """Prediction options (``config=`` of respond/complete/act).

    ``False`` on an ``X | Literal[False]`` option sends the setting unchecked (disabled).
    The official SDKs' camelCase names (``maxTokens``, ``topKSampling``, ...) are accepted too.
    """

    temperature: float
    context_overflow_policy: ContextOverflowPolicy
    max_tokens: int | Literal[False]
    reasoning_budget: int | Literal[False]
    stop_strings: Sequence[str]
    tool_call_stop_strings: Sequence[str]
    structured: StructuredSettingDict
    raw_tools: ToolUseSettingDict
    tool_choice: ToolChoiceDict | Literal["none", "auto", "required"]
    tool_naming: ToolNaming
    top_k_sampling: float
    repeat_penalty: float | Literal[False]
    presence_penalty: float | Literal[False]
    min_p_sampling: float | Literal[False]
    top_p_sampling: float | Literal[False]
    xtc_probability: float | Literal[False]
    xtc_threshold: float | Literal[False]
    log_probs: int | Literal[False]
    cpu_threads: int
    enable_thinking: bool
    prompt_template: PromptTemplateDict
    draft_model: str
    speculative_decoding_num_draft_tokens_exact: int
    speculative_decoding_min_draft_length_to_consider: int
    speculative_decoding_min_continue_drafting_probability: float
    reasoning_parsing: ReasoningParsingDict
    user_max_image_dimension_pixels: int | Literal[False]
    ignore_model_preferred_max_image_dimension: bool
    # Keys neither official SDK maps, honoured by the engine:
    system_prompt: str
    seed: int | Literal[False]
    context_prefill: Sequence[Any]
    speculative_decoding_num_reuse_tokens: int
    speculative_decoding_max_tokens_to_draft: int
    frequency_penalty: float | Literal[False]
    mirostat_sampling: MirostatSamplingDict
    tail_free_sampling: float | Literal[False]
    locally_typical_sampling: float | Literal[False]
    logit_bias: LogitBias
    raw: KVConfig | Mapping[str, Any]


class LlmLoadConfigDict(TypedDict, total=False):
    """LLM load options (``config=`` of load/model); camelCase names are accepted too."""

    auto_fit: bool
    gpu: GpuSettingDict
    gpu_strict_vram_cap: bool
    max_parallel_predictions: int
    use_unified_kv_cache: bool
    offload_kv_cache_to_gpu: bool
    context_length: int
    prompt_template: LoadPromptTemplateDict
    rope_frequency_base: float | Literal[False]
    rope_frequency_scale: float | Literal[False]
    eval_batch_size: int
    physical_batch_size: int
    flash_attention: bool
    context_checkpoints: int
    reasoning_budget_message: str
    speculative_draft_mtp: bool
    speculative_draft_simple: bool
    speculative_draft_model: str
    speculative_draft_max_tokens: int
    speculative_draft_min_tokens: int
    speculative_draft_min_continue_probability: float
    keep_model_in_memory: bool
    seed: int | Literal[False]
    use_fp16_for_kv_cache: bool
    try_mmap: bool
    try_direct_io: bool
    llama_cpp_arguments_override: ArgumentsOverrideDict
    num_experts: int
    llama_k_cache_quantization_type: CacheQuantizationType | Literal[False]
    llama_v_cache_quantization_type: CacheQuantizationType | Literal[False]
    mlx_disk_cache: bool
    mlx_kv_cache_quantization: MlxKvCacheQuantizationDict | Literal[False]
    # Keys neither official SDK maps, honoured by the engine:
    speculative_draft_dflash_sidecar: bool
    speculative_draft_dspark_sidecar: bool
    speculative_draft_mtp_sidecar: bool
    auto_fit_min_context_length: int
    cpu_thread_pool_size: int
    vllm_gpu_memory_utilization: float
    vllm_reasoning_parser: str
    vllm_tool_call_parser: str
    env_vars: Mapping[Literal["HSA_OVERRIDE_GFX_VERSION"], str]
    raw: KVConfig | Mapping[str, Any]


class EmbeddingLoadConfigDict(TypedDict, total=False):
    """Embedding model load options; camelCase names are accepted too."""

    gpu: EmbeddingGpuSettingDict
    context_length: int
    rope_frequency_base: float | Literal[False]
    rope_frequency_scale: float | Literal[False]
    keep_model_in_memory: bool
    try_mmap: bool
    # Keys neither official SDK maps, honoured by the engine:
    seed: int | Literal[False]
    eval_batch_size: int
    env_vars: Mapping[Literal["HSA_OVERRIDE_GFX_VERSION"], str]
    raw: KVConfig | Mapping[str, Any]


# -- read-back structs --------------------------------------------------------------------------


class GpuSetting(msgspec.Struct, frozen=True, kw_only=True):
    """GPU settings read back from a load config.

    ``split_strategy`` is ``"evenly"`` or ``"favorMainGpu"``, or the wire strategy
    (``"tensor"``, ``"custom"``) when it has no client-side name.
    """

    ratio: float | str | None = None
    main_gpu: int | None = None
    split_strategy: str | None = None
    disabled_gpus: list[int] | None = None
    num_cpu_expert_layers_ratio: float | str | None = None


class LlmPredictionConfig(msgspec.Struct, frozen=True, kw_only=True):
    """A prediction config as LM Studio reported it; ``None`` = key absent or unreadable.

    ``False`` means the setting is present but unchecked. ``raw`` holds every received field.
    """

    temperature: float | None = None
    context_overflow_policy: str | None = None
    max_tokens: int | Literal[False] | None = None
    reasoning_budget: int | Literal[False] | None = None
    stop_strings: list[str] | None = None
    tool_call_stop_strings: list[str] | None = None
    structured: StructuredSettingDict | None = None
    raw_tools: ToolUseSettingDict | None = None
    tool_choice: ToolChoiceDict | None = None
    tool_naming: str | None = None
    top_k_sampling: float | None = None
    repeat_penalty: float | Literal[False] | None = None
    presence_penalty: float | Literal[False] | None = None
    min_p_sampling: float | Literal[False] | None = None
    top_p_sampling: float | Literal[False] | None = None
    xtc_probability: float | Literal[False] | None = None
    xtc_threshold: float | Literal[False] | None = None
    log_probs: int | Literal[False] | None = None
    cpu_threads: int | None = None
    enable_thinking: bool | None = None
    prompt_template: PromptTemplateDict | None = None
    draft_model: str | None = None
    speculative_decoding_num_draft_tokens_exact: int | None = None
    speculative_decoding_min_draft_length_to_consider: int | None = None
    speculative_decoding_min_continue_drafting_probability: float | None = None
    reasoning_parsing: ReasoningParsingDict | None = None
    user_max_image_dimension_pixels: int | Literal[False] | None = None
    ignore_model_preferred_max_image_dimension: bool | None = None
    system_prompt: str | None = None
    seed: int | Literal[False] | None = None
    context_prefill: list[Any] | None = None
    speculative_decoding_num_reuse_tokens: int | None = None
    speculative_decoding_max_tokens_to_draft: int | None = None
    frequency_penalty: float | Literal[False] | None = None
    mirostat_sampling: MirostatSamplingDict | None = None
    tail_free_sampling: float | Literal[False] | None = None
    locally_typical_sampling: float | Literal[False] | None = None
    logit_bias: list[tuple[int, float | Literal["-inf"]]] | None = None
    raw: KVConfig = msgspec.field(default_factory=KVConfig)


class LlmLoadConfig(msgspec.Struct, frozen=True, kw_only=True):
    """An LLM load config as LM Studio reported it; ``None`` = key absent or unreadable.

    Every known key is mapped whatever the model format; ``auto_fit`` is the first of the
    llama, MLX and yuzu ``autoFit`` keys present. ``raw`` holds every received field.
    """

    auto_fit: bool | None = None
    gpu: GpuSetting | None = None
    gpu_strict_vram_cap: bool | None = None
    max_parallel_predictions: int | None = None
    use_unified_kv_cache: bool | None = None
    offload_kv_cache_to_gpu: bool | None = None
    context_length: int | None = None
    prompt_template: LoadPromptTemplateDict | None = None
    rope_frequency_base: float | Literal[False] | None = None
    rope_frequency_scale: float | Literal[False] | None = None
    eval_batch_size: int | None = None
    physical_batch_size: int | None = None
    flash_attention: bool | None = None
    context_checkpoints: int | None = None
    reasoning_budget_message: str | None = None
    speculative_draft_mtp: bool | None = None
    speculative_draft_simple: bool | None = None
    speculative_draft_model: str | None = None
    speculative_draft_max_tokens: int | None = None
    speculative_draft_min_tokens: int | None = None
    speculative_draft_min_continue_probability: float | None = None
    keep_model_in_memory: bool | None = None
    seed: int | Literal[False] | None = None
    use_fp16_for_kv_cache: bool | None = None
    try_mmap: bool | None = None
    try_direct_io: bool | None = None
    llama_cpp_arguments_override: ArgumentsOverrideDict | None = None
    num_experts: int | None = None
    llama_k_cache_quantization_type: str | Literal[False] | None = None
    llama_v_cache_quantization_type: str | Literal[False] | None = None
    mlx_disk_cache: bool | None = None
    mlx_kv_cache_quantization: MlxKvCacheQuantizationDict | Literal[False] | None = None
    speculative_draft_dflash_sidecar: bool | None = None
    speculative_draft_dspark_sidecar: bool | None = None
    speculative_draft_mtp_sidecar: bool | None = None
    auto_fit_min_context_length: int | None = None
    cpu_thread_pool_size: int | None = None
    vllm_gpu_memory_utilization: float | None = None
    vllm_reasoning_parser: str | None = None
    vllm_tool_call_parser: str | None = None
    env_vars: dict[str, str] | None = None
    raw: KVConfig = msgspec.field(default_factory=KVConfig)


class EmbeddingLoadConfig(msgspec.Struct, frozen=True, kw_only=True):
    """An embedding load config as LM Studio reported it; ``raw`` holds every field."""

    gpu: GpuSetting | None = None
    context_length: int | None = None
    rope_frequency_base: float | Literal[False] | None = None
    rope_frequency_scale: float | Literal[False] | None = None
    keep_model_in_memory: bool | None = None
    try_mmap: bool | None = None
    seed: int | Literal[False] | None = None
    eval_batch_size: int | None = None
    env_vars: dict[str, str] | None = None
    raw: KVConfig = msgspec.field(default_factory=KVConfig)


# -- option tables ------------------------------------------------------------------------------


class _Kind(msgspec.Struct, frozen=True):
    """How a user value is checked (and a received one read)."""

    check: Any  # msgspec type the value must convert to, strictly
    desc: str  # for "X must be <desc>, got ..."
    read: Any = None  # looser type for received values (enums become str); None = check
    nested: bool = False  # a JSON object: keep the caller's dict, extra keys included


def _one_of(values: tuple[str, ...]) -> str:
    return "one of " + ", ".join(repr(v) for v in values)


_NUMBER = _Kind(float, "a number")
_INT = _Kind(int, "an integer")
_BOOL = _Kind(bool, "a boolean")
_STR = _Kind(str, "a string")
_STR_LIST = _Kind(list[str], "a list of strings")
_INT_LIST = _Kind(list[int], "a list of integers")
_ANY_LIST = _Kind(list[Any], "a list")
_RATIO = _Kind(_Ratio, "a number between 0 and 1, 'max' or 'off'")
_OVERFLOW = _Kind(
    ContextOverflowPolicy, _one_of(("stopAtLimit", "truncateMiddle", "rollingWindow")), str
)
_TOOL_NAMING = _Kind(
    ToolNaming, _one_of(("passThrough", "removeSpecial", "snakeCase", "camelCase")), str
)
_CACHE_TYPE = _Kind(
    CacheQuantizationType,
    _one_of(("f32", "f16", "q8_0", "q4_0", "q4_1", "iq4_nl", "q5_0", "q5_1")),
    str,
)
_SPLIT_STRATEGY = _Kind(GpuSplitStrategy, _one_of(("evenly", "favorMainGpu")))
_LOGIT_BIAS = _Kind(_LogitBiasList, "a list of (token id, number or '-inf') pairs")
_ENV_VARS = _Kind(_EnvVars, "a mapping of 'HSA_OVERRIDE_GFX_VERSION' to a string", nested=True)


def _obj(typ: Any, desc: str) -> _Kind:
    return _Kind(typ, desc, nested=True)


_STRUCTURED = _obj(StructuredSettingDict, "a structured-output setting")
_TOOL_USE = _obj(ToolUseSettingDict, "a tool-use setting")
_TOOL_CHOICE = _obj(ToolChoiceDict, "'none', 'auto', 'required' or a tool choice mapping")
_REASONING_PARSING = _obj(ReasoningParsingDict, "a reasoning-parsing setting")
_PROMPT_TEMPLATE = _obj(PromptTemplateDict, "a prompt template")
_LOAD_PROMPT_TEMPLATE = _obj(LoadPromptTemplateDict, "a prompt template")
_MIROSTAT = _obj(MirostatSamplingDict, "a mirostat setting")
_ARGS_OVERRIDE = _obj(ArgumentsOverrideDict, "a llama.cpp arguments override")
_MLX_KV = _obj(MlxKvCacheQuantizationDict, "an MLX KV cache quantization setting")

_NO_FALSE: Final[Any] = None


class _Option(msgspec.Struct, frozen=True):
    """One user-facing option that maps to one KV key."""

    name: str  # snake_case: the option and the read-back field
    camel: str  # the official SDKs' name
    key: str
    kind: _Kind
    checkbox: bool = False  # wire value is {"checked": bool, "value": ...}
    when_false: Any = _NO_FALSE  # what ``False`` sends (checkbox placeholder or object)


def _cb(name: str, camel: str, key: str, kind: _Kind, placeholder: Any) -> _Option:
    return _Option(name, camel, key, kind, checkbox=True, when_false=placeholder)


_P = "llm.prediction."
_SD = "llm.prediction.speculativeDecoding."
# Order = the order TS 2.0 emits fields in (not significant on the wire, but easy to compare).
_PREDICTION_OPTIONS: Final = (
    _Option("temperature", "temperature", _P + "temperature", _NUMBER),
    _Option(
        "context_overflow_policy", "contextOverflowPolicy", _P + "contextOverflowPolicy", _OVERFLOW
    ),
    _cb("max_tokens", "maxTokens", _P + "maxPredictedTokens", _INT, 1),
    _cb("reasoning_budget", "reasoningBudget", _P + "reasoning.budgetTokens", _INT, 1024),
    _Option("stop_strings", "stopStrings", _P + "stopStrings", _STR_LIST),
    _Option("tool_call_stop_strings", "toolCallStopStrings", _P + "toolCallStopStrings", _STR_LIST),
    _Option("structured", "structured", _P + "structured", _STRUCTURED),
    _Option("raw_tools", "rawTools", _P + "tools", _TOOL_USE),
    _Option("tool_choice", "toolChoice", _P + "toolChoice", _TOOL_CHOICE),
    _Option("tool_naming", "toolNaming", _P + "toolNaming", _TOOL_NAMING),
    _Option("top_k_sampling", "topKSampling", _P + "topKSampling", _NUMBER),
    _cb("repeat_penalty", "repeatPenalty", _P + "repeatPenalty", _NUMBER, 1.1),
    _cb("presence_penalty", "presencePenalty", _P + "llama.presencePenalty", _NUMBER, 0),
    _cb("min_p_sampling", "minPSampling", _P + "minPSampling", _NUMBER, 0.05),
    _cb("top_p_sampling", "topPSampling", _P + "topPSampling", _NUMBER, 0.95),
    _cb("xtc_probability", "xtcProbability", _P + "llama.xtcProbability", _NUMBER, 0),
    _cb("xtc_threshold", "xtcThreshold", _P + "llama.xtcThreshold", _NUMBER, 0),
    _cb("log_probs", "logProbs", _P + "logProbs", _INT, 0),
    _Option("cpu_threads", "cpuThreads", _P + "llama.cpuThreads", _INT),
    _Option("enable_thinking", "enableThinking", _P + "reasoning.enableThinking", _BOOL),
    _Option("prompt_template", "promptTemplate", _P + "promptTemplate", _PROMPT_TEMPLATE),
    _Option("draft_model", "draftModel", _SD + "draftModel", _STR),
    _Option(
        "speculative_decoding_num_draft_tokens_exact",
        "speculativeDecodingNumDraftTokensExact",
        _SD + "numDraftTokensExact",
        _INT,
    ),
    _Option(
        "speculative_decoding_min_draft_length_to_consider",
        "speculativeDecodingMinDraftLengthToConsider",
        _SD + "minDraftLengthToConsider",
        _INT,
    ),
    _Option(
        "speculative_decoding_min_continue_drafting_probability",
        "speculativeDecodingMinContinueDraftingProbability",
        _SD + "minContinueDraftingProbability",
        _NUMBER,
    ),
    _Option("reasoning_parsing", "reasoningParsing", _P + "reasoning.parsing", _REASONING_PARSING),
    _cb(
        "user_max_image_dimension_pixels",
        "userMaxImageDimensionPixels",
        _P + "vision.userMaxImageDimensionPixels",
        _INT,
        1024,
    ),
    _Option(
        "ignore_model_preferred_max_image_dimension",
        "ignoreModelPreferredMaxImageDimension",
        _P + "vision.ignoreModelPreferredMaxImageDimension",
        _BOOL,
    ),
    # Not mapped by either official SDK; ``False`` sends the key's default as placeholder.
    _Option("system_prompt", "systemPrompt", _P + "systemPrompt", _STR),
    _cb("seed", "seed", _P + "seed", _INT, -1),
    _Option("context_prefill", "contextPrefill", _P + "contextPrefill", _ANY_LIST),
    _Option(
        "speculative_decoding_num_reuse_tokens",
        "speculativeDecodingNumReuseTokens",
        _SD + "numReuseTokens",
        _INT,
    ),
    _Option(
        "speculative_decoding_max_tokens_to_draft",
        "speculativeDecodingMaxTokensToDraft",
        _SD + "maxTokensToDraft",
        _INT,
    ),
    _cb("frequency_penalty", "frequencyPenalty", _P + "llama.frequencyPenalty", _NUMBER, 0),
    _Option("mirostat_sampling", "mirostatSampling", _P + "llama.mirostatSampling", _MIROSTAT),
    _cb("tail_free_sampling", "tailFreeSampling", _P + "llama.tailFreeSampling", _NUMBER, 0.95),
    _cb(
        "locally_typical_sampling",
        "locallyTypicalSampling",
        _P + "llama.locallyTypicalSampling",
        _NUMBER,
        0.9,
    ),
    _Option("logit_bias", "logitBias", _P + "llama.logitBias", _LOGIT_BIAS),
)

_L = "llm.load."
_LL = "llm.load.llama."
_LSD = "llm.load.llama.speculativeDecoding."
_LLM_LOAD_OPTIONS: Final = (
    _Option("gpu_strict_vram_cap", "gpuStrictVramCap", "load.gpuStrictVramCap", _BOOL),
    _Option("max_parallel_predictions", "maxParallelPredictions", _L + "numParallelSessions", _INT),
    _Option("use_unified_kv_cache", "useUnifiedKvCache", _L + "useUnifiedKvCache", _BOOL),
    _Option("offload_kv_cache_to_gpu", "offloadKVCacheToGpu", _L + "offloadKVCacheToGpu", _BOOL),
    _Option("context_length", "contextLength", _L + "contextLength", _INT),
    _Option("prompt_template", "promptTemplate", _L + "promptTemplate", _LOAD_PROMPT_TEMPLATE),
    _cb("rope_frequency_base", "ropeFrequencyBase", _LL + "ropeFrequencyBase", _NUMBER, 0),
    _cb("rope_frequency_scale", "ropeFrequencyScale", _LL + "ropeFrequencyScale", _NUMBER, 0),
    _Option("eval_batch_size", "evalBatchSize", _LL + "evalBatchSize", _INT),
    _Option("physical_batch_size", "physicalBatchSize", _LL + "physicalBatchSize", _INT),
    _Option("flash_attention", "flashAttention", _LL + "flashAttention", _BOOL),
    _Option("context_checkpoints", "contextCheckpoints", _LL + "contextCheckpoints", _INT),
    _Option(
        "reasoning_budget_message", "reasoningBudgetMessage", _LL + "reasoningBudgetMessage", _STR
    ),
    _Option("speculative_draft_mtp", "speculativeDraftMtp", _LSD + "draftMtp", _BOOL),
    _Option("speculative_draft_simple", "speculativeDraftSimple", _LSD + "draftSimple", _BOOL),
    _Option(
        "speculative_draft_dflash_sidecar",
        "speculativeDraftDflashSidecar",
        _LSD + "draftDflashSidecar",
        _BOOL,
    ),
    _Option(
        "speculative_draft_dspark_sidecar",
        "speculativeDraftDsparkSidecar",
        _LSD + "draftDsparkSidecar",
        _BOOL,
    ),
    _Option(
        "speculative_draft_mtp_sidecar",
        "speculativeDraftMtpSidecar",
        _LSD + "draftMtpSidecar",
        _BOOL,
    ),
    _Option("speculative_draft_model", "speculativeDraftModel", _LSD + "draftModel", _STR),
    _Option(
        "speculative_draft_max_tokens", "speculativeDraftMaxTokens", _LSD + "draftMaxTokens", _INT
    ),
    _Option(
        "speculative_draft_min_tokens", "speculativeDraftMinTokens", _LSD + "draftMinTokens", _INT
    ),
    _Option(
        "speculative_draft_min_continue_probability",
        "speculativeDraftMinContinueProbability",
        _LSD + "draftMinContinueProbability",
        _NUMBER,
    ),
    _Option("keep_model_in_memory", "keepModelInMemory", _LL + "keepModelInMemory", _BOOL),
    _cb("seed", "seed", _L + "seed", _INT, 0),
    _Option("use_fp16_for_kv_cache", "useFp16ForKVCache", _LL + "useFp16ForKVCache", _BOOL),
    _Option("try_mmap", "tryMmap", _LL + "tryMmap", _BOOL),
    _Option("try_direct_io", "tryDirectIO", _LL + "tryDirectIO", _BOOL),
    _Option(
        "llama_cpp_arguments_override",
        "llamaCppArgumentsOverride",
        _LL + "argumentsOverride",
        _ARGS_OVERRIDE,
    ),
    _Option("num_experts", "numExperts", _L + "numExperts", _INT),
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
    _Option("mlx_disk_cache", "mlxDiskCache", _L + "mlx.diskCache", _BOOL),
    _Option(
        "mlx_kv_cache_quantization",
        "mlxKvCacheQuantization",
        _L + "mlx.kvCacheQuantization",
        _MLX_KV,
        when_false={"enabled": False, "bits": 8, "groupSize": 64, "quantizedStart": 5000},
    ),
    # Not mapped by either official SDK:
    _Option(
        "auto_fit_min_context_length",
        "autoFitMinContextLength",
        _L + "autoFitMinContextLength",
        _INT,
    ),
    _Option("cpu_thread_pool_size", "cpuThreadPoolSize", _LL + "cpuThreadPoolSize", _INT),
    _Option(
        "vllm_gpu_memory_utilization",
        "vllmGpuMemoryUtilization",
        _L + "vllm.gpuMemoryUtilization",
        _NUMBER,
    ),
    _Option("vllm_reasoning_parser", "vllmReasoningParser", _L + "vllm.reasoningParser", _STR),
    _Option("vllm_tool_call_parser", "vllmToolCallParser", _L + "vllm.toolCallParser", _STR),
    _Option("env_vars", "envVars", "envVars", _ENV_VARS),
)

_E = "embedding.load."
_EMBEDDING_LOAD_OPTIONS: Final = (
    _Option("context_length", "contextLength", _E + "contextLength", _INT),
    _cb("rope_frequency_base", "ropeFrequencyBase", _E + "llama.ropeFrequencyBase", _NUMBER, 0),
    _cb("rope_frequency_scale", "ropeFrequencyScale", _E + "llama.ropeFrequencyScale", _NUMBER, 0),
    _Option("keep_model_in_memory", "keepModelInMemory", _E + "llama.keepModelInMemory", _BOOL),
    _Option("try_mmap", "tryMmap", _E + "llama.tryMmap", _BOOL),
    # Not mapped by either official SDK:
    _cb("seed", "seed", _E + "seed", _INT, -1),
    _Option("eval_batch_size", "evalBatchSize", _E + "llama.evalBatchSize", _INT),
    _Option("env_vars", "envVars", "envVars", _ENV_VARS),
)

# gpu= settings: snake name -> (camel name, kind)
_GPU_FIELDS: Final[Mapping[str, tuple[str, _Kind]]] = {
    "ratio": ("ratio", _RATIO),
    "main_gpu": ("mainGpu", _INT),
    "split_strategy": ("splitStrategy", _SPLIT_STRATEGY),
    "disabled_gpus": ("disabledGpus", _INT_LIST),
    "num_cpu_expert_layers_ratio": ("numCpuExpertLayersRatio", _RATIO),
}
_EMBEDDING_GPU_FIELDS: Final = ("ratio", "main_gpu", "split_strategy", "disabled_gpus")

# Options whose presence makes TS 2.0 switch autoFit off (unless auto_fit is given).
_MANUAL_LOAD_OPTIONS: Final = frozenset({"context_length", "gpu_strict_vram_cap"})
_MANUAL_GPU_SETTINGS: Final = frozenset(
    {"ratio", "num_cpu_expert_layers_ratio", "main_gpu", "split_strategy"}
)
# Setting any public speculative selector clears the sidecar selectors TS 2.0 keeps internal.
_SPECULATIVE_SELECTORS: Final = frozenset(
    {"speculative_draft_mtp", "speculative_draft_simple", "speculative_draft_model"}
)
_SPECULATIVE_SIDECARS: Final = (
    "speculative_draft_dflash_sidecar",
    "speculative_draft_dspark_sidecar",
    "speculative_draft_mtp_sidecar",
)


class _Domain(msgspec.Struct, frozen=True):
    where: str  # for error messages: "unknown <where> key ..."
    options: tuple[_Option, ...]
    pairs: tuple[tuple[str, str], ...]  # (snake, camel) of every option, special ones included
    names: Mapping[str, str]  # either spelling -> snake name
    by_name: Mapping[str, _Option]
    by_key: Mapping[str, str]  # KV key -> snake name
    order: Mapping[str, int]  # KV key -> emission position


def _domain(
    where: str,
    options: tuple[_Option, ...],
    special: tuple[tuple[str, str], ...],
    leading_keys: tuple[str, ...],
) -> _Domain:
    pairs = tuple((o.name, o.camel) for o in options) + special
    names = {spelling: snake for snake, camel in pairs for spelling in (snake, camel)}
    keys = leading_keys + tuple(o.key for o in options)
    return _Domain(
        where=where,
        options=options,
        pairs=pairs,
        names=names,
        by_name={o.name: o for o in options},
        by_key={o.key: o.name for o in options},
        order={key: i for i, key in enumerate(keys)},
    )


_RAW: Final = ("raw", "raw")
_GPU: Final = ("gpu", "gpu")
_PREDICTION = _domain("prediction config", _PREDICTION_OPTIONS, (_RAW,), ())
_LLM_LOAD = _domain(
    "LLM load config",
    _LLM_LOAD_OPTIONS,
    (("auto_fit", "autoFit"), _GPU, _RAW),
    (*_AUTO_FIT_KEYS, _SPLIT_KEY, "load.gpuStrictVramCap", _LLM_RATIO_KEY, _EXPERT_RATIO_KEY),
)
_EMBEDDING_LOAD = _domain(
    "embedding load config",
    _EMBEDDING_LOAD_OPTIONS,
    (_GPU, _RAW),
    (_SPLIT_KEY, _EMBEDDING_RATIO_KEY),
)

# -- encoding -----------------------------------------------------------------------------------

_Given = dict[str, tuple[str, Any]]  # snake name -> (name as written, value)


def _plain(value: Any) -> Any:
    """A JSON-ready deep copy: mappings become dicts, tuples and lists become lists."""
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _suggest(
    written: str, pairs: Sequence[tuple[str, str]], by_key: Mapping[str, str]
) -> str | None:
    """The closest option name, in the naming style the caller used."""
    camel_of = dict(pairs)
    snake = by_key.get(written)  # a KV key given as an option name
    if snake is None:
        lowered: dict[str, str] = {}
        for name, camel in pairs:
            lowered.setdefault(name.lower(), name)
            lowered.setdefault(camel.lower(), name)
        match = difflib.get_close_matches(written.lower(), list(lowered), n=1, cutoff=0.6)
        if not match and len(written) >= 3:  # an abbreviation: "topK" -> "topKSampling"
            match = [name for name in lowered if name.startswith(written.lower())][:1]
        if not match:
            return None
        snake = lowered[match[0]]
    wrote_camel = "_" not in written and any(c.isupper() for c in written)
    return camel_of[snake] if wrote_camel else snake


def _collect(
    config: Mapping[str, Any],
    where: str,
    names: Mapping[str, str],
    pairs: Sequence[tuple[str, str]],
    by_key: Mapping[str, str],
) -> _Given:
    """Resolve both spellings to snake names; ``None`` values count as not given."""
    if not isinstance(config, Mapping):
        raise LMStudioValueError(f"{where} must be a mapping, got {type(config).__name__}")
    given: _Given = {}
    for written, value in config.items():
        if not isinstance(written, str):
            raise LMStudioValueError(f"{where} keys must be strings, got {written!r}")
        name = names.get(written)
        if name is None:
            raise ConfigKeyError(written, where=where, suggestion=_suggest(written, pairs, by_key))
        if name in given:
            raise LMStudioValueError(
                f"{where} option {name!r} is given twice, as {given[name][0]!r} and {written!r}"
            )
        given[name] = (written, value)
    return {name: wv for name, wv in given.items() if wv[1] is not None}


def _check(written: str, value: Any, kind: _Kind, desc: str) -> None:
    try:
        msgspec.convert(value, kind.check, strict=True)
    except msgspec.ValidationError as exc:
        detail = f" ({exc})" if kind.nested else ""
        raise LMStudioValueError(f"{written} must be {desc}, got {value!r}{detail}") from None


def _encode(opt: _Option, written: str, value: Any) -> Any:
    if value is False and opt.when_false is not _NO_FALSE:
        placeholder = _plain(opt.when_false)
        return {"checked": False, "value": placeholder} if opt.checkbox else placeholder
    if opt.kind is _TOOL_CHOICE and isinstance(value, str):
        value = {"type": "generic", "mode": value}
    value = _plain(value)
    desc = opt.kind.desc + (" or False" if opt.when_false is not _NO_FALSE else "")
    _check(written, value, opt.kind, desc)
    return {"checked": True, "value": value} if opt.checkbox else value


def _encode_plain(domain: _Domain, given: _Given, out: dict[str, Any]) -> None:
    for name, (written, value) in given.items():
        opt = domain.by_name.get(name)
        if opt is not None:
            out[opt.key] = _encode(opt, written, value)


def _gpu_settings(written: str, value: Any, allowed: Sequence[str]) -> dict[str, Any]:
    """Checked ``gpu=`` settings by snake name."""
    pairs = [(name, _GPU_FIELDS[name][0]) for name in allowed]
    names = {spelling: snake for snake, camel in pairs for spelling in (snake, camel)}
    where = f"{written} setting"
    if not isinstance(value, Mapping):
        raise LMStudioValueError(f"{written} must be a mapping of GPU settings, got {value!r}")
    settings: dict[str, Any] = {}
    for name, (sub_written, sub_value) in _collect(value, where, names, pairs, {}).items():
        kind = _GPU_FIELDS[name][1]
        sub_value = _plain(sub_value)
        _check(f"{written}.{sub_written}", sub_value, kind, kind.desc)
        settings[name] = sub_value
    return settings


def _split_config(gpu: Mapping[str, Any]) -> dict[str, Any]:
    strategy = gpu.get("split_strategy", "evenly")
    main_gpu = gpu.get("main_gpu")
    return {
        "strategy": "priorityOrder" if strategy == "favorMainGpu" else strategy,
        "disabledGpus": gpu.get("disabled_gpus", []),
        # TS tests the main GPU for truthiness: GPU 0 gives an empty priority list.
        "priority": [main_gpu] if main_gpu else [],
        "customRatio": [],
    }


def _raw_fields(written: str, raw: Any) -> dict[str, Any]:
    """A ``raw`` option as key -> value (later duplicates win)."""
    if isinstance(raw, KVConfig):
        return {f.key: f.value for f in raw.fields}
    if isinstance(raw, Mapping):
        items = raw.get("fields") if set(raw) == {"fields"} else None
        if isinstance(items, list | tuple):  # the wire shape {"fields": [{key, value}, ...]}
            out: dict[str, Any] = {}
            for item in items:
                if isinstance(item, KVConfigField):
                    out[item.key] = item.value
                elif (
                    isinstance(item, Mapping)
                    and isinstance(item.get("key"), str)
                    and "value" in item
                ):
                    out[item["key"]] = _plain(item["value"])
                else:
                    raise LMStudioValueError(
                        f"{written} fields must be {{'key': str, 'value': ...}}, got {item!r}"
                    )
            return out
        if all(isinstance(k, str) for k in raw):
            return {k: _plain(v) for k, v in raw.items()}
    raise LMStudioValueError(
        f"{written} must be a KVConfig or a mapping of KV keys to values, got {raw!r}"
    )


def _finish(domain: _Domain, given: _Given, typed: dict[str, Any]) -> KVConfig:
    """Order the typed fields like TS, then lay them over ``raw`` (typed fields win)."""
    fields = dict(sorted(typed.items(), key=lambda item: domain.order[item[0]]))
    if "raw" in given:
        fields = {**_raw_fields(*given["raw"]), **fields}
    return KVConfig(fields=[KVConfigField(key=k, value=v) for k, v in fields.items()])


def _given(config: Mapping[str, Any] | None, domain: _Domain) -> _Given:
    if config is None:
        return {}
    return _collect(config, domain.where, domain.names, domain.pairs, domain.by_key)


def prediction_config_to_kv(config: Mapping[str, Any] | None) -> KVConfig:
    """Encode prediction options (:class:`LlmPredictionConfigDict`) like TS 2.0.

    Both snake_case and the official camelCase names are accepted. ``tool_choice`` also
    takes a bare mode (``"required"``). ``raw`` fields go under the typed ones.

    Raises:
        ConfigKeyError: an unknown option (the message suggests the closest one).
        LMStudioValueError: a value of the wrong type.
    """
    given = _given(config, _PREDICTION)
    typed: dict[str, Any] = {}
    _encode_plain(_PREDICTION, given, typed)
    return _finish(_PREDICTION, given, typed)


def llm_load_config_to_kv(config: Mapping[str, Any] | None) -> KVConfig:
    """Encode LLM load options (:class:`LlmLoadConfigDict`) like TS 2.0.

    As TS 2.0 does: ``gpu.ratio`` becomes ``llm.load.llama.acceleration.offloadRatio``;
    ``load.gpuSplitConfig`` is sent only with split settings (``main_gpu``,
    ``split_strategy`` or non-empty ``disabled_gpus``); manual settings (``context_length``,
    ``gpu_strict_vram_cap``, ``gpu`` ratios, main GPU or strategy) also write ``false`` to
    the three ``*.autoFit`` keys unless ``auto_fit`` is given; and any speculative selector
    also writes ``false`` to the sidecar selectors not given explicitly. Unlike TS 2.0's
    recorded conversion, ``llama_cpp_arguments_override`` is sent, not dropped.

    Raises:
        ConfigKeyError: an unknown option (the message suggests the closest one).
        LMStudioValueError: a value of the wrong type.
    """
    given = _given(config, _LLM_LOAD)
    typed: dict[str, Any] = {}
    gpu = _gpu_settings(*given["gpu"], list(_GPU_FIELDS)) if "gpu" in given else {}
    if "auto_fit" in given:
        written, auto_fit = given["auto_fit"]
        _check(written, auto_fit, _BOOL, _BOOL.desc)
    elif _MANUAL_LOAD_OPTIONS & given.keys() or _MANUAL_GPU_SETTINGS & gpu.keys():
        auto_fit = False
    else:
        auto_fit = None
    if auto_fit is not None:
        typed.update(dict.fromkeys(_AUTO_FIT_KEYS, auto_fit))
    if gpu.get("disabled_gpus") or {"main_gpu", "split_strategy"} & gpu.keys():
        typed[_SPLIT_KEY] = _split_config(gpu)
    if "ratio" in gpu:
        typed[_LLM_RATIO_KEY] = gpu["ratio"]
    if "num_cpu_expert_layers_ratio" in gpu:
        typed[_EXPERT_RATIO_KEY] = gpu["num_cpu_expert_layers_ratio"]
    if _SPECULATIVE_SELECTORS & given.keys():
        for name in _SPECULATIVE_SIDECARS:
            typed[_LLM_LOAD.by_name[name].key] = False  # explicit values overwrite this below
    _encode_plain(_LLM_LOAD, given, typed)
    return _finish(_LLM_LOAD, given, typed)


def embedding_load_config_to_kv(config: Mapping[str, Any] | None) -> KVConfig:
    """Encode embedding load options (:class:`EmbeddingLoadConfigDict`).

    Like TS 2.0, any ``gpu`` setting sends ``load.gpuSplitConfig``. Unlike TS 2.0 (which
    drops it) and like the official Python SDK, ``gpu.ratio`` is sent too, as
    ``embedding.load.llama.acceleration.offloadRatio``.

    Raises:
        ConfigKeyError: an unknown option (the message suggests the closest one).
        LMStudioValueError: a value of the wrong type.
    """
    given = _given(config, _EMBEDDING_LOAD)
    typed: dict[str, Any] = {}
    if "gpu" in given:
        gpu = _gpu_settings(*given["gpu"], _EMBEDDING_GPU_FIELDS)
        typed[_SPLIT_KEY] = _split_config(gpu)
        if "ratio" in gpu:
            typed[_EMBEDDING_RATIO_KEY] = gpu["ratio"]
    _encode_plain(_EMBEDDING_LOAD, given, typed)
    return _finish(_EMBEDDING_LOAD, given, typed)


# -- decoding -----------------------------------------------------------------------------------

_BAD: Final = object()
_MAX_LOGGED: Final = 1024
_logged: set[tuple[int, str]] = set()


def _log_once(level: int, key: str, message: str, *args: Any) -> None:
    """Log once per (level, key) per process: the same config comes back with every call."""
    if (level, key) in _logged or len(_logged) >= _MAX_LOGGED:
        return
    _logged.add((level, key))
    logger.log(level, message, *args)


def _read(kind: _Kind, value: Any) -> Any:
    """A received value as its read-back type, or ``_BAD``."""
    try:
        converted = msgspec.convert(value, kind.read or kind.check, strict=True)
    except msgspec.ValidationError:
        return _BAD
    return _plain(value) if kind.nested else converted


def _decode(opt: _Option, value: Any) -> Any:
    if opt.checkbox:
        if not (isinstance(value, dict) and isinstance(value.get("checked"), bool)):
            return _BAD
        if not value["checked"]:
            return False
        return _read(opt.kind, value.get("value"))
    if (
        opt.when_false is not _NO_FALSE
        and isinstance(value, dict)
        and value.get("enabled") is False
    ):
        return False
    return _read(opt.kind, value)


def _read_or_log(key: str, value: Any, read: Callable[[Any], Any]) -> Any:
    result = read(value)
    if result is _BAD:
        _log_once(logging.WARNING, key, "ignoring an ill-typed value for KV key %r: %r", key, value)
    return result


def _decode_fields(domain: _Domain, values: Mapping[str, Any]) -> dict[str, Any]:
    """Read-back fields by snake name; logs unknown keys and unreadable values."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        if key not in KV_KEYS:
            _log_once(logging.INFO, key, "LM Studio sent an unknown KV key %r; kept in raw", key)
        name = domain.by_key.get(key)
        if name is not None:
            opt = domain.by_name[name]
            result = _read_or_log(key, value, partial(_decode, opt))
            if result is not _BAD:
                out[name] = result
    return out


def _decode_gpu(
    values: Mapping[str, Any], ratio_key: str, expert_key: str | None
) -> GpuSetting | None:
    fields: dict[str, Any] = {}
    for key, name in ((ratio_key, "ratio"), (expert_key, "num_cpu_expert_layers_ratio")):
        if key is not None and key in values:
            result = _read_or_log(key, values[key], lambda v: _read(_RATIO, v))
            if result is not _BAD:
                fields[name] = result
    if _SPLIT_KEY in values:
        split = _read_or_log(_SPLIT_KEY, values[_SPLIT_KEY], lambda v: _read(_SPLIT_CONFIG, v))
        if split is not _BAD:
            strategy = split["strategy"]
            fields["split_strategy"] = "favorMainGpu" if strategy == "priorityOrder" else strategy
            fields["disabled_gpus"] = list(split["disabledGpus"])
            if split["priority"]:
                fields["main_gpu"] = split["priority"][0]
    return GpuSetting(**fields) if fields else None


_SPLIT_CONFIG = _obj(GpuSplitConfigDict, "a GPU split config")


def _values(kv: KVConfig) -> dict[str, Any]:
    return {f.key: f.value for f in kv.fields}


def kv_to_prediction_config(kv: KVConfig) -> LlmPredictionConfig:
    """Read a received prediction KVConfig; never raises (bad fields stay in ``raw``)."""
    return LlmPredictionConfig(**_decode_fields(_PREDICTION, _values(kv)), raw=kv)


def kv_to_llm_load_config(kv: KVConfig) -> LlmLoadConfig:
    """Read a received LLM load KVConfig; never raises (bad fields stay in ``raw``).

    Every known key is read whatever the model format (TS 2.0 picks keys by format and
    hides manual values when autoFit is on; we report what the server sent).
    """
    values = _values(kv)
    fields = _decode_fields(_LLM_LOAD, values)
    for key in _AUTO_FIT_KEYS:
        if key in values:
            auto_fit = _read_or_log(key, values[key], lambda v: _read(_BOOL, v))
            if auto_fit is not _BAD:
                fields["auto_fit"] = auto_fit
                break
    gpu = _decode_gpu(values, _LLM_RATIO_KEY, _EXPERT_RATIO_KEY)
    return LlmLoadConfig(**fields, gpu=gpu, raw=kv)


def kv_to_embedding_load_config(kv: KVConfig) -> EmbeddingLoadConfig:
    """Read a received embedding load KVConfig; never raises (bad fields stay in ``raw``)."""
    values = _values(kv)
    fields = _decode_fields(_EMBEDDING_LOAD, values)
    gpu = _decode_gpu(values, _EMBEDDING_RATIO_KEY, None)
    return EmbeddingLoadConfig(**fields, gpu=gpu, raw=kv)


# -- keys, stacks -------------------------------------------------------------------------------


def validate_kv_value(key: str, value: Any) -> None:
    """Check a received field against its key's value type; unknown keys always pass.

    Raises:
        LMStudioValueError: naming the key, its type tag and the value.
    """
    info = KV_KEYS.get(key)
    if info is None:
        return
    try:
        msgspec.convert(value, _TAG_TYPES[info.type_tag], strict=True)
    except msgspec.ValidationError as exc:
        raise LMStudioValueError(
            f"KV key {key!r} needs a {info.type_tag} value, got {value!r} ({exc})"
        ) from None


def unknown_keys(kv: KVConfig) -> list[str]:
    """Keys of ``kv`` that are not in :data:`KV_KEYS`, each once, in order."""
    return [key for key in dict.fromkeys(f.key for f in kv.fields) if key not in KV_KEYS]


def api_override_stack(kv: KVConfig) -> KVConfigStack:
    """The one-layer ``apiOverride`` stack the SDKs send (``fields: []`` when empty)."""
    return KVConfigStack(layers=[KVConfigLayer(layer_name="apiOverride", config=kv)])


def completion_stack(kv: KVConfig) -> KVConfigStack:
    """The stack of a TS 2.0 ``completeRawText``: adds ``stopStrings: []`` unless given.

    The empty stop strings keep a preset's chat stop strings out of raw completions.
    """
    if any(f.key == _STOP_STRINGS_KEY for f in kv.fields):
        return api_override_stack(kv)
    fields = [*kv.fields, KVConfigField(key=_STOP_STRINGS_KEY, value=[])]
    return api_override_stack(KVConfig(fields=fields))


_COMPLETE_TEMPLATE: Final = "{% for message in messages %}{{ message['content'] }}{% endfor %}"

COMPLETE_MODE_TEMPLATE_LAYER: Final = KVConfigLayer(
    layer_name="completeModeFormatting",
    config=KVConfig(
        fields=[
            KVConfigField(
                key="llm.prediction.promptTemplate",
                value={
                    "type": "jinja",
                    "jinjaPromptTemplate": {
                        "template": _COMPLETE_TEMPLATE,
                        "bosToken": "",
                        "eosToken": "",
                        "inputConfig": {
                            "messagesConfig": {"contentConfig": {"type": "string"}},
                            "useTools": False,
                        },
                    },
                    "stopStrings": [],
                },
            )
        ]
    ),
)
"""Second layer for ``complete()`` over ``predict`` (official Python SDK): the prompt is
the messages' text, unformatted. Put it after the ``apiOverride`` layer."""
