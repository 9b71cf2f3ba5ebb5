"""No orphan MCP servers: MCP tools nobody closed stop their server when they are garbage
collected (checked while the program, which holds the server's stdin, still runs), and at the
interpreter's exit."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from .harness import MCP_SERVER

pytest.importorskip("mcp")

SRC = str(Path(__file__).resolve().parent.parent.parent / "src")
PROGRAM = """
import gc, os, sys
import lmstudio_sdk as lms
client = lms.Client("127.0.0.1:1")  # never connects: MCP tools need no LM Studio
mcp = client.plugins.mcp_tools([sys.executable, {server!r}], connect_timeout=90).open()
first = mcp.call("pid")["result"]
del mcp
gc.collect()  # the finalizer stops the server before returning
try:
    os.kill(first, 0)
    sys.exit(f"the server {{first}} outlived its collected MCP tools")
except ProcessLookupError:
    pass
mcp = client.plugins.mcp_tools([sys.executable, {server!r}], connect_timeout=90).open()
print(mcp.call("pid")["result"], flush=True)
# exits without closing anything
"""


def test_an_unclosed_session_stops_its_server_at_exit() -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROGRAM.format(server=str(MCP_SERVER))],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": SRC},
        check=False,
    )
    assert done.returncode == 0, done.stderr
    pid = int(done.stdout.split()[-1])
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
