"""The asyncio transport: one namespace socket over websockets' sans-I/O protocol, plus the
small primitives the async session needs. Hand-written twin of ``sync.py``; both keep the same
names (minus the ``Async`` prefix) so that the session layer can be generated from one source.

A socket belongs to the event loop that opened it. Met by another loop, it is dropped when its
own loop has closed (an earlier ``asyncio.run()`` ended, so nothing can read it again and the
session reconnects on the running loop), and refused with ``LMStudioEventLoopError`` while its
loop is still open (calls of that loop may be in flight, and asyncio objects are not shared
between loops).

The socket is an ``asyncio.Protocol``: the loop's callbacks feed the WebSocket core and hand
each message to the session's handler (which routes it into per-call mailboxes) with no task in
between; writes are buffered by asyncio, so sending never awaits and can happen from plain
functions (``cancel()``, finalizers). The end of the socket, whatever caused it, reaches every
waiting call as the close cause.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import functools
import inspect
import logging
import socket
from collections.abc import AsyncIterator, Callable, Generator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import websockets

if TYPE_CHECKING:
    import ssl

from .._exceptions import LMStudioConnectionError, LMStudioEventLoopError, LMStudioTimeoutError
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
from .wscore import WebSocketCore

__all__ = [
    "RUNS_COROUTINES",
    "AsyncAwaitableSelf",
    "AsyncDone",
    "AsyncDoneNow",
    "AsyncGate",
    "AsyncLock",
    "AsyncMailbox",
    "AsyncTransport",
    "AsyncWorker",
    "find_local_server_async",
    "pause",
    "probe_greeting_async",
    "read_file_async",
    "run_concurrently_async",
    "wait_future_async",
]

logger = logging.getLogger("lmstudio_sdk.transport")

T = TypeVar("T")
SelfT = TypeVar("SelfT")


class AsyncMailbox(Generic[T]):
    """Where the reader leaves events for one waiting call or channel.

    A deque and at most one waiter future: lighter than ``asyncio.Queue`` plus
    ``asyncio.timeout`` on the hot path of every call. Cancelling a waiting task loses nothing:
    items stay in the deque until a ``get`` takes them.
    """

    __slots__ = ("_items", "_waiter")

    def __init__(self) -> None:
        self._items: collections.deque[T] = collections.deque()
        self._waiter: asyncio.Future[None] | None = None

    def put(self, item: T) -> None:
        self._items.append(item)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def get(self, timeout: float | None) -> T:
        if self._items:
            return self._items.popleft()
        loop = asyncio.get_running_loop()
        waiter = self._waiter = loop.create_future()
        expiry = None if timeout is None else loop.call_later(timeout, _expire, waiter)
        try:
            await waiter
        except TimeoutError:
            raise LMStudioTimeoutError(f"no answer from LM Studio within {timeout:g} s") from None
        finally:
            self._waiter = None
            if expiry is not None:
                expiry.cancel()
        return self._items.popleft()


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:  # called outside a loop, e.g. from a finalizer
        return None


def _tls_context() -> ssl.SSLContext:
    import ssl  # only wss:// needs it: a plain client need not load OpenSSL's libssl

    return ssl.create_default_context()


def _expire(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_exception(TimeoutError())


class AsyncWorker:
    """Runs ``target()`` (a coroutine function) in a task of the running loop, for callback
    forms of streams; the sync twin runs a daemon thread."""

    def __init__(self, target: Callable[[], Any], name: str) -> None:
        self._task: asyncio.Task[None] = asyncio.get_running_loop().create_task(target(), name=name)

    @property
    def running(self) -> bool:
        return not self._task.done()

    async def join(self, timeout: float | None) -> bool:
        """Wait for the target to end; False if it still runs after ``timeout`` seconds."""
        if self._task.done():
            return True
        if self._task is asyncio.current_task():
            return False  # the target itself asked (e.g. stop() from a callback)
        done, _ = await asyncio.wait({self._task}, timeout=timeout)
        return bool(done)


class AsyncLock:
    """A lock whose acquisition honours a timeout."""

    def __init__(self) -> None:
        self._lock = asyncio.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None

    @contextlib.asynccontextmanager
    async def hold(self, timeout: float | None) -> AsyncIterator[None]:
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            if self._loop is not None and self._loop.is_closed():
                self._lock = asyncio.Lock()  # asyncio.Lock binds to the loop that first waits
            self._loop = loop
        try:
            async with asyncio.timeout(timeout):
                await self._lock.acquire()
        except TimeoutError:
            raise LMStudioTimeoutError(f"could not connect within {timeout:g} s") from None
        try:
            yield
        finally:
            self._lock.release()


class AsyncGate:
    """At most ``limit`` holders at once; the others queue (first come, first served), each
    wait bounded by its timeout. ``release`` may be called from plain functions."""

    def __init__(self, limit: int) -> None:
        self._free = limit
        self._waiters: collections.deque[asyncio.Future[None]] = collections.deque()

    async def acquire(self, timeout: float | None, what: str) -> None:
        if self._free > 0 and not self._waiters:
            self._free -= 1
            return
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[None] = loop.create_future()
        self._waiters.append(waiter)
        expiry = None if timeout is None else loop.call_later(timeout, _expire, waiter)
        try:
            await waiter
        except BaseException as exc:
            if waiter.done() and not waiter.cancelled() and waiter.exception() is None:
                self.release()  # handed a slot just as the wait was cancelled: pass it on
            with contextlib.suppress(ValueError):
                self._waiters.remove(waiter)
            if isinstance(exc, TimeoutError):
                raise LMStudioTimeoutError(f"{what}: no free slot within {timeout:g} s") from None
            raise
        finally:
            if expiry is not None:
                expiry.cancel()

    def release(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return
        self._free += 1


class _StreamProtocol(asyncio.Protocol):
    """asyncio's callbacks, forwarded to the transport that owns the WebSocket core."""

    def __init__(self, owner: AsyncTransport) -> None:
        self._owner = owner

    def data_received(self, data: bytes) -> None:
        self._owner._data_received(data)

    def eof_received(self) -> bool | None:
        self._owner._eof_received()
        return None  # asyncio then closes the socket

    def connection_lost(self, exc: Exception | None) -> None:
        self._owner._connection_lost(exc)


