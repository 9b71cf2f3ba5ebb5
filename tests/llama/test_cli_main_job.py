"""The README's main job (`lmstudio-sdk chat`) on the embedded llama.cpp server."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest


@pytest.mark.llama
def test_main_job_on_the_embedded_llama_server(models_dir: Path) -> None:
    # The README's main job, minus the set-up: no LM Studio, so the embedded server runs.
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "lmstudio_sdk.cli",
            "chat",
            "--embedded",
            "--threads",
            "1",
            "--models-dir",
            str(models_dir),
            "--max-tokens",
            "12",
            "Say hello.",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip()
    assert "starting the embedded server" in result.stderr
    assert "smollm2-135m-instruct" in result.stderr
    assert "tok/s" in result.stderr and "first token after" in result.stderr
