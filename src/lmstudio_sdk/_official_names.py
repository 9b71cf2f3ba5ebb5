"""The official Python SDK's (``lmstudio`` 1.5) names for this SDK's types.

Code written for ``lmstudio`` names its types in annotations, ``isinstance`` checks and
structured-output classes (``class Book(lms.BaseModel)``); each name here is the same class as
ours or an alias of the same shape, so that code keeps working with only the import changed.
docs/migration.md has the table; tests/test_migration_surface.py walks it.

Pure (types only): no I/O, no client face, so importing it costs nothing a sync user avoids.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any, BinaryIO, Literal, Protocol, TypeAlias, TypedDict

import msgspec

from ._protocol.chat import ChatMessageDict
from ._protocol.config_types import (
    EmbeddingLoadConfig,
    EmbeddingLoadConfigDict,
    LlmLoadConfig,
    LlmLoadConfigDict,
)
from ._protocol.errors import ErrorData
from ._protocol.model_query import ModelQueryDict
from ._protocol.packets.shared import (
    AssistantMessageData,
    ChatMessageData,
    DownloadProgressUpdate,
    EmbeddingModelInfo,
    EmbeddingModelInstanceInfo,
    FilePart,
    LLMInfo,
    LLMInstanceInfo,
    ModelQuery,
    ModelSpecifier,
    PredictionFragment,
    PredictionStats,
    SystemMessageData,
    TextPart,
    ToolCallResultPart,
    ToolMessageData,
    UserMessageData,
)
from ._protocol.prediction import PredictionResult
from ._protocol.tools import ToolLike

__all__ = [
    "AnyChatMessage",
    "AnyChatMessageDict",
    "AnyLoadConfig",
    "AnyModelSpecifier",
    "AssistantResponse",
    "AssistantResponseContent",
    "BaseModel",
    "ChatHistoryDataDict",
    "DictObject",
    "DictSchema",
    "DownloadFinalizedCallback",
    "DownloadProgressCallback",
    "EmbeddingLoadModelConfig",
    "EmbeddingLoadModelConfigDict",
    "FileHandle",
    "FileHandleDict",
    "FileHandleInput",
    "FileType",
    "LlmInfo",
    "LlmInstanceInfo",
    "LlmLoadModelConfig",
    "LlmLoadModelConfigDict",
    "LlmPredictionFragment",
    "LlmPredictionStats",
    "LocalFileInput",
    "ModelInfo",
    "ModelInstanceInfo",
    "ModelSchema",
    "ModelSpecifier",
    "ModelSpecifierDict",
    "PredictionFirstTokenCallback",
    "PredictionFragmentCallback",
    "PredictionMessageCallback",
    "PredictionRoundResult",
    "PromptProcessingCallback",
    "ResponseSchema",
    "SerializedLMSExtendedError",
    "SystemPrompt",
    "SystemPromptContent",
    "TextData",
    "TextDataDict",
    "ToolCallResultData",
    "ToolDefinition",
    "ToolResultMessage",
    "UserMessage",
    "UserMessageContent",
    "UserMessageDict",
    "ValidationError",
]

# -- the same classes under their official names --------------------------------------------------

LlmInfo = LLMInfo
LlmInstanceInfo = LLMInstanceInfo
LlmPredictionStats = PredictionStats
LlmPredictionFragment = PredictionFragment
LlmLoadModelConfig = LlmLoadConfig
LlmLoadModelConfigDict = LlmLoadConfigDict
EmbeddingLoadModelConfig = EmbeddingLoadConfig
EmbeddingLoadModelConfigDict = EmbeddingLoadConfigDict
FileHandle = FilePart
TextData = TextPart
SystemPromptContent = TextPart
ToolCallResultData = ToolCallResultPart
UserMessage = UserMessageData
AssistantResponse = AssistantMessageData
SystemPrompt = SystemMessageData
ToolResultMessage = ToolMessageData
PredictionRoundResult = PredictionResult
"""One round of ``act()``: a ``PredictionResult`` with its ``round_index`` set."""
SerializedLMSExtendedError = ErrorData
ValidationError = msgspec.ValidationError

# -- unions and plain aliases ----------------------------------------------------------------------

ModelInfo: TypeAlias = LLMInfo | EmbeddingModelInfo
ModelInstanceInfo: TypeAlias = LLMInstanceInfo | EmbeddingModelInstanceInfo
AnyLoadConfig: TypeAlias = LlmLoadConfig | EmbeddingLoadConfig
AnyChatMessage: TypeAlias = ChatMessageData
AnyChatMessageDict: TypeAlias = ChatMessageDict
UserMessageContent: TypeAlias = TextPart | FilePart
AssistantResponseContent: TypeAlias = TextPart | FilePart
DictObject: TypeAlias = Mapping[str, Any]
DictSchema: TypeAlias = Mapping[str, Any]
FileType: TypeAlias = Literal[
    "image", "text/plain", "application/pdf", "application/word", "text/other", "unknown"
]
LocalFileInput: TypeAlias = BinaryIO | bytes | bytearray | memoryview | str | os.PathLike[str]
ToolDefinition: TypeAlias = ToolLike

PredictionFirstTokenCallback: TypeAlias = Callable[[], Any]
PredictionFragmentCallback: TypeAlias = Callable[[PredictionFragment], Any]
PredictionMessageCallback: TypeAlias = Callable[[AssistantMessageData], Any]
PromptProcessingCallback: TypeAlias = Callable[[float], Any]
DownloadProgressCallback: TypeAlias = Callable[[DownloadProgressUpdate], Any]
DownloadFinalizedCallback: TypeAlias = Callable[[], Any]


class BaseModel(msgspec.Struct, omit_defaults=True, kw_only=True):
    """Base for structured-output classes (``response_format=``), as in the official SDK:

        class Book(lms.BaseModel):
            title: str
            pages: int

        book = model.respond("A book, as JSON", response_format=Book).parsed

    ``parsed`` is a ``Book`` here, and since the official SDK gives a dict, a ``BaseModel``
    also reads like one: ``book["title"]``, ``book.get("pages")``, ``"title" in book``,
    ``dict(book.items())``, beside ``book.title``.
    """

    @classmethod
    def model_json_schema(cls) -> dict[str, Any]:
        """The JSON schema of the class (what ``response_format=`` sends)."""
        schema: dict[str, Any] = msgspec.json.schema(cls)
        return schema

    def __getitem__(self, key: str) -> Any:
        if key not in self.__struct_fields__:
            raise KeyError(key)
        return getattr(self, key)

    def __contains__(self, key: object) -> bool:
        return key in self.__struct_fields__

    def get(self, key: str, default: Any = None) -> Any:
        return getattr(self, key) if key in self.__struct_fields__ else default

    def keys(self) -> list[str]:
        return list(self.__struct_fields__)

    def values(self) -> list[Any]:
        return [getattr(self, key) for key in self.__struct_fields__]

    def items(self) -> list[tuple[str, Any]]:
        return [(key, getattr(self, key)) for key in self.__struct_fields__]


class ModelSchema(Protocol):
    """A class that describes its own JSON schema (pydantic models do), for
    ``response_format=``."""

    @classmethod
    def model_json_schema(cls) -> Mapping[str, Any]: ...


ResponseSchema: TypeAlias = Mapping[str, Any] | type[Any]
"""What ``response_format=`` takes: a JSON schema dict or a structured setting dict, or a class
(pydantic model, msgspec Struct, dataclass, TypedDict)."""


# -- the wire shapes as dicts (camelCase keys, as on the wire) -------------------------------------


class TextDataDict(TypedDict):
    type: Literal["text"]
    text: str


class FileHandleDict(TypedDict):
    type: Literal["file"]
    name: str
    identifier: str
    sizeBytes: int
    fileType: FileType


class UserMessageDict(TypedDict):
    role: Literal["user"]
    content: Sequence[TextDataDict | FileHandleDict]


class ChatHistoryDataDict(TypedDict):
    messages: Sequence[ChatMessageDict]


class _QuerySpecifierDict(TypedDict):
    type: Literal["query"]
    query: ModelQueryDict


class _InstanceReferenceSpecifierDict(TypedDict):
    type: Literal["instanceReference"]
    instanceReference: str


ModelSpecifierDict: TypeAlias = _QuerySpecifierDict | _InstanceReferenceSpecifierDict
AnyModelSpecifier: TypeAlias = str | ModelSpecifier | ModelQuery | Mapping[str, Any]
FileHandleInput: TypeAlias = FilePart | FileHandleDict
