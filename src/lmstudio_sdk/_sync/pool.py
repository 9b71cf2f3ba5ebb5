# GENERATED from src/lmstudio_sdk/_async/pool.py by scripts/unasync.py. Do not edit: edit the source.
"""The sockets of one client: a session per namespace, opened on first use, one default timeout.

The client owns one pool and hands it to its namespaces and handles, so that they call
endpoints without reaching into the client. Every call goes straight to the session (a dict
lookup once the socket is open): the pool adds no coroutine or hop of its own to a call.

Source of truth for both faces (see ``scripts/unasync.py``).
"""

from __future__ import annotations

from typing import Any

from msgspec import UNSET, Raw, UnsetType

from .._exceptions import (
    LMStudioClientClosedError,
    LMStudioConnectionError,
    LMStudioValueError,
    ServerNotFoundError,
)
from .._protocol.identity import Identity
from .._protocol.namespaces import NAMESPACES
from .._transport.sync import Gate, Lock, find_local_server
from .._transport.common import DEFAULT_KEEPALIVE, DISCOVERY_PORTS, Keepalive, transient
from .._types import NOT_GIVEN, NotGiven, Timeout, resolve_timeout
from .session import (
    CLIENT_CLOSED,
    DEFAULT_MAX_RETRIES,
    Channel,
    Session,
    Subscription,
    deadline_after,
    encode_payload,
    remaining,
)

__all__ = ["IDEMPOTENT", "SessionPool", "Retries", "check_retries"]

DISCOVERY_TIMEOUT = 1.0

# Calls that only read: asking again after a lost connection cannot do anything twice, so they
# are retried after a drop. Everything else (predictions, loads, unloads, uploads, settings) is
# retried only when its connect failed, before anything was sent.
IDEMPOTENT = frozenset(
    {
        ("system", "listDownloadedModels"),
        ("system", "listDownloadedModelVariants"),
        ("system", "version"),
        ("system", "info"),
        ("system", "getExperimentFlags"),
        ("runtime", "listEngines"),
        ("runtime", "getEngineSelections"),
        ("runtime", "surveyHardware"),
        ("llm", "listLoaded"),
        ("llm", "getModelInfo"),
        ("llm", "getLoadConfig"),
        ("llm", "getBasePredictionConfig"),
        ("llm", "getInstanceProcessingState"),
        ("llm", "estimateModelUsage"),
        ("llm", "tokenize"),
        ("llm", "countTokens"),
        ("llm", "applyPromptTemplate"),
        ("embedding", "listLoaded"),
        ("embedding", "getModelInfo"),
        ("embedding", "getLoadConfig"),
        ("embedding", "getBasePredictionConfig"),
        ("embedding", "getInstanceProcessingState"),
        ("embedding", "estimateModelUsage"),
        ("embedding", "tokenize"),
        ("embedding", "countTokens"),
        ("embedding", "embedString"),
    }
)


# More retries than this cannot be meant: backoff reaches 5 s per retry, hours in all.
MAX_RETRIES_LIMIT = 100


def check_retries(value: object, name: str = "max_retries") -> int:
    """A number of retries: an int from 0 to MAX_RETRIES_LIMIT (bools are refused)."""
    fix = f"pass 0 (no retries) up to {MAX_RETRIES_LIMIT}"
    if isinstance(value, bool) or not isinstance(value, int):
        raise LMStudioValueError(f"{name}={value!r} is not a whole number; {fix}")
    if not 0 <= value <= MAX_RETRIES_LIMIT:
        raise LMStudioValueError(f"{name}={value} is impossible; {fix}")
    return value


Retries = int | NotGiven


