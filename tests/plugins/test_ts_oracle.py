"""The official TypeScript SDK 2.0 as oracle: it consumes plugins hosted by our server."""

from __future__ import annotations

import json
import shutil
import subprocess
from typing import Any

import pytest

from lmstudio_sdk.server import ServerThread

from .harness import ROOT, DevPlugin

CONFORMANCE = ROOT / "tests" / "conformance"
SCRIPT = CONFORMANCE / "ts_plugins.mjs"


def run_ts(*args: str) -> dict[str, dict[str, Any]]:
    if shutil.which("node") is None:
        pytest.skip("node is not installed")
    if not (CONFORMANCE / "node_modules" / "@lmstudio" / "sdk").is_dir():
        pytest.skip("@lmstudio/sdk is not installed (npm ci in tests/conformance)")
    done = subprocess.run(
        ["node", str(SCRIPT), *args],
        cwd=CONFORMANCE,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    lines = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    assert lines, done.stderr
    return {line["scenario"]: line for line in lines}


@pytest.mark.conformance
def test_ts_generator_handle_and_plugin_tools_use_our_hosted_plugin(
    plugin_server: ServerThread, faulty: DevPlugin
) -> None:
    runs = run_ts(plugin_server.url, "tests/faulty", "tests/faulty")
    respond = runs["generatorRespond"]
    assert respond["ok"], respond
    assert respond["detail"]["content"] == "MAKE IT LOUD "
    assert respond["detail"]["fragments"] == ["MAKE ", "IT ", "LOUD "]
    error = runs["generatorError"]
    assert not error["ok"]
    assert "tests/faulty" in error["detail"]["error"]
    assert "RuntimeError" in error["detail"]["error"]
    tools = runs["pluginToolsAct"]
    assert tools["ok"], tools
    assert sorted(tools["detail"]["names"]) == ["add", "boom", "double", "slow"]
    assert tools["detail"]["results"] == [5]
    assert tools["detail"]["statuses"] == ["adding 2 and 3"]
    assert tools["detail"]["rounds"][-1] == "Tool result: 5"
