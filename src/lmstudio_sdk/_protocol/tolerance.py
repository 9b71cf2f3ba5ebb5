"""Lenience toward newer servers: unknown enum literals are accepted and logged once each."""

from __future__ import annotations

import logging
from typing import Any, Literal, get_args

__all__ = [
    "KnownModelDomain",
    "KnownModelFormat",
    "KnownReasoningType",
    "KnownStopReason",
    "fill_kv_config",
    "fill_model_info",
    "fill_packet",
    "note_enum",
]

# Server-sent enums are ``str`` in the packet structs: a newer LM Studio may send a literal we
# do not know, and that must not break a call. These document the values known today.
KnownModelFormat = Literal[
    "gguf", "safetensors", "onnx", "ggml", "pte", "mlx_placeholder", "torch_safetensors", "yuzu"
]
KnownModelDomain = Literal["llm", "embedding", "drafter", "imageGen", "transcription", "tts"]
KnownStopReason = Literal[
    "userStopped",
    "modelUnloaded",
    "failed",
    "eosFound",
    "stopStringFound",
    "toolCalls",
    "maxPredictedTokensReached",
    "contextLengthReached",
]
KnownReasoningType = Literal["none", "reasoning", "reasoningStartTag", "reasoningEndTag"]
KnownProcessingStatus = Literal["idle", "processingPrompt", "generating", "computingEmbedding"]
KnownMemoryConfidence = Literal["high", "low"]

logger = logging.getLogger("lmstudio_sdk.protocol")

_KNOWN: dict[str, frozenset[str]] = {
    "stopReason": frozenset(get_args(KnownStopReason)),
    "reasoningType": frozenset(get_args(KnownReasoningType)),
    "format": frozenset(get_args(KnownModelFormat)),
    "status": frozenset(get_args(KnownProcessingStatus)),
    "confidence": frozenset(get_args(KnownMemoryConfidence)),
}
_seen: set[tuple[str, str]] = set()


def note_enum(field: str, value: str) -> None:
    """Log (once per field and value) a literal this SDK does not know; never raise."""
    if value in _KNOWN[field] or (field, value) in _seen:
        return
    _seen.add((field, value))
    logger.info(
        "LM Studio sent %s=%r, which this SDK does not know; passing it through", field, value
    )


# Fields older LM Studio builds (and the TS 1.x era) leave out although TS 2.0 requires them:
# the client fills these in before decoding, so their absence never fails a call. Keyed by the
# wire name; a packet's own entries are keyed by its ``type``.
_MODEL_INFO_DEFAULTS: dict[str, Any] = {
    "publisher": "",
    "indexedModelIdentifier": "",
    "deviceIdentifier": None,
}
_LLM_INFO_DEFAULTS: dict[str, Any] = {"vision": False, "trainedForToolUse": False}
_INSTANCE_DEFAULTS: dict[str, Any] = {"ttlMs": None, "lastUsedTime": None}
_FRAGMENT_DEFAULTS: dict[str, Any] = {
    "tokensCount": 1,
    "containsDrafted": False,
    "reasoningType": "none",
    "isStructural": False,
}
_EMPTY_KV: dict[str, Any] = {"fields": []}
_DETAILS_DEFAULTS: dict[str, Any] = {
    "cachedTokenCount": 0,
    "totalPromptTokenCount": 0,
    "processedPromptTokenCount": 0,
    "unprocessedPromptTokenCount": 0,
}


def fill_kv_config(config: Any) -> Any:
    """A KV config with its field list (an empty config may come as ``{}``)."""
    return {**_EMPTY_KV, **config} if isinstance(config, dict) else config


def fill_model_info(info: Any) -> Any:
    """A model info (downloaded or loaded) with the tolerated absent fields filled in."""
    if not isinstance(info, dict):
        return info
    filled = {**_MODEL_INFO_DEFAULTS, **info}
    if "identifier" in info:
        filled = {**_INSTANCE_DEFAULTS, **filled}
    if info.get("type") == "llm":
        filled = {**_LLM_INFO_DEFAULTS, **filled}
    return filled


def fill_packet(packet: Any) -> Any:
    """A channel packet with the tolerated absent fields filled in (unknown types untouched)."""
    if not isinstance(packet, dict):
        return packet
    kind = packet.get("type")
    filled = dict(packet)
    if "info" in filled:
        filled["info"] = fill_model_info(filled["info"])
    if kind == "fragment" and isinstance(filled.get("fragment"), dict):
        filled["fragment"] = {**_FRAGMENT_DEFAULTS, **filled["fragment"]}
    elif kind == "promptProcessingProgress" and isinstance(filled.get("details"), dict):
        filled["details"] = {**_DETAILS_DEFAULTS, **filled["details"]}
    elif kind == "success" and "stats" in filled:
        filled["loadModelConfig"] = fill_kv_config(filled.get("loadModelConfig", _EMPTY_KV))
        filled["predictionConfig"] = fill_kv_config(filled.get("predictionConfig", _EMPTY_KV))
        filled["modelInfo"] = fill_model_info(filled.get("modelInfo"))
    return filled
