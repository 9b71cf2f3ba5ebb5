"""Routing for a pool of hosts, pure: which host takes the next call, how a list is split.

The I/O side (``_async/hosts.py``) keeps one ``HostState`` per host up to date (health from
failed calls and probes, in-flight counts, loaded models, and the requests the host itself
last reported, every client's) and asks ``pick`` for each call.

A host's load is the pool's own calls in flight there plus the other clients' requests: what
the host reported (``getInstanceProcessingState`` of its loaded instances: running and queued)
less the pool's own calls in flight there at that moment. A report older than
``max_report_age`` seconds counts for nothing: the pool then knows only its own calls.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

__all__ = [
    "DEFAULT_MAX_REPORT_AGE",
    "HostState",
    "host_load",
    "others_load",
    "pick",
    "split_evenly",
]

DEFAULT_MAX_REPORT_AGE = 3.0


@dataclass(frozen=True)
class HostState:
    """What the router knows of one host at one moment."""

    host: str
    order: int  # position in the pool's host list: ties go to the one listed first
    healthy: bool = True
    in_flight: int = 0
    loaded: frozenset[str] = field(default_factory=frozenset)  # model keys / identifiers
    cannot_load: frozenset[str] = field(default_factory=frozenset)  # refused: not on that host
    reported: int = 0  # requests the host reported on its instances (every client's)
    reported_own: int = 0  # the pool's own calls in flight there when it reported
    report_age: float | None = None  # seconds since that report; None: no report yet


def others_load(state: HostState, max_report_age: float = DEFAULT_MAX_REPORT_AGE) -> int:
    """Other clients' requests on the host, from a fresh enough report (else 0)."""
    if state.report_age is None or not 0 <= state.report_age <= max_report_age:
        return 0
    return max(0, state.reported - state.reported_own)


def host_load(state: HostState, max_report_age: float = DEFAULT_MAX_REPORT_AGE) -> int:
    """The pool's calls in flight on the host plus the other clients' requests there."""
    return state.in_flight + others_load(state, max_report_age)


def pick(
    states: Iterable[HostState],
    model: str | None,
    *,
    exclude: Iterable[str] = (),
    max_report_age: float = DEFAULT_MAX_REPORT_AGE,
) -> HostState | None:
    """The healthy host, not in ``exclude``, that has ``model`` loaded or may load it, with the
    least load (``host_load``); among equals one that has it loaded, then the first listed.

    ``model=None`` (any model, or no model involved): every healthy host qualifies. None when no
    host qualifies.
    """
    excluded = set(exclude)
    candidates = [
        s
        for s in states
        if s.healthy and s.host not in excluded and (model is None or model not in s.cannot_load)
    ]
    if not candidates:
        return None
    return min(
        candidates,
        key=lambda s: (
            host_load(s, max_report_age),
            not (model is None or model in s.loaded),
            s.order,
        ),
    )


def split_evenly(count: int, parts: int) -> list[tuple[int, int]]:
    """``count`` items in at most ``parts`` contiguous, non-empty slices (start, stop), sizes
    differing by at most one, the larger first."""
    if count < 0 or parts < 1:
        raise ValueError(f"split_evenly({count}, {parts}): need count >= 0 and parts >= 1")
    parts = min(parts, count)
    slices: list[tuple[int, int]] = []
    start = 0
    for index in range(parts):
        size = count // parts + (1 if index < count % parts else 0)
        slices.append((start, start + size))
        start += size
    return slices
