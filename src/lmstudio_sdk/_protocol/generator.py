"""A generator plugin's prediction (``generateWithGenerator``): its packets as events, and its
result. Unlike a model's prediction, it ends with a bare ``success``: no stats, no model.

The events are a model prediction's (``PredictionFragment``, ``PromptProcessingProgress``, the
tool-call events), so ``act()`` drives a generator the way it drives a model."""

from __future__ import annotations

from dataclasses import dataclass, field

import msgspec
from msgspec import Raw

from .._exceptions import RemoteProtocolError
from .packets import ENDPOINTS
from .packets.plugins import (
    GenerateWithGeneratorPromptProcessingProgressPacket,
    GenerateWithGeneratorToolCallGenerationEndPacket,
    GenerateWithGeneratorToolCallGenerationFailedPacket,
)
from .packets.shared import (
    PredictFragmentPacket,
    PredictToolCallGenerationArgumentFragmentGeneratedPacket,
    PredictToolCallGenerationNameReceivedPacket,
    PredictToolCallGenerationStartPacket,
    SuccessPacket,
    ToolCallRequest,
)
from .prediction import (
    PredictionEvent,
    PromptProcessingProgress,
    ToolCallArgumentFragment,
    ToolCallGenerationEnded,
    ToolCallGenerationFailed,
    ToolCallGenerationStarted,
    ToolCallNameReceived,
)

__all__ = ["GeneratorResult", "GeneratorState"]

_decoder: msgspec.json.Decoder[object] = msgspec.json.Decoder(
    ENDPOINTS["plugins", "generateWithGenerator"].to_client
)


@dataclass(frozen=True, slots=True)
class GeneratorResult:
    """What a generator plugin produced."""

    plugin_identifier: str
    content: str
    reasoning_content: str
    non_reasoning_content: str
    tool_calls: list[ToolCallRequest] = field(default_factory=list)
    tool_call_failures: int = 0
    round_index: int = 0
    """Which round of ``act()`` produced it (0 outside ``act()``)."""


class GeneratorState:
    def __init__(self, plugin_identifier: str) -> None:
        self._plugin = plugin_identifier
        self._content: list[str] = []
        self._reasoning: list[str] = []
        self._non_reasoning: list[str] = []
        self._tool_calls: list[ToolCallRequest] = []
        self._failures = 0
        self.finished = False

    def feed(self, message: Raw) -> list[PredictionEvent]:
        try:
            packet = _decoder.decode(message)
        except msgspec.ValidationError as exc:
            raise RemoteProtocolError(
                f"the server sent an invalid generator packet: {exc}"
            ) from None
        match packet:
            case PredictFragmentPacket(fragment=fragment):
                self._content.append(fragment.content)
                if fragment.reasoning_type == "reasoning":
                    self._reasoning.append(fragment.content)
                elif fragment.reasoning_type == "none" and not fragment.is_structural:
                    self._non_reasoning.append(fragment.content)
                return [fragment]
            case GenerateWithGeneratorPromptProcessingProgressPacket(
                progress=progress, details=details
            ):
                return [PromptProcessingProgress(float(progress), details)]
            case PredictToolCallGenerationStartPacket(tool_call_id=tool_call_id):
                return [ToolCallGenerationStarted(tool_call_id)]
            case PredictToolCallGenerationNameReceivedPacket(name=name):
                return [ToolCallNameReceived(name)]
            case PredictToolCallGenerationArgumentFragmentGeneratedPacket(content=content):
                return [ToolCallArgumentFragment(content)]
            case GenerateWithGeneratorToolCallGenerationEndPacket(tool_call_request=request):
                self._tool_calls.append(request)
                return [ToolCallGenerationEnded(request, None)]
            case GenerateWithGeneratorToolCallGenerationFailedPacket():
                self._failures += 1
                # the generator's packet carries no reason (the TS SDK says the same)
                return [ToolCallGenerationFailed("tool call generation failed", None)]
            case SuccessPacket():
                self.finished = True
        return []

    def channel_closed(self) -> None:
        if not self.finished:
            raise RemoteProtocolError("the server closed the generator channel before success")

    def result(self) -> GeneratorResult:
        if not self.finished:
            raise RemoteProtocolError("the generator has not finished")
        return GeneratorResult(
            plugin_identifier=self._plugin,
            content="".join(self._content),
            reasoning_content="".join(self._reasoning),
            non_reasoning_content="".join(self._non_reasoning),
            tool_calls=list(self._tool_calls),
            tool_call_failures=self._failures,
        )
