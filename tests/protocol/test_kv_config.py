"""KV config conversions: expected wire fields are hand-copied from TS 2.0's own conversion."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from typing import Any

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from lmstudio_sdk._exceptions import ConfigKeyError, LMStudioValueError
from lmstudio_sdk._protocol import kv_config
from lmstudio_sdk._protocol.config_types import (
    EmbeddingLoadConfig,
    EmbeddingLoadConfigDict,
    GpuSetting,
    LlmLoadConfig,
    LlmLoadConfigDict,
    LlmPredictionConfig,
    LlmPredictionConfigDict,
)
from lmstudio_sdk._protocol.kv_config import (
    COMPLETE_MODE_TEMPLATE_LAYER,
    api_override_stack,
    completion_stack,
    embedding_load_config_to_kv,
    kv_to_embedding_load_config,
    kv_to_llm_load_config,
    kv_to_prediction_config,
    llm_load_config_to_kv,
    prediction_config_to_kv,
    unknown_keys,
    validate_kv_value,
)
from lmstudio_sdk._protocol.kv_keys import KV_KEYS
from lmstudio_sdk._protocol.packets.shared import KVConfig, KVConfigField

Fields = list[tuple[str, Any]]
Encoder = Callable[[Mapping[str, Any] | None], KVConfig]

AUTO_FIT_OFF: Fields = [
    ("llm.load.llama.autoFit", False),
    ("llm.load.mlx.autoFit", False),
    ("llm.load.yuzu.autoFit", False),
]


def pairs(kv: KVConfig) -> Fields:
    return [(f.key, f.value) for f in kv.fields]


def kv(*items: tuple[str, Any]) -> KVConfig:
    return KVConfig(fields=[KVConfigField(key=k, value=v) for k, v in items])


def snake(name: str) -> str:
    """Our snake_case spelling of a TS option name (for the names in the cases below)."""
    special = {
        "offloadKVCacheToGpu": "offload_kv_cache_to_gpu",
        "useFp16ForKVCache": "use_fp16_for_kv_cache",
        "tryDirectIO": "try_direct_io",
        "llamaKCacheQuantizationType": "llama_k_cache_quantization_type",
        "llamaVCacheQuantizationType": "llama_v_cache_quantization_type",
    }
    if name in special:
        return special[name]
    return "".join("_" + c.lower() if c.isupper() else c for c in name)


@pytest.fixture(autouse=True)
def fresh_log_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test sees the "log once" memory empty."""
    monkeypatch.setattr(kv_config, "_logged", set())


# -- the key table ------------------------------------------------------------------------------


def test_key_table_has_the_95_keys_of_ts_2_0() -> None:
    assert len(KV_KEYS) == 95
    assert KV_KEYS["llm.prediction.temperature"] == ("numeric", 0.8)
    assert KV_KEYS["llm.prediction.maxPredictedTokens"] == (
        "checkboxNumeric",
        {"checked": False, "value": 1000},
    )
    assert KV_KEYS["load.gpuSplitConfig"] == (
        "gpuSplitConfig",
        {"strategy": "evenly", "disabledGpus": [], "priority": [], "customRatio": []},
    )
    assert KV_KEYS["llm.load.llama.kCacheQuantizationType"].type_tag == (
        "llamaCacheQuantizationType"
    )
    assert KV_KEYS["envVars"] == ("envVars", {})
    assert KV_KEYS["retrieval.embeddingModel"] == ("modelIdentifier", "")
    prefixes = {key.split(".")[0] for key in KV_KEYS}
    assert prefixes == {"envVars", "llm", "load", "embedding", "retrieval"}


@pytest.mark.parametrize("key", list(KV_KEYS))
def test_every_default_is_a_valid_value_of_its_key(key: str) -> None:
    validate_kv_value(key, KV_KEYS[key].default)


@pytest.mark.parametrize(
    ("prefixes", "decode"),
    [
        (("llm.prediction.",), kv_to_prediction_config),
        (("llm.load.", "load.", "envVars"), kv_to_llm_load_config),
        (("embedding.load.", "load.gpuSplitConfig", "envVars"), kv_to_embedding_load_config),
    ],
)
def test_every_key_of_a_domain_is_read_into_a_typed_field(
    prefixes: tuple[str, ...], decode: Callable[[KVConfig], msgspec.Struct]
) -> None:
    for key, info in KV_KEYS.items():
        if not key.startswith(prefixes):
            continue
        result = msgspec.structs.asdict(decode(kv((key, info.default))))
        del result["raw"]
        assert any(v is not None for v in result.values()), key


@pytest.mark.parametrize(
    ("config_dict", "struct", "encode"),
    [
        (LlmPredictionConfigDict, LlmPredictionConfig, prediction_config_to_kv),
        (LlmLoadConfigDict, LlmLoadConfig, llm_load_config_to_kv),
        (EmbeddingLoadConfigDict, EmbeddingLoadConfig, embedding_load_config_to_kv),
    ],
)
def test_config_dicts_and_read_back_structs_name_the_same_options(
    config_dict: type, struct: type[msgspec.Struct], encode: Encoder
) -> None:
    options = set(config_dict.__annotations__)
    assert options == {f.name for f in msgspec.structs.fields(struct)}
    for name in options:  # every declared option is accepted (the value is then refused)
        with pytest.raises(LMStudioValueError) as info:
            encode({name: object()})
        assert not isinstance(info.value, ConfigKeyError), name


# -- prediction config: TS 2.0's mapping --------------------------------------------------------

