"""The ``predict`` / ``completeRawText`` channel as a pure state machine.

``PredictionState.feed(packet)`` takes one server packet and returns the public events it
produces; after the ``success`` packet, ``result()`` builds the PredictionResult. The stream
wrappers of both faces are thin loops around this object: nothing here knows about I/O, and no
callback or extra dict travels down the stack.
"""

from __future__ import annotations

import logging
from typing import Any, Generic, get_args

import msgspec
from msgspec import Raw

from .._exceptions import (
    LMStudioChannelClosedError,
    LMStudioError,
    LMStudioPredictionError,
    LMStudioServerError,
    RemoteProtocolError,
)
from .._types import ParsedT
from .errors import parse_error_data
from .packets import ENDPOINTS
from .packets.llm import PredictToolCallGenerationEndPacket, PredictToolCallGenerationFailedPacket
from .packets.shared import (
    FragmentToken,
    KVConfig,
    LLMInstanceInfo,
    PredictFragmentPacket,
    PredictionFragment,
    PredictionStats,
    PredictPromptProcessingProgressPacket,
    PredictSuccessPacket,
    PredictToolCallGenerationArgumentFragmentGeneratedPacket,
    PredictToolCallGenerationNameReceivedPacket,
    PredictToolCallGenerationStartPacket,
    PromptProcessingDetails,
    ToolCallRequest,
)
from .structured import ResponseFormat, json_reply
from .tolerance import fill_packet, note_enum

__all__ = [
    "ContextOverflow",
    "PredictionEvent",
    "PredictionResult",
    "PredictionState",
    "PromptProcessingProgress",
    "ToolCallArgumentFragment",
    "ToolCallGenerationEnded",
    "ToolCallGenerationFailed",
    "ToolCallGenerationStarted",
    "ToolCallNameReceived",
    "may_overflow",
]

logger = logging.getLogger("lmstudio_sdk.protocol")


# The predict channel's packets; completeRawText sends a subset of them.
_PredictionPacket = ENDPOINTS["llm", "predict"].to_client
_decoder = msgspec.json.Decoder(_PredictionPacket)
_KNOWN_TYPES = frozenset(cls.__struct_config__.tag for cls in get_args(_PredictionPacket))
_unknown_seen: set[str] = set()


# -- public events ----------------------------------------------------------------------------


class PromptProcessingProgress(msgspec.Struct, frozen=True):
    """How far the model got reading the prompt (0..1)."""

    progress: float
    details: PromptProcessingDetails | None


class ToolCallGenerationStarted(msgspec.Struct, frozen=True):
    """The model began a tool call."""

    tool_call_id: str | None


class ToolCallNameReceived(msgspec.Struct, frozen=True):
    """The name of the tool the model is calling."""

    name: str


class ToolCallArgumentFragment(msgspec.Struct, frozen=True):
    """A piece of the arguments' JSON text as the model writes it."""

    content: str


class ToolCallGenerationEnded(msgspec.Struct, frozen=True):
    """The tool call is complete: ``request`` is what the model asked for."""

    request: ToolCallRequest
    raw_content: str | None


class ToolCallGenerationFailed(msgspec.Struct, frozen=True):
    """The model's tool call did not parse (or named no known tool)."""

    error: str
    raw_content: str | None


PredictionEvent = (
    PredictionFragment
    | PromptProcessingProgress
    | ToolCallGenerationStarted
    | ToolCallNameReceived
    | ToolCallArgumentFragment
    | ToolCallGenerationEnded
    | ToolCallGenerationFailed
)
"""Any event of a prediction stream, as ``stream.events()`` yields them."""


# Servers keep a few tokens of the context free for the reply when they cut a prompt (ours
# keeps 8), so "full" means within this many tokens of the context length.
_CONTEXT_FULL_SLACK = 8
# A token is at least one byte of text, and a chat template adds fewer tokens than this
# (role markers, a default system prompt): a prompt of fewer bytes cannot overflow.
_TEMPLATE_ALLOWANCE = 1024


