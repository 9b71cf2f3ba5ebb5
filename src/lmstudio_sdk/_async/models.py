"""Model namespaces (``client.llm``, ``client.embedding``) and model handles.

A handle names a model by a specifier: handles returned by ``model()``, ``load()`` and
``list_loaded()`` are *pinned* to one loaded instance (``instanceReference``); ``handle(...)``
makes a *dynamic* one that resolves a query on every call (whatever instance matches then).

Source of truth for both faces (see ``scripts/unasync.py``).
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import (
    TYPE_CHECKING,
    Any,
    Final,
    Generic,
    Literal,
    TypeAlias,
    TypedDict,
    TypeVar,
    Unpack,
    cast,
    overload,
)

import msgspec
from msgspec import Raw, UnsetType

from .._exceptions import LMStudioError, LMStudioValueError, ToolCallError
from .._protocol import envelope as wire
from .._protocol.act import ActResult, ToolCallOutcome, ToolErrorMode
from .._protocol.chat import ChatLike, to_history
from .._protocol.config_types import (
    EmbeddingLoadConfig,
    EmbeddingLoadConfigDict,
    LlmLoadConfig,
    LlmLoadConfigDict,
    LlmPredictionConfig,
    LlmPredictionConfigDict,
)
from .._protocol.kv_config import (
    api_override_stack,
    completion_stack,
    embedding_load_config_to_kv,
    kv_to_embedding_load_config,
    kv_to_llm_load_config,
    kv_to_prediction_config,
    llm_load_config_to_kv,
    prediction_config_to_kv,
)
from .._protocol.kv_options import PREDICTION
from .._protocol.model_query import (
    DeviceIdentifier,
    QueryLike,
    check_device_identifier,
    matches_device,
    to_model_query,
)
from .._protocol.packets.embedding import EmbedStringParameter, EmbedStringResult
from .._protocol.packets.llm import (
    ApplyPromptTemplateOpts,
    ApplyPromptTemplateParameter,
    ApplyPromptTemplateResult,
    CompleteRawTextCreationParameter,
    PredictCreationParameter,
    PreloadDraftModelParameter,
)
from .._protocol.packets.shared import (
    AssistantMessageData,
    ChatHistoryData,
    ChatMessageData,
    CountTokensResult,
    EmbeddingModelInfo,
    EmbeddingModelInstanceInfo,
    EstimateModelUsageParameter,
    GetBasePredictionConfigParameter,
    GetLoadConfigParameter,
    GetModelInfoParameter,
    GetOrLoadCreationParameter,
    InstanceReferenceSpecifier,
    KVConfig,
    KVConfigStack,
    LLMInfo,
    LLMInstanceInfo,
    LoadModelCreationParameter,
    ModelQuery,
    ModelSpecifier,
    PredictionFragment,
    QuerySpecifier,
    TokenizeParameter,
    TokenizeResult,
    UnloadModelParameter,
)
from .._protocol.partial_json import JsonValue
from .._protocol.prediction import (
    PredictionResult,
    ToolCallArgumentFragment,
    ToolCallGenerationEnded,
    ToolCallGenerationStarted,
    ToolCallNameReceived,
    may_overflow,
)
from .._protocol.results import (
    EstimatedResourcesUsage,
    ModelProcessingState,
    decode_estimate,
    decode_kv_config,
    decode_model_info,
    decode_model_list,
    decode_processing_state,
    decode_result,
)
from .._protocol.structured import ResponseFormat, response_format_of
from .._protocol.tools import ToolLike
from .._types import (
    NOT_GIVEN,
    AsyncCallback,
    AsyncPromptCounter,
    AsyncRoundCallback,
    ParsedT,
    Timeout,
    check_async_callback,
    check_timeout,
    checked_arguments,
    reject_unknown_arguments,
)
from .act import AsyncActCallbacks, AsyncGuard, AsyncInvalidRequestHandler, run_act
from .downloaded import DEFAULT_TTL_SECONDS, AsyncDownloadedEmbeddingModel, AsyncDownloadedLlm
from .pool import Retries
from .session import AsyncChannel
from .streams import AsyncLoad, AsyncPredictionStream

if TYPE_CHECKING:
    from .pool import AsyncSessionPool

__all__ = [
    "AnyAsyncDownloadedModel",
    "AsyncDownloadedModel",
    "AsyncEmbeddingModel",
    "AsyncEmbeddingNamespace",
    "AsyncLLM",
    "AsyncLLMNamespace",
    "AsyncModelHandle",
]

InfoT = TypeVar("InfoT", LLMInstanceInfo, EmbeddingModelInstanceInfo)
LoadConfigT = TypeVar("LoadConfigT", LlmLoadConfig, EmbeddingLoadConfig)
LoadConfigDictT = TypeVar("LoadConfigDictT", LlmLoadConfigDict, EmbeddingLoadConfigDict)
HandleT = TypeVar("HandleT", "AsyncLLM", "AsyncEmbeddingModel")

ResponseSchema: TypeAlias = Mapping[str, Any]
"""A JSON schema dict, or a structured setting dict (``{"type": "json", "jsonSchema": ...}``,
``{"type": "gbnf", "gbnfGrammar": ...}``), as ``response_format=``."""

_logger = logging.getLogger("lmstudio_sdk")


class PredictionOptions(TypedDict, total=False):
    """The keyword options of ``respond``, ``complete`` and their ``_stream`` forms."""

    config: LlmPredictionConfigDict | None
    """Prediction settings (temperature, max_tokens, structured output, tools, …)."""
    preset: str | None
    """A preset saved in LM Studio, by name or identifier."""
    on_fragment: AsyncCallback[PredictionFragment] | None
    on_prediction_fragment: AsyncCallback[PredictionFragment] | None
    """The official SDKs' name of ``on_fragment`` (pass one of the two)."""
    on_first_token: Callable[[], Awaitable[None] | None] | None
    """Called once, when the model produces its first token (text or tool call)."""
    on_message: Callable[[AssistantMessageData], object] | None
    """Called at the end with the reply as a chat message (``chat.append`` takes it)."""
    on_prompt_processing_progress: AsyncCallback[float] | None
    timeout: Timeout
    """Bounds each wait for the next packet (default: the client's timeout)."""
    deadline: float | None
    """Bounds the whole prediction, in seconds (default: None, no limit)."""


