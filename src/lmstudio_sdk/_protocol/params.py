"""Request parameters of the endpoints the SDK calls, and typed decoding of their results."""

from __future__ import annotations

import logging
from typing import Any, Literal, TypeVar

import msgspec
from msgspec import Raw, UnsetType

from .._exceptions import RemoteProtocolError
from .schema import (
    ChatHistoryData,
    EmbeddingModelInfo,
    EmbeddingModelInstanceInfo,
    KVConfigStack,
    LLMInfo,
    LLMInstanceInfo,
    ModelSpecifier,
)
from .tolerance import note_enum

__all__ = [
    "ApplyPromptTemplateOpts",
    "ApplyPromptTemplateParams",
    "ApplyPromptTemplateResult",
    "BasePredictionConfigParams",
    "CancelPacket",
    "CompleteRawTextParams",
    "CountTokensResult",
    "EmbedStringParams",
    "EmbedStringResult",
    "EstimateModelUsageParams",
    "GetModelInfoParams",
    "GetOrLoadParams",
    "LMStudioVersion",
    "LoadModelParams",
    "ModelKeyParams",
    "NotifyParams",
    "PredictParams",
    "SetExperimentFlagParams",
    "SpecifierParams",
    "StartHttpServerParams",
    "TokenizeParams",
    "TokenizeResult",
    "UnloadModelParams",
    "UploadFileBase64Params",
    "UploadFileResult",
    "decode_model_list",
    "decode_result",
]

logger = logging.getLogger("lmstudio_sdk.protocol")

T = TypeVar("T")


class Params(msgspec.Struct, frozen=True, kw_only=True, rename="camel", omit_defaults=True):
    """Endpoint parameters: the client encodes them, the embedded server decodes them.

    Unknown fields are ignored (LM Studio's schemas strip them); a missing required field or a
    wrong type is rejected.
    """


# -- shared model management (/llm and /embedding) --------------------------------------------


class SpecifierParams(Params, frozen=True, kw_only=True):
    specifier: ModelSpecifier


class BasePredictionConfigParams(Params, frozen=True, kw_only=True):
    specifier: ModelSpecifier
    ignore_server_session_config: bool | None = None


class GetModelInfoParams(Params, frozen=True, kw_only=True):
    specifier: ModelSpecifier
    throw_if_not_found: bool


class UnloadModelParams(Params, frozen=True, kw_only=True):
    identifier: str
    device_identifier: str | None = None


class EstimateModelUsageParams(Params, frozen=True, kw_only=True):
    model_key: str
    load_config_stack: KVConfigStack
    device_identifier: str | None = None


class TokenizeParams(Params, frozen=True, kw_only=True):
    specifier: ModelSpecifier
    input_string: str


class LoadModelParams(Params, frozen=True, kw_only=True):
    model_key: str
    load_config_stack: KVConfigStack
    identifier: str | None = None
    device_identifier: str | None = None
    ttl_ms: int | None = None


class GetOrLoadParams(Params, frozen=True, kw_only=True):
    identifier: str
    load_config_stack: KVConfigStack
    device_identifier: str | None = None
    load_ttl_ms: int | None = None


# -- /llm -------------------------------------------------------------------------------------


class PredictParams(Params, frozen=True, kw_only=True):
    model_specifier: ModelSpecifier
    history: ChatHistoryData
    prediction_config_stack: KVConfigStack
    fuzzy_preset_identifier: str | None = None
    ignore_server_session_config: bool | None = None


class CompleteRawTextParams(Params, frozen=True, kw_only=True):
    model_specifier: ModelSpecifier
    raw_prompt: str
    prediction_config_stack: KVConfigStack
    fuzzy_preset_identifier: str | None = None
    ignore_server_session_config: bool | None = None


class ApplyPromptTemplateOpts(Params, frozen=True, kw_only=True):
    omit_bos_token: bool | None = None
    omit_eos_token: bool | None = None
    tool_definitions: list[dict[str, Any]] | None = None


class ApplyPromptTemplateParams(Params, frozen=True, kw_only=True):
    specifier: ModelSpecifier
    history: ChatHistoryData
    prediction_config_stack: KVConfigStack
    # TS 2.0 always sends opts (maybe empty); it is required on the wire.
    opts: ApplyPromptTemplateOpts = msgspec.field(default_factory=ApplyPromptTemplateOpts)


# -- /embedding -------------------------------------------------------------------------------


class EmbedStringParams(Params, frozen=True, kw_only=True):
    model_specifier: ModelSpecifier
    input_string: str


# -- /files -----------------------------------------------------------------------------------


class UploadFileBase64Params(Params, frozen=True, kw_only=True):
    name: str
    content_base64: str


# -- /system ----------------------------------------------------------------------------------


class ModelKeyParams(Params, frozen=True, kw_only=True):
    model_key: str


class NotifyParams(Params, frozen=True, kw_only=True):
    title: str
    description: str | None = None
    no_auto_dismiss: bool | None = None


class SetExperimentFlagParams(Params, frozen=True, kw_only=True):
    code: str
    value: bool


class StartHttpServerParams(Params, frozen=True, kw_only=True):
    port: int | None = None
    cors: bool | None = None
    network_interface: str | None = None


# -- client → server channel packets ----------------------------------------------------------


class CancelPacket(msgspec.Struct, frozen=True, kw_only=True):
    """The only packet a client sends on predict, completeRawText, loadModel and getOrLoad."""

    type: Literal["cancel"]


# -- results ----------------------------------------------------------------------------------


class TokenizeResult(Params, frozen=True, kw_only=True):
    tokens: list[int]


class CountTokensResult(Params, frozen=True, kw_only=True):
    token_count: int


class ApplyPromptTemplateResult(Params, frozen=True, kw_only=True):
    formatted: str


class EmbedStringResult(Params, frozen=True, kw_only=True):
    embedding: list[float]


class UploadFileResult(Params, frozen=True, kw_only=True):
    identifier: str
    file_type: str
    size_bytes: int


class LMStudioVersion(Params, frozen=True, kw_only=True):
    """What ``system.version`` answers."""

    version: str
    build: int = 0


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
        domain = decode_result(item, dict[str, Any], endpoint).get("type")
        types = _INFO_TYPES.get(domain) if isinstance(domain, str) else None
        if types is None:
            key = repr(domain)  # the domain may be any JSON value, hashable or not
            if key not in _skipped_domains:
                _skipped_domains.add(key)
                logger.info("skipping models of a domain this SDK does not know: %s", key)
            continue
        model = decode_result(item, types[1] if instances else types[0], endpoint)
        note_enum("format", model.format)
        models.append(model)
    return models
