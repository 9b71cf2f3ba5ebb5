"""The WebSocket side both transports share: websockets' sans-I/O ClientProtocol, plus what we
add to it (text assembly of fragmented messages, the handshake outcome, the close cause).

Both drivers feed it bytes and send what it returns; neither parses WebSocket frames itself.
Using the sans-I/O core instead of websockets' own drivers saves a thread or task hop per
message (their drivers run a reader of their own, ours would be a second one).
"""

from __future__ import annotations

import itertools

from websockets.client import ClientProtocol
from websockets.exceptions import InvalidURI
from websockets.frames import Frame, Opcode
from websockets.http11 import Response
from websockets.protocol import State
from websockets.uri import WebSocketURI, parse_uri

from .._exceptions import LMStudioValueError
from .common import MAX_FRAME_BYTES

__all__ = ["RECEIVE_BYTES", "WebSocketCore"]

RECEIVE_BYTES = 256 * 1024  # one recv() at most


class WebSocketCore:
    """One client connection's WebSocket state; not thread-safe (drivers hold a lock)."""

    def __init__(self, url: str) -> None:
        self.url = url
        try:
            self.uri: WebSocketURI = parse_uri(url)
        except InvalidURI as exc:
            raise LMStudioValueError(f"invalid WebSocket URL {url!r}: {exc}") from None
        self.protocol = ClientProtocol(self.uri, max_size=MAX_FRAME_BYTES)
        self.protocol.send_request(self.protocol.connect())
        self.response: Response | None = None
        self._parts: list[bytes] = []
        # Keepalive: the payload of the ping still waiting for its pong (None: none is).
        self._ping_numbers = itertools.count(1)
        self.unanswered_ping: bytes | None = None

    @property
    def handshake_error(self) -> Exception | None:
        return self.protocol.handshake_exc

    @property
    def open(self) -> bool:
        return self.protocol.state is State.OPEN

    def receive(self, data: bytes) -> list[str]:
        """Feed bytes from the network; returns the complete text messages they finished."""
        self.protocol.receive_data(data)
        return self._messages()

    def receive_eof(self) -> None:
        self.protocol.receive_eof()
        self.protocol.events_received()

    def send_text(self, text: str) -> None:
        self.protocol.send_text(text.encode())

    def send_ping(self) -> bytes:
        """Queue a keepalive ping with a payload of its own; returns that payload.

        Its pong (the same payload, RFC 6455 §5.5.3) clears ``unanswered_ping``; a pong for an
        older ping does not. A ping sent while another is unanswered replaces it.
        """
        payload = b"lmstudio-sdk keepalive %d" % next(self._ping_numbers)
        self.protocol.send_ping(payload)
        self.unanswered_ping = payload
        return payload

    def send_close(self) -> None:
        if self.protocol.state is State.OPEN:
            self.protocol.send_close()

    def data_to_send(self) -> bytes:
        """Bytes to write; b"" also when the protocol asks for the end of the stream."""
        return b"".join(self.protocol.data_to_send())

    def close_cause(self) -> Exception:
        return self.protocol.close_exc

    def _messages(self) -> list[str]:
        texts: list[str] = []
        for event in self.protocol.events_received():
            if isinstance(event, Response):
                self.response = event
            elif isinstance(event, Frame):
                if event.opcode in (Opcode.TEXT, Opcode.BINARY):
                    self._parts = [bytes(event.data)]
                elif event.opcode is Opcode.CONT:
                    self._parts.append(bytes(event.data))
                elif event.opcode is Opcode.PONG:
                    if bytes(event.data) == self.unanswered_ping:
                        self.unanswered_ping = None
                    continue
                else:
                    continue  # ping/close: the protocol already answered them
                if event.fin:
                    texts.append(b"".join(self._parts).decode("utf-8", "replace"))
                    self._parts = []
        return texts
