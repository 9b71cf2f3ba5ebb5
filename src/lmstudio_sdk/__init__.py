"""lmstudio_sdk: a typed sync and async client for LM Studio's WebSocket SDK API.

    import lmstudio_sdk as lms

    with lms.Client() as client:                       # finds LM Studio on this machine
        model = client.llm.model("smollm2-135m-instruct")
        for fragment in model.respond_stream("Hello!"):
            print(fragment.content, end="", flush=True)

``AsyncClient`` has the same API with ``await`` / ``async for`` / ``async with``.
"""

from ._async.client import AsyncClient, AsyncSystemNamespace
from ._async.files import AsyncFilesNamespace
from ._async.models import AsyncEmbeddingModel, AsyncEmbeddingNamespace, AsyncLLM, AsyncLLMNamespace
from ._async.session import AsyncChannel
from ._async.streams import AsyncPredictionStream
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
from ._protocol.chat import ChatMessageDict
from ._protocol.errors import ErrorData
from ._protocol.kv_config import (
    EmbeddingLoadConfig,
    EmbeddingLoadConfigDict,
    LlmLoadConfig,
    LlmLoadConfigDict,
    LlmPredictionConfig,
    LlmPredictionConfigDict,
)
from ._protocol.params import LMStudioVersion
from ._protocol.prediction import PredictionResult, PromptProcessingProgress
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
from ._sync.client import Client, SystemNamespace
from ._sync.files import FilesNamespace
from ._sync.models import LLM, EmbeddingModel, EmbeddingNamespace, LLMNamespace
from ._sync.session import Channel
from ._sync.streams import PredictionStream
from ._types import NOT_GIVEN
from ._version import __version__

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
