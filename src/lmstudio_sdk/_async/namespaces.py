"""``client.system``, ``client.runtime`` and ``client.diagnostics``: the server itself, its
engines and hardware, and its log stream.

Source of truth for both faces (see ``scripts/unasync.py``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from types import TracebackType
from typing import TYPE_CHECKING, Literal

from .._exceptions import (
    LMStudioConnectionError,
    LMStudioError,
    LMStudioTimeoutError,
    LMStudioValueError,
    LocalProtocolError,
)
from .._protocol.packets.runtime import (
    SelectEngineParameter,
    SurveyHardwareParameterAll,
    SurveyHardwareParameterSelected,
)
from .._protocol.packets.shared import EmbeddingModelInfo, LLMInfo
from .._protocol.packets.system import (
    ListDownloadedModelVariantsParameter,
    NotifyParameter,
    SetExperimentFlagParameter,
    StartHttpServerParameter,
)
from .._protocol.results import (
    EngineInfo,
    EngineSpecifier,
    HardwareSurvey,
    LMStudioVersion,
    LogEvent,
    ServerInfo,
    decode_engine_selections,
    decode_log_packet,
    decode_model_list,
    decode_result,
    decode_version,
    superjson_undefined,
)
from .._transport.asyncio import AsyncWorker
from .._types import (
    NOT_GIVEN,
    AsyncCallback,
    Timeout,
    check_async_callback,
    check_timeout,
    checked_arguments,
    run_async_callback,
)
from .session import AsyncSubscription

if TYPE_CHECKING:
    from .pool import AsyncSessionPool, Retries

__all__ = [
    "AsyncDiagnosticsNamespace",
    "AsyncLogStream",
    "AsyncRuntimeNamespace",
    "AsyncSystemNamespace",
]

_STOP = {"type": "stop"}
# How long stop()/aclose() of a callback-form stream wait for its worker to finish the event
# in hand (the worker itself ends when the server closes the channel).
STOP_WAIT_SECONDS = 5.0


def _check_str(name: str, value: object, example: str) -> None:
    if not isinstance(value, str) or not value:
        raise LMStudioValueError(
            f"{name} must be a non-empty string such as {example!r}, not {value!r}"
        )


def _check_optional_bool(name: str, value: object) -> None:
    if value is not None and not isinstance(value, bool):
        raise LMStudioValueError(f"{name} must be True, False or None, not {value!r}")


class AsyncSystemNamespace:
    """``client.system``: what is downloaded, which server this is, notifications, experiment
    flags, its HTTP server, shutdown, and waiting for a disconnect."""

    def __init__(self, pool: AsyncSessionPool) -> None:
        self._pool = pool

    @checked_arguments
    async def list_downloaded_models(
        self,
        domain: str | None = None,
        *,
        timeout: Timeout = NOT_GIVEN,
        max_retries: Retries = NOT_GIVEN,
    ) -> list[LLMInfo | EmbeddingModelInfo]:
        """Every downloaded model, or only those of ``domain`` ("llm" or "embedding")."""
        if domain not in (None, "llm", "embedding"):
            raise LMStudioValueError(f"domain must be 'llm', 'embedding' or None, not {domain!r}")
        raw = await self._pool.rpc("system", "listDownloadedModels", None, timeout, max_retries)
        models: list[LLMInfo | EmbeddingModelInfo] = decode_model_list(
            raw, "listDownloadedModels", instances=False
        )
        return [m for m in models if domain is None or m.domain == domain]

    @checked_arguments
    async def list_downloaded_model_variants(
        self, model_key: str, *, timeout: Timeout = NOT_GIVEN
    ) -> list[LLMInfo | EmbeddingModelInfo]:
        """The downloaded variants (quantizations) of one model key."""
        _check_str("model_key", model_key, "smollm2-135m-instruct")
        parameter = ListDownloadedModelVariantsParameter(model_key=model_key)
        raw = await self._pool.rpc("system", "listDownloadedModelVariants", parameter, timeout)
        variants: list[LLMInfo | EmbeddingModelInfo] = decode_model_list(
            raw, "listDownloadedModelVariants", instances=False
        )
        return variants

    @checked_arguments
    async def get_lmstudio_version(
        self, *, timeout: Timeout = NOT_GIVEN, max_retries: Retries = NOT_GIVEN
    ) -> LMStudioVersion:
        """The server's version (``version`` and ``build``).

        Args:
            timeout: Seconds to wait for the answer (default: the client's timeout).
            max_retries: Retries of a lost connection for this call (default: the client's).

        Returns:
            The version LM Studio (or the embedded server) reports.
        """
        raw = await self._pool.rpc("system", "version", None, timeout, max_retries)
        return decode_version(raw)

    @checked_arguments
    async def get_info(
        self, *, timeout: Timeout = NOT_GIVEN, max_retries: Retries = NOT_GIVEN
    ) -> ServerInfo:
        """The server process: ``pid``, ``is_daemon`` (headless) and ``version``."""
        raw = await self._pool.rpc("system", "info", None, timeout, max_retries)
        return decode_result(raw, ServerInfo, "info")

    @checked_arguments
    async def notify(
        self,
        title: str,
        *,
        description: str | None = None,
        no_auto_dismiss: bool | None = None,
        timeout: Timeout = NOT_GIVEN,
    ) -> None:
        """Show a notification in LM Studio (the embedded server logs it)."""
        _check_str("title", title, "Job done")
        if description is not None and not isinstance(description, str):
            raise LMStudioValueError(
                f"description must be a string or None, not {type(description).__name__}"
            )
        _check_optional_bool("no_auto_dismiss", no_auto_dismiss)
        parameter = NotifyParameter(
            title=title,
            description=description,
            no_auto_dismiss=no_auto_dismiss,
        )
        await self._pool.rpc("system", "notify", parameter, timeout)

    @checked_arguments
    async def get_experiment_flags(self, *, timeout: Timeout = NOT_GIVEN) -> list[str]:
        """The experiment flags that are on."""
        raw = await self._pool.rpc("system", "getExperimentFlags", None, timeout)
        return decode_result(raw, list[str], "getExperimentFlags")

    @checked_arguments
    async def set_experiment_flag(
        self, code: str, value: bool, *, timeout: Timeout = NOT_GIVEN
    ) -> None:
        """Turn an experiment flag on (``value=True``) or off."""
        _check_str("code", code, "some-experiment")
        if not isinstance(value, bool):
            raise LMStudioValueError(f"value must be True or False, not {value!r}")
        parameter = SetExperimentFlagParameter(code=code, value=value)
        await self._pool.rpc("system", "setExperimentFlag", parameter, timeout)

    @checked_arguments
    async def start_http_server(
        self,
        *,
        port: int | None = None,
        cors: bool | None = None,
        network_interface: str | None = None,
        timeout: Timeout = NOT_GIVEN,
    ) -> None:
        """Start LM Studio's HTTP (OpenAI-compatible) server. A server that has none (the
        embedded one) raises NotSupportedByServerError."""
        if port is not None and (
            isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535
        ):
            raise LMStudioValueError(f"port must be a number from 1 to 65535, not {port!r}")
        _check_optional_bool("cors", cors)
        if network_interface is not None and not isinstance(network_interface, str):
            raise LMStudioValueError(
                f"network_interface must be a string such as '0.0.0.0', not {network_interface!r}"
            )
        parameter = StartHttpServerParameter(
            port=port,
            cors=cors,
            network_interface=network_interface,
        )
        await self._pool.rpc("system", "startHttpServer", parameter, timeout)

    @checked_arguments
    async def stop_http_server(self, *, timeout: Timeout = NOT_GIVEN) -> None:
        """Stop LM Studio's HTTP server (NotSupportedByServerError where there is none)."""
        await self._pool.rpc("system", "stopHttpServer", None, timeout)

    @checked_arguments
    async def request_shutdown(self, *, timeout: Timeout = NOT_GIVEN) -> None:
        """Ask the server to shut down. Only privileged clients may: the embedded server
        honours it from a client holding its API token and raises PermissionDeniedError for
        a guest."""
        await self._pool.rpc("system", "requestShutdown", None, timeout)

    @checked_arguments
    async def when_disconnected(self, *, timeout: float | None = None) -> None:
        """Return once the connection to the server is lost (or the server ends the ``alive``
        channel); at once if the server cannot be reached. ``timeout`` (seconds, default None:
        wait as long as it takes) raises LMStudioTimeoutError while the server is still
        there."""
        limit = check_timeout(timeout)
        try:
            channel = await self._pool.open_channel("system", "alive", None, limit)
        except LMStudioConnectionError:
            return  # the server is already gone
        try:
            while await channel.receive(limit) is not None:
                pass  # the schema has no packets on this channel; ignore any
        except LMStudioError:
            if not channel.finished:
                raise  # our timeout: the server is still there
        finally:
            if not channel.finished:
                channel.abandon()


class AsyncRuntimeNamespace:
    """``client.runtime``: the engines of the server and the hardware they run on."""

    def __init__(self, pool: AsyncSessionPool) -> None:
        self._pool = pool

    @checked_arguments
    async def list_engines(self, *, timeout: Timeout = NOT_GIVEN) -> list[EngineInfo]:
        """Every engine the server has (name, version, platform, CPU, GPU, model formats)."""
        raw = await self._pool.rpc("runtime", "listEngines", None, timeout)
        return decode_result(raw, list[EngineInfo], "listEngines")

    @checked_arguments
    async def get_engine_selections(
        self, *, timeout: Timeout = NOT_GIVEN
    ) -> dict[str, EngineSpecifier]:
        """Which engine runs each model format (``{"GGUF": EngineSpecifier(...)}``)."""
        raw = await self._pool.rpc("runtime", "getEngineSelections", superjson_undefined(), timeout)
        return decode_engine_selections(raw)

    @checked_arguments
    async def select_engine(
        self, engine: EngineSpecifier, model_format: str, *, timeout: Timeout = NOT_GIVEN
    ) -> None:
        """Run ``model_format`` ("GGUF", "MLX", …) with ``engine`` (one of ``list_engines()``)."""
        if not isinstance(engine, EngineSpecifier):
            raise LMStudioValueError(
                "engine must be an EngineSpecifier (from get_engine_selections() or "
                f"EngineSpecifier(name=..., version=...)), not {type(engine).__name__}"
            )
        _check_str("model_format", model_format, "GGUF")
        parameter = SelectEngineParameter(engine=engine, model_format_name=model_format)
        await self._pool.rpc("runtime", "selectEngine", parameter, timeout)

    @checked_arguments
    async def survey_hardware(
        self,
        scope: Literal["selected", "all"] | None = None,
        *,
        timeout: Timeout = NOT_GIVEN,
    ) -> HardwareSurvey:
        """What each engine sees of this machine: CPU, GPUs, memory, compatibility.

        ``scope`` is "selected" (the engines in use) or "all"; without it the server's default
        (the engines in use) applies, and no scope is sent, as the TypeScript SDK does.
        """
        if scope not in (None, "selected", "all"):
            raise LMStudioValueError(f"scope must be 'selected' or 'all', not {scope!r}")
        parameter = (
            None
            if scope is None
            else SurveyHardwareParameterSelected()
            if scope == "selected"
            else SurveyHardwareParameterAll()
        )
        raw = await self._pool.rpc("runtime", "surveyHardware", parameter, timeout)
        return decode_result(raw, HardwareSurvey, "surveyHardware")


class AsyncDiagnosticsNamespace:
    """``client.diagnostics``: the server's log stream."""

    def __init__(self, pool: AsyncSessionPool) -> None:
        self._pool = pool

    @checked_arguments
    async def stream_logs(
        self,
        *,
        on_log: AsyncCallback[LogEvent] | None = None,
        timeout: float | None = None,
    ) -> AsyncLogStream:
        """Subscribe to the server's diagnostics events: each prediction's input
        (``PredictionInputLog``) and output (``PredictionOutputLog``), and the server's own
        log records (``ServerLog``), as ``LogEvent``s.

        Without ``on_log``, iterate the returned stream; with it, the stream calls ``on_log``
        for each event in the background until ``stop()``. ``timeout`` bounds each wait for
        the next event (default None: logs may be quiet for a long time). ``aclose()`` (or
        leaving ``async with``) stops the subscription. A lost connection does not end it: it
        is re-opened on the client's next socket (events logged in between are not seen).
        """
        check_async_callback(on_log, "on_log")
        limit = check_timeout(timeout)
        subscription = await self._pool.subscribe(
            "diagnostics", "streamLogs", None, self._pool.timeout_for(NOT_GIVEN)
        )
        return AsyncLogStream(subscription, limit, on_log)


class AsyncLogStream:
    """A ``streamLogs`` subscription: iterate it for ``LogEvent``s (or let it call ``on_log``).

    ``stop()`` asks the server to end it (never blocks): iteration then ends once the server
    closed the channel. A lost connection does not end it: the subscription is re-opened on
    the client's next socket (a connection that cannot be re-established raises
    LMStudioConnectionError from the wait; a later wait tries again).
    """

    def __init__(
        self,
        subscription: AsyncSubscription,
        timeout: float | None,
        on_log: AsyncCallback[LogEvent] | None = None,
    ) -> None:
        self._subscription = subscription
        self._timeout = timeout
        self._on_log = on_log
        self._stop_sent = False
        self.failure: BaseException | None = None
        """Why a callback-form stream ended early: the callback's or the connection's error."""
        self._worker = (
            AsyncWorker(self._pump, "lmstudio-sdk log stream") if on_log is not None else None
        )

    @property
    def finished(self) -> bool:
        """The subscription ended (the server closed it after ``stop()``, or ``aclose()``)."""
        return self._subscription.finished

    @property
    def reopened(self) -> int:
        """How often the subscription was re-opened on a new socket after a lost one."""
        return self._subscription.reopened

    async def __aiter__(self) -> AsyncIterator[LogEvent]:
        """The events as they come, until the server ends the subscription. Leaving a loop
        early does not stop it: a later loop goes on where this one left off (``stop()`` or
        ``aclose()`` end it)."""
        if self._worker is not None:
            raise LocalProtocolError(
                "this log stream delivers its events to on_log; iterate a stream made "
                "without on_log"
            )
        while (event := await self._next(self._timeout)) is not None:
            yield event

    async def _next(self, timeout: float | None) -> LogEvent | None:
        while not self._subscription.finished:
            raw = await self._subscription.receive(timeout)
            if raw is None:
                return None
            event = decode_log_packet(raw)
            if event is not None:
                return event
        return None

    async def _pump(self) -> None:
        try:
            while (event := await self._next(None)) is not None:
                await run_async_callback(self._on_log, event)
        except Exception as exc:  # the callback's or the connection's: keep it for wait()
            if isinstance(exc, LocalProtocolError) and self._subscription.finished:
                return  # aclose() ended the subscription as we were about to wait on it
            self.failure = exc
            self.stop()
            self._subscription.close()

    @checked_arguments
    def stop(self) -> None:
        """Ask the server to end the subscription (sends ``stop``; never blocks)."""
        if self._stop_sent or self._subscription.finished:
            return
        self._stop_sent = True
        self._subscription.end_with_this_channel()
        if not self._subscription.send(_STOP):
            self._subscription.close()  # no socket to say it on: end it here, never re-open

    @checked_arguments
    async def wait(self, *, timeout: float | None = None) -> None:
        """Callback form: wait until the stream ended (``stop()``, or the connection went);
        raises what ended it early (the callback's error). LMStudioTimeoutError if it still
        runs after ``timeout`` seconds."""
        limit = check_timeout(timeout)
        if self._worker is None:
            raise LocalProtocolError("wait() is for streams made with on_log; iterate this one")
        if not await self._worker.join(limit):
            raise LMStudioTimeoutError(f"the log stream still runs after {limit:g} s")
        if self.failure is not None:
            raise self.failure

    @checked_arguments
    async def aclose(self) -> None:
        """Stop the subscription and stop listening (whatever still comes is dropped)."""
        self.stop()
        if self._worker is not None:
            await self._worker.join(STOP_WAIT_SECONDS)
        self._subscription.close()

    async def __aenter__(self) -> AsyncLogStream:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
