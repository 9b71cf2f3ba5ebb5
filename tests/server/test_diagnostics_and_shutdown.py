"""/diagnostics streamLogs at the wire: every subscriber gets each prediction's input and
output, a subscriber that stops or whose socket goes is forgotten; /system requestShutdown
stops the server only for a token holder."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from lmstudio_sdk.server import LMStudioServer

from .conftest import MakeServer
from .helpers import LLM_KEY, TIMEOUT, RawClient, connect, load, predict_params

TOKEN = "sk-lm-abcdEFGH:abcdefghijABCDEFGHIJ"


def _logs(client: RawClient, channel_id: int) -> list[dict[str, Any]]:
    return [p["log"]["data"] for p in client.channel_packets(channel_id)]


async def _wait_log(client: RawClient, channel_id: int, kind: str) -> dict[str, Any]:
    frame = await client.wait_for(
        lambda f: (
            f.get("channelId") == channel_id
            and f["type"] == "channelSend"
            and f["message"]["log"]["data"]["type"] == kind
        )
    )
    data: dict[str, Any] = frame["message"]["log"]["data"]
    return data


async def _wait_until(condition: Any) -> None:
    """Poll a server-side state the wire does not report (the bus's subscriber count)."""
    async with asyncio.timeout(TIMEOUT):
        while not condition():  # noqa: ASYNC110 - nothing to wait on: the count is plain state
            await asyncio.sleep(0.01)


async def test_every_subscriber_sees_the_prediction_until_it_goes(lms: LMStudioServer) -> None:
    bus = lms.services.logs
    async with connect(lms.url, "/diagnostics") as first, connect(lms.url, "/llm") as llm:
        await load(llm)
        one = await first.open_channel("streamLogs")
        await _wait_log(first, one, "server.log")  # its own subscription notice
        async with connect(lms.url, "/diagnostics", "other") as second:
            two = await second.open_channel("streamLogs")
            await _wait_log(second, two, "server.log")
            assert bus.subscriber_count == 2
            _, end = await llm.run_channel("predict", predict_params("watch me"))
            assert end["type"] == "channelClose"
            for client, channel in ((first, one), (second, two)):
                seen = await _wait_log(client, channel, "llm.prediction.input")
                assert "watch me" in seen["input"] and seen["modelIdentifier"] == LLM_KEY
                output = await _wait_log(client, channel, "llm.prediction.output")
                assert output["output"] == "You said: watch me"
                assert output["stats"]["stopReason"] == "eosFound"
        # The second socket closed: the bus forgot it.
        await _wait_until(lambda: bus.subscriber_count == 1)
        await first.channel_send(one, {"type": "stop"})
        assert (await first.channel_end(one))["type"] == "channelClose"
        assert bus.subscriber_count == 0
        count = len(_logs(first, one))
        await llm.run_channel("predict", predict_params("unseen"))
        assert len(_logs(first, one)) == count


async def test_server_log_records_reach_subscribers(
    lms: LMStudioServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="lmstudio_sdk.server")
    async with connect(lms.url, "/diagnostics") as diag, connect(lms.url, "/system") as system:
        channel = await diag.open_channel("streamLogs")
        await _wait_log(diag, channel, "server.log")
        await system.rpc("notify", {"title": "hello bus"})  # the server logs it at INFO
        record = await diag.wait_for(
            lambda f: (
                f.get("channelId") == channel
                and f["type"] == "channelSend"
                and "hello bus" in f["message"]["log"]["data"].get("content", "")
            )
        )
        assert record["message"]["log"]["data"]["level"] == "info"
        assert record["message"]["log"]["timestamp"] > 1_700_000_000_000  # ms since the epoch


async def test_shutdown_is_refused_to_guests(lms: LMStudioServer) -> None:
    async with connect(lms.url, "/system") as system:
        error = await system.rpc_error("requestShutdown")
        assert error["errorData"] == {"code": "permissionDenied"}
        assert await system.rpc("version")  # still serving


async def test_shutdown_from_a_token_holder_stops_the_server(make_server: MakeServer) -> None:
    server = await make_server(api_token=TOKEN)
    identifier, passkey = TOKEN.removeprefix("sk-lm-").split(":")
    async with connect(server.url, "/system", identifier, passkey) as system:
        assert await system.rpc("requestShutdown") is None
        await asyncio.wait_for(server.wait_stopped(), TIMEOUT)
        await asyncio.wait_for(system.closed.wait(), TIMEOUT)
