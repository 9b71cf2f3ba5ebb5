# GENERATED from src/lmstudio_sdk/_async/act.py by scripts/unasync.py. Do not edit: edit the source.
"""``act()``: the multi-round tool loop (predict, run the tools the model asked for, repeat).

Pure parts (results, planning a call, the guard's decisions) are in ``_protocol/act.py``;
running tools concurrently is the transport twins' ``run_concurrently``. Every message of
every round is appended to the caller's ``Chat``.

Source of truth for both faces (see ``scripts/unasync.py``).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator, Awaitable, Callable, Iterable
from typing import Any, Protocol, TypeVar

import msgspec

from .._exceptions import (
    InvalidToolRequestError,
    LMStudioValueError,
    ToolCallError,
    ToolCallFailedError,
)
from .._protocol.act import (
    ActResult,
    GeneratorActResult,
    GuardDecision,
    PlannedCall,
    ToolCallOutcome,
    ToolErrorMode,
    check_act_options,
    failure,
    plan_call,
    success,
)
from .._protocol.chat import Chat, ChatLike, drop_echo
from .._protocol.config_types import LlmPredictionConfigDict
from .._protocol.generator import GeneratorResult
from .._protocol.packets.shared import ChatMessageData, PredictionFragment, ToolCallRequest
from .._protocol.prediction import (
    PredictionEvent,
    PromptProcessingProgress,
    ToolCallArgumentFragment,
    ToolCallGenerationEnded,
    ToolCallGenerationFailed,
    ToolCallGenerationStarted,
    ToolCallNameReceived,
)
from .._protocol.tools import ToolLike, ToolSet
from .._transport.sync import RUNS_COROUTINES, run_concurrently
from .._types import (
    Callback,
    RoundCallback,
    Timeout,
    call_hook,
    check_callback,
    resolve_timeout,
)
from .streams import PredictionStream

__all__ = ["ActCallbacks", "run_act", "run_generator_act"]

ResultT = TypeVar("ResultT")
ResultT_co = TypeVar("ResultT_co", covariant=True)

_NO_TOOLS: dict[str, Any] = {"type": "none"}
_AUTO_TOOL_CHOICE: dict[str, Any] = {"type": "generic", "mode": "auto"}


class _Predictor(Protocol):
    def respond_stream(
        self,
        chat: ChatLike,
        *,
        config: LlmPredictionConfigDict | None = ...,
        preset: str | None = ...,
        timeout: Timeout = ...,
    ) -> PredictionStream: ...


Guard = Callable[
    [int, ToolCallRequest], Awaitable[GuardDecision | None] | GuardDecision | None
]
InvalidRequestHandler = Callable[
    [ToolCallError, ToolCallRequest | None], Awaitable[str | None] | str | None
]


class ActCallbacks(msgspec.Struct, frozen=True, kw_only=True):
    """The callbacks of one ``act()`` (each may be None)."""

    on_round_start: Callback[int] | None = None
    on_round_end: Callback[int] | None = None
    on_message: Callable[[ChatMessageData], object] | None = None
    on_first_token: Callback[int] | None = None
    on_prediction_fragment: RoundCallback[PredictionFragment] | None = None
    on_prompt_processing_progress: RoundCallback[float] | None = None
    # a model's PredictionResult, or a generator plugin's GeneratorResult
    on_prediction_completed: Callback[Any] | None = None
    on_tool_call_start: RoundCallback[ToolCallGenerationStarted] | None = None
    on_tool_call_name: RoundCallback[ToolCallNameReceived] | None = None
    on_tool_call_argument_fragment: RoundCallback[ToolCallArgumentFragment] | None = None
    on_tool_call_end: RoundCallback[ToolCallGenerationEnded] | None = None
    on_tool_call_result: RoundCallback[ToolCallOutcome] | None = None
    on_tool_call_failure: RoundCallback[ToolCallError] | None = None
    guard_tool_call: Guard | None = None
    handle_invalid_tool_request: InvalidRequestHandler | None = None

    def check(self) -> None:
        for name in self.__struct_fields__:
            check_callback(getattr(self, name), name)


class _RoundStream(Protocol[ResultT_co]):
    """One round's prediction: a model's (``PredictionStream``) or a generator plugin's."""

    def events(self) -> Iterator[PredictionEvent]: ...

    def result(self) -> ResultT_co: ...

    def close(self) -> None: ...