class AsyncTransport:
    """One open WebSocket; frames in go to ``on_text``, the end goes to ``on_closed``.

    No task of its own: asyncio calls ``data_received`` on the loop, which feeds websockets'
    sans-I/O protocol and hands each complete text message to ``on_text`` at once; writes go
    straight to asyncio's transport, which buffers them, so sending never blocks or awaits.
    (``websockets.asyncio`` would add a reader task of its own, a second hop per message.)
    """

    def __init__(
        self,
        core: WebSocketCore,
        on_text: Callable[[str], None],
        on_closed: Callable[[BaseException | None], None],
        keepalive: Keepalive,
    ) -> None:
        self._core = core
        self._on_text = on_text
        self._on_closed = on_closed
        self._keepalive = keepalive
        self._timers: list[asyncio.TimerHandle] = []
        self._failure: LMStudioConnectionError | None = None  # why we dropped the socket
        self._transport: asyncio.Transport | None = None
        self._loop = asyncio.get_running_loop()
        self._handshake: asyncio.Future[None] = self._loop.create_future()
        self._lost: asyncio.Future[None] = self._loop.create_future()
        self._opened = False
        self._closed_by_us = False
        self.closed = False

    @classmethod
    async def connect(
        cls,
        url: str,
        *,
        timeout: float | None,
        on_text: Callable[[str], None],
        on_closed: Callable[[BaseException | None], None],
        keepalive: Keepalive = DEFAULT_KEEPALIVE,
    ) -> AsyncTransport:
        self = cls(WebSocketCore(url), on_text, on_closed, keepalive)
        uri = self._core.uri
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(timeout):
                transport, _ = await loop.create_connection(
                    lambda: _StreamProtocol(self),
                    uri.host,
                    uri.port,
                    ssl=_tls_context() if uri.secure else None,
                )
                self._transport = transport
                self._write(self._core.data_to_send())
                await asyncio.shield(self._handshake)
        except TimeoutError as exc:
            self.abort()
            raise LMStudioTimeoutError(
                f"connecting to {url} took longer than {timeout:g} s"
            ) from exc
        except (OSError, websockets.WebSocketException) as exc:
            self.abort()
            raise connect_error(url, exc) from exc
        except BaseException:
            self.abort()
            raise
        self._opened = True
        if keepalive.interval is not None:
            self._timers.append(self._loop.call_later(keepalive.interval, self._ping))
        return self

    def send(self, frame: str) -> None:
        """Send one text frame; never blocks. Frames after close are dropped."""
        if self.closed:
            return
        self._core.send_text(frame)
        self._write(self._core.data_to_send())

    def on_own_loop(self) -> bool:
        """Whether the running event loop is the one this socket belongs to."""
        return _running_loop() is self._loop

    def ensure_own_loop(self, what: str) -> None:
        """Refuse to wait for ``what`` (a call or channel on this socket) from another loop:
        its answers are read by the loop that owns the socket, so the wait could only time out."""
        if not self.on_own_loop():
            raise LMStudioEventLoopError(
                f"{what} was started on another event loop; its answers can only be received "
                "there. Finish calls and streams on the loop that started them."
            )

    def orphaned(self) -> bool:
        """Whether another loop may drop this socket and connect anew: True once the socket has
        ended or its own loop has closed. Raises while its own loop is still open."""
        if self.on_own_loop():
            return False
        if self.closed or self._loop.is_closed():
            return True
        raise LMStudioEventLoopError(
            f"this AsyncClient's {self._core.uri.resource_name} socket belongs to another event "
            "loop, which is still open; asyncio sockets cannot be shared between loops. Use one "
            "AsyncClient per event loop (or run every call on the loop that made the first one)."
        )

    def abort(self) -> None:
        """Drop the socket at once, without the closing handshake (after a failed or timed-out
        open, when the peer may not answer a close frame). Safe from any loop or thread."""
        self._closed_by_us = True
        self.closed = True
        if self._transport is None:
            return
        if self.on_own_loop():
            self._transport.abort()
            return
        try:
            self._loop.call_soon_threadsafe(self._transport.abort)
        except RuntimeError:  # its loop is closed: tell the peer, the fd goes with the transport
            sock = self._transport.get_extra_info("socket")
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    async def aclose(self) -> None:
        """Closing handshake, bounded by CLOSE_TIMEOUT; then the socket is gone."""
        if self.closed:
            return
        self._closed_by_us = True
        self.closed = True
        with contextlib.suppress(websockets.WebSocketException):
            self._core.send_close()
        self._write(self._core.data_to_send())
        try:
            async with asyncio.timeout(CLOSE_TIMEOUT):
                await asyncio.shield(self._lost)
        except TimeoutError:
            self.abort()

    # -- keepalive ------------------------------------------------------------------------------

    def _ping(self) -> None:
        """Send a ping unless one is still unanswered; judge it ``timeout`` seconds later."""
        if self.closed:
            return
        interval, timeout = self._keepalive
        assert interval is not None
        self._timers = [
            t for t in self._timers if not t.cancelled() and t.when() > self._loop.time()
        ]
        if self._core.unanswered_ping is None:
            try:
                payload = self._core.send_ping()
            except websockets.WebSocketException:  # closing: the end is on its way
                return
            self._write(self._core.data_to_send())
            if timeout is not None:
                self._timers.append(self._loop.call_later(timeout, self._pong_due, payload))
        self._timers.append(self._loop.call_later(interval, self._ping))

    def _pong_due(self, payload: bytes) -> None:
        if self.closed or self._core.unanswered_ping != payload:
            return
        # The peer is gone without a word (a black-holed route, a frozen host): no closing
        # handshake, which could only wait in vain; every waiter gets this as the cause.
        self._failure = keepalive_error(self._core.url, self._keepalive)
        logger.warning("%s", self._failure)
        self.closed = True
        if self._transport is not None:
            self._transport.abort()

    # -- asyncio callbacks ------------------------------------------------------------------------

    def _data_received(self, data: bytes) -> None:
        texts = self._core.receive(data)
        self._write(self._core.data_to_send())  # pongs, close replies
        if not self._handshake.done():
            if self._core.handshake_error is not None:
                self._handshake.set_exception(self._core.handshake_error)
                return
            if self._core.response is not None:
                self._handshake.set_result(None)
        for text in texts:
            try:
                self._on_text(text)
            except Exception:  # a routing bug must still end every waiting call
                logger.exception("routing a message failed")
                self.abort()
                return

    def _eof_received(self) -> None:
        self._core.receive_eof()

    def _connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        for timer in self._timers:
            timer.cancel()
        self._timers.clear()
        if not self._handshake.done():
            self._handshake.set_exception(
                exc or ConnectionResetError("the server closed the connection")
            )
            self._handshake.exception()  # retrieved: connect() may have given up already
        if self._lost.done():
            return
        self._lost.set_result(None)
        if self._opened or self._handshake.exception() is None:
            cause: BaseException
            if self._failure is not None:
                cause = self._failure
            elif self._closed_by_us:
                cause = LMStudioConnectionError("the connection was closed by the client")
            else:
                cause = exc or self._core.close_cause()
            self._on_closed(cause)

    def _write(self, data: bytes) -> None:
        if data and self._transport is not None and not self._transport.is_closing():
            self._transport.write(data)


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


