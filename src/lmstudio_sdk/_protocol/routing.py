"""Routing for a pool of hosts, pure: which host takes the next call, how a list is split.

The I/O side (``_async/hosts.py``) keeps one ``HostState`` per host up to date (health from
failed calls and probes, in-flight counts, loaded models) and asks ``pick`` for each call.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

__all__ = ["HostState", "pick", "split_evenly"]


@dataclass(frozen=True)
class HostState:
    """What the router knows of one host at one moment."""

    host: str
    order: int  # position in the pool's host list: ties go to the one listed first
    healthy: bool = True
    in_flight: int = 0
    loaded: frozenset[str] = field(default_factory=frozenset)  # model keys / identifiers
    cannot_load: frozenset[str] = field(default_factory=frozenset)  # refused: not on that host


def pick(
    states: Iterable[HostState], model: str | None, *, exclude: Iterable[str] = ()
) -> HostState | None:
    """The healthy host, not in ``exclude``, that has ``model`` loaded or may load it, with the
    fewest calls in flight; among equals one that has it loaded, then the first listed.

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
        key=lambda s: (s.in_flight, not (model is None or model in s.loaded), s.order),
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
