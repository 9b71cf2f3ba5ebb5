"""A plugin that answers nonsense never hangs a prediction: a hand-written plugin client on the
wire, with the credentials the server handed out."""

from __future__ import annotations

import asyncio
import time

import pytest

import lmstudio_sdk as lms
from lmstudio_sdk._async.pool import AsyncSessionPool
from lmstudio_sdk._protocol.identity import Identity
from lmstudio_sdk.server import ServerThread

from .harness import DEADLINE


async def test_nonsense_answers_end_the_prediction_at_the_deadline(
    plugin_server: ServerThread,
) -> None:
    async with lms.AsyncClient(plugin_server.url, timeout=10) as client:
        manifest = {"type": "plugin", "runner": "python", "owner": "tests", "name": "rogue"}
        registration = await client.open_channel(
            "plugins", "registerDevelopmentPlugin", {"manifest": manifest}
        )
        ready = await registration.receive_value(10)
        plugin = AsyncSessionPool(
            plugin_server.url, Identity(ready["clientIdentifier"], ready["clientPasskey"]), 10
        )
        try:
            hook = await plugin.open_channel("plugins", "setPromptPreprocessor", None, 10)
            await plugin.rpc("plugins", "pluginInitCompleted", None, 10)
            model = await client.llm.model("scripted-echo-1b")
            config: lms.LlmPredictionConfigDict = {"raw": lms.plugins_field(["tests/rogue"])}
            stream = model.respond_stream("hi", config=config)
            started = time.monotonic()
            result_task = asyncio.ensure_future(stream.result())
            request = await hook.receive_value(10)
            assert request["type"] == "preprocess"
            hook.send({"type": "complete", "taskId": "no-such-task", "processed": request["input"]})
            hook.send({"type": "complete", "taskId": request["taskId"], "processed": 42})
            hook.send({"type": "nonsense", "taskId": request["taskId"]})
            with pytest.raises(lms.LMStudioServerError, match='"tests/rogue" did not answer'):
                await result_task
            assert time.monotonic() - started < DEADLINE + 5
            assert (await hook.receive_value(10)) == {"type": "abort", "taskId": request["taskId"]}
            # Only a plugin's own identity may serve hooks.
            with pytest.raises(lms.LMStudioServerError, match="Only a plugin process"):
                channel = await client.open_channel("plugins", "setGenerator")
                await channel.receive_value(10)
            assert (await model.respond("still serving")).content == "You said: still serving"
        finally:
            await plugin.aclose()
            registration.send({"type": "end"})
