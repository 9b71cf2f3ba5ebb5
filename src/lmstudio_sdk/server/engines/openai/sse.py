"""Server-sent events as OpenAI-compatible servers send them: ``data: <json>`` lines, events
separated by blank lines, ``data: [DONE]`` at the end. Comments (``:``) and other fields are
skipped; an event's data lines are joined with newlines, as the SSE spec says."""

from __future__ import annotations

import json
from typing import Any

__all__ = ["DONE", "SseDecoder"]

DONE = object()


class SseDecoder:
    """Feed it lines; it returns each complete event's decoded JSON (or DONE)."""

    def __init__(self) -> None:
        self._data: list[str] = []

    def feed(self, line: str) -> Any | None:
        """The event this line completes, or None."""
        line = line.rstrip("\r")
        if not line:
            return self._dispatch()
        if line.startswith(":"):
            return None
        name, _, value = line.partition(":")
        if name == "data":
            self._data.append(value.removeprefix(" "))
        return None

    def end(self) -> Any | None:
        """An event left open when the stream ended (some servers omit the blank line)."""
        return self._dispatch()

    def _dispatch(self) -> Any | None:
        if not self._data:
            return None
        text = "\n".join(self._data)
        self._data = []
        if text.strip() == "[DONE]":
            return DONE
        try:
            return json.loads(text)
        except ValueError:
            return {"error": {"message": f"unreadable event from the upstream: {text[:200]}"}}
