"""Fixtures of the parity suite, and the one-line summary CI prints:
``parity: N identical / M with listed differences / K failing``."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from .harness import NODE_MODULES, TypeScriptRecordings

OUTCOME_PROPERTY = "parity_outcome"


@pytest.fixture(scope="session")
def ts_recordings(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TypeScriptRecordings]:
    """The TypeScript SDK's recording of each scenario, made once per session on first use."""
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed; the parity suite runs @lmstudio/sdk on Node >= 18")
    if not (NODE_MODULES / "@lmstudio" / "sdk" / "package.json").is_file():
        pytest.skip(
            "tests/conformance/node_modules is missing; run `npm ci --prefix tests/conformance`"
        )
    recordings = TypeScriptRecordings(node, Path(tmp_path_factory.mktemp("parity-ts")))
    yield recordings
    recordings.close()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    counts = {"identical": 0, "listed": 0, "failing": 0}
    seen = False
    for key in ("passed", "failed", "error"):
        for report in terminalreporter.stats.get(key, []):
            if (
                not isinstance(report, pytest.TestReport)
                or "tests/parity/test_parity.py::test_parity[" not in report.nodeid
            ):
                continue
            if report.when != "call" and report.passed:
                continue
            seen = True
            if report.failed:
                counts["failing"] += 1
            else:
                outcome = dict(report.user_properties).get(OUTCOME_PROPERTY)
                if outcome in counts:
                    counts[str(outcome)] += 1
    if seen:
        terminalreporter.write_line(
            f"parity: {counts['identical']} identical / {counts['listed']} with listed "
            f"differences / {counts['failing']} failing"
        )
