"""The blocking transport: one namespace socket over websockets' sans-I/O protocol, plus the
small primitives the sync session needs. Hand-written twin of ``asyncio.py``.

No event loop is involved anywhere, so the sync client also works inside a running loop
(Jupyter). The transport's reader thread hands every text message to the session's handler,
which routes it into per-call mailboxes; callers wait on their own mailbox, so a waiter
interrupted by Ctrl-C never loses a message meant for someone else. We drive websockets'
sans-I/O ``ClientProtocol`` ourselves rather than use ``websockets.sync``, whose own reader
thread would put a second thread hop between every message and its caller.
"""

from __future__ import annotations

import collections
import concurrent.futures
import contextlib
import inspect
import logging
import socket
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from queue import Empty, SimpleQueue
from typing import Any, Final, Generic, TypeAlias, TypeVar

import websockets

from .._exceptions import LMStudioConnectionError, LMStudioTimeoutError
from .common import (
    CLOSE_TIMEOUT,
    DEFAULT_KEEPALIVE,
    CallOutcome,
    Keepalive,
    ThreadFuture,
    connect_error,
    greeting_ok,
    greeting_request,
    keepalive_error,
)
from .wscore import RECEIVE_BYTES, WebSocketCore

__all__ = [
    "RUNS_COROUTINES",
    "AwaitableSelf",
    "Done",
    "DoneNow",
    "Gate",
    "Lock",
    "Mailbox",
    "Transport",
    "Worker",
    "find_local_server",
    "pause",
    "probe_greeting",
    "read_file",
    "run_concurrently",
    "wait_future",
]

logger = logging.getLogger("lmstudio_sdk.transport")

# Linux and macOS: a send that takes what the kernel accepts now and never waits.
_DONTWAIT = getattr(socket, "MSG_DONTWAIT", 0)

T = TypeVar("T")


class Mailbox(Generic[T]):
    """Where the reader leaves events for one waiting call or channel."""

    __slots__ = ("_queue",)

    def __init__(self) -> None:
        self._queue: SimpleQueue[T] = SimpleQueue()

    def put(self, item: T) -> None:
        self._queue.put(item)

    def get(self, timeout: float | None) -> T:
        try:
            return self._queue.get(timeout=timeout)
        except Empty:
            raise LMStudioTimeoutError(f"no answer from LM Studio within {timeout:g} s") from None


class Worker:
    """Runs ``target()`` in a daemon thread, for callback forms of streams; the asyncio twin
    runs a task."""

    def __init__(self, target: Callable[[], Any], name: str) -> None:
        self._thread = threading.Thread(target=target, name=name, daemon=True)
        self._thread.start()

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def join(self, timeout: float | None) -> bool:
        """Wait for the target to end; False if it still runs after ``timeout`` seconds."""
        if self._thread is threading.current_thread():
            return False  # the target itself asked (e.g. stop() from a callback)
        self._thread.join(timeout)
        return not self._thread.is_alive()


class Lock:
    """A lock whose acquisition honours a timeout."""

    def __init__(self) -> None:
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def hold(self, timeout: float | None) -> Iterator[None]:
        if not self._lock.acquire(timeout=-1 if timeout is None else timeout):
            raise LMStudioTimeoutError(f"could not connect within {timeout:g} s")
        try:
            yield
        finally:
            self._lock.release()


class Gate:
    """At most ``limit`` holders at once; the others queue, each wait bounded by its timeout.
    ``release`` may be called from any thread (the reader's, when a channel ends)."""

    def __init__(self, limit: int) -> None:
        self._slots = threading.Semaphore(limit)

    def acquire(self, timeout: float | None, what: str) -> None:
        if not self._slots.acquire(timeout=timeout):
            raise LMStudioTimeoutError(f"{what}: no free slot within {timeout:g} s")

    def release(self) -> None:
        self._slots.release()


class Transport:
    """One open WebSocket; frames in go to ``on_text``, the end goes to ``on_closed``.

    One reader thread of ours reads the socket and hands each complete text message to
    ``on_text``. Writes happen in the caller's thread without blocking (``MSG_DONTWAIT``);
    whatever the kernel does not take at once is queued for a writer thread, started on first
    need, so that a stalled peer never blocks a caller past its timeout.
    """

    def __init__(
        self,
        sock: socket.socket,
        core: WebSocketCore,
        on_text: Callable[[str], None],
        on_closed: Callable[[BaseException | None], None],
        pending: list[str],
        *,
        secure: bool,
        keepalive: Keepalive = DEFAULT_KEEPALIVE,
    ) -> None:
        self._sock = sock
        self._core = core
        self._on_text = on_text
        self._on_closed = on_closed
        # Guards the WebSocket core and the order of bytes on the wire. Never held while
        # blocking on the network, nor while calling on_text (which may send).
        self._mutex = threading.Lock()
        self._backlog: collections.deque[bytes] = collections.deque()
        self._backlog_changed = threading.Condition(self._mutex)
        self._writing = False
        self._writer: threading.Thread | None = None
        # TLS sockets refuse send() flags: they always go through the writer thread.
        self._direct = _DONTWAIT != 0 and not secure
        self._ended = threading.Event()
        self._closed_by_us = False
        self._failure: LMStudioConnectionError | None = None  # why we dropped the socket
        self.closed = False
        self._reader = threading.Thread(
            target=self._read_loop, args=(pending,), name="lmstudio-sdk reader", daemon=True
        )
        self._reader.start()
        self._keepalive = keepalive
        if keepalive.interval is not None:
            threading.Thread(
                target=self._keepalive_loop, name="lmstudio-sdk keepalive", daemon=True
            ).start()

    @classmethod
    def connect(
        cls,
        url: str,
        *,
        timeout: float | None,
        on_text: Callable[[str], None],
        on_closed: Callable[[BaseException | None], None],
        keepalive: Keepalive = DEFAULT_KEEPALIVE,
    ) -> Transport:
        core = WebSocketCore(url)
        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            sock = socket.create_connection((core.uri.host, core.uri.port), timeout=timeout)
        except TimeoutError as exc:
            raise LMStudioTimeoutError(
                f"connecting to {url} took longer than {timeout:g} s"
            ) from exc
        except OSError as exc:
            raise connect_error(url, exc) from exc
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if core.uri.secure:
                import ssl  # only wss:// needs it (~3 MB of RSS: OpenSSL's libssl)

                context = ssl.create_default_context()
                sock = context.wrap_socket(sock, server_hostname=core.uri.host)
            sock.sendall(core.data_to_send())
            pending: list[str] = []
            while core.response is None and core.handshake_error is None:
                if deadline is not None:
                    sock.settimeout(max(deadline - time.monotonic(), 0.001))
                data = sock.recv(RECEIVE_BYTES)
                if not data:
                    raise ConnectionResetError("the server closed the connection")
                pending += core.receive(data)
            if core.handshake_error is not None:
                raise core.handshake_error
            sock.settimeout(None)
        except TimeoutError as exc:
            sock.close()
            raise LMStudioTimeoutError(
                f"connecting to {url} took longer than {timeout:g} s"
            ) from exc
        except (OSError, websockets.WebSocketException) as exc:
            sock.close()
            raise connect_error(url, exc) from exc
        return cls(
            sock, core, on_text, on_closed, pending, secure=core.uri.secure, keepalive=keepalive
        )

    def send(self, frame: str) -> None:
        """Send one text frame; never blocks. Frames after close are dropped."""
        with self._mutex:
            if self.closed:
                return
            self._core.send_text(frame)
            self._write_locked(self._core.data_to_send())

    def on_own_loop(self) -> bool:
        """Twin of the asyncio transport's check: blocking sockets have no event loop."""
        return True

    def ensure_own_loop(self, what: str) -> None:
        """Twin of the asyncio transport's check: blocking sockets have no event loop."""

    def orphaned(self) -> bool:
        """Twin of the asyncio transport's check: only another event loop orphans a socket."""
        return False

    def abort(self) -> None:
        """Drop the socket at once, without the closing handshake (after a failed or timed-out
        open, when the peer may not answer a close frame); the reader then ends by itself."""
        with self._mutex:
            self._closed_by_us = True
            self.closed = True
            self._backlog_changed.notify_all()
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        """Closing handshake, bounded by CLOSE_TIMEOUT; then the socket is gone."""
        with self._mutex:
            if self.closed:
                return
            self._closed_by_us = True
            self.closed = True
            with contextlib.suppress(websockets.WebSocketException):
                self._core.send_close()
            self._write_locked(self._core.data_to_send())
            self._backlog_changed.notify_all()
        if not self._ended.wait(CLOSE_TIMEOUT):
            with contextlib.suppress(OSError):
                self._sock.shutdown(socket.SHUT_RDWR)
        if self._reader is not threading.current_thread():
            self._reader.join(CLOSE_TIMEOUT)

    # -- the transport's own threads ------------------------------------------------------------

    def _read_loop(self, pending: list[str]) -> None:
        cause: BaseException | None = None
        try:
            for text in pending:
                self._on_text(text)
            while True:
                data = self._sock.recv(RECEIVE_BYTES)
                with self._mutex:
                    if not data:
                        self._core.receive_eof()
                        break
                    texts = self._core.receive(data)
                    self._write_locked(self._core.data_to_send())  # pongs, close replies
                for text in texts:
                    self._on_text(text)
        except OSError as exc:
            cause = exc
        except Exception as exc:  # a routing bug must still end every waiting call
            logger.exception("reader failed")
            cause = exc
        finally:
            with self._mutex:
                self.closed = True
                self._backlog_changed.notify_all()
                if self._failure is not None:
                    cause = self._failure
                elif self._closed_by_us:
                    cause = LMStudioConnectionError("the connection was closed by the client")
                elif cause is None:
                    cause = self._core.close_cause()
            with contextlib.suppress(OSError):
                self._sock.close()
            self._ended.set()
            self._on_closed(cause)

    def _keepalive_loop(self) -> None:
        """Send a ping every ``interval`` s unless one is still unanswered; a ping without its
        pong after ``timeout`` s drops the socket (the reader then reports the failure)."""
        interval, timeout = self._keepalive
        assert interval is not None
        next_ping = time.monotonic() + interval
        judged: tuple[bytes, float] | None = None  # (ping payload, when its pong is due)
        while True:
            due = next_ping if judged is None else min(next_ping, judged[1])
            if self._ended.wait(max(due - time.monotonic(), 0.0)):
                return
            now = time.monotonic()
            with self._mutex:
                if self.closed:
                    return
                if judged is not None and now >= judged[1]:
                    if self._core.unanswered_ping == judged[0]:
                        self._failure = keepalive_error(self._core.url, self._keepalive)
                        self.closed = True
                        self._backlog_changed.notify_all()
                        break
                    judged = None
                if now >= next_ping:
                    next_ping = now + interval
                    if self._core.unanswered_ping is None:
                        try:
                            payload = self._core.send_ping()
                        except websockets.WebSocketException:  # closing: the end is on its way
                            return
                        self._write_locked(self._core.data_to_send())
                        if timeout is not None:
                            judged = (payload, now + timeout)
        # The peer is gone without a word (a black-holed route, a frozen host): no closing
        # handshake, which could only wait in vain. The reader wakes up and reports the cause.
        logger.warning("%s", self._failure)
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)

    def _write_locked(self, data: bytes) -> None:
        """Write what the kernel takes now; queue the rest for the writer. Holds the mutex."""
        if not data:
            return
        if self._direct and not self._backlog and not self._writing:
            try:
                sent = self._sock.send(data, _DONTWAIT)
            except BlockingIOError:
                sent = 0
            except OSError:
                return  # the reader reports the end
            data = data[sent:]
            if not data:
                return
        self._backlog.append(data)
        if self._writer is None:
            self._writer = threading.Thread(
                target=self._write_loop, name="lmstudio-sdk writer", daemon=True
            )
            self._writer.start()
        self._backlog_changed.notify_all()

    def _write_loop(self) -> None:
        while True:
            with self._mutex:
                while not self._backlog and not self.closed:
                    self._backlog_changed.wait()
                if not self._backlog:
                    return
                data = self._backlog.popleft()
                self._writing = True
            try:
                self._sock.sendall(data)  # may block on a stalled peer: only this thread waits
            except OSError:
                return  # the reader reports the end
            finally:
                with self._mutex:
                    self._writing = False


def probe_greeting(host: str, port: int, timeout: float) -> bool:
    """True when ``GET /lmstudio-greeting`` answers 200 with ``{"lmstudio": true}``."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.sendall(greeting_request(host, port))
            response = b""
            while len(response) < 65536 and (chunk := sock.recv(65536)):
                response += chunk
            return greeting_ok(response)
    except OSError:
        return False


def find_local_server(ports: tuple[int, ...], timeout: float) -> int | None:
    """Probe every discovery port at once; the first port in list order that answers wins.

    Plain threads, not concurrent.futures: its import costs ~0.8 MB of RSS in every process.
    """
    answers = [False] * len(ports)

    def probe(index: int) -> None:
        answers[index] = probe_greeting("127.0.0.1", ports[index], timeout)

    threads = [
        threading.Thread(target=probe, args=(i,), name="lmstudio-probe", daemon=True)
        for i in range(len(ports))
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return next((port for port, ok in zip(ports, answers, strict=True) if ok), None)


def pause(seconds: float) -> None:
    """Wait between retries (twin of the asyncio transport's ``pause``)."""
    time.sleep(seconds)


def read_file(path: Path) -> bytes:
    """A file's bytes (twin of the asyncio transport's read_file_async)."""
    return path.read_bytes()


# -- running user functions (act()'s tool calls) concurrently ----------------------------------

RUNS_COROUTINES = False
"""The sync face cannot run ``async def`` tools (twin of the asyncio transport's)."""


def run_concurrently(
    calls: Sequence[tuple[Callable[..., Any], Mapping[str, Any]]],
    *,
    limit: int,
    timeout: float | None,
) -> list[CallOutcome]:
    """Run ``func(**kwargs)`` for each call in a pool of at most ``limit`` threads; the
    outcomes come back in the calls' order (twin of ``run_concurrently_async``).

    A timeout (LMStudioTimeoutError) or Ctrl-C cancels the calls not started yet and stops
    waiting; a call already running in its thread cannot be interrupted and finishes on its
    own, its outcome dropped.
    """
    if not calls:
        return []

    def run(func: Callable[..., Any], kwargs: Mapping[str, Any]) -> CallOutcome:
        try:
            value = func(**kwargs)
            if inspect.isawaitable(value):
                if inspect.iscoroutine(value):
                    value.close()
                raise TypeError(f"{func!r} returned an awaitable; the sync Client cannot await it")
        except Exception as exc:
            return CallOutcome(error=exc)
        return CallOutcome(value=value)

    pool = ThreadPoolExecutor(
        max_workers=min(limit, len(calls)), thread_name_prefix="lmstudio-tool"
    )
    try:
        futures = [pool.submit(run, func, kwargs) for func, kwargs in calls]
        _, pending = concurrent.futures.wait(futures, timeout=timeout)
        if pending:
            raise LMStudioTimeoutError(
                f"{len(pending)} tool call(s) did not finish within {timeout:g} s; they were "
                "abandoned"
            )
        return [future.result() for future in futures]
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


class AwaitableSelf:
    """Twin of the asyncio transport's ``AsyncAwaitableSelf``: nothing to await in sync code."""


Done: TypeAlias = None
"""Twin of the asyncio transport's ``AsyncDone``: a method that never waits returns None."""
DoneNow: Final = None


def wait_future(future: ThreadFuture[T], timeout: float | None) -> T:
    """The value of a future another thread settles (twin of ``wait_future_async``): a
    timeout (LMStudioTimeoutError) or Ctrl-C cancels the future."""
    try:
        return future.result(timeout)
    except TimeoutError:
        if future.done():  # the future's own exception
            raise
        future.cancel()
        raise LMStudioTimeoutError(f"no answer within {timeout:g} s") from None
    except BaseException:
        future.cancel()
        raise