def _check_toolset(tools: Iterable[ToolLike]) -> ToolSet:
    toolset = ToolSet(tools)
    if not RUNS_COROUTINES:
        for found in toolset.tools.values():
            if found.is_async:
                raise LMStudioValueError(
                    f"tool {found.name!r} is an async function; the sync Client cannot "
                    "it: pass a plain function, or use Client"
                )
    return toolset


def run_act(
    llm: _Predictor,
    chat: ChatLike,
    tools: Iterable[ToolLike],
    *,
    config: LlmPredictionConfigDict | None,
    preset: str | None,
    tool_choice: Any,
    max_prediction_rounds: int | None,
    max_parallel_tool_calls: int | None,
    on_tool_error: ToolErrorMode,
    tool_timeout: Timeout,
    timeout: Timeout,
    callbacks: ActCallbacks,
) -> ActResult:
    start = time.perf_counter()
    check_act_options(max_prediction_rounds, max_parallel_tool_calls, on_tool_error)
    callbacks.check()
    tool_limit = resolve_timeout(tool_timeout, None)
    toolset = _check_toolset(tools)
    if config is not None and not isinstance(config, dict):
        raise LMStudioValueError(f"act() config must be a dict, not {type(config).__name__}")
    base: dict[str, Any] = dict(config or {})
    if "raw_tools" in base or "rawTools" in base:
        raise LMStudioValueError("act() takes its tools as tools=, not in config['raw_tools']")
    if tool_choice is not None:
        base["tool_choice"] = tool_choice
    with_tools = {**base, "raw_tools": {"type": "toolArray", "tools": toolset.llm_tools()}}
    # A round without tools (the last of max_prediction_rounds) says so, and resets the tool
    # choice, as the TypeScript SDK does: a preset's tools or tool choice must not apply.
    without_tools = {k: v for k, v in base.items() if k not in ("tool_choice", "toolChoice")}
    without_tools.update(raw_tools=_NO_TOOLS, tool_choice=_AUTO_TOOL_CHOICE)

    def predict(target: Chat, allow_tools: bool) -> PredictionStream:
        return llm.respond_stream(
            target,
            config=with_tools if allow_tools else without_tools,  # type: ignore[arg-type]
            preset=preset,
            timeout=timeout,
        )

    target, results = _act_loop(
        predict,
        lambda result, index: msgspec.structs.replace(result, round_index=index),
        chat,
        toolset,
        max_prediction_rounds=max_prediction_rounds,
        max_parallel_tool_calls=max_parallel_tool_calls,
        on_tool_error=on_tool_error,
        tool_limit=tool_limit,
        callbacks=callbacks,
    )
    return ActResult(
        rounds=len(results),
        total_time_seconds=time.perf_counter() - start,
        results=results,
        chat=target,
    )


def run_generator_act(
    generate: Callable[[Chat, list[dict[str, Any]]], _RoundStream[GeneratorResult]],
    chat: ChatLike,
    tools: Iterable[ToolLike],
    *,
    max_prediction_rounds: int | None,
    max_parallel_tool_calls: int | None,
    on_tool_error: ToolErrorMode,
    tool_timeout: Timeout,
    callbacks: ActCallbacks,
) -> GeneratorActResult:
    """``act()`` with a generator plugin in the model's place: each round is one generation,
    offered the tools' definitions (none in the last round of ``max_prediction_rounds``)."""
    start = time.perf_counter()
    check_act_options(max_prediction_rounds, max_parallel_tool_calls, on_tool_error)
    callbacks.check()
    tool_limit = resolve_timeout(tool_timeout, None)
    toolset = _check_toolset(tools)
    definitions = toolset.llm_tools()
    target, results = _act_loop(
        lambda target, allow_tools: generate(target, definitions if allow_tools else []),
        lambda result, index: dataclasses.replace(result, round_index=index),
        chat,
        toolset,
        max_prediction_rounds=max_prediction_rounds,
        max_parallel_tool_calls=max_parallel_tool_calls,
        on_tool_error=on_tool_error,
        tool_limit=tool_limit,
        callbacks=callbacks,
    )
    return GeneratorActResult(
        rounds=len(results),
        total_time_seconds=time.perf_counter() - start,
        results=results,
        chat=target,
    )


