"""The KV key table: every key of ``@lmstudio/sdk`` 2.0.0, its value type tag and default.

Pure data (protocol §4.6-4.9), plus the msgspec type each tag must convert to and the names
of the keys the conversions in ``kv_config`` treat specially.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Annotated, Any, Final, Literal, NamedTuple, TypedDict

import msgspec

from .config_types import (
    ArgumentsOverrideDict,
    CacheQuantizationType,
    ContextOverflowPolicy,
    GpuSplitConfigDict,
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

__all__ = [
    "AUTO_FIT_KEYS",
    "EMBEDDING_RATIO_KEY",
    "EXPERT_RATIO_KEY",
    "KV_KEYS",
    "LLM_RATIO_KEY",
    "SPLIT_KEY",
    "STOP_STRINGS_KEY",
    "TAG_TYPES",
    "EnvVars",
    "KVKeyInfo",
    "LogitBiasList",
    "Ratio",
]

# -- wire shapes of KV values ------------------------------------------------------------------


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


# Checks of received values, shared with the option kinds of kv_options.
Ratio = Annotated[float, msgspec.Meta(ge=0, le=1)] | Literal["max", "off"]
EnvVars = dict[Literal["HSA_OVERRIDE_GFX_VERSION"], str]
LogitBiasList = list[tuple[int, float | Literal["-inf"]]]


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
TAG_TYPES: Final[Mapping[str, Any]] = {
    "boolean": bool,
    "checkboxNumeric": _CheckboxNumberDict,
    "context": list[Any],
    "contextLength": int,
    "contextOverflowPolicy": ContextOverflowPolicy,
    "envVars": EnvVars,
    "gpuSplitConfig": GpuSplitConfigDict,
    "llamaAccelerationOffloadRatio": Ratio,
    "llamaCacheQuantizationType": _CheckboxCacheTypeDict,
    "llamaCppArgumentsOverride": ArgumentsOverrideDict,
    "llamaLogitBias": LogitBiasList,
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

SPLIT_KEY: Final = "load.gpuSplitConfig"
LLM_RATIO_KEY: Final = "llm.load.llama.acceleration.offloadRatio"
EXPERT_RATIO_KEY: Final = "llm.load.numCpuExpertLayersRatio"
EMBEDDING_RATIO_KEY: Final = "embedding.load.llama.acceleration.offloadRatio"
AUTO_FIT_KEYS: Final = ("llm.load.llama.autoFit", "llm.load.mlx.autoFit", "llm.load.yuzu.autoFit")
STOP_STRINGS_KEY: Final = "llm.prediction.stopStrings"
