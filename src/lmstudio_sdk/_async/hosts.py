"""A client over many hosts: each call goes to the healthy host with the least load.

    async with AsyncPool(["gpu-a:1234", "gpu-b:1234"]) as pool:
        model = await pool.llm.model("qwen2.5-7b-instruct")
        print((await model.respond("Hello!")).content)

One ``AsyncClient`` per host underneath (a host given as ``("host:port", device)`` is that LM
Link device of the host). Health comes from failed calls (a lost or refused connection marks
the host down at once) and from a periodic probe (a version call) that brings hosts back.
Load is the pool's own calls in flight plus what each host last reported of every client's
requests (its loaded lists and ``getInstanceProcessingState``), refreshed in the background
when a call finds the reports older than ``load_ttl``: never a round trip on a call's path.
The routing policy itself is pure: ``_protocol/routing.py``.

Source of truth for both faces (see ``scripts/unasync.py``).
"""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Sequence
from types import TracebackType
from typing import Never, Protocol, TypeVar, Unpack, overload

from .._exceptions import (
    HostUnavailableError,
    LMStudioConnectionError,
    LMStudioError,
    LMStudioTimeoutError,
    LMStudioValueError,
    ModelNotFoundError,
)
from .._protocol.chat import ChatLike, to_history
from .._protocol.config_types import EmbeddingLoadConfigDict, LlmLoadConfigDict
from .._protocol.kv_config import prediction_config_to_kv
from .._protocol.packets.shared import PredictionFragment
from .._protocol.prediction import PredictionResult
from .._protocol.routing import HostState, host_load, pick, split_evenly
from .._transport.asyncio import AsyncLock, AsyncMailbox, AsyncWorker
from .._types import (
    NOT_GIVEN,
    NotGiven,
    Timeout,
    check_timeout,
    checked_arguments,
    reject_unknown_arguments,
    resolve_timeout,
)
from .client import DEFAULT_TIMEOUT, AsyncClient, base_url_from_host
from .downloaded import DEFAULT_TTL_SECONDS
from .models import (
    AsyncEmbeddingModel,
    AsyncLLM,
    PredictionOptions,
    _check_prediction_options,
)
from .streams import AsyncPredictionStream

__all__ = [
    "AsyncPool",
    "AsyncPoolEmbeddingModel",
    "AsyncPoolEmbeddingNamespace",
    "AsyncPoolLLM",
    "AsyncPoolLLMNamespace",
    "AsyncPoolPredictionStream",
]

DEFAULT_PROBE_INTERVAL = 5.0
DEFAULT_PROBE_TIMEOUT = 2.0
DEFAULT_LOAD_TTL = 1.0
# A host's report of its load counts while it is younger than this many load_ttl.
REPORT_LIFETIMES = 3.0
_STOP = object()
_REFRESH = object()

HostSpec = str | tuple[str, str]
"""A pool host: ``"host:port"``, or ``("host:port", device_identifier)`` for one LM Link
device of that LM Studio."""

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)


class _AsyncHostCall(Protocol[T_co]):
    async def __call__(self, host: _AsyncHost, /) -> T_co: ...


class _AsyncHost:
    """One host of the pool: its client, health, in-flight count and handles by model key."""

    def __init__(
        self, name: str, order: int, client: AsyncClient, device: str | None = None
    ) -> None:
        self.name = name
        self.order = order
        self.client = client
        self.device = device  # the LM Link device of the host to use (None: its default)
        self.healthy = True
        self.in_flight = 0
        self.llms: dict[str, AsyncLLM] = {}
        self.embedders: dict[str, AsyncEmbeddingModel] = {}
        self.cannot_load: set[str] = set()
        # The host's last report: its requests (every client's) and what it has loaded.
        self.reported = 0
        self.reported_own = 0
        self.reported_at: float | None = None
        self.listed: frozenset[str] = frozenset()
        self.local_device: str | NotGiven | None = NOT_GIVEN  # the host's own, learned once

    @property
    def device_argument(self) -> str | NotGiven:
        return NOT_GIVEN if self.device is None else self.device

    def state(self, now: float) -> HostState:
        return HostState(
            host=self.name,
            order=self.order,
            healthy=self.healthy,
            in_flight=self.in_flight,
            loaded=frozenset(self.llms) | frozenset(self.embedders) | self.listed,
            cannot_load=frozenset(self.cannot_load),
            reported=self.reported,
            reported_own=self.reported_own,
            report_age=None if self.reported_at is None else now - self.reported_at,
        )

    def mark_down(self) -> None:
        """The host failed: route around it; what it had loaded is forgotten (the process
        may come back without it)."""
        self.healthy = False
        self.llms.clear()
        self.embedders.clear()
        self.reported_at = None
        self.listed = frozenset()

    def lists(self, device: str | None) -> bool:
        """Whether an instance listed on ``device`` (None: the host's own) is this entry's."""
        if self.device is None:
            return True
        return device == self.device or (device is None and self.local_device == self.device)


