"""What the server reports as it runs, to whoever wants to watch (tests, diagnostics).

The serving objects only call these methods; they keep no records for observers. The default
observer ignores everything; ``lmstudio_sdk.server.recorder.ServerRecorder`` keeps what tests
look at.
"""

from __future__ import annotations

from typing import Protocol

__all__ = ["OpenSocket", "ServerObserver"]


class OpenSocket(Protocol):
    """One authenticated namespace socket, as an observer may see it."""

    @property
    def namespace(self) -> str: ...

    @property
    def running_tasks(self) -> int:
        """Calls and channels in progress on this socket."""
        ...


class ServerObserver:
    """Receives the server's reports; override what you need. Every method is called on the
    server's event loop and must not block."""

    def socket_opened(self, socket: OpenSocket) -> None:
        """A namespace socket connected (before authentication)."""

    def socket_closed(self, socket: OpenSocket) -> None:
        """A socket is gone and all of its calls and channels have finished."""

    def cancel_received(self, namespace: str, channel_id: int, client: str | None) -> None:
        """A client sent ``{"type": "cancel"}`` on a channel."""

    def notification(self, title: str, description: str | None) -> None:
        """A client asked for a notification (``/system notify``)."""

    def plugin_status(self, plugin: str, status: str, text: str) -> None:
        """A plugin hook showed a status update (``processingHandleUpdate``) during a
        prediction."""