PREDICTION_CASES: list[tuple[str, Any, Fields]] = [
    ("temperature", 0.5, [("llm.prediction.temperature", 0.5)]),
    (
        "contextOverflowPolicy",
        "stopAtLimit",
        [("llm.prediction.contextOverflowPolicy", "stopAtLimit")],
    ),
    ("maxTokens", 100, [("llm.prediction.maxPredictedTokens", {"checked": True, "value": 100})]),
    (
        "reasoningBudget",
        512,
        [("llm.prediction.reasoning.budgetTokens", {"checked": True, "value": 512})],
    ),
    ("stopStrings", ["x"], [("llm.prediction.stopStrings", ["x"])]),
    ("toolCallStopStrings", ["y"], [("llm.prediction.toolCallStopStrings", ["y"])]),
    (
        "structured",
        {"type": "json", "jsonSchema": {"type": "object"}},
        [("llm.prediction.structured", {"type": "json", "jsonSchema": {"type": "object"}})],
    ),
    (
        "rawTools",
        {"type": "toolArray", "tools": []},
        [("llm.prediction.tools", {"type": "toolArray", "tools": []})],
    ),
    (
        "toolChoice",
        {"type": "generic", "mode": "required"},
        [("llm.prediction.toolChoice", {"type": "generic", "mode": "required"})],
    ),
    ("toolNaming", "passThrough", [("llm.prediction.toolNaming", "passThrough")]),
    ("topKSampling", 20, [("llm.prediction.topKSampling", 20)]),
    ("repeatPenalty", 1.2, [("llm.prediction.repeatPenalty", {"checked": True, "value": 1.2})]),
    (
        "presencePenalty",
        0.3,
        [("llm.prediction.llama.presencePenalty", {"checked": True, "value": 0.3})],
    ),
    ("minPSampling", 0.1, [("llm.prediction.minPSampling", {"checked": True, "value": 0.1})]),
    ("topPSampling", 0.8, [("llm.prediction.topPSampling", {"checked": True, "value": 0.8})]),
    (
        "xtcProbability",
        0.4,
        [("llm.prediction.llama.xtcProbability", {"checked": True, "value": 0.4})],
    ),
    ("xtcThreshold", 0.2, [("llm.prediction.llama.xtcThreshold", {"checked": True, "value": 0.2})]),
    ("logProbs", 3, [("llm.prediction.logProbs", {"checked": True, "value": 3})]),
    ("cpuThreads", 8, [("llm.prediction.llama.cpuThreads", 8)]),
    ("enableThinking", False, [("llm.prediction.reasoning.enableThinking", False)]),
    (
        "promptTemplate",
        {"type": "jinja", "jinjaPromptTemplate": {"template": "t"}, "stopStrings": []},
        [
            (
                "llm.prediction.promptTemplate",
                {"type": "jinja", "jinjaPromptTemplate": {"template": "t"}, "stopStrings": []},
            )
        ],
    ),
    ("draftModel", "d", [("llm.prediction.speculativeDecoding.draftModel", "d")]),
    (
        "speculativeDecodingNumDraftTokensExact",
        3,
        [("llm.prediction.speculativeDecoding.numDraftTokensExact", 3)],
    ),
    (
        "speculativeDecodingMinDraftLengthToConsider",
        1,
        [("llm.prediction.speculativeDecoding.minDraftLengthToConsider", 1)],
    ),
    (
        "speculativeDecodingMinContinueDraftingProbability",
        0.5,
        [("llm.prediction.speculativeDecoding.minContinueDraftingProbability", 0.5)],
    ),
    (
        "reasoningParsing",
        {"enabled": True, "startString": "<a>", "endString": "</a>"},
        [
            (
                "llm.prediction.reasoning.parsing",
                {"enabled": True, "startString": "<a>", "endString": "</a>"},
            )
        ],
    ),
    (
        "userMaxImageDimensionPixels",
        512,
        [("llm.prediction.vision.userMaxImageDimensionPixels", {"checked": True, "value": 512})],
    ),
    (
        "ignoreModelPreferredMaxImageDimension",
        True,
        [("llm.prediction.vision.ignoreModelPreferredMaxImageDimension", True)],
    ),
    ("maxTokens", False, [("llm.prediction.maxPredictedTokens", {"checked": False, "value": 1})]),
    # Keys neither official SDK maps (our names):
    ("systemPrompt", "Be brief.", [("llm.prediction.systemPrompt", "Be brief.")]),
    ("seed", 7, [("llm.prediction.seed", {"checked": True, "value": 7})]),
    ("contextPrefill", [], [("llm.prediction.contextPrefill", [])]),
    (
        "speculativeDecodingNumReuseTokens",
        128,
        [("llm.prediction.speculativeDecoding.numReuseTokens", 128)],
    ),
    (
        "speculativeDecodingMaxTokensToDraft",
        8,
        [("llm.prediction.speculativeDecoding.maxTokensToDraft", 8)],
    ),
    (
        "frequencyPenalty",
        0.5,
        [("llm.prediction.llama.frequencyPenalty", {"checked": True, "value": 0.5})],
    ),
    (
        "mirostatSampling",
        {"version": 2, "learningRate": 0.1, "targetEntropy": 5},
        [
            (
                "llm.prediction.llama.mirostatSampling",
                {"version": 2, "learningRate": 0.1, "targetEntropy": 5},
            )
        ],
    ),
    (
        "tailFreeSampling",
        0.9,
        [("llm.prediction.llama.tailFreeSampling", {"checked": True, "value": 0.9})],
    ),
    (
        "locallyTypicalSampling",
        0.8,
        [("llm.prediction.llama.locallyTypicalSampling", {"checked": True, "value": 0.8})],
    ),
    (
        "logitBias",
        [(15, "-inf"), (16, 2.5)],
        [("llm.prediction.llama.logitBias", [[15, "-inf"], [16, 2.5]])],
    ),
]


@pytest.mark.parametrize(("name", "value", "expected"), PREDICTION_CASES)
@pytest.mark.parametrize("style", ["camel", "snake"])
def test_prediction_option_maps_like_ts(
    name: str, value: Any, expected: Fields, style: str
) -> None:
    option = name if style == "camel" else snake(name)
    assert pairs(prediction_config_to_kv({option: value})) == expected


def test_prediction_fields_come_in_ts_order() -> None:
    # Same order as TS 2.0 sent in the recorded traffic.
    config = {
        "topPSampling": 0.9,
        "minPSampling": False,
        "repeatPenalty": 1.1,
        "topKSampling": 40,
        "stopStrings": ["</s>"],
        "maxTokens": 100,
        "temperature": 0.5,
    }
    assert pairs(prediction_config_to_kv(config)) == [
        ("llm.prediction.temperature", 0.5),
        ("llm.prediction.maxPredictedTokens", {"checked": True, "value": 100}),
        ("llm.prediction.stopStrings", ["</s>"]),
        ("llm.prediction.topKSampling", 40),
        ("llm.prediction.repeatPenalty", {"checked": True, "value": 1.1}),
        ("llm.prediction.minPSampling", {"checked": False, "value": 0.05}),
        ("llm.prediction.topPSampling", {"checked": True, "value": 0.9}),
    ]


def test_no_config_and_empty_config_give_no_fields() -> None:
    assert prediction_config_to_kv(None) == KVConfig(fields=[])
    assert prediction_config_to_kv({}) == KVConfig(fields=[])
    assert llm_load_config_to_kv(None) == KVConfig(fields=[])
    assert embedding_load_config_to_kv(None) == KVConfig(fields=[])


def test_none_values_count_as_not_given() -> None:
    assert pairs(prediction_config_to_kv({"temperature": None, "max_tokens": 5})) == [
        ("llm.prediction.maxPredictedTokens", {"checked": True, "value": 5})
    ]


def test_tool_choice_accepts_a_bare_mode() -> None:
    assert pairs(prediction_config_to_kv({"tool_choice": "none"})) == [
        ("llm.prediction.toolChoice", {"type": "generic", "mode": "none"})
    ]


def test_nested_values_are_copied_and_tuples_become_lists() -> None:
    schema = {"type": "object", "required": ("a",)}
    result = prediction_config_to_kv(
        {"structured": {"type": "json", "jsonSchema": schema}, "stop_strings": ("a", "b")}
    )
    assert pairs(result) == [
        ("llm.prediction.stopStrings", ["a", "b"]),
        (
            "llm.prediction.structured",
            {"type": "json", "jsonSchema": {"type": "object", "required": ["a"]}},
        ),
    ]
    schema["type"] = "array"
    value: Any = result.fields[1].value
    assert value["jsonSchema"]["type"] == "object"


def test_extra_keys_of_nested_values_are_kept() -> None:
    template = COMPLETE_MODE_TEMPLATE_LAYER.config.fields[0].value
    result = prediction_config_to_kv({"promptTemplate": template})
    assert pairs(result) == [("llm.prediction.promptTemplate", template)]


# -- checkbox "False" placeholders --------------------------------------------------------------

