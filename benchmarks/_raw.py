"""The floor: hand-written websockets clients sending the frames our SDK sends, nothing more.

They authenticate, send pre-formatted frames with increasing ids and decode each reply with
msgspec (the least a correct client must do to find its call or channel).
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import msgspec
from websockets.asyncio.client import ClientConnection as AsyncWebSocket
from websockets.asyncio.client import connect as async_connect
from websockets.sync.client import ClientConnection as SyncWebSocket
from websockets.sync.client import connect as sync_connect

MAX_SIZE = 64 * 1024 * 1024  # as our transport
_decode = msgspec.json.Decoder().decode


def auth_frame() -> str:
    return json.dumps(
        {
            "authVersion": 1,
            "clientIdentifier": f"bench-raw-{uuid.uuid4().hex}",
            "clientPasskey": uuid.uuid4().hex,
        }
    )


def _check_auth(reply: str | bytes) -> None:
    if not _decode(reply).get("success"):
        raise RuntimeError(f"raw client: authentication failed: {reply!r}")


def count_tokens_frame(ref: str, text: str) -> str:
    """An rpcCall template; ``%d`` is the callId."""
    parameter = json.dumps(
        {"specifier": {"type": "instanceReference", "instanceReference": ref}, "inputString": text}
    ).replace("%", "%%")
    return '{"type":"rpcCall","endpoint":"countTokens","callId":%d,"parameter":' + parameter + "}"


def predict_frame(ref: str, text: str) -> str:
    """A predict channelCreate template (the creation parameter our SDK sends); ``%d`` is the id."""
    parameter = json.dumps(
        {
            "modelSpecifier": {"type": "instanceReference", "instanceReference": ref},
            "history": {
                "messages": [{"role": "user", "content": [{"type": "text", "text": text}]}]
            },
            "predictionConfigStack": {
                "layers": [{"layerName": "apiOverride", "config": {"fields": []}}]
            },
        }
    ).replace("%", "%%")
    return (
        '{"type":"channelCreate","endpoint":"predict","channelId":%d,"creationParameter":'
        + parameter
        + "}"
    )


def _fragments_until_success(message: Any, channel_id: int) -> tuple[int, bool]:
    """(fragments in this frame, whether the prediction ended)."""
    if message.get("channelId") != channel_id:
        return 0, False
    if message["type"] == "channelError":
        raise RuntimeError(f"raw client: prediction failed: {message['error']}")
    if message["type"] != "channelSend":
        return 0, False
    kind = message["message"]["type"]
    return (1 if kind == "fragment" else 0), kind == "success"


class RawSync:
    def __init__(self, url: str) -> None:
        self.ws: SyncWebSocket = sync_connect(url, max_size=MAX_SIZE, compression=None)
        self.ws.send(auth_frame())
        _check_auth(self.ws.recv())
        self._next_id = 1

    def close(self) -> None:
        self.ws.close()

    def rpc_loop(self, template: str, count: int) -> None:
        for _ in range(count):
            call_id = self._next_id
            self._next_id += 1
            self.ws.send(template % call_id)
            reply = _decode(self.ws.recv())
            if reply.get("callId") != call_id or reply["type"] != "rpcResult":
                raise RuntimeError(f"raw client: unexpected reply {reply!r}")

    def predict(self, template: str) -> int:
        channel_id = self._next_id
        self._next_id += 1
        self.ws.send(template % channel_id)
        fragments = 0
        while True:
            count, done = _fragments_until_success(_decode(self.ws.recv()), channel_id)
            fragments += count
            if done:
                return fragments


class RawAsync:
    def __init__(self, ws: AsyncWebSocket) -> None:
        self.ws = ws
        self._next_id = 1

    @classmethod
    async def connect(cls, url: str) -> RawAsync:
        ws = await async_connect(url, max_size=MAX_SIZE, compression=None)
        await ws.send(auth_frame())
        _check_auth(await ws.recv())
        return cls(ws)

    async def close(self) -> None:
        await self.ws.close()

    async def rpc_loop(self, template: str, count: int) -> None:
        for _ in range(count):
            call_id = self._next_id
            self._next_id += 1
            await self.ws.send(template % call_id)
            reply = _decode(await self.ws.recv())
            if reply.get("callId") != call_id or reply["type"] != "rpcResult":
                raise RuntimeError(f"raw client: unexpected reply {reply!r}")

    async def predict(self, template: str) -> int:
        channel_id = self._next_id
        self._next_id += 1
        await self.ws.send(template % channel_id)
        fragments = 0
        while True:
            count, done = _fragments_until_success(_decode(await self.ws.recv()), channel_id)
            fragments += count
            if done:
                return fragments
