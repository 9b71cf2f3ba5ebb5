"""The diagnostics log bus: prediction inputs and outputs and the server's own log records,
fanned out to every ``/diagnostics streamLogs`` subscriber.

Each subscriber has a bounded queue: a slow one loses its oldest events (and learns how many
it lost), never blocks a publisher. Publishing works from any thread (engines log from their
own threads); the subscriber wakes on its event loop.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import deque

from ..._protocol.packets.diagnostics import StreamLogsLogPacketLog, StreamLogsLogPacketLogData
from ..._protocol.packets.diagnostics import (
    StreamLogsLogPacketLogDataServerLog as ServerLogData,
)

__all__ = ["DEFAULT_QUEUE_SIZE", "BusLogHandler", "LogBus", "LogSubscription"]

# Events a subscriber may fall behind by before the oldest are dropped.
DEFAULT_QUEUE_SIZE = 1000

_LEVELS = {
    logging.DEBUG: "debug",
    logging.INFO: "info",
    logging.WARNING: "warn",
    logging.ERROR: "error",
    logging.CRITICAL: "error",
}


class LogSubscription:
    """One subscriber's bounded queue; ``get()`` waits on the loop that subscribed."""

    def __init__(self, loop: asyncio.AbstractEventLoop, capacity: int) -> None:
        self._loop = loop
        self._queue: deque[StreamLogsLogPacketLog] = deque(maxlen=capacity)
        self._lock = threading.Lock()
        self._ready = asyncio.Event()
        self.dropped = 0  # events lost because this subscriber fell behind

    def put(self, log: StreamLogsLogPacketLog) -> None:
        with self._lock:
            if len(self._queue) == self._queue.maxlen:
                self.dropped += 1
            self._queue.append(log)
        try:
            if _running_loop() is self._loop:
                self._ready.set()
            else:
                self._loop.call_soon_threadsafe(self._ready.set)
        except RuntimeError:
            pass  # the subscriber's loop is closed: nobody is left to wake

    async def get(self) -> StreamLogsLogPacketLog:
        while True:
            with self._lock:
                if self._queue:
                    return self._queue.popleft()
                self._ready.clear()
            await self._ready.wait()


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


class LogBus:
    """Publish diagnostics events to whoever subscribed at the time."""

    def __init__(self, queue_size: int = DEFAULT_QUEUE_SIZE) -> None:
        self._queue_size = queue_size
        self._subscribers: set[LogSubscription] = set()
        self._lock = threading.Lock()

    @property
    def has_subscribers(self) -> bool:
        """Publishers may skip building an event nobody will read."""
        return bool(self._subscribers)

    @property
    def subscriber_count(self) -> int:
        return len(self._subscribers)

    def subscribe(self) -> LogSubscription:
        """A new subscriber on the running loop; ``unsubscribe`` it when it goes."""
        subscription = LogSubscription(asyncio.get_running_loop(), self._queue_size)
        with self._lock:
            self._subscribers.add(subscription)
        return subscription

    def unsubscribe(self, subscription: LogSubscription) -> None:
        with self._lock:
            self._subscribers.discard(subscription)

    def publish(self, data: StreamLogsLogPacketLogData) -> None:
        """Hand one event, stamped now (milliseconds since the epoch), to every subscriber."""
        with self._lock:
            subscribers = list(self._subscribers)
        if not subscribers:
            return
        log = StreamLogsLogPacketLog(timestamp=int(time.time() * 1000), data=data)
        for subscription in subscribers:
            subscription.put(log)


class BusLogHandler(logging.Handler):
    """Publishes the records of a logger as ``server.log`` events.

    A record logged while this handler publishes (on the same thread) is not published again,
    so that a log call inside the bus can never recurse.
    """

    def __init__(self, bus: LogBus) -> None:
        super().__init__()
        self._bus = bus
        self._publishing = threading.local()

    def emit(self, record: logging.LogRecord) -> None:
        if not self._bus.has_subscribers or getattr(self._publishing, "active", False):
            return
        self._publishing.active = True
        try:
            level = _LEVELS.get(record.levelno, "info")
            self._bus.publish(ServerLogData(content=self.format(record), level=level))
        except Exception:
            self.handleError(record)
        finally:
            self._publishing.active = False