class _AsyncModelHandle(Generic[InfoT, LoadConfigT]):
    """What LLM and embedding handles share."""

    _namespace: str
    _info_type: type[InfoT]

    def __init__(
        self, pool: AsyncSessionPool, specifier: ModelSpecifier, info: InfoT | None = None
    ) -> None:
        self._pool = pool
        self.specifier = specifier
        self._info: InfoT | None = info

    @property
    def identifier(self) -> str:
        """The instance identifier (pinned handles) or the queried identifier (dynamic ones)."""
        if self._info is not None:
            return self._info.identifier
        if isinstance(self.specifier, QuerySpecifier) and self.specifier.query.identifier:
            return self.specifier.query.identifier
        return "<dynamic>"

    @property
    def info(self) -> InfoT | None:
        """The instance info seen when the handle was made (None for dynamic handles)."""
        return self._info

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.identifier!r})"

    @checked_arguments
    async def get_info(
        self, *, timeout: Timeout = NOT_GIVEN, max_retries: Retries = NOT_GIVEN
    ) -> InfoT:
        """Fresh info about the loaded instance."""
        raw = await self._pool.rpc(
            self._namespace,
            "getModelInfo",
            GetModelInfoParameter(specifier=self.specifier, throw_if_not_found=True),
            timeout,
            max_retries,
        )
        return decode_model_info(raw, self._info_type, "getModelInfo")

    async def _get_load_kv(self, timeout: Timeout) -> KVConfig:
        raw = await self._pool.rpc(
            self._namespace,
            "getLoadConfig",
            GetLoadConfigParameter(specifier=self.specifier),
            timeout,
        )
        return decode_kv_config(raw, "getLoadConfig")

    @checked_arguments
    async def get_context_length(self, *, timeout: Timeout = NOT_GIVEN) -> int:
        """The context length the instance was loaded with, in tokens.

        Args:
            timeout: Seconds to wait for the answer (default: the client's timeout).

        Returns:
            The loaded context length (not the model's maximum, which ``get_info()`` has).
        """
        return (await self.get_info(timeout=timeout)).context_length

    @overload
    async def tokenize(  # type: ignore[overload-overlap]  # a str is also a Sequence[str]
        self, text: str, *, timeout: Timeout = NOT_GIVEN, max_retries: Retries = NOT_GIVEN
    ) -> list[int]: ...

    @overload
    async def tokenize(
        self,
        text: Sequence[str],
        *,
        timeout: Timeout = NOT_GIVEN,
        max_retries: Retries = NOT_GIVEN,
    ) -> list[list[int]]: ...

    @checked_arguments
    async def tokenize(
        self,
        text: str | Sequence[str],
        *,
        timeout: Timeout = NOT_GIVEN,
        max_retries: Retries = NOT_GIVEN,
    ) -> list[int] | list[list[int]]:
        """Token ids of a string, or of each string of a list (sent concurrently)."""
        if isinstance(text, str):
            results = await self._pipelined("tokenize", [text], timeout, max_retries)
            return _token_ids(results[0])
        texts = _strings("tokenize()", text)
        results = await self._pipelined("tokenize", texts, timeout, max_retries)
        return [_token_ids(r) for r in results]

    @checked_arguments
    async def count_tokens(
        self, text: str, *, timeout: Timeout = NOT_GIVEN, max_retries: Retries = NOT_GIVEN
    ) -> int:
        """How many tokens ``text`` is for this model (without tokenizing it on the client).

        Args:
            text: The string to count.
            timeout: Seconds to wait for the answer (default: the client's timeout).
            max_retries: Retries of a lost connection for this call (default: the client's).

        Returns:
            The number of tokens.
        """
        _check_str("count_tokens() text", text)
        raw = await self._pool.rpc(
            self._namespace,
            "countTokens",
            TokenizeParameter(specifier=self.specifier, input_string=text),
            timeout,
            max_retries,
        )
        return decode_result(raw, CountTokensResult, "countTokens").token_count

    @checked_arguments
    async def unload(self, *, timeout: Timeout = NOT_GIVEN) -> None:
        """Unload this instance from the server; the handle is of no use afterwards.

        Args:
            timeout: Seconds to wait for the answer (default: the client's timeout).

        Raises:
            ModelNotFoundError: No instance with this identifier is loaded (any more).
        """
        await self._pool.rpc(
            self._namespace,
            "unloadModel",
            UnloadModelParameter(identifier=self.identifier),
            timeout,
        )

    # -- model helpers (issue 11 item 6): processing state ------------------------------------

    @checked_arguments
    async def get_processing_state(
        self, *, timeout: Timeout = NOT_GIVEN, max_retries: Retries = NOT_GIVEN
    ) -> ModelProcessingState:
        """What the instance is doing now: ``status`` ("idle", "processingPrompt",
        "generating", "computingEmbedding") and ``queued``, its requests from every client,
        the running ones included. ModelNotFoundError when no instance matches (the TypeScript
        SDK's ``getInstanceProcessingState``)."""
        raw = await self._pool.rpc(
            self._namespace,
            "getInstanceProcessingState",
            GetModelInfoParameter(specifier=self.specifier, throw_if_not_found=True),
            timeout,
            max_retries,
        )
        return decode_processing_state(raw)

    async def _pipelined(
        self, endpoint: str, inputs: list[str], timeout: Timeout, max_retries: Retries
    ) -> list[Any]:
        """Send one call per input at once, then collect the answers in order."""
        parameters: list[Raw] = []
        for text in inputs:
            parameter: Any
            if endpoint == "embedString":
                parameter = EmbedStringParameter(model_specifier=self.specifier, input_string=text)
            else:
                parameter = TokenizeParameter(specifier=self.specifier, input_string=text)
            parameters.append(wire.raw(parameter))
        return await self._pool.pipelined(
            self._namespace, endpoint, parameters, timeout, max_retries
        )