CHECKBOX_FALSE_CASES: list[tuple[Encoder, str, str, Any]] = [
    (prediction_config_to_kv, "maxTokens", "llm.prediction.maxPredictedTokens", 1),
    (prediction_config_to_kv, "reasoningBudget", "llm.prediction.reasoning.budgetTokens", 1024),
    (prediction_config_to_kv, "repeatPenalty", "llm.prediction.repeatPenalty", 1.1),
    (prediction_config_to_kv, "presencePenalty", "llm.prediction.llama.presencePenalty", 0),
    (prediction_config_to_kv, "minPSampling", "llm.prediction.minPSampling", 0.05),
    (prediction_config_to_kv, "topPSampling", "llm.prediction.topPSampling", 0.95),
    (prediction_config_to_kv, "xtcProbability", "llm.prediction.llama.xtcProbability", 0),
    (prediction_config_to_kv, "xtcThreshold", "llm.prediction.llama.xtcThreshold", 0),
    (prediction_config_to_kv, "logProbs", "llm.prediction.logProbs", 0),
    (
        prediction_config_to_kv,
        "userMaxImageDimensionPixels",
        "llm.prediction.vision.userMaxImageDimensionPixels",
        1024,
    ),
    (prediction_config_to_kv, "seed", "llm.prediction.seed", -1),
    (prediction_config_to_kv, "frequencyPenalty", "llm.prediction.llama.frequencyPenalty", 0),
    (prediction_config_to_kv, "tailFreeSampling", "llm.prediction.llama.tailFreeSampling", 0.95),
    (
        prediction_config_to_kv,
        "locallyTypicalSampling",
        "llm.prediction.llama.locallyTypicalSampling",
        0.9,
    ),
    (llm_load_config_to_kv, "seed", "llm.load.seed", 0),
    (llm_load_config_to_kv, "ropeFrequencyBase", "llm.load.llama.ropeFrequencyBase", 0),
    (llm_load_config_to_kv, "ropeFrequencyScale", "llm.load.llama.ropeFrequencyScale", 0),
    (
        llm_load_config_to_kv,
        "llamaKCacheQuantizationType",
        "llm.load.llama.kCacheQuantizationType",
        "f16",
    ),
    (
        llm_load_config_to_kv,
        "llamaVCacheQuantizationType",
        "llm.load.llama.vCacheQuantizationType",
        "f16",
    ),
    (embedding_load_config_to_kv, "ropeFrequencyBase", "embedding.load.llama.ropeFrequencyBase", 0),
    (
        embedding_load_config_to_kv,
        "ropeFrequencyScale",
        "embedding.load.llama.ropeFrequencyScale",
        0,
    ),
    (embedding_load_config_to_kv, "seed", "embedding.load.seed", -1),
]


@pytest.mark.parametrize(("encode", "name", "key", "placeholder"), CHECKBOX_FALSE_CASES)
def test_false_sends_the_checkbox_unchecked_with_ts_placeholder(
    encode: Encoder, name: str, key: str, placeholder: Any
) -> None:
    assert pairs(encode({name: False})) == [(key, {"checked": False, "value": placeholder})]


def test_zero_is_a_value_not_false() -> None:
    # maxTokens=0 is now refused (below); logProbs is a checkbox key where 0 is valid.
    assert pairs(prediction_config_to_kv({"logProbs": 0})) == [
        ("llm.prediction.logProbs", {"checked": True, "value": 0})
    ]


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"max_tokens": -5}, "max_tokens must be a positive integer or False, got -5"),
        ({"maxTokens": 0}, "maxTokens must be a positive integer or False, got 0"),
        ({"temperature": -3}, "temperature must be a number >= 0, got -3"),
        ({"top_p_sampling": 1.5}, "top_p_sampling must be a number between 0 and 1"),
        ({"log_probs": 101}, "log_probs must be an integer from 0 to 100"),
    ],
)
def test_impossible_values_are_refused(config: dict[str, Any], message: str) -> None:
    with pytest.raises(LMStudioValueError, match=re.escape(message)):
        prediction_config_to_kv(config)


def test_load_values_are_bounded() -> None:
    with pytest.raises(LMStudioValueError, match="context_length must be a positive integer"):
        llm_load_config_to_kv({"context_length": 0})
    with pytest.raises(LMStudioValueError, match="from 1 to 1023"):
        llm_load_config_to_kv({"max_parallel_predictions": 0})


def test_false_max_tokens_means_no_limit() -> None:
    assert pairs(prediction_config_to_kv({"max_tokens": False})) == [
        ("llm.prediction.maxPredictedTokens", {"checked": False, "value": 1})
    ]


@pytest.mark.parametrize(
    ("config", "key", "suggestion"),
    [
        ({"structured": {"type": "json", "jsonSchem": {}}}, "jsonSchem", "jsonSchema"),
        ({"structured": {"type": "json", "json_shema": {}}}, "json_shema", "json_schema"),
        ({"tool_choice": {"type": "generic", "mod": "auto"}}, "mod", "mode"),
        ({"reasoning_parsing": {"enabled": True, "startStrin": "<"}}, "startStrin", "startString"),
    ],
)
def test_nested_keys_are_checked_like_top_level_ones(
    config: dict[str, Any], key: str, suggestion: str
) -> None:
    with pytest.raises(ConfigKeyError) as caught:
        prediction_config_to_kv(config)
    assert caught.value.key == key and caught.value.suggestion == suggestion


def test_nested_keys_take_snake_case_and_are_sent_in_camel_case() -> None:
    schema = {"type": "object", "properties": {"a_b": {"type": "string"}}}
    kv = prediction_config_to_kv({"structured": {"type": "json", "json_schema": schema}})
    # The schema itself is user data: its keys are left alone.
    assert pairs(kv) == [("llm.prediction.structured", {"type": "json", "jsonSchema": schema})]
    template = {
        "type": "manual",
        "manual_prompt_template": {
            "before_system": "S:",
            "after_system": "",
            "before_user": "U:",
            "after_user": "",
            "before_assistant": "A:",
            "after_assistant": "",
        },
        "stop_strings": [],
    }
    [(_, sent)] = pairs(prediction_config_to_kv({"prompt_template": template}))
    assert sent["manualPromptTemplate"]["beforeSystem"] == "S:" and "stopStrings" in sent


def test_mlx_kv_cache_quantization_false_sends_it_disabled() -> None:
    assert pairs(llm_load_config_to_kv({"mlx_kv_cache_quantization": False})) == [
        (
            "llm.load.mlx.kvCacheQuantization",
            {"enabled": False, "bits": 8, "groupSize": 64, "quantizedStart": 5000},
        )
    ]


# -- LLM load config ----------------------------------------------------------------------------

