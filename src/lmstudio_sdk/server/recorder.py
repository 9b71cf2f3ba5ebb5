"""An observer that keeps what tests look at: cancel packets (with the time they were handled),
notifications, and the open sockets, with a way to wait for their number.

::

    recorder = ServerRecorder()
    async with LMStudioServer(ScriptedEngine(), observer=recorder) as server:
        ...
        await asyncio.wait_for(recorder.wait_open_sockets(0), 5)
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from dataclasses import dataclass

from .app import LMStudioServer
from .services.observer import OpenSocket, ServerObserver

__all__ = ["CancelReceived", "ServerRecorder"]

# How many cancel receipts ``ServerRecorder.cancels`` keeps (the oldest are dropped).
CANCELS_REMEMBERED = 256


@dataclass(frozen=True, slots=True)
class CancelReceived:
    """One client ``{"type": "cancel"}`` packet, as the server handled it.

    ``at`` is ``time.monotonic()`` when the frame was handled, so that a test in the same
    process can measure cancel latency.
    """

    namespace: str
    channel_id: int
    client_identifier: str | None
    at: float


class ServerRecorder(ServerObserver):
    """Records the server's reports (cheap: bounded, no I/O)."""

    def __init__(self) -> None:
        self.cancels: deque[CancelReceived] = deque(maxlen=CANCELS_REMEMBERED)
        self.cancels_received = 0  # client cancel packets since the start
        self.notifications: list[tuple[str, str | None]] = []
        self.plugin_statuses: list[tuple[str, str, str]] = []  # (plugin, status, text)
        self._sockets: set[OpenSocket] = set()
        self._socket_waiters: list[tuple[int, asyncio.Future[None]]] = []

    @staticmethod
    def of(server: LMStudioServer) -> ServerRecorder:
        """The recorder attached to ``server`` (TypeError if it has another observer)."""
        if not isinstance(server.observer, ServerRecorder):
            raise TypeError("this server has no ServerRecorder; pass observer=ServerRecorder()")
        return server.observer

    @property
    def open_sockets(self) -> int:
        return len(self._sockets)

    async def wait_open_sockets(self, count: int) -> None:
        """Wait until exactly ``count`` sockets are open (a closed socket counts once its
        calls and channels have all finished). Call it on the server's loop; tests put a
        timeout around it."""
        if len(self._sockets) == count:
            return
        waiter = asyncio.get_running_loop().create_future()
        self._socket_waiters.append((count, waiter))
        try:
            await waiter
        finally:
            self._socket_waiters = [w for w in self._socket_waiters if w[1] is not waiter]

    # -- ServerObserver -------------------------------------------------------------------------

    def socket_opened(self, socket: OpenSocket) -> None:
        self._sockets.add(socket)
        self._wake_socket_waiters()

    def socket_closed(self, socket: OpenSocket) -> None:
        self._sockets.discard(socket)
        self._wake_socket_waiters()

    def cancel_received(self, namespace: str, channel_id: int, client: str | None) -> None:
        self.cancels_received += 1
        self.cancels.append(CancelReceived(namespace, channel_id, client, time.monotonic()))

    def notification(self, title: str, description: str | None) -> None:
        self.notifications.append((title, description))

    def plugin_status(self, plugin: str, status: str, text: str) -> None:
        self.plugin_statuses.append((plugin, status, text))

    def _wake_socket_waiters(self) -> None:
        for count, waiter in self._socket_waiters:
            if count == len(self._sockets) and not waiter.done():
                waiter.set_result(None)
