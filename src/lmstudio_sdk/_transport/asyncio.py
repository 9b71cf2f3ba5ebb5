"""The asyncio transport: one namespace socket over ``websockets.asyncio``, plus the small
primitives the async session needs. Hand-written twin of ``sync.py``; both keep the same names
(minus the ``Async`` prefix) so that the session layer can be generated from one source.

The socket is served by two tasks owned by the transport: a reader that hands every text frame
to the session's handler (which routes it into per-call mailboxes), and a writer that drains an
outgoing queue, so that sending is non-blocking and can happen from plain functions (``cancel()``,
finalizers). Both tasks end with the transport; their exceptions end up as the close cause that
every waiting call receives.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Generic, TypeVar

import websockets
from websockets.asyncio.client import ClientConnection, connect

from .._exceptions import LMStudioConnectionError, LMStudioTimeoutError
from .common import CLOSE_TIMEOUT, MAX_FRAME_BYTES, connect_error, greeting_ok, greeting_request

__all__ = [
    "AsyncLock",
    "AsyncMailbox",
    "AsyncTransport",
    "find_local_server_async",
    "probe_greeting_async",
    "read_file_async",
]

logger = logging.getLogger("lmstudio_sdk.transport")

T = TypeVar("T")


class AsyncMailbox(Generic[T]):
    """Where the reader leaves events for one waiting call or channel."""

    __slots__ = ("_queue",)

    def __init__(self) -> None:
        self._queue: asyncio.Queue[T] = asyncio.Queue()

    def put(self, item: T) -> None:
        self._queue.put_nowait(item)

    async def get(self, timeout: float | None) -> T:
        if not self._queue.empty():
            return self._queue.get_nowait()
        try:
            async with asyncio.timeout(timeout):
                return await self._queue.get()
        except TimeoutError:
            raise LMStudioTimeoutError(f"no answer from LM Studio within {timeout:g} s") from None


class AsyncLock:
    """A lock whose acquisition honours a timeout."""

    def __init__(self) -> None:
        self._lock = asyncio.Lock()

    @contextlib.asynccontextmanager
    async def hold(self, timeout: float | None) -> AsyncIterator[None]:
        try:
            async with asyncio.timeout(timeout):
                await self._lock.acquire()
        except TimeoutError:
            raise LMStudioTimeoutError(f"could not connect within {timeout:g} s") from None
        try:
            yield
        finally:
            self._lock.release()


class AsyncTransport:
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
        self._outgoing: asyncio.Queue[str | None] = asyncio.Queue()
        self._reader = asyncio.create_task(self._read_loop(), name="lmstudio-sdk reader")
        self._writer = asyncio.create_task(self._write_loop(), name="lmstudio-sdk writer")
        self.closed = False

    @classmethod
    async def connect(
        cls,
        url: str,
        *,
        timeout: float | None,
        on_text: Callable[[str], None],
        on_closed: Callable[[BaseException | None], None],
    ) -> AsyncTransport:
        try:
            ws = await connect(
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
        return cls(ws, on_text, on_closed)

    def send(self, frame: str) -> None:
        """Queue one frame; never blocks. Frames after close are dropped."""
        if not self.closed:
            self._outgoing.put_nowait(frame)

    def abort(self) -> None:
        """Drop the socket at once, without the closing handshake (after a failed or timed-out
        open, when the peer may not answer a close frame); the tasks then end by themselves."""
        if self.closed:
            return
        self.closed = True
        self._outgoing.put_nowait(None)
        self._ws.transport.abort()

    async def aclose(self) -> None:
        if self.closed:
            return
        self.closed = True
        self._outgoing.put_nowait(None)
        with contextlib.suppress(Exception):
            await self._ws.close()
        for task in (self._writer, self._reader):
            if not task.done():
                task.cancel()
        await asyncio.gather(self._writer, self._reader, return_exceptions=True)

    async def _read_loop(self) -> None:
        cause: BaseException | None = None
        try:
            async for frame in self._ws:
                if isinstance(frame, str):
                    self._on_text(frame)
                else:  # LM Studio only sends text; a binary frame is off-protocol but harmless
                    self._on_text(frame.decode("utf-8", "replace"))
        except websockets.ConnectionClosed as exc:
            cause = exc
        except asyncio.CancelledError:
            cause = LMStudioConnectionError("the connection was closed by the client")
        except Exception as exc:  # a routing bug must still end every waiting call
            logger.exception("reader failed")
            cause = exc
        finally:
            self.closed = True
            self._outgoing.put_nowait(None)
            self._on_closed(cause)

    async def _write_loop(self) -> None:
        while (frame := await self._outgoing.get()) is not None:
            try:
                await self._ws.send(frame)
            except websockets.ConnectionClosed:
                return  # the reader reports the close
            except Exception:
                logger.exception("writer failed; closing the socket")
                await self._ws.close()
                return


async def probe_greeting_async(host: str, port: int, timeout: float) -> bool:
    """True when ``GET /lmstudio-greeting`` answers 200 with ``{"lmstudio": true}``."""
    writer: asyncio.StreamWriter | None = None
    try:
        async with asyncio.timeout(timeout):
            reader, writer = await asyncio.open_connection(host, port)
            writer.write(greeting_request(host, port))
            await writer.drain()
            response = await reader.read(65536)
            while response and len(response) < 65536 and (more := await reader.read(65536)):
                response += more
            return greeting_ok(response)
    except (OSError, TimeoutError, asyncio.IncompleteReadError):
        return False
    finally:
        if writer is not None:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()


async def find_local_server_async(ports: tuple[int, ...], timeout: float) -> int | None:
    """Probe every discovery port at once; the first port in list order that answers wins."""
    answers = await asyncio.gather(*(probe_greeting_async("127.0.0.1", p, timeout) for p in ports))
    return next((port for port, ok in zip(ports, answers, strict=True) if ok), None)


async def read_file_async(path: Path) -> bytes:
    """A file's bytes, read in a worker thread so that the event loop keeps running."""
    return await asyncio.to_thread(path.read_bytes)
