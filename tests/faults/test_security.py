"""The embedded server's defences: loopback by default (and a warning otherwise), the API token
on every namespace socket, first-come-first-served passkeys, uploads confined to the server's
own temporary folder (sanitised names, a size cap, deleted with their identity), a maximum
frame size and an authentication timeout."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
import pytest_asyncio
import websockets
from websockets.asyncio.client import ClientConnection

import lmstudio_sdk as lms
from lmstudio_sdk.cli import build_parser
from lmstudio_sdk.server import LMStudioServer, ServerRecorder
from lmstudio_sdk.server.engines.scripted import ScriptedEngine
from tests.conftest import API_TOKEN, OTHER_TOKEN

TIMEOUT = 5.0
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

MakeServer = Callable[..., Awaitable[LMStudioServer]]


@pytest_asyncio.fixture
async def make_server() -> AsyncIterator[MakeServer]:
    started: list[LMStudioServer] = []

    async def make(**options: Any) -> LMStudioServer:
        options.setdefault("host", "127.0.0.1")
        options.setdefault("observer", ServerRecorder())
        server = LMStudioServer(ScriptedEngine(), port=0, **options)
        await server.start()
        started.append(server)
        return server

    try:
        yield make
    finally:
        for server in started:
            await server.stop()


async def open_socket(url: str) -> ClientConnection:
    return await websockets.connect(url, open_timeout=TIMEOUT, max_size=None, compression=None)


async def authenticate(url: str, identifier: str, passkey: str) -> tuple[Any, ClientConnection]:
    """(the server's auth reply, the socket)."""
    ws = await open_socket(url)
    await ws.send(
        json.dumps({"authVersion": 1, "clientIdentifier": identifier, "clientPasskey": passkey})
    )
    reply = json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))
    return reply, ws


async def closed_by_server(ws: ClientConnection) -> int | None:
    """Wait for the server to close the socket; its close code."""
    await asyncio.wait_for(ws.wait_closed(), TIMEOUT)
    return ws.close_code


async def call(ws: ClientConnection, endpoint: str, parameter: Any, call_id: int) -> Any:
    await ws.send(
        json.dumps(
            {"type": "rpcCall", "endpoint": endpoint, "callId": call_id, "parameter": parameter}
        )
    )
    while True:
        frame = json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))
        if frame.get("callId") == call_id:
            return frame


# -- binding --------------------------------------------------------------------------------------


async def test_binds_loopback_by_default(caplog: pytest.LogCaptureFixture) -> None:
    assert build_parser().parse_args(["serve"]).host == "127.0.0.1"
    with caplog.at_level(logging.WARNING, logger="lmstudio_sdk.server"):
        async with LMStudioServer(ScriptedEngine(), port=0) as server:
            assert server.host == "127.0.0.1"
            assert server._server is not None
            assert {s.getsockname()[0] for s in server._server.sockets} == {"127.0.0.1"}
    assert caplog.records == []


@pytest.mark.parametrize("host", ["0.0.0.0", ""])
async def test_warns_when_not_bound_to_loopback(
    host: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="lmstudio_sdk.server"):
        async with LMStudioServer(ScriptedEngine(), host=host, port=0):
            pass
    [record] = caplog.records
    assert record.levelno == logging.WARNING
    assert "no encryption" in record.getMessage() and "API token" in record.getMessage()


# -- identities -----------------------------------------------------------------------------------


async def test_api_token_is_required_on_every_namespace(make_server: MakeServer) -> None:
    server = await make_server(api_token=API_TOKEN)
    token_id, token_key = API_TOKEN.removeprefix("sk-lm-").split(":")
    other_id, other_key = OTHER_TOKEN.removeprefix("sk-lm-").split(":")
    for namespace in NAMESPACES:
        url = server.url + namespace
        for identifier, passkey in [
            ("guest:abcdef", "whatever"),  # a guest identity
            (token_id, other_key),  # the right identifier, a wrong passkey
            (other_id, other_key),  # a well-formed token the server does not know
        ]:
            reply, ws = await authenticate(url, identifier, passkey)
            assert reply["success"] is False, (namespace, identifier)
            assert await closed_by_server(ws) == 1008
        reply, ws = await authenticate(url, token_id, token_key)
        assert reply == {"success": True}, namespace
        await ws.close()
    # The SDK client: refused without the token, served with it.
    async with lms.AsyncClient(server.url, timeout=TIMEOUT) as guest:
        with pytest.raises(lms.AuthenticationError, match="API token"):
            await guest.system.get_lmstudio_version()
    async with lms.AsyncClient(server.url, api_token=API_TOKEN, timeout=TIMEOUT) as client:
        assert await client.system.get_lmstudio_version()


