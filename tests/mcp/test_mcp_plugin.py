"""``lmstudio-sdk plugin mcp -- CMD ARGS``: the tests' MCP server bridged as a tools provider
plugin on the embedded server, used by our client and by the official TypeScript SDK's act()."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

import lmstudio_sdk as lms
from lmstudio_sdk.server import ServerThread
from tests.plugins.harness import hooks_of, plugin_server
from tests.plugins.test_ts_oracle import run_ts

from .harness import MCP_SERVER

__all__ = ["plugin_server"]

pytest.importorskip("mcp")

IDENTIFIER = "tests/mcp"


@pytest.fixture(scope="module")
def bridged(plugin_server: ServerThread) -> Iterator[subprocess.Popen[str]]:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "lmstudio_sdk.cli",
            "plugin",
            "mcp",
            "--name",
            IDENTIFIER,
            "--host",
            plugin_server.url,
            "--",
            sys.executable,
            str(MCP_SERVER),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    deadline = time.monotonic() + 120
    while "toolsProvider" not in hooks_of(plugin_server, IDENTIFIER):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            output, _ = process.communicate()
            raise AssertionError(f"the bridged MCP plugin did not come up:\n{output}")
        time.sleep(0.1)
    yield process
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        raise AssertionError("the bridged MCP plugin did not stop on Ctrl-C") from None


def test_our_client_uses_the_bridged_mcp_tools(
    plugin_server: ServerThread, bridged: subprocess.Popen[str]
) -> None:
    with lms.Client(plugin_server.url, timeout=30) as client:
        with client.plugins.plugin_tools(IDENTIFIER) as session:
            assert {"add", "fail", "slow", "pid", "picture"} <= set(session.names)
            assert session.call("add", {"a": 2, "b": 3}) == {"result": 5}
            with pytest.raises(lms.LMStudioServerError, match="nope"):
                session.call("fail", {"message": "nope"})
            statuses: list[str] = []  # MCP progress notifications become tool call statuses
            session.call("count", {"n": 2}, on_status=statuses.append)
            assert statuses == ["counted 1", "counted 2"]
            model = client.llm.model("scripted-echo-1b")
            result = model.act('!tool add {"a": 4, "b": 5}', session.tools)
            assert result.content == 'Tool result: {"result":9}'


@pytest.mark.conformance
def test_the_official_ts_client_acts_with_the_bridged_mcp_tools(
    plugin_server: ServerThread, bridged: subprocess.Popen[str]
) -> None:
    runs = run_ts(plugin_server.url, "-", IDENTIFIER)
    tools = runs["pluginToolsAct"]
    assert tools["ok"], tools
    assert {"add", "fail", "slow", "pid", "picture"} <= set(tools["detail"]["names"])
    assert tools["detail"]["results"] == [{"result": 5}]
    assert tools["detail"]["rounds"][-1] == 'Tool result: {"result":5}'
