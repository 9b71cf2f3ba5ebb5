"""The prediction config defaults of the server."""

from __future__ import annotations

from typing import Any

from ..._protocol.kv_config import collapse
from ..._protocol.packets.shared import (
    KVConfig,
    KVConfigField,
    KVConfigLayer,
    KVConfigStack,
)

__all__ = ["BASE_PREDICTION_CONFIG", "EMPTY_CONFIG", "prediction_config"]


def _checkbox(checked: bool, value: Any) -> dict[str, Any]:
    """A KV value of LM Studio's "checkbox" kind: a setting that can be switched off."""
    return dict(checked=checked, value=value)


# The server's own prediction defaults, applied under the client's layers (LM Studio's values).
BASE_PREDICTION_CONFIG = KVConfig(
    fields=[
        KVConfigField(key="llm.prediction.temperature", value=0.8),
        KVConfigField(key="llm.prediction.topKSampling", value=40),
        KVConfigField(key="llm.prediction.topPSampling", value=_checkbox(True, 0.95)),
        KVConfigField(key="llm.prediction.minPSampling", value=_checkbox(True, 0.05)),
        KVConfigField(key="llm.prediction.repeatPenalty", value=_checkbox(True, 1.1)),
        KVConfigField(key="llm.prediction.maxPredictedTokens", value=_checkbox(False, 1000)),
        KVConfigField(key="llm.prediction.stopStrings", value=[]),
    ]
)


EMPTY_CONFIG = KVConfig(fields=[])


def prediction_config(stack: KVConfigStack) -> KVConfig:
    base = KVConfigLayer(layer_name="modelDefault", config=BASE_PREDICTION_CONFIG)
    return collapse(KVConfigStack(layers=[base, *stack.layers]))
