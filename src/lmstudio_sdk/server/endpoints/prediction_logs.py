"""A prediction's diagnostics events (``llm.prediction.input`` / ``.output``) for the log bus.

Built only when someone subscribed: rendering the prompt costs a template pass.
"""

from __future__ import annotations

from ..._protocol.packets.diagnostics import (
    StreamLogsLogPacketLogDataLlmPredictionInput as PredictionInputData,
)
from ..._protocol.packets.diagnostics import (
    StreamLogsLogPacketLogDataLlmPredictionOutput as PredictionOutputData,
)
from ..._protocol.packets.shared import ChatHistoryData, PredictionStats, TextPart
from ..errors import ServerError
from ..services.models import Instance
from .context import CallContext

__all__ = ["log_prediction_input", "log_prediction_output"]


def log_prediction_input(
    ctx: CallContext, instance: Instance, history: ChatHistoryData | None, raw_prompt: str | None
) -> None:
    if not ctx.logs.has_subscribers:
        return
    text = raw_prompt if raw_prompt is not None else _prompt_text(instance, history)
    ctx.logs.publish(
        PredictionInputData(
            input=text, model_path=instance.info.path, model_identifier=instance.identifier
        )
    )


def log_prediction_output(
    ctx: CallContext, instance: Instance, output: str, stats: PredictionStats
) -> None:
    if ctx.logs.has_subscribers:
        ctx.logs.publish(
            PredictionOutputData(output=output, stats=stats, model_identifier=instance.identifier)
        )


def _prompt_text(instance: Instance, history: ChatHistoryData | None) -> str:
    """The prompt as the model's template formats it; the chat as ``role: text`` lines when
    the engine has no template (the openai engine formats upstream)."""
    if history is None:
        return ""
    try:
        return instance.model.apply_prompt_template(history)
    except ServerError:
        return "\n".join(
            f"{message.role}: "
            + "".join(part.text for part in message.content if isinstance(part, TextPart))
            for message in history.messages
        )