class ContextOverflow(msgspec.Struct, frozen=True):
    """The prompt, or the prompt and the reply, did not fit in the model's context, so the
    server made room by its context overflow policy: ``truncateMiddle`` (the default) dropped
    messages or tokens from the middle of the conversation (the system prompt and the first
    message stay), ``rollingWindow`` dropped the oldest, ``stopAtLimit`` stopped the reply
    (``stop_reason == "contextLengthReached"``).

    The protocol has no field that says a prompt was cut, so the client works it out: from the
    stats (the tokens the model saw plus those it wrote reached the context length), and, for a
    prompt long enough to possibly overflow, by counting the whole prompt's tokens (two quick
    calls after the prediction: the prompt template, then a token count).
    """

    policy: str
    context_length: int
    prompt_tokens: int
    """The prompt tokens the model saw (after any cut)."""
    predicted_tokens: int
    full_prompt_tokens: int | None = None
    """The whole prompt's tokens as the client counted them (template applied; special
    tokens may count as a few plain ones), when the prompt was long enough to check."""

    @property
    def prompt_was_cut(self) -> bool:
        """Whether the server dropped part of the prompt (not only room made while replying)."""
        return self.full_prompt_tokens is not None and self.full_prompt_tokens > self.prompt_tokens

    def __str__(self) -> str:
        if self.policy == "stopAtLimit":
            action = "the reply stopped at the limit"
        elif self.policy == "rollingWindow":
            action = "the oldest messages or tokens were dropped to make room"
        else:
            action = "messages or tokens from the middle were dropped to make room"
        if self.prompt_was_cut:
            what = (
                f"the prompt (about {self.full_prompt_tokens} tokens) did not fit in the context "
                f"({self.context_length} tokens); the model saw {self.prompt_tokens} of them"
            )
        else:
            what = (
                f"the context ({self.context_length} tokens) was full: {self.prompt_tokens} "
                f"prompt + {self.predicted_tokens} generated tokens"
            )
        return (
            f"{what}; {action} ({self.policy}). Load the model with a longer context_length or "
            "shorten the conversation to avoid it."
        )


def may_overflow(prompt_bytes: int, context_length: int) -> bool:
    """Whether a prompt of ``prompt_bytes`` UTF-8 bytes of text could exceed the context
    (if not, counting its tokens after the prediction is not worth two calls)."""
    return prompt_bytes + _TEMPLATE_ALLOWANCE >= context_length - _CONTEXT_FULL_SLACK


class PredictionResult(msgspec.Struct, Generic[ParsedT], frozen=True):
    """A finished prediction; ``parsed`` is the reply as the ``response_format`` type."""

    content: str
    """Everything the model produced, reasoning included."""
    reasoning_content: str
    non_reasoning_content: str
    stats: PredictionStats
    model_info: LLMInstanceInfo
    load_config: KVConfig
    prediction_config: KVConfig
    tool_calls: list[ToolCallRequest] = msgspec.field(default_factory=list)
    structured: bool = False
    round_index: int = 0
    response_format: ResponseFormat[ParsedT] | None = None
    """What ``response_format=`` asked for (None: none was given)."""
    tokens: list[FragmentToken] | None = None
    """Every generated token with its log-probability and top alternatives, when
    ``config={"log_probs": k}`` asked for them (None otherwise)."""
    context_overflow: ContextOverflow | None = None
    """How the prompt or the reply overflowed the model's context, or None when they fit
    (servers cut an overlong prompt without a word; see ContextOverflow)."""

    @property
    def parsed(self) -> ParsedT:
        """The reply as the ``response_format`` type (an instance of the pydantic model,
        Struct, dataclass or TypedDict; plain JSON values for a JSON schema dict; the text for
        a GBNF grammar); without ``response_format``, the content decoded as JSON.

        Raises:
            StructuredOutputError: the content is not JSON (for example because
                ``max_tokens`` cut it off) or does not validate as the type; it carries
                ``raw_text``, ``stop_reason``, ``target`` and the validator's ``error``.
        """
        text = self.non_reasoning_content if self.reasoning_content else self.content
        if self.response_format is not None:
            return self.response_format.parse(text, self.stats.stop_reason)
        parsed: ParsedT = json_reply(text, self.stats.stop_reason)
        return parsed

    def __str__(self) -> str:
        return self.content


