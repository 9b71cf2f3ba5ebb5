"""A raw-frame WebSocket client for the server tests, and the TS 2.0 required-field lists.

The required-field lists are hand-copied from the JSON schema of @lmstudio/sdk 2.0.0; tests
never read the schema file.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import websockets
from websockets.asyncio.client import ClientConnection

TIMEOUT = 5.0
_MISSING: Any = object()

# -- TS 2.0 required fields -------------------------------------------------------------------

MODEL_INFO_REQUIRED = {
    "type",
    "modelKey",
    "format",
    "displayName",
    "publisher",
    "path",
    "sizeBytes",
    "indexedModelIdentifier",
    "deviceIdentifier",
    "maxContextLength",
}
LLM_INFO_REQUIRED = MODEL_INFO_REQUIRED | {"vision", "trainedForToolUse"}
INSTANCE_EXTRA_REQUIRED = {
    "identifier",
    "instanceReference",
    "ttlMs",
    "lastUsedTime",
    "contextLength",
}
LLM_INSTANCE_REQUIRED = LLM_INFO_REQUIRED | INSTANCE_EXTRA_REQUIRED
EMBEDDING_INSTANCE_REQUIRED = MODEL_INFO_REQUIRED | INSTANCE_EXTRA_REQUIRED
MODEL_INFO_OPTIONAL = {
    "paramsString",
    "architecture",
    "quantization",
    "variants",
    "selectedVariant",
}
FRAGMENT_REQUIRED = {"content", "tokensCount", "containsDrafted", "reasoningType", "isStructural"}
PROMPT_DETAILS_REQUIRED = {
    "cachedTokenCount",
    "totalPromptTokenCount",
    "processedPromptTokenCount",
    "unprocessedPromptTokenCount",
}
SUCCESS_REQUIRED = {"type", "stats", "modelInfo", "loadModelConfig", "predictionConfig"}
STATS_ALLOWED = {
    "stopReason",
    "stopString",
    "tokensPerSecond",
    "numGpuLayers",
    "timeToFirstTokenSec",
    "totalTimeSec",
    "promptTokensCount",
    "predictedTokensCount",
    "totalTokensCount",
    "usedDraftModelKey",
    "totalDraftTokensCount",
    "acceptedDraftTokensCount",
    "rejectedDraftTokensCount",
    "ignoredDraftTokensCount",
}
ESTIMATE_MEMORY_REQUIRED = {
    "confidence",
    "modelVramBytes",
    "contextVramBytes",
    "totalVramBytes",
    "modelBytes",
    "contextBytes",
    "totalBytes",
}
LIST_ENGINES_REQUIRED = {
    "name",
    "version",
    "engine",
    "platform",
    "cpu",
    "supportedModelFormatNames",
}
ERROR_FIELDS = {"title", "cause", "suggestion", "errorData", "displayData", "stack", "rootTitle"}


def assert_fields(obj: dict[str, Any], required: set[str], allowed: set[str] | None = None) -> None:
    """Every required key present; with ``allowed``, nothing outside required | allowed."""
    missing = required - obj.keys()
    assert not missing, f"missing required fields {sorted(missing)} in {obj}"
    if allowed is not None:
        extra = obj.keys() - required - allowed
        assert not extra, f"unexpected fields {sorted(extra)} in {obj}"


def assert_llm_instance(info: dict[str, Any]) -> None:
    assert info["type"] == "llm"
    assert_fields(info, LLM_INSTANCE_REQUIRED, MODEL_INFO_OPTIONAL)
    assert isinstance(info["vision"], bool)
    assert isinstance(info["trainedForToolUse"], bool)
    assert info["deviceIdentifier"] is None
    for key, value in info.items():
        if key not in ("deviceIdentifier", "ttlMs", "lastUsedTime"):
            assert value is not None, f"{key} is null; TS rejects null for optional fields"


def assert_embedding_instance(info: dict[str, Any]) -> None:
    assert info["type"] == "embedding"
    assert_fields(info, EMBEDDING_INSTANCE_REQUIRED, MODEL_INFO_OPTIONAL)


def assert_error(error: dict[str, Any], code: str | None = None) -> None:
    assert error.keys() <= ERROR_FIELDS, error
    assert isinstance(error["title"], str) and error["title"]
    assert error["rootTitle"] == error["title"]
    if code is not None:
        assert error["displayData"]["code"] == code, error


# -- the client ---------------------------------------------------------------------------------


class RawClient:
    """One authenticated socket; a reader task files every frame for the waiters."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.frames: list[dict[str, Any]] = []
        self.closed = asyncio.Event()
        self._changed = asyncio.Condition()
        self._next_id = 0
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        try:
            async for frame in self.ws:
                async with self._changed:
                    self.frames.append(json.loads(frame))
                    self._changed.notify_all()
        except websockets.ConnectionClosed:
            pass
        finally:
            self.closed.set()
            async with self._changed:
                self._changed.notify_all()

    async def close(self) -> None:
        await self.ws.close()
        await asyncio.wait_for(self._reader, TIMEOUT)

    def next_id(self) -> int:
        self._next_id += 1
        return self._next_id

    async def send(self, message: Any) -> None:
        await self.ws.send(message if isinstance(message, str) else json.dumps(message))

    async def wait_for(
        self, predicate: Callable[[dict[str, Any]], bool], timeout: float = TIMEOUT
    ) -> dict[str, Any]:
        """The first frame (received so far or later) that satisfies predicate."""
        async with asyncio.timeout(timeout), self._changed:
            while True:
                for frame in self.frames:
                    if predicate(frame):
                        return frame
                if self.closed.is_set():
                    raise AssertionError(f"socket closed; frames so far: {self.frames}")
                await self._changed.wait()

    def warnings(self) -> list[dict[str, Any]]:
        return [f for f in self.frames if f.get("type") == "communicationWarning"]

    async def wait_warning(self, kind: str) -> dict[str, Any]:
        return await self.wait_for(
            lambda f: f.get("type") == "communicationWarning" and f.get("kind") == kind
        )

    # -- RPC ----------------------------------------------------------------------------------

    async def call(self, endpoint: str, parameter: Any = _MISSING) -> dict[str, Any]:
        """Send an rpcCall; return its rpcResult or rpcError frame."""
        call_id = self.next_id()
        message: dict[str, Any] = {"type": "rpcCall", "endpoint": endpoint, "callId": call_id}
        if parameter is not _MISSING:
            message["parameter"] = parameter
        await self.send(message)
        return await self.wait_for(
            lambda f: f.get("callId") == call_id and f["type"] in ("rpcResult", "rpcError")
        )

    async def rpc(self, endpoint: str, parameter: Any = _MISSING) -> Any:
        """The result of a call that must succeed (None when the result was omitted)."""
        frame = await self.call(endpoint, parameter)
        assert frame["type"] == "rpcResult", frame
        return frame.get("result")

    async def rpc_error(self, endpoint: str, parameter: Any = _MISSING) -> dict[str, Any]:
        frame = await self.call(endpoint, parameter)
        assert frame["type"] == "rpcError", frame
        error: dict[str, Any] = frame["error"]
        assert_error(error)
        return error

    # -- channels -----------------------------------------------------------------------------

    async def open_channel(self, endpoint: str, creation: Any = _MISSING) -> int:
        channel_id = self.next_id()
        message: dict[str, Any] = {
            "type": "channelCreate",
            "endpoint": endpoint,
            "channelId": channel_id,
        }
        if creation is not _MISSING:
            message["creationParameter"] = creation
        await self.send(message)
        return channel_id

    async def channel_send(self, channel_id: int, message: Any) -> None:
        await self.send({"type": "channelSend", "channelId": channel_id, "message": message})

    async def channel_end(self, channel_id: int, timeout: float = TIMEOUT) -> dict[str, Any]:
        return await self.wait_for(
            lambda f: (
                f.get("channelId") == channel_id and f["type"] in ("channelClose", "channelError")
            ),
            timeout,
        )

    def channel_frames(self, channel_id: int) -> list[dict[str, Any]]:
        return [f for f in self.frames if f.get("channelId") == channel_id]

    def channel_packets(self, channel_id: int) -> list[dict[str, Any]]:
        return [f["message"] for f in self.channel_frames(channel_id) if f["type"] == "channelSend"]

    async def run_channel(
        self, endpoint: str, creation: Any = _MISSING, timeout: float = TIMEOUT
    ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        """Open a channel and wait for its end: (packets, terminal frame)."""
        channel_id = await self.open_channel(endpoint, creation)
        end = await self.channel_end(channel_id, timeout)
        return self.channel_packets(channel_id), end


async def raw_connect(url: str) -> ClientConnection:
    return await websockets.connect(url, open_timeout=TIMEOUT, max_size=None)


def auth_packet(identifier: str = "tester", passkey: str = "secret") -> str:
    return json.dumps({"authVersion": 1, "clientIdentifier": identifier, "clientPasskey": passkey})


async def authenticate(ws: ClientConnection, identifier: str, passkey: str) -> dict[str, Any]:
    await ws.send(auth_packet(identifier, passkey))
    reply: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))
    return reply


