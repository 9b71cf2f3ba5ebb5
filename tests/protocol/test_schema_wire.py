"""Packet structs: the payload shapes TS 2.0 requires (model infos, KV configs, fragments)."""

from __future__ import annotations

import json
from typing import Any

import msgspec
import pytest

from lmstudio_sdk._protocol.kv_config import collapse
from lmstudio_sdk._protocol.packets.shared import (
    EmbeddingModelInfo,
    EmbeddingModelInstanceInfo,
    KVConfig,
    KVConfigField,
    KVConfigLayer,
    KVConfigStack,
    LLMInfo,
    LLMInstanceInfo,
    PredictionFragment,
    Quantization,
)

from .recorded import RECORDED_INSTANCE

MINIMAL: dict[str, Any] = {
    "model_key": "k",
    "format": "gguf",
    "display_name": "K",
    "path": "p/k.gguf",
    "size_bytes": 1,
    "max_context_length": 2048,
    "publisher": "",
    "indexed_model_identifier": "",
    "device_identifier": None,
}
LLM_FLAGS: dict[str, Any] = {"vision": False, "trained_for_tool_use": False}
INSTANCE: dict[str, Any] = {
    "identifier": "k",
    "instance_reference": "ref",
    "context_length": 1024,
    "ttl_ms": None,
    "last_used_time": None,
}


def model_info_to_wire(info: Any) -> Any:
    """A model info as the server sends it: the struct, encoded."""
    return json.loads(msgspec.json.encode(info))


def test_recorded_instance_round_trips_through_model_info_to_wire() -> None:
    info = msgspec.convert(RECORDED_INSTANCE, LLMInstanceInfo)
    assert info.quantization == Quantization(name="Q4_K_M", bits=4)
    assert model_info_to_wire(info) == RECORDED_INSTANCE


@pytest.mark.parametrize(
    ("info", "required_nulls"),
    [
        (LLMInfo(**MINIMAL, **LLM_FLAGS), {"deviceIdentifier"}),
        (EmbeddingModelInfo(**MINIMAL), {"deviceIdentifier"}),
        (
            LLMInstanceInfo(**MINIMAL, **LLM_FLAGS, **INSTANCE),
            {"deviceIdentifier", "ttlMs", "lastUsedTime"},
        ),
        (
            EmbeddingModelInstanceInfo(**MINIMAL, **INSTANCE),
            {"deviceIdentifier", "ttlMs", "lastUsedTime"},
        ),
    ],
)
def test_model_info_to_wire_keeps_required_nulls_and_drops_optional_ones(
    info: Any, required_nulls: set[str]
) -> None:
    data = model_info_to_wire(info)
    assert {k for k, v in data.items() if v is None} == required_nulls
    for optional in ("paramsString", "architecture", "quantization", "variants", "selectedVariant"):
        assert optional not in data
    assert data["publisher"] == ""
    assert data["indexedModelIdentifier"] == ""
    assert data["modelKey"] == "k"
    assert data["sizeBytes"] == 1
    json.dumps(data)  # builtins only


def test_domain_is_the_wire_tag() -> None:
    assert LLMInfo(**MINIMAL, **LLM_FLAGS).domain == "llm"
    assert EmbeddingModelInstanceInfo(**MINIMAL, **INSTANCE).domain == "embedding"


def test_model_info_to_wire_keeps_false_flags() -> None:
    data = model_info_to_wire(LLMInfo(**MINIMAL, **LLM_FLAGS))
    assert data["type"] == "llm"
    assert data["vision"] is False
    assert data["trainedForToolUse"] is False


def test_kv_config_lookups() -> None:
    config = KVConfig(
        fields=[
            KVConfigField(key="a", value=1),
            KVConfigField(key="b", value={"checked": True, "value": 2}),
            KVConfigField(key="a", value=3),
        ]
    )
    assert config.get("a") == 3  # the last one wins
    assert config.get("b") == {"checked": True, "value": 2}
    assert config.get("missing") is None
    assert config.get("missing", "d") == "d"
    assert config.as_dict() == {"a": 3, "b": {"checked": True, "value": 2}}


def test_empty_kv_lists_stay_on_the_wire() -> None:
    assert msgspec.json.encode(KVConfig(fields=[])) == b'{"fields":[]}'
    assert msgspec.json.encode(KVConfigStack(layers=[])) == b'{"layers":[]}'
    assert msgspec.json.encode(
        KVConfigLayer(layer_name="apiOverride", config=KVConfig(fields=[]))
    ) == (b'{"layerName":"apiOverride","config":{"fields":[]}}')


def test_collapse_lets_later_layers_win() -> None:
    stack = KVConfigStack(
        layers=[
            KVConfigLayer(
                layer_name="instance",
                config=KVConfig(
                    fields=[KVConfigField(key="t", value=0.7), KVConfigField(key="k", value=40)]
                ),
            ),
            KVConfigLayer(
                layer_name="apiOverride",
                config=KVConfig(fields=[KVConfigField(key="t", value=0.1)]),
            ),
        ]
    )
    assert collapse(stack).as_dict() == {"t": 0.1, "k": 40}
    assert collapse(KVConfigStack(layers=[])) == KVConfig(fields=[])


def test_prediction_fragment_keeps_every_field_on_the_wire() -> None:
    assert json.loads(
        msgspec.json.encode(
            PredictionFragment(
                content="Hello",
                tokens_count=1,
                contains_drafted=False,
                reasoning_type="none",
                is_structural=False,
            )
        )
    ) == {
        "content": "Hello",
        "tokensCount": 1,
        "containsDrafted": False,
        "reasoningType": "none",
        "isStructural": False,
    }