class AsyncLLM(_AsyncModelHandle[LLMInstanceInfo, LlmLoadConfig]):
    """A handle to a loaded LLM: chat, complete, tokenize."""

    _namespace = "llm"
    _info_type = LLMInstanceInfo

    @checked_arguments
    async def get_load_config(self, *, timeout: Timeout = NOT_GIVEN) -> LlmLoadConfig:
        """The settings the instance was loaded with, as LM Studio reports them.

        Args:
            timeout: Seconds to wait for the answer (default: the client's timeout).

        Returns:
            The load config; a setting the server did not report is ``None``.
        """
        return kv_to_llm_load_config(await self._get_load_kv(timeout))

    @checked_arguments
    async def preload_draft_model(self, draft_model: str, *, timeout: Timeout = NOT_GIVEN) -> None:
        """Load a draft model for speculative decoding next to this LLM now, so that the first
        prediction with ``config={"draft_model": ...}`` does not wait for it (the TypeScript
        SDK's ``unstable_preloadDraftModel``). LM Studio treats it as a hint; the embedded
        server's llama engine loads it (ModelNotFoundError if it does not exist,
        UnsupportedFeatureError if its vocabulary differs or the engine cannot use drafts).
        """
        _check_str("preload_draft_model() draft_model", draft_model)
        await self._pool.rpc(
            self._namespace,
            "preloadDraftModel",
            PreloadDraftModelParameter(specifier=self.specifier, draft_model_key=draft_model),
            timeout,
        )

    # -- model helpers (issue 11 item 6): base prediction config ------------------------------

    @checked_arguments
    async def get_base_prediction_config(
        self, *, timeout: Timeout = NOT_GIVEN, max_retries: Retries = NOT_GIVEN
    ) -> LlmPredictionConfig:
        """The prediction settings the server applies under a prediction's own ``config``
        (its defaults for this model: temperature, sampling, …); unset fields are None."""
        raw = await self._pool.rpc(
            self._namespace,
            "getBasePredictionConfig",
            GetBasePredictionConfigParameter(specifier=self.specifier),
            timeout,
            max_retries,
        )
        return kv_to_prediction_config(decode_kv_config(raw, "getBasePredictionConfig"))

    @overload
    def respond_stream(
        self,
        chat: ChatLike,
        *,
        response_format: type[ParsedT],
        **options: Unpack[PredictionOptions],
    ) -> AsyncPredictionStream[ParsedT]: ...

    @overload
    def respond_stream(
        self,
        chat: ChatLike,
        *,
        response_format: ResponseSchema | None = None,
        **options: Unpack[PredictionOptions],
    ) -> AsyncPredictionStream[JsonValue]: ...

    def respond_stream(
        self,
        chat: ChatLike,
        *,
        response_format: type[Any] | ResponseSchema | None = None,
        **options: Unpack[PredictionOptions],
    ) -> AsyncPredictionStream[Any]:
        """Start a chat prediction; iterate the stream for fragments or await ``result()``.

        The prediction starts on the first iteration. ``response_format`` (a pydantic model,
        msgspec Struct, dataclass or TypedDict class, a JSON schema dict, or a GBNF setting)
        constrains the reply; ``result().parsed`` is then an instance of that type and
        ``partial()`` yields the JSON as it grows. Options: ``config`` (typed prediction
        settings), ``preset``, ``on_fragment``, ``on_prompt_processing_progress``, and
        ``timeout``, which bounds each wait for the next packet. Prediction settings such as
        ``max_tokens`` go in ``config``; an unknown option raises LMStudioValueError.
        """
        _check_prediction_options("respond_stream()", options, stream_alternative=None)
        fmt, kv = _prediction_kv("respond_stream()", response_format, options)
        parameter = PredictCreationParameter(
            model_specifier=self.specifier,
            history=to_history(chat),
            prediction_config_stack=api_override_stack(kv),
            fuzzy_preset_identifier=options.get("preset"),
        )
        return self._stream("predict", parameter, kv, fmt, options)

    @overload
    async def respond(
        self,
        chat: ChatLike,
        *,
        response_format: type[ParsedT],
        **options: Unpack[PredictionOptions],
    ) -> PredictionResult[ParsedT]: ...

    @overload
    async def respond(
        self,
        chat: ChatLike,
        *,
        response_format: ResponseSchema | None = None,
        **options: Unpack[PredictionOptions],
    ) -> PredictionResult[JsonValue]: ...

    async def respond(
        self,
        chat: ChatLike,
        *,
        response_format: type[Any] | ResponseSchema | None = None,
        **options: Unpack[PredictionOptions],
    ) -> PredictionResult[Any]:
        """Chat with the model and wait for the whole reply (options as respond_stream)."""
        _check_prediction_options("respond()", options, stream_alternative="respond_stream()")
        stream = self.respond_stream(chat, response_format=response_format, **options)
        return await stream.result()

    @overload
    def complete_stream(
        self,
        prompt: str,
        *,
        response_format: type[ParsedT],
        **options: Unpack[PredictionOptions],
    ) -> AsyncPredictionStream[ParsedT]: ...

    @overload
    def complete_stream(
        self,
        prompt: str,
        *,
        response_format: ResponseSchema | None = None,
        **options: Unpack[PredictionOptions],
    ) -> AsyncPredictionStream[JsonValue]: ...

    def complete_stream(
        self,
        prompt: str,
        *,
        response_format: type[Any] | ResponseSchema | None = None,
        **options: Unpack[PredictionOptions],
    ) -> AsyncPredictionStream[Any]:
        """Continue raw text (no chat template), streamed (options as respond_stream)."""
        _check_str("prompt", prompt)
        _check_prediction_options("complete_stream()", options, stream_alternative=None)
        fmt, kv = _prediction_kv("complete_stream()", response_format, options)
        _refuse_chat_options("complete_stream()", kv)
        parameter = CompleteRawTextCreationParameter(
            model_specifier=self.specifier,
            raw_prompt=prompt,
            prediction_config_stack=completion_stack(kv),
            fuzzy_preset_identifier=options.get("preset"),
        )
        return self._stream("completeRawText", parameter, kv, fmt, options)

    @overload
    async def complete(
        self,
        prompt: str,
        *,
        response_format: type[ParsedT],
        **options: Unpack[PredictionOptions],
    ) -> PredictionResult[ParsedT]: ...

    @overload
    async def complete(
        self,
        prompt: str,
        *,
        response_format: ResponseSchema | None = None,
        **options: Unpack[PredictionOptions],
    ) -> PredictionResult[JsonValue]: ...

    async def complete(
        self,
        prompt: str,
        *,
        response_format: type[Any] | ResponseSchema | None = None,
        **options: Unpack[PredictionOptions],
    ) -> PredictionResult[Any]:
        """Continue raw text and wait for the whole continuation (options as respond_stream)."""
        _check_prediction_options("complete()", options, stream_alternative="complete_stream()")
        stream = self.complete_stream(prompt, response_format=response_format, **options)
        return await stream.result()

    @checked_arguments
    async def act(
        self,
        chat: ChatLike,
        tools: Iterable[ToolLike],
        *,
        max_prediction_rounds: int | None = None,
        max_parallel_tool_calls: int | None = 4,
        config: LlmPredictionConfigDict | None = None,
        preset: str | None = None,
        tool_choice: Literal["auto", "none", "required"] | None = None,
        on_tool_error: ToolErrorMode = "report",
        tool_timeout: Timeout = None,
        timeout: Timeout = NOT_GIVEN,
        on_round_start: AsyncCallback[int] | None = None,
        on_round_end: AsyncCallback[int] | None = None,
        on_message: Callable[[ChatMessageData], object] | None = None,
        on_first_token: AsyncCallback[int] | None = None,
        on_prediction_fragment: AsyncRoundCallback[PredictionFragment] | None = None,
        on_prompt_processing_progress: AsyncRoundCallback[float] | None = None,
        on_prediction_completed: AsyncCallback[PredictionResult] | None = None,
        on_tool_call_start: AsyncRoundCallback[ToolCallGenerationStarted] | None = None,
        on_tool_call_name: AsyncRoundCallback[ToolCallNameReceived] | None = None,
        on_tool_call_argument_fragment: AsyncRoundCallback[ToolCallArgumentFragment] | None = None,
        on_tool_call_end: AsyncRoundCallback[ToolCallGenerationEnded] | None = None,
        on_tool_call_result: AsyncRoundCallback[ToolCallOutcome] | None = None,
        on_tool_call_failure: AsyncRoundCallback[ToolCallError] | None = None,
        guard_tool_call: AsyncGuard | None = None,
        handle_invalid_tool_request: AsyncInvalidRequestHandler | None = None,
    ) -> ActResult:
        """Let the model use tools: predict, run the tools it calls, send back the results,
        and repeat until it answers without calling one (or ``max_prediction_rounds``, whose
        last round offers no tools, so that the model must answer).

        ``tools``: functions (see ``lmstudio_sdk.tool``), ``Tool``s or ``ToolFunctionDef``s.
        The calls of one round run concurrently (at most ``max_parallel_tool_calls``); every
        message is appended to ``chat`` when it is a ``Chat``. A tool that raises becomes an
        error result the model sees (``on_tool_error="raise"`` raises ToolCallFailedError
        instead); so do arguments that do not fit the tool's signature, and unknown tools
        (``handle_invalid_tool_request`` may replace that text, or raise). ``guard_tool_call
        (round_index, request)`` returns ``GuardDecision.allow()``, ``.allow_with(arguments)``
        or ``.deny(reason)``. ``tool_timeout`` bounds each round's tool calls; a timeout or
        a cancellation stops the prediction and the tool calls still running (a plain
        function already running in a thread finishes on its own, its result dropped).
        Returns an ``ActResult`` with every round's result.
        """
        callbacks = AsyncActCallbacks(
            on_round_start=on_round_start,
            on_round_end=on_round_end,
            on_message=on_message,
            on_first_token=on_first_token,
            on_prediction_fragment=on_prediction_fragment,
            on_prompt_processing_progress=on_prompt_processing_progress,
            on_prediction_completed=on_prediction_completed,
            on_tool_call_start=on_tool_call_start,
            on_tool_call_name=on_tool_call_name,
            on_tool_call_argument_fragment=on_tool_call_argument_fragment,
            on_tool_call_end=on_tool_call_end,
            on_tool_call_result=on_tool_call_result,
            on_tool_call_failure=on_tool_call_failure,
            guard_tool_call=guard_tool_call,
            handle_invalid_tool_request=handle_invalid_tool_request,
        )
        return await run_act(
            self,
            chat,
            tools,
            config=config,
            preset=preset,
            tool_choice=tool_choice,
            max_prediction_rounds=max_prediction_rounds,
            max_parallel_tool_calls=max_parallel_tool_calls,
            on_tool_error=on_tool_error,
            tool_timeout=tool_timeout,
            timeout=timeout,
            callbacks=callbacks,
        )

    @checked_arguments
    async def apply_prompt_template(
        self,
        chat: ChatLike,
        *,
        config: LlmPredictionConfigDict | None = None,
        timeout: Timeout = NOT_GIVEN,
    ) -> str:
        """The exact prompt text the model's template makes of a chat."""
        stack = (
            api_override_stack(prediction_config_to_kv(config))
            if config
            else KVConfigStack(layers=[])
        )
        return await self._formatted(to_history(chat), stack, timeout)

    async def _formatted(
        self, history: ChatHistoryData, stack: KVConfigStack, timeout: Timeout
    ) -> str:
        raw = await self._pool.rpc(
            self._namespace,
            "applyPromptTemplate",
            ApplyPromptTemplateParameter(
                specifier=self.specifier,
                history=history,
                prediction_config_stack=stack,
                opts=ApplyPromptTemplateOpts(),
            ),
            timeout,
        )
        return decode_result(raw, ApplyPromptTemplateResult, "applyPromptTemplate").formatted

    def _prompt_counter(
        self,
        parameter: PredictCreationParameter | CompleteRawTextCreationParameter,
        timeout: Timeout,
    ) -> AsyncPromptCounter:
        """For ContextOverflow: the whole prompt's tokens, counted after the prediction, only
        when the prompt is long enough to have overflowed ``context_length``."""

        async def count(context_length: int) -> int | None:
            if isinstance(parameter, PredictCreationParameter):
                # Encoded sizes bound the text from above: a token is at least one byte.
                size = len(wire.raw(parameter.history)) + len(
                    wire.raw(parameter.prediction_config_stack)
                )
            else:
                size = len(parameter.raw_prompt.encode())
            if not may_overflow(size, context_length):
                return None
            try:
                if isinstance(parameter, PredictCreationParameter):
                    text = await self._formatted(
                        parameter.history, parameter.prediction_config_stack, timeout
                    )
                else:
                    text = parameter.raw_prompt
                return await self.count_tokens(text, timeout=timeout)
            except LMStudioError as exc:  # the result still reports what the stats show
                _logger.warning(
                    "could not count the prompt's tokens to check it fit the context: %s", exc
                )
                return None

        return count

    def _stream(
        self,
        endpoint: str,
        parameter: PredictCreationParameter | CompleteRawTextCreationParameter,
        kv: KVConfig,
        fmt: ResponseFormat[Any] | None,
        options: PredictionOptions,
    ) -> AsyncPredictionStream[Any]:
        structured = kv.get("llm.prediction.structured", {})
        timeout = options.get("timeout", NOT_GIVEN)
        return AsyncPredictionStream(
            _LazySession(self._pool, self._namespace, timeout),
            endpoint,
            wire.raw(parameter),
            timeout=self._pool.timeout_for(timeout),
            structured=isinstance(structured, Mapping) and structured.get("type") == "json",
            response_format=fmt,
            on_fragment=options.get("on_fragment") or options.get("on_prediction_fragment"),
            on_prompt_processing_progress=options.get("on_prompt_processing_progress"),
            on_first_token=options.get("on_first_token"),
            on_message=options.get("on_message"),
            deadline=check_timeout(options.get("deadline"), "deadline"),
            measure_prompt=self._prompt_counter(parameter, timeout),
        )