async def pause(seconds: float) -> None:
    """Wait between retries (twin of the sync transport's ``pause``)."""
    await asyncio.sleep(seconds)


async def read_file_async(path: Path) -> bytes:
    """A file's bytes, read in a worker thread so that the event loop keeps running."""
    return await asyncio.to_thread(path.read_bytes)


# -- running user functions (act()'s tool calls) concurrently ----------------------------------

RUNS_COROUTINES = True
"""The async face runs ``async def`` tools (as tasks); the sync face cannot."""


async def run_concurrently_async(
    calls: Sequence[tuple[Callable[..., Any], Mapping[str, Any]]],
    *,
    limit: int,
    timeout: float | None,
) -> list[CallOutcome]:
    """Run ``func(**kwargs)`` for each call at once, at most ``limit`` at a time: coroutine
    functions as tasks, plain functions in the loop's default executor (so they never block
    the loop). The outcomes come back in the calls' order.

    A timeout (LMStudioTimeoutError) or a cancellation of the caller cancels every task
    still running; a plain function already running in a thread cannot be interrupted and is
    left to finish on its own, its outcome dropped.
    """
    gate = asyncio.Semaphore(limit)
    loop = asyncio.get_running_loop()

    async def run(func: Callable[..., Any], kwargs: Mapping[str, Any]) -> CallOutcome:
        async with gate:
            try:
                if inspect.iscoroutinefunction(func):
                    value = await func(**kwargs)
                else:
                    value = await loop.run_in_executor(None, functools.partial(func, **kwargs))
                    if inspect.isawaitable(value):
                        value = await value
            except Exception as exc:
                return CallOutcome(error=exc)
            return CallOutcome(value=value)

    tasks = [asyncio.ensure_future(run(func, kwargs)) for func, kwargs in calls]
    if not tasks:
        return []
    try:
        _, pending = await asyncio.wait(tasks, timeout=timeout)
    except BaseException:
        await _cancel_all(tasks)
        raise
    if pending:
        await _cancel_all(tasks)
        raise LMStudioTimeoutError(
            f"{len(pending)} tool call(s) did not finish within {timeout:g} s; they were cancelled"
        )
    return [task.result() for task in tasks]


