"""HTTP to the upstreams: one JSON request, or one SSE stream, with every failure turned into
the engine's typed errors. A request that cannot connect is retried on the next upstream that
serves the model (nothing was sent yet); once bytes flowed, a failure is the caller's error.

``httpx`` because it is async, streams, has separate connect/read time-outs, and is well kept.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any

import httpx

from ...errors import ServerError
from ..base import CancelToken
from .errors import (
    not_supported_by_upstream,
    upstream_dropped,
    upstream_refused,
    upstream_timed_out,
)
from .sse import DONE, SseDecoder
from .upstreams import Upstream, UpstreamPool

__all__ = ["Cancelled", "EndedWithoutDone", "post_json", "stream_events"]

CANCEL_POLL_S = 0.02


class Cancelled(Exception):
    """The caller cancelled; the upstream stream has been closed."""


class EndedWithoutDone(Exception):
    """The stream ended without ``data: [DONE]``: complete only if it said why it finished."""

    def __init__(self, upstream: str) -> None:
        super().__init__(upstream)
        self.upstream = upstream


def _error_message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:500] or response.reason_phrase
    if isinstance(body, dict):
        error = body.get("error", body.get("detail", body))
        if isinstance(error, dict):
            return str(error.get("message") or error)
        return str(error)
    return str(body)[:500]


def _failure(upstream: Upstream, path: str, exc: httpx.HTTPError, timeout: float) -> ServerError:
    if isinstance(exc, httpx.TimeoutException):
        return upstream_timed_out(upstream.url, path, timeout)
    return upstream_dropped(upstream.url, path, str(exc) or type(exc).__name__)


def refusal(upstream: Upstream, path: str, status: int, message: str) -> ServerError:
    if status in (404, 405, 501):
        return not_supported_by_upstream(f"POST {path}", path, upstream.url)
    return upstream_refused(upstream.url, path, status, message)


async def post_json(pool: UpstreamPool, model: str, path: str, body: dict[str, Any]) -> Any:
    tried: set[str] = set()
    while True:
        upstream = pool.pick(model, frozenset(tried))
        with pool.lease(upstream):
            try:
                response = await pool.client().post(f"{upstream.url}{path}", json=body)
            except httpx.ConnectError as exc:
                pool.mark_down(upstream, str(exc))
                tried.add(upstream.url)
                continue
            except httpx.HTTPError as exc:
                raise _failure(upstream, path, exc, pool.read_timeout) from exc
        if response.status_code >= 400:
            raise refusal(upstream, path, response.status_code, _error_message(response))
        try:
            return response.json()
        except ValueError as exc:
            raise upstream_dropped(upstream.url, path, "the answer is not JSON") from exc


async def _next_or_cancel(lines: AsyncIterator[str], cancel: CancelToken) -> str | None:
    """The next line, None at the end; Cancelled as soon as the caller cancels (checked at
    every line too: an upstream that sends faster than the poll interval never lets the wait
    time out)."""
    if cancel.is_set():
        raise Cancelled
    step = asyncio.ensure_future(anext(lines, None))
    while True:
        done, _ = await asyncio.wait({step}, timeout=CANCEL_POLL_S)
        if cancel.is_set():
            step.cancel()
            raise Cancelled
        if done:
            return step.result()


async def stream_events(
    pool: UpstreamPool, model: str, path: str, body: dict[str, Any], cancel: CancelToken
) -> AsyncGenerator[Any, None]:
    """The decoded JSON of each SSE event of ``POST path`` (stream=true), until [DONE].

    Raises Cancelled when ``cancel`` is set (the connection is closed on the way out), and
    EndedWithoutDone when the stream ends without [DONE].
    """
    tried: set[str] = set()
    while True:
        upstream = pool.pick(model, frozenset(tried))
        with pool.lease(upstream):
            try:
                async with pool.client().stream(
                    "POST", f"{upstream.url}{path}", json=body
                ) as response:
                    if response.status_code >= 400:
                        await response.aread()
                        raise refusal(
                            upstream, path, response.status_code, _error_message(response)
                        )
                    decoder = SseDecoder()
                    lines = response.aiter_lines()
                    while (line := await _next_or_cancel(lines, cancel)) is not None:
                        event = decoder.feed(line)
                        if event is DONE:
                            return
                        if event is not None:
                            yield event
                    event = decoder.end()
                    if event is not None and event is not DONE:
                        yield event
                    raise EndedWithoutDone(upstream.url)
            except httpx.ConnectError as exc:
                pool.mark_down(upstream, str(exc))
                tried.add(upstream.url)
                continue
            except httpx.HTTPError as exc:
                if not isinstance(exc, httpx.TimeoutException):
                    pool.mark_down(upstream, str(exc) or type(exc).__name__)
                raise _failure(upstream, path, exc, pool.read_timeout) from exc
