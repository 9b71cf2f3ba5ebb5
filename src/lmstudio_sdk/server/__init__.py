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

from .app import MAX_FRAME_BYTES, LMStudioServer, ServerStatistics
from .engines.scripted import ScriptedEngine
from .thread import ServerThread

__all__ = [
    "MAX_FRAME_BYTES",
    "LMStudioServer",
    "ScriptedEngine",
    "ServerStatistics",
    "ServerThread",
]
