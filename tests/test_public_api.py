"""The public API of ``lmstudio_sdk``: exactly these names, each resolvable, nothing else.

Adding or removing a public name is a deliberate change: edit ``EXPORTED`` here together with
the table in ``src/lmstudio_sdk/__init__.py``.
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

import lmstudio_sdk

INIT = Path(lmstudio_sdk.__file__)

EXPORTED = [
    "AsyncChannel",
    "AsyncClient",
    "AsyncDiagnosticsNamespace",
    "AsyncDownloadOption",
    "AsyncEmbeddingModel",
    "AsyncEmbeddingNamespace",
    "AsyncFilesNamespace",
    "AsyncLLM",
    "AsyncLLMNamespace",
    "AsyncLogStream",
    "AsyncModelSearchResult",
    "AsyncPredictionStream",
    "AsyncRepositoryNamespace",
    "AsyncRuntimeNamespace",
    "AsyncSystemNamespace",
    "AuthenticationError",
    "Channel",
    "ChatHistoryData",
    "ChatMessageData",
    "ChatMessageDict",
    "Client",
    "ConfigKeyError",
    "DiagnosticsNamespace",
    "DomainMismatchError",
    "DownloadOption",
    "DownloadProgressUpdate",
    "EmbeddingLoadConfig",
    "EmbeddingLoadConfigDict",
    "EmbeddingModel",
    "EmbeddingModelInfo",
    "EmbeddingModelInstanceInfo",
    "EmbeddingNamespace",
    "EngineInfo",
    "EngineSpecifier",
    "ErrorData",
    "FilePart",
    "FilesNamespace",
    "HardwareSurvey",
    "KVConfig",
    "LLM",
    "LLMInfo",
    "LLMInstanceInfo",
    "LLMNamespace",
    "LMStudioClientClosedError",
    "LMStudioConnectionError",
    "LMStudioError",
    "LMStudioEventLoopError",
    "LMStudioProtocolError",
    "LMStudioServerError",
    "LMStudioTimeoutError",
    "LMStudioValueError",
    "LMStudioVersion",
    "LlmLoadConfig",
    "LlmLoadConfigDict",
    "LlmPredictionConfig",
    "LlmPredictionConfigDict",
    "LmLinkStatusResult",
    "LocalProtocolError",
    "LogEvent",
    "LogStream",
    "ModelNotFoundError",
    "ModelSearchResult",
    "NOT_GIVEN",
    "NotSupportedByServerError",
    "PermissionDeniedError",
    "PredictionFragment",
    "PredictionInputLog",
    "PredictionOutputLog",
    "PredictionResult",
    "PredictionStats",
    "PredictionStream",
    "PresetNotFoundError",
    "PromptProcessingProgress",
    "RemoteProtocolError",
    "RepositoryNamespace",
    "RuntimeLog",
    "RuntimeNamespace",
    "ServerInfo",
    "ServerLog",
    "ServerNotFoundError",
    "StructuredOutputError",
    "SystemNamespace",
    "ToolCallRequest",
    "UnsupportedFeatureError",
    "__version__",
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


def test_type_checking_imports_match_the_table() -> None:
    """mypy sees the TYPE_CHECKING imports, the runtime the table: they must name the same."""
    tree = ast.parse(INIT.read_text(), filename=str(INIT))
    block = next(
        node
        for node in tree.body
        if isinstance(node, ast.If)
        and isinstance(node.test, ast.Name)
        and node.test.id == "TYPE_CHECKING"
    )
    imported: dict[str, str] = {}
    for node in block.body:
        assert isinstance(node, ast.ImportFrom), ast.dump(node)
        for alias in node.names:
            assert alias.asname == alias.name, f"{alias.name} needs `as {alias.name}` (re-export)"
            imported[alias.name] = "." * node.level + (node.module or "")
    assert imported == lmstudio_sdk._PUBLIC


def test_star_import_gives_every_name() -> None:
    namespace: dict[str, object] = {}
    exec("from lmstudio_sdk import *", namespace)
    assert sorted(n for n in namespace if n != "__builtins__") == EXPORTED
