"""Typical user code type-checks under ``mypy --strict`` with no cast and no Any leaking:
``--disallow-any-expr`` fails on any expression of user code whose type is Any."""

from __future__ import annotations

from pathlib import Path

import pytest

api = pytest.importorskip("mypy.api")

HERE = Path(__file__).resolve().parent
SAMPLES = sorted((HERE / "typed").glob("*_usage.py"))


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda p: p.name)
def test_user_code_type_checks_without_any(sample: Path, tmp_path: Path) -> None:
    assert "cast(" not in sample.read_text()
    stdout, stderr, status = api.run(
        [
            "--strict",
            "--disallow-any-expr",
            "--no-incremental",
            "--cache-dir",
            str(tmp_path),
            "--config-file",
            str(HERE.parent / "pyproject.toml"),
            str(sample),
        ]
    )
    assert status == 0, stdout + stderr