class AsyncEmbeddingModel(_AsyncModelHandle[EmbeddingModelInstanceInfo, EmbeddingLoadConfig]):
    """A handle to a loaded embedding model."""

    _namespace = "embedding"
    _info_type = EmbeddingModelInstanceInfo

    @checked_arguments
    async def get_load_config(self, *, timeout: Timeout = NOT_GIVEN) -> EmbeddingLoadConfig:
        """The settings the instance was loaded with, as LM Studio reports them.

        Args:
            timeout: Seconds to wait for the answer (default: the client's timeout).

        Returns:
            The load config; a setting the server did not report is ``None``.
        """
        return kv_to_embedding_load_config(await self._get_load_kv(timeout))

    @overload
    async def embed(  # type: ignore[overload-overlap]  # a str is also a Sequence[str]
        self, text: str, *, timeout: Timeout = NOT_GIVEN, max_retries: Retries = NOT_GIVEN
    ) -> list[float]: ...

    @overload
    async def embed(
        self,
        text: Sequence[str],
        *,
        timeout: Timeout = NOT_GIVEN,
        max_retries: Retries = NOT_GIVEN,
    ) -> list[list[float]]: ...

    @checked_arguments
    async def embed(
        self,
        text: str | Sequence[str],
        *,
        timeout: Timeout = NOT_GIVEN,
        max_retries: Retries = NOT_GIVEN,
    ) -> list[float] | list[list[float]]:
        """The embedding of a string, or of each string of a list (all sent at once)."""
        if isinstance(text, str):
            results = await self._pipelined("embedString", [text], timeout, max_retries)
            return decode_result(results[0], EmbedStringResult, "embedString").embedding
        texts = _strings("embed()", text)
        results = await self._pipelined("embedString", texts, timeout, max_retries)
        return [decode_result(r, EmbedStringResult, "embedString").embedding for r in results]