def _act_loop(
    predict: Callable[[Chat, bool], _RoundStream[ResultT]],
    numbered: Callable[[ResultT, int], ResultT],
    chat: ChatLike,
    toolset: ToolSet,
    *,
    max_prediction_rounds: int | None,
    max_parallel_tool_calls: int | None,
    on_tool_error: ToolErrorMode,
    tool_limit: float | None,
    callbacks: ActCallbacks,
) -> tuple[Chat, list[ResultT]]:
    target = chat if isinstance(chat, Chat) else Chat.from_history(chat)
    results: list[ResultT] = []
    round_index = 0
    while True:
        last = max_prediction_rounds is not None and round_index == max_prediction_rounds - 1
        call_hook(callbacks.on_round_start, round_index)
        stream = predict(target, not last)
        requests, failures = _predict(stream, round_index, callbacks)
        result = numbered(stream.result(), round_index)
        results.append(result)
        call_hook(callbacks.on_prediction_completed, result)
        for failed in failures:
            _invalid_request(
                InvalidToolRequestError(f"the model's tool call failed: {failed.error}"),
                None,
                round_index,
                callbacks,
            )
        if not requests:
            message = target.add_assistant_response(result)  # type: ignore[arg-type]
            _notify(callbacks.on_message, target, message)
            call_hook(callbacks.on_round_end, round_index)
            break
        # Guards run first: a call they override is in the history with its new arguments.
        early, planned = _plan_tools(toolset, requests, round_index, callbacks)
        final_requests = [
            call.request if call is not None else request
            for call, request in zip(planned, requests, strict=True)
        ]
        message = target.add_assistant_response(result, final_requests)  # type: ignore[arg-type]
        _notify(callbacks.on_message, target, message)
        outcomes = _run_tools(
            early,
            planned,
            round_index,
            callbacks,
            limit=max_parallel_tool_calls or len(requests),
            timeout=tool_limit,
            on_tool_error=on_tool_error,
        )
        results_message = target.add_tool_results([o.result for o in outcomes])
        _notify(callbacks.on_message, target, results_message)
        call_hook(callbacks.on_round_end, round_index)
        if last:  # tools were withheld, yet the model called one: nothing left to answer it
            break
        round_index += 1
    return target, results


def _notify(
    on_message: Callable[[ChatMessageData], object] | None, chat: Chat, message: ChatMessageData
) -> None:
    """Call ``on_message`` with a message act() appended to ``chat``; the official SDK's act()
    leaves the chat alone, so its programs append in the callback (``on_message=chat.append``):
    that second copy is dropped, so that each message is in the chat once."""
    call_hook(on_message, message)
    drop_echo(chat, message)


def _predict(
    stream: _RoundStream[Any], round_index: int, callbacks: ActCallbacks
) -> tuple[list[ToolCallRequest], list[ToolCallGenerationFailed]]:
    requests: list[ToolCallRequest] = []
    failures: list[ToolCallGenerationFailed] = []
    first = True
    for event in stream.events():
        if isinstance(event, PredictionFragment):
            if first:
                first = False
                call_hook(callbacks.on_first_token, round_index)
            call_hook(callbacks.on_prediction_fragment, event, round_index)
        elif isinstance(event, PromptProcessingProgress):
            call_hook(
                callbacks.on_prompt_processing_progress, event.progress, round_index
            )
        elif isinstance(event, ToolCallGenerationStarted):
            if first:
                first = False
                call_hook(callbacks.on_first_token, round_index)
            call_hook(callbacks.on_tool_call_start, event, round_index)
        elif isinstance(event, ToolCallNameReceived):
            call_hook(callbacks.on_tool_call_name, event, round_index)
        elif isinstance(event, ToolCallArgumentFragment):
            call_hook(callbacks.on_tool_call_argument_fragment, event, round_index)
        elif isinstance(event, ToolCallGenerationEnded):
            requests.append(event.request)
            call_hook(callbacks.on_tool_call_end, event, round_index)
        elif isinstance(event, ToolCallGenerationFailed):
            failures.append(event)
            error = InvalidToolRequestError(f"the model's tool call failed: {event.error}")
            call_hook(callbacks.on_tool_call_failure, error, round_index)
            if callbacks.handle_invalid_tool_request is None:
                # Nothing can answer a call that did not even parse: stop the prediction now
                # (as the TypeScript SDK does) instead of letting it run on, and raise.
                stream.close()
                raise error
    return requests, failures