class SessionPool:
    """One lazily opened session per namespace of one server, and the default timeout."""

    def __init__(
        self,
        base_url: str | None,
        identity: Identity,
        default_timeout: float | None,
        *,
        keepalive: Keepalive = DEFAULT_KEEPALIVE,
        max_retries: int = DEFAULT_MAX_RETRIES,
        max_concurrent_predictions: int | None = None,
    ) -> None:
        self._base_url = base_url
        self._identity = identity
        self._default_timeout = default_timeout
        self._keepalive = keepalive
        self._max_retries = max_retries
        self._prediction_gate = (
            None if max_concurrent_predictions is None else Gate(max_concurrent_predictions)
        )
        self._sessions: dict[str, Session] = {}
        self._setup_lock = Lock()
        self._closed = False

    @property
    def base_url(self) -> str | None:
        """The server's base URL, once known (given, or found by discovery)."""
        return self._base_url

    def check_open(self) -> None:
        if self._closed:
            raise LMStudioClientClosedError(CLIENT_CLOSED)

    def timeout_for(self, timeout: Timeout) -> float | None:
        """A call's ``timeout=`` argument, with the client's default when it was not given."""
        return resolve_timeout(timeout, self._default_timeout)

    def retries_for(self, max_retries: Retries) -> int:
        """A call's ``max_retries=`` argument, with the client's default when it was not given."""
        return self._max_retries if max_retries is NOT_GIVEN else check_retries(max_retries)

    def rpc(
        self,
        namespace: str,
        endpoint: str,
        parameter: Any,
        timeout: Timeout,
        max_retries: Retries = NOT_GIVEN,
    ) -> Raw | UnsetType:
        """Call an endpoint; ``parameter`` is a struct or plain JSON values (None: no payload).

        Retried after a refused connect; after a lost connection only if IDEMPOTENT.
        """
        session = self._sessions.get(namespace) or self.session(namespace, timeout)
        payload = UNSET if parameter is None else encode_payload(parameter)
        return session.rpc(
            endpoint,
            payload,
            timeout=self.timeout_for(timeout),
            retries=self.retries_for(max_retries),
            idempotent=(namespace, endpoint) in IDEMPOTENT,
        )

    def pipelined(
        self,
        namespace: str,
        endpoint: str,
        parameters: list[Raw],
        timeout: Timeout,
        max_retries: Retries = NOT_GIVEN,
    ) -> list[Raw | UnsetType]:
        """Send one call per parameter at once, then collect the answers in order.

        For idempotent endpoints only: a connection lost midway sends the whole batch again
        (with backoff, within the timeout, at most max_retries times).
        """
        assert (namespace, endpoint) in IDEMPOTENT
        limit = self.timeout_for(timeout)
        session = self._sessions.get(namespace) or self.session(namespace, timeout)
        deadline = deadline_after(limit)
        what = f"the {endpoint} calls"
        attempts = 1 + self.retries_for(max_retries)
        for attempt in range(attempts):
            calls = []
            results: list[Raw | UnsetType] = []
            try:
                for parameter in parameters:
                    call = session.start_rpc(
                        endpoint, parameter, remaining(deadline, what), retries=attempts - 1
                    )
                    calls.append(call)
                for call in calls:
                    results.append(call.result(remaining(deadline, what)))
                return results
            except LMStudioConnectionError as exc:
                if attempt + 1 >= attempts or not transient(exc):
                    raise
                session._backoff(attempt, deadline, exc)
            finally:
                for call in calls[len(results) :]:
                    call.abandon()
        raise AssertionError("unreachable")  # pragma: no cover

    def open_channel(
        self,
        namespace: str,
        endpoint: str,
        creation_parameter: Any,
        timeout: Timeout,
        *,
        prediction: bool = False,
    ) -> Channel:
        """Open a channel; ``creation_parameter`` as for ``rpc`` (or already encoded, Raw).

        A refused connect is retried (nothing was sent yet); a channel is never re-sent. A
        ``prediction`` waits for a free slot first when ``max_concurrent_predictions`` is set
        (within the timeout), and frees it when its channel ends.
        """
        session = self._sessions.get(namespace) or self.session(namespace, timeout)
        payload = (
            UNSET
            if creation_parameter is None
            else encode_payload(creation_parameter, "creation parameter")
        )
        limit = self.timeout_for(timeout)
        gate = self._prediction_gate if prediction else None
        if gate is None:
            return session.open_channel(endpoint, payload, timeout=limit)
        gate.acquire(limit, f"the {endpoint} call waited for max_concurrent_predictions")
        try:
            return session.open_channel(endpoint, payload, timeout=limit, on_end=gate.release)
        except BaseException:
            gate.release()
            raise

    def subscribe(
        self, namespace: str, endpoint: str, creation_parameter: Any, timeout: Timeout
    ) -> Subscription:
        """Open a channel that the session re-opens after every reconnect."""
        session = self._sessions.get(namespace) or self.session(namespace, timeout)
        payload = (
            UNSET
            if creation_parameter is None
            else encode_payload(creation_parameter, "creation parameter")
        )
        return session.subscribe(endpoint, payload, timeout=self.timeout_for(timeout))

    def session(self, namespace: str, timeout: Timeout) -> Session:
        """The namespace's session, made on first use (its socket connects on its first call).

        ``rpc`` and ``open_channel`` look the session up themselves first: an existing
        session then costs a dict lookup, not a coroutine.
        """
        session = self._sessions.get(namespace)
        if session is not None:
            return session
        self.check_open()
        if f"/{namespace}" not in NAMESPACES:
            names = ", ".join(ns.lstrip("/") for ns in NAMESPACES)
            raise LMStudioValueError(f"unknown namespace {namespace!r}; expected one of {names}")
        with self._setup_lock.hold(self.timeout_for(timeout)):
            self.check_open()
            session = self._sessions.get(namespace)
            if session is None:
                base_url = self._resolve_base_url()
                session = Session(
                    base_url,
                    namespace,
                    self._identity,
                    keepalive=self._keepalive,
                    max_retries=self._max_retries,
                )
                self._sessions[namespace] = session
            return session

    def close(self) -> None:
        """Close every socket for good; later calls raise LMStudioClientClosedError."""
        self._closed = True
        sessions = list(self._sessions.values())
        self._sessions.clear()
        for session in sessions:
            session.close()

    def _resolve_base_url(self) -> str:
        if self._base_url is None:
            port = find_local_server(DISCOVERY_PORTS, DISCOVERY_TIMEOUT)
            if port is None:
                raise ServerNotFoundError(
                    "no LM Studio is running on this machine (probed ports "
                    f"{', '.join(map(str, DISCOVERY_PORTS))}). Start LM Studio or `lms server "
                    "start`, or run the embedded server with `lmstudio-sdk serve`; or pass the "
                    "address, e.g. Client('127.0.0.1:1234')."
                )
            self._base_url = f"ws://127.0.0.1:{port}"
        return self._base_url
