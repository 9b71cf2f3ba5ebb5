"""Tools of the fault tests: a loopback proxy that can stall, a hostile SDK server, leak checks.

Everything here is bounded: threads are daemons with a lifetime, every wait has a timeout, and
each tool stops itself when its ``with`` block ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import select
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator
from types import TracebackType
from typing import Any, Self

from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

LIFETIME_SECONDS = 60.0  # no helper outlives this, whatever the test does
POLL_SECONDS = 0.02  # how often a pump re-checks its stop flags (not a synchronisation)

# -- a TCP proxy that can stop forwarding -------------------------------------------------------


class StallProxy:
    """Loopback TCP proxy to ``127.0.0.1:target_port``, two pump threads per connection.

    ``stall()`` stops forwarding in both directions (bytes stay in the kernel buffers, as on a
    frozen network path); ``resume()`` starts again. With ``hold_after_handshake`` the proxy
    forwards only the client's first HTTP request (the WebSocket upgrade) and then holds every
    byte the client sends, so the upgrade succeeds but the auth packet never arrives.

    ``blackhole()`` turns the connections open at that moment into a black-holed route: their
    bytes are read and silently dropped in both directions, and neither end ever sees a FIN or
    a reset; later connections flow normally. With ``refuse_first=n`` the first n connections
    are reset at once (as a server that is not up yet), before any byte is read.
    """

    def __init__(
        self, target_port: int, *, hold_after_handshake: bool = False, refuse_first: int = 0
    ) -> None:
        self._target = ("127.0.0.1", target_port)
        self._hold_after_handshake = hold_after_handshake
        self._refuse_first = refuse_first
        self.refused = 0
        self._dropping: list[threading.Event] = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(POLL_SECONDS)
        self.port: int = self._listener.getsockname()[1]
        self._flowing = threading.Event()
        self._flowing.set()
        self._stop = threading.Event()
        self._deadline = time.monotonic() + LIFETIME_SECONDS
        self._sockets: list[socket.socket] = []
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self.connections = 0

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def stall(self) -> None:
        self._flowing.clear()

    def resume(self) -> None:
        self._flowing.set()

    def blackhole(self) -> None:
        with self._lock:
            for dropping in self._dropping:
                dropping.set()

    def __enter__(self) -> Self:
        self._spawn(self._accept_loop, "proxy-accept")
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._flowing.set()
        with self._lock:
            sockets = list(self._sockets)
        for sock in [self._listener, *sockets]:
            with contextlib.suppress(OSError):
                sock.close()
        for thread in self._threads:
            thread.join(timeout=5)

    def _running(self) -> bool:
        return not self._stop.is_set() and time.monotonic() < self._deadline

    def _spawn(self, target: Callable[..., None], name: str, *args: Any) -> None:
        thread = threading.Thread(target=target, args=args, name=name, daemon=True)
        self._threads.append(thread)
        thread.start()

    def _accept_loop(self) -> None:
        while self._running():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            if self.refused < self._refuse_first:
                self.refused += 1
                # SO_LINGER 0: close() sends a reset, as a port nobody listens on would.
                client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                client.close()
                continue
            try:
                upstream = socket.create_connection(self._target, timeout=5)
            except OSError:
                client.close()
                continue
            self.connections += 1
            dropping = threading.Event()
            with self._lock:
                self._sockets += [client, upstream]
                self._dropping.append(dropping)
            self._spawn(
                self._pump, "proxy-up", client, upstream, self._hold_after_handshake, dropping
            )
            self._spawn(self._pump, "proxy-down", upstream, client, False, dropping)

    def _pump(
        self,
        source: socket.socket,
        sink: socket.socket,
        hold_after_request: bool,
        dropping: threading.Event,
    ) -> None:
        forwarded = b""
        holding = False
        try:
            while self._running():
                if holding:  # the rest of this direction is held until the proxy stops
                    self._stop.wait(POLL_SECONDS)
                    continue
                if not self._flowing.is_set():
                    self._flowing.wait(POLL_SECONDS)
                    continue
                readable, _, _ = select.select([source], [], [], POLL_SECONDS)
                if not readable:
                    continue
                data = source.recv(65536)
                if not data:
                    if not dropping.is_set():  # a black hole passes no end on either
                        with contextlib.suppress(OSError):
                            sink.shutdown(socket.SHUT_WR)
                    return
                if dropping.is_set():
                    continue  # black-holed: read and dropped
                # Bytes read just before a stall are held too: nothing passes once stall()
                # has returned.
                while not self._flowing.is_set() and self._running():
                    self._flowing.wait(POLL_SECONDS)
                sink.sendall(data)
                if hold_after_request:
                    forwarded += data
                    holding = b"\r\n\r\n" in forwarded
        except OSError:
            return


# -- a hostile SDK server -----------------------------------------------------------------------

ID = "<ID>"  # in a scripted frame, replaced by the id of the call or channel being answered
# What "<ID>" becomes under a key of the other kind (a channel's id under "callId"): an id no
# client allocates in a test, so that a stale scripted frame never names a later call.
FOREIGN_ID = 10**6 + 7


class HostileServer:
    """A WebSocket server that speaks just enough of the SDK API to misbehave on purpose.

    It accepts any auth packet. An ``rpcCall`` to ``probe`` gets ``rpcResult "ok"``; any other
    call or channel gets the frames of ``script`` (text or bytes; the string ``"<ID>"`` under
    ``callId`` is replaced by the call's id when answering a call, under ``channelId`` by the
    channel's id when answering a channel, else by FOREIGN_ID), then, unless ``terminate`` is
    False, a proper ``rpcResult`` / ``channelClose`` so that the call ends whatever the script
    did. Every
    ``channelSend`` the client sends is kept in ``received``. ``wait_answered(n)`` waits until
    ``n`` scripted answers have been sent completely (a call that failed early on a scripted
    frame returns while the rest of the script is still on its way).
    """

    def __init__(self) -> None:
        self.script: list[str | bytes] = []
        self.terminate = True
        self.received: list[dict[str, Any]] = []
        self.connections = 0
        self.answered = 0
        self._answered_changed = threading.Condition()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._started = threading.Event()
        self._thread = threading.Thread(target=self._run, name="hostile-server", daemon=True)
        self.port = 0

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def wait_answered(self, count: int, timeout: float = 10.0) -> None:
        with self._answered_changed:
            if not self._answered_changed.wait_for(lambda: self.answered >= count, timeout):
                raise TimeoutError(f"only {self.answered} of {count} answers were sent")

    def __enter__(self) -> Self:
        self._thread.start()
        if not self._started.wait(10):
            raise RuntimeError("the hostile server did not start")
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._loop is not None and self._stop is not None:
            with contextlib.suppress(RuntimeError):
                self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout=10)

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._main())
        finally:
            loop.close()

    async def _main(self) -> None:
        self._stop = asyncio.Event()
        async with serve(self._handle, "127.0.0.1", 0, max_size=None, compression=None) as srv:
            self.port = next(iter(srv.sockets)).getsockname()[1]
            self._started.set()
            try:
                async with asyncio.timeout(LIFETIME_SECONDS):
                    await self._stop.wait()
            except TimeoutError:
                pass

    async def _handle(self, ws: ServerConnection) -> None:
        self.connections += 1
        with contextlib.suppress(ConnectionClosed):
            await ws.recv()  # the auth packet, whatever it says
            await ws.send('{"success":true}')
            async for frame in ws:
                try:
                    message = json.loads(frame)
                except (ValueError, RecursionError):
                    continue
                kind = message.get("type")
                if kind == "rpcCall":
                    await self._answer(ws, message, "callId")
                elif kind == "channelCreate":
                    await self._answer(ws, message, "channelId")
                elif kind == "channelSend":
                    self.received.append(message)

    async def _answer(self, ws: ServerConnection, message: dict[str, Any], id_key: str) -> None:
        ident = message[id_key]
        if message.get("endpoint") == "probe":
            await ws.send(json.dumps({"type": "rpcResult", "callId": ident, "result": "ok"}))
            return
        for frame in list(self.script):
            await ws.send(_substitute(frame, id_key, ident))
        if self.terminate:
            if id_key == "callId":
                end = {"type": "rpcResult", "callId": ident, "result": "end"}
            else:
                end = {"type": "channelClose", "channelId": ident}
            await ws.send(json.dumps(end))
        with self._answered_changed:
            self.answered += 1
            self._answered_changed.notify_all()


def _substitute(frame: str | bytes, id_key: str, ident: int) -> str | bytes:
    if isinstance(frame, bytes):
        return frame
    try:
        message = json.loads(frame)
    except (ValueError, RecursionError):
        return frame.replace(json.dumps(ID), json.dumps(FOREIGN_ID))  # undecodable anyway
    if not isinstance(message, dict):
        return frame
    for key, value in message.items():
        if value == ID:
            message[key] = ident if key == id_key else FOREIGN_ID
    return json.dumps(message)


# -- leak checks ---------------------------------------------------------------------------------


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def rss_bytes() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


@contextlib.contextmanager
def no_new_threads(grace: float = 3.0) -> Iterator[None]:
    """Every thread started inside the block has ended ``grace`` seconds after it (websockets'
    own per-connection threads end shortly after their socket closes: they are joined)."""
    before = set(threading.enumerate())
    yield
    deadline = time.monotonic() + grace
    for thread in set(threading.enumerate()) - before:
        thread.join(timeout=max(0.0, deadline - time.monotonic()))
    alive = [t.name for t in set(threading.enumerate()) - before if t.is_alive()]
    assert not alive, f"threads still running: {alive}"


async def no_pending_tasks(grace: float = 3.0) -> None:
    """Every task but the caller's has ended (each is given ``grace`` seconds to do so)."""
    others = asyncio.all_tasks() - {asyncio.current_task()}
    if others:
        await asyncio.wait(others, timeout=grace)
    left = [t.get_name() for t in asyncio.all_tasks() - {asyncio.current_task()} if not t.done()]
    assert not left, f"tasks still running: {left}"


def sdk_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("lmstudio-sdk reader")]


def sdk_tasks() -> list[asyncio.Task[Any]]:
    return [
        t for t in asyncio.all_tasks() if t.get_name().startswith("lmstudio-sdk") and not t.done()
    ]
