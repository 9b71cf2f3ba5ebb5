"""The pool's routing policy, pure: pick(host states) -> host, and the split of a list."""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from lmstudio_sdk._protocol.routing import HostState, host_load, others_load, pick, split_evenly


def states(*specs: Mapping[str, object]) -> list[HostState]:
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


def test_other_clients_reported_load_counts_while_fresh() -> None:
    busy = {"reported": 4, "reported_own": 1, "report_age": 0.5}
    assert others_load(states(busy)[0]) == 3
    assert host_load(states({**busy, "in_flight": 2})[0]) == 5
    # h0 has two of ours and three of others': h1, with three of ours, is less loaded.
    chosen = pick(states({**busy, "in_flight": 2}, {"in_flight": 3}), "m")
    assert chosen is not None and chosen.host == "h1"
    # Without the report (or with a stale one) only our own calls count.
    chosen = pick(states({"in_flight": 2}, {"in_flight": 3}), "m")
    assert chosen is not None and chosen.host == "h0"
    stale = {**busy, "in_flight": 2, "report_age": 10.0}
    assert others_load(states(stale)[0]) == 0
    chosen = pick(states(stale, {"in_flight": 3}), "m")
    assert chosen is not None and chosen.host == "h0"
    chosen = pick(states(stale, {"in_flight": 3}), "m", max_report_age=20.0)
    assert chosen is not None and chosen.host == "h1"


def test_a_report_never_counts_our_own_calls_as_others() -> None:
    # The host counted fewer than ours (some had not reached it yet): nobody else is there.
    assert others_load(states({"reported": 1, "reported_own": 3, "report_age": 0.0})[0]) == 0
    assert others_load(states({"reported": 5, "reported_own": 0, "report_age": None})[0]) == 0


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
