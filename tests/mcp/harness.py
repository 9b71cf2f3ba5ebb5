"""The tests' MCP server (``mcp_server.py``) and its streamable-HTTP variant on a loopback
port."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

MCP_SERVER = Path(__file__).resolve().parent / "mcp_server.py"


@dataclass(frozen=True)
class HttpMcpServer:
    url: str
    process: subprocess.Popen[bytes]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def http_mcp_server() -> Iterator[HttpMcpServer]:
    pytest.importorskip("mcp")
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, str(MCP_SERVER), "--http", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError("the streamable-HTTP MCP server did not start") from None
                time.sleep(0.1)
        yield HttpMcpServer(f"http://127.0.0.1:{port}/mcp", process)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