def _check_hosts(hosts: object) -> list[tuple[str, str, str | None]]:
    """(name, base URL, device) per host: a device entry is named ``host:port@device``."""
    if isinstance(hosts, str) or not isinstance(hosts, Sequence):
        raise LMStudioValueError(
            "hosts must be a list of 'host:port' strings, e.g. ['10.0.0.1:1234', '10.0.0.2:1234']"
            f" (or ('host:port', device_identifier) pairs), not {type(hosts).__name__}"
        )
    if not hosts:
        raise LMStudioValueError("hosts is empty: give at least one 'host:port'")
    seen: dict[tuple[str, str | None], str] = {}
    for entry in hosts:
        device: str | None = None
        host = entry
        if isinstance(entry, tuple):
            if len(entry) != 2 or not isinstance(entry[1], str) or not entry[1].strip():
                raise LMStudioValueError(
                    "a host with a device is a pair ('host:port', device_identifier) with a "
                    f"non-empty device identifier, not {entry!r}"
                )
            host, device = entry
        url = base_url_from_host(host)
        name = host if device is None else f"{host}@{device}"
        if (url, device) in seen:
            raise LMStudioValueError(
                f"host {name!r} is listed twice (as {seen[url, device]!r}); drop one"
            )
        seen[url, device] = name
    return [(name, url, device) for (url, device), name in seen.items()]


def _positive(value: object, name: str) -> float:
    checked = check_timeout(value, name)
    if checked is None:
        raise LMStudioValueError(f"{name} must be a positive number of seconds, not None")
    return checked


