"""Streamed predictions and model loads: thin loops around the pure state machines.

A stream opens its channel lazily (on the first iteration or ``result()``), so creating one
never blocks. Whatever ends a wait abnormally (leaving the loop early, ``aclose()``, a task
cancellation, Ctrl-C in sync code, a timeout, a callback that raises) sends ``cancel`` to the
server before the exception propagates; the stream stays usable, and ``result()`` then returns
the prediction that the server ended with ``userStopped``.

Source of truth for both faces (see ``scripts/unasync.py``).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from types import TracebackType
from typing import Generic, Protocol, TypeVar, cast

from msgspec import Raw, UnsetType

from .._exceptions import (
    LMStudioError,
    LMStudioTimeoutError,
    LMStudioValueError,
    LocalProtocolError,
)
from .._protocol.chat import assistant_message
from .._protocol.loading import LoadState
from .._protocol.packets.shared import (
    AssistantMessageData,
    LLMInstanceInfo,
    PredictionFragment,
    PredictionStats,
)
from .._protocol.partial_json import JsonValue, PartialJSON
from .._protocol.prediction import (
    PredictionEvent,
    PredictionResult,
    PredictionState,
    PromptProcessingProgress,
    ToolCallGenerationStarted,
    prediction_failure,
)
from .._protocol.structured import ResponseFormat
from .._transport.asyncio import AsyncAwaitableSelf, AsyncDone, AsyncDoneNow
from .._types import (
    NOT_GIVEN,
    AsyncCallback,
    AsyncPromptCounter,
    ParsedT,
    Timeout,
    call_async_hook,
    checked_arguments,
    resolve_timeout,
    run_async_callback,
)
from .session import AsyncChannel

__all__ = ["AsyncLoad", "AsyncPredictionStream"]


InstanceT = TypeVar("InstanceT")

_CANCEL = {"type": "cancel"}


class AsyncChannelOpener(Protocol):
    async def open_channel(
        self, endpoint: str, creation_parameter: Raw | UnsetType, *, timeout: float | None
    ) -> AsyncChannel: ...


def _deadline_wait(
    deadline_at: float | None, timeout: float | None, what: str, deadline: float | None
) -> tuple[float | None, bool]:
    """The wait for the next packet: ``timeout``, or less when the whole-call deadline comes
    first (then True); LMStudioTimeoutError once the deadline has passed."""
    if deadline_at is None:
        return timeout, False
    left = deadline_at - time.monotonic()
    if left <= 0:
        raise LMStudioTimeoutError(f"{what} did not finish within its deadline of {deadline:g} s")
    if timeout is None or left < timeout:
        return left, True
    return timeout, False


class AsyncPredictionStream(AsyncAwaitableSelf, Generic[ParsedT]):
    """One prediction. Iterate it for fragments, ``events()`` for every typed event,
    ``partial()`` for the structured reply as it grows, or await ``result()``.

    ``timeout`` bounds each wait for the next packet; ``deadline`` (seconds from the start of
    the prediction) bounds the whole of it: past it, the prediction is cancelled and the wait
    raises LMStudioTimeoutError.
    """

    def __init__(
        self,
        session: AsyncChannelOpener,
        endpoint: str,
        parameter: Raw,
        *,
        timeout: float | None,
        structured: bool = False,
        response_format: ResponseFormat[ParsedT] | None = None,
        on_fragment: AsyncCallback[PredictionFragment] | None = None,
        on_prompt_processing_progress: AsyncCallback[float] | None = None,
        on_first_token: Callable[[], Awaitable[None] | None] | None = None,
        on_message: Callable[[AssistantMessageData], object] | None = None,
        deadline: float | None = None,
        measure_prompt: AsyncPromptCounter | None = None,
    ) -> None:
        self._session = session
        # Counts the whole prompt's tokens after the prediction (given the context length),
        # or None when it is too short to have overflowed: see ContextOverflow.
        self._measure_prompt = measure_prompt
        self._deadline = deadline
        self._deadline_at: float | None = None
        self._endpoint = endpoint
        self._parameter = parameter
        self._timeout = timeout
        self._state = PredictionState(structured=structured, response_format=response_format)
        self._json = structured or (response_format is not None and response_format.is_json)
        self._on_fragment = on_fragment
        self._on_progress = on_prompt_processing_progress
        self._on_first_token = on_first_token
        self._on_message = on_message
        self._first_token_seen = False
        self._channel: AsyncChannel | None = None
        self._done = False
        self._failure: BaseException | None = None
        self._cancel_requested = False

    @property
    def finished(self) -> bool:
        """Whether the prediction has ended (its result is known, or it failed)."""
        return self._done

    async def __aiter__(self) -> AsyncIterator[PredictionFragment]:
        try:
            while not self._done:
                for event in await self._step(self._timeout):
                    if isinstance(event, PredictionFragment):
                        yield event
        finally:
            if not self._done:
                self.cancel()  # the caller left the loop early

    @checked_arguments
    def partial(self) -> AsyncIterator[JsonValue]:
        """The structured reply parsed so far, each time a fragment changes it: dicts, lists
        and strings grow as the JSON streams in (a key appears once its value has begun; a
        number or literal once it is complete). Validation as the ``response_format`` type
        happens at the end, in ``result().parsed``.

        Needs ``response_format=`` (JSON) or a JSON ``structured`` config; consumes the
        fragments, like iterating the stream.
        """
        if not self._json:
            raise LMStudioValueError(
                "partial() needs a JSON reply: pass response_format= (a type or a JSON "
                'schema) or config={"structured": {"type": "json", ...}}'
            )
        return self._partial()

    async def _partial(self) -> AsyncIterator[JsonValue]:
        parser = PartialJSON()
        last: JsonValue | None = None
        async for fragment in self:
            if fragment.reasoning_type != "none" or fragment.is_structural:
                continue
            value = parser.feed(fragment.content)
            if value is not None and value != last:
                last = value  # a new object on each feed: the caller may keep it
                yield value
        value = parser.finish()  # a bare number at the very end is complete now
        if value is not None and value != last:
            yield value

    @checked_arguments
    async def events(self) -> AsyncIterator[PredictionEvent]:
        """Every event, typed: ``PredictionFragment`` (content and reasoning),
        ``PromptProcessingProgress`` (with cache details), and the tool-call events
        (``ToolCallGenerationStarted``, ``ToolCallNameReceived``, ``ToolCallArgumentFragment``,
        ``ToolCallGenerationEnded``, ``ToolCallGenerationFailed``)."""
        try:
            while not self._done:
                for event in await self._step(self._timeout):
                    yield event
        finally:
            if not self._done:
                self.cancel()  # the caller left the loop early

    @checked_arguments
    async def result(self, *, timeout: Timeout = NOT_GIVEN) -> PredictionResult[ParsedT]:
        """Wait for the end of the prediction (consuming what was not iterated yet).

        ``timeout`` replaces the stream's own wait limit for this call.
        """
        limit = resolve_timeout(timeout, self._timeout)
        while not self._done:
            await self._step(limit)
        if self._failure is not None:
            raise self._failure
        return cast("PredictionResult[ParsedT]", self._state.result())

    @property
    def stats(self) -> PredictionStats | None:
        """The finished prediction's stats (None until it has finished)."""
        return self._state.result().stats if self._state.finished else None

    @property
    def model_info(self) -> LLMInstanceInfo | None:
        """The model that made the finished prediction (None until it has finished)."""
        return self._state.result().model_info if self._state.finished else None

    @checked_arguments
    async def start(self, *, timeout: Timeout = NOT_GIVEN) -> None:
        """Send the request now, rather than on the first iteration (does nothing once sent)."""
        if self._channel is None and not self._done:
            await self._open(resolve_timeout(timeout, self._timeout))

    @checked_arguments
    async def wait_for_result(self, *, timeout: Timeout = NOT_GIVEN) -> PredictionResult[ParsedT]:
        """The official SDK's name of ``result()``: wait for the end of the prediction."""
        return await self.result(timeout=timeout)

    @checked_arguments
    def cancel(self) -> AsyncDone:
        """Ask the server to stop. Never blocks; ``result()`` then reports ``userStopped``.

        On the async face ``await stream.cancel()`` works too (there is nothing to wait for).
        """
        if not (self._done or self._cancel_requested):
            self._cancel_requested = True
            if self._channel is not None:
                self._channel.send(_CANCEL)
        return AsyncDoneNow

    @checked_arguments
    async def aclose(self) -> None:
        """Stop listening: cancel the prediction if it is still running."""
        if not self._done:
            self.cancel()
            self._done = True
            self._failure = LocalProtocolError("the stream was closed before the prediction ended")
            if self._channel is not None:
                self._channel.abandon()

    async def __aenter__(self) -> AsyncPredictionStream[ParsedT]:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def _step(self, timeout: float | None) -> list[PredictionEvent]:
        if self._deadline is not None and self._deadline_at is None:
            self._deadline_at = time.monotonic() + self._deadline
        try:
            wait, by_deadline = _deadline_wait(
                self._deadline_at, timeout, "the prediction", self._deadline
            )
        except LMStudioTimeoutError:
            self.cancel()
            raise
        channel = self._channel or await self._open(wait)
        try:
            message = await channel.receive(wait)
        except LMStudioTimeoutError as exc:
            self.cancel()  # give up on the prediction; the caller may still wait for its end
            if by_deadline:
                raise LMStudioTimeoutError(
                    f"the prediction did not finish within its deadline of {self._deadline:g} s"
                ) from exc
            raise
        except LMStudioError as exc:
            if channel.finished:  # the server or the connection ended the channel for good
                self._done = True
                self._failure = prediction_failure(exc)
                if self._failure is not exc:
                    raise self._failure from exc.__cause__
            else:  # a timeout: give up on the prediction, the caller may still wait for it
                self.cancel()
            raise
        except BaseException:
            self.cancel()
            raise
        try:
            if message is None:
                self._done = True
                self._state.channel_closed()
                return []
            events = self._state.feed(message)
            if self._state.finished:
                self._done = True
                channel.abandon()  # the trailing channelClose needs no reader
                if self._measure_prompt is not None:
                    measured = await self._measure_prompt(self._state.context_length)
                    self._state.check_overflow(measured)
            await self._dispatch(events)
        except BaseException as exc:
            if not self._done:
                self.cancel()
                self._done = True
                channel.abandon()
                self._failure = exc
            raise
        return events

    async def _open(self, timeout: float | None) -> AsyncChannel:
        channel = await self._session.open_channel(self._endpoint, self._parameter, timeout=timeout)
        self._channel = channel
        if self._cancel_requested:
            channel.send(_CANCEL)
        return channel

    async def _dispatch(self, events: list[PredictionEvent]) -> None:
        for event in events:
            if isinstance(event, PredictionFragment | ToolCallGenerationStarted):
                if not self._first_token_seen:
                    self._first_token_seen = True
                    await call_async_hook(self._on_first_token)
            if isinstance(event, PredictionFragment):
                await run_async_callback(self._on_fragment, event)
            elif isinstance(event, PromptProcessingProgress):
                await run_async_callback(self._on_progress, event.progress)
        if self._on_message is not None and self._state.finished:
            await call_async_hook(self._on_message, assistant_message(self._state.result()))