class _AsyncModelNamespace(Generic[HandleT, LoadConfigDictT]):
    """``list_loaded``, ``model``, ``load``, ``unload``: the same on /llm and /embedding."""

    _namespace: str
    _handle_type: type[HandleT]
    _info_type: type[LLMInstanceInfo] | type[EmbeddingModelInstanceInfo]
    _load_config_to_kv: Callable[[Mapping[str, Any] | None], KVConfig]

    def __init__(self, pool: AsyncSessionPool) -> None:
        self._pool = pool

    def _pinned(self, info: LLMInstanceInfo | EmbeddingModelInstanceInfo) -> HandleT:
        specifier = InstanceReferenceSpecifier(instance_reference=info.instance_reference)
        # _info_type always matches _handle_type's info type (both set per namespace below).
        return self._handle_type(self._pool, specifier, info)  # type: ignore[arg-type]

    @checked_arguments
    def handle(self, identifier: QueryLike | None = None, *, path: str | None = None) -> HandleT:
        """A dynamic handle: resolves its query anew on every call (whatever loaded instance
        matches then). ``identifier`` is an instance identifier, or a full query: a
        ``ModelQuery`` or a dict of its members (``identifier``, ``path``, ``vision``,
        ``domain``, ``device_identifier``); ``path`` alone queries by model path."""
        if identifier is not None and not isinstance(identifier, str):
            if path is not None:
                raise LMStudioValueError(
                    "handle() got a query and path=: put the path in the query"
                )
            query = to_model_query(identifier, self._namespace, "handle()")
        else:
            _check_optional_str("handle() identifier", identifier)
            _check_optional_str("handle() path", path)
            members: dict[str, str] = {}
            if identifier is not None:
                members["identifier"] = identifier
            if path is not None:
                members["path"] = path
            query = to_model_query(members, self._namespace, "handle()")
        return self._handle_type(self._pool, QuerySpecifier(query=query))

    @checked_arguments
    async def list_loaded(
        self,
        *,
        device_identifier: DeviceIdentifier = NOT_GIVEN,
        timeout: Timeout = NOT_GIVEN,
        max_retries: Retries = NOT_GIVEN,
    ) -> list[HandleT]:
        """Handles to every loaded model of this namespace; with ``device_identifier``, only
        those LM Studio lists on that LM Link device (None: on this machine)."""
        device = check_device_identifier(device_identifier, "list_loaded()")
        raw = await self._pool.rpc(self._namespace, "listLoaded", None, timeout, max_retries)
        return [
            self._pinned(info)
            for info in decode_model_list(raw, "listLoaded", instances=True)
            if isinstance(info, self._info_type) and matches_device(info.device_identifier, device)
        ]

    @checked_arguments
    async def model(
        self,
        key: QueryLike | None = None,
        *,
        config: LoadConfigDictT | None = None,
        ttl: float | None = DEFAULT_TTL_SECONDS,
        device_identifier: DeviceIdentifier = NOT_GIVEN,
        on_progress: AsyncCallback[float] | None = None,
        on_load_progress: AsyncCallback[float] | None = None,
        timeout: Timeout = NOT_GIVEN,
        deadline: float | None = None,
    ) -> HandleT:
        """The loaded model with this identifier or key, loading it if needed.

        Without a key: any loaded model of this namespace (ModelNotFoundError if none). A
        ``ModelQuery`` (or a dict of its members) instead of a key: the first loaded model
        that matches it, nothing loaded. ``ttl`` (seconds) unloads a model loaded here after
        that much idle time. ``device_identifier``: the LM Link device to find or load it on
        (None: this machine only). ``timeout`` bounds each wait for load progress,
        ``deadline`` (seconds) the whole load. ``on_load_progress`` is the official SDK's name
        of ``on_progress`` (pass one).
        """
        deadline = check_timeout(deadline, "deadline")
        on_progress = _one_progress_callback("model()", on_progress, on_load_progress)
        device = check_device_identifier(device_identifier, "model()")
        # Checked even without a key (when nothing loads): a bad value is never dropped silently.
        load_config_stack = api_override_stack(type(self)._load_config_to_kv(config))
        ttl_ms = _ttl_ms(ttl)
        if key is None or not isinstance(key, str):
            if key is None:
                query = ModelQuery(device_identifier=device)
            else:
                query = to_model_query(key, self._namespace, "model()")
                if not isinstance(device, UnsetType):
                    if not isinstance(query.device_identifier, UnsetType):
                        raise LMStudioValueError(
                            "model() got device_identifier= and a query with one: pass one"
                        )
                    query = msgspec.structs.replace(query, device_identifier=device)
            raw = await self._pool.rpc(
                self._namespace,
                "getModelInfo",
                GetModelInfoParameter(
                    specifier=QuerySpecifier(query=query), throw_if_not_found=True
                ),
                timeout,
            )
            return self._pinned(decode_model_info(raw, self._info_type, "getModelInfo"))
        _check_str("model() key", key)
        parameter = GetOrLoadCreationParameter(
            identifier=key,
            device_identifier=device,
            load_config_stack=load_config_stack,
            load_ttl_ms=ttl_ms,
        )
        handle = await self._load_channel("getOrLoad", parameter, on_progress, timeout, deadline)
        _warn_if_context_differs(key, load_config_stack, handle.info)
        return handle

    @checked_arguments
    async def load(
        self,
        key: str,
        *,
        config: LoadConfigDictT | None = None,
        ttl: float | None = None,
        identifier: str | None = None,
        device_identifier: DeviceIdentifier = NOT_GIVEN,
        on_progress: AsyncCallback[float] | None = None,
        timeout: Timeout = NOT_GIVEN,
        deadline: float | None = None,
    ) -> HandleT:
        """Load a new instance of a downloaded model (even if one is already loaded), on the
        LM Link device ``device_identifier`` if given (None: this machine only).

        ``timeout`` bounds each wait for load progress, ``deadline`` (seconds) the whole load.
        """
        _check_str("load() key", key)
        deadline = check_timeout(deadline, "deadline")
        _check_optional_str("load() identifier", identifier)
        check_async_callback(on_progress, "on_progress")
        parameter = LoadModelCreationParameter(
            model_key=key,
            identifier=identifier,
            device_identifier=check_device_identifier(device_identifier, "load()"),
            ttl_ms=_ttl_ms(ttl),
            load_config_stack=api_override_stack(type(self)._load_config_to_kv(config)),
        )
        return await self._load_channel("loadModel", parameter, on_progress, timeout, deadline)

    @checked_arguments
    async def load_new_instance(
        self,
        model_key: str,
        instance_identifier: str | None = None,
        *,
        ttl: float | None = DEFAULT_TTL_SECONDS,
        config: LoadConfigDictT | None = None,
        on_load_progress: AsyncCallback[float] | None = None,
        timeout: Timeout = NOT_GIVEN,
        deadline: float | None = None,
    ) -> HandleT:
        """``load()`` as the official SDK spells it: a new instance of ``model_key``, named
        ``instance_identifier`` (LM Studio picks a name when None), unloaded after ``ttl``
        idle seconds (default one hour, as there)."""
        return await self.load(
            model_key,
            config=config,
            ttl=ttl,
            identifier=instance_identifier,
            on_progress=on_load_progress,
            timeout=timeout,
            deadline=deadline,
        )

    async def _model_info(
        self, model_specifier: object, timeout: Timeout, max_retries: Retries
    ) -> Raw | UnsetType:
        raw = await self._pool.rpc(
            self._namespace,
            "getModelInfo",
            GetModelInfoParameter(
                specifier=_specifier("get_model_info()", model_specifier), throw_if_not_found=True
            ),
            timeout,
            max_retries,
        )
        return raw

    async def _downloaded(
        self, timeout: Timeout, max_retries: Retries
    ) -> list[LLMInfo | EmbeddingModelInfo]:
        raw = await self._pool.rpc("system", "listDownloadedModels", None, timeout, max_retries)
        models: list[LLMInfo | EmbeddingModelInfo] = decode_model_list(
            raw, "listDownloadedModels", instances=False
        )
        return [m for m in models if m.domain == self._namespace]

    @checked_arguments
    async def unload(
        self,
        identifier: str,
        *,
        device_identifier: DeviceIdentifier = NOT_GIVEN,
        timeout: Timeout = NOT_GIVEN,
    ) -> None:
        """Unload the loaded instance with this identifier.

        Args:
            identifier: The instance's identifier (``list_loaded()`` names them).
            device_identifier: The LM Link device it is loaded on (None: this machine only).
            timeout: Seconds to wait for the answer (default: the client's timeout).

        Raises:
            ModelNotFoundError: No instance with this identifier is loaded.
        """
        _check_str("unload() identifier", identifier)
        parameter = UnloadModelParameter(
            identifier=identifier,
            device_identifier=check_device_identifier(device_identifier, "unload()"),
        )
        await self._pool.rpc(self._namespace, "unloadModel", parameter, timeout)

    # -- model helpers (issue 11 item 6): resource estimate ----------------------------------

    @checked_arguments
    async def estimate_resources_usage(
        self,
        model_key: str,
        config: LoadConfigDictT | None = None,
        *,
        device_identifier: DeviceIdentifier = NOT_GIVEN,
        timeout: Timeout = NOT_GIVEN,
        max_retries: Retries = NOT_GIVEN,
    ) -> EstimatedResourcesUsage:
        """What loading ``model_key`` with ``config`` would take, without loading it:
        ``memory`` (weights and KV cache for the context length asked, in bytes, with the
        server's ``confidence``) and ``passes_guardrails``."""
        _check_str("estimate_resources_usage() model_key", model_key)
        parameter = EstimateModelUsageParameter(
            model_key=model_key,
            load_config_stack=api_override_stack(type(self)._load_config_to_kv(config)),
            device_identifier=check_device_identifier(
                device_identifier, "estimate_resources_usage()"
            ),
        )
        raw = await self._pool.rpc(
            self._namespace, "estimateModelUsage", parameter, timeout, max_retries
        )
        return decode_estimate(raw)

    async def _load_channel(
        self,
        endpoint: str,
        parameter: Any,
        on_progress: AsyncCallback[float] | None,
        timeout: Timeout,
        deadline: float | None = None,
    ) -> HandleT:
        channel = await self._pool.open_channel(self._namespace, endpoint, parameter, timeout)
        limit = self._pool.timeout_for(timeout)
        info = await AsyncLoad(channel, self._info_type).run(on_progress, limit, deadline)
        return self._pinned(info)


