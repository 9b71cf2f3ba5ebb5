"""Lenience toward newer servers: unknown enum literals are accepted and logged once each."""

from __future__ import annotations

import logging
from typing import get_args

from .schema import KnownModelFormat, KnownReasoningType, KnownStopReason

__all__ = ["note_enum"]

logger = logging.getLogger("lmstudio_sdk.protocol")

_KNOWN: dict[str, frozenset[str]] = {
    "stopReason": frozenset(get_args(KnownStopReason)),
    "reasoningType": frozenset(get_args(KnownReasoningType)),
    "format": frozenset(get_args(KnownModelFormat)),
}
_seen: set[tuple[str, str]] = set()


def note_enum(field: str, value: str) -> None:
    """Log (once per field and value) a literal this SDK does not know; never raise."""
    if value in _KNOWN[field] or (field, value) in _seen:
        return
    _seen.add((field, value))
    logger.info(
        "LM Studio sent %s=%r, which this SDK does not know; passing it through", field, value
    )
