"""The pool's routing policy, pure: pick(host states) -> host, and the split of a list."""

from __future__ import annotations

import pytest

from lmstudio_sdk._protocol.routing import HostState, pick, split_evenly


def states(*specs: dict[str, object]) -> list[HostState]:
    return [HostState(host=f"h{i}", order=i, **spec) for i, spec in enumerate(specs)]  # type: ignore[arg-type]


def test_fewest_in_flight_wins() -> None:
    chosen = pick(states({"in_flight": 3}, {"in_flight": 1}, {"in_flight": 2}), "m")
    assert chosen is not None and chosen.host == "h1"


def test_ties_go_to_a_host_that_has_the_model_then_the_first_listed() -> None:
    loaded = frozenset({"m"})
    chosen = pick(states({}, {"loaded": loaded}, {"loaded": loaded}), "m")
    assert chosen is not None and chosen.host == "h1"
    chosen = pick(states({}, {}, {}), "m")
    assert chosen is not None and chosen.host == "h0"


def test_unhealthy_excluded_and_refusing_hosts_are_skipped() -> None:
    hosts = states(
        {"healthy": False},
        {"cannot_load": frozenset({"m"})},
        {"in_flight": 9},
        {"in_flight": 5},
    )
    chosen = pick(hosts, "m", exclude=["h3"])
    assert chosen is not None and chosen.host == "h2"
    other = pick(hosts, "other")  # h1 only refused "m"
    assert other is not None and other.host == "h1"


def test_no_host_qualifies() -> None:
    assert pick(states({"healthy": False}, {"healthy": False}), None) is None
    assert pick(states({}), "m", exclude=["h0"]) is None
    assert pick([], "m") is None


def test_model_none_ignores_loaded_lists() -> None:
    chosen = pick(states({"in_flight": 1}, {"in_flight": 0, "cannot_load": frozenset({"m"})}), None)
    assert chosen is not None and chosen.host == "h1"


@pytest.mark.parametrize(
    ("count", "parts", "expected"),
    [
        (0, 3, []),
        (1, 3, [(0, 1)]),
        (7, 3, [(0, 3), (3, 5), (5, 7)]),
        (6, 3, [(0, 2), (2, 4), (4, 6)]),
        (5, 1, [(0, 5)]),
    ],
)
def test_split_evenly(count: int, parts: int, expected: list[tuple[int, int]]) -> None:
    assert split_evenly(count, parts) == expected


def test_split_evenly_refuses_impossible_sizes() -> None:
    with pytest.raises(ValueError):
        split_evenly(3, 0)
    with pytest.raises(ValueError):
        split_evenly(-1, 2)
