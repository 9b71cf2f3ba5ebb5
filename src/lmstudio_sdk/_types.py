"""Small shared types: the NOT_GIVEN sentinel and timeout resolution."""

from __future__ import annotations

import enum
from typing import Final, Literal

__all__ = ["NOT_GIVEN", "NotGiven", "Timeout", "resolve_timeout"]


class NotGiven(enum.Enum):
    """Marks an argument the caller did not pass (``None`` means 'no limit' for timeouts)."""

    NOT_GIVEN = enum.auto()

    def __repr__(self) -> str:
        return "NOT_GIVEN"


NOT_GIVEN: Final = NotGiven.NOT_GIVEN

Timeout = float | None | Literal[NotGiven.NOT_GIVEN]


def resolve_timeout(timeout: Timeout, default: float | None) -> float | None:
    return default if timeout is NOT_GIVEN else timeout
