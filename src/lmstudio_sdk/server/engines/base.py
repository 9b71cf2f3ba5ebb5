"""The interface between the embedded server and an inference engine.

The server owns everything LM Studio-specific (identifiers, instance references, TTL, JIT
loading, the wire shapes); an engine only knows how to list what it can load, load it, and run
it. Engines are asyncio-facing: a blocking engine (llama.cpp) runs its work in a thread and
hands events back to the loop.

Prediction is a stream of :data:`EngineEvent`; the server turns each into a ``predict`` /
``completeRawText`` packet. Cancellation is cooperative: the engine checks
``cancel.is_set()`` at least once per generated token and then ends with
``PredictionFinished(stop_reason="userStopped")``.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..._protocol.packets.shared import (
    ChatHistoryData,
    EmbeddingModelInfo,
    KVConfig,
    LLMInfo,
    PromptProcessingDetails,
    ToolCallRequest,
)
from ..errors import unsupported_feature

__all__ = [
    "DRAFT_MODEL_KEY",
    "CancelToken",
    "Engine",
    "EngineEvent",
    "FragmentGenerated",
    "LoadedModel",
    "MemoryEstimate",
    "PredictionFinished",
    "PredictionRequest",
    "PromptProgress",
    "TokenLogProb",
    "ToolCallArgumentFragment",
    "ToolCallEnded",
    "ToolCallFailed",
    "ToolCallNameReceived",
    "ToolCallStarted",
    "count_tokens",
    "estimate_memory",
    "parallel_slots",
    "refuse_draft_model",
]

#: The prediction config key that names a speculative decoding draft model.
DRAFT_MODEL_KEY = "llm.prediction.speculativeDecoding.draftModel"


class CancelToken:
    """Set by the server when the client cancels; safe to check from any thread."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def set(self) -> None:
        self._event.set()

    def is_set(self) -> bool:
        return self._event.is_set()


# -- prediction events ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PromptProgress:
    progress: float  # 0..1
    details: PromptProcessingDetails


@dataclass(frozen=True, slots=True)
class TokenLogProb:
    """One generated token with its log-probability and, when asked, the top alternatives
    (``(text, id, log_prob)``, most likely first)."""

    text: str
    id: int
    log_prob: float
    candidates: tuple[tuple[str, int, float], ...] = ()


@dataclass(frozen=True, slots=True)
class FragmentGenerated:
    content: str
    tokens_count: int = 1
    reasoning_type: str = "none"  # none | reasoning | reasoningStartTag | reasoningEndTag
    is_structural: bool = False
    #: Per-token log-probabilities (``llm.prediction.logProbs``); None when not asked for.
    tokens: tuple[TokenLogProb, ...] | None = None
    #: Whether speculative decoding drafted some of these tokens (accepted drafts).
    contains_drafted: bool = False


@dataclass(frozen=True, slots=True)
class ToolCallStarted:
    tool_call_id: str | None = None


@dataclass(frozen=True, slots=True)
class ToolCallNameReceived:
    name: str


@dataclass(frozen=True, slots=True)
class ToolCallArgumentFragment:
    content: str


@dataclass(frozen=True, slots=True)
class ToolCallEnded:
    request: ToolCallRequest
    raw_content: str | None = None


@dataclass(frozen=True, slots=True)
class ToolCallFailed:
    title: str
    raw_content: str | None = None


@dataclass(frozen=True, slots=True)
class PredictionFinished:
    """Always the last event. Counts are tokens; times are seconds."""

    stop_reason: str
    prompt_tokens_count: int
    predicted_tokens_count: int
    time_to_first_token_sec: float | None = None
    total_time_sec: float | None = None
    tokens_per_second: float | None = None
    stop_string: str | None = None
    #: Speculative decoding: the draft model used and what became of its tokens.
    used_draft_model_key: str | None = None
    total_draft_tokens_count: int | None = None
    accepted_draft_tokens_count: int | None = None
    rejected_draft_tokens_count: int | None = None
    ignored_draft_tokens_count: int | None = None


EngineEvent = (
    PromptProgress
    | FragmentGenerated
    | ToolCallStarted
    | ToolCallNameReceived
    | ToolCallArgumentFragment
    | ToolCallEnded
    | ToolCallFailed
    | PredictionFinished
)


