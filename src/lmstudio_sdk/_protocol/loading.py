"""The ``loadModel`` and ``getOrLoad`` channels as a pure state machine.

Both channels end with the loaded instance's info. Progress is reported only when it rises, and
always ends at 1.0, whatever the server sends (``progress`` and ``loadProgress`` alike). Packets
decode with the channel's ``to_client`` union from the packet vocabulary.
"""

from __future__ import annotations

import logging
from typing import Any, Generic, TypeVar, Union, cast, get_args

import msgspec
from msgspec import Raw

from .._exceptions import RemoteProtocolError
from .packets import ENDPOINTS
from .tolerance import fill_packet

__all__ = ["LoadState"]

logger = logging.getLogger("lmstudio_sdk.protocol")

_FINAL = frozenset({"success", "alreadyLoaded", "loadSuccess"})
_PROGRESS = frozenset({"progress", "loadProgress"})


InstanceT = TypeVar("InstanceT")


def _tag(packet: Any) -> str:
    return str(packet.__struct_config__.tag)


def _load_packets(namespace: str) -> Any:
    """Every packet of the namespace's loadModel and getOrLoad channels (their tags differ)."""
    members = (
        *get_args(ENDPOINTS[namespace, "loadModel"].to_client),
        *get_args(ENDPOINTS[namespace, "getOrLoad"].to_client),
    )
    return Union[members]  # noqa: UP007 (a union built at run time)


_PACKETS = {namespace: _load_packets(namespace) for namespace in ("llm", "embedding")}


class LoadState(Generic[InstanceT]):
    """Feed packets; read ``progress_updates`` from feed() and ``instance`` at the end.

    ``instance_type`` (``LLMInstanceInfo`` or ``EmbeddingModelInstanceInfo``) picks the
    namespace whose channels' ``to_client`` unions decode the packets.
    """

    def __init__(self, instance_type: type[InstanceT]) -> None:
        namespace = str(cast(Any, instance_type).__struct_config__.tag)
        self._packet_type = _PACKETS[namespace]
        self._decoder = msgspec.json.Decoder(self._packet_type)
        self._known = frozenset(_tag(cls) for cls in get_args(self._packet_type))
        self._unknown_seen: set[str] = set()
        self._progress = 0.0
        self.instance: InstanceT | None = None
        self.already_loaded = False

    @property
    def finished(self) -> bool:
        return self.instance is not None

    def feed(self, message: Raw) -> list[float]:
        """Returns the progress values to report (rising, ending with 1.0)."""
        try:
            packet = self._decoder.decode(message)
        except msgspec.ValidationError as exc:
            packet = self._decode_leniently(message, exc)
            if packet is None:
                return []
        kind = _tag(packet)
        if kind in _PROGRESS:
            return self._advance(min(max(float(packet.progress), 0.0), 1.0))
        if kind in _FINAL:
            self.instance = packet.info
            self.already_loaded = kind == "alreadyLoaded"
            return [] if self.already_loaded else self._advance(1.0)
        if kind == "resolved" and packet.ambiguous:
            logger.warning(
                "model key is ambiguous, LM Studio chose the first of %s", packet.ambiguous
            )
        return []

    def _decode_leniently(self, message: Raw, error: msgspec.ValidationError) -> Any:
        """The packet, tolerating what older servers leave out; None for an unknown type."""
        loose = msgspec.json.decode(message)  # a payload slot always holds valid JSON
        kind = loose.get("type") if isinstance(loose, dict) else None
        if not isinstance(kind, str):
            raise RemoteProtocolError(f"LM Studio sent an invalid load packet: {error}")
        if kind not in self._known or (kind in _PROGRESS and "progress" not in loose):
            if kind not in self._unknown_seen:
                self._unknown_seen.add(kind)
                logger.info("ignoring an unknown load packet type %r", kind)
            return None
        if kind in _FINAL and "info" not in loose:
            raise RemoteProtocolError(f"LM Studio's {kind!r} packet has no model info")
        try:
            return msgspec.convert(fill_packet(loose), self._packet_type)
        except msgspec.ValidationError as exc:
            if kind in _FINAL:
                raise RemoteProtocolError(
                    f"LM Studio sent an invalid model info when loading: {exc}"
                ) from exc
            raise RemoteProtocolError(f"LM Studio sent an invalid load packet: {exc}") from exc

    def channel_closed(self) -> None:
        if self.instance is None:
            raise RemoteProtocolError("LM Studio closed the load channel before the model loaded")

    def _advance(self, value: float) -> list[float]:
        if value <= self._progress and not (value == 1.0 and self._progress < 1.0):
            return []
        self._progress = value
        return [value]