class AsyncPool:
    """A client over several LM Studio hosts (ours or LM Studio itself), same namespaces.

    ``retry_unstarted=True`` retries a call whose host failed before the call produced
    anything (no fragment yet) on another host; otherwise that call raises
    ``HostUnavailableError``. ``probe_interval`` seconds between health probes of every host
    (a version call bounded by ``probe_timeout``). ``load_ttl`` seconds: how old the hosts'
    reports of their load may be before a call asks (in the background) for new ones; a
    report older than three of them no longer counts. A host given as ``("host:port",
    device_identifier)`` is that LM Link device of the host: its models are found and loaded
    there.
    """

    def __init__(
        self,
        hosts: Sequence[HostSpec],
        *,
        api_token: str | None = None,
        timeout: float | None = DEFAULT_TIMEOUT,
        retry_unstarted: bool = False,
        probe_interval: float = DEFAULT_PROBE_INTERVAL,
        probe_timeout: float = DEFAULT_PROBE_TIMEOUT,
        load_ttl: float = DEFAULT_LOAD_TTL,
        **unknown: Never,
    ) -> None:
        reject_unknown_arguments(
            "AsyncPool()",
            unknown,
            (
                "hosts",
                "api_token",
                "timeout",
                "retry_unstarted",
                "probe_interval",
                "probe_timeout",
                "load_ttl",
            ),
        )
        if not isinstance(retry_unstarted, bool):
            raise LMStudioValueError(
                f"retry_unstarted must be True or False, not {type(retry_unstarted).__name__}"
            )
        self._timeout = check_timeout(timeout)
        self._probe_interval = _positive(probe_interval, "probe_interval")
        self._probe_timeout = _positive(probe_timeout, "probe_timeout")
        self._load_ttl = _positive(load_ttl, "load_ttl")
        self._max_report_age = REPORT_LIFETIMES * self._load_ttl
        self._refresh_asked = float("-inf")
        self.retry_unstarted = retry_unstarted
        self._hosts = [
            _AsyncHost(name, order, AsyncClient(url, api_token=api_token, timeout=timeout), device)
            for order, (name, url, device) in enumerate(_check_hosts(hosts))
        ]
        self._closed = False
        self._wake: AsyncMailbox[object] = AsyncMailbox()
        self._prober: AsyncWorker | None = None
        self._claiming = AsyncLock()  # pick + count as one step (threads on the sync face)
        self.llm = AsyncPoolLLMNamespace(self)
        self.embedding = AsyncPoolEmbeddingNamespace(self)

    @property
    def hosts(self) -> dict[str, bool]:
        """Each host (as given) and whether it is considered healthy now."""
        return {host.name: host.healthy for host in self._hosts}

    def in_flight(self) -> dict[str, int]:
        """Each host and the number of calls the pool has running there now."""
        return {host.name: host.in_flight for host in self._hosts}

    def host_load(self) -> dict[str, int]:
        """Each host and the load the routing weighs: the pool's calls in flight there plus
        the other clients' requests it last reported (while that report is fresh)."""
        now = time.monotonic()
        return {h.name: host_load(h.state(now), self._max_report_age) for h in self._hosts}

    async def __aenter__(self) -> AsyncPool:
        self._start_prober()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Stop probing and close every host's client."""
        if self._closed:
            return
        self._closed = True
        self._wake.put(_STOP)
        if self._prober is not None:
            await self._prober.join(self._probe_timeout + 1.0)
        for host in self._hosts:
            await host.client.aclose()

    @checked_arguments
    async def check_health(self, *, timeout: Timeout = NOT_GIVEN) -> dict[str, bool]:
        """Probe every host now (a version call each), ask the healthy ones for their load
        (see ``host_load()``), and return ``hosts``."""
        limit = resolve_timeout(timeout, self._probe_timeout)
        for host in self._hosts:
            await self._probe(host, limit)
            if host.healthy:
                await self._refresh_load(host, limit)
        return self.hosts

    # -- internals shared by the namespaces and handles --------------------------------------

    def _start_prober(self) -> None:
        if self._prober is None and not self._closed:
            self._prober = AsyncWorker(self._probe_loop, "lmstudio-sdk pool probe")

    async def _probe_loop(self) -> None:
        last_probe = time.monotonic()
        while not self._closed:
            wait = self._probe_interval - (time.monotonic() - last_probe)
            try:
                item = await self._wake.get(max(wait, 0.001))
            except LMStudioTimeoutError:
                item = None  # the interval passed: probe
            if item is _STOP:
                return
            if item is _REFRESH:
                for host in self._hosts:
                    if self._closed:
                        return
                    if host.healthy:
                        await self._refresh_load(host, self._probe_timeout)
                continue
            last_probe = time.monotonic()
            for host in self._hosts:
                if self._closed:
                    return
                await self._probe(host, self._probe_timeout)

    def _ask_for_reports(self) -> None:
        """Have the prober refresh the hosts' load reports if one is older than load_ttl
        (at most once per load_ttl; never waits)."""
        now = time.monotonic()
        if now - self._refresh_asked < self._load_ttl:
            return
        if all(
            h.reported_at is not None and now - h.reported_at < self._load_ttl
            for h in self._hosts
            if h.healthy
        ):
            return
        self._refresh_asked = now
        self._wake.put(_REFRESH)

    async def _refresh_load(self, host: _AsyncHost, timeout: float | None) -> None:
        """Ask the host what it has loaded (for this entry's device) and how many requests
        each instance has, every client's; a host that cannot tell keeps no report."""
        own = host.in_flight
        try:
            if host.device is not None and isinstance(host.local_device, NotGiven):
                try:
                    status = await host.client.repository.lm_link_status(timeout=timeout)
                    host.local_device = status.device_identifier
                except LMStudioConnectionError:
                    raise
                except LMStudioError:
                    host.local_device = None  # no LM Link there
            handles: list[AsyncLLM | AsyncEmbeddingModel] = [
                *await host.client.llm.list_loaded(timeout=timeout),
                *await host.client.embedding.list_loaded(timeout=timeout),
            ]
            listed: set[str] = set()
            reported = 0
            for handle in handles:
                info = handle.info
                if info is None or not host.lists(info.device_identifier):
                    continue
                listed.update((info.model_key, info.identifier))
                try:
                    reported += int((await handle.get_processing_state(timeout=timeout)).queued)
                except ModelNotFoundError:
                    continue  # unloaded since the list
        except LMStudioConnectionError:
            host.mark_down()
            return
        except LMStudioError:
            return  # e.g. a server without getInstanceProcessingState: our own counts only
        host.reported = reported
        host.reported_own = max(own, host.in_flight)  # never count our own calls as others'
        host.listed = frozenset(listed)
        host.reported_at = time.monotonic()

    async def _probe(self, host: _AsyncHost, timeout: float | None) -> None:
        try:
            await host.client.system.get_lmstudio_version(timeout=timeout)
        except LMStudioError:
            host.mark_down()
        else:
            host.healthy = True

    async def _claim(self, model: str | None, exclude: set[str]) -> _AsyncHost | None:
        """Pick a host and count the call in flight there, as one step."""
        async with self._claiming.hold(self._timeout):
            state = self._pick(model, exclude)
            if state is None:
                return None
            host = self._hosts[state.order]
            host.in_flight += 1
        self._ask_for_reports()
        return host

    def _pick(self, model: str | None, exclude: set[str]) -> HostState | None:
        now = time.monotonic()
        return pick(
            (h.state(now) for h in self._hosts),
            model,
            exclude=exclude,
            max_report_age=self._max_report_age,
        )

    async def _choose(self, model: str | None, exclude: set[str]) -> _AsyncHost:
        """The host for the next call, its in-flight count already raised: the caller lowers
        it when the call ends."""
        self._check_open()
        self._start_prober()
        host = await self._claim(model, exclude)
        if host is None and not any(h.healthy for h in self._hosts if h.name not in exclude):
            # Every host looks down: probe them once now rather than wait for the prober.
            for candidate in self._hosts:
                if candidate.name not in exclude:
                    await self._probe(candidate, self._probe_timeout)
            host = await self._claim(model, exclude)
        if host is None:
            tried = f" (tried {', '.join(sorted(exclude))})" if exclude else ""
            raise HostUnavailableError(
                f"no healthy host of the pool can serve {model or 'the call'!r}{tried}; hosts: "
                + ", ".join(f"{h.name} ({'up' if h.healthy else 'down'})" for h in self._hosts),
                host=None,
            )
        return host

    def _check_open(self) -> None:
        if self._closed:
            raise HostUnavailableError("the pool was closed: make a new one", host=None)

    def _lost(self, host: _AsyncHost, exc: LMStudioConnectionError, what: str) -> Never:
        host.mark_down()
        raise HostUnavailableError(
            f"host {host.name} is unavailable ({what}): {exc}", host=host.name
        ) from exc

    async def _on_some_host(
        self,
        model: str | None,
        call: _AsyncHostCall[T],
        what: str,
        exclude: set[str] | None = None,
        first: _AsyncHost | None = None,
    ) -> T:
        """Run ``call`` on the chosen host; a host that refuses the model or (with
        ``retry_unstarted``) fails is left out and the next one tried."""
        excluded = set() if exclude is None else exclude
        while True:
            if first is not None:  # already claimed by the caller
                host, first = first, None
            else:
                host = await self._choose(model, excluded)
            try:
                return await call(host)
            except ModelNotFoundError:
                if model is None:
                    raise
                if model in host.llms or model in host.embedders:
                    host.llms.pop(model, None)  # a stale handle (the host lost the instance):
                    host.embedders.pop(model, None)  # load it again there
                    continue
                host.cannot_load.add(model)
                excluded.add(host.name)
                if self._pick(model, excluded) is None:
                    raise
            except HostUnavailableError:
                raise
            except LMStudioConnectionError as exc:
                if not self.retry_unstarted:
                    self._lost(host, exc, what)
                host.mark_down()
                excluded.add(host.name)
            finally:
                host.in_flight -= 1


