"""lmstudio_sdk: a typed sync and async client for LM Studio's WebSocket SDK API.

    import lmstudio_sdk as lms

    with lms.Client() as client:                       # finds LM Studio on this machine
        model = client.llm.model("smollm2-135m-instruct")
        for fragment in model.respond_stream("Hello!"):
            print(fragment.content, end="", flush=True)

``AsyncClient`` has the same API with ``await`` / ``async for`` / ``async with``.
"""

# The public API, declared once: name -> the module that defines it. `__all__`, `dir()` and
# the lazy loader (PEP 562) are built from this table, so `import lmstudio_sdk` stays cheap and
# a sync user never imports asyncio. tests/test_public_api.py pins the names and checks that
# the TYPE_CHECKING imports below (what mypy sees) match the table.

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_PUBLIC: dict[str, str] = {
    "AsyncClient": "._async.client",
    "AsyncDiagnosticsNamespace": "._async.namespaces",
    "AsyncLogStream": "._async.namespaces",
    "AsyncRuntimeNamespace": "._async.namespaces",
    "AsyncSystemNamespace": "._async.namespaces",
    "AsyncFilesNamespace": "._async.files",
    "AsyncEmbeddingModel": "._async.models",
    "AsyncEmbeddingNamespace": "._async.models",
    "AsyncLLM": "._async.models",
    "AsyncLLMNamespace": "._async.models",
    "AsyncDownloadOption": "._async.repository",
    "AsyncModelSearchResult": "._async.repository",
    "AsyncRepositoryNamespace": "._async.repository",
    "AsyncChannel": "._async.session",
    "AsyncPool": "._async.hosts",
    "AsyncPoolEmbeddingModel": "._async.hosts",
    "AsyncPoolLLM": "._async.hosts",
    "AsyncPoolPredictionStream": "._async.hosts",
    "HostUnavailableError": "._exceptions",
    "Pool": "._sync.hosts",
    "PoolEmbeddingModel": "._sync.hosts",
    "PoolLLM": "._sync.hosts",
    "PoolPredictionStream": "._sync.hosts",
    "AsyncSubscription": "._async.session",
    "AsyncPredictionStream": "._async.streams",
    "AuthenticationError": "._exceptions",
    "ConfigKeyError": "._exceptions",
    "DomainMismatchError": "._exceptions",
    "DeviceNotFoundError": "._exceptions",
    "ModelQuery": "._protocol.packets.shared",
    "ModelQueryDict": "._protocol.model_query",
    "ModelProcessingState": "._protocol.results",
    "EstimatedResourcesUsage": "._protocol.results",
    "EstimatedModelMemoryUsage": "._protocol.results",
    "LMStudioClientClosedError": "._exceptions",
    "McpConnectionError": "._exceptions",
    "McpError": "._exceptions",
    "McpToolError": "._exceptions",
    "MissingExtraError": "._exceptions",
    "AsyncMcpTools": "._async.mcp",
    "McpTools": "._sync.mcp",
    "LMStudioConnectionError": "._exceptions",
    "LMStudioError": "._exceptions",
    "LMStudioEventLoopError": "._exceptions",
    "LMStudioProtocolError": "._exceptions",
    "LMStudioServerError": "._exceptions",
    "LMStudioTimeoutError": "._exceptions",
    "LMStudioValueError": "._exceptions",
    "LocalProtocolError": "._exceptions",
    "ModelNotFoundError": "._exceptions",
    "PresetNotFoundError": "._exceptions",
    "RemoteProtocolError": "._exceptions",
    "ServerNotFoundError": "._exceptions",
    "StructuredOutputError": "._exceptions",
    "UnsupportedFeatureError": "._exceptions",
    "NotSupportedByServerError": "._exceptions",
    "PermissionDeniedError": "._exceptions",
    "ChatMessageDict": "._protocol.chat",
    "DocumentParser": "._protocol.documents",
    "ParsedDocument": "._protocol.documents",
    "RetrievalEntry": "._protocol.documents",
    "RetrievalProgress": "._protocol.documents",
    "ErrorData": "._protocol.errors",
    "EmbeddingLoadConfig": "._protocol.config_types",
    "EmbeddingLoadConfigDict": "._protocol.config_types",
    "LlmLoadConfig": "._protocol.config_types",
    "LlmLoadConfigDict": "._protocol.config_types",
    "LlmPredictionConfig": "._protocol.config_types",
    "LlmPredictionConfigDict": "._protocol.config_types",
    "LMStudioVersion": "._protocol.results",
    "EngineInfo": "._protocol.results",
    "EngineSpecifier": "._protocol.results",
    "HardwareSurvey": "._protocol.results",
    "LogEvent": "._protocol.results",
    "PredictionInputLog": "._protocol.results",
    "PredictionOutputLog": "._protocol.results",
    "RuntimeLog": "._protocol.results",
    "ServerInfo": "._protocol.results",
    "ServerLog": "._protocol.results",
    "JsonValue": "._protocol.partial_json",
    "PredictionResult": "._protocol.prediction",
    "PromptProcessingProgress": "._protocol.prediction",
    "ContextOverflow": "._protocol.prediction",
    "LmLinkStatusResult": "._protocol.packets.repository",
    "ChatHistoryData": "._protocol.packets.shared",
    "DownloadProgressUpdate": "._protocol.packets.shared",
    "ChatMessageData": "._protocol.packets.shared",
    "EmbeddingModelInfo": "._protocol.packets.shared",
    "EmbeddingModelInstanceInfo": "._protocol.packets.shared",
    "FilePart": "._protocol.packets.shared",
    "FragmentToken": "._protocol.packets.shared",
    "TokenCandidate": "._protocol.packets.shared",
    "KVConfig": "._protocol.packets.shared",
    "LLMInfo": "._protocol.packets.shared",
    "LLMInstanceInfo": "._protocol.packets.shared",
    "PredictionFragment": "._protocol.packets.shared",
    "PredictionStats": "._protocol.packets.shared",
    "ToolCallRequest": "._protocol.packets.shared",
    "Client": "._sync.client",
    "DiagnosticsNamespace": "._sync.namespaces",
    "LogStream": "._sync.namespaces",
    "RuntimeNamespace": "._sync.namespaces",
    "SystemNamespace": "._sync.namespaces",
    "FilesNamespace": "._sync.files",
    "EmbeddingModel": "._sync.models",
    "EmbeddingNamespace": "._sync.models",
    "LLM": "._sync.models",
    "LLMNamespace": "._sync.models",
    "DownloadOption": "._sync.repository",
    "ModelSearchResult": "._sync.repository",
    "RepositoryNamespace": "._sync.repository",
    "Channel": "._sync.session",
    "Subscription": "._sync.session",
    "PredictionStream": "._sync.streams",
    "AsyncGeneratorHandle": "._async.plugins",
    "AsyncGeneratorStream": "._async.plugins",
    "AsyncPluginsNamespace": "._async.plugins",
    "GeneratorHandle": "._sync.plugins",
    "GeneratorStream": "._sync.plugins",
    "PluginsNamespace": "._sync.plugins",
    "GeneratorResult": "._protocol.generator",
    "plugins_field": "._async.plugins",
    "AsyncPluginToolsSession": "._async.plugins",
    "PluginToolsSession": "._sync.plugins",
    "Chat": "._protocol.chat",
    "ActResult": "._protocol.act",
    "GeneratorActResult": "._protocol.act",
    "GuardDecision": "._protocol.act",
    "ToolCallOutcome": "._protocol.act",
    "Tool": "._protocol.tools",
    "ToolFunctionDef": "._protocol.tools",
    "ToolFunctionDefDict": "._protocol.tools",
    "tool": "._protocol.tools",
    "tool_from_schema": "._protocol.tools",
    "ToolCallError": "._exceptions",
    "ToolArgumentsError": "._exceptions",
    "InvalidToolRequestError": "._exceptions",
    "ToolCallFailedError": "._exceptions",
    "PredictionEvent": "._protocol.prediction",
    "ToolCallGenerationStarted": "._protocol.prediction",
    "ToolCallNameReceived": "._protocol.prediction",
    "ToolCallArgumentFragment": "._protocol.prediction",
    "ToolCallGenerationEnded": "._protocol.prediction",
    "ToolCallGenerationFailed": "._protocol.prediction",
    "ToolCallResultPart": "._protocol.packets.shared",
    # the official Python SDK's names (docs/migration.md)
    "AnyChatMessage": "._official_names",
    "AnyChatMessageDict": "._official_names",
    "AnyLoadConfig": "._official_names",
    "AnyModelSpecifier": "._official_names",
    "AssistantResponse": "._official_names",
    "AssistantResponseContent": "._official_names",
    "BaseModel": "._official_names",
    "ChatHistoryDataDict": "._official_names",
    "DictObject": "._official_names",
    "DictSchema": "._official_names",
    "DownloadFinalizedCallback": "._official_names",
    "DownloadProgressCallback": "._official_names",
    "EmbeddingLoadModelConfig": "._official_names",
    "EmbeddingLoadModelConfigDict": "._official_names",
    "FileHandle": "._official_names",
    "FileHandleDict": "._official_names",
    "FileHandleInput": "._official_names",
    "FileType": "._official_names",
    "LlmInfo": "._official_names",
    "LlmInstanceInfo": "._official_names",
    "LlmLoadModelConfig": "._official_names",
    "LlmLoadModelConfigDict": "._official_names",
    "LlmPredictionFragment": "._official_names",
    "LlmPredictionStats": "._official_names",
    "LocalFileInput": "._official_names",
    "ModelInfo": "._official_names",
    "ModelInstanceInfo": "._official_names",
    "ModelSchema": "._official_names",
    "ModelSpecifier": "._official_names",
    "ModelSpecifierDict": "._official_names",
    "PredictionFirstTokenCallback": "._official_names",
    "PredictionFragmentCallback": "._official_names",
    "PredictionMessageCallback": "._official_names",
    "PredictionRoundResult": "._official_names",
    "PromptProcessingCallback": "._official_names",
    "ResponseSchema": "._official_names",
    "SerializedLMSExtendedError": "._official_names",
    "SystemPrompt": "._official_names",
    "SystemPromptContent": "._official_names",
    "TextData": "._official_names",
    "TextDataDict": "._official_names",
    "ToolCallResultData": "._official_names",
    "ToolDefinition": "._official_names",
    "ToolResultMessage": "._official_names",
    "UserMessage": "._official_names",
    "UserMessageContent": "._official_names",
    "UserMessageDict": "._official_names",
    "ValidationError": "._official_names",
    "AnyDownloadedModel": "._default_client",
    "SyncModelHandle": "._default_client",
    "configure_default_client": "._default_client",
    "embedding_model": "._default_client",
    "get_default_client": "._default_client",
    "get_sync_api_timeout": "._default_client",
    "list_downloaded_models": "._default_client",
    "list_loaded_models": "._default_client",
    "llm": "._default_client",
    "prepare_image": "._default_client",
    "reset_default_client": "._default_client",
    "set_default_client": "._default_client",
    "set_sync_api_timeout": "._default_client",
    "LMStudioCancelledError": "._exceptions",
    "LMStudioChannelClosedError": "._exceptions",
    "LMStudioClientError": "._exceptions",
    "LMStudioModelNotFoundError": "._exceptions",
    "LMStudioOSError": "._exceptions",
    "LMStudioPredictionError": "._exceptions",
    "LMStudioPresetNotFoundError": "._exceptions",
    "LMStudioRuntimeError": "._exceptions",
    "LMStudioUnknownMessageWarning": "._exceptions",
    "LMStudioWebsocketError": "._exceptions",
    "AnyAsyncDownloadedModel": "._async.models",
    "AsyncDownloadedLlm": "._async.downloaded",
    "AsyncDownloadedEmbeddingModel": "._async.downloaded",
    "DownloadedLlm": "._sync.downloaded",
    "DownloadedEmbeddingModel": "._sync.downloaded",
    "NOT_GIVEN": "._types",
    "__version__": "._version",
}

