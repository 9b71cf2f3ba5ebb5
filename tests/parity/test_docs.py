"""docs/parity.md says what the suite does: its list of deliberate differences is the one in
spec.py, and every public method of the TypeScript SDK is called by a scenario or listed
with the reason no scenario calls it."""

from __future__ import annotations

import pytest

from .docs import (
    DIFFERENCES_END,
    DIFFERENCES_START,
    DOC,
    SCENARIOS_MJS,
    TYPINGS,
    called_by_scenarios,
    differences_markdown,
    section,
    typescript_methods,
    uncovered_methods,
    with_differences,
)
from .spec import GROUPS, SCENARIOS


def test_every_difference_has_a_kind_and_a_reason() -> None:
    for scenario in SCENARIOS:
        for difference in scenario.differences:
            assert difference.group in GROUPS, (scenario.name, difference.reason)
            assert difference.reason.strip().endswith("."), (scenario.name, difference.reason)


def test_the_documented_differences_are_the_listed_ones() -> None:
    text = DOC.read_text(encoding="utf-8")
    documented = section(text, DIFFERENCES_START, DIFFERENCES_END)
    assert documented == differences_markdown(), (
        "docs/parity.md's deliberate differences differ from tests/parity/spec.py; "
        "run `python -m tests.parity.docs`"
    )
    assert with_differences(text) == text


def test_every_typescript_method_is_called_or_listed_with_its_reason() -> None:
    if not TYPINGS.is_file():
        pytest.skip("tests/conformance/node_modules is missing (npm ci --prefix tests/conformance)")
    methods = typescript_methods(TYPINGS.read_text(encoding="utf-8"))
    listed = uncovered_methods(DOC.read_text(encoding="utf-8"))
    scenarios = SCENARIOS_MJS.read_text(encoding="utf-8")
    assert len(methods) > 100, "the typings were not read"
    unknown = sorted(set(listed) - methods)
    assert not unknown, f"docs/parity.md lists methods the TypeScript SDK does not have: {unknown}"
    forgotten = sorted(
        m for m in methods if m not in listed and not called_by_scenarios(m, scenarios)
    )
    assert not forgotten, (
        f"no scenario calls {forgotten}: write one (tests/parity), or list the method in "
        "docs/parity.md's table of uncovered methods with the reason"
    )
    assert all(reason.strip() for reason in listed.values())
    # A listed method a scenario now calls leaves the list (methods whose name a scenario
    # calls on another class are matched by name only, so they stay listed by hand).
    stale = sorted(
        m for m in listed if m not in SAME_NAME_ELSEWHERE and called_by_scenarios(m, scenarios)
    )
    assert not stale, f"scenarios call {stale}: remove them from docs/parity.md's table"


# Listed methods whose name a scenario calls on another class (see called_by_scenarios).
SAME_NAME_ELSEWHERE = frozenset(
    {
        "ArtifactDownloadPlanner.download",
        "ArtifactDownloadPlanner.[Symbol.dispose]",
        "RuntimeExtensionsNamespace.download",
    }
)
