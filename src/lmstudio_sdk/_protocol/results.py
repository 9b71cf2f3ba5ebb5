"""Decoding RPC results into the packet vocabulary's result types, leniently.

Unknown fields are ignored by every packet struct; what this module adds is the server's
protocol error for a result we cannot use, and model lists that skip (and log once) domains
this SDK does not know.
"""

from __future__ import annotations

import logging
from typing import Any, TypeAlias, TypeVar

import msgspec
from msgspec import Raw, UnsetType

from .._exceptions import RemoteProtocolError
from .packets.diagnostics import (
    StreamLogsLogPacketLog,
    StreamLogsLogPacketLogDataLlmPredictionInput,
    StreamLogsLogPacketLogDataLlmPredictionOutput,
    StreamLogsLogPacketLogDataRuntimeLog,
    StreamLogsLogPacketLogDataServerLog,
)
from .packets.runtime import ListEnginesResultItem, SurveyHardwareResult
from .packets.shared import (
    EmbeddingModelInfo,
    EmbeddingModelInstanceInfo,
    EstimateModelUsageResult,
    EstimateModelUsageResultMemory,
    GetEngineSelectionsResultItem1,
    GetInstanceProcessingStateResult,
    KVConfig,
    LLMInfo,
    LLMInstanceInfo,
)
from .packets.system import InfoResult, VersionResult
from .tolerance import fill_kv_config, fill_model_info, note_enum

__all__ = [
    "EngineInfo",
    "EngineSpecifier",
    "EstimatedModelMemoryUsage",
    "EstimatedResourcesUsage",
    "HardwareSurvey",
    "LMStudioVersion",
    "LogEvent",
    "ModelProcessingState",
    "PredictionInputLog",
    "PredictionOutputLog",
    "RuntimeLog",
    "ServerInfo",
    "ServerLog",
    "decode_engine_selections",
    "decode_estimate",
    "decode_kv_config",
    "decode_log_packet",
    "decode_model_info",
    "decode_model_list",
    "decode_processing_state",
    "decode_result",
    "decode_version",
    "superjson_undefined",
]

logger = logging.getLogger("lmstudio_sdk.protocol")

T = TypeVar("T")

LMStudioVersion: TypeAlias = VersionResult
"""What ``system.version`` answers (``version``, ``build``)."""


def decode_result(raw: Raw | UnsetType, type: type[T], endpoint: str) -> T:
    """Decode an endpoint's result; a shape we cannot use is the server's protocol error."""
    if isinstance(raw, UnsetType):
        raise RemoteProtocolError(f"LM Studio sent no result for {endpoint}")
    try:
        return msgspec.json.decode(raw, type=type)
    except msgspec.ValidationError as exc:
        raise RemoteProtocolError(
            f"LM Studio sent an invalid result for {endpoint}: {exc}"
        ) from exc


def _convert(loose: Any, type: type[T], endpoint: str) -> T:
    """A result already decoded as builtins (and filled in), as ``type``."""
    try:
        return msgspec.convert(loose, type)
    except msgspec.ValidationError as exc:
        raise RemoteProtocolError(
            f"LM Studio sent an invalid result for {endpoint}: {exc}"
        ) from exc


def decode_version(raw: Raw | UnsetType) -> LMStudioVersion:
    """``system.version``'s answer; a server that sends no ``build`` reports build 0."""
    loose = decode_result(raw, dict[str, Any], "version")
    return _convert({"build": 0, **loose}, LMStudioVersion, "version")


def decode_kv_config(raw: Raw | UnsetType, endpoint: str) -> KVConfig:
    """A KV config result (an empty one may come as ``{}``)."""
    return _convert(fill_kv_config(decode_result(raw, Any, endpoint)), KVConfig, endpoint)


def decode_model_info(raw: Raw | UnsetType, type: type[T], endpoint: str) -> T:
    """One model info, tolerating the fields older servers leave out."""
    return _convert(fill_model_info(decode_result(raw, Any, endpoint)), type, endpoint)


_INFO_TYPES: dict[str, tuple[type[Any], type[Any]]] = {
    "llm": (LLMInfo, LLMInstanceInfo),
    "embedding": (EmbeddingModelInfo, EmbeddingModelInstanceInfo),
}
_skipped_domains: set[str] = set()


def decode_model_list(raw: Raw | UnsetType, endpoint: str, *, instances: bool) -> list[Any]:
    """Decode a list of model infos, skipping (and logging once) domains we do not know."""
    items = decode_result(raw, list[Raw], endpoint)
    models: list[Any] = []
    for item in items:
        loose = decode_result(item, dict[str, Any], endpoint)
        domain = loose.get("type")
        types = _INFO_TYPES.get(domain) if isinstance(domain, str) else None
        if types is None:
            key = repr(domain)  # the domain may be any JSON value, hashable or not
            if key not in _skipped_domains:
                _skipped_domains.add(key)
                logger.info("skipping models of a domain this SDK does not know: %s", key)
            continue
        model = _convert(fill_model_info(loose), types[1] if instances else types[0], endpoint)
        note_enum("format", model.format)
        models.append(model)
    return models


