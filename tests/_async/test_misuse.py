"""Misuse of a client against the embedded server: a typed error that says what happened,
never a silent reconnect, a hang, or an error that blames the wrong thing. Written once for
the async face; ``scripts/unasync.py`` generates the sync twin."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import lmstudio_sdk as lms
from tests.conftest import RunningServer

ECHO = "scripted-echo-1b"


async def test_a_closed_client_refuses_every_call(server: RunningServer) -> None:
    client = lms.AsyncClient(server.url, timeout=10)
    model = await client.llm.model(ECHO)
    await client.aclose()
    calls: list[tuple[Callable[..., Any], tuple[Any, ...]]] = [
        (model.respond, ("hi",)),
        (client.llm.model, (ECHO,)),
        (client.llm.list_loaded, ()),
        (client.system.get_lmstudio_version, ()),
        (client.embedding.list_loaded, ()),
        (client.files.prepare_file, (Path(__file__),)),
        (client.rpc, ("system", "version")),
        (client.open_channel, ("llm", "getOrLoad", {"identifier": ECHO})),
    ]
    for call, args in calls:
        with pytest.raises(lms.LMStudioClientClosedError, match="AsyncClient is closed"):
            await call(*args)
    await client.aclose()  # closing again is harmless
    with pytest.raises(lms.LMStudioClientClosedError, match=r"aclose\(\)"):
        async with client:
            pass


async def test_leaving_the_context_closes_the_client(server: RunningServer) -> None:
    async with lms.AsyncClient(server.url, timeout=10) as client:
        assert await client.system.get_lmstudio_version()
    with pytest.raises(lms.LMStudioClientClosedError):
        await client.system.get_lmstudio_version()


async def test_a_trailing_slash_still_connects(server: RunningServer) -> None:
    async with lms.AsyncClient(f"127.0.0.1:{server.port}/", timeout=10) as client:
        assert await client.system.get_lmstudio_version()
        assert client.base_url == f"ws://127.0.0.1:{server.port}"


async def test_a_wrong_path_prefix_is_not_an_authentication_error(server: RunningServer) -> None:
    async with lms.AsyncClient(f"{server.url}/lmstudio", timeout=10) as client:
        with pytest.raises(lms.LMStudioConnectionError) as caught:
            await client.system.get_lmstudio_version()
    assert not isinstance(caught.value, lms.AuthenticationError)
    message = str(caught.value)
    assert f"{server.url}/lmstudio/system" in message
    assert "HTTP 403" in message and "path" in message


async def test_the_escape_hatch_checks_its_arguments(server: RunningServer) -> None:
    async with lms.AsyncClient(server.url, timeout=10) as client:
        with pytest.raises(lms.LMStudioValueError, match="endpoint must be a string"):
            await client.rpc("system", 5)  # type: ignore[arg-type]
        with pytest.raises(lms.LMStudioValueError, match="namespace must be a string"):
            await client.open_channel(None, "getOrLoad")  # type: ignore[arg-type]
        with pytest.raises(lms.LMStudioValueError, match="cannot be sent as JSON"):
            await client.rpc("system", "version", object())
        channel = await client.open_channel(
            "llm", "getOrLoad", {"identifier": ECHO, "loadConfigStack": {"layers": []}}
        )
        with pytest.raises(lms.LMStudioValueError, match="timeout=-1"):
            await channel.receive_value(-1)
        with pytest.raises(lms.LMStudioValueError, match="cannot be sent as JSON"):
            channel.send(object())
        while await channel.receive_value(5) is not None:
            pass
        # Nothing above reached the server as garbage: the socket still answers.
        assert await client.system.get_lmstudio_version()
