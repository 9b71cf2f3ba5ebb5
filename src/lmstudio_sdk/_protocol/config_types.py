"""The config types users see: the ``*ConfigDict`` TypedDicts they pass and the frozen
read-back structs (``get_load_config()``), with the value types they are made of.

Wire shapes keep their camelCase keys. ``kv_config`` converts these to and from KVConfigs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal, NotRequired, Required, TypedDict

import msgspec

from .packets.shared import KVConfig

__all__ = [
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
]

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
    raw: KVConfig = msgspec.field(default_factory=lambda: KVConfig(fields=[]))


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
    raw: KVConfig = msgspec.field(default_factory=lambda: KVConfig(fields=[]))


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
    raw: KVConfig = msgspec.field(default_factory=lambda: KVConfig(fields=[]))