LOAD_CASES: list[tuple[str, Any, Fields]] = [
    ("gpu", {"ratio": 0.5}, [*AUTO_FIT_OFF, ("llm.load.llama.acceleration.offloadRatio", 0.5)]),
    (
        "gpu",
        {"mainGpu": 1, "splitStrategy": "favorMainGpu", "disabledGpus": [2]},
        [
            *AUTO_FIT_OFF,
            (
                "load.gpuSplitConfig",
                {
                    "strategy": "priorityOrder",
                    "disabledGpus": [2],
                    "priority": [1],
                    "customRatio": [],
                },
            ),
        ],
    ),
    (
        "gpu",
        {"numCpuExpertLayersRatio": "max"},
        [*AUTO_FIT_OFF, ("llm.load.numCpuExpertLayersRatio", "max")],
    ),
    ("maxParallelPredictions", 2, [("llm.load.numParallelSessions", 2)]),
    ("useUnifiedKvCache", False, [("llm.load.useUnifiedKvCache", False)]),
    ("gpuStrictVramCap", True, [*AUTO_FIT_OFF, ("load.gpuStrictVramCap", True)]),
    ("offloadKVCacheToGpu", False, [("llm.load.offloadKVCacheToGpu", False)]),
    ("contextLength", 8192, [*AUTO_FIT_OFF, ("llm.load.contextLength", 8192)]),
    (
        "ropeFrequencyBase",
        10000,
        [("llm.load.llama.ropeFrequencyBase", {"checked": True, "value": 10000})],
    ),
    (
        "ropeFrequencyScale",
        1,
        [("llm.load.llama.ropeFrequencyScale", {"checked": True, "value": 1})],
    ),
    ("evalBatchSize", 512, [("llm.load.llama.evalBatchSize", 512)]),
    ("physicalBatchSize", 256, [("llm.load.llama.physicalBatchSize", 256)]),
    ("flashAttention", True, [("llm.load.llama.flashAttention", True)]),
    ("contextCheckpoints", 4, [("llm.load.llama.contextCheckpoints", 4)]),
    ("reasoningBudgetMessage", "m", [("llm.load.llama.reasoningBudgetMessage", "m")]),
    ("keepModelInMemory", False, [("llm.load.llama.keepModelInMemory", False)]),
    ("seed", 42, [("llm.load.seed", {"checked": True, "value": 42})]),
    ("useFp16ForKVCache", False, [("llm.load.llama.useFp16ForKVCache", False)]),
    ("tryMmap", False, [("llm.load.llama.tryMmap", False)]),
    ("tryDirectIO", True, [("llm.load.llama.tryDirectIO", True)]),
    ("numExperts", 4, [("llm.load.numExperts", 4)]),
    (
        "llamaKCacheQuantizationType",
        "q8_0",
        [("llm.load.llama.kCacheQuantizationType", {"checked": True, "value": "q8_0"})],
    ),
    (
        "llamaVCacheQuantizationType",
        False,
        [("llm.load.llama.vCacheQuantizationType", {"checked": False, "value": "f16"})],
    ),
    ("mlxDiskCache", False, [("llm.load.mlx.diskCache", False)]),
    (
        "mlxKvCacheQuantization",
        {"enabled": True, "bits": 4, "groupSize": 64, "quantizedStart": 0},
        [
            (
                "llm.load.mlx.kvCacheQuantization",
                {"enabled": True, "bits": 4, "groupSize": 64, "quantizedStart": 0},
            )
        ],
    ),
    (
        "autoFit",
        True,
        [
            ("llm.load.llama.autoFit", True),
            ("llm.load.mlx.autoFit", True),
            ("llm.load.yuzu.autoFit", True),
        ],
    ),
    (
        "speculativeDraftModel",
        "x",
        [
            ("llm.load.llama.speculativeDecoding.draftDflashSidecar", False),
            ("llm.load.llama.speculativeDecoding.draftDsparkSidecar", False),
            ("llm.load.llama.speculativeDecoding.draftMtpSidecar", False),
            ("llm.load.llama.speculativeDecoding.draftModel", "x"),
        ],
    ),
    # Not in the map data but in TS 2.0's conversion and in the spec table:
    (
        "speculativeDraftMaxTokens",
        5,
        [("llm.load.llama.speculativeDecoding.draftMaxTokens", 5)],
    ),
    (
        "speculativeDraftMinTokens",
        1,
        [("llm.load.llama.speculativeDecoding.draftMinTokens", 1)],
    ),
    (
        "speculativeDraftMinContinueProbability",
        0.5,
        [("llm.load.llama.speculativeDecoding.draftMinContinueProbability", 0.5)],
    ),
    (
        "promptTemplate",
        {"type": "jinja", "jinjaPromptTemplate": {"template": "t"}},
        [("llm.load.promptTemplate", {"type": "jinja", "jinjaPromptTemplate": {"template": "t"}})],
    ),
    # Keys neither official SDK maps (our names):
    ("autoFitMinContextLength", 4096, [("llm.load.autoFitMinContextLength", 4096)]),
    ("cpuThreadPoolSize", 6, [("llm.load.llama.cpuThreadPoolSize", 6)]),
    ("vllmGpuMemoryUtilization", 0.8, [("llm.load.vllm.gpuMemoryUtilization", 0.8)]),
    ("vllmReasoningParser", "qwen3", [("llm.load.vllm.reasoningParser", "qwen3")]),
    ("vllmToolCallParser", "hermes", [("llm.load.vllm.toolCallParser", "hermes")]),
    (
        "envVars",
        {"HSA_OVERRIDE_GFX_VERSION": "10.3.0"},
        [("envVars", {"HSA_OVERRIDE_GFX_VERSION": "10.3.0"})],
    ),
]


@pytest.mark.parametrize(("name", "value", "expected"), LOAD_CASES)
@pytest.mark.parametrize("style", ["camel", "snake"])
def test_llm_load_option_maps_like_ts(name: str, value: Any, expected: Fields, style: str) -> None:
    if style == "snake":
        name = snake(name)
        if isinstance(value, dict) and name == "gpu":
            value = {snake(k): v for k, v in value.items()}
    assert pairs(llm_load_config_to_kv({name: value})) == expected


def test_llama_cpp_arguments_override_is_sent() -> None:
    # TS 2.0's recorded mapping emitted nothing for this option; we send it (see module docs).
    override = {
        "enabled": True,
        "disabledParameters": ["--batch-size"],
        "overrideParameters": [{"key": "--threads", "value": "8"}],
        "excludeAllConfig": False,
    }
    assert pairs(llm_load_config_to_kv({"llama_cpp_arguments_override": override})) == [
        ("llm.load.llama.argumentsOverride", override)
    ]


def test_load_fields_come_in_ts_order() -> None:
    # The recorded TS 2.0 load of protocol §5.4.
    config = {
        "contextLength": 8192,
        "gpu": {"ratio": 0.5},
        "flashAttention": True,
        "seed": 42,
        "keepModelInMemory": True,
    }
    assert pairs(llm_load_config_to_kv(config)) == [
        *AUTO_FIT_OFF,
        ("llm.load.llama.acceleration.offloadRatio", 0.5),
        ("llm.load.contextLength", 8192),
        ("llm.load.llama.flashAttention", True),
        ("llm.load.llama.keepModelInMemory", True),
        ("llm.load.seed", {"checked": True, "value": 42}),
    ]


@pytest.mark.parametrize(
    "config",
    [
        {"context_length": 4096},
        {"gpu_strict_vram_cap": False},
        {"gpu": {"ratio": "off"}},
        {"gpu": {"num_cpu_expert_layers_ratio": 0.5}},
        {"gpu": {"main_gpu": 0}},
        {"gpu": {"split_strategy": "evenly"}},
    ],
)
def test_manual_load_settings_switch_auto_fit_off(config: dict[str, Any]) -> None:
    assert pairs(llm_load_config_to_kv(config))[:3] == AUTO_FIT_OFF


@pytest.mark.parametrize("auto_fit", [True, False])
def test_explicit_auto_fit_wins_over_the_automatic_false(auto_fit: bool) -> None:
    result = llm_load_config_to_kv({"autoFit": auto_fit, "contextLength": 4096})
    assert pairs(result) == [
        ("llm.load.llama.autoFit", auto_fit),
        ("llm.load.mlx.autoFit", auto_fit),
        ("llm.load.yuzu.autoFit", auto_fit),
        ("llm.load.contextLength", 4096),
    ]


@pytest.mark.parametrize(
    "config",
    [{"flash_attention": True}, {"gpu": {"disabled_gpus": [1]}}, {"gpu": {}}, {"seed": 1}],
)
def test_other_load_settings_leave_auto_fit_alone(config: dict[str, Any]) -> None:
    keys = [key for key, _ in pairs(llm_load_config_to_kv(config))]
    assert not any(key.endswith("autoFit") for key in keys)