# How long a cancelled call may take to unwind (its finally blocks) before we stop waiting.
_CANCEL_GRACE = 2.0


async def _cancel_all(tasks: Sequence[asyncio.Future[CallOutcome]]) -> None:
    for task in tasks:
        task.cancel()
    await asyncio.wait(tasks, timeout=_CANCEL_GRACE)


class AsyncAwaitableSelf:
    """``await obj`` gives ``obj``: ``await model.respond_stream(...)`` is the stream itself,
    as in the official Python SDK (``async for`` works without the ``await`` too)."""

    def __await__(self: SelfT) -> Generator[Any, None, SelfT]:
        return _self(self).__await__()


async def _self(value: T) -> T:
    return value


class AsyncDone:
    """What a method that never waits returns on the async face, so that ``await`` on it works
    as well as a plain call: the official Python SDK's async ``cancel()`` is a coroutine."""

    __slots__ = ()

    def __await__(self) -> Generator[None, None, None]:
        yield from ()


AsyncDoneNow = AsyncDone()


async def wait_future_async(future: ThreadFuture[T], timeout: float | None) -> T:
    """The value of a future another thread settles (twin of the sync transport's
    ``wait_future``): a timeout (LMStudioTimeoutError) or a cancellation cancels the future."""
    if not future.done():
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[None] = loop.create_future()

        def wake(_: object) -> None:
            with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits any more
                loop.call_soon_threadsafe(_settle, waiter)

        future.add_done_callback(wake)
        try:
            async with asyncio.timeout(timeout):
                await waiter
        except TimeoutError:
            future.cancel()
            raise LMStudioTimeoutError(f"no answer within {timeout:g} s") from None
        except BaseException:
            future.cancel()
            raise
    return future.result()


def _settle(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)
