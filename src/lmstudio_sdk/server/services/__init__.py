"""The server's state shared by every socket, behind the endpoints: loaded models, uploaded
files and the retrieval index of their chunks, client identities, registered plugins, the
model catalogue, experiment flags, the diagnostics log bus, the shutdown request and the
observer the server reports to.

Services may import the engines and the local kit below them, never the endpoints, the
router, the session or the app above.
"""

from __future__ import annotations

import asyncio
import logging

from .auth import IdentityRegistry
from .catalog import Catalog
from .files import FileStore
from .logs import LogBus
from .models import ModelManager
from .observer import ServerObserver
from .plugins import PluginRegistry
from .retrieval import RetrievalCache

__all__ = ["Services"]

logger = logging.getLogger("lmstudio_sdk.server")


class Services:
    """One server's services; the app builds it, sessions and handlers use it."""

    def __init__(
        self,
        *,
        models: ModelManager,
        files: FileStore,
        identities: IdentityRegistry,
        engine_name: str,
        observer: ServerObserver,
        plugins: PluginRegistry | None = None,
        catalog: Catalog | None = None,
    ) -> None:
        self.models = models
        self.files = files
        self.identities = identities
        self.engine_name = engine_name
        self.observer = observer
        self.plugins = plugins if plugins is not None else PluginRegistry()
        identities.accept_also(self.plugins.credentials)
        self.catalog = catalog  # the model catalogue of /repository, if the server has one
        self.experiment_flags: set[str] = set()
        self.logs = LogBus()
        self.retrieval = RetrievalCache()  # chunk embeddings of retrieved files
        # Set by /system requestShutdown; the app stops when it is set.
        self.shutdown_requested = asyncio.Event()

    def release_client(self, identifier: str) -> None:
        """A socket closed; the identity's files go when its last socket does."""
        if self.identities.release(identifier):
            self.files.release_owner(identifier)
            self.retrieval.release_owner(identifier)

    def notify(self, title: str, description: str | None) -> None:
        logger.info("notification: %s%s", title, f" - {description}" if description else "")
        self.observer.notification(title, description)

    async def close(self) -> None:
        await self.models.close()
        self.files.close()
