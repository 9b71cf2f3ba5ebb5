"""The upstream servers: which are healthy, which models each serves, and which one takes the
next request (the healthy one serving the model with the fewest requests in flight).

Health: a failed connection or a dropped stream marks an upstream down at once, so new
requests go elsewhere; while it is down, requests that pass by start a check (``GET
/v1/models``, at most one per ``health_interval`` seconds) that brings it back when it answers.
Listing the models checks every upstream: in the background on the server's loop (``refresh``;
a listing shows what the last one found, so a slow or unreachable upstream never stalls the
server), blocking only for the very first listing or where no loop runs (``refresh_sync``).
Checks run on demand rather than in a task of their own, so the engine leaves nothing running
when the server stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx

from .errors import no_upstream_for

__all__ = ["Upstream", "UpstreamPool", "normalise_url"]

_log = logging.getLogger("lmstudio_sdk.server.engines.openai")

CONNECT_TIMEOUT_S = 5.0
HEALTH_TIMEOUT_S = 3.0
LISTING_MAX_AGE_S = 1.0


def normalise_url(url: str) -> str:
    """``http://host:8000``, ``http://host:8000/`` and ``http://host:8000/v1`` are one base."""
    url = url.strip().rstrip("/")
    if "://" not in url:
        url = f"http://{url}"
    return url.removesuffix("/v1")


@dataclass(eq=False)
class Upstream:
    url: str
    healthy: bool = True
    in_flight: int = 0
    checked_at: float = 0.0
    #: ``/v1/models`` entries by model id, as the upstream last listed them.
    models: dict[str, dict[str, Any]] = field(default_factory=dict)


class UpstreamPool:
    """The upstreams, their health, and one async HTTP client per event loop."""

    def __init__(
        self,
        urls: list[str],
        *,
        api_key: str | None = None,
        read_timeout: float = 120.0,
        health_interval: float = 5.0,
    ) -> None:
        if not urls:
            raise ValueError("the openai engine needs at least one --upstream URL")
        self.upstreams = [Upstream(normalise_url(u)) for u in urls]
        self.headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.read_timeout = read_timeout
        self.health_interval = health_interval
        self._client: httpx.AsyncClient | None = None
        self._client_loop: asyncio.AbstractEventLoop | None = None
        self._checks: set[asyncio.Task[None]] = set()
        self._listed_at = -math.inf

    @property
    def timeout(self) -> httpx.Timeout:
        return httpx.Timeout(self.read_timeout, connect=CONNECT_TIMEOUT_S)

    def client(self) -> httpx.AsyncClient:
        """The async client of the running loop (made on first use)."""
        loop = asyncio.get_running_loop()
        if self._client is None or self._client_loop is not loop:
            # No idle keep-alive connections: the server never closes its engine, and a
            # socket left open when the loop ends is a ResourceWarning. A TCP connect per
            # request costs nothing next to a prediction.
            self._client = httpx.AsyncClient(
                timeout=self.timeout,
                headers=self.headers,
                limits=httpx.Limits(max_keepalive_connections=0),
            )
            self._client_loop = loop
        return self._client

    def sync_client(self, timeout: float) -> httpx.Client:
        connect = min(timeout, CONNECT_TIMEOUT_S)
        return httpx.Client(timeout=httpx.Timeout(timeout, connect=connect), headers=self.headers)

    # -- choosing ---------------------------------------------------------------------------

    def serving(self, model: str) -> list[Upstream]:
        self._check_down_upstreams()
        return [u for u in self.upstreams if u.healthy and model in u.models]

    def pick(self, model: str, exclude: frozenset[str] = frozenset()) -> Upstream:
        candidates = [u for u in self.serving(model) if u.url not in exclude]
        if not candidates:
            raise no_upstream_for(model, [u.url for u in self.upstreams])
        # min() keeps the first of equals: ties go to the upstream listed first.
        return min(candidates, key=lambda u: u.in_flight)

    @contextlib.contextmanager
    def lease(self, upstream: Upstream) -> Iterator[Upstream]:
        upstream.in_flight += 1
        try:
            yield upstream
        finally:
            upstream.in_flight -= 1

    def mark_down(self, upstream: Upstream, reason: str) -> None:
        if upstream.healthy:
            _log.warning("upstream %s is down: %s", upstream.url, reason)
        upstream.healthy = False

    # -- health -----------------------------------------------------------------------------

    def record_listing(self, upstream: Upstream, listing: Any) -> None:
        data = listing.get("data") if isinstance(listing, dict) else None
        if not isinstance(data, list):
            self.mark_down(upstream, "GET /v1/models gave no model list")
            return
        upstream.models = {
            str(m["id"]): m for m in data if isinstance(m, dict) and isinstance(m.get("id"), str)
        }
        if not upstream.healthy:
            _log.warning("upstream %s is back", upstream.url)
        upstream.healthy = True

    @property
    def listed_once(self) -> bool:
        return self._listed_at > -math.inf

    def listing_due(self) -> bool:
        """At most one listing per LISTING_MAX_AGE_S."""
        return time.monotonic() - self._listed_at >= LISTING_MAX_AGE_S

    def _due_upstreams(self) -> list[Upstream]:
        # An upstream found down is asked again only after ``health_interval``, so that an
        # unreachable host does not stall every listing.
        now = time.monotonic()
        self._listed_at = now
        return [
            u for u in self.upstreams if u.healthy or now - u.checked_at >= self.health_interval
        ]

    def refresh_sync(self) -> None:
        """Re-list the upstreams' models, blocking (when no event loop runs, and for the very
        first listing, which has nothing older to show); at most once per LISTING_MAX_AGE_S."""
        if not self.listing_due():
            return
        due = self._due_upstreams()
        with self.sync_client(HEALTH_TIMEOUT_S) as client:
            for upstream in due:
                try:
                    response = client.get(f"{upstream.url}/v1/models")
                    response.raise_for_status()
                    self.record_listing(upstream, response.json())
                except (httpx.HTTPError, ValueError) as exc:
                    self.mark_down(upstream, str(exc) or type(exc).__name__)
                upstream.checked_at = time.monotonic()

    async def refresh(self) -> None:
        """Re-list the upstreams' models without blocking the loop (all at once)."""
        await asyncio.gather(*(self.check(u) for u in self._due_upstreams()))

    def spawn(self, coroutine: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]:
        """Run a background job on the running loop; ``aclose`` cancels it."""
        task = asyncio.get_running_loop().create_task(coroutine, name=name)
        self._checks.add(task)
        task.add_done_callback(self._checks.discard)
        return task

    async def check(self, upstream: Upstream) -> None:
        upstream.checked_at = time.monotonic()
        try:
            response = await self.client().get(
                f"{upstream.url}/v1/models", timeout=HEALTH_TIMEOUT_S
            )
            response.raise_for_status()
            self.record_listing(upstream, response.json())
        except (httpx.HTTPError, ValueError) as exc:
            self.mark_down(upstream, str(exc) or type(exc).__name__)

    def _check_down_upstreams(self) -> None:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return  # a blocking caller: refresh_sync checks them all
        now = time.monotonic()
        for upstream in self.upstreams:
            if not upstream.healthy and now - upstream.checked_at >= self.health_interval:
                upstream.checked_at = now
                self.spawn(self.check(upstream), f"check {upstream.url}")

    async def aclose(self) -> None:
        for task in list(self._checks):
            task.cancel()
        if self._client is not None:
            await self._client.aclose()
        self._client = None
