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
    PredictionFragment,
    PredictionStats,
    SystemMessageData,
    TextPart,
    ToolCallResultPart,
    ToolMessageData,
    UserMessageData,
)
from ._protocol.packets.shared import (
    ModelSpecifier as _WireModelSpecifier,
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
"""A text part of a message (the official name of ``TextPart``)."""
SystemPromptContent = TextPart
"""The text part of a system message (``TextPart``)."""
ToolCallResultData = ToolCallResultPart
UserMessage = UserMessageData
"""A user message (the official name of ``UserMessageData``)."""
AssistantResponse = AssistantMessageData
"""An assistant message (the official name of ``AssistantMessageData``)."""
SystemPrompt = SystemMessageData
"""A system message (the official name of ``SystemMessageData``)."""
ToolResultMessage = ToolMessageData
"""A message of tool results (the official name of ``ToolMessageData``)."""
PredictionRoundResult = PredictionResult
"""One round of ``act()``: a ``PredictionResult`` with its ``round_index`` set."""
SerializedLMSExtendedError = ErrorData
ValidationError = msgspec.ValidationError

# -- unions and plain aliases ----------------------------------------------------------------------

ModelInfo: TypeAlias = LLMInfo | EmbeddingModelInfo
"""A downloaded model's info: ``LLMInfo`` or ``EmbeddingModelInfo``."""
ModelInstanceInfo: TypeAlias = LLMInstanceInfo | EmbeddingModelInstanceInfo
"""A loaded instance's info: ``LLMInstanceInfo`` or ``EmbeddingModelInstanceInfo``."""
AnyLoadConfig: TypeAlias = LlmLoadConfig | EmbeddingLoadConfig
"""A typed load config of either domain."""
AnyChatMessage: TypeAlias = ChatMessageData
"""Any message of a chat history (``ChatMessageData``)."""
AnyChatMessageDict: TypeAlias = ChatMessageDict
UserMessageContent: TypeAlias = TextPart | FilePart
"""A part of a user message: text or a file."""
AssistantResponseContent: TypeAlias = TextPart | FilePart
"""A part of an assistant message: text or a file."""
DictObject: TypeAlias = Mapping[str, Any]
"""A JSON object as a mapping."""
DictSchema: TypeAlias = Mapping[str, Any]
"""A JSON schema as a mapping."""
FileType: TypeAlias = Literal[
    "image", "text/plain", "application/pdf", "application/word", "text/other", "unknown"
]
"""The kinds of file LM Studio tells apart."""
LocalFileInput: TypeAlias = BinaryIO | bytes | bytearray | memoryview | str | os.PathLike[str]
"""What ``prepare_file`` / ``prepare_image`` take: a path, bytes or a binary file object."""
ToolDefinition: TypeAlias = ToolLike
"""What ``act()`` takes as a tool: a function, a ``Tool`` or a ``ToolFunctionDef``."""

PredictionFirstTokenCallback: TypeAlias = Callable[[], Any]
"""``on_first_token``: called once, with no argument."""
PredictionFragmentCallback: TypeAlias = Callable[[PredictionFragment], Any]
"""``on_prediction_fragment``: called with each fragment."""
PredictionMessageCallback: TypeAlias = Callable[[AssistantMessageData], Any]
"""``on_message``: called with the finished assistant message."""
PromptProcessingCallback: TypeAlias = Callable[[float], Any]
"""``on_prompt_processing_progress``: called with the progress, 0 to 1."""
DownloadProgressCallback: TypeAlias = Callable[[DownloadProgressUpdate], Any]
"""``on_progress`` of a download: called with each progress update."""
DownloadFinalizedCallback: TypeAlias = Callable[[], Any]
"""``on_start_finalizing`` of a download: called once, with no argument."""


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
        """The field's value, or ``default`` when the class has no such field."""
        return getattr(self, key) if key in self.__struct_fields__ else default

    def keys(self) -> list[str]:
        """The field names, in declaration order."""
        return list(self.__struct_fields__)

    def values(self) -> list[Any]:
        """The field values, in declaration order."""
        return [getattr(self, key) for key in self.__struct_fields__]

    def items(self) -> list[tuple[str, Any]]:
        """(name, value) of each field, in declaration order."""
        return [(key, getattr(self, key)) for key in self.__struct_fields__]


class ModelSchema(Protocol):
    """A class that describes its own JSON schema (pydantic models do), for
    ``response_format=``."""

    @classmethod
    def model_json_schema(cls) -> Mapping[str, Any]:
        """The class's JSON schema."""
        ...


ResponseSchema: TypeAlias = Mapping[str, Any] | type[Any]
"""What ``response_format=`` takes: a JSON schema dict or a structured setting dict, or a class
(pydantic model, msgspec Struct, dataclass, TypedDict)."""


# -- the wire shapes as dicts (camelCase keys, as on the wire) -------------------------------------


class TextDataDict(TypedDict):
    """A text part as a wire-shaped dict."""

    type: Literal["text"]
    text: str


class FileHandleDict(TypedDict):
    """A file handle as a wire-shaped dict (camelCase keys)."""

    type: Literal["file"]
    name: str
    identifier: str
    sizeBytes: int
    fileType: FileType


class UserMessageDict(TypedDict):
    """A user message as a wire-shaped dict."""

    role: Literal["user"]
    content: Sequence[TextDataDict | FileHandleDict]


class ChatHistoryDataDict(TypedDict):
    """A chat history as a wire-shaped dict."""

    messages: Sequence[ChatMessageDict]


class _QuerySpecifierDict(TypedDict):
    type: Literal["query"]
    query: ModelQueryDict


class _InstanceReferenceSpecifierDict(TypedDict):
    type: Literal["instanceReference"]
    instanceReference: str


ModelSpecifier: TypeAlias = _WireModelSpecifier
"""How the wire names a model: a query, or a loaded instance's reference."""
ModelSpecifierDict: TypeAlias = _QuerySpecifierDict | _InstanceReferenceSpecifierDict
"""A model specifier as a wire-shaped dict (a query, or an instance reference)."""
AnyModelSpecifier: TypeAlias = str | ModelSpecifier | ModelQuery | Mapping[str, Any]
"""What names a model: a key, a ``ModelSpecifier``, a ``ModelQuery`` or a query dict."""
FileHandleInput: TypeAlias = FilePart | FileHandleDict
"""A file handle, as the struct or as a wire-shaped dict."""
