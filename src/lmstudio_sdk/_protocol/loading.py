"""The ``loadModel`` and ``getOrLoad`` channels as a pure state machine.

Both channels end with the loaded instance's info. Progress is reported only when it rises, and
always ends at 1.0, whatever the server sends (``progress`` and ``loadProgress`` alike).
"""

from __future__ import annotations

import logging
from typing import Generic, TypeVar

import msgspec
from msgspec import UNSET, Raw, UnsetType

from .._exceptions import RemoteProtocolError

__all__ = ["LoadState"]

logger = logging.getLogger("lmstudio_sdk.protocol")

InstanceT = TypeVar("InstanceT")


class _Packet(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    type: str
    progress: float | None = None
    info: Raw | UnsetType = UNSET
    identifier: str | None = None
    ambiguous: list[str] | None = None


_FINAL = frozenset({"success", "alreadyLoaded", "loadSuccess"})
_PROGRESS = frozenset({"progress", "loadProgress"})
_INFORMATIONAL = frozenset({"resolved", "startLoading", "unloadingOtherJITModel"})


class LoadState(Generic[InstanceT]):
    """Feed packets; read ``progress_updates`` from feed() and ``instance`` at the end."""

    def __init__(self, instance_type: type[InstanceT]) -> None:
        self._instance_type = instance_type
        self._progress = 0.0
        self.instance: InstanceT | None = None
        self.already_loaded = False

    @property
    def finished(self) -> bool:
        return self.instance is not None

    def feed(self, message: Raw) -> list[float]:
        """Returns the progress values to report (rising, ending with 1.0)."""
        try:
            packet = msgspec.json.decode(message, type=_Packet)
        except msgspec.ValidationError as exc:
            raise RemoteProtocolError(f"LM Studio sent an invalid load packet: {exc}") from exc
        if packet.type in _PROGRESS and packet.progress is not None:
            return self._advance(min(max(packet.progress, 0.0), 1.0))
        if packet.type in _FINAL:
            if isinstance(packet.info, UnsetType):
                raise RemoteProtocolError(f"LM Studio's {packet.type!r} packet has no model info")
            try:
                self.instance = msgspec.json.decode(packet.info, type=self._instance_type)
            except msgspec.ValidationError as exc:
                raise RemoteProtocolError(
                    f"LM Studio sent an invalid model info when loading: {exc}"
                ) from exc
            self.already_loaded = packet.type == "alreadyLoaded"
            return [] if self.already_loaded else self._advance(1.0)
        if packet.type == "resolved" and packet.ambiguous:
            logger.warning(
                "model key is ambiguous, LM Studio chose the first of %s", packet.ambiguous
            )
        elif packet.type not in _INFORMATIONAL:
            logger.info("ignoring an unknown load packet type %r", packet.type)
        return []

    def channel_closed(self) -> None:
        if self.instance is None:
            raise RemoteProtocolError("LM Studio closed the load channel before the model loaded")

    def _advance(self, value: float) -> list[float]:
        if value <= self._progress and not (value == 1.0 and self._progress < 1.0):
            return []
        self._progress = value
        return [value]