GPU_SPLIT_CASES: list[tuple[dict[str, Any], dict[str, Any] | None]] = [
    ({"ratio": 1}, None),
    ({"disabled_gpus": []}, None),
    ({}, None),
    (
        {"disabled_gpus": [1]},
        {"strategy": "evenly", "disabledGpus": [1], "priority": [], "customRatio": []},
    ),
    (
        {"split_strategy": "evenly"},
        {"strategy": "evenly", "disabledGpus": [], "priority": [], "customRatio": []},
    ),
    (
        {"split_strategy": "favorMainGpu", "main_gpu": 2},
        {"strategy": "priorityOrder", "disabledGpus": [], "priority": [2], "customRatio": []},
    ),
    (
        {"main_gpu": 3},
        {"strategy": "evenly", "disabledGpus": [], "priority": [3], "customRatio": []},
    ),
    # GPU 0 is a main GPU like any other (TS 2.0 tests `mainGpu !== undefined`).
    (
        {"main_gpu": 0, "split_strategy": "favorMainGpu"},
        {"strategy": "priorityOrder", "disabledGpus": [], "priority": [0], "customRatio": []},
    ),
]


def test_gpu_fields_come_in_the_typescript_sdks_order() -> None:
    config = {
        "context_length": 1024,
        "gpu": {"ratio": 0.5, "num_cpu_expert_layers_ratio": 0.25, "main_gpu": 1},
        "gpu_strict_vram_cap": True,
    }
    keys = [key for key, _ in pairs(llm_load_config_to_kv(config))]
    assert keys[3:] == [
        "load.gpuSplitConfig",
        "load.gpuStrictVramCap",
        "llm.load.llama.acceleration.offloadRatio",
        "llm.load.numCpuExpertLayersRatio",
        "llm.load.contextLength",
    ]


@pytest.mark.parametrize(("gpu", "split"), GPU_SPLIT_CASES)
def test_gpu_split_config_is_sent_only_with_split_settings(
    gpu: dict[str, Any], split: dict[str, Any] | None
) -> None:
    values = llm_load_config_to_kv({"gpu": gpu}).as_dict()
    assert values.get("load.gpuSplitConfig") == split


def test_speculative_selectors_clear_the_sidecars_unless_given() -> None:
    result = llm_load_config_to_kv(
        {"speculative_draft_mtp": True, "speculative_draft_mtp_sidecar": True}
    )
    assert pairs(result) == [
        ("llm.load.llama.speculativeDecoding.draftMtp", True),
        ("llm.load.llama.speculativeDecoding.draftDflashSidecar", False),
        ("llm.load.llama.speculativeDecoding.draftDsparkSidecar", False),
        ("llm.load.llama.speculativeDecoding.draftMtpSidecar", True),
    ]
    simple = llm_load_config_to_kv({"speculativeDraftSimple": False}).as_dict()
    assert simple["llm.load.llama.speculativeDecoding.draftDflashSidecar"] is False
    tuning = llm_load_config_to_kv({"speculative_draft_max_tokens": 4})
    assert pairs(tuning) == [("llm.load.llama.speculativeDecoding.draftMaxTokens", 4)]


# -- embedding load config ----------------------------------------------------------------------

EMBEDDING_CASES: list[tuple[str, Any, Fields]] = [
    (
        "gpu",
        {"splitStrategy": "evenly"},
        [
            (
                "load.gpuSplitConfig",
                {"strategy": "evenly", "disabledGpus": [], "priority": [], "customRatio": []},
            )
        ],
    ),
    ("contextLength", 512, [("embedding.load.contextLength", 512)]),
    (
        "ropeFrequencyBase",
        1,
        [("embedding.load.llama.ropeFrequencyBase", {"checked": True, "value": 1})],
    ),
    (
        "ropeFrequencyScale",
        False,
        [("embedding.load.llama.ropeFrequencyScale", {"checked": False, "value": 0})],
    ),
    ("keepModelInMemory", True, [("embedding.load.llama.keepModelInMemory", True)]),
    ("tryMmap", False, [("embedding.load.llama.tryMmap", False)]),
    ("evalBatchSize", 256, [("embedding.load.llama.evalBatchSize", 256)]),
    ("seed", 3, [("embedding.load.seed", {"checked": True, "value": 3})]),
]


@pytest.mark.parametrize(("name", "value", "expected"), EMBEDDING_CASES)
@pytest.mark.parametrize("style", ["camel", "snake"])
def test_embedding_load_option_maps_like_ts(
    name: str, value: Any, expected: Fields, style: str
) -> None:
    if style == "snake":
        name = snake(name)
        if isinstance(value, dict):
            value = {snake(k): v for k, v in value.items()}
    assert pairs(embedding_load_config_to_kv({name: value})) == expected


def test_embedding_gpu_ratio_is_mapped_unlike_ts() -> None:
    # TS 2.0 sends only the split config; like the official Python SDK we also send the ratio.
    assert pairs(embedding_load_config_to_kv({"gpu": {"ratio": 0.5}})) == [
        (
            "load.gpuSplitConfig",
            {"strategy": "evenly", "disabledGpus": [], "priority": [], "customRatio": []},
        ),
        ("embedding.load.llama.acceleration.offloadRatio", 0.5),
    ]


def test_embedding_load_never_writes_auto_fit() -> None:
    keys = embedding_load_config_to_kv({"context_length": 512, "gpu": {"main_gpu": 1}}).as_dict()
    assert set(keys) == {"load.gpuSplitConfig", "embedding.load.contextLength"}


def test_embedding_gpu_has_no_expert_ratio() -> None:
    with pytest.raises(ConfigKeyError, match="num_cpu_expert_layers_ratio"):
        embedding_load_config_to_kv({"gpu": {"num_cpu_expert_layers_ratio": 0.5}})


# -- raw ----------------------------------------------------------------------------------------


def test_raw_goes_under_the_typed_fields() -> None:
    raw = kv(("llm.prediction.llama.logitBias", []), ("llm.prediction.temperature", 0.1))
    assert pairs(prediction_config_to_kv({"raw": raw})) == [
        ("llm.prediction.llama.logitBias", []),
        ("llm.prediction.temperature", 0.1),
    ]
    merged = prediction_config_to_kv({"raw": raw, "temperature": 0.7, "maxTokens": 3})
    assert merged.as_dict() == {
        "llm.prediction.llama.logitBias": [],
        "llm.prediction.temperature": 0.7,
        "llm.prediction.maxPredictedTokens": {"checked": True, "value": 3},
    }


def test_typed_side_effects_also_win_over_raw() -> None:
    raw = {"llm.load.llama.autoFit": True, "some.future.key": 1}
    result = llm_load_config_to_kv({"raw": raw, "context_length": 1024}).as_dict()
    assert result["llm.load.llama.autoFit"] is False
    assert result["some.future.key"] == 1


@pytest.mark.parametrize(
    "raw",
    [
        kv(("a.b", 1), ("a.b", 2)),
        {"a.b": 2},
        {"fields": [{"key": "a.b", "value": 1}, {"key": "a.b", "value": 2}]},
        {"fields": [KVConfigField(key="a.b", value=2)]},
    ],
)
def test_raw_accepts_a_kvconfig_or_a_mapping(raw: Any) -> None:
    assert pairs(embedding_load_config_to_kv({"raw": raw})) == [("a.b", 2)]


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (3, "raw must be a KVConfig or a mapping of KV keys to values, got 3"),
        ({1: 2}, "raw must be a KVConfig"),
        ({"fields": [{"key": 1, "value": 2}]}, "raw fields must be {'key': str, 'value': ...}"),
        ({"fields": ["a.b"]}, "raw fields must be"),
    ],
)
def test_bad_raw_is_refused(raw: Any, message: str) -> None:
    with pytest.raises(LMStudioValueError) as info:
        llm_load_config_to_kv({"raw": raw})
    assert str(info.value).startswith(message)


# -- names, suggestions, wrong values -----------------------------------------------------------


def test_camel_and_snake_names_mix_in_one_config() -> None:
    camel = prediction_config_to_kv({"maxTokens": 5, "topKSampling": 3, "temperature": 0})
    mixed = prediction_config_to_kv({"max_tokens": 5, "topKSampling": 3, "temperature": 0})
    assert camel == mixed
    assert len(camel.fields) == 3


