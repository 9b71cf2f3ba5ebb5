"""Prints the official live suite's one-line verdict at the end of the run, where CI shows it
(pytest captures what the test itself prints when it passes)."""

from __future__ import annotations

import pytest

SUMMARY_PROPERTY = "official_suite_summary"


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    for key in ("passed", "failed"):
        for report in terminalreporter.stats.get(key, []):
            if not isinstance(report, pytest.TestReport) or report.when != "call":
                continue
            for name, value in report.user_properties:
                if name == SUMMARY_PROPERTY:
                    terminalreporter.write_line(str(value))
