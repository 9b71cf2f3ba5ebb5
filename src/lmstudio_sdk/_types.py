"""Small shared types and argument checks: the NOT_GIVEN sentinel, timeouts, unknown keywords."""

from __future__ import annotations

import difflib
import enum
import functools
import inspect
import math
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Final, Literal, ParamSpec, TypeAlias, TypeVar

from ._exceptions import LMStudioValueError

__all__ = [
    "NOT_GIVEN",
    "AsyncCallback",
    "AsyncNotice",
    "AsyncPromptCounter",
    "AsyncRoundCallback",
    "Callback",
    "NotGiven",
    "Notice",
    "ParsedT",
    "PromptCounter",
    "RoundCallback",
    "Timeout",
    "call_async_hook",
    "call_hook",
    "check_async_callback",
    "check_callback",
    "check_timeout",
    "checked_arguments",
    "reject_unknown_arguments",
    "resolve_timeout",
    "run_async_callback",
    "run_callback",
]


if TYPE_CHECKING:  # a default (PEP 696): a bare ``PredictionResult`` means ``[Any]``
    from typing_extensions import TypeVar as DefaultTypeVar

    ParsedT = DefaultTypeVar("ParsedT", default=Any)
else:  # type checkers only: Python 3.11's TypeVar takes no default, and none is needed here
    ParsedT = TypeVar("ParsedT")
"""What ``response_format=`` makes of a reply (``PredictionResult[ParsedT].parsed``)."""


class NotGiven(enum.Enum):
    """Marks an argument the caller did not pass (``None`` means 'no limit' for timeouts)."""

    NOT_GIVEN = enum.auto()

    def __repr__(self) -> str:
        return "NOT_GIVEN"


NOT_GIVEN: Final = NotGiven.NOT_GIVEN
"""The default of arguments such as ``timeout=``: not given, so the client's default applies."""

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


# -- callbacks: the async face awaits what a callback returns, the sync face cannot ---------------

ValueT = TypeVar("ValueT")
AsyncCallback: TypeAlias = Callable[[ValueT], Awaitable[None] | None]
"""A callback of the async face: a plain function or a coroutine function (awaited)."""
Callback: TypeAlias = Callable[[ValueT], None]
"""A callback of the sync face: a plain function."""
AsyncNotice: TypeAlias = Callable[[], Awaitable[None] | None]
"""A callback without an argument, async face (``on_start_finalizing``)."""
Notice: TypeAlias = Callable[[], None]
"""A callback without an argument, sync face."""

AsyncRoundCallback: TypeAlias = Callable[[ValueT, int], Awaitable[None] | None]
"""A callback of ``act()`` (async face): the value, then the round index."""
RoundCallback: TypeAlias = Callable[[ValueT, int], None]
"""A callback of ``act()`` (sync face): the value, then the round index."""

AsyncPromptCounter: TypeAlias = Callable[[int], Awaitable[int | None]]
"""Counts a finished prediction's whole prompt, given the context length (async face)."""
PromptCounter: TypeAlias = Callable[[int], int | None]
"""Counts a finished prediction's whole prompt, given the context length (sync face)."""

_NO_AWAIT = "the sync Client cannot await it: pass a plain function, or use AsyncClient"


def check_async_callback(callback: object, name: str) -> None:
    """A callback of the async face is any callable, or None."""
    if callback is not None and not callable(callback):
        raise LMStudioValueError(
            f"{name} must be a function or None, not {type(callback).__name__}"
        )


def check_callback(callback: object, name: str) -> None:
    """A callback of the sync face is a callable that is not a coroutine function, or None."""
    check_async_callback(callback, name)
    if inspect.iscoroutinefunction(callback):
        raise LMStudioValueError(f"{name} is a coroutine function; {_NO_AWAIT}")


async def run_async_callback(callback: AsyncCallback[ValueT] | None, value: ValueT) -> None:
    if callback is not None:
        outcome = callback(value)
        if inspect.isawaitable(outcome):
            await outcome


def run_callback(callback: Callback[ValueT] | None, value: ValueT) -> None:
    if callback is not None:
        outcome: object = callback(value)
        if inspect.isawaitable(outcome):
            if inspect.iscoroutine(outcome):
                outcome.close()  # no "coroutine was never awaited" warning on top of our error
            raise LMStudioValueError(f"a callback returned an awaitable; {_NO_AWAIT}")


async def call_async_hook(callback: Callable[..., object] | None, *args: object) -> object:
    """Call a callback of the async face with several arguments; what it returns (awaited)."""
    if callback is None:
        return None
    outcome = callback(*args)
    if inspect.isawaitable(outcome):
        return await outcome
    return outcome


def call_hook(callback: Callable[..., object] | None, *args: object) -> object:
    """Call a callback of the sync face with several arguments (twin of call_async_hook)."""
    if callback is None:
        return None
    outcome = callback(*args)
    if inspect.isawaitable(outcome):
        if inspect.iscoroutine(outcome):
            outcome.close()
        raise LMStudioValueError(f"a callback returned an awaitable; {_NO_AWAIT}")
    return outcome


P = ParamSpec("P")
R = TypeVar("R")


def checked_arguments(func: Callable[P, R]) -> Callable[P, R]:
    """Report a call that does not fit ``func``'s signature as LMStudioValueError.

    Python's own ``TypeError`` ("got an unexpected keyword argument") names no alternative
    and is not an ``LMStudioError``. Only errors of the call itself are translated: those
    raised before ``func``'s body runs, so their traceback ends in this wrapper.
    """
    signature = inspect.signature(func)
    where = f"{func.__name__}()"

    @functools.wraps(func)
    def call(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except TypeError as exc:
            if exc.__traceback__ is None or exc.__traceback__.tb_next is not None:
                raise  # raised inside func: not about the shape of the call
            _reject_misfit(where, signature, kwargs)
            raise LMStudioValueError(f"{where}: {exc}") from None

    return call


def _reject_misfit(where: str, signature: inspect.Signature, kwargs: Mapping[str, Any]) -> None:
    takes = [
        name
        for name, parameter in signature.parameters.items()
        if name != "self"
        and parameter.kind in (parameter.POSITIONAL_OR_KEYWORD, parameter.KEYWORD_ONLY)
    ]
    reject_unknown_arguments(where, {k: v for k, v in kwargs.items() if k not in takes}, takes)