def test_an_option_given_twice_is_refused() -> None:
    with pytest.raises(LMStudioValueError, match="given twice, as 'max_tokens' and 'maxTokens'"):
        prediction_config_to_kv({"max_tokens": 5, "maxTokens": 6})


@pytest.mark.parametrize(
    ("encode", "written", "suggestion"),
    [
        (prediction_config_to_kv, "temprature", "temperature"),
        (prediction_config_to_kv, "maxToken", "maxTokens"),
        (prediction_config_to_kv, "max_token", "max_tokens"),
        (prediction_config_to_kv, "topK", "topKSampling"),
        (prediction_config_to_kv, "top_k", "top_k_sampling"),
        (prediction_config_to_kv, "MaxTokens", "maxTokens"),
        (prediction_config_to_kv, "llm.prediction.maxPredictedTokens", "maxTokens"),
        (prediction_config_to_kv, "llm.prediction.seed", "seed"),
        (llm_load_config_to_kv, "contextLenght", "contextLength"),
        (llm_load_config_to_kv, "context_lenght", "context_length"),
        (llm_load_config_to_kv, "autofit", "auto_fit"),
        (embedding_load_config_to_kv, "keepModelInMem", "keepModelInMemory"),
    ],
)
def test_an_unknown_option_suggests_the_closest_in_the_callers_style(
    encode: Encoder, written: str, suggestion: str
) -> None:
    with pytest.raises(ConfigKeyError) as info:
        encode({written: 1})
    assert info.value.key == written
    assert info.value.suggestion == suggestion
    assert f"{written!r}; did you mean {suggestion!r}?" in str(info.value)


def test_an_unknown_option_without_a_close_match_has_no_suggestion() -> None:
    with pytest.raises(ConfigKeyError) as info:
        prediction_config_to_kv({"xyzzy": 1})
    assert info.value.suggestion is None
    assert str(info.value) == "unknown prediction config key 'xyzzy'"


@pytest.mark.parametrize(
    ("written", "suggestion"),
    [("mainGPU", "mainGpu"), ("main_gpus", "main_gpu"), ("ratios", "ratio")],
)
def test_an_unknown_gpu_setting_suggests_the_closest(written: str, suggestion: str) -> None:
    with pytest.raises(ConfigKeyError) as info:
        llm_load_config_to_kv({"gpu": {written: 1}})
    assert str(info.value) == f"unknown gpu setting key {written!r}; did you mean {suggestion!r}?"


@pytest.mark.parametrize(
    ("encode", "config", "message"),
    [
        (
            prediction_config_to_kv,
            {"temperature": "hot"},
            "temperature must be a number, got 'hot'",
        ),
        (prediction_config_to_kv, {"temperature": True}, "temperature must be a number, got True"),
        (
            prediction_config_to_kv,
            {"maxTokens": True},
            "maxTokens must be an integer or False, got True",
        ),
        (
            prediction_config_to_kv,
            {"max_tokens": 1.5},
            "max_tokens must be an integer or False, got 1.5",
        ),
        (prediction_config_to_kv, {"cpu_threads": 2.0}, "cpu_threads must be an integer, got 2.0"),
        (
            prediction_config_to_kv,
            {"stopStrings": "</s>"},
            "stopStrings must be a list of strings, got '</s>'",
        ),
        (
            prediction_config_to_kv,
            {"context_overflow_policy": "wrap"},
            "context_overflow_policy must be one of 'stopAtLimit', 'truncateMiddle', "
            "'rollingWindow', got 'wrap'",
        ),
        (
            prediction_config_to_kv,
            {"structured": {"type": "xml"}},
            "structured must be a structured-output setting, got {'type': 'xml'} "
            "(Invalid enum value 'xml' - at `$.type`)",
        ),
        (
            prediction_config_to_kv,
            {"toolChoice": "sometimes"},
            "toolChoice must be 'none', 'auto', 'required' or a tool choice mapping",
        ),
        (
            prediction_config_to_kv,
            {"logit_bias": [(1, "inf")]},
            "logit_bias must be a list of (token id, number or '-inf') pairs",
        ),
        (prediction_config_to_kv, {"enable_thinking": 1}, "enable_thinking must be a boolean"),
        (llm_load_config_to_kv, {"contextLength": True}, "contextLength must be an integer"),
        (llm_load_config_to_kv, {"autoFit": "yes"}, "autoFit must be a boolean, got 'yes'"),
        (
            llm_load_config_to_kv,
            {"gpu": {"ratio": 1.5}},
            "gpu.ratio must be a number between 0 and 1, 'max' or 'off', got 1.5",
        ),
        (
            llm_load_config_to_kv,
            {"gpu": {"splitStrategy": "tensor"}},
            "gpu.splitStrategy must be one of 'evenly', 'favorMainGpu', got 'tensor'",
        ),
        (
            llm_load_config_to_kv,
            {"gpu": {"disabled_gpus": [True]}},
            "gpu.disabled_gpus must be a list of integers",
        ),
        (llm_load_config_to_kv, {"gpu": 0.5}, "gpu must be a mapping of GPU settings, got 0.5"),
        (
            llm_load_config_to_kv,
            {"llama_k_cache_quantization_type": "q3"},
            "llama_k_cache_quantization_type must be one of 'f32', 'f16'",
        ),
        (
            llm_load_config_to_kv,
            {"mlx_kv_cache_quantization": True},
            "mlx_kv_cache_quantization must be an MLX KV cache quantization setting or False",
        ),
        (
            llm_load_config_to_kv,
            {"env_vars": {"PATH": "/bin"}},
            "env_vars must be a mapping of 'HSA_OVERRIDE_GFX_VERSION' to a string",
        ),
        (embedding_load_config_to_kv, {"try_mmap": "no"}, "try_mmap must be a boolean"),
        (prediction_config_to_kv, ["temperature"], "prediction config must be a mapping, got list"),
        (prediction_config_to_kv, {1: 2}, "prediction config keys must be strings, got 1"),
    ],
)
def test_a_wrong_value_names_the_option_the_type_and_the_value(
    encode: Encoder, config: Any, message: str
) -> None:
    with pytest.raises(LMStudioValueError) as info:
        encode(config)
    assert not isinstance(info.value, ConfigKeyError)
    assert str(info.value).startswith(message)


# -- reading configs back -----------------------------------------------------------------------


@pytest.mark.parametrize(("name", "value", "expected"), PREDICTION_CASES)
def test_prediction_read_back_inverts_every_mapping(
    name: str, value: Any, expected: Fields
) -> None:
    result = kv_to_prediction_config(kv(*expected))
    read = getattr(result, snake(name))
    if name == "logitBias":
        assert read == [(15, "-inf"), (16, 2.5)]
    else:
        assert read == value
    assert result.raw == kv(*expected)


@pytest.mark.parametrize(("name", "value", "expected"), LOAD_CASES)
def test_llm_load_read_back_inverts_every_mapping(name: str, value: Any, expected: Fields) -> None:
    result = kv_to_llm_load_config(kv(*expected))
    if name != "gpu":
        assert getattr(result, snake(name)) == value
    if ("llm.load.llama.autoFit", False) in expected:
        assert result.auto_fit is False