class AsyncLLMNamespace(_AsyncModelNamespace["AsyncLLM", LlmLoadConfigDict]):
    """``client.llm``: LLM management and handles."""

    _namespace = "llm"
    _handle_type = AsyncLLM
    _info_type = LLMInstanceInfo
    _load_config_to_kv = staticmethod(llm_load_config_to_kv)

    @checked_arguments
    async def get_model_info(
        self,
        model_specifier: str | ModelQuery | ModelSpecifier | Mapping[str, Any],
        *,
        timeout: Timeout = NOT_GIVEN,
        max_retries: Retries = NOT_GIVEN,
    ) -> LLMInstanceInfo:
        """The info of the loaded LLM with this identifier (or matching this query / specifier);
        ModelNotFoundError when none is loaded."""
        raw = await self._model_info(model_specifier, timeout, max_retries)
        return decode_model_info(raw, LLMInstanceInfo, "getModelInfo")

    @checked_arguments
    async def list_downloaded(
        self, *, timeout: Timeout = NOT_GIVEN, max_retries: Retries = NOT_GIVEN
    ) -> list[AsyncDownloadedLlm]:
        """Every downloaded LLM, each with ``model()`` and ``load_new_instance()``."""
        return [
            AsyncDownloadedLlm(info, self)
            for info in await self._downloaded(timeout, max_retries)
            if isinstance(info, LLMInfo)
        ]


