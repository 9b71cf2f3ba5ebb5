"""Reading, normalising and comparing traffic logs (``LMStudioServer(record=…)``).

A recording becomes a ``Traffic``: for each namespace, the frames each way in order (the
sockets of one namespace in the order they were accepted). The two directions are kept apart
because how a server's reply interleaves with a client's next frame is a matter of timing, not
of what either side sends.

Normalising erases what legitimately differs between two runs of the same action:

* the identity: a guest's random ``clientIdentifier`` (its prefix and length are kept; an API
  token's identifier is compared as it is), passkeys (already redacted);
* call and channel ids: renumbered per socket in order of first use (a client may count from 0
  or 1; only which frames share an id matters);
* server-made names: instance references, uploaded file identifiers (they carry a time), the
  uploads folder;
* timings: every number under a key of ``TIMING_KEYS`` (load progress, tokens per second, …);
* key order (frames are compared as JSON values, printed with sorted keys).
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

C2S = "c2s"
S2C = "s2c"
DIRECTIONS = (C2S, S2C)

# Numbers that depend on the clock.
TIMING_KEYS = frozenset(
    {
        "lastUsedTime",
        "timeToFirstTokenSec",
        "totalTimeSec",
        "tokensPerSecond",
        "promptProcessingTimeSec",
        "loadTimeSec",
    }
)
_SERVER_NAMES = [
    (re.compile(r"inst-[0-9a-f]{32}"), "instance"),  # ModelManager's instance references
    (re.compile(r"\d{13} - \d+(\.[A-Za-z0-9]+)?"), "file"),  # FileStore's identifiers
    (re.compile(r"lmstudio-sdk-uploads-[A-Za-z0-9_]+"), "uploads"),  # FileStore's folder
]


@dataclass
class Traffic:
    """namespace → direction → frames (normalised JSON values), in order."""

    streams: dict[str, dict[str, list[Any]]] = field(default_factory=dict)

    def frames(self, namespace: str, direction: str) -> list[Any]:
        return self.streams.setdefault(namespace, {C2S: [], S2C: []})[direction]

    def namespaces(self) -> list[str]:
        return sorted(self.streams)

    def copy(self) -> Traffic:
        return Traffic(
            {ns: {d: list(frames) for d, frames in s.items()} for ns, s in self.streams.items()}
        )

    def lines(self) -> Iterator[str]:
        """Every frame as one line, ``/ns c2s {...}``, namespace by namespace."""
        for namespace in self.namespaces():
            for direction in DIRECTIONS:
                for frame in self.streams[namespace][direction]:
                    yield f"{namespace} {direction} {json.dumps(frame, sort_keys=True)}"


def load(path: Path) -> list[dict[str, Any]]:
    """The events of a traffic log file."""
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def normalise(events: list[dict[str, Any]]) -> Traffic:
    traffic = Traffic()
    ids: dict[tuple[int, str, int], int] = {}
    counters: dict[tuple[int, str], int] = {}
    names: dict[str, str] = {}

    def renumber(conn: int, kind: str, value: int) -> int:
        key = (conn, kind, value)
        if key not in ids:
            ids[key] = counters.get((conn, kind), 0)
            counters[(conn, kind)] = ids[key] + 1
        return ids[key]

    counts: dict[str, int] = {}

    def rename(text: str) -> str:
        for pattern, kind in _SERVER_NAMES:

            def numbered(match: re.Match[str], kind: str = kind) -> str:
                found = match.group(0)
                if found not in names:
                    counts[kind] = counts.get(kind, 0) + 1
                    names[found] = f"<{kind}-{counts[kind]}>"
                return names[found]

            text = pattern.sub(numbered, text)
        return text

    def walk(value: Any, key: str | None, conn: int) -> Any:
        if isinstance(value, dict):
            return {k: walk(v, k, conn) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v, key, conn) for v in value]
        if key in ("callId", "channelId") and isinstance(value, int):
            return renumber(conn, key, value)
        if key in TIMING_KEYS and isinstance(value, int | float):
            return "<time>"
        if key == "clientIdentifier" and isinstance(value, str) and value.startswith("guest:"):
            # A guest's name is random; its form (prefix, length) is compared.
            return f"guest:<{len(value) - len('guest:')} random characters>"
        if isinstance(value, str):
            return rename(value)
        return value

    for event in events:
        if event["dir"] not in DIRECTIONS:
            continue
        if "msg" in event:
            frame = walk(event["msg"], None, event["conn"])
        else:
            frame = {k: event[k] for k in ("text", "binaryBytes") if k in event}
        traffic.frames(event["ns"], event["dir"]).append(frame)
    return traffic


# -- listed differences ---------------------------------------------------------------------------

Eraser = Callable[[Traffic, Traffic], None]  # (typescript, ours), changed in place


@dataclass(frozen=True)
class Difference:
    """A deliberate difference of our SDK from the TypeScript SDK, with the reason, and how to
    erase it from both recordings so that everything else is still compared frame by frame."""

    reason: str
    erase: Eraser
    # Which kind of deliberate difference this is (spec.GROUPS), for docs/parity.md's list.
    group: str = ""


def frame_matches(frame: Any, **fields: Any) -> bool:
    return isinstance(frame, dict) and all(frame.get(k) == v for k, v in fields.items())


def unordered(reason: str, namespace: str, direction: str) -> Difference:
    """The frames of one stream are the same but may come in another order."""

    def erase(ts: Traffic, ours: Traffic) -> None:
        for traffic in (ts, ours):
            traffic.frames(namespace, direction).sort(key=lambda f: json.dumps(f, sort_keys=True))

    return Difference(reason, erase)


def drop(reason: str, side: str, namespace: str, direction: str, **fields: Any) -> Difference:
    """``side`` ("ts" or "ours") sends (or gets) extra frames the other does not: the frames of
    that stream whose top-level members equal ``fields``."""
    if side not in ("ts", "ours"):
        raise ValueError("side is 'ts' or 'ours'")

    def erase(ts: Traffic, ours: Traffic) -> None:
        frames = (ts if side == "ts" else ours).frames(namespace, direction)
        frames[:] = [f for f in frames if not frame_matches(f, **fields)]

    return Difference(reason, erase)


def member_value(
    reason: str, side: str, namespace: str, path: tuple[str, ...], value: Any, **fields: Any
) -> Difference:
    """``side`` sends member ``path`` (e.g. ``("creationParameter", "loadTtlMs")``) with
    ``value`` in the client frames matching ``fields`` where the other side leaves it out."""
    if side not in ("ts", "ours"):
        raise ValueError("side is 'ts' or 'ours'")

    def erase(ts: Traffic, ours: Traffic) -> None:
        frames = (ts if side == "ts" else ours).frames(namespace, C2S)
        for index, frame in enumerate(frames):
            if not frame_matches(frame, **fields):
                continue
            frame = json.loads(json.dumps(frame))  # a copy: the original is shared
            parent = frame
            for key in path[:-1]:
                parent = parent.get(key) if isinstance(parent, dict) else None
            if isinstance(parent, dict) and parent.get(path[-1]) == value:
                del parent[path[-1]]
                frames[index] = frame

    return Difference(reason, erase)


def kv_field(reason: str, side: str, namespace: str, key: str, **fields: Any) -> Difference:
    """``side`` sends the KV config field ``key`` (in any config of its client frames matching
    ``fields``) where the other leaves it out; the server's frames that report the config it
    got (a prediction's end) lose the field too."""
    if side not in ("ts", "ours"):
        raise ValueError("side is 'ts' or 'ours'")

    def without(value: Any) -> Any:
        if isinstance(value, dict):
            out = {k: without(v) for k, v in value.items()}
            if isinstance(out.get("fields"), list):
                out["fields"] = [
                    f for f in out["fields"] if not (isinstance(f, dict) and f.get("key") == key)
                ]
            return out
        if isinstance(value, list):
            return [without(v) for v in value]
        return value

    def erase(ts: Traffic, ours: Traffic) -> None:
        traffic = ts if side == "ts" else ours
        frames = traffic.frames(namespace, C2S)
        frames[:] = [without(f) if frame_matches(f, **fields) else f for f in frames]
        answers = traffic.frames(namespace, S2C)
        answers[:] = [without(f) for f in answers]

    return Difference(reason, erase)


def schema_members(reason: str, side: str, namespace: str, *members: str) -> Difference:
    """``side``'s JSON schemas (every ``jsonSchema`` value, in its frames both ways: the server
    reports the config it got) have ``members`` at their top the other side's do not."""
    if side not in ("ts", "ours"):
        raise ValueError("side is 'ts' or 'ours'")

    def without(value: Any) -> Any:
        if isinstance(value, dict):
            out = {k: without(v) for k, v in value.items()}
            schema = out.get("jsonSchema")
            if isinstance(schema, dict):
                out["jsonSchema"] = {k: v for k, v in schema.items() if k not in members}
            return out
        if isinstance(value, list):
            return [without(v) for v in value]
        return value

    def erase(ts: Traffic, ours: Traffic) -> None:
        traffic = ts if side == "ts" else ours
        for direction in DIRECTIONS:
            frames = traffic.frames(namespace, direction)
            frames[:] = [without(f) for f in frames]

    return Difference(reason, erase)


def drop_call(reason: str, side: str, namespace: str, endpoint: str) -> Difference:
    """``side`` makes an RPC the other does not: its ``rpcCall`` frames to ``endpoint`` and their
    answers are dropped, and the remaining call ids of that namespace renumbered."""
    if side not in ("ts", "ours"):
        raise ValueError("side is 'ts' or 'ours'")

    def erase(ts: Traffic, ours: Traffic) -> None:
        traffic = ts if side == "ts" else ours
        calls, answers = traffic.frames(namespace, C2S), traffic.frames(namespace, S2C)
        dropped = {
            f["callId"] for f in calls if frame_matches(f, type="rpcCall", endpoint=endpoint)
        }
        calls[:] = [f for f in calls if not (isinstance(f, dict) and f.get("callId") in dropped)]
        answers[:] = [
            f for f in answers if not (isinstance(f, dict) and f.get("callId") in dropped)
        ]
        kept = sorted({f["callId"] for f in calls if isinstance(f, dict) and "callId" in f})
        new_id = {old: new for new, old in enumerate(kept)}
        for frames in (calls, answers):
            frames[:] = [
                {**f, "callId": new_id.get(f["callId"], f["callId"])}
                if isinstance(f, dict) and "callId" in f
                else f
                for f in frames
            ]

    return Difference(reason, erase)


def drop_channel(reason: str, side: str, namespace: str, endpoint: str, nth: int) -> Difference:
    """``side`` opens a channel the other does not: the ``nth`` (from 0) channel it opens to
    ``endpoint`` in ``namespace``, every frame of it both ways, is dropped, and the remaining
    channel ids of that namespace renumbered."""
    if side not in ("ts", "ours"):
        raise ValueError("side is 'ts' or 'ours'")

    def erase(ts: Traffic, ours: Traffic) -> None:
        traffic = ts if side == "ts" else ours
        calls, answers = traffic.frames(namespace, C2S), traffic.frames(namespace, S2C)
        opened = [
            f["channelId"]
            for f in calls
            if frame_matches(f, type="channelCreate", endpoint=endpoint)
        ]
        if nth >= len(opened):
            return  # nothing to erase: the comparison then shows the difference is gone
        dropped = opened[nth]
        for frames in (calls, answers):
            frames[:] = [
                f for f in frames if not (isinstance(f, dict) and f.get("channelId") == dropped)
            ]
        kept = sorted({f["channelId"] for f in calls if isinstance(f, dict) and "channelId" in f})
        new_id = {old: new for new, old in enumerate(kept)}
        for frames in (calls, answers):
            frames[:] = [
                {**f, "channelId": new_id.get(f["channelId"], f["channelId"])}
                if isinstance(f, dict) and "channelId" in f
                else f
                for f in frames
            ]

    return Difference(reason, erase)


def combine(reason: str, *parts: Difference) -> Difference:
    """One difference whose eraser is several erasers."""

    def erase(ts: Traffic, ours: Traffic) -> None:
        for part in parts:
            part.erase(ts, ours)

    return Difference(reason, erase)


# -- comparison -----------------------------------------------------------------------------------


def diff(ts: Traffic, ours: Traffic) -> str:
    """A unified diff of two recordings, stream by stream ('-' TypeScript, '+' ours)."""
    out: list[str] = []
    for namespace in sorted(set(ts.streams) | set(ours.streams)):
        for direction in DIRECTIONS:
            left = [json.dumps(f, sort_keys=True) for f in ts.frames(namespace, direction)]
            right = [json.dumps(f, sort_keys=True) for f in ours.frames(namespace, direction)]
            if left != right:
                out.append(f"=== {namespace} {direction} (- TypeScript SDK, + ours)")
                out.extend(difflib.unified_diff(left, right, lineterm="", n=2))
    return "\n".join(out)


@dataclass(frozen=True)
class Verdict:
    outcome: str  # "identical", "listed" or "failing"
    report: str


def compare(ts: Traffic, ours: Traffic, differences: tuple[Difference, ...]) -> Verdict:
    raw = diff(ts, ours)
    if not raw:
        if differences:
            reasons = "; ".join(d.reason for d in differences)
            return Verdict(
                "failing",
                f"the traffic is identical, but the scenario lists differences: {reasons}. "
                "Remove them from tests/parity/spec.py.",
            )
        return Verdict("identical", "")
    ts_erased, ours_erased = ts.copy(), ours.copy()
    for difference in differences:
        difference.erase(ts_erased, ours_erased)
    remaining = diff(ts_erased, ours_erased)
    if not remaining:
        return Verdict("listed", raw)
    listed = "".join(f"\n  - {d.reason}" for d in differences) or " none"
    return Verdict(
        "failing",
        f"our SDK's traffic differs from the TypeScript SDK's.\nListed differences:{listed}\n"
        f"What remains once they are erased:\n{remaining}",
    )
