"""Discovery HTTP, the namespace guard, and the auth handshake."""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request
from typing import Any

import pytest
import websockets

from lmstudio_sdk import __version__ as package_version
from lmstudio_sdk.server import LMStudioServer, ServerRecorder
from lmstudio_sdk.server.app import _is_loopback

from .conftest import MakeServer
from .helpers import TIMEOUT, auth_packet, authenticate, connect, raw_connect

TOKEN = "sk-lm-abcdEFGH:abcdefghijABCDEFGHIJ"
NAMESPACES = [
    "/llm",
    "/embedding",
    "/system",
    "/diagnostics",
    "/files",
    "/repository",
    "/plugins",
    "/runtime",
]


def _get(url: str) -> tuple[int, str, Any]:
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT) as response:
            return response.status, response.headers["Content-Type"], json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers["Content-Type"], None


async def http_get(url: str) -> tuple[int, str, Any]:
    return await asyncio.to_thread(_get, url)


async def test_greeting(lms: LMStudioServer) -> None:
    status, content_type, body = await http_get(lms.http_url + "/lmstudio-greeting")
    assert (status, body) == (200, {"lmstudio": True})
    assert content_type == "application/json"


async def test_lms_status(lms: LMStudioServer) -> None:
    status, _, body = await http_get(lms.http_url + "/lms-status")
    assert status == 200
    assert body == {"package": "lmstudio-sdk", "version": package_version}


async def test_urls(lms: LMStudioServer) -> None:
    assert lms.url == f"ws://127.0.0.1:{lms.port}"
    assert lms.http_url == f"http://127.0.0.1:{lms.port}"
    assert lms.port > 0


@pytest.mark.parametrize("path", ["/", "/llm/", "/LLM", "/llm/x", "/chat", "/lmstudio-greeting/x"])
async def test_upgrade_refused_outside_namespaces(lms: LMStudioServer, path: str) -> None:
    with pytest.raises(websockets.InvalidStatus) as info:
        await raw_connect(lms.url + path)
    assert info.value.response.status_code == 403


@pytest.mark.parametrize("namespace", NAMESPACES)
async def test_every_namespace_accepts(lms: LMStudioServer, namespace: str) -> None:
    async with connect(lms.url, namespace):
        pass


def test_loopback_detection() -> None:
    assert _is_loopback("127.0.0.1") and _is_loopback("::1") and _is_loopback("localhost")
    assert not _is_loopback("0.0.0.0") and not _is_loopback("192.168.1.2")


async def test_auth_ignores_junk_before_the_packet(lms: LMStudioServer) -> None:
    async with await raw_connect(lms.url + "/llm") as ws:
        await ws.send("not json")
        await ws.send(json.dumps({"authVersion": 2, "clientIdentifier": "x"}))
        assert await authenticate(ws, "tester", "pw") == {"success": True}


async def test_auth_timeout(make_server: MakeServer) -> None:
    server = await make_server(auth_timeout=0.2)
    async with await raw_connect(server.url + "/system") as ws:
        reply = json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))
        assert reply == {"success": False, "error": "Authentication timed out"}
        with pytest.raises(websockets.ConnectionClosed):
            await asyncio.wait_for(ws.recv(), TIMEOUT)


async def test_first_come_first_served(lms: LMStudioServer) -> None:
    async with connect(lms.url, "/llm", "alice", "pw1"):
        # Another namespace with the same identity and passkey is fine...
        async with connect(lms.url, "/system", "alice", "pw1"):
            assert lms.statistics().identities == {"alice": 2}
        # ...a different passkey is not, while alice has a socket open.
        async with await raw_connect(lms.url + "/embedding") as ws:
            reply = await authenticate(ws, "alice", "wrong")
            assert reply["success"] is False
            assert (
                reply["error"]
                == 'Failed to validate client: Invalid client passkey for client "alice"'
            )
            with pytest.raises(websockets.ConnectionClosed):
                await asyncio.wait_for(ws.recv(), TIMEOUT)
    # All of alice's sockets closed: the identity is free again.
    await asyncio.wait_for(ServerRecorder.of(lms).wait_open_sockets(0), TIMEOUT)
    assert lms.statistics().identities == {}
    async with connect(lms.url, "/llm", "alice", "new-passkey"):
        pass


async def test_api_token_required(make_server: MakeServer) -> None:
    server = await make_server(api_token=TOKEN)
    for namespace in NAMESPACES:
        async with connect(server.url, namespace, "abcdEFGH", "abcdefghijABCDEFGHIJ"):
            pass
    async with await raw_connect(server.url + "/llm") as ws:
        reply = await authenticate(ws, "guest:abc", "whatever")
        assert reply["success"] is False
        assert "requires an API token" in reply["error"] and "guest:abc" in reply["error"]
    async with await raw_connect(server.url + "/llm") as ws:
        reply = await authenticate(ws, "abcdEFGH", "abcdefghijABCDEFGHIX")
        assert reply == {"success": False, "error": 'Invalid API token for client "abcdEFGH"'}


def test_malformed_api_token_is_refused_at_construction() -> None:
    from lmstudio_sdk.server.engines.scripted import ScriptedEngine

    with pytest.raises(ValueError, match="sk-lm-"):
        LMStudioServer(ScriptedEngine(), api_token="not-a-token")


async def test_second_auth_packet_is_a_protocol_error_not_a_crash(lms: LMStudioServer) -> None:
    async with connect(lms.url, "/system") as client:
        await client.send(auth_packet())
        warning = await client.wait_warning("unknown")
        assert "invalid message" in warning["warning"].lower()
        assert await client.rpc("version") == {"version": "0.4.0", "build": 1}
