"""The official ``lmstudio`` 1.5.0 Python SDK's own live test suite, run against our server.

Every official test must pass or be listed in ``expected_failures.txt`` with its reason;
a listed test that passes fails this test too (strict), so the list cannot rot. See
docs/official-suite.md.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from pathlib import Path

import pytest

from . import harness
from .conftest import SUMMARY_PROPERTY

pytestmark = [
    pytest.mark.official_suite,
    pytest.mark.timeout(3600),
    pytest.mark.skipif(
        importlib.util.find_spec("llama_cpp") is None,
        reason="needs llama-cpp-python (run scripts/install-engine.sh)",
    ),
]


def test_expected_failures_file_is_well_formed() -> None:
    expected = harness.ExpectedFailures.read()
    assert expected.reasons, "the file lists nothing: is it the right file?"
    for nodeid, reason in expected.reasons.items():
        assert nodeid.startswith("tests/"), f"{nodeid}: node ids start at the sdist's tests/"
        assert "\n" not in reason


def test_port_taken_is_a_clear_error() -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        with pytest.raises(harness.SetupError, match=rf"port {port} is taken.*discovery ports"):
            harness.check_port_free(port)


@pytest.mark.slow
def test_official_live_suite(
    tmp_path_factory: pytest.TempPathFactory, record_property: Callable[[str, object], None]
) -> None:
    try:
        suite = harness.unpacked_suite()
        harness.check_port_free()
    except harness.SetupError as exc:
        pytest.fail(str(exc), pytrace=False)
    expected = harness.ExpectedFailures.read()

    models_dir = harness.prepare_models(tmp_path_factory.mktemp("official-suite-models"))
    logs = tmp_path_factory.mktemp("official-suite-logs")
    junit = logs / "junit.xml"
    server = harness.Server(models_dir, logs / "server.log")
    server.start()
    try:
        seconds = harness.run_suite(suite, junit, logs / "suite.log", timeout=3000)
    finally:
        server.stop()

    outcome = harness.parse_junit(junit)
    line, problems = harness.verdict(outcome, expected)
    summary = f"{line} ({len(outcome.skipped)} skipped by the suite itself, {seconds:.0f} s)"
    record_property(SUMMARY_PROPERTY, summary)  # printed at the end of the run (conftest.py)
    assert not problems, (
        f"{line}\n" + "\n".join(problems) + f"\nlogs: {logs} (suite.log, server.log, junit.xml)"
    )


def test_verdict_is_strict() -> None:
    expected = harness.ExpectedFailures(
        reasons={
            "tests/a.py::t1": "r",
            "tests/a.py::t2": "r",
            "tests/a.py::gone": "r",
            "tests/a.py::f1": "flaky: sampled",
            "tests/a.py::f2": "flaky: sampled",
        }
    )
    outcome = harness.Outcome(
        passed=["tests/a.py::ok", "tests/a.py::t2", "tests/a.py::f1"],
        failed={"tests/a.py::t1": "x", "tests/a.py::new": "boom", "tests/a.py::f2": "y"},
    )
    line, problems = harness.verdict(outcome, expected)
    assert line == harness.summary(2, 2, 3)
    assert problems == [
        "FAILED (not expected): tests/a.py::new: boom",
        "PASSED but listed as an expected failure: tests/a.py::t2",
        "listed but not run (renamed or gone?): tests/a.py::gone",
    ]


def test_summary_line_format() -> None:
    assert harness.summary(3, 2, 1) == (
        "official lmstudio 1.5.0 live suite: 3 passed / 2 expected failures / 1 failed"
    )


def test_junit_parsing(tmp_path: Path) -> None:
    xml = tmp_path / "junit.xml"
    xml.write_text(
        '<testsuites><testsuite name="pytest">'
        '<testcase classname="tests.async.test_llm_async" name="test_a[x]"/>'
        '<testcase classname="tests.test_basics" name="test_b">'
        '<failure message="AssertionError: 384 == 768">trace</failure></testcase>'
        '<testcase classname="" name="tests.test_plugin_examples">'
        '<error message="collection failure">trace</error></testcase>'
        '<testcase classname="tests.test_basics" name="test_c">'
        '<skipped message="no"/></testcase>'
        "</testsuite></testsuites>"
    )
    outcome = harness.parse_junit(xml)
    assert outcome.passed == ["tests/async/test_llm_async.py::test_a[x]"]
    assert outcome.failed == {
        "tests/test_basics.py::test_b": "AssertionError: 384 == 768",
        "tests/test_plugin_examples.py": "collection failure",
    }
    assert outcome.skipped == {"tests/test_basics.py::test_c": "no"}