def test_gpu_read_back() -> None:
    result = kv_to_llm_load_config(
        llm_load_config_to_kv(
            {
                "gpu": {
                    "ratio": 0.25,
                    "main_gpu": 1,
                    "split_strategy": "favorMainGpu",
                    "disabled_gpus": [0],
                    "num_cpu_expert_layers_ratio": "off",
                }
            }
        )
    )
    assert result.gpu == GpuSetting(
        ratio=0.25,
        main_gpu=1,
        split_strategy="favorMainGpu",
        disabled_gpus=[0],
        num_cpu_expert_layers_ratio="off",
    )
    tensor = {"strategy": "tensor", "disabledGpus": [], "priority": [], "customRatio": [1, 2]}
    assert kv_to_llm_load_config(kv(("load.gpuSplitConfig", tensor))).gpu == GpuSetting(
        split_strategy="tensor", disabled_gpus=[]
    )
    assert kv_to_llm_load_config(kv(("llm.load.contextLength", 9))).gpu is None


def test_embedding_read_back() -> None:
    config = {"gpu": {"ratio": "max", "main_gpu": 2}, "context_length": 512, "seed": False}
    result = kv_to_embedding_load_config(embedding_load_config_to_kv(config))
    assert result.gpu == GpuSetting(
        ratio="max", main_gpu=2, split_strategy="evenly", disabled_gpus=[]
    )
    assert result.context_length == 512
    assert result.seed is False
    assert result.rope_frequency_base is None


def test_auto_fit_is_read_from_the_first_autofit_key_present() -> None:
    assert kv_to_llm_load_config(kv(("llm.load.mlx.autoFit", True))).auto_fit is True
    both = kv(("llm.load.yuzu.autoFit", False), ("llm.load.llama.autoFit", True))
    assert kv_to_llm_load_config(both).auto_fit is True
    bad_llama = kv(("llm.load.llama.autoFit", "yes"), ("llm.load.mlx.autoFit", False))
    assert kv_to_llm_load_config(bad_llama).auto_fit is False
    assert kv_to_llm_load_config(kv()).auto_fit is None


def test_read_back_keeps_unknown_keys_in_raw_and_logs_them_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="lmstudio_sdk.protocol")
    received = kv(
        ("llm.prediction.futureKnob", 3),
        ("llm.prediction.temperature", 0.2),
        ("llm.prediction.futureKnob", 4),
    )
    for _ in range(3):
        result = kv_to_prediction_config(received)
    assert result.temperature == 0.2
    assert result.raw == received
    assert unknown_keys(received) == ["llm.prediction.futureKnob"]
    messages = [r.getMessage() for r in caplog.records]
    assert messages == ["LM Studio sent an unknown KV key 'llm.prediction.futureKnob'; kept in raw"]
    assert caplog.records[0].levelno == logging.INFO


ILL_TYPED_CASES: list[tuple[Callable[[KVConfig], Any], str, Any, str]] = [
    (kv_to_prediction_config, "llm.prediction.temperature", "hot", "temperature"),
    (kv_to_prediction_config, "llm.prediction.maxPredictedTokens", 100, "max_tokens"),
    (kv_to_prediction_config, "llm.prediction.maxPredictedTokens", {"value": 1}, "max_tokens"),
    (
        kv_to_prediction_config,
        "llm.prediction.maxPredictedTokens",
        {"checked": True, "value": "many"},
        "max_tokens",
    ),
    (kv_to_prediction_config, "llm.prediction.structured", {"type": "xml"}, "structured"),
    (kv_to_prediction_config, "llm.prediction.llama.cpuThreads", True, "cpu_threads"),
    (kv_to_llm_load_config, "llm.load.contextLength", 8192.5, "context_length"),
    (kv_to_llm_load_config, "llm.load.llama.acceleration.offloadRatio", 2, "gpu"),
    (kv_to_llm_load_config, "llm.load.numCpuExpertLayersRatio", "all", "gpu"),
    (kv_to_llm_load_config, "load.gpuSplitConfig", {"strategy": "evenly"}, "gpu"),
    (kv_to_llm_load_config, "llm.load.llama.autoFit", 1, "auto_fit"),
    (kv_to_embedding_load_config, "embedding.load.llama.tryMmap", "no", "try_mmap"),
]


