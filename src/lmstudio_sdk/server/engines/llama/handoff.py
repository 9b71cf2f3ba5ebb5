"""Results handed from the engine's threads to the event loop, one wake-up per burst.

``loop.call_soon_threadsafe`` writes to the loop's self-pipe on every call. A decode step of
four sequences emits four fragments (and an embedding batch settles several requests), so the
thread that owns the llama.cpp context paid a system call per result: about 4% of its time in
a profile of four parallel predictions, and as much for embeddings, the rest being
``llama_decode``. Calls posted to a loop's :class:`LoopInbox` run on that loop in the order they
were posted, and only the first call of a burst wakes the loop.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import weakref
from collections.abc import Callable
from typing import Any

__all__ = ["LoopInbox", "inbox_for"]

_log = logging.getLogger("lmstudio_sdk.server.engines.llama")


class LoopInbox:
    """Calls to run on one event loop, posted from any thread."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        # Weak: the inbox is the value of its loop's entry in ``_inboxes``.
        self._loop = weakref.ref(loop)
        self._lock = threading.Lock()
        self._calls: list[tuple[Callable[..., Any], tuple[Any, ...]]] = []

    def post(self, fn: Callable[..., Any], *args: Any) -> None:
        """Run ``fn(*args)`` on the loop, after every call posted before it. A closed loop
        drops it (nobody is left to receive it)."""
        with self._lock:
            self._calls.append((fn, args))
            if len(self._calls) > 1:
                return  # a drain is already scheduled and will run this call too
        loop = self._loop()
        try:
            if loop is None:
                raise RuntimeError("the loop is gone")
            loop.call_soon_threadsafe(self._drain)
        except RuntimeError:  # the loop is closed
            with self._lock:
                self._calls.clear()

    def _drain(self) -> None:
        with self._lock:
            calls, self._calls = self._calls, []
        for fn, args in calls:
            try:
                fn(*args)
            except Exception:  # one failing call must not lose the others
                _log.exception("handing a result to the event loop failed")


_inboxes: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, LoopInbox] = (
    weakref.WeakKeyDictionary()
)
_inboxes_lock = threading.Lock()


def inbox_for(loop: asyncio.AbstractEventLoop) -> LoopInbox:
    """The inbox of ``loop`` (one per loop, so that all of its results share the wake-ups)."""
    with _inboxes_lock:
        inbox = _inboxes.get(loop)
        if inbox is None:
            inbox = _inboxes[loop] = LoopInbox(loop)
        return inbox
