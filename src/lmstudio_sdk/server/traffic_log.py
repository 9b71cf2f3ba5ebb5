"""The traffic log: every frame of every socket, both directions, as JSON lines.

``lmstudio-sdk serve --record FILE`` and ``LMStudioServer(record=FILE)`` write it; the parity
suite (``tests/parity``) compares what two clients sent for the same user action with it. Not
to be confused with ``ServerRecorder`` (``recorder.py``), the observer tests attach to see
cancels and open sockets.

One line per event::

    {"t": 0.0123, "conn": 1, "ns": "/llm", "dir": "open"}
    {"t": 0.0125, "conn": 1, "ns": "/llm", "dir": "c2s", "msg": {"authVersion": 1, ...}}
    {"t": 0.0131, "conn": 1, "ns": "/llm", "dir": "s2c", "msg": {"success": true}}
    {"t": 0.5002, "conn": 1, "ns": "/llm", "dir": "close"}

``t`` is seconds on a monotonic clock since the log was opened, ``conn`` numbers the sockets
from 1 in the order they were accepted. A text frame that is not JSON is kept as ``"text"``, a
binary frame as its size, ``"binaryBytes"``. Secrets never reach the file: every
``clientPasskey`` (the authentication packet's, a plugin's ``ready`` packet's), any member
named like a token or password, a ``Bearer …`` credential and the secret half of an
``sk-lm-ID:SECRET`` API token are replaced by ``"<redacted>"``.

When the server has no log, the session checks one attribute per frame and does nothing else.
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
from typing import IO, Any

__all__ = ["REDACTED", "ConnectionTraffic", "TrafficLog", "redact"]

REDACTED = "<redacted>"

# Members whose value is a secret wherever they appear (compared case-insensitively).
_SECRET_KEYS = frozenset(
    {"clientpasskey", "passkey", "apitoken", "api_token", "token", "password", "authorization"}
)
_BEARER = re.compile(r"\b(Bearer)\s+\S+", re.IGNORECASE)
_API_TOKEN = re.compile(r"\b(sk-lm-[A-Za-z0-9]+):[A-Za-z0-9]+")


def redact(value: Any) -> Any:
    """``value`` (decoded JSON) with every secret replaced by ``REDACTED``."""
    if isinstance(value, dict):
        return {
            key: REDACTED if key.lower() in _SECRET_KEYS and item is not None else redact(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [redact(item) for item in value]
    if isinstance(value, str) and ("sk-lm-" in value or "earer" in value):
        value = _BEARER.sub(rf"\1 {REDACTED}", value)
        return _API_TOKEN.sub(rf"\1:{REDACTED}", value)
    return value


class TrafficLog:
    """An open traffic log file; ``connection()`` gives each accepted socket its recorder.

    Writes happen on the server's loop, a line at a time, flushed at once (a killed server
    keeps every line before the kill); a lock keeps lines whole if several loops share a log.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)
        self._file: IO[str] | None = open(self.path, "w", encoding="utf-8")
        self._lock = threading.Lock()
        self._start = time.monotonic()
        self._connections = 0

    def connection(self, namespace: str) -> ConnectionTraffic:
        """The recorder of a newly accepted socket on ``namespace`` (writes its ``open``)."""
        with self._lock:
            self._connections += 1
            number = self._connections
        traffic = ConnectionTraffic(self, number, namespace)
        self.write(number, namespace, "open", None)
        return traffic

    def write(
        self, connection: int, namespace: str, direction: str, frame: str | bytes | None
    ) -> None:
        record: dict[str, Any] = {
            "t": round(time.monotonic() - self._start, 6),
            "conn": connection,
            "ns": namespace,
            "dir": direction,
        }
        if isinstance(frame, bytes):
            record["binaryBytes"] = len(frame)
        elif frame is not None:
            try:
                record["msg"] = redact(json.loads(frame))
            except ValueError:
                record["text"] = redact(frame)
        line = json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n"
        with self._lock:
            if self._file is not None:
                self._file.write(line)
                self._file.flush()

    def close(self) -> None:
        with self._lock:
            file, self._file = self._file, None
        if file is not None:
            file.close()


class ConnectionTraffic:
    """What one socket records: ``received`` (client → server), ``sent``, ``closed``."""

    __slots__ = ("_log", "connection", "namespace")

    def __init__(self, log: TrafficLog, connection: int, namespace: str) -> None:
        self._log = log
        self.connection = connection
        self.namespace = namespace

    def received(self, frame: str | bytes) -> None:
        self._log.write(self.connection, self.namespace, "c2s", frame)

    def sent(self, frame: str | bytes) -> None:
        self._log.write(self.connection, self.namespace, "s2c", frame)

    def closed(self) -> None:
        self._log.write(self.connection, self.namespace, "close", None)