class AsyncEmbeddingNamespace(_AsyncModelNamespace["AsyncEmbeddingModel", EmbeddingLoadConfigDict]):
    """``client.embedding``: embedding model management and handles."""

    _namespace = "embedding"
    _handle_type = AsyncEmbeddingModel
    _info_type = EmbeddingModelInstanceInfo
    _load_config_to_kv = staticmethod(embedding_load_config_to_kv)

    @checked_arguments
    async def get_model_info(
        self,
        model_specifier: str | ModelQuery | ModelSpecifier | Mapping[str, Any],
        *,
        timeout: Timeout = NOT_GIVEN,
        max_retries: Retries = NOT_GIVEN,
    ) -> EmbeddingModelInstanceInfo:
        """The info of the loaded embedding model with this identifier (or matching this query
        / specifier); ModelNotFoundError when none is loaded."""
        raw = await self._model_info(model_specifier, timeout, max_retries)
        return decode_model_info(raw, EmbeddingModelInstanceInfo, "getModelInfo")

    @checked_arguments
    async def list_downloaded(
        self, *, timeout: Timeout = NOT_GIVEN, max_retries: Retries = NOT_GIVEN
    ) -> list[AsyncDownloadedEmbeddingModel]:
        """Every downloaded embedding model, each with ``model()`` and ``load_new_instance()``."""
        return [
            AsyncDownloadedEmbeddingModel(info, self)
            for info in await self._downloaded(timeout, max_retries)
            if isinstance(info, EmbeddingModelInfo)
        ]


# The official SDK's names: the base of both handles, and either kind of downloaded model.
AsyncModelHandle = _AsyncModelHandle
AsyncDownloadedModel: TypeAlias = AsyncDownloadedLlm | AsyncDownloadedEmbeddingModel
AnyAsyncDownloadedModel: TypeAlias = AsyncDownloadedModel
"""A downloaded model of either domain (async face)."""


class _LazySession:
    """Opens the namespace session only when the stream starts (streams never block on creation)."""

    def __init__(self, pool: AsyncSessionPool, namespace: str, timeout: Timeout) -> None:
        self._pool = pool
        self._namespace = namespace
        self._timeout = timeout

    async def open_channel(
        self, endpoint: str, creation_parameter: Raw | UnsetType, *, timeout: float | None
    ) -> AsyncChannel:
        return await self._pool.open_channel(
            self._namespace,
            endpoint,
            None if isinstance(creation_parameter, UnsetType) else creation_parameter,
            timeout,
            prediction=True,
        )


def _prediction_kv(
    where: str, response_format: object, options: PredictionOptions
) -> tuple[ResponseFormat[Any] | None, KVConfig]:
    """The response format (if any) and the prediction KV config it goes into."""
    config = options.get("config")
    if response_format is None:
        return None, prediction_config_to_kv(config)
    fmt = response_format_of(response_format, where)
    if isinstance(config, Mapping) and "structured" in config:
        raise LMStudioValueError(
            f"{where} got both response_format= and config['structured']: pass only one"
        )
    merged: dict[str, Any] = {**(config or {}), "structured": fmt.setting}
    return fmt, prediction_config_to_kv(cast(LlmPredictionConfigDict, merged))


