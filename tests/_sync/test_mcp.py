# GENERATED from tests/_async/test_mcp.py by scripts/unasync.py. Do not edit: edit the source.
"""MCP servers' tools (``client.plugins.mcp_tools``) in act(), against the embedded server
(scripted engine) and a tiny MCP server written with the official ``mcp`` package
(tests/mcp/mcp_server.py): over stdio, and over streamable HTTP on a loopback port.
Written once for the async face; ``scripts/unasync.py`` generates the sync twin.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator

import pytest

import lmstudio_sdk as lms
from tests.conftest import RunningServer
from tests.mcp.harness import MCP_SERVER, HttpMcpServer, http_mcp_server

__all__ = ["http_mcp_server"]

pytest.importorskip("mcp")

ECHO = "scripted-echo-1b"
COMMAND = [sys.executable, str(MCP_SERVER)]
START = 90.0  # starting a Python MCP server on a loaded machine


@pytest.fixture
def client(server: RunningServer) -> Iterator[lms.Client]:
    with lms.Client(server.url, timeout=30) as client:
        yield client


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_act_calls_an_mcp_tool_and_closing_stops_the_server(
    client: lms.Client,
) -> None:
    mcp = client.plugins.mcp_tools(COMMAND, allowed_tools=["add", "pid"], connect_timeout=START)
    with mcp:
        assert mcp.names == ["add", "pid"]
        add = mcp.tools[0]
        assert add.description == "Add two numbers."
        assert add.parameters["properties"] == {
            "a": {"title": "A", "type": "integer"},
            "b": {"title": "B", "type": "integer"},
        }
        assert add.parameters["required"] == ["a", "b"]
        model = client.llm.model(ECHO)
        result = model.act('!tool add {"a": 2, "b": 3}', mcp.tools)
        assert result.content == 'Tool result: {"result":5}'
        pid = (mcp.call("pid"))["result"]
        assert isinstance(pid, int) and not gone(pid)
    assert gone(pid)  # closing waited for the server process to end
    with pytest.raises(lms.McpConnectionError, match="closed"):
        mcp.call("add", {"a": 1, "b": 2})
    with mcp:  # open again: a new session, a new server
        assert mcp.call("add", {"a": 1, "b": 2}) == {"result": 3}
        assert (mcp.call("pid"))["result"] != pid


def test_errors_timeouts_and_content_are_mapped(client: lms.Client) -> None:
    with client.plugins.mcp_tools(COMMAND, connect_timeout=START) as mcp:
        with pytest.raises(lms.McpToolError, match="nope") as info:
            mcp.call("fail", {"message": "nope"})
        assert info.value.tool_name == "fail" and not info.value.timed_out
        model = client.llm.model(ECHO)
        seen = model.act('!tool fail {"message": "nope"}', mcp.tools)
        assert seen.content.startswith("Tool result: {")
        assert "McpToolError" in seen.content and "nope" in seen.content
        with pytest.raises(lms.ToolCallFailedError) as failed:
            model.act('!tool fail {"message": "nope"}', mcp.tools, on_tool_error="raise")
        assert isinstance(failed.value.__cause__, lms.McpToolError)
        with pytest.raises(lms.McpToolError, match=r"within 0\.5 s") as late:
            mcp.call("slow", {"seconds": 30}, timeout=0.5)
        assert late.value.timed_out
        assert mcp.call("add", {"a": 1, "b": 2}) == {"result": 3}  # still serving
        assert mcp.call("picture") == "[image: image/png, 5 bytes]\n\na tiny picture"
        progress: list[str] = []
        assert mcp.call("count", {"n": 3}, on_progress=progress.append) == {
            "result": "counted to 3"
        }
        assert progress == ["counted 1", "counted 2", "counted 3"]
        with pytest.raises(lms.LMStudioValueError, match="no tool 'nope'"):
            mcp.call("nope")


def test_a_crashed_server_is_a_typed_error(client: lms.Client) -> None:
    with client.plugins.mcp_tools(COMMAND, connect_timeout=START) as mcp:
        with pytest.raises(lms.McpConnectionError, match="crashing on purpose"):
            mcp.call("crash")
        with pytest.raises(lms.McpConnectionError):
            mcp.call("add", {"a": 1, "b": 2})
    with pytest.raises(lms.McpConnectionError, match="could not be started"):
        with client.plugins.mcp_tools(
            [sys.executable, "-c", "import sys; sys.exit(2)"], connect_timeout=START
        ):
            pass
    with pytest.raises(lms.McpConnectionError, match="could not be started"):
        with client.plugins.mcp_tools(["/nonexistent/mcp-server"]):
            pass


def test_streamable_http_server(
    client: lms.Client, http_mcp_server: HttpMcpServer
) -> None:
    with pytest.raises(lms.McpConnectionError, match="could not be reached"):
        with client.plugins.mcp_tools(url=http_mcp_server.url + "-nowhere"):
            pass
    with client.plugins.mcp_tools(url=http_mcp_server.url, connect_timeout=START) as mcp:
        assert "add" in mcp.names
        model = client.llm.model(ECHO)
        result = model.act('!tool add {"a": 20, "b": 22}', mcp.tools)
        assert result.content == 'Tool result: {"result":42}'


def test_bad_input_is_refused(
    client: lms.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(lms.LMStudioValueError, match="exactly one server"):
        client.plugins.mcp_tools()
    with pytest.raises(lms.LMStudioValueError, match="exactly one server"):
        client.plugins.mcp_tools(COMMAND, url="http://127.0.0.1:1/mcp")
    with pytest.raises(lms.LMStudioValueError, match="list of strings"):
        client.plugins.mcp_tools("python server.py")
    with pytest.raises(lms.LMStudioValueError, match="http"):
        client.plugins.mcp_tools(url="ftp://example")
    with pytest.raises(lms.LMStudioValueError, match="env"):
        client.plugins.mcp_tools(COMMAND, env={"A": 1})  # type: ignore[dict-item]
    with pytest.raises(lms.LMStudioValueError, match="allowed_tools"):
        client.plugins.mcp_tools(COMMAND, allowed_tools="add")
    with pytest.raises(lms.LMStudioValueError, match="timeout"):
        client.plugins.mcp_tools(COMMAND, timeout=-1)
    with pytest.raises(lms.LMStudioValueError, match="comand"):
        client.plugins.mcp_tools(comand=COMMAND)  # type: ignore[arg-type]
    with pytest.raises(lms.McpConnectionError, match="open the MCP tools first"):
        client.plugins.mcp_tools(COMMAND).call("add")
    monkeypatch.setitem(sys.modules, "mcp", None)  # as if the extra were not installed
    with pytest.raises(lms.MissingExtraError, match=r"lmstudio-sdk\[mcp\]") as missing:
        with client.plugins.mcp_tools(COMMAND):
            pass
    assert missing.value.extra == "mcp"
