"""lmstudio_sdk: a typed sync and async client for LM Studio's WebSocket SDK API.

    import lmstudio_sdk as lms

    with lms.Client() as client:                       # finds LM Studio on this machine
        model = client.llm.model("smollm2-135m-instruct")
        for fragment in model.respond_stream("Hello!"):
            print(fragment.content, end="", flush=True)

``AsyncClient`` has the same API with ``await`` / ``async for`` / ``async with``.
"""

# The faces and types load on first use (PEP 562): `import lmstudio_sdk` stays cheap, and a
# sync user never imports asyncio.

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._exceptions import (
    AuthenticationError,
    ConfigKeyError,
    DomainMismatchError,
    LMStudioConnectionError,
    LMStudioError,
    LMStudioProtocolError,
    LMStudioServerError,
    LMStudioTimeoutError,
    LMStudioValueError,
    LocalProtocolError,
    ModelNotFoundError,
    PresetNotFoundError,
    RemoteProtocolError,
    ServerNotFoundError,
    UnsupportedFeatureError,
)
from ._types import (
    NOT_GIVEN,
)
from ._version import (
    __version__,
)

if TYPE_CHECKING:
    from ._async.client import (
        AsyncClient,
        AsyncSystemNamespace,
    )
    from ._async.files import (
        AsyncFilesNamespace,
    )
    from ._async.models import (
        AsyncEmbeddingModel,
        AsyncEmbeddingNamespace,
        AsyncLLM,
        AsyncLLMNamespace,
    )
    from ._async.session import (
        AsyncChannel,
    )
    from ._async.streams import (
        AsyncPredictionStream,
    )
    from ._protocol.chat import (
        ChatMessageDict,
    )
    from ._protocol.errors import (
        ErrorData,
    )
    from ._protocol.kv_config import (
        EmbeddingLoadConfig,
        EmbeddingLoadConfigDict,
        LlmLoadConfig,
        LlmLoadConfigDict,
        LlmPredictionConfig,
        LlmPredictionConfigDict,
    )
    from ._protocol.params import (
        LMStudioVersion,
    )
    from ._protocol.prediction import (
        PredictionResult,
        PromptProcessingProgress,
    )
    from ._protocol.schema import (
        ChatHistoryData,
        ChatMessageData,
        EmbeddingModelInfo,
        EmbeddingModelInstanceInfo,
        FilePart,
        KVConfig,
        LLMInfo,
        LLMInstanceInfo,
        PredictionFragment,
        PredictionStats,
        ToolCallRequest,
    )
    from ._sync.client import (
        Client,
        SystemNamespace,
    )
    from ._sync.files import (
        FilesNamespace,
    )
    from ._sync.models import (
        LLM,
        EmbeddingModel,
        EmbeddingNamespace,
        LLMNamespace,
    )
    from ._sync.session import (
        Channel,
    )
    from ._sync.streams import (
        PredictionStream,
    )

_LAZY: dict[str, str] = {
    "AsyncClient": "._async.client",
    "AsyncSystemNamespace": "._async.client",
    "AsyncFilesNamespace": "._async.files",
    "AsyncEmbeddingModel": "._async.models",
    "AsyncEmbeddingNamespace": "._async.models",
    "AsyncLLM": "._async.models",
    "AsyncLLMNamespace": "._async.models",
    "AsyncChannel": "._async.session",
    "AsyncPredictionStream": "._async.streams",
    "ChatMessageDict": "._protocol.chat",
    "ErrorData": "._protocol.errors",
    "EmbeddingLoadConfig": "._protocol.kv_config",
    "EmbeddingLoadConfigDict": "._protocol.kv_config",
    "LlmLoadConfig": "._protocol.kv_config",
    "LlmLoadConfigDict": "._protocol.kv_config",
    "LlmPredictionConfig": "._protocol.kv_config",
    "LlmPredictionConfigDict": "._protocol.kv_config",
    "LMStudioVersion": "._protocol.params",
    "PredictionResult": "._protocol.prediction",
    "PromptProcessingProgress": "._protocol.prediction",
    "ChatHistoryData": "._protocol.schema",
    "ChatMessageData": "._protocol.schema",
    "EmbeddingModelInfo": "._protocol.schema",
    "EmbeddingModelInstanceInfo": "._protocol.schema",
    "FilePart": "._protocol.schema",
    "KVConfig": "._protocol.schema",
    "LLMInfo": "._protocol.schema",
    "LLMInstanceInfo": "._protocol.schema",
    "PredictionFragment": "._protocol.schema",
    "PredictionStats": "._protocol.schema",
    "ToolCallRequest": "._protocol.schema",
    "Client": "._sync.client",
    "SystemNamespace": "._sync.client",
    "FilesNamespace": "._sync.files",
    "LLM": "._sync.models",
    "EmbeddingModel": "._sync.models",
    "EmbeddingNamespace": "._sync.models",
    "LLMNamespace": "._sync.models",
    "Channel": "._sync.session",
    "PredictionStream": "._sync.streams",
}

__all__ = [
    "LLM",
    "NOT_GIVEN",
    "AsyncChannel",
    "AsyncClient",
    "AsyncEmbeddingModel",
    "AsyncEmbeddingNamespace",
    "AsyncFilesNamespace",
    "AsyncLLM",
    "AsyncLLMNamespace",
    "AsyncPredictionStream",
    "AsyncSystemNamespace",
    "AuthenticationError",
    "Channel",
    "ChatHistoryData",
    "ChatMessageData",
    "ChatMessageDict",
    "Client",
    "ConfigKeyError",
    "DomainMismatchError",
    "EmbeddingLoadConfig",
    "EmbeddingLoadConfigDict",
    "EmbeddingModel",
    "EmbeddingModelInfo",
    "EmbeddingModelInstanceInfo",
    "EmbeddingNamespace",
    "ErrorData",
    "FilePart",
    "FilesNamespace",
    "KVConfig",
    "LLMInfo",
    "LLMInstanceInfo",
    "LLMNamespace",
    "LMStudioConnectionError",
    "LMStudioError",
    "LMStudioProtocolError",
    "LMStudioServerError",
    "LMStudioTimeoutError",
    "LMStudioValueError",
    "LMStudioVersion",
    "LlmLoadConfig",
    "LlmLoadConfigDict",
    "LlmPredictionConfig",
    "LlmPredictionConfigDict",
    "LocalProtocolError",
    "ModelNotFoundError",
    "PredictionFragment",
    "PredictionResult",
    "PredictionStats",
    "PredictionStream",
    "PresetNotFoundError",
    "PromptProcessingProgress",
    "RemoteProtocolError",
    "ServerNotFoundError",
    "SystemNamespace",
    "ToolCallRequest",
    "UnsupportedFeatureError",
    "__version__",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'lmstudio_sdk' has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