def prediction_failure(error: LMStudioError) -> LMStudioError:
    """The error that ended a prediction channel, as the official SDK names it: a server error
    of no more specific kind is an ``LMStudioPredictionError`` (still an LMStudioServerError)."""
    if type(error) is LMStudioServerError:
        failure = LMStudioPredictionError(error.data)
        failure.__cause__ = error.__cause__
        return failure
    return error


def context_overflow(
    stats: PredictionStats,
    model_info: LLMInstanceInfo,
    prediction_config: KVConfig,
    full_prompt_tokens: int | None = None,
) -> ContextOverflow | None:
    """ContextOverflow of a finished prediction, or None when everything fit."""
    context_length = model_info.context_length
    prompt = stats.prompt_tokens_count or 0
    predicted = stats.predicted_tokens_count or 0
    if context_length <= 0:
        return None
    limit = context_length - _CONTEXT_FULL_SLACK
    full = prompt + predicted >= limit or stats.stop_reason == "contextLengthReached"
    cut = full_prompt_tokens is not None and full_prompt_tokens > limit
    if not (full or cut):
        return None
    policy = _kv_value(prediction_config, "llm.prediction.contextOverflowPolicy")
    return ContextOverflow(
        policy=policy if isinstance(policy, str) else "truncateMiddle",
        context_length=context_length,
        prompt_tokens=prompt,
        predicted_tokens=predicted,
        full_prompt_tokens=full_prompt_tokens if cut else None,
    )


def _kv_value(kv: KVConfig, key: str) -> Any:
    for field in kv.fields:
        if field.key == key:
            return field.value
    return None


