"""Small helpers of the real-inference tests."""

from __future__ import annotations

import struct
import zlib
from typing import Any

from lmstudio_sdk.server.engines.base import (
    EngineEvent,
    FragmentGenerated,
    PredictionFinished,
    PredictionRequest,
)


async def collect(model: Any, request: PredictionRequest) -> list[EngineEvent]:
    return [event async for event in model.predict(request)]


def text_of(events: list[EngineEvent], reasoning_type: str | None = None) -> str:
    return "".join(
        e.content
        for e in events
        if isinstance(e, FragmentGenerated)
        and (reasoning_type is None or e.reasoning_type == reasoning_type)
    )


def finished(events: list[EngineEvent]) -> PredictionFinished:
    last = events[-1]
    assert isinstance(last, PredictionFinished), last
    assert sum(isinstance(e, PredictionFinished) for e in events) == 1
    return last


def png(width: int, height: int) -> bytes:
    """A small RGB gradient PNG, written by hand (no imaging library needed)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(
        b"\x00" + b"".join(bytes((x * 255 // width, y * 255 // height, 128)) for x in range(width))
        for y in range(height)
    )
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )
