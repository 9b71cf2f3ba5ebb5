"""The blocking transport: one namespace socket over ``websockets.sync``, plus the small
primitives the sync session needs. Hand-written twin of ``asyncio.py``.

No event loop is involved anywhere, so the sync client also works inside a running loop
(Jupyter). Two threads owned by the transport serve the socket: a reader that hands every text
frame to the session's handler, which routes it into per-call mailboxes (callers wait on their
own mailbox, so a waiter interrupted by Ctrl-C never loses a message meant for someone else),
and a writer that drains an outgoing queue. Sending therefore never blocks the caller: on a
stalled network path a large frame would otherwise hold ``websockets.sync``'s send lock, and the
caller, past its timeout.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Generic, TypeVar

import websockets
from websockets.sync.client import ClientConnection, connect

from .._exceptions import LMStudioConnectionError, LMStudioTimeoutError
from .common import CLOSE_TIMEOUT, MAX_FRAME_BYTES, connect_error, greeting_ok, greeting_request

__all__ = ["Lock", "Mailbox", "Transport", "find_local_server", "probe_greeting", "read_file"]

logger = logging.getLogger("lmstudio_sdk.transport")

T = TypeVar("T")


class Mailbox(Generic[T]):
    """Where the reader leaves events for one waiting call or channel."""

    __slots__ = ("_queue",)

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[T] = queue.SimpleQueue()

    def put(self, item: T) -> None:
        self._queue.put(item)

    def get(self, timeout: float | None) -> T:
        try:
            return self._queue.get(timeout=timeout)
        except queue.Empty:
            raise LMStudioTimeoutError(f"no answer from LM Studio within {timeout:g} s") from None


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


class Transport:
    """One open WebSocket; frames in go to ``on_text``, the end goes to ``on_closed``."""

    def __init__(
        self,
        ws: ClientConnection,
        on_text: Callable[[str], None],
        on_closed: Callable[[BaseException | None], None],
    ) -> None:
        self._ws = ws
        self._on_text = on_text
        self._on_closed = on_closed
        self.closed = False
        self._outgoing: queue.SimpleQueue[str | None] = queue.SimpleQueue()
        self._reader = threading.Thread(
            target=self._read_loop, name="lmstudio-sdk reader", daemon=True
        )
        self._writer = threading.Thread(
            target=self._write_loop, name="lmstudio-sdk writer", daemon=True
        )
        self._reader.start()
        self._writer.start()

    @classmethod
    def connect(
        cls,
        url: str,
        *,
        timeout: float | None,
        on_text: Callable[[str], None],
        on_closed: Callable[[BaseException | None], None],
    ) -> Transport:
        try:
            ws = connect(
                url,
                open_timeout=timeout,
                max_size=MAX_FRAME_BYTES,
                compression=None,
                close_timeout=CLOSE_TIMEOUT,
            )
        except TimeoutError as exc:
            raise LMStudioTimeoutError(
                f"connecting to {url} took longer than {timeout:g} s"
            ) from exc
        except (OSError, websockets.WebSocketException) as exc:
            raise connect_error(url, exc) from exc
        # websockets 17.1 deprecates using connect() without a with block; entering the
        # connection is the supported way to own it explicitly (we close it in close()).
        ws.__enter__()
        return cls(ws, on_text, on_closed)

    def send(self, frame: str) -> None:
        """Queue one frame; never blocks. Frames after close are dropped."""
        if not self.closed:
            self._outgoing.put(frame)

    def abort(self) -> None:
        """Drop the socket at once, without the closing handshake (after a failed or timed-out
        open, when the peer may not answer a close frame); the threads then end by themselves."""
        if self.closed:
            return
        self.closed = True
        self._outgoing.put(None)
        self._shutdown_socket()

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self._outgoing.put(None)
        if self._writer is not threading.current_thread():
            self._writer.join(timeout=CLOSE_TIMEOUT)
            if self._writer.is_alive():
                # Stuck sending on a stalled path, holding websockets' send lock: a closing
                # handshake cannot happen, so drop the socket (the send then fails at once).
                self._shutdown_socket()
        with contextlib.suppress(Exception):
            self._ws.close()
        for thread in (self._writer, self._reader):
            if thread is not threading.current_thread():
                thread.join(timeout=5)

    def _shutdown_socket(self) -> None:
        with contextlib.suppress(OSError):
            self._ws.socket.shutdown(socket.SHUT_RDWR)

    def _read_loop(self) -> None:
        cause: BaseException | None = None
        try:
            for frame in self._ws:
                if isinstance(frame, str):
                    self._on_text(frame)
                else:  # LM Studio only sends text; a binary frame is off-protocol but harmless
                    self._on_text(frame.decode("utf-8", "replace"))
        except websockets.ConnectionClosed as exc:
            cause = exc
        except Exception as exc:  # a routing bug must still end every waiting call
            logger.exception("reader failed")
            cause = exc
        finally:
            if cause is None and self.closed:
                cause = LMStudioConnectionError("the connection was closed by the client")
            self.closed = True
            self._outgoing.put(None)
            self._on_closed(cause)

    def _write_loop(self) -> None:
        while (frame := self._outgoing.get()) is not None:
            try:
                self._ws.send(frame)
            except (websockets.ConnectionClosed, OSError):
                return  # the reader reports the close
            except Exception:
                logger.exception("writer failed; closing the socket")
                self._shutdown_socket()
                return


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
    """Probe every discovery port at once; the first port in list order that answers wins."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=len(ports), thread_name_prefix="lmstudio-probe") as pool:
        answers = list(pool.map(lambda p: probe_greeting("127.0.0.1", p, timeout), ports))
    return next((port for port, ok in zip(ports, answers, strict=True) if ok), None)


def read_file(path: Path) -> bytes:
    """A file's bytes (twin of the asyncio transport's read_file_async)."""
    return path.read_bytes()
