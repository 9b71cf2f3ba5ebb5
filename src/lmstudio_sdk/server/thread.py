"""Run an LMStudioServer in a background thread with its own event loop (for sync tests)."""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Callable, Coroutine
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from .app import LMStudioServer
from .engines.base import Engine
from .services.observer import ServerObserver
from .services.plugins import DEFAULT_HOOK_DEADLINE

__all__ = ["ServerThread"]

START_TIMEOUT_SECONDS = 30.0
STOP_TIMEOUT_SECONDS = 30.0


async def _first_of(*waits: Coroutine[Any, Any, Any]) -> None:
    tasks = [asyncio.ensure_future(wait) for wait in waits]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()


class ServerThread:
    """``with ServerThread(engine_factory=...) as handle:`` serves until the block ends.

    The engine is built inside the server thread, so that its asyncio objects belong to the
    server's loop. ``__enter__`` returns once the server listens (or raises what start raised).
    """

    def __init__(
        self,
        engine_factory: Callable[[], Engine],
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        api_token: str | None = None,
        auth_timeout: float = 10.0,
        faithful_errors: bool = False,
        observer: ServerObserver | None = None,
        plugin_deadline: float = DEFAULT_HOOK_DEADLINE,
        catalog: Path | None = None,
        models_dir: Path | None = None,
        download_bytes_per_second: float | None = None,
        record: str | os.PathLike[str] | None = None,
    ) -> None:
        self._engine_factory = engine_factory
        self._options: dict[str, Any] = {
            "host": host,
            "port": port,
            "api_token": api_token,
            "auth_timeout": auth_timeout,
            "faithful_errors": faithful_errors,
            "observer": observer,
            "plugin_deadline": plugin_deadline,
            "catalog": catalog,
            "models_dir": models_dir,
            "download_bytes_per_second": download_bytes_per_second,
            "record": record,
        }
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: LMStudioServer | None = None
        self._stop: asyncio.Event | None = None
        self._started = threading.Event()
        self._error: BaseException | None = None

    @property
    def server(self) -> LMStudioServer:
        if self._server is None:
            raise RuntimeError("the server thread is not running")
        return self._server

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def http_url(self) -> str:
        return self.server.http_url

    @property
    def port(self) -> int:
        return self.server.port

    def call(self, fn: Callable[[LMStudioServer], Any], timeout: float = 10.0) -> Any:
        """Run ``fn(server)`` on the server's loop (awaiting it if it returns a coroutine)."""
        if self._loop is None:
            raise RuntimeError("the server thread is not running")

        async def run() -> Any:
            result = fn(self.server)
            if asyncio.iscoroutine(result):
                result = await result
            return result

        return asyncio.run_coroutine_threadsafe(run(), self._loop).result(timeout)

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("the server thread is already started")
        self._thread = threading.Thread(target=self._run, name="lmstudio-sdk-server", daemon=True)
        self._thread.start()
        if not self._started.wait(START_TIMEOUT_SECONDS):
            raise TimeoutError("the server thread did not start in time")
        if self._error is not None:
            self._thread.join(STOP_TIMEOUT_SECONDS)
            raise self._error

    def stop(self) -> None:
        thread, loop, stop = self._thread, self._loop, self._stop
        if thread is None:
            return
        if loop is not None and stop is not None and not loop.is_closed():
            try:
                loop.call_soon_threadsafe(stop.set)
            except RuntimeError:
                pass  # the loop already ended
        thread.join(STOP_TIMEOUT_SECONDS)
        if thread.is_alive():
            raise TimeoutError("the server thread did not stop in time")
        self._thread = None

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._main())
        except BaseException as exc:  # reported to start(); nothing else can see it
            if not self._started.is_set():
                self._error = exc
        finally:
            self._started.set()
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    async def _main(self) -> None:
        self._stop = asyncio.Event()
        server = LMStudioServer(self._engine_factory(), **self._options)
        await server.start()
        self._server = server
        self._started.set()
        try:
            # Until stop(), or until a client's shutdown request stopped the server.
            await _first_of(self._stop.wait(), server.wait_stopped())
        finally:
            await server.stop()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
