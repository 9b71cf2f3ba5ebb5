"""The pure parts of ``act()``: results, the guard's decisions, and turning a model's tool
call into either a call to make or the error result the model sees.

The loops themselves (waiting for predictions, running tools) are in ``_async/act.py`` (and
its generated sync twin); nothing here does I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from .._exceptions import (
    InvalidToolRequestError,
    LMStudioValueError,
    ToolArgumentsError,
    ToolCallError,
)
from .chat import Chat
from .generator import GeneratorResult
from .packets.shared import ToolCallRequest, ToolCallResultPart
from .partial_json import JsonValue
from .prediction import PredictionResult
from .tools import Tool, ToolSet, error_result_content, result_content

__all__ = [
    "ActResult",
    "GeneratorActResult",
    "GuardDecision",
    "PlannedCall",
    "ToolCallOutcome",
    "ToolErrorMode",
    "check_act_options",
    "plan_call",
]

ToolErrorMode = Literal["report", "raise"]
"""What ``act()`` does when a tool raises: tell the model (``"report"``) or raise."""


@dataclass(frozen=True)
class ActResult:
    """What ``act()`` did: every round's prediction, and the chat it appended to.

    ``rounds`` and ``total_time_seconds`` are ``lmstudio``'s ``ActResult`` fields.
    """

    rounds: int
    total_time_seconds: float
    results: list[PredictionResult[JsonValue]]
    """Each round's prediction (``round_index`` set), in order; the last is the answer."""
    chat: Chat
    """The chat with every message of every round appended (the caller's own ``Chat``)."""

    @property
    def final(self) -> PredictionResult[JsonValue]:
        """The last round's prediction: the model's answer."""
        return self.results[-1]

    @property
    def content(self) -> str:
        """The text of the last round's reply (the model's final answer)."""
        return self.final.content

    def __str__(self) -> str:
        return self.final.content


@dataclass(frozen=True)
class GeneratorActResult:
    """What a generator plugin's ``act()`` did: every round's generation (``round_index``
    set), and the chat it appended to."""

    rounds: int
    total_time_seconds: float
    results: list[GeneratorResult]
    chat: Chat

    @property
    def final(self) -> GeneratorResult:
        """The last round's generation: the generator's answer."""
        return self.results[-1]

    @property
    def content(self) -> str:
        """The text of the last round's reply (the generator's final answer)."""
        return self.final.content

    def __str__(self) -> str:
        return self.final.content


@dataclass(frozen=True)
class GuardDecision:
    """What a ``guard_tool_call`` callback returns: ``GuardDecision.allow()``,
    ``GuardDecision.allow_with(arguments)`` (call with other arguments) or
    ``GuardDecision.deny(reason)`` (the model sees the reason as the tool's error)."""

    kind: Literal["allow", "override", "deny"]
    arguments: Mapping[str, object] | None = None
    reason: str = ""

    @classmethod
    def allow(cls) -> GuardDecision:
        """Run the tool call as the model asked."""
        return cls("allow")

    @classmethod
    def allow_with(cls, arguments: Mapping[str, object]) -> GuardDecision:
        """Run the tool call with these arguments instead of the model's.

        Args:
            arguments: The arguments to call the tool with (checked against its signature).

        Raises:
            LMStudioValueError: ``arguments`` is not a mapping.
        """
        if not isinstance(arguments, Mapping):
            raise LMStudioValueError("GuardDecision.allow_with() takes the arguments as a dict")
        return cls("override", arguments=dict(arguments))

    allow_and_override_parameters = allow_with  # the TS SDK's name

    @classmethod
    def deny(cls, reason: str = "The user denied this tool call.") -> GuardDecision:
        """Do not run the tool call; the model gets ``reason`` as the tool's error.

        Args:
            reason: What the model is told.

        Raises:
            LMStudioValueError: ``reason`` is not a string.
        """
        if not isinstance(reason, str):
            raise LMStudioValueError("GuardDecision.deny() takes the reason as a string")
        return cls("deny", reason=reason)


@dataclass(frozen=True)
class ToolCallOutcome:
    """One tool call of a round, finished: what the model asked, and what it gets back."""

    round_index: int
    request: ToolCallRequest
    result: ToolCallResultPart
    error: ToolCallError | None = None
    """Set when the call failed (bad arguments, no such tool, denied, or the tool raised)."""
    value: Any = field(default=None, repr=False)
    """What the tool returned (None when it failed)."""


@dataclass(frozen=True)
class PlannedCall:
    """A validated call to make."""

    request: ToolCallRequest
    tool: Tool[..., Any]
    arguments: dict[str, Any]


def plan_call(tools: ToolSet, request: ToolCallRequest) -> PlannedCall:
    """The tool and validated keyword arguments of a model's request.

    Raises:
        InvalidToolRequestError: no tool has that name.
        ToolArgumentsError: the arguments do not fit the tool's signature.
    """
    found = tools.get(request.name)
    if found is None:
        names = ", ".join(sorted(tools.tools))
        raise InvalidToolRequestError(
            f"there is no tool named {request.name!r}; the tools are: {names}",
            tool_name=request.name,
            tool_call_id=request.id,
        )
    try:
        arguments = found.validate(request.arguments)
    except ToolArgumentsError as exc:
        raise ToolArgumentsError(
            str(exc), tool_name=request.name, tool_call_id=request.id
        ) from None
    return PlannedCall(request, found, arguments)


def success(round_index: int, request: ToolCallRequest, value: Any) -> ToolCallOutcome:
    content = result_content(value)
    part = ToolCallResultPart(content=content, tool_call_id=request.id, name=request.name)
    return ToolCallOutcome(round_index, request, part, value=value)


def failure(
    round_index: int, request: ToolCallRequest, error: ToolCallError, message: str | None = None
) -> ToolCallOutcome:
    content = error_result_content(message if message is not None else str(error))
    part = ToolCallResultPart(content=content, tool_call_id=request.id, name=request.name)
    return ToolCallOutcome(round_index, request, part, error=error)


def check_act_options(
    max_prediction_rounds: object, max_parallel_tool_calls: object, on_tool_error: object
) -> None:
    for name, value in (
        ("max_prediction_rounds", max_prediction_rounds),
        ("max_parallel_tool_calls", max_parallel_tool_calls),
    ):
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise LMStudioValueError(f"act() {name}={value!r} must be a whole number >= 1, or None")
    if on_tool_error not in ("report", "raise"):
        raise LMStudioValueError(
            f"act() on_tool_error={on_tool_error!r}: pass 'report' (the model sees the error) "
            "or 'raise'"
        )