class PredictionState:
    """Accumulates one prediction channel's packets into events and a result."""

    def __init__(
        self, *, structured: bool = False, response_format: ResponseFormat[Any] | None = None
    ) -> None:
        self._structured = structured or response_format is not None
        self._response_format = response_format
        self._content: list[str] = []
        self._reasoning: list[str] = []
        self._non_reasoning: list[str] = []
        self._tool_calls: list[ToolCallRequest] = []
        self._tokens: list[FragmentToken] | None = None
        self._success: PredictSuccessPacket | None = None
        self._overflow: ContextOverflow | None = None
        self._overflow_checked = False
        self.first_fragment_seen = False

    @property
    def finished(self) -> bool:
        return self._success is not None

    @property
    def context_length(self) -> int:
        """The model's context length, from the final packet (0 before it)."""
        return self._success.model_info.context_length if self._success is not None else 0

    def check_overflow(self, full_prompt_tokens: int | None = None) -> None:
        """Work out ContextOverflow once the prediction has finished (``full_prompt_tokens``:
        the whole prompt's count, when the caller measured it) and log it: servers cut an
        overlong prompt silently, so this is where the user hears of it."""
        success = self._success
        if success is None or self._overflow_checked:
            return
        self._overflow_checked = True
        self._overflow = context_overflow(
            success.stats, success.model_info, success.prediction_config, full_prompt_tokens
        )
        if self._overflow is not None:
            logger.warning("%s: %s", success.model_info.identifier, self._overflow)

    def feed(self, message: Raw) -> list[PredictionEvent]:
        try:
            packet = _decoder.decode(message)
        except msgspec.ValidationError as exc:
            lenient = _decode_leniently(message, exc)
            if lenient is None:
                return []
            packet = lenient
            if isinstance(packet, _ProgressWithoutDetails):
                return [PromptProcessingProgress(packet.progress, None)]
        match packet:
            case PredictFragmentPacket(fragment=fragment):
                note_enum("reasoningType", fragment.reasoning_type)
                self.first_fragment_seen = True
                self._content.append(fragment.content)
                if fragment.tokens is not None:
                    if self._tokens is None:
                        self._tokens = []
                    self._tokens.extend(fragment.tokens)
                if not fragment.is_structural:
                    if fragment.reasoning_type == "reasoning":
                        self._reasoning.append(fragment.content)
                    elif fragment.reasoning_type == "none":
                        self._non_reasoning.append(fragment.content)
                return [fragment]
            case PredictPromptProcessingProgressPacket(progress=progress, details=details):
                return [PromptProcessingProgress(float(progress), details)]
            case PredictToolCallGenerationStartPacket(tool_call_id=tool_call_id):
                return [ToolCallGenerationStarted(tool_call_id)]
            case PredictToolCallGenerationNameReceivedPacket(name=name):
                return [ToolCallNameReceived(name)]
            case PredictToolCallGenerationArgumentFragmentGeneratedPacket(content=content):
                return [ToolCallArgumentFragment(content)]
            case PredictToolCallGenerationEndPacket(
                tool_call_request=request, raw_content=raw_content
            ):
                self._tool_calls.append(request)
                return [ToolCallGenerationEnded(request, raw_content)]
            case PredictToolCallGenerationFailedPacket(error=error, raw_content=raw_content):
                title = parse_error_data(msgspec.to_builtins(error)).title
                return [ToolCallGenerationFailed(title, raw_content)]
            case PredictSuccessPacket():
                note_enum("stopReason", packet.stats.stop_reason)
                self._success = packet
                return []
            case _:
                return []

    def channel_closed(self) -> None:
        """The server closed the channel; that is only valid after ``success``."""
        if self._success is None:
            raise LMStudioChannelClosedError(
                "LM Studio closed the prediction channel before sending the final result"
            )

    def result(self) -> PredictionResult[Any]:
        if self._success is None:
            raise RemoteProtocolError("the prediction has not finished")
        success = self._success
        self.check_overflow()
        return PredictionResult(
            content="".join(self._content),
            reasoning_content="".join(self._reasoning),
            non_reasoning_content="".join(self._non_reasoning),
            stats=success.stats,
            model_info=success.model_info,
            load_config=success.load_model_config,
            prediction_config=success.prediction_config,
            tool_calls=list(self._tool_calls),
            structured=self._structured,
            response_format=self._response_format,
            tokens=self._tokens,
            context_overflow=self._overflow,
        )


class _ProgressWithoutDetails(msgspec.Struct, frozen=True):
    """A progress packet of a TS 1.x era server, which sent no details."""

    progress: float


def _decode_leniently(message: Raw, error: msgspec.ValidationError) -> Any:
    """The packet, tolerating what older servers leave out; None for an unknown type."""
    loose = msgspec.json.decode(message)  # a payload slot always holds valid JSON
    kind = loose.get("type") if isinstance(loose, dict) else None
    if not isinstance(kind, str) or kind not in _KNOWN_TYPES:
        if isinstance(kind, str):
            if kind not in _unknown_seen:
                _unknown_seen.add(kind)
                logger.info("ignoring an unknown prediction packet type %r", kind)
            return None
        raise RemoteProtocolError(f"LM Studio sent an invalid prediction packet: {error}")
    filled = fill_packet(loose)
    if kind == "toolCallGenerationFailed":
        # The error may be a plain string, or missing, from older servers.
        filled["error"] = msgspec.to_builtins(parse_error_data(filled.get("error")))
    try:
        if kind == "promptProcessingProgress" and "details" not in filled:
            return msgspec.convert(filled, _ProgressWithoutDetails)
        return msgspec.convert(filled, _PredictionPacket)
    except msgspec.ValidationError as exc:
        raise RemoteProtocolError(f"LM Studio sent an invalid prediction packet: {exc}") from exc
