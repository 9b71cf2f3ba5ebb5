"""The ``downloadModel`` channel as a pure state machine.

Packets decode with the channel's ``to_client`` union from the packet vocabulary: progress
updates (bytes, total, speed), ``startFinalizing``, and ``success`` with the model key. An
unknown packet type is logged once and ignored.
"""

from __future__ import annotations

import logging
from typing import Any, Final

import msgspec
from msgspec import Raw

from .._exceptions import LMStudioChannelClosedError, RemoteProtocolError
from .packets import ENDPOINTS
from .packets.repository import DownloadModelSuccessPacket
from .packets.shared import (
    DownloadModelDownloadProgressPacket,
    DownloadModelStartFinalizingPacket,
    DownloadProgressUpdate,
)

__all__ = ["FINALIZING", "DownloadEvent", "DownloadState"]

logger = logging.getLogger("lmstudio_sdk.protocol")

FINALIZING: Final = "finalizing"
DownloadEvent = DownloadProgressUpdate | str  # an update, or FINALIZING

_PACKETS: Any = ENDPOINTS["repository", "downloadModel"].to_client


class DownloadState:
    """Feed packets; ``feed()`` returns the events to report, ``model_key`` is set at the end."""

    def __init__(self) -> None:
        self._decoder = msgspec.json.Decoder(_PACKETS)
        self._unknown_seen: set[str] = set()
        self.model_key: str | None = None

    def feed(self, message: Raw) -> list[DownloadEvent]:
        try:
            packet = self._decoder.decode(message)
        except msgspec.ValidationError as exc:
            loose = msgspec.json.decode(message)
            kind = loose.get("type") if isinstance(loose, dict) else None
            if isinstance(kind, str) and kind not in (
                "downloadProgress",
                "startFinalizing",
                "success",
            ):
                if kind not in self._unknown_seen:
                    self._unknown_seen.add(kind)
                    logger.info("ignoring an unknown download packet type %r", kind)
                return []
            raise RemoteProtocolError(f"LM Studio sent an invalid download packet: {exc}") from exc
        if isinstance(packet, DownloadModelDownloadProgressPacket):
            return [packet.update]
        if isinstance(packet, DownloadModelStartFinalizingPacket):
            return [FINALIZING]
        assert isinstance(packet, DownloadModelSuccessPacket)
        self.model_key = packet.default_identifier
        return []

    def channel_closed(self) -> None:
        if self.model_key is None:
            raise LMStudioChannelClosedError(
                "LM Studio closed the download channel before it finished"
            )
