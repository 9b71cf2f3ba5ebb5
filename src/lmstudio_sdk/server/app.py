"""The embedded LM Studio server: HTTP discovery and the SDK WebSockets on one port."""

from __future__ import annotations

import asyncio
import http
import ipaddress
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Self

from websockets.asyncio.server import Server, serve
from websockets.asyncio.server import ServerConnection as WebSocket
from websockets.datastructures import Headers
from websockets.http11 import Request, Response

from .._protocol.namespaces import MAX_FRAME_BYTES, NAMESPACES
from .._version import __version__
from .engines.base import Engine
from .local.models_dir import default_models_dir
from .router import ROUTER
from .services import Services
from .services.auth import IdentityRegistry
from .services.catalog import Catalog
from .services.files import FileStore
from .services.logs import BusLogHandler
from .services.models import ModelManager
from .services.observer import ServerObserver
from .services.plugins import DEFAULT_HOOK_DEADLINE, PluginRegistry
from .session import Session
from .traffic_log import TrafficLog

__all__ = ["LMStudioServer", "ServerStatistics"]

logger = logging.getLogger("lmstudio_sdk.server")

STOP_TIMEOUT_SECONDS = 10.0
# After /system requestShutdown, how long the reply has to leave before the sockets close.
SHUTDOWN_GRACE_SECONDS = 0.2


@dataclass(frozen=True, slots=True)
class ServerStatistics:
    """A snapshot of what the server is serving, for diagnostics and tests."""

    open_sockets: int
    sockets_by_namespace: dict[str, int]
    identities: dict[str, int]  # clientIdentifier → open sockets
    loaded_instances: tuple[str, ...]  # instance identifiers, in load order
    running_tasks: int  # calls and channels in progress, all sockets
    uploaded_files: int


def _json_response(status: http.HTTPStatus, body: object) -> Response:
    data = json.dumps(body, separators=(",", ":")).encode()
    headers = Headers(
        [
            ("Content-Type", "application/json"),
            ("Content-Length", str(len(data))),
            ("Connection", "close"),
        ]
    )
    return Response(status.value, status.phrase, headers, data)