# -- /system info, /runtime, /diagnostics -----------------------------------------------------

ModelProcessingState: TypeAlias = GetInstanceProcessingStateResult
"""What a model instance is doing (``handle.get_processing_state()``): ``status`` ("idle",
"processingPrompt", "generating", "computingEmbedding") and ``queued``, the requests in its
queue, the one running included."""
EstimatedResourcesUsage: TypeAlias = EstimateModelUsageResult
"""What loading a model would take (``estimate_resources_usage()``): ``memory`` and
``passes_guardrails`` (whether the server's guardrails would let it load)."""
EstimatedModelMemoryUsage: TypeAlias = EstimateModelUsageResultMemory
"""Bytes of weights (``model_bytes``), of context (``context_bytes``, the KV cache) and in all
(``total_bytes``), the parts of those in VRAM (``*_vram_bytes``), and ``confidence`` ("high":
from the model file's header; "low": a rule of thumb)."""


def decode_processing_state(raw: Raw | UnsetType) -> ModelProcessingState:
    state = decode_result(raw, ModelProcessingState, "getInstanceProcessingState")
    note_enum("status", state.status)
    return state


def decode_estimate(raw: Raw | UnsetType) -> EstimatedResourcesUsage:
    estimate = decode_result(raw, EstimatedResourcesUsage, "estimateModelUsage")
    note_enum("confidence", estimate.memory.confidence)
    return estimate


ServerInfo: TypeAlias = InfoResult
"""What ``system.info`` answers (``pid``, ``is_daemon``, ``version``)."""
EngineInfo: TypeAlias = ListEnginesResultItem
"""One engine of ``runtime.listEngines``."""
EngineSpecifier: TypeAlias = GetEngineSelectionsResultItem1
"""An engine's ``name`` and ``version``, as ``getEngineSelections`` and ``selectEngine`` name it."""
HardwareSurvey: TypeAlias = SurveyHardwareResult
"""What ``runtime.surveyHardware`` answers: a status and, per engine, the hardware it sees."""
LogEvent: TypeAlias = StreamLogsLogPacketLog
"""One ``diagnostics.streamLogs`` event: ``timestamp`` (ms since the epoch) and ``data``."""
PredictionInputLog: TypeAlias = StreamLogsLogPacketLogDataLlmPredictionInput
"""``llm.prediction.input``: the prompt as the model saw it (``input``), and which model."""
PredictionOutputLog: TypeAlias = StreamLogsLogPacketLogDataLlmPredictionOutput
"""``llm.prediction.output``: the generated text (``output``) and its ``stats``."""
ServerLog: TypeAlias = StreamLogsLogPacketLogDataServerLog
"""``server.log``: one of the server's own log records (``content``, ``level``)."""
RuntimeLog: TypeAlias = StreamLogsLogPacketLogDataRuntimeLog
"""``runtime.log``: a message of an engine (``message``, ``level``, ``engine_name``, …)."""

_LOG_TYPES = frozenset(
    {"llm.prediction.input", "llm.prediction.output", "server.log", "runtime.log"}
)
_skipped_log_types: set[str] = set()


def decode_log_packet(raw: Raw) -> LogEvent | None:
    """A ``streamLogs`` packet; None for one this SDK does not know (logged once per type)."""
    loose = decode_result(raw, dict[str, Any], "streamLogs")
    log = loose.get("log")
    data = log.get("data") if isinstance(log, dict) else None
    kind = data.get("type") if isinstance(data, dict) else None
    if loose.get("type") != "log" or kind not in _LOG_TYPES:
        key = repr((loose.get("type"), kind))
        if key not in _skipped_log_types:
            _skipped_log_types.add(key)
            logger.info("skipping streamLogs packets this SDK does not know: %s", key)
        return None
    return _convert(log, LogEvent, "streamLogs")


def superjson_undefined() -> dict[str, Any]:
    """superjson's encoding of ``undefined``: the parameter of a superjson endpoint that takes
    none (``getEngineSelections``), as the TypeScript SDK sends it: a superjson payload is
    always an envelope, never left out as a raw endpoint's undefined parameter is."""
    return {"json": None, "meta": {"values": ["undefined"]}}


def decode_engine_selections(raw: Raw | UnsetType) -> dict[str, EngineSpecifier]:
    """``getEngineSelections``' superjson Map: model format name → engine."""
    envelope = decode_result(raw, dict[str, Any], "getEngineSelections")
    entries = _convert(
        envelope.get("json"), list[tuple[str, EngineSpecifier]], "getEngineSelections"
    )
    return dict(entries)