async def test_an_identifier_cannot_be_reused_with_another_passkey(
    make_server: MakeServer,
) -> None:
    server = await make_server()
    first_reply, first = await authenticate(server.url + "/llm", "alice", "first-pass")
    assert first_reply == {"success": True}
    reply, intruder = await authenticate(server.url + "/system", "alice", "other-pass")
    assert reply["success"] is False and "Invalid client passkey" in reply["error"]
    assert await closed_by_server(intruder) == 1008
    reply, second = await authenticate(server.url + "/files", "alice", "first-pass")
    assert reply == {"success": True}
    assert server.statistics().identities == {"alice": 2}
    await first.close()
    await second.close()
    await asyncio.wait_for(ServerRecorder.of(server).wait_open_sockets(0), TIMEOUT)
    # The identity ended with its last socket: first come, first served again.
    reply, again = await authenticate(server.url + "/system", "alice", "other-pass")
    assert reply == {"success": True}
    await again.close()


async def test_authentication_times_out(make_server: MakeServer) -> None:
    server = await make_server(auth_timeout=0.3)
    started = time.monotonic()
    ws = await open_socket(server.url + "/llm")
    await ws.send("not an auth packet")  # ignored while waiting, as LM Studio does
    reply = json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))
    assert reply == {"success": False, "error": "Authentication timed out"}
    assert await closed_by_server(ws) == 1008
    assert 0.25 < time.monotonic() - started < 2
    await asyncio.wait_for(ServerRecorder.of(server).wait_open_sockets(0), TIMEOUT)


async def test_a_connection_that_never_upgrades_is_dropped(make_server: MakeServer) -> None:
    server = await make_server(auth_timeout=0.3)
    started = time.monotonic()
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    try:
        writer.write(b"GET /llm HTTP/1.1\r\nHost: x\r\n")  # and never the rest
        await writer.drain()
        assert await asyncio.wait_for(reader.read(), TIMEOUT) == b""  # closed by the server
    finally:
        writer.close()
    assert time.monotonic() - started < 2


def test_auth_timeout_option() -> None:
    args = build_parser().parse_args(["serve", "--auth-timeout", "0.5", "--load-delay", "2"])
    assert (args.auth_timeout, args.load_delay) == (0.5, 2.0)
    assert build_parser().parse_args(["serve"]).auth_timeout == 10.0
    bad = build_parser().parse_args(["serve", "--auth-timeout", "0", "--port", "0"])
    assert bad.func(bad) == 2
    with pytest.raises(ValueError, match="auth_timeout"):
        LMStudioServer(ScriptedEngine(), auth_timeout=0)


# -- frame size -----------------------------------------------------------------------------------


async def test_a_frame_beyond_the_limit_closes_only_that_socket(make_server: MakeServer) -> None:
    server = await make_server(max_frame_bytes=64 * 1024)
    reply, big = await authenticate(server.url + "/system", "big", "pw")
    assert reply == {"success": True}
    async with lms.AsyncClient(server.url, timeout=TIMEOUT) as bystander:
        assert await bystander.system.get_lmstudio_version()
        # Just under the limit: an ordinary (unknown-endpoint) call, answered.
        answer = await call(big, "nope", "x" * (60 * 1024), 1)
        assert answer["type"] == "rpcError"
        await big.send(json.dumps({"type": "keepAlive", "pad": "x" * (100 * 1024)}))
        assert await closed_by_server(big) == 1009  # message too big
        assert await bystander.system.get_lmstudio_version()
    with pytest.raises(ValueError, match="max_frame_bytes"):
        LMStudioServer(ScriptedEngine(), max_frame_bytes=10)