@pytest.mark.parametrize(("decode", "key", "value", "field"), ILL_TYPED_CASES)
def test_read_back_keeps_ill_typed_values_in_raw_and_logs_them_once(
    decode: Callable[[KVConfig], Any],
    key: str,
    value: Any,
    field: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    received = kv((key, value))
    result = decode(received)
    decode(received)
    assert getattr(result, field) is None
    assert result.raw == received
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert [r.getMessage() for r in warnings] == [
        f"ignoring an ill-typed value for KV key {key!r}: {value!r}"
    ]


def test_read_back_is_lenient_about_enums_it_does_not_know() -> None:
    result = kv_to_prediction_config(kv(("llm.prediction.contextOverflowPolicy", "newPolicy")))
    assert result.context_overflow_policy == "newPolicy"


def test_read_back_of_an_unchecked_checkbox_is_false_whatever_its_value() -> None:
    received = kv(("llm.prediction.topPSampling", {"checked": False, "value": None}))
    assert kv_to_prediction_config(received).top_p_sampling is False


def test_log_memory_is_bounded(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(kv_config, "_MAX_LOGGED", 2)
    caplog.set_level(logging.INFO, logger="lmstudio_sdk.protocol")
    kv_to_prediction_config(kv(("x.a", 1), ("x.b", 1), ("x.c", 1)))
    assert len(caplog.records) == 2


# -- round trips --------------------------------------------------------------------------------

_numbers = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False) | st.integers(-(2**31), 2**31)
_ints = st.integers(-(2**31), 2**31)
_text = st.text(max_size=20)
# Values within the ranges the options accept (impossible ones are refused, tested above).
_non_negative = st.floats(min_value=0, max_value=1e6) | st.integers(0, 2**31)
_unit = st.floats(min_value=0, max_value=1)
_positive = st.integers(1, 2**31)
_count = st.integers(0, 2**31)

PREDICTION_SCALARS: dict[str, st.SearchStrategy[Any]] = {
    "temperature": _non_negative,
    "context_overflow_policy": st.sampled_from(["stopAtLimit", "truncateMiddle", "rollingWindow"]),
    "max_tokens": _positive | st.just(False),
    "reasoning_budget": _count | st.just(False),
    "stop_strings": st.lists(_text, max_size=3),
    "tool_naming": st.sampled_from(["passThrough", "removeSpecial", "snakeCase", "camelCase"]),
    "top_k_sampling": _numbers,
    "repeat_penalty": _non_negative | st.just(False),
    "presence_penalty": _numbers | st.just(False),
    "min_p_sampling": _unit | st.just(False),
    "top_p_sampling": _unit | st.just(False),
    "xtc_probability": _unit | st.just(False),
    "xtc_threshold": _unit | st.just(False),
    "log_probs": st.integers(0, 100) | st.just(False),
    "cpu_threads": _positive,
    "enable_thinking": st.booleans(),
    "draft_model": _text,
    "speculative_decoding_num_draft_tokens_exact": _positive,
    "speculative_decoding_min_draft_length_to_consider": _count,
    "speculative_decoding_min_continue_drafting_probability": _unit,
    "user_max_image_dimension_pixels": _positive | st.just(False),
    "ignore_model_preferred_max_image_dimension": st.booleans(),
    "system_prompt": _text,
    "seed": _ints | st.just(False),
    "frequency_penalty": _numbers | st.just(False),
    "tail_free_sampling": _unit | st.just(False),
    "locally_typical_sampling": _unit | st.just(False),
}

_ratios = st.floats(min_value=0, max_value=1) | st.sampled_from(["max", "off"])
LOAD_SCALARS: dict[str, st.SearchStrategy[Any]] = {
    "auto_fit": st.booleans(),
    "gpu_strict_vram_cap": st.booleans(),
    "max_parallel_predictions": st.integers(1, 1023),
    "use_unified_kv_cache": st.booleans(),
    "offload_kv_cache_to_gpu": st.booleans(),
    "context_length": _positive,
    "rope_frequency_base": _numbers | st.just(False),
    "rope_frequency_scale": _numbers | st.just(False),
    "eval_batch_size": _positive,
    "flash_attention": st.booleans(),
    "reasoning_budget_message": _text,
    "speculative_draft_simple": st.booleans(),
    "speculative_draft_model": _text,
    "speculative_draft_min_continue_probability": _unit,
    "keep_model_in_memory": st.booleans(),
    "seed": _ints | st.just(False),
    "try_mmap": st.booleans(),
    "num_experts": _count,
    "llama_k_cache_quantization_type": st.sampled_from(["f16", "q8_0", "iq4_nl"]) | st.just(False),
    "mlx_disk_cache": st.booleans(),
    "vllm_gpu_memory_utilization": _unit,
}

EMBEDDING_SCALARS: dict[str, st.SearchStrategy[Any]] = {
    "context_length": _positive,
    "rope_frequency_base": _numbers | st.just(False),
    "keep_model_in_memory": st.booleans(),
    "try_mmap": st.booleans(),
    "seed": _ints | st.just(False),
    "eval_batch_size": _positive,
}


def _configs(scalars: dict[str, st.SearchStrategy[Any]]) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries({}, optional=scalars)


def _assert_read_back(config: dict[str, Any], result: msgspec.Struct) -> None:
    for name, value in config.items():
        read = getattr(result, name)
        assert read == value, name
        # Number options read back as float even when an int was sent.
        assert type(read) is type(value) or (type(value), type(read)) == (int, float), name


@given(_configs(PREDICTION_SCALARS))
def test_prediction_round_trip(config: dict[str, Any]) -> None:
    encoded = prediction_config_to_kv(config)
    wire = msgspec.json.decode(msgspec.json.encode(encoded), type=KVConfig)
    _assert_read_back(config, kv_to_prediction_config(wire))


@given(_configs(LOAD_SCALARS), st.dictionaries(st.sampled_from(["ratio", "main_gpu"]), _ratios))
def test_llm_load_round_trip(config: dict[str, Any], gpu: dict[str, Any]) -> None:
    if "main_gpu" in gpu:
        gpu["main_gpu"] = 3
        gpu["split_strategy"] = "favorMainGpu"
    if gpu:
        config["gpu"] = gpu
    encoded = llm_load_config_to_kv(config)
    result = kv_to_llm_load_config(msgspec.json.decode(msgspec.json.encode(encoded), type=KVConfig))
    gpu_read = config.pop("gpu", None)
    _assert_read_back(config, result)
    if gpu_read is None:
        assert result.gpu is None
    else:
        assert result.gpu is not None
        for name, value in gpu_read.items():
            assert getattr(result.gpu, name) == value


@given(_configs(EMBEDDING_SCALARS))
def test_embedding_round_trip(config: dict[str, Any]) -> None:
    encoded = embedding_load_config_to_kv(config)
    _assert_read_back(config, kv_to_embedding_load_config(encoded))


# -- validation of received fields, stacks ------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("llm.prediction.temperature", True),
        ("llm.prediction.maxPredictedTokens", 10),
        ("llm.prediction.maxPredictedTokens", {"checked": "yes", "value": 10}),
        ("llm.load.contextLength", 1.5),
        ("load.gpuSplitConfig", {"strategy": "diagonal", "disabledGpus": [], "priority": []}),
        ("llm.load.llama.acceleration.offloadRatio", "half"),
        ("envVars", {"PATH": "/"}),
        ("retrieval.chunkingMethod", {"type": "recursive-v1", "chunkSize": "big"}),
    ],
)
def test_validate_kv_value_rejects_an_ill_typed_field(key: str, value: Any) -> None:
    with pytest.raises(LMStudioValueError) as info:
        validate_kv_value(key, value)
    assert str(info.value).startswith(f"KV key {key!r} needs a {KV_KEYS[key].type_tag} value")
    assert repr(value) in str(info.value)


def test_validate_kv_value_accepts_good_and_unknown_fields() -> None:
    validate_kv_value("llm.prediction.temperature", 1)
    validate_kv_value("llm.load.llama.acceleration.offloadRatio", "max")
    validate_kv_value("llm.prediction.llama.logitBias", [[1, "-inf"], [2, 0.5]])
    validate_kv_value("some.future.key", object())


def test_every_encoded_field_passes_validation() -> None:
    for cases, encode in (
        (PREDICTION_CASES, prediction_config_to_kv),
        (LOAD_CASES, llm_load_config_to_kv),
        (EMBEDDING_CASES, embedding_load_config_to_kv),
    ):
        for name, value, _ in cases:
            for field in encode({name: value}).fields:
                validate_kv_value(field.key, field.value)
    for field in COMPLETE_MODE_TEMPLATE_LAYER.config.fields:
        validate_kv_value(field.key, field.value)


def test_unknown_keys_lists_each_unknown_key_once_in_order() -> None:
    received = kv(("b.x", 1), ("llm.prediction.temperature", 1), ("a.x", 1), ("b.x", 2))
    assert unknown_keys(received) == ["b.x", "a.x"]
    assert unknown_keys(KVConfig(fields=[])) == []


def test_api_override_stack_on_the_wire() -> None:
    assert msgspec.json.decode(msgspec.json.encode(api_override_stack(KVConfig(fields=[])))) == {
        "layers": [{"layerName": "apiOverride", "config": {"fields": []}}]
    }
    one = api_override_stack(prediction_config_to_kv({"temperature": 0.5}))
    assert msgspec.json.decode(msgspec.json.encode(one)) == {
        "layers": [
            {
                "layerName": "apiOverride",
                "config": {"fields": [{"key": "llm.prediction.temperature", "value": 0.5}]},
            }
        ]
    }


def test_completion_stack_adds_empty_stop_strings_unless_given() -> None:
    # Recorded TS 2.0 completeRawText: maxPredictedTokens, then the added stopStrings.
    stack = completion_stack(prediction_config_to_kv({"maxTokens": 10}))
    assert msgspec.json.decode(msgspec.json.encode(stack)) == {
        "layers": [
            {
                "layerName": "apiOverride",
                "config": {
                    "fields": [
                        {
                            "key": "llm.prediction.maxPredictedTokens",
                            "value": {"checked": True, "value": 10},
                        },
                        {"key": "llm.prediction.stopStrings", "value": []},
                    ]
                },
            }
        ]
    }
    given_stops = completion_stack(prediction_config_to_kv({"stop_strings": ["\n"]}))
    assert pairs(given_stops.layers[0].config) == [("llm.prediction.stopStrings", ["\n"])]
    assert pairs(completion_stack(KVConfig(fields=[])).layers[0].config) == [
        ("llm.prediction.stopStrings", [])
    ]


def test_complete_mode_layer_matches_the_official_python_sdk() -> None:
    # As recorded from the official Python SDK's complete() over predict.
    recorded = (
        '{"layerName":"completeModeFormatting","config":{"fields":[{"key":'
        '"llm.prediction.promptTemplate","value":{"jinjaPromptTemplate":{"bosToken":"",'
        '"eosToken":"","inputConfig":{"messagesConfig":{"contentConfig":{"type":"string"}},'
        '"useTools":false},"template":"{% for message in messages %}'
        '{{ message[\'content\'] }}{% endfor %}"},"stopStrings":[],"type":"jinja"}}]}}'
    )
    assert msgspec.json.decode(msgspec.json.encode(COMPLETE_MODE_TEMPLATE_LAYER)) == (
        msgspec.json.decode(recorded)
    )