class _AsyncPoolNamespace:
    def __init__(self, pool: AsyncPool) -> None:
        self._pool = pool


class AsyncPoolLLMNamespace(_AsyncPoolNamespace):
    """``pool.llm``: LLMs on any host."""

    @checked_arguments
    async def model(
        self,
        key: str,
        *,
        config: LlmLoadConfigDict | None = None,
        ttl: float | None = DEFAULT_TTL_SECONDS,
        timeout: Timeout = NOT_GIVEN,
    ) -> AsyncPoolLLM:
        """A handle to ``key`` on the pool: loaded now on one host (ModelNotFoundError if no
        host has it), and on others when calls are routed there."""
        handle = AsyncPoolLLM(self._pool, key, config, ttl)

        async def load(host: _AsyncHost) -> AsyncLLM:
            return await handle._on(host, timeout)

        await self._pool._on_some_host(key, load, f"loading {key!r}")
        return handle

    @checked_arguments
    async def list_loaded(self, *, timeout: Timeout = NOT_GIVEN) -> dict[str, list[AsyncLLM]]:
        """Each healthy host and the LLMs loaded there (a host that fails is marked down)."""
        found: dict[str, list[AsyncLLM]] = {}
        for host in self._pool._hosts:
            if not host.healthy:
                continue
            try:
                found[host.name] = await host.client.llm.list_loaded(timeout=timeout)
            except LMStudioConnectionError:
                host.mark_down()
        return found


