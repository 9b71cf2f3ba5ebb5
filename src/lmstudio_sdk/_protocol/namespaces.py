"""The SDK API's namespaces (one WebSocket path each) and the largest frame either side
accepts: shared by the client transports and the embedded server."""

from __future__ import annotations

__all__ = ["MAX_FRAME_BYTES", "NAMESPACES"]

NAMESPACES = (
    "/llm",
    "/embedding",
    "/system",
    "/diagnostics",
    "/files",
    "/repository",
    "/plugins",
    "/runtime",
)

# Large enough for a model listing or a long embedding, small enough to bound memory.
MAX_FRAME_BYTES = 64 * 1024 * 1024
