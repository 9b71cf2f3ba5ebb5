"""The public API of ``lmstudio_sdk``: exactly these names, each resolvable, nothing else.

Adding or removing a public name is a deliberate change: edit ``EXPORTED`` here together with
the table in ``src/lmstudio_sdk/__init__.py``.
"""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

import lmstudio_sdk

INIT = Path(lmstudio_sdk.__file__)

EXPORTED = [
    "ActResult",
    "AnyAsyncDownloadedModel",
    "AnyChatMessage",
    "AnyChatMessageDict",
    "AnyDownloadedModel",
    "AnyLoadConfig",
    "AnyModelSpecifier",
    "AssistantResponse",
    "AssistantResponseContent",
    "AsyncChannel",
    "AsyncClient",
    "AsyncDiagnosticsNamespace",
    "AsyncDownloadOption",
    "AsyncDownloadedEmbeddingModel",
    "AsyncDownloadedLlm",
    "AsyncEmbeddingModel",
    "AsyncEmbeddingNamespace",
    "AsyncFilesNamespace",
    "AsyncGeneratorHandle",
    "AsyncGeneratorStream",
    "AsyncLLM",
    "AsyncLLMNamespace",
    "AsyncLogStream",
    "AsyncMcpTools",
    "AsyncModelSearchResult",
    "AsyncPluginToolsSession",
    "AsyncPluginsNamespace",
    "AsyncPool",
    "AsyncPoolEmbeddingModel",
    "AsyncPoolLLM",
    "AsyncPoolPredictionStream",
    "AsyncPredictionStream",
    "AsyncRepositoryNamespace",
    "AsyncRuntimeNamespace",
    "AsyncSubscription",
    "AsyncSystemNamespace",
    "AuthenticationError",
    "BaseModel",
    "Channel",
    "Chat",
    "ChatHistoryData",
    "ChatHistoryDataDict",
    "ChatMessageData",
    "ChatMessageDict",
    "Client",
    "ConfigKeyError",
    "ContextOverflow",
    "DeviceNotFoundError",
    "DiagnosticsNamespace",
    "DictObject",
    "DictSchema",
    "DocumentParser",
    "DomainMismatchError",
    "DownloadFinalizedCallback",
    "DownloadOption",
    "DownloadProgressCallback",
    "DownloadProgressUpdate",
    "DownloadedEmbeddingModel",
    "DownloadedLlm",
    "EmbeddingLoadConfig",
    "EmbeddingLoadConfigDict",
    "EmbeddingLoadModelConfig",
    "EmbeddingLoadModelConfigDict",
    "EmbeddingModel",
    "EmbeddingModelInfo",
    "EmbeddingModelInstanceInfo",
    "EmbeddingNamespace",
    "EngineInfo",
    "EngineSpecifier",
    "ErrorData",
    "EstimatedModelMemoryUsage",
    "EstimatedResourcesUsage",
    "FileHandle",
    "FileHandleDict",
    "FileHandleInput",
    "FilePart",
    "FileType",
    "FilesNamespace",
    "FragmentToken",
    "GeneratorActResult",
    "GeneratorHandle",
    "GeneratorResult",
    "GeneratorStream",
    "GuardDecision",
    "HardwareSurvey",
    "HostUnavailableError",
    "InvalidToolRequestError",
    "JsonValue",
    "KVConfig",
    "LLM",
    "LLMInfo",
    "LLMInstanceInfo",
    "LLMNamespace",
    "LMStudioCancelledError",
    "LMStudioChannelClosedError",
    "LMStudioClientClosedError",
    "LMStudioClientError",
    "LMStudioConnectionError",
    "LMStudioError",
    "LMStudioEventLoopError",
    "LMStudioModelNotFoundError",
    "LMStudioOSError",
    "LMStudioPredictionError",
    "LMStudioPresetNotFoundError",
    "LMStudioProtocolError",
    "LMStudioRuntimeError",
    "LMStudioServerError",
    "LMStudioTimeoutError",
    "LMStudioUnknownMessageWarning",
    "LMStudioValueError",
    "LMStudioVersion",
    "LMStudioWebsocketError",
    "LlmInfo",
    "LlmInstanceInfo",
    "LlmLoadConfig",
    "LlmLoadConfigDict",
    "LlmLoadModelConfig",
    "LlmLoadModelConfigDict",
    "LlmPredictionConfig",
    "LlmPredictionConfigDict",
    "LlmPredictionFragment",
    "LlmPredictionStats",
    "LmLinkStatusResult",
    "LocalFileInput",
    "LocalProtocolError",
    "LogEvent",
    "LogStream",
    "McpConnectionError",
    "McpError",
    "McpToolError",
    "McpTools",
    "MissingExtraError",
    "ModelInfo",
    "ModelInstanceInfo",
    "ModelNotFoundError",
    "ModelProcessingState",
    "ModelQuery",
    "ModelQueryDict",
    "ModelSchema",
    "ModelSearchResult",
    "ModelSpecifier",
    "ModelSpecifierDict",
    "NOT_GIVEN",
    "NotSupportedByServerError",
    "ParsedDocument",
    "PermissionDeniedError",
    "PluginToolsSession",
    "PluginsNamespace",
    "Pool",
    "PoolEmbeddingModel",
    "PoolLLM",
    "PoolPredictionStream",
    "PredictionEvent",
    "PredictionFirstTokenCallback",
    "PredictionFragment",
    "PredictionFragmentCallback",
    "PredictionInputLog",
    "PredictionMessageCallback",
    "PredictionOutputLog",
    "PredictionResult",
    "PredictionRoundResult",
    "PredictionStats",
    "PredictionStream",
    "PresetNotFoundError",
    "PromptProcessingCallback",
    "PromptProcessingProgress",
    "RemoteProtocolError",
    "RepositoryNamespace",
    "ResponseSchema",
    "RetrievalEntry",
    "RetrievalProgress",
    "RuntimeLog",
    "RuntimeNamespace",
    "SerializedLMSExtendedError",
    "ServerInfo",
    "ServerLog",
    "ServerNotFoundError",
    "StructuredOutputError",
    "Subscription",
    "SyncModelHandle",
    "SystemNamespace",
    "SystemPrompt",
    "SystemPromptContent",
    "TextData",
    "TextDataDict",
    "TokenCandidate",
    "Tool",
    "ToolArgumentsError",
    "ToolCallArgumentFragment",
    "ToolCallError",
    "ToolCallFailedError",
    "ToolCallGenerationEnded",
    "ToolCallGenerationFailed",
    "ToolCallGenerationStarted",
    "ToolCallNameReceived",
    "ToolCallOutcome",
    "ToolCallRequest",
    "ToolCallResultData",
    "ToolCallResultPart",
    "ToolDefinition",
    "ToolFunctionDef",
    "ToolFunctionDefDict",
    "ToolResultMessage",
    "UnsupportedFeatureError",
    "UserMessage",
    "UserMessageContent",
    "UserMessageDict",
    "ValidationError",
    "__version__",
    "configure_default_client",
    "embedding_model",
    "get_default_client",
    "get_sync_api_timeout",
    "list_downloaded_models",
    "list_loaded_models",
    "llm",
    "plugins_field",
    "prepare_image",
    "reset_default_client",
    "set_default_client",
    "set_sync_api_timeout",
    "tool",
    "tool_from_schema",
]


