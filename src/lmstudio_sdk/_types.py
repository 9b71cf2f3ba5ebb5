"""Small shared types and argument checks: the NOT_GIVEN sentinel, timeouts, unknown keywords."""

from __future__ import annotations

import difflib
import enum
import math
from collections.abc import Iterable, Mapping
from typing import Final, Literal

from ._exceptions import LMStudioValueError

__all__ = [
    "NOT_GIVEN",
    "NotGiven",
    "Timeout",
    "check_timeout",
    "reject_unknown_arguments",
    "resolve_timeout",
]


class NotGiven(enum.Enum):
    """Marks an argument the caller did not pass (``None`` means 'no limit' for timeouts)."""

    NOT_GIVEN = enum.auto()

    def __repr__(self) -> str:
        return "NOT_GIVEN"


NOT_GIVEN: Final = NotGiven.NOT_GIVEN

Timeout = float | None | Literal[NotGiven.NOT_GIVEN]


def check_timeout(timeout: object, name: str = "timeout") -> float | None:
    """A timeout in seconds, or None for no limit; anything else is the caller's mistake.

    Zero, negative, infinite and NaN values are refused rather than given a meaning: each
    would make every call fail at once or wait forever, which ``None`` says explicitly.
    """
    if timeout is None:
        return None
    fix = "pass a positive number of seconds, or None to wait forever"
    if isinstance(timeout, bool) or not isinstance(timeout, int | float):
        raise LMStudioValueError(f"{name}={timeout!r} is not a number of seconds; {fix}")
    if not math.isfinite(timeout) or timeout <= 0:
        raise LMStudioValueError(f"{name}={timeout!r} is impossible; {fix}")
    return float(timeout)


def resolve_timeout(timeout: Timeout, default: float | None) -> float | None:
    return default if timeout is NOT_GIVEN else check_timeout(timeout)


def reject_unknown_arguments(
    where: str, unknown: Mapping[str, object], known: Iterable[str]
) -> None:
    """Raise for the first keyword argument ``where`` does not take, with the closest known name.

    Entry points take ``**unknown: Never`` so that mypy flags a misspelt keyword and the
    runtime names it, instead of Python's bare ``TypeError``.
    """
    for name in unknown:
        match = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
        hint = f"; did you mean {match[0]!r}?" if match else ""
        raise LMStudioValueError(f"{where} got an unknown argument {name!r}{hint}")