@contextlib.asynccontextmanager
async def connect(
    base_url: str, namespace: str, identifier: str = "tester", passkey: str = "secret"
) -> AsyncIterator[RawClient]:
    """An authenticated RawClient on base_url + namespace."""
    ws = await raw_connect(base_url + namespace)
    try:
        reply = await authenticate(ws, identifier, passkey)
        assert reply == {"success": True}, reply
        client = RawClient(ws)
        try:
            yield client
        finally:
            await client.close()
    finally:
        await ws.close()


# -- common payloads ----------------------------------------------------------------------------

LLM_KEY = "scripted-echo-1b"
VISION_KEY = "scripted-vision-1b"
EMBED_KEY = "scripted-embed-small"
EMPTY_STACK: dict[str, Any] = {"layers": [{"layerName": "apiOverride", "config": {"fields": []}}]}


def stack(**fields: Any) -> dict[str, Any]:
    """An apiOverride layer; keyword names use __ for dots (llm__prediction__temperature)."""
    return {
        "layers": [
            {
                "layerName": "apiOverride",
                "config": {
                    "fields": [{"key": k.replace("__", "."), "value": v} for k, v in fields.items()]
                },
            }
        ]
    }


def by_identifier(identifier: str) -> dict[str, Any]:
    return {"type": "query", "query": {"identifier": identifier}}


def chat(text: str) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": [{"type": "text", "text": text}]}]}


def predict_params(
    text: str, identifier: str = LLM_KEY, config: dict[str, Any] | None = None
) -> dict[str, Any]:
    return {
        "modelSpecifier": by_identifier(identifier),
        "history": chat(text),
        "predictionConfigStack": config if config is not None else EMPTY_STACK,
    }


async def load(client: RawClient, key: str = LLM_KEY, **extra: Any) -> dict[str, Any]:
    """loadModel on client's namespace; returns the success info."""
    packets, end = await client.run_channel(
        "loadModel", {"modelKey": key, "loadConfigStack": EMPTY_STACK, **extra}
    )
    assert end["type"] == "channelClose", end
    assert packets[-1]["type"] == "success", packets
    info: dict[str, Any] = packets[-1]["info"]
    return info