class AsyncPoolEmbeddingNamespace(_AsyncPoolNamespace):
    """``pool.embedding``: embedding models on any host."""

    @checked_arguments
    async def model(
        self,
        key: str,
        *,
        config: EmbeddingLoadConfigDict | None = None,
        ttl: float | None = DEFAULT_TTL_SECONDS,
        timeout: Timeout = NOT_GIVEN,
    ) -> AsyncPoolEmbeddingModel:
        """As ``pool.llm.model``, for an embedding model."""
        handle = AsyncPoolEmbeddingModel(self._pool, key, config, ttl)

        async def load(host: _AsyncHost) -> AsyncEmbeddingModel:
            return await handle._on(host, timeout)

        await self._pool._on_some_host(key, load, f"loading {key!r}")
        return handle

    @checked_arguments
    async def list_loaded(
        self, *, timeout: Timeout = NOT_GIVEN
    ) -> dict[str, list[AsyncEmbeddingModel]]:
        """Each healthy host and the embedding models loaded there."""
        found: dict[str, list[AsyncEmbeddingModel]] = {}
        for host in self._pool._hosts:
            if not host.healthy:
                continue
            try:
                found[host.name] = await host.client.embedding.list_loaded(timeout=timeout)
            except LMStudioConnectionError:
                host.mark_down()
        return found


def _check_key(key: object) -> None:
    if not isinstance(key, str) or not key:
        raise LMStudioValueError(f"model key must be a non-empty string, not {key!r}")


class AsyncPoolLLM:
    """An LLM by key on a pool: each prediction is routed to a host (loading it there if
    needed)."""

    def __init__(
        self, pool: AsyncPool, key: str, config: LlmLoadConfigDict | None, ttl: float | None
    ) -> None:
        _check_key(key)
        self._pool = pool
        self.key = key
        self._config = config
        self._ttl = ttl

    def __repr__(self) -> str:
        return f"AsyncPoolLLM({self.key!r})"

    async def _on(self, host: _AsyncHost, timeout: Timeout) -> AsyncLLM:
        handle = host.llms.get(self.key)
        if handle is None:
            handle = await host.client.llm.model(
                self.key,
                config=self._config,
                ttl=self._ttl,
                device_identifier=host.device_argument,
                timeout=timeout,
            )
            host.llms[self.key] = handle
        return handle

    def respond_stream(
        self, chat: ChatLike, **options: Unpack[PredictionOptions]
    ) -> AsyncPoolPredictionStream:
        """As ``AsyncLLM.respond_stream``; the host is chosen when the prediction starts."""
        _check_options("respond_stream()", options)
        to_history(chat)  # bad input fails here, not on a host
        return AsyncPoolPredictionStream(
            self, lambda handle: handle.respond_stream(chat, **options), options
        )

    async def respond(
        self, chat: ChatLike, **options: Unpack[PredictionOptions]
    ) -> PredictionResult:
        """As ``AsyncLLM.respond``, on the chosen host."""
        return await self.respond_stream(chat, **options).result()

    def complete_stream(
        self, prompt: str, **options: Unpack[PredictionOptions]
    ) -> AsyncPoolPredictionStream:
        """As ``AsyncLLM.complete_stream``; the host is chosen when the prediction starts."""
        _check_options("complete_stream()", options)
        if not isinstance(prompt, str):
            raise LMStudioValueError(f"prompt must be a string, not {type(prompt).__name__}")
        return AsyncPoolPredictionStream(
            self, lambda handle: handle.complete_stream(prompt, **options), options
        )

    async def complete(self, prompt: str, **options: Unpack[PredictionOptions]) -> PredictionResult:
        """As ``AsyncLLM.complete``, on the chosen host."""
        return await self.complete_stream(prompt, **options).result()


