"""Stop strings over a token stream, shared by engines that match them themselves.

Text that might be the start of a stop string is held back until it is known not to be one;
the stop string itself and anything after it is never emitted, matching LM Studio.
"""

from __future__ import annotations

from .base import FragmentGenerated

__all__ = ["StopStringStreamer"]


class StopStringStreamer:
    """Holds back text that might be the start of a stop string.

    The stop string itself and anything after it is never emitted, matching LM Studio.
    """

    def __init__(self, stops: list[str]) -> None:
        self._stops = stops
        self._pending = ""
        self._pending_tokens = 0
        self._pending_type = "none"

    def push(self, token: str, reasoning_type: str) -> tuple[list[FragmentGenerated], str | None]:
        out: list[FragmentGenerated] = []
        if reasoning_type != self._pending_type:
            out += self.flush()
            self._pending_type = reasoning_type
        self._pending += token
        self._pending_tokens += 1
        if not self._stops:
            return out + self.flush(), None
        hits = [(self._pending.find(s), s) for s in self._stops if s in self._pending]
        if hits:
            index, stop = min(hits)
            if index > 0:
                out.append(
                    FragmentGenerated(
                        self._pending[:index], self._pending_tokens, self._pending_type
                    )
                )
            self._pending, self._pending_tokens = "", 0
            return out, stop
        keep = self._held_back_length()
        if keep < len(self._pending):
            emit = self._pending[: len(self._pending) - keep]
            out.append(FragmentGenerated(emit, self._pending_tokens, self._pending_type))
            self._pending = self._pending[len(emit) :]
            self._pending_tokens = 0
        return out, None

    def flush(self) -> list[FragmentGenerated]:
        if not self._pending:
            return []
        fragment = FragmentGenerated(
            self._pending, max(self._pending_tokens, 1), self._pending_type
        )
        self._pending, self._pending_tokens = "", 0
        return [fragment]

    def _held_back_length(self) -> int:
        """Length of the longest suffix of the pending text that starts some stop string."""
        best = 0
        for stop in self._stops:
            for length in range(min(len(stop) - 1, len(self._pending)), best, -1):
                if self._pending.endswith(stop[:length]):
                    best = length
                    break
        return best
