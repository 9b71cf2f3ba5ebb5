"""What our SDK sends, compared frame by frame with what the official TypeScript SDK sends for
the same user action (see spec.py; docs/parity.md explains the suite)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest

from ._async import ours as async_ours
from ._sync import ours as sync_ours
from .conftest import OUTCOME_PROPERTY
from .harness import TypeScriptRecordings, record
from .spec import SCENARIOS, ParityScenario
from .traffic import compare

pytestmark = pytest.mark.parity


def _run_ours(face: str, scenario: ParityScenario, url: str) -> None:
    if face == "async":
        asyncio.run(async_ours.run(scenario.name, url, scenario.api_token))
    else:
        sync_ours.run(scenario.name, url, scenario.api_token)


def test_every_scenario_is_written_for_both_sdks() -> None:
    names = [s.name for s in SCENARIOS]
    assert len(names) == len(set(names))
    assert sorted(async_ours.SCENARIOS) == sorted(names)
    mjs = (Path(__file__).parent / "scenarios.mjs").read_text()
    missing = [n for n in names if f"  {n}: " not in mjs]
    assert not missing, f"scenarios.mjs lacks {missing}"


@pytest.mark.parametrize("face", ["sync", "async"])
@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.name)
def test_parity(
    scenario: ParityScenario,
    face: str,
    ts_recordings: TypeScriptRecordings,
    tmp_path: Path,
    record_property: Callable[[str, object], None],
) -> None:
    ts = ts_recordings.get(scenario)
    ours = record(scenario, tmp_path / "ours.jsonl", lambda url: _run_ours(face, scenario, url))
    verdict = compare(ts, ours, scenario.differences)
    record_property(OUTCOME_PROPERTY, verdict.outcome)
    if verdict.outcome == "failing":
        pytest.fail(f"{scenario.name} ({face} face): {verdict.report}", pytrace=False)