def _check_options(where: str, options: PredictionOptions) -> None:
    """Bad options fail when the call is made, not later on whichever host it lands."""
    _check_prediction_options(where, options, stream_alternative=None)
    prediction_config_to_kv(options.get("config"))
    if "timeout" in options and options["timeout"] is not NOT_GIVEN:
        check_timeout(options["timeout"])


class AsyncPoolPredictionStream:
    """One prediction on a pool. Iterate it for fragments, or await ``result()``.

    The host is chosen on the first iteration. If that host fails, the stream raises
    ``HostUnavailableError`` naming it, or, with the pool's ``retry_unstarted`` and no
    fragment received yet, starts again on another host.
    """

    def __init__(
        self,
        model: AsyncPoolLLM,
        start: Callable[[AsyncLLM], AsyncPredictionStream],
        options: PredictionOptions,
    ) -> None:
        self._model = model
        self._start = start
        self._timeout = options.get("timeout", NOT_GIVEN)
        self._inner: AsyncPredictionStream | None = None
        self._host: str | None = None
        self._done = False
        self._cancelled = False
        self._fragments: AsyncGenerator[PredictionFragment, None] | None = None
        self._failure: LMStudioError | None = None

    @property
    def host(self) -> str | None:
        """The host running the prediction (None before it starts)."""
        return self._host

    def __aiter__(self) -> AsyncIterator[PredictionFragment]:
        """The fragments; iterating again (or ``result()``) continues where the last left off."""
        if self._fragments is None:
            self._fragments = self._run()
        return self._fragments

    async def _run(self) -> AsyncGenerator[PredictionFragment, None]:
        try:
            pool = self._model._pool
            key = self._model.key
            excluded: set[str] = set()
            while True:
                host = await pool._choose(key, excluded)
                self._host = host.name
                received = 0
                cached = key in host.llms
                try:
                    self._inner = self._start(await self._model._on(host, self._timeout))
                    if self._cancelled:
                        self._inner.cancel()
                    async for fragment in self._inner:
                        received += 1
                        yield fragment
                    self._done = True
                    return
                except ModelNotFoundError:
                    if received:
                        raise
                    if cached:  # the host lost the instance we knew (e.g. restarted): load again
                        host.llms.pop(key, None)
                        continue
                    host.cannot_load.add(key)
                    excluded.add(host.name)
                    if pool._pick(key, excluded) is None:
                        raise
                except LMStudioConnectionError as exc:
                    if received or not pool.retry_unstarted or self._cancelled:
                        pool._lost(host, exc, "during a prediction")
                    host.mark_down()
                    excluded.add(host.name)
                finally:
                    host.in_flight -= 1
        except LMStudioError as exc:
            self._failure = exc
            raise

    @checked_arguments
    async def result(self) -> PredictionResult:
        """Run the prediction to its end (consuming what was not iterated yet) and return its
        result; each wait is bounded by the ``timeout`` the prediction was started with."""
        async for _ in self:
            pass
        if self._failure is not None:
            raise self._failure
        assert self._inner is not None  # the loop above ran to its end
        return await self._inner.result()

    @checked_arguments
    def cancel(self) -> None:
        """Ask the host to stop (never blocks); ``result()`` then reports ``userStopped``."""
        self._cancelled = True
        if self._inner is not None:
            self._inner.cancel()

    @checked_arguments
    async def aclose(self) -> None:
        """Stop listening: cancel the prediction if it still runs and release its host."""
        self.cancel()
        if self._fragments is not None:
            await self._fragments.aclose()
        if self._inner is not None:
            await self._inner.aclose()

    async def __aenter__(self) -> AsyncPoolPredictionStream:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


