"""An embedded, protocol-faithful LM Studio server (SDK API over WebSockets).

::

    from lmstudio_sdk.server import LMStudioServer, ServerThread
    from lmstudio_sdk.server.engines.scripted import ScriptedEngine

    async with LMStudioServer(ScriptedEngine(), port=0) as server:
        print(server.url)  # ws://127.0.0.1:<port>

    with ServerThread(engine_factory=ScriptedEngine) as handle:  # own thread and loop
        print(handle.url)
"""

from __future__ import annotations

from .._protocol.namespaces import MAX_FRAME_BYTES
from .app import LMStudioServer, ServerStatistics
from .engines.scripted import ScriptedEngine
from .errors import ServerError
from .recorder import CancelReceived, ServerRecorder
from .services.observer import ServerObserver
from .thread import ServerThread

__all__ = [
    "MAX_FRAME_BYTES",
    "CancelReceived",
    "LMStudioServer",
    "ScriptedEngine",
    "ServerError",
    "ServerObserver",
    "ServerRecorder",
    "ServerStatistics",
    "ServerThread",
]