__all__ = sorted(_PUBLIC)

if TYPE_CHECKING:  # what mypy sees: `X as X` re-exports each name (the table is not static)
    from ._async.client import AsyncClient as AsyncClient
    from ._async.downloaded import AsyncDownloadedEmbeddingModel as AsyncDownloadedEmbeddingModel
    from ._async.downloaded import AsyncDownloadedLlm as AsyncDownloadedLlm
    from ._async.files import AsyncFilesNamespace as AsyncFilesNamespace
    from ._async.hosts import AsyncPool as AsyncPool
    from ._async.hosts import AsyncPoolEmbeddingModel as AsyncPoolEmbeddingModel
    from ._async.hosts import AsyncPoolLLM as AsyncPoolLLM
    from ._async.hosts import AsyncPoolPredictionStream as AsyncPoolPredictionStream
    from ._async.mcp import AsyncMcpTools as AsyncMcpTools
    from ._async.models import AnyAsyncDownloadedModel as AnyAsyncDownloadedModel
    from ._async.models import AsyncEmbeddingModel as AsyncEmbeddingModel
    from ._async.models import AsyncEmbeddingNamespace as AsyncEmbeddingNamespace
    from ._async.models import AsyncLLM as AsyncLLM
    from ._async.models import AsyncLLMNamespace as AsyncLLMNamespace
    from ._async.namespaces import AsyncDiagnosticsNamespace as AsyncDiagnosticsNamespace
    from ._async.namespaces import AsyncLogStream as AsyncLogStream
    from ._async.namespaces import AsyncRuntimeNamespace as AsyncRuntimeNamespace
    from ._async.namespaces import AsyncSystemNamespace as AsyncSystemNamespace
    from ._async.plugins import AsyncGeneratorHandle as AsyncGeneratorHandle
    from ._async.plugins import AsyncGeneratorStream as AsyncGeneratorStream
    from ._async.plugins import AsyncPluginsNamespace as AsyncPluginsNamespace
    from ._async.plugins import AsyncPluginToolsSession as AsyncPluginToolsSession
    from ._async.plugins import plugins_field as plugins_field
    from ._async.repository import AsyncDownloadOption as AsyncDownloadOption
    from ._async.repository import AsyncModelSearchResult as AsyncModelSearchResult
    from ._async.repository import AsyncRepositoryNamespace as AsyncRepositoryNamespace
    from ._async.session import AsyncChannel as AsyncChannel
    from ._async.session import AsyncSubscription as AsyncSubscription
    from ._async.streams import AsyncPredictionStream as AsyncPredictionStream
    from ._default_client import AnyDownloadedModel as AnyDownloadedModel
    from ._default_client import SyncModelHandle as SyncModelHandle
    from ._default_client import configure_default_client as configure_default_client
    from ._default_client import embedding_model as embedding_model
    from ._default_client import get_default_client as get_default_client
    from ._default_client import get_sync_api_timeout as get_sync_api_timeout
    from ._default_client import list_downloaded_models as list_downloaded_models
    from ._default_client import list_loaded_models as list_loaded_models
    from ._default_client import llm as llm
    from ._default_client import prepare_image as prepare_image
    from ._default_client import reset_default_client as reset_default_client
    from ._default_client import set_default_client as set_default_client
    from ._default_client import set_sync_api_timeout as set_sync_api_timeout
    from ._exceptions import AuthenticationError as AuthenticationError
    from ._exceptions import ConfigKeyError as ConfigKeyError
    from ._exceptions import DeviceNotFoundError as DeviceNotFoundError
    from ._exceptions import DomainMismatchError as DomainMismatchError
    from ._exceptions import HostUnavailableError as HostUnavailableError
    from ._exceptions import InvalidToolRequestError as InvalidToolRequestError
    from ._exceptions import LMStudioCancelledError as LMStudioCancelledError
    from ._exceptions import LMStudioChannelClosedError as LMStudioChannelClosedError
    from ._exceptions import LMStudioClientClosedError as LMStudioClientClosedError
    from ._exceptions import LMStudioClientError as LMStudioClientError
    from ._exceptions import LMStudioConnectionError as LMStudioConnectionError
    from ._exceptions import LMStudioError as LMStudioError
    from ._exceptions import LMStudioEventLoopError as LMStudioEventLoopError
    from ._exceptions import LMStudioModelNotFoundError as LMStudioModelNotFoundError
    from ._exceptions import LMStudioOSError as LMStudioOSError
    from ._exceptions import LMStudioPredictionError as LMStudioPredictionError
    from ._exceptions import LMStudioPresetNotFoundError as LMStudioPresetNotFoundError
    from ._exceptions import LMStudioProtocolError as LMStudioProtocolError
    from ._exceptions import LMStudioRuntimeError as LMStudioRuntimeError
    from ._exceptions import LMStudioServerError as LMStudioServerError
    from ._exceptions import LMStudioTimeoutError as LMStudioTimeoutError
    from ._exceptions import LMStudioUnknownMessageWarning as LMStudioUnknownMessageWarning
    from ._exceptions import LMStudioValueError as LMStudioValueError
    from ._exceptions import LMStudioWebsocketError as LMStudioWebsocketError
    from ._exceptions import LocalProtocolError as LocalProtocolError
    from ._exceptions import McpConnectionError as McpConnectionError
    from ._exceptions import McpError as McpError
    from ._exceptions import McpToolError as McpToolError
    from ._exceptions import MissingExtraError as MissingExtraError
    from ._exceptions import ModelNotFoundError as ModelNotFoundError
    from ._exceptions import NotSupportedByServerError as NotSupportedByServerError
    from ._exceptions import PermissionDeniedError as PermissionDeniedError
    from ._exceptions import PresetNotFoundError as PresetNotFoundError
    from ._exceptions import RemoteProtocolError as RemoteProtocolError
    from ._exceptions import ServerNotFoundError as ServerNotFoundError
    from ._exceptions import StructuredOutputError as StructuredOutputError
    from ._exceptions import ToolArgumentsError as ToolArgumentsError
    from ._exceptions import ToolCallError as ToolCallError
    from ._exceptions import ToolCallFailedError as ToolCallFailedError
    from ._exceptions import UnsupportedFeatureError as UnsupportedFeatureError
    from ._official_names import AnyChatMessage as AnyChatMessage
    from ._official_names import AnyChatMessageDict as AnyChatMessageDict
    from ._official_names import AnyLoadConfig as AnyLoadConfig
    from ._official_names import AnyModelSpecifier as AnyModelSpecifier
    from ._official_names import AssistantResponse as AssistantResponse
    from ._official_names import AssistantResponseContent as AssistantResponseContent
    from ._official_names import BaseModel as BaseModel
    from ._official_names import ChatHistoryDataDict as ChatHistoryDataDict
    from ._official_names import DictObject as DictObject
    from ._official_names import DictSchema as DictSchema
    from ._official_names import DownloadFinalizedCallback as DownloadFinalizedCallback
    from ._official_names import DownloadProgressCallback as DownloadProgressCallback
    from ._official_names import EmbeddingLoadModelConfig as EmbeddingLoadModelConfig
    from ._official_names import EmbeddingLoadModelConfigDict as EmbeddingLoadModelConfigDict
    from ._official_names import FileHandle as FileHandle
    from ._official_names import FileHandleDict as FileHandleDict
    from ._official_names import FileHandleInput as FileHandleInput
    from ._official_names import FileType as FileType
    from ._official_names import LlmInfo as LlmInfo
    from ._official_names import LlmInstanceInfo as LlmInstanceInfo
    from ._official_names import LlmLoadModelConfig as LlmLoadModelConfig
    from ._official_names import LlmLoadModelConfigDict as LlmLoadModelConfigDict
    from ._official_names import LlmPredictionFragment as LlmPredictionFragment
    from ._official_names import LlmPredictionStats as LlmPredictionStats
    from ._official_names import LocalFileInput as LocalFileInput
    from ._official_names import ModelInfo as ModelInfo
    from ._official_names import ModelInstanceInfo as ModelInstanceInfo
    from ._official_names import ModelSchema as ModelSchema
    from ._official_names import ModelSpecifier as ModelSpecifier
    from ._official_names import ModelSpecifierDict as ModelSpecifierDict
    from ._official_names import PredictionFirstTokenCallback as PredictionFirstTokenCallback
    from ._official_names import PredictionFragmentCallback as PredictionFragmentCallback
    from ._official_names import PredictionMessageCallback as PredictionMessageCallback
    from ._official_names import PredictionRoundResult as PredictionRoundResult
    from ._official_names import PromptProcessingCallback as PromptProcessingCallback
    from ._official_names import ResponseSchema as ResponseSchema
    from ._official_names import SerializedLMSExtendedError as SerializedLMSExtendedError
    from ._official_names import SystemPrompt as SystemPrompt
    from ._official_names import SystemPromptContent as SystemPromptContent
    from ._official_names import TextData as TextData
    from ._official_names import TextDataDict as TextDataDict
    from ._official_names import ToolCallResultData as ToolCallResultData
    from ._official_names import ToolDefinition as ToolDefinition
    from ._official_names import ToolResultMessage as ToolResultMessage
    from ._official_names import UserMessage as UserMessage
    from ._official_names import UserMessageContent as UserMessageContent
    from ._official_names import UserMessageDict as UserMessageDict
    from ._official_names import ValidationError as ValidationError
    from ._protocol.act import ActResult as ActResult
    from ._protocol.act import GeneratorActResult as GeneratorActResult
    from ._protocol.act import GuardDecision as GuardDecision
    from ._protocol.act import ToolCallOutcome as ToolCallOutcome
    from ._protocol.chat import Chat as Chat
    from ._protocol.chat import ChatMessageDict as ChatMessageDict
    from ._protocol.config_types import EmbeddingLoadConfig as EmbeddingLoadConfig
    from ._protocol.config_types import EmbeddingLoadConfigDict as EmbeddingLoadConfigDict
    from ._protocol.config_types import LlmLoadConfig as LlmLoadConfig
    from ._protocol.config_types import LlmLoadConfigDict as LlmLoadConfigDict
    from ._protocol.config_types import LlmPredictionConfig as LlmPredictionConfig
    from ._protocol.config_types import LlmPredictionConfigDict as LlmPredictionConfigDict
    from ._protocol.documents import DocumentParser as DocumentParser
    from ._protocol.documents import ParsedDocument as ParsedDocument
    from ._protocol.documents import RetrievalEntry as RetrievalEntry
    from ._protocol.documents import RetrievalProgress as RetrievalProgress
    from ._protocol.errors import ErrorData as ErrorData
    from ._protocol.generator import GeneratorResult as GeneratorResult
    from ._protocol.model_query import ModelQueryDict as ModelQueryDict
    from ._protocol.packets.repository import LmLinkStatusResult as LmLinkStatusResult
    from ._protocol.packets.shared import ChatHistoryData as ChatHistoryData
    from ._protocol.packets.shared import ChatMessageData as ChatMessageData
    from ._protocol.packets.shared import DownloadProgressUpdate as DownloadProgressUpdate
    from ._protocol.packets.shared import EmbeddingModelInfo as EmbeddingModelInfo
    from ._protocol.packets.shared import EmbeddingModelInstanceInfo as EmbeddingModelInstanceInfo
    from ._protocol.packets.shared import FilePart as FilePart
    from ._protocol.packets.shared import FragmentToken as FragmentToken
    from ._protocol.packets.shared import KVConfig as KVConfig
    from ._protocol.packets.shared import LLMInfo as LLMInfo
    from ._protocol.packets.shared import LLMInstanceInfo as LLMInstanceInfo
    from ._protocol.packets.shared import ModelQuery as ModelQuery
    from ._protocol.packets.shared import PredictionFragment as PredictionFragment
    from ._protocol.packets.shared import PredictionStats as PredictionStats
    from ._protocol.packets.shared import TokenCandidate as TokenCandidate
    from ._protocol.packets.shared import ToolCallRequest as ToolCallRequest
    from ._protocol.packets.shared import ToolCallResultPart as ToolCallResultPart
    from ._protocol.partial_json import JsonValue as JsonValue
    from ._protocol.prediction import ContextOverflow as ContextOverflow
    from ._protocol.prediction import PredictionEvent as PredictionEvent
    from ._protocol.prediction import PredictionResult as PredictionResult
    from ._protocol.prediction import PromptProcessingProgress as PromptProcessingProgress
    from ._protocol.prediction import ToolCallArgumentFragment as ToolCallArgumentFragment
    from ._protocol.prediction import ToolCallGenerationEnded as ToolCallGenerationEnded
    from ._protocol.prediction import ToolCallGenerationFailed as ToolCallGenerationFailed
    from ._protocol.prediction import ToolCallGenerationStarted as ToolCallGenerationStarted
    from ._protocol.prediction import ToolCallNameReceived as ToolCallNameReceived
    from ._protocol.results import EngineInfo as EngineInfo
    from ._protocol.results import EngineSpecifier as EngineSpecifier
    from ._protocol.results import EstimatedModelMemoryUsage as EstimatedModelMemoryUsage
    from ._protocol.results import EstimatedResourcesUsage as EstimatedResourcesUsage
    from ._protocol.results import HardwareSurvey as HardwareSurvey
    from ._protocol.results import LMStudioVersion as LMStudioVersion
    from ._protocol.results import LogEvent as LogEvent
    from ._protocol.results import ModelProcessingState as ModelProcessingState
    from ._protocol.results import PredictionInputLog as PredictionInputLog
    from ._protocol.results import PredictionOutputLog as PredictionOutputLog
    from ._protocol.results import RuntimeLog as RuntimeLog
    from ._protocol.results import ServerInfo as ServerInfo
    from ._protocol.results import ServerLog as ServerLog
    from ._protocol.tools import Tool as Tool
    from ._protocol.tools import ToolFunctionDef as ToolFunctionDef
    from ._protocol.tools import ToolFunctionDefDict as ToolFunctionDefDict
    from ._protocol.tools import tool as tool
    from ._protocol.tools import tool_from_schema as tool_from_schema
    from ._sync.client import Client as Client
    from ._sync.downloaded import DownloadedEmbeddingModel as DownloadedEmbeddingModel
    from ._sync.downloaded import DownloadedLlm as DownloadedLlm
    from ._sync.files import FilesNamespace as FilesNamespace
    from ._sync.hosts import Pool as Pool
    from ._sync.hosts import PoolEmbeddingModel as PoolEmbeddingModel
    from ._sync.hosts import PoolLLM as PoolLLM
    from ._sync.hosts import PoolPredictionStream as PoolPredictionStream
    from ._sync.mcp import McpTools as McpTools
    from ._sync.models import LLM as LLM
    from ._sync.models import EmbeddingModel as EmbeddingModel
    from ._sync.models import EmbeddingNamespace as EmbeddingNamespace
    from ._sync.models import LLMNamespace as LLMNamespace
    from ._sync.namespaces import DiagnosticsNamespace as DiagnosticsNamespace
    from ._sync.namespaces import LogStream as LogStream
    from ._sync.namespaces import RuntimeNamespace as RuntimeNamespace
    from ._sync.namespaces import SystemNamespace as SystemNamespace
    from ._sync.plugins import GeneratorHandle as GeneratorHandle
    from ._sync.plugins import GeneratorStream as GeneratorStream
    from ._sync.plugins import PluginsNamespace as PluginsNamespace
    from ._sync.plugins import PluginToolsSession as PluginToolsSession
    from ._sync.repository import DownloadOption as DownloadOption
    from ._sync.repository import ModelSearchResult as ModelSearchResult
    from ._sync.repository import RepositoryNamespace as RepositoryNamespace
    from ._sync.session import Channel as Channel
    from ._sync.session import Subscription as Subscription
    from ._sync.streams import PredictionStream as PredictionStream
    from ._types import NOT_GIVEN as NOT_GIVEN
    from ._version import __version__ as __version__


def __getattr__(name: str) -> Any:
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module 'lmstudio_sdk' has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return list(__all__)