class AsyncPoolEmbeddingModel:
    """An embedding model by key on a pool: a list of texts is spread across hosts."""

    def __init__(
        self, pool: AsyncPool, key: str, config: EmbeddingLoadConfigDict | None, ttl: float | None
    ) -> None:
        _check_key(key)
        self._pool = pool
        self.key = key
        self._config = config
        self._ttl = ttl

    def __repr__(self) -> str:
        return f"AsyncPoolEmbeddingModel({self.key!r})"

    async def _on(self, host: _AsyncHost, timeout: Timeout) -> AsyncEmbeddingModel:
        handle = host.embedders.get(self.key)
        if handle is None:
            handle = await host.client.embedding.model(
                self.key,
                config=self._config,
                ttl=self._ttl,
                device_identifier=host.device_argument,
                timeout=timeout,
            )
            host.embedders[self.key] = handle
        return handle

    @overload
    async def embed(  # type: ignore[overload-overlap]  # a str is also a Sequence[str]
        self, texts: str, *, timeout: Timeout = NOT_GIVEN
    ) -> list[float]: ...

    @overload
    async def embed(
        self, texts: Sequence[str], *, timeout: Timeout = NOT_GIVEN
    ) -> list[list[float]]: ...

    @checked_arguments
    async def embed(
        self, texts: str | Sequence[str], *, timeout: Timeout = NOT_GIVEN
    ) -> list[float] | list[list[float]]:
        """One vector for a string; for a list, one per text in order, the list split into
        contiguous slices over the healthy hosts, which embed them at the same time."""
        if isinstance(texts, str):
            return (await self._slice([texts], timeout))[0]
        if not isinstance(texts, Sequence) or not all(isinstance(t, str) for t in texts):
            raise LMStudioValueError("embed() takes a string or a list of strings")
        items = list(texts)
        limit = resolve_timeout(timeout, self._pool._timeout)
        healthy = sum(1 for h in self._pool._hosts if h.healthy) or 1
        slices = split_evenly(len(items), healthy)
        # Claim a distinct host per slice up front, so that a slice finishing early does not
        # pull the next one onto its host.
        claimed: list[_AsyncHost] = []
        try:
            for _ in slices:
                claimed.append(await self._pool._choose(self.key, {h.name for h in claimed}))
        except HostUnavailableError:
            if not claimed:
                raise
            while len(claimed) < len(slices):  # fewer healthy hosts than a moment ago: share
                claimed.append(await self._pool._choose(self.key, set()))
        results: dict[int, list[list[float]] | BaseException] = {}
        workers = []
        for index, (start, stop) in enumerate(slices):

            async def run(index: int = index, chunk: list[str] = items[start:stop]) -> None:
                try:
                    results[index] = await self._slice(chunk, timeout, claimed[index])
                except BaseException as exc:  # handed to the caller below
                    results[index] = exc

            workers.append(AsyncWorker(run, "lmstudio-sdk pool embed"))
        for worker in workers:
            if not await worker.join(limit):
                raise LMStudioTimeoutError(f"embed(): no answer from the pool within {limit:g} s")
        vectors: list[list[float]] = []
        for index in range(len(slices)):
            outcome = results[index]
            if isinstance(outcome, BaseException):
                raise outcome
            vectors.extend(outcome)
        return vectors

    async def _slice(
        self, chunk: list[str], timeout: Timeout, host: _AsyncHost | None = None
    ) -> list[list[float]]:
        async def call(host: _AsyncHost) -> list[list[float]]:
            handle = await self._on(host, timeout)
            return await handle.embed(chunk, timeout=timeout)

        return await self._pool._on_some_host(self.key, call, "embedding", first=host)