def _catalog(
    engine: Engine, folder: Path | None, models_dir: Path | None, rate: float | None
) -> Catalog | None:
    if folder is None:
        return None
    if rate is not None and not rate > 0:
        raise ValueError("download_bytes_per_second must be a positive number")
    if models_dir is None:
        engine_dir = getattr(engine, "models_dir", None)
        models_dir = engine_dir if isinstance(engine_dir, Path) else default_models_dir()
    return Catalog(Path(folder), Path(models_dir), bytes_per_second=rate)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class LMStudioServer:
    """An LM Studio-compatible SDK server over an engine.

    ``faithful_errors=True`` mimics LM Studio exactly: an unknown endpoint or an invalid
    parameter only gets a ``communicationWarning`` and the call never completes. By default the
    call also ends with an rpcError / channelError that names the problem.

    ``observer`` receives what the server reports as it runs (sockets, cancels, notifications);
    tests attach a ``ServerRecorder``.

    ``catalog`` is a catalogue folder (model files and ``catalog.json``, see docs/catalog.md)
    that /repository searches and downloads from, into ``models_dir`` (default: the engine's
    models folder, else the default one); ``download_bytes_per_second`` caps download speed.

    ``record`` names a file to write every frame of every socket to, both directions, as JSON
    lines with secrets redacted (see ``traffic_log.py``); it is created (or truncated) when the
    server starts and closed when it stops.

    ``plugin_deadline`` is how long a plugin hook may take to answer before the prediction
    fails with an error naming the plugin.
    """

    def __init__(
        self,
        engine: Engine,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        api_token: str | None = None,
        auth_timeout: float = 10.0,
        faithful_errors: bool = False,
        max_frame_bytes: int = MAX_FRAME_BYTES,
        max_upload_bytes: int | None = None,
        observer: ServerObserver | None = None,
        plugin_deadline: float = DEFAULT_HOOK_DEADLINE,
        catalog: Path | None = None,
        models_dir: Path | None = None,
        download_bytes_per_second: float | None = None,
        record: str | os.PathLike[str] | None = None,
    ) -> None:
        if auth_timeout <= 0:
            raise ValueError("auth_timeout must be a positive number of seconds")
        if max_frame_bytes < 1024:
            raise ValueError("max_frame_bytes must be at least 1024")
        self.engine = engine
        self.host = host
        self._requested_port = port
        self.auth_timeout = auth_timeout
        self.max_frame_bytes = max_frame_bytes
        self.faithful_errors = faithful_errors
        self.observer = observer if observer is not None else ServerObserver()
        self.services = Services(
            models=ModelManager(engine),
            files=FileStore() if max_upload_bytes is None else FileStore(max_upload_bytes),
            identities=IdentityRegistry(api_token),
            engine_name=engine.name,
            observer=self.observer,
            plugins=PluginRegistry(plugin_deadline),
            catalog=_catalog(engine, catalog, models_dir, download_bytes_per_second),
        )
        self.record = None if record is None else os.fspath(record)
        self._traffic: TrafficLog | None = None
        self._sessions: set[Session] = set()
        self._server: Server | None = None
        self._port: int | None = None
        self._log_handler = BusLogHandler(self.services.logs)
        self._shutdown_watch: asyncio.Task[None] | None = None
        self._stopped = asyncio.Event()

    # -- lifecycle ----------------------------------------------------------------------------

    async def start(self) -> None:
        if self._server is not None:
            raise RuntimeError("the server is already started")
        if not _is_loopback(self.host):
            logger.warning(
                "listening on %s: the SDK API has no encryption, and without an API token "
                "anyone who can reach this address may use it",
                self.host,
            )
        if self.record is not None:
            self._traffic = TrafficLog(self.record)  # OSError (e.g. no such folder) at start
        self._server = await serve(
            self._handle,
            self.host,
            self._requested_port,
            process_request=self._process_request,
            max_size=self.max_frame_bytes,
            # The WebSocket upgrade gets the same deadline as the auth packet that follows it:
            # a connection that never upgrades is dropped as quickly as one that never
            # authenticates.
            open_timeout=self.auth_timeout,
            compression=None,
            # LM Studio does not ping; official clients never need it.
            ping_interval=None,
            server_header=f"lmstudio-sdk/{__version__}",
        )
        sockets = list(self._server.sockets)
        self._port = int(sockets[0].getsockname()[1])
        self._stopped.clear()
        logger.addHandler(self._log_handler)  # server.log events for /diagnostics streamLogs
        self._shutdown_watch = asyncio.create_task(self._honour_shutdown_request())
        logger.info("listening on %s", self.url)

    async def _honour_shutdown_request(self) -> None:
        await self.services.shutdown_requested.wait()
        logger.warning("a client asked this server to shut down")
        await asyncio.sleep(SHUTDOWN_GRACE_SECONDS)
        await self.stop()

    async def wait_stopped(self) -> None:
        """Return once the server stopped (``stop()``, or a client's shutdown request)."""
        await self._stopped.wait()

    async def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        watch, self._shutdown_watch = self._shutdown_watch, None
        if watch is not None and watch is not asyncio.current_task():
            watch.cancel()
        logger.removeHandler(self._log_handler)
        server.close(close_connections=True)
        try:
            async with asyncio.timeout(STOP_TIMEOUT_SECONDS):
                await server.wait_closed()
        except TimeoutError:
            logger.warning("some connections did not close in time")
        await self.services.close()
        traffic, self._traffic = self._traffic, None
        if traffic is not None:
            traffic.close()
        self._stopped.set()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("the server is not started")
        return self._port

    @property
    def url(self) -> str:
        return f"ws://{self._url_host}:{self.port}"

    @property
    def http_url(self) -> str:
        return f"http://{self._url_host}:{self.port}"

    @property
    def _url_host(self) -> str:
        return f"[{self.host}]" if ":" in self.host else self.host

    # -- state --------------------------------------------------------------------------------

    @property
    def models(self) -> ModelManager:
        return self.services.models

    @property
    def files(self) -> FileStore:
        return self.services.files

    def statistics(self) -> ServerStatistics:
        by_namespace: dict[str, int] = {}
        for session in self._sessions:
            by_namespace[session.namespace] = by_namespace.get(session.namespace, 0) + 1
        return ServerStatistics(
            open_sockets=len(self._sessions),
            sockets_by_namespace=by_namespace,
            identities=self.services.identities.open_identities(),
            loaded_instances=tuple(i.identifier for i in self.models.loaded()),
            running_tasks=sum(s.running_tasks for s in self._sessions),
            uploaded_files=len(self.files),
        )

    # -- HTTP and WebSocket -------------------------------------------------------------------

    def _process_request(self, connection: WebSocket, request: Request) -> Response | None:
        path = request.path.split("?", 1)[0]
        if path == "/lmstudio-greeting":
            return _json_response(http.HTTPStatus.OK, {"lmstudio": True})
        if path == "/lms-status":
            return _json_response(
                http.HTTPStatus.OK, {"package": "lmstudio-sdk", "version": __version__}
            )
        if path not in NAMESPACES:
            # LM Studio's guard answers any other path with a bare 403.
            return _json_response(
                http.HTTPStatus.FORBIDDEN,
                {"error": f"no SDK namespace at {path}", "namespaces": list(NAMESPACES)},
            )
        return None

    async def _handle(self, ws: WebSocket) -> None:
        assert ws.request is not None  # set once the handshake succeeded
        namespace = ws.request.path.split("?", 1)[0]
        traffic = None if self._traffic is None else self._traffic.connection(namespace)
        session = Session(
            ws,
            namespace,
            router=ROUTER,
            services=self.services,
            auth_timeout=self.auth_timeout,
            faithful_errors=self.faithful_errors,
            traffic=traffic,
        )
        self._sessions.add(session)
        self.observer.socket_opened(session)
        try:
            await session.run()
        except Exception:
            logger.exception("session on %s failed", namespace)
        finally:
            self._sessions.discard(session)
            self.observer.socket_closed(session)
            if traffic is not None:
                traffic.closed()