_TOOL_KEYS: Final = frozenset({"llm.prediction.tools", "llm.prediction.toolChoice"})
_REASONING_BUDGET_KEY: Final = "llm.prediction.reasoning.budgetTokens"


def _refuse_chat_options(where: str, kv: KVConfig) -> None:
    """A raw completion has no chat to put tool calls or a reasoning budget in (the
    TypeScript SDK refuses both too)."""
    for field in kv.fields:
        if field.key in _TOOL_KEYS:
            raise LMStudioValueError(
                f"{where} takes no tools (raw_tools, tool_choice): a raw completion cannot "
                "call tools; use respond() or act()"
            )
        budget = field.value if field.key == _REASONING_BUDGET_KEY else None
        if isinstance(budget, dict) and budget.get("checked"):
            raise LMStudioValueError(
                f"{where} takes no reasoning_budget (only False): a raw completion has no "
                "reasoning to budget; use respond() or act()"
            )


def _token_ids(raw: Raw | UnsetType) -> list[int]:
    # The schema types token ids as numbers; LM Studio sends integers.
    return cast(list[int], decode_result(raw, TokenizeResult, "tokenize").tokens)


def _specifier(where: str, value: object) -> ModelSpecifier:
    """An identifier, a ``ModelQuery`` or a ready specifier, as a model specifier."""
    if isinstance(value, str):
        return QuerySpecifier(query=ModelQuery(identifier=value))
    if isinstance(value, ModelQuery):
        return QuerySpecifier(query=value)
    if isinstance(value, QuerySpecifier | InstanceReferenceSpecifier):
        return value
    if isinstance(value, Mapping):
        try:
            if "type" in value:
                specifier: ModelSpecifier = msgspec.convert(value, ModelSpecifier)
                return specifier
            return QuerySpecifier(query=msgspec.convert(value, ModelQuery))
        except msgspec.ValidationError as exc:
            raise LMStudioValueError(f"{where}: {exc}") from None
    raise LMStudioValueError(
        f"{where} takes a model identifier (a string), a ModelQuery, a model specifier or its "
        f"dict, not {type(value).__name__}"
    )


def _one_progress_callback(
    where: str,
    on_progress: AsyncCallback[float] | None,
    on_load_progress: AsyncCallback[float] | None,
) -> AsyncCallback[float] | None:
    """``on_progress`` or its official name ``on_load_progress``, checked; not both."""
    check_async_callback(on_progress, "on_progress")
    check_async_callback(on_load_progress, "on_load_progress")
    if on_progress is not None and on_load_progress is not None:
        raise LMStudioValueError(
            f"{where} got on_progress= and on_load_progress=: they are the same callback, pass one"
        )
    return on_progress if on_progress is not None else on_load_progress


def _ttl_ms(ttl: float | None) -> int | None:
    if ttl is None:
        return None
    if isinstance(ttl, bool) or not isinstance(ttl, int | float) or not ttl > 0:
        raise LMStudioValueError(f"ttl must be a positive number of seconds, got {ttl!r}")
    return max(1, round(ttl * 1000))


def _check_str(what: str, value: object) -> None:
    if not isinstance(value, str):
        raise LMStudioValueError(f"{what} must be a string, not {type(value).__name__}")


def _check_optional_str(what: str, value: object) -> None:
    if value is not None:
        _check_str(what, value)


def _strings(where: str, texts: object) -> list[str]:
    """A list of strings; bytes or a single non-string are the caller's mistake, not a list."""
    if isinstance(texts, bytes | bytearray) or not isinstance(texts, Sequence):
        raise LMStudioValueError(
            f"{where} takes a string or a list of strings, not {type(texts).__name__}"
        )
    for index, text in enumerate(texts):
        if not isinstance(text, str):
            raise LMStudioValueError(
                f"{where} takes a list of strings; item {index} is a {type(text).__name__}"
            )
    return list(texts)


_OPTION_NAMES: Final = PredictionOptions.__required_keys__ | PredictionOptions.__optional_keys__


def _check_prediction_options(
    where: str, options: Mapping[str, object], *, stream_alternative: str | None
) -> None:
    """Refuse what ``**options`` does not take, saying where it belongs instead."""
    for name, value in options.items():
        if name in _OPTION_NAMES:
            continue
        if name == "stream":
            fix = (
                f"use {stream_alternative} to stream"
                if stream_alternative
                else "this method always streams"
            )
            raise LMStudioValueError(f"{where} takes no stream= argument; {fix}")
        if name in PREDICTION.names:
            raise LMStudioValueError(
                f"{where} got {name}= as an argument; prediction settings go in config=, "
                f"e.g. config={{{name!r}: {value!r}}}"
            )
        reject_unknown_arguments(where, {name: value}, sorted(_OPTION_NAMES))
    preset = options.get("preset")
    _check_optional_str(f"{where} preset", preset)
    for callback in (
        "on_fragment",
        "on_prediction_fragment",
        "on_first_token",
        "on_message",
        "on_prompt_processing_progress",
    ):
        check_async_callback(options.get(callback), callback)
    if options.get("on_fragment") is not None and options.get("on_prediction_fragment") is not None:
        raise LMStudioValueError(
            f"{where} got on_fragment= and on_prediction_fragment=: they are the same callback, "
            "pass one"
        )


def _warn_if_context_differs(
    key: str, stack: KVConfigStack, info: LLMInstanceInfo | EmbeddingModelInstanceInfo | None
) -> None:
    """LM Studio answers getOrLoad with the loaded instance as it is, whatever config was asked
    for: say so when the context length differs, rather than let it pass silently."""
    asked = [
        f.value for f in stack.layers[0].config.fields if f.key.endswith(".load.contextLength")
    ]
    if info is None or not asked or asked[0] == info.context_length:
        return
    warnings.warn(
        f"model({key!r}) returned an instance with context length {info.context_length}, "
        f"not the {asked[0]} asked for: an instance of it was already loaded. Unload it first, "
        f"or load() a new instance",
        UserWarning,
        stacklevel=3,
    )