@dataclass(frozen=True, slots=True)
class PredictionRequest:
    """One prediction: a chat (``predict``) or a raw prompt (``completeRawText``).

    ``config`` is the collapsed prediction KV config (all layers the client sent); engines read
    the ``llm.prediction.*`` keys they honour from it and report the rest as unsupported.
    """

    config: KVConfig
    history: ChatHistoryData | None = None
    raw_prompt: str | None = None
    cancel: CancelToken = field(default_factory=CancelToken)
    #: The bytes of every uploaded file the history refers to, by file identifier (the server
    #: resolves them from its file store, so engines never see other clients' files).
    files: Mapping[str, bytes] = field(default_factory=dict)


# -- models -----------------------------------------------------------------------------------


class LoadedModel(Protocol):
    """One loaded instance inside an engine."""

    @property
    def info(self) -> LLMInfo | EmbeddingModelInfo: ...

    @property
    def context_length(self) -> int: ...

    @property
    def load_config(self) -> KVConfig:
        """The effective load config (every load key the engine used)."""
        ...

    async def tokenize(self, text: str) -> list[int]: ...

    def apply_prompt_template(
        self,
        history: ChatHistoryData,
        *,
        omit_bos_token: bool = False,
        omit_eos_token: bool = False,
        tools: list[dict[str, Any]] | None = None,
    ) -> str:
        """Render a chat with the model's template; ServerError if it has none."""
        ...

    def predict(self, request: PredictionRequest) -> AsyncIterator[EngineEvent]:
        """Stream one prediction; ends with PredictionFinished. LLMs only."""
        ...

    async def embed(self, text: str) -> list[float]:
        """L2-normalised embedding of one string. Embedding models only."""
        ...

    async def unload(self) -> None: ...


async def count_tokens(model: LoadedModel, text: str) -> int:
    """The tokens of ``text`` itself. An engine whose ``tokenize`` adds markers (an embedding
    model's [CLS]/[SEP], as LM Studio's tokenize does) gives its models a ``count_tokens``
    coroutine method without them; otherwise this is the length of ``tokenize``."""
    counter = getattr(model, "count_tokens", None)
    if counter is not None:
        count: int = await counter(text)
        return count
    return len(await model.tokenize(text))


def refuse_draft_model(config: KVConfig, engine: str) -> None:
    """Raise ``engineDoesNotSupportFeature`` (the client's UnsupportedFeatureError) when a
    prediction names a draft model and the engine ``engine`` has no speculative decoding."""
    draft = config.get(DRAFT_MODEL_KEY)
    if isinstance(draft, str) and draft:
        raise unsupported_feature(
            DRAFT_MODEL_KEY,
            f"the {engine} engine has no speculative decoding (draft model {draft!r})",
            "Leave draft_model unset (the reply is the same without it, only slower), or "
            "serve with the llama engine, which decodes speculatively.",
            engine=engine,
        )


def parallel_slots(model: LoadedModel) -> int:
    """How many predictions (or embeddings) an instance runs side by side; the server queues
    the rest. An engine opts in with a ``parallel_slots`` attribute on its loaded models;
    without one, the server runs one at a time."""
    slots = getattr(model, "parallel_slots", 1)
    return max(1, slots) if isinstance(slots, int) else 1


@dataclass(frozen=True, slots=True)
class MemoryEstimate:
    """What loading a model with a load config would take: its weights and its KV cache for
    the context length asked (bytes), and whether that comes from the model file's header
    (``confident``) rather than a rule of thumb."""

    model_bytes: int
    context_bytes: int
    context_length: int
    confident: bool


def estimate_memory(
    engine: Engine, info: LLMInfo | EmbeddingModelInfo, config: KVConfig
) -> MemoryEstimate | None:
    """The engine's estimate for loading ``info`` with ``config`` (the collapsed load config);
    None when the engine cannot tell. An engine opts in with an ``estimate_memory(info,
    config)`` method; it raises ServerError for a config it would refuse to load."""
    estimator = getattr(engine, "estimate_memory", None)
    if estimator is None:
        return None
    estimate: MemoryEstimate | None = estimator(info, config)
    return estimate


class Engine(Protocol):
    """Something that can list and load models."""

    name: str

    def list_models(self) -> list[LLMInfo | EmbeddingModelInfo]:
        """Every model this engine can load (the server's 'downloaded models')."""
        ...

    async def load(
        self,
        info: LLMInfo | EmbeddingModelInfo,
        config: KVConfig,
        on_progress: Callable[[float], None],
    ) -> LoadedModel:
        """Load a model; calls on_progress with rising values in 0..1.

        ``config`` is the collapsed load KV config the client sent. Raises ServerError.
        """
        ...
