"""PredictionState: the predict / completeRawText channel as packets in, events out."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from msgspec import Raw

from lmstudio_sdk._exceptions import RemoteProtocolError
from lmstudio_sdk._protocol.packets.shared import (
    PredictionFragment,
    PromptProcessingDetails,
    ToolCallRequest,
)
from lmstudio_sdk._protocol.prediction import (
    PredictionState,
    PromptProcessingProgress,
    ToolCallArgumentFragment,
    ToolCallGenerationEnded,
    ToolCallGenerationFailed,
    ToolCallGenerationStarted,
    ToolCallNameReceived,
    may_overflow,
)

from .recorded import RECORDED_INSTANCE

# The recorded instance info (traffic-ts2.jsonl) is what success packets carry.
MODEL_INFO = RECORDED_INSTANCE
STATS = {
    "stopReason": "eosFound",
    "tokensPerSecond": 51.2,
    "numGpuLayers": -1,
    "timeToFirstTokenSec": 0.081,
    "totalTimeSec": 0.12,
    "promptTokensCount": 12,
    "predictedTokensCount": 2,
    "totalTokensCount": 14,
}
SUCCESS = {
    "type": "success",
    "stats": STATS,
    "modelInfo": MODEL_INFO,
    "loadModelConfig": {"fields": [{"key": "llm.load.contextLength", "value": 4096}]},
    "predictionConfig": {"fields": [{"key": "llm.prediction.temperature", "value": 0.7}]},
}


def text_fragment(content: str) -> PredictionFragment:
    """The fragment a plain text packet decodes to."""
    return PredictionFragment(
        content=content,
        tokens_count=1,
        contains_drafted=False,
        reasoning_type="none",
        is_structural=False,
    )


def packet(value: dict[str, Any]) -> Raw:
    return Raw(json.dumps(value).encode())


def fragment(content: str, reasoning: str = "none", structural: bool = False) -> Raw:
    return packet(
        {
            "type": "fragment",
            "fragment": {
                "content": content,
                "tokensCount": 1,
                "containsDrafted": False,
                "reasoningType": reasoning,
                "isStructural": structural,
            },
        }
    )


def test_recorded_ts2_prediction() -> None:
    state = PredictionState()
    details = {
        "cachedTokenCount": 0,
        "totalPromptTokenCount": 12,
        "processedPromptTokenCount": 12,
        "unprocessedPromptTokenCount": 0,
    }
    assert state.feed(
        packet({"type": "promptProcessingProgress", "progress": 1, "details": details})
    ) == [
        PromptProcessingProgress(
            1.0,
            PromptProcessingDetails(
                cached_token_count=0,
                total_prompt_token_count=12,
                processed_prompt_token_count=12,
                unprocessed_prompt_token_count=0,
            ),
        )
    ]
    assert not state.first_fragment_seen
    assert state.feed(fragment("Hello")) == [text_fragment("Hello")]
    assert state.first_fragment_seen
    assert state.feed(fragment(" world")) == [text_fragment(" world")]
    assert not state.finished
    assert state.feed(packet(SUCCESS)) == []
    assert state.finished
    state.channel_closed()

    result = state.result()
    assert result.content == "Hello world"
    assert str(result) == "Hello world"
    assert result.reasoning_content == ""
    assert result.non_reasoning_content == "Hello world"
    assert result.stats.stop_reason == "eosFound"
    assert result.stats.predicted_tokens_count == 2
    assert result.stats.tokens_per_second == 51.2
    assert result.model_info.identifier == "qwen2.5-0.5b-instruct"
    assert result.model_info.instance_reference == "inst-ref-0001"
    assert result.model_info.context_length == 4096
    assert result.load_config.get("llm.load.contextLength") == 4096
    assert result.prediction_config.as_dict() == {"llm.prediction.temperature": 0.7}
    assert result.tool_calls == []
    assert result.structured is False
    assert result.round_index == 0


def test_progress_without_details_is_accepted() -> None:
    # TS 1.5 era servers sent no details.
    assert PredictionState().feed(
        packet({"type": "promptProcessingProgress", "progress": 0.5})
    ) == [PromptProcessingProgress(0.5, None)]


def test_a_minimal_fragment_gets_defaults() -> None:
    [event] = PredictionState().feed(packet({"type": "fragment", "fragment": {"content": "x"}}))
    assert event == PredictionFragment(
        content="x",
        tokens_count=1,
        contains_drafted=False,
        reasoning_type="none",
        is_structural=False,
    )


def test_reasoning_is_split_from_the_answer() -> None:
    state = PredictionState()
    for raw in [
        fragment("<think>", "reasoningStartTag", structural=True),
        fragment("Let me ", "reasoning"),
        fragment("think.", "reasoning"),
        fragment("</think>", "reasoningEndTag", structural=True),
        fragment("\n", "none", structural=True),
        fragment("The answer", "none"),
        fragment(" is 4.", "none"),
        fragment("?", "somethingNew"),
    ]:
        assert len(state.feed(raw)) == 1
    state.feed(packet(SUCCESS))
    result = state.result()
    assert result.content == "<think>Let me think.</think>\nThe answer is 4.?"
    assert result.reasoning_content == "Let me think."
    assert result.non_reasoning_content == "The answer is 4."


def test_recorded_tool_call_packets() -> None:
    # traffic-tsact.jsonl lines 7-12
    state = PredictionState()
    packets: list[dict[str, Any]] = [
        {"type": "toolCallGenerationStart", "toolCallId": "call_123"},
        {"type": "toolCallGenerationNameReceived", "name": "add"},
        {"type": "toolCallGenerationArgumentFragmentGenerated", "content": '{"a": 1, '},
        {"type": "toolCallGenerationArgumentFragmentGenerated", "content": '"b": 2}'},
        {
            "type": "toolCallGenerationEnd",
            "toolCallRequest": {
                "id": "call_123",
                "type": "function",
                "name": "add",
                "arguments": {"a": 1, "b": 2},
            },
            "rawContent": '<tool_call>{"name": "add", "arguments": {"a": 1, "b": 2}}</tool_call>',
        },
        {"type": "toolCallGenerationStart"},
        {
            "type": "toolCallGenerationFailed",
            "error": {
                "title": "Failed to parse tool call",
                "rootTitle": "Failed to parse tool call",
            },
            "rawContent": "<tool_call>{oops",
        },
        {"type": "toolCallGenerationFailed", "error": "plain text error"},
        {"type": "toolCallGenerationFailed"},
        {**SUCCESS, "stats": {**STATS, "stopReason": "toolCalls"}},
    ]
    events = [state.feed(packet(p)) for p in packets]
    request = ToolCallRequest(name="add", arguments={"a": 1, "b": 2}, id="call_123")
    assert events == [
        [ToolCallGenerationStarted("call_123")],
        [ToolCallNameReceived("add")],
        [ToolCallArgumentFragment('{"a": 1, ')],
        [ToolCallArgumentFragment('"b": 2}')],
        [
            ToolCallGenerationEnded(
                request, '<tool_call>{"name": "add", "arguments": {"a": 1, "b": 2}}</tool_call>'
            )
        ],
        [ToolCallGenerationStarted(None)],
        [ToolCallGenerationFailed("Failed to parse tool call", "<tool_call>{oops")],
        [ToolCallGenerationFailed("plain text error", None)],
        [ToolCallGenerationFailed("Unknown error", None)],
        [],
    ]
    result = state.result()
    assert result.tool_calls == [request]
    assert result.content == ""
    assert result.stats.stop_reason == "toolCalls"


def test_unknown_packet_types_are_tolerated_and_logged_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    state = PredictionState()
    with caplog.at_level(logging.INFO, logger="lmstudio_sdk.protocol"):
        assert state.feed(packet({"type": "speculativeDecodingStats", "x": 1})) == []
        assert state.feed(packet({"type": "speculativeDecodingStats"})) == []
        assert state.feed(packet({"type": "error", "error": {"title": "x"}})) == []
    assert [r.getMessage() for r in caplog.records] == [
        "ignoring an unknown prediction packet type 'speculativeDecodingStats'",
        "ignoring an unknown prediction packet type 'error'",
    ]
    assert state.feed(fragment("ok")) == [text_fragment("ok")]


@pytest.mark.parametrize(
    "raw",
    [
        Raw(b'{"type":"fragment"}'),  # known type, missing field
        Raw(b'{"type":"fragment","fragment":{"content":5}}'),
        Raw(b'{"type":"promptProcessingProgress","progress":"half"}'),
        Raw(b'{"type":"success","stats":{}}'),
        Raw(b'{"type":"toolCallGenerationEnd","toolCallRequest":{"arguments":{}}}'),
        Raw(b'{"fragment":{"content":"x"}}'),  # no type
        Raw(b'{"type":7}'),
        Raw(b"[1]"),
        Raw(b'"fragment"'),
        Raw(b"null"),
    ],
)
def test_invalid_packets_are_the_servers_protocol_error(raw: Raw) -> None:
    state = PredictionState()
    with pytest.raises(
        RemoteProtocolError, match=r"^LM Studio sent an invalid prediction packet: "
    ):
        state.feed(raw)
    assert not state.finished


def test_channel_close_before_success_is_a_protocol_error() -> None:
    state = PredictionState()
    state.feed(fragment("Hel"))
    with pytest.raises(
        RemoteProtocolError,
        match=r"^LM Studio closed the prediction channel before sending the final result$",
    ):
        state.channel_closed()
    with pytest.raises(RemoteProtocolError, match=r"^the prediction has not finished$"):
        state.result()


def test_structured_results_parse_as_json() -> None:
    state = PredictionState(structured=True)
    state.feed(fragment('{"answer": '))
    state.feed(fragment("[1, 2]}"))
    state.feed(packet(SUCCESS))
    result = state.result()
    assert result.structured is True
    assert result.parsed == {"answer": [1, 2]}


def test_parsed_raises_for_text_that_is_not_json() -> None:
    state = PredictionState()
    state.feed(fragment("not json"))
    state.feed(packet(SUCCESS))
    with pytest.raises(ValueError):
        _ = state.result().parsed


def test_success_without_configs_uses_empty_configs() -> None:
    state = PredictionState()
    state.feed(
        packet({"type": "success", "stats": {"stopReason": "userStopped"}, "modelInfo": MODEL_INFO})
    )
    result = state.result()
    assert result.load_config.fields == []
    assert result.prediction_config.fields == []
    assert result.stats.stop_reason == "userStopped"
    assert result.content == ""


def test_unknown_enum_literals_pass_through_and_are_logged_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    state = PredictionState()
    with caplog.at_level(logging.INFO, logger="lmstudio_sdk.protocol"):
        state.feed(fragment("a", "reasoningSummary"))
        state.feed(fragment("b", "reasoningSummary"))
        state.feed(fragment("c", "none"))
        state.feed(packet({**SUCCESS, "stats": {"stopReason": "budgetExhausted"}}))
    assert [r.getMessage() for r in caplog.records] == [
        "LM Studio sent reasoningType='reasoningSummary', which this SDK does not know; "
        "passing it through",
        "LM Studio sent stopReason='budgetExhausted', which this SDK does not know; "
        "passing it through",
    ]
    result = state.result()
    assert result.stats.stop_reason == "budgetExhausted"
    assert (result.content, result.reasoning_content, result.non_reasoning_content) == (
        "abc",
        "",
        "c",
    )


def test_missing_prompt_details_count_as_zero() -> None:
    progress = {"type": "promptProcessingProgress", "progress": 0.5}
    [event] = PredictionState().feed(packet({**progress, "details": {"cachedTokenCount": 3}}))
    assert event == PromptProcessingProgress(
        0.5,
        PromptProcessingDetails(
            cached_token_count=3,
            total_prompt_token_count=0,
            processed_prompt_token_count=0,
            unprocessed_prompt_token_count=0,
        ),
    )


# -- context overflow: the protocol has no field for it, the result works it out -----------------


def finished_state(stats: dict[str, Any], policy: str | None = None) -> PredictionState:
    state = PredictionState()
    success = dict(SUCCESS, stats=dict(STATS, **stats))
    if policy is not None:
        field = {"key": "llm.prediction.contextOverflowPolicy", "value": policy}
        success["predictionConfig"] = {"fields": [field]}
    state.feed(Raw(json.dumps(success).encode()))
    return state


def test_a_prompt_that_fit_reports_no_overflow(caplog: pytest.LogCaptureFixture) -> None:
    state = finished_state({})
    state.check_overflow(100)  # counted, and well inside the context
    with caplog.at_level(logging.WARNING, logger="lmstudio_sdk.protocol"):
        assert state.result().context_overflow is None
    assert not caplog.records


def test_a_full_context_is_reported_from_the_stats(caplog: pytest.LogCaptureFixture) -> None:
    length = MODEL_INFO["contextLength"]
    state = finished_state({"promptTokensCount": length - 20, "predictedTokensCount": 14})
    with caplog.at_level(logging.WARNING, logger="lmstudio_sdk.protocol"):
        overflow = state.result().context_overflow
        state.result()  # said once, however often the result is built
    assert overflow is not None and overflow.policy == "truncateMiddle"  # LM Studio's default
    assert not overflow.prompt_was_cut and overflow.full_prompt_tokens is None
    assert "was full" in str(overflow)
    assert len(caplog.records) == 1 and "was full" in caplog.records[0].getMessage()


def test_a_cut_prompt_is_reported_from_the_count() -> None:
    """rollingWindow and truncateMiddle may drop whole messages: the model then sees a short
    prompt, and only the count of the whole prompt shows the cut."""
    length = MODEL_INFO["contextLength"]
    state = finished_state({"promptTokensCount": 30}, policy="rollingWindow")
    state.check_overflow(length + 500)
    overflow = state.result().context_overflow
    assert overflow is not None and overflow.prompt_was_cut
    assert (overflow.policy, overflow.full_prompt_tokens, overflow.prompt_tokens) == (
        "rollingWindow",
        length + 500,
        30,
    )
    assert "did not fit" in str(overflow) and "oldest" in str(overflow)


def test_stop_at_limit_is_an_overflow_too() -> None:
    state = finished_state({"stopReason": "contextLengthReached"}, policy="stopAtLimit")
    overflow = state.result().context_overflow
    assert overflow is not None and "stopped at the limit" in str(overflow)


def test_only_a_long_prompt_is_worth_counting() -> None:
    assert not may_overflow(100, 4096)
    assert may_overflow(3100, 4096)  # templates add up to 1024 tokens of their own
    assert may_overflow(10_000, 4096)