def _invalid_request(
    error: ToolCallError,
    request: ToolCallRequest | None,
    round_index: int,
    callbacks: ActCallbacks,
) -> str | None:
    """What the model sees instead of a result (None: the default text). Without a request
    (a call that did not even parse) nothing can answer it: like the official SDKs, raise
    unless ``handle_invalid_tool_request`` handles it (returns, whatever it returns)."""
    handler = callbacks.handle_invalid_tool_request
    if handler is None:
        if request is None:
            raise error
        return None
    replacement = call_hook(handler, error, request)
    if replacement is not None and not isinstance(replacement, str):
        raise LMStudioValueError(
            "handle_invalid_tool_request must return a string (what the model sees) or None"
        )
    return replacement


def _plan_tools(
    toolset: ToolSet,
    requests: list[ToolCallRequest],
    round_index: int,
    callbacks: ActCallbacks,
) -> tuple[list[ToolCallOutcome | None], list[PlannedCall | None]]:
    """Each request either fails now (an outcome: unknown tool, bad arguments, denied) or is
    a call to make (as the guard allowed it)."""
    outcomes: list[ToolCallOutcome | None] = []
    planned: list[PlannedCall | None] = []
    for request in requests:
        try:
            call = plan_call(toolset, request)
            call = _guard(call, round_index, callbacks)
        except _Denied as denied:
            outcome = failure(round_index, request, denied.error, denied.error.args[0])
        except ToolCallError as exc:
            text = _invalid_request(exc, request, round_index, callbacks)
            outcome = failure(round_index, request, exc, text)
        else:
            planned.append(call)
            outcomes.append(None)
            continue
        call_hook(callbacks.on_tool_call_failure, outcome.error, round_index)
        outcomes.append(outcome)
        planned.append(None)
    return outcomes, planned


def _run_tools(
    early: list[ToolCallOutcome | None],
    planned: list[PlannedCall | None],
    round_index: int,
    callbacks: ActCallbacks,
    *,
    limit: int,
    timeout: float | None,
    on_tool_error: ToolErrorMode,
) -> list[ToolCallOutcome]:
    calls = [(index, call) for index, call in enumerate(planned) if call is not None]
    ran = run_concurrently(
        [(call.tool.implementation, call.arguments) for _, call in calls],
        limit=limit,
        timeout=timeout,
    )
    outcomes = list(early)
    for (index, call), done in zip(calls, ran, strict=True):
        if done.error is None:
            outcomes[index] = success(round_index, call.request, done.value)
            continue
        error = ToolCallFailedError(
            f"tool {call.tool.name!r} raised {type(done.error).__name__}: {done.error}",
            tool_name=call.tool.name,
            tool_call_id=call.request.id,
        )
        error.__cause__ = done.error
        if on_tool_error == "raise":
            raise error
        call_hook(callbacks.on_tool_call_failure, error, round_index)
        outcomes[index] = failure(round_index, call.request, error)
    finished = [o for o in outcomes if o is not None]
    for outcome in finished:
        call_hook(callbacks.on_tool_call_result, outcome, round_index)
    return finished


class _Denied(Exception):
    def __init__(self, error: ToolCallError) -> None:
        super().__init__(str(error))
        self.error = error


def _guard(call: PlannedCall, round_index: int, callbacks: ActCallbacks) -> PlannedCall:
    guard = callbacks.guard_tool_call
    if guard is None:
        return call
    decision = call_hook(guard, round_index, call.request)
    if decision is None:
        return call
    if not isinstance(decision, GuardDecision):
        raise LMStudioValueError(
            "guard_tool_call must return GuardDecision.allow(), .allow_with(arguments), "
            f".deny(reason) or None, not {decision!r}"
        )
    if decision.kind == "deny":
        raise _Denied(
            ToolCallError(decision.reason, tool_name=call.tool.name, tool_call_id=call.request.id)
        )
    if decision.kind == "override":
        request = msgspec.structs.replace(call.request, arguments=dict(decision.arguments or {}))
        return PlannedCall(request, call.tool, call.tool.validate(request.arguments))
    return call