# -- uploaded files -------------------------------------------------------------------------------


def upload(name: str, data: bytes) -> dict[str, str]:
    return {"name": name, "contentBase64": base64.b64encode(data).decode()}


async def test_uploads_stay_in_the_servers_folder_and_go_with_their_identity(
    make_server: MakeServer,
) -> None:
    server = await make_server()
    reply, ws = await authenticate(server.url + "/files", "uploader", "pw")
    assert reply == {"success": True}
    hostile_names = [
        "../../etc/passwd",
        "/etc/passwd",
        "..\\..\\windows\\win.ini",
        "a/../../b.png",
        "../../../../../../tmp/lmstudio-sdk-escape.txt",
        "name\x01with\x1fcontrols.txt",
        "x." + "y" * 300,
    ]
    identifiers = []
    for n, name in enumerate(hostile_names, start=1):
        answer = await call(ws, "uploadFileBase64", upload(name, f"file {n}".encode()), n)
        assert answer["type"] == "rpcResult", (name, answer)
        identifiers.append(answer["result"]["identifier"])
    directory = server.files.directory
    assert directory is not None and directory.is_dir()
    on_disk = sorted(directory.iterdir())
    assert len(on_disk) == len(hostile_names)
    for path in on_disk:
        assert path.parent == directory
        assert re.fullmatch(r"\d+(\.[a-z0-9]{1,16})?", path.name), path.name
    for n, identifier in enumerate(identifiers, start=1):
        assert "/" not in identifier and "\\" not in identifier and "\x00" not in identifier
        assert server.files.read(identifier, "uploader") == f"file {n}".encode()
    # Refused outright: a NUL byte, a name that is only dots or empty.
    for call_id, name in enumerate(["evil\x00.png", "..", "", "/"], start=100):
        answer = await call(ws, "uploadFileBase64", upload(name, b"data"), call_id)
        assert answer["type"] == "rpcError", (name, answer)
    assert (
        "NUL" in (await call(ws, "uploadFileBase64", upload("a\x00b", b""), 200))["error"]["title"]
    )
    assert len(list(directory.iterdir())) == len(hostile_names)
    # The identity goes with its last socket, and its files with it.
    await ws.close()
    await asyncio.wait_for(ServerRecorder.of(server).wait_open_sockets(0), TIMEOUT)
    assert server.statistics().uploaded_files == 0
    assert list(directory.iterdir()) == []
    await server.stop()
    assert not directory.exists()


async def test_uploads_are_size_capped(make_server: MakeServer) -> None:
    server = await make_server(max_upload_bytes=1024)
    reply, ws = await authenticate(server.url + "/files", "uploader", "pw")
    assert reply == {"success": True}
    fits = await call(ws, "uploadFileBase64", upload("ok.bin", b"x" * 1024), 1)
    assert fits["type"] == "rpcResult" and fits["result"]["sizeBytes"] == 1024
    too_big = await call(ws, "uploadFileBase64", upload("big.bin", b"x" * 1025), 2)
    assert too_big["type"] == "rpcError"
    assert "at most 1024 bytes" in too_big["error"]["title"]
    way_too_big = await call(ws, "uploadFileBase64", upload("huge.bin", b"x" * 100_000), 3)
    assert "at most 1024 bytes" in way_too_big["error"]["title"]
    assert server.statistics().uploaded_files == 1
    await ws.close()


async def test_files_of_one_identity_are_not_readable_by_another(make_server: MakeServer) -> None:
    server = await make_server()
    reply, owner = await authenticate(server.url + "/files", "owner", "pw")
    assert reply == {"success": True}
    answer = await call(owner, "uploadFileBase64", upload("secret.txt", b"secret"), 1)
    identifier = answer["result"]["identifier"]
    from lmstudio_sdk.server.errors import ServerError

    with pytest.raises(ServerError, match="No uploaded file"):
        server.files.read(identifier, "someone-else")
    assert server.files.read(identifier, "owner") == b"secret"
    await owner.close()