def test_the_exported_names_are_exactly_these() -> None:
    assert lmstudio_sdk.__all__ == EXPORTED
    assert sorted(EXPORTED) == EXPORTED


@pytest.mark.parametrize("name", EXPORTED)
def test_every_name_resolves_to_its_defining_module(name: str) -> None:
    module = importlib.import_module(lmstudio_sdk._PUBLIC[name], "lmstudio_sdk")
    assert getattr(lmstudio_sdk, name) is getattr(module, name)


def test_dir_lists_the_public_names() -> None:
    assert dir(lmstudio_sdk) == EXPORTED


def test_an_unknown_attribute_raises_attribute_error() -> None:
    with pytest.raises(AttributeError, match="has no attribute 'Clinet'"):
        lmstudio_sdk.Clinet  # noqa: B018
    with pytest.raises(ImportError):
        from lmstudio_sdk import kv_config  # noqa: F401


# Read in a fresh interpreter: CPython 3.11.7 (the CI's) can fail ast.parse with "SystemError:
# AST constructor recursion depth mismatch" once enough other tests have run in the process
# (a bug in the AST constructor's recursion bookkeeping, not in our code: the same parse passes
# alone); the names are what this test is about, not the parser.
_TYPE_CHECKING_IMPORTS = """
import ast, json, sys
tree = ast.parse(open(sys.argv[1]).read(), filename=sys.argv[1])
block = next(
    node for node in tree.body
    if isinstance(node, ast.If)
    and isinstance(node.test, ast.Name)
    and node.test.id == "TYPE_CHECKING"
)
imports = []
for node in block.body:
    if not isinstance(node, ast.ImportFrom):
        imports.append(["<not an import>", ast.dump(node), ""])
        continue
    for alias in node.names:
        imports.append([alias.name, alias.asname, "." * node.level + (node.module or "")])
print(json.dumps(imports))
"""


def test_type_checking_imports_match_the_table() -> None:
    """mypy sees the TYPE_CHECKING imports, the runtime the table: they must name the same."""
    found = subprocess.run(
        [sys.executable, "-c", _TYPE_CHECKING_IMPORTS, str(INIT)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    imported: dict[str, str] = {}
    for name, asname, module in json.loads(found.stdout):
        assert name != "<not an import>", asname
        assert asname == name, f"{name} needs `as {name}` (re-export)"
        imported[name] = module
    assert imported == lmstudio_sdk._PUBLIC


def test_star_import_gives_every_name() -> None:
    namespace: dict[str, object] = {}
    exec("from lmstudio_sdk import *", namespace)
    assert sorted(n for n in namespace if n != "__builtins__") == EXPORTED
