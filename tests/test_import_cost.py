"""What ``import lmstudio_sdk`` and a client cost: a plain ``ws://`` client loads neither OpenSSL's
``ssl`` (only ``wss://`` needs it), nor ``importlib.metadata`` (websockets' package pulls it in
to describe its version), nor ``http.client``, nor asyncio on the sync face. Checked in a fresh
interpreter, against a real connection to the embedded server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import RunningServer

SRC = str(Path(__file__).resolve().parent.parent / "src")
NEVER_FOR_PLAIN_WS = ("ssl", "importlib.metadata", "http.client", "email")
# asyncio itself imports ssl: the async face can only spare the rest.
NEVER_FOR_ASYNC = ("importlib.metadata", "http.client", "email")

PROBE = """
import json, sys
import lmstudio_sdk
{body}
print(json.dumps(sorted(sys.modules)))
"""


def loaded_modules(body: str) -> set[str]:
    env = {**os.environ, "PYTHONPATH": SRC}
    done = subprocess.run(
        [sys.executable, "-c", PROBE.format(body=body)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=True,
    )
    modules: list[str] = json.loads(done.stdout.splitlines()[-1])
    return set(modules)


def test_import_and_client_load_no_tls_metadata_or_http_client() -> None:
    loaded = loaded_modules("lmstudio_sdk.Client('127.0.0.1:1234')")
    assert "lmstudio_sdk._sync.client" in loaded  # the probe did build a client
    for module in (*NEVER_FOR_PLAIN_WS, "asyncio"):
        assert module not in loaded, module


def test_a_plain_connection_loads_no_tls(server: RunningServer) -> None:
    loaded = loaded_modules(
        f"client = lmstudio_sdk.Client({server.url!r})\n"
        "assert client.system.get_lmstudio_version()\n"
        "client.close()"
    )
    assert "lmstudio_sdk._transport.sync" in loaded
    for module in (*NEVER_FOR_PLAIN_WS, "asyncio"):
        assert module not in loaded, module


def test_an_async_plain_connection_loads_no_tls(server: RunningServer) -> None:
    loaded = loaded_modules(
        "import asyncio\n"
        "async def main():\n"
        f"    async with lmstudio_sdk.AsyncClient({server.url!r}) as client:\n"
        "        assert await client.system.get_lmstudio_version()\n"
        "asyncio.run(main())"
    )
    assert "lmstudio_sdk._transport.asyncio" in loaded
    for module in NEVER_FOR_ASYNC:
        assert module not in loaded, module


def test_wss_loads_tls_when_it_connects(server: RunningServer) -> None:
    """The lazy ssl import is real: a wss:// connect attempt loads it (and fails cleanly, as
    a typed connection error: the embedded server speaks plain HTTP, so the TLS handshake
    fails). The async face cannot show this: asyncio itself imports ssl."""
    url = f"wss://127.0.0.1:{server.port}"
    assert "ssl" not in loaded_modules(f"lmstudio_sdk.Client({url!r})")
    loaded = loaded_modules(
        f"client = lmstudio_sdk.Client({url!r}, timeout=5, max_retries=0)\n"
        "try:\n"
        "    client.system.get_lmstudio_version()\n"
        "    raise SystemExit('a TLS handshake with a plain server succeeded')\n"
        "except lmstudio_sdk.LMStudioConnectionError:\n"
        "    pass\n"
    )
    assert "ssl" in loaded
