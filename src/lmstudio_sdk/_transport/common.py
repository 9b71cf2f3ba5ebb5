"""What both transports share: limits, the greeting probe's bytes, error translation."""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol, TypeVar

import websockets

from .._exceptions import AuthenticationError, LMStudioConnectionError, ServerNotFoundError
from .._protocol.namespaces import MAX_FRAME_BYTES

__all__ = [
    "CLOSE_TIMEOUT",
    "DEFAULT_KEEPALIVE",
    "DISCOVERY_PORTS",
    "MAX_FRAME_BYTES",
    "CallOutcome",
    "Keepalive",
    "ThreadFuture",
    "backoff_delay",
    "connect_error",
    "greeting_ok",
    "greeting_request",
    "keepalive_error",
    "transient",
]

# LM Studio's fixed "API server ports", probed for /lmstudio-greeting (same list in every
# official client since Oct 2024).
DISCOVERY_PORTS = (41343, 52993, 16141, 39414, 22931)

# How long closing a socket waits for the server's half of the closing handshake.
CLOSE_TIMEOUT = 2.0


class Keepalive(NamedTuple):
    """WebSocket pings every ``interval`` seconds (None: no pings); a ping whose pong has not
    come within ``timeout`` seconds (None: never judged) ends the socket with a connection
    error. A peer that vanishes without closing is therefore noticed within about
    ``interval + timeout`` seconds."""

    interval: float | None
    timeout: float | None


# websockets' own defaults (ping_interval=20, ping_timeout=20).
DEFAULT_KEEPALIVE = Keepalive(20.0, 20.0)

# Retries: the first wait is BACKOFF_FIRST s, each next one twice the last, at most BACKOFF_MAX,
# and each drawn at random between half and all of that ("equal jitter"), so that clients
# that lost the same server do not come back in lockstep.
BACKOFF_FIRST = 0.1
BACKOFF_MAX = 5.0


def backoff_delay(attempt: int) -> float:
    """How long to wait before retry number ``attempt`` (0 for the first retry)."""
    ceiling = min(BACKOFF_MAX, BACKOFF_FIRST * 2.0**attempt)
    return ceiling / 2 + random.uniform(0, ceiling / 2)


def keepalive_error(url: str, keepalive: Keepalive) -> LMStudioConnectionError:
    return LMStudioConnectionError(
        f"{url} did not answer a keepalive ping within {keepalive.timeout:g} s: the server or "
        "the network path to it is gone (keepalive_timeout= sets this limit)"
    )


def transient(error: BaseException) -> bool:
    """Whether a connection error may go away by itself (worth a retry): a refused or dropped
    connection, not a wrong address or identity (HTTP status, discovery, authentication)."""
    if isinstance(error, AuthenticationError | ServerNotFoundError):
        return False
    if not isinstance(error, LMStudioConnectionError):
        return False
    return not isinstance(error.__cause__, websockets.InvalidStatus | websockets.InvalidURI)


def greeting_request(host: str, port: int) -> bytes:
    return (
        f"GET /lmstudio-greeting HTTP/1.1\r\nHost: {host}:{port}\r\n"
        "Accept: application/json\r\nConnection: close\r\n\r\n"
    ).encode()


def greeting_ok(response: bytes) -> bool:
    """Status 200 and a JSON body whose ``lmstudio`` member is ``true``."""
    head, _, body = response.partition(b"\r\n\r\n")
    status_line = head.split(b"\r\n", 1)[0].split()
    if len(status_line) < 2 or status_line[1] != b"200":
        return False
    try:
        return json.loads(body.decode("utf-8", "replace")).get("lmstudio") is True
    except (ValueError, AttributeError):
        return False


def connect_error(url: str, exc: BaseException) -> LMStudioConnectionError:
    """Translate a failed WebSocket open into an error that says what to do next.

    LM Studio checks identities after the upgrade, in the first message; before it, its guard
    answers 403 to any path that is not ``/<namespace>``. So a 403 or 404 on the upgrade means
    a wrong path or prefix (or not an LM Studio at all), never a refused token. Only an HTTP
    401/407 (a proxy asking for credentials) is an authentication failure.
    """
    if isinstance(exc, websockets.InvalidStatus):
        status = exc.response.status_code
        if status in (401, 407):
            return AuthenticationError(
                f"{url} asked for HTTP authentication (HTTP {status}) before the WebSocket "
                "upgrade: a proxy in front of LM Studio wants credentials of its own"
            )
        if status in (403, 404):
            return LMStudioConnectionError(
                f"{url} refused the WebSocket upgrade (HTTP {status}): no LM Studio SDK socket "
                "at this path. Check the base URL's path prefix (the sockets are "
                "<base URL>/llm, /embedding, /system, …) and that this is an LM Studio server."
            )
        return LMStudioConnectionError(f"{url} answered HTTP {status} instead of a WebSocket")
    return LMStudioConnectionError(
        f"could not connect to LM Studio at {url}: {exc}. Start LM Studio's server "
        "(in the app, or `lms server start`), or run the embedded one with "
        "`lmstudio-sdk serve`, and check the host and port."
    )


T_co = TypeVar("T_co", covariant=True)


class ThreadFuture(Protocol[T_co]):
    """A future another thread settles (``concurrent.futures.Future``), as the transports'
    ``wait_future`` twins wait for it."""

    def result(self, timeout: float | None = None) -> T_co: ...

    def cancel(self) -> bool: ...

    def done(self) -> bool: ...

    def add_done_callback(self, fn: Callable[[Any], object], /) -> None: ...


@dataclass(frozen=True)
class CallOutcome:
    """What one call run by ``run_concurrently(_async)`` gave: a value, or the Exception it
    raised (anything else, such as a cancellation or KeyboardInterrupt, propagates)."""

    value: Any = None
    error: Exception | None = None
