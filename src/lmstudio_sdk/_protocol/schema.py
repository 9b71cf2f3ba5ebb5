"""Typed payloads of the endpoints the SDK and the embedded server use (TS 2.0 shapes).

Conventions:

* Field names are snake_case in Python and camelCase on the wire (``rename="camel"``).
* Server-sent enums (``format``, ``stopReason``, ``reasoningType``, …) are typed ``str``, not
  ``Literal``: a newer LM Studio may send a literal we do not know, and that must not break a
  call. The ``Known*`` aliases document the values known today.
* Optional fields default to ``None`` and are omitted on the wire when ``None``
  (``omit_defaults``). Model infos are the exception: TS 2.0 requires some fields even when
  false, empty or null, so the server encodes them through :func:`model_info_to_wire`.
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec

__all__ = [
    "ChatHistoryData",
    "ChatMessageData",
    "EmbeddingModelInfo",
    "EmbeddingModelInstanceInfo",
    "FilePart",
    "InstanceReferenceSpecifier",
    "KVConfig",
    "KVConfigField",
    "KVConfigLayer",
    "KVConfigStack",
    "LLMInfo",
    "LLMInstanceInfo",
    "ModelInfo",
    "ModelInstanceInfo",
    "ModelQuery",
    "ModelSpecifier",
    "PredictionFragment",
    "PredictionStats",
    "PromptProcessingDetails",
    "Quantization",
    "QuerySpecifier",
    "TextPart",
    "ToolCallRequest",
    "ToolCallRequestPart",
    "ToolCallResultPart",
    "model_info_to_wire",
]


class FrozenWireStruct(
    msgspec.Struct, frozen=True, kw_only=True, rename="camel", omit_defaults=True
):
    """Base of every payload struct."""


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

# -- KV config --------------------------------------------------------------------------------


class KVConfigField(FrozenWireStruct, frozen=True, kw_only=True):
    key: str
    value: Any


# omit_defaults=False: an empty ``fields`` / ``layers`` list is required on the wire, and
# omit_defaults would drop it (it equals the default), giving ``{}``.
class KVConfig(FrozenWireStruct, frozen=True, kw_only=True, omit_defaults=False):
    fields: list[KVConfigField] = msgspec.field(default_factory=list)

    def get(self, key: str, default: Any = None) -> Any:
        for item in reversed(self.fields):
            if item.key == key:
                return item.value
        return default

    def as_dict(self) -> dict[str, Any]:
        return {item.key: item.value for item in self.fields}


class KVConfigLayer(FrozenWireStruct, frozen=True, kw_only=True):
    layer_name: str
    config: KVConfig


class KVConfigStack(FrozenWireStruct, frozen=True, kw_only=True, omit_defaults=False):
    layers: list[KVConfigLayer] = msgspec.field(default_factory=list)

    def collapse(self) -> KVConfig:
        """Later layers override earlier ones key by key (LM Studio's rule)."""
        merged: dict[str, Any] = {}
        for layer in self.layers:
            for item in layer.config.fields:
                merged[item.key] = item.value
        return KVConfig(fields=[KVConfigField(key=k, value=v) for k, v in merged.items()])


# -- model specifiers -------------------------------------------------------------------------


class ModelQuery(FrozenWireStruct, frozen=True, kw_only=True):
    identifier: str | None = None
    path: str | None = None
    domain: str | None = None
    vision: bool | None = None


class QuerySpecifier(FrozenWireStruct, frozen=True, kw_only=True, tag_field="type", tag="query"):
    query: ModelQuery


class InstanceReferenceSpecifier(
    FrozenWireStruct, frozen=True, kw_only=True, tag_field="type", tag="instanceReference"
):
    instance_reference: str


ModelSpecifier = QuerySpecifier | InstanceReferenceSpecifier

# -- model info -------------------------------------------------------------------------------


class Quantization(FrozenWireStruct, frozen=True, kw_only=True):
    name: str
    bits: int


class _ModelInfoBase(
    FrozenWireStruct, frozen=True, kw_only=True, omit_defaults=False, tag_field="type"
):
    model_key: str
    format: str
    display_name: str
    path: str
    size_bytes: int
    max_context_length: int
    publisher: str = ""
    indexed_model_identifier: str = ""
    device_identifier: str | None = None
    params_string: str | None = None
    architecture: str | None = None
    quantization: Quantization | None = None
    variants: list[str] | None = None
    selected_variant: str | None = None

    @property
    def domain(self) -> str:
        """``"llm"`` or ``"embedding"`` (the wire's ``type`` tag)."""
        return str(self.__struct_config__.tag)


class LLMInfo(_ModelInfoBase, frozen=True, kw_only=True, tag="llm"):
    """A downloaded LLM (on disk, not necessarily loaded)."""

    vision: bool = False
    trained_for_tool_use: bool = False


class EmbeddingModelInfo(_ModelInfoBase, frozen=True, kw_only=True, tag="embedding"):
    """A downloaded embedding model."""


class LLMInstanceInfo(LLMInfo, frozen=True, kw_only=True, tag="llm"):
    """A loaded LLM instance."""

    identifier: str
    instance_reference: str
    context_length: int
    ttl_ms: int | None = None
    last_used_time: int | None = None


class EmbeddingModelInstanceInfo(EmbeddingModelInfo, frozen=True, kw_only=True, tag="embedding"):
    """A loaded embedding model instance."""

    identifier: str
    instance_reference: str
    context_length: int
    ttl_ms: int | None = None
    last_used_time: int | None = None


ModelInfo = LLMInfo | EmbeddingModelInfo
ModelInstanceInfo = LLMInstanceInfo | EmbeddingModelInstanceInfo

_REQUIRED_NULLABLE = frozenset({"deviceIdentifier", "ttlMs", "lastUsedTime"})


def model_info_to_wire(info: ModelInfo | ModelInstanceInfo) -> dict[str, Any]:
    """Builtins for a model info in TS 2.0's shape.

    Every required field is present (``deviceIdentifier``, ``ttlMs`` and ``lastUsedTime`` as
    ``null`` when unknown); optional fields that are ``None`` are left out, since TS rejects
    ``null`` where a field is merely optional.
    """
    data: dict[str, Any] = msgspec.to_builtins(info)
    return {k: v for k, v in data.items() if v is not None or k in _REQUIRED_NULLABLE}


# -- chat history -----------------------------------------------------------------------------


# "type": "function" is a tag, not a defaulted field: omit_defaults would drop a defaulted
# field, yet TS requires it. A tag is always encoded and may be absent when decoding.
class ToolCallRequest(
    FrozenWireStruct, frozen=True, kw_only=True, tag_field="type", tag="function"
):
    name: str
    arguments: dict[str, Any] | None = None
    id: str | None = None


class TextPart(FrozenWireStruct, frozen=True, kw_only=True, tag_field="type", tag="text"):
    text: str


class FilePart(FrozenWireStruct, frozen=True, kw_only=True, tag_field="type", tag="file"):
    name: str
    identifier: str
    size_bytes: int
    file_type: str


class ToolCallRequestPart(
    FrozenWireStruct, frozen=True, kw_only=True, tag_field="type", tag="toolCallRequest"
):
    tool_call_request: ToolCallRequest


class ToolCallResultPart(
    FrozenWireStruct, frozen=True, kw_only=True, tag_field="type", tag="toolCallResult"
):
    content: str
    tool_call_id: str | None = None
    name: str | None = None


ContentPart = TextPart | FilePart | ToolCallRequestPart | ToolCallResultPart


class ChatMessageData(FrozenWireStruct, frozen=True, kw_only=True):
    role: Literal["system", "user", "assistant", "tool"]
    content: list[ContentPart]


class ChatHistoryData(FrozenWireStruct, frozen=True, kw_only=True):
    messages: list[ChatMessageData]


# -- prediction -------------------------------------------------------------------------------


class TokenCandidate(FrozenWireStruct, frozen=True, kw_only=True):
    text: str
    id: int
    log_prob: float


class FragmentToken(FrozenWireStruct, frozen=True, kw_only=True):
    text: str
    id: int
    log_prob: float | None = None
    candidates: list[TokenCandidate] | None = None


class PredictionFragment(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """One streamed piece of a prediction. Every field is always on the wire (TS 2.0)."""

    content: str
    tokens_count: int = 1
    contains_drafted: bool = False
    reasoning_type: str = "none"
    is_structural: bool = False
    tokens: list[FragmentToken] | msgspec.UnsetType = msgspec.UNSET


class PromptProcessingDetails(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    cached_token_count: int = 0
    total_prompt_token_count: int = 0
    processed_prompt_token_count: int = 0
    unprocessed_prompt_token_count: int = 0


class PredictionStats(FrozenWireStruct, frozen=True, kw_only=True):
    """Statistics of a finished prediction."""

    stop_reason: str
    stop_string: str | None = None
    tokens_per_second: float | None = None
    num_gpu_layers: float | None = None
    time_to_first_token_sec: float | None = None
    total_time_sec: float | None = None
    prompt_tokens_count: int | None = None
    predicted_tokens_count: int | None = None
    total_tokens_count: int | None = None
    used_draft_model_key: str | None = None
    total_draft_tokens_count: int | None = None
    accepted_draft_tokens_count: int | None = None
    rejected_draft_tokens_count: int | None = None
    ignored_draft_tokens_count: int | None = None