class AsyncLoad(Generic[InstanceT]):
    """Runs a ``loadModel`` / ``getOrLoad`` channel to its end."""

    def __init__(self, channel: AsyncChannel, instance_type: type[InstanceT]) -> None:
        self._channel = channel
        self._state = LoadState(instance_type)

    async def run(
        self,
        on_progress: AsyncCallback[float] | None,
        timeout: float | None,
        deadline: float | None = None,
    ) -> InstanceT:
        """``timeout`` bounds each wait for a packet, ``deadline`` the whole load."""
        deadline_at = None if deadline is None else time.monotonic() + deadline
        try:
            while self._state.instance is None:
                wait, by_deadline = _deadline_wait(deadline_at, timeout, "the load", deadline)
                try:
                    message = await self._channel.receive(wait)
                except LMStudioTimeoutError as exc:
                    if by_deadline:
                        raise LMStudioTimeoutError(
                            f"the load did not finish within its deadline of {deadline:g} s"
                        ) from exc
                    raise
                if message is None:
                    self._state.channel_closed()
                    continue
                for progress in self._state.feed(message):
                    await run_async_callback(on_progress, progress)
        except BaseException:
            if not self._channel.finished:
                self._channel.send(_CANCEL)
                self._channel.abandon()
            raise
        self._channel.abandon()
        return self._state.instance
