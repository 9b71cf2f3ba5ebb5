"""predict, completeRawText and applyPromptTemplate on /llm; embedString on /embedding."""

from __future__ import annotations

import asyncio
import math
from typing import Any

import pytest

from lmstudio_sdk.server import LMStudioServer, ServerRecorder
from lmstudio_sdk.server.engines.scripted import ScriptedEngine

from .conftest import MakeServer
from .helpers import (
    EMBED_KEY,
    EMPTY_STACK,
    FRAGMENT_REQUIRED,
    LLM_KEY,
    PROMPT_DETAILS_REQUIRED,
    STATS_ALLOWED,
    SUCCESS_REQUIRED,
    RawClient,
    assert_error,
    assert_fields,
    assert_llm_instance,
    by_identifier,
    connect,
    load,
    predict_params,
    stack,
)

TOOLS = {
    "type": "toolArray",
    "tools": [
        {
            "type": "function",
            "function": {
                "name": "add",
                "description": "Add two numbers",
                "parameters": {
                    "type": "object",
                    "properties": {"a": {"type": "number"}, "b": {"type": "number"}},
                    "required": ["a", "b"],
                },
            },
        }
    ],
}


async def _predict(
    llm: RawClient, text: str, config: dict[str, Any] | None = None
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    packets, end = await llm.run_channel("predict", predict_params(text, config=config))
    return packets, end


def _content(packets: list[dict[str, Any]], reasoning: str | None = None) -> str:
    return "".join(
        p["fragment"]["content"]
        for p in packets
        if p["type"] == "fragment"
        and (reasoning is None or p["fragment"]["reasoningType"] == reasoning)
    )


def _success(packets: list[dict[str, Any]]) -> dict[str, Any]:
    assert packets[-1]["type"] == "success", packets[-1]
    assert [p["type"] for p in packets].count("success") == 1
    return packets[-1]


async def test_predict_stream_order_and_shapes(lms: LMStudioServer) -> None:
    async with connect(lms.url, "/llm") as llm:
        info = await load(llm)
        channel = await llm.open_channel(
            "predict",
            predict_params(
                "hi there",
                config=stack(llm__prediction__temperature=0.5, llm__prediction__topKSampling=7),
            ),
        )
        end = await llm.channel_end(channel)
        frames = llm.channel_frames(channel)
        # success is the last packet and comes before the close.
        assert [f["type"] for f in frames[-2:]] == ["channelSend", "channelClose"]
        assert end["type"] == "channelClose"
        packets = llm.channel_packets(channel)
        kinds = [p["type"] for p in packets]
        first_fragment = kinds.index("fragment")
        assert set(kinds[:first_fragment]) == {"promptProcessingProgress"}
        assert set(kinds[first_fragment:-1]) == {"fragment"}
        for p in packets[:first_fragment]:
            assert_fields(p["details"], PROMPT_DETAILS_REQUIRED, set())
            assert 0 <= p["progress"] <= 1
        assert packets[first_fragment - 1]["progress"] == 1
        for p in packets[first_fragment:-1]:
            assert_fields(p["fragment"], FRAGMENT_REQUIRED, set())
            assert p["fragment"]["tokensCount"] == 1
            assert p["fragment"]["reasoningType"] == "none"
        assert _content(packets) == "You said: hi there"
        assert len(packets) - 1 - first_fragment == 5  # one token per fragment

        success = _success(packets)
        assert_fields(success, SUCCESS_REQUIRED, set())
        stats = success["stats"]
        assert_fields(stats, {"stopReason"}, STATS_ALLOWED)
        assert stats["stopReason"] == "eosFound"
        assert stats["predictedTokensCount"] == 5
        assert stats["totalTokensCount"] == stats["promptTokensCount"] + 5
        assert stats["promptTokensCount"] == packets[0]["details"]["totalPromptTokenCount"]
        assert stats["totalTimeSec"] >= stats["timeToFirstTokenSec"] >= 0
        assert stats["tokensPerSecond"] > 0
        assert_llm_instance(success["modelInfo"])
        assert success["modelInfo"]["instanceReference"] == info["instanceReference"]
        assert {"key": "llm.load.contextLength", "value": 4096} in success["loadModelConfig"][
            "fields"
        ]
        prediction = {f["key"]: f["value"] for f in success["predictionConfig"]["fields"]}
        assert prediction["llm.prediction.temperature"] == 0.5  # the client's layer wins
        assert prediction["llm.prediction.topKSampling"] == 7
        assert prediction["llm.prediction.repeatPenalty"] == {"checked": True, "value": 1.1}


async def test_predict_by_instance_reference_and_jit_query(lms: LMStudioServer) -> None:
    async with connect(lms.url, "/llm") as llm:
        info = await load(llm)
        params = predict_params("x")
        params["modelSpecifier"] = {
            "type": "instanceReference",
            "instanceReference": info["instanceReference"],
        }
        packets, end = await llm.run_channel("predict", params)
        assert end["type"] == "channelClose" and _content(packets) == "You said: x"


async def test_predict_without_model_fails(lms: LMStudioServer) -> None:
    async with connect(lms.url, "/llm") as llm:
        packets, end = await _predict(llm, "hi")
        assert packets == []
        assert end["type"] == "channelError"
        assert_error(end["error"], "generic.noModelMatchingQuery")


async def test_cancel_finishes_with_user_stopped(make_server: MakeServer) -> None:
    server = await make_server(ScriptedEngine(token_delay=0.01))
    async with connect(server.url, "/llm") as llm:
        await load(llm)
        channel = await llm.open_channel("predict", predict_params("!long 1000"))
        await llm.wait_for(
            lambda f: f.get("channelId") == channel and f["message"]["type"] == "fragment"
        )
        await llm.channel_send(channel, {"type": "cancel"})
        end = await llm.channel_end(channel)
        assert end["type"] == "channelClose"
        frames = llm.channel_frames(channel)
        assert frames[-2]["message"]["type"] == "success"
        stats = frames[-2]["message"]["stats"]
        assert stats["stopReason"] == "userStopped"
        assert 1 <= stats["predictedTokensCount"] < 1000
        fragments = [f for f in llm.channel_packets(channel) if f["type"] == "fragment"]
        assert len(fragments) == stats["predictedTokensCount"]
        # A cancel after the end is ignored (no error, no second terminal message).
        await llm.channel_send(channel, {"type": "cancel"})
        assert await llm.rpc("listLoaded")


async def test_max_predicted_tokens(lms: LMStudioServer) -> None:
    async with connect(lms.url, "/llm") as llm:
        await load(llm)
        config = stack(llm__prediction__maxPredictedTokens={"checked": True, "value": 3})
        packets, _ = await _predict(llm, "!long 50", config)
        assert _content(packets) == "word0 word1 word2"
        stats = _success(packets)["stats"]
        assert stats["stopReason"] == "maxPredictedTokensReached"
        assert stats["predictedTokensCount"] == 3
        # An unchecked limit is no limit.
        config = stack(llm__prediction__maxPredictedTokens={"checked": False, "value": 3})
        packets, _ = await _predict(llm, "!long 5", config)
        assert _success(packets)["stats"]["stopReason"] == "eosFound"
        assert _content(packets) == "word0 word1 word2 word3 word4"


@pytest.mark.parametrize(
    ("stops", "expected", "stop"),
    [
        (["word3"], "word0 word1 word2 ", "word3"),
        (["d2 wo"], "word0 word1 wor", "d2 wo"),  # spans tokens: nothing of it leaks out
        ([" word1", "0"], "word", "0"),  # the earliest match wins
    ],
)
async def test_stop_strings(
    lms: LMStudioServer, stops: list[str], expected: str, stop: str
) -> None:
    async with connect(lms.url, "/llm") as llm:
        await load(llm)
        packets, _ = await _predict(llm, "!long 6", stack(llm__prediction__stopStrings=stops))
        assert _content(packets) == expected
        stats = _success(packets)["stats"]
        assert stats["stopReason"] == "stopStringFound"
        assert stats["stopString"] == stop


async def test_tool_call_directive(lms: LMStudioServer) -> None:
    async with connect(lms.url, "/llm") as llm:
        await load(llm)
        packets, end = await _predict(
            llm, '!tool add {"a": 1, "b": 2}', stack(llm__prediction__tools=TOOLS)
        )
        assert end["type"] == "channelClose"
        kinds = [p["type"] for p in packets]
        group = [k for k in kinds if k.startswith("toolCall")]
        assert group[0] == "toolCallGenerationStart"
        assert group[1] == "toolCallGenerationNameReceived"
        assert set(group[2:-1]) == {"toolCallGenerationArgumentFragmentGenerated"}
        assert group[-1] == "toolCallGenerationEnd"
        assert kinds[-1] == "success"
        start = packets[kinds.index("toolCallGenerationStart")]
        end_packet = packets[kinds.index("toolCallGenerationEnd")]
        request = end_packet["toolCallRequest"]
        assert request == {
            "type": "function",
            "name": "add",
            "arguments": {"a": 1, "b": 2},
            "id": start["toolCallId"],
        }
        arguments = "".join(
            p["content"]
            for p in packets
            if p["type"] == "toolCallGenerationArgumentFragmentGenerated"
        )
        assert arguments == '{"a": 1, "b": 2}'
        assert isinstance(end_packet["rawContent"], str)
        assert _success(packets)["stats"]["stopReason"] == "toolCalls"

        # Round 2 of the tool loop: the tool result ends the loop with a normal answer.
        history = {
            "messages": [
                {
                    "role": "user",
                    "content": [{"type": "text", "text": '!tool add {"a": 1, "b": 2}'}],
                },
                {
                    "role": "assistant",
                    "content": [
                        {"type": "text", "text": ""},
                        {"type": "toolCallRequest", "toolCallRequest": request},
                    ],
                },
                {
                    "role": "tool",
                    "content": [
                        {"type": "toolCallResult", "content": "3", "toolCallId": request["id"]}
                    ],
                },
            ]
        }
        params = predict_params("", config=stack(llm__prediction__tools=TOOLS))
        params["history"] = history
        packets, _ = await llm.run_channel("predict", params)
        assert _content(packets) == "Tool result: 3"
        assert _success(packets)["stats"]["stopReason"] == "eosFound"


async def test_tool_directive_failures(lms: LMStudioServer) -> None:
    async with connect(lms.url, "/llm") as llm:
        await load(llm)
        packets, _ = await _predict(llm, "!tool multiply {}", stack(llm__prediction__tools=TOOLS))
        failed = [p for p in packets if p["type"] == "toolCallGenerationFailed"]
        assert len(failed) == 1
        assert_error(failed[0]["error"])
        assert "multiply" in failed[0]["error"]["title"]
        packets, _ = await _predict(llm, "!tool add {oops", stack(llm__prediction__tools=TOOLS))
        assert [p["type"] for p in packets if p["type"] == "toolCallGenerationFailed"]
        # Without tools configured the directive is just text.
        packets, _ = await _predict(llm, "!tool add {}")
        assert _content(packets) == "You said: !tool add {}"
        assert _success(packets)["stats"]["stopReason"] == "eosFound"


async def test_error_directive_is_a_channel_error(lms: LMStudioServer) -> None:
    async with connect(lms.url, "/llm") as llm:
        await load(llm)
        channel = await llm.open_channel("predict", predict_params("!error"))
        end = await llm.channel_end(channel)
        assert end["type"] == "channelError"
        assert_error(end["error"])
        assert "!error" in end["error"]["title"]
        assert not [p for p in llm.channel_packets(channel) if p["type"] == "success"]
        # No close follows the error, and the socket still serves.
        assert [f["type"] for f in llm.channel_frames(channel)].count("channelClose") == 0
        packets, _ = await _predict(llm, "still here?")
        assert _content(packets) == "You said: still here?"


async def test_think_directive(lms: LMStudioServer) -> None:
    async with connect(lms.url, "/llm") as llm:
        await load(llm)
        packets, _ = await _predict(llm, "!think hello")
        fragments = [p["fragment"] for p in packets if p["type"] == "fragment"]
        types = [f["reasoningType"] for f in fragments]
        assert types[0] == "reasoningStartTag" and fragments[0]["content"] == "<think>"
        end_tag = types.index("reasoningEndTag")
        assert set(types[1:end_tag]) == {"reasoning"}
        assert fragments[end_tag]["content"] == "</think>"
        assert _content(packets, "reasoning") == "Let me think about that."
        assert _content(packets, "none") == "You said: hello"


async def test_complete_raw_text(lms: LMStudioServer) -> None:
    async with connect(lms.url, "/llm") as llm:
        await load(llm)
        params = {
            "modelSpecifier": by_identifier(LLM_KEY),
            "rawPrompt": "Once upon a time",
            "predictionConfigStack": stack(llm__prediction__stopStrings=[]),
        }
        packets, end = await llm.run_channel("completeRawText", params)
        assert end["type"] == "channelClose"
        assert packets[0]["type"] == "promptProcessingProgress"
        assert _content(packets) == " time a upon Once"
        assert_fields(_success(packets), SUCCESS_REQUIRED, set())
        params["rawPrompt"] = "!long 2"
        packets, _ = await llm.run_channel("completeRawText", params)
        assert _content(packets) == "word0 word1"


async def test_predict_with_complete_mode_formatting_is_a_raw_completion(
    lms: LMStudioServer,
) -> None:
    """How TS 1.x and the official Python SDK ask for a text completion."""
    async with connect(lms.url, "/llm") as llm:
        await load(llm)
        template = {
            "type": "jinja",
            "jinjaPromptTemplate": {
                "template": "{% for message in messages %}{{ message['content'] }}{% endfor %}",
                "bosToken": "",
                "eosToken": "",
            },
            "stopStrings": [],
        }
        config = stack(llm__prediction__maxPredictedTokens={"checked": True, "value": 10})
        config["layers"].append(
            {
                "layerName": "completeModeFormatting",
                "config": {"fields": [{"key": "llm.prediction.promptTemplate", "value": template}]},
            }
        )
        packets, _ = await _predict(llm, "Once upon a time", config)
        assert _content(packets) == " time a upon Once"


async def test_preset_is_not_found(lms: LMStudioServer) -> None:
    async with connect(lms.url, "/llm") as llm:
        await load(llm)
        params = predict_params("hi")
        params["fuzzyPresetIdentifier"] = "my preset"
        _, end = await llm.run_channel("predict", params)
        assert_error(end["error"], "generic.presetNotFound")


async def test_apply_prompt_template(lms: LMStudioServer) -> None:
    async with connect(lms.url, "/llm") as llm:
        await load(llm)
        param = {
            "specifier": by_identifier(LLM_KEY),
            "history": {
                "messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}]
            },
            "predictionConfigStack": {"layers": []},
            "opts": {},
        }
        result = await llm.rpc("applyPromptTemplate", param)
        assert result == {"formatted": "<s><|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"}
        param["opts"] = {"omitBosToken": True, "toolDefinitions": TOOLS["tools"]}
        formatted = (await llm.rpc("applyPromptTemplate", param))["formatted"]
        assert formatted.startswith("<|im_start|>system\n# Tools\n") and '"add"' in formatted


async def test_slow_prediction_does_not_block_other_calls(make_server: MakeServer) -> None:
    server = await make_server(ScriptedEngine(token_delay=0.05))
    async with connect(server.url, "/llm") as llm:
        await load(llm)
        channel = await llm.open_channel("predict", predict_params("!long 1000"))
        await llm.wait_for(lambda f: f.get("channelId") == channel)
        # These answer while the prediction streams (it would take 50 s to finish).
        count = await llm.rpc(
            "countTokens", {"specifier": by_identifier(LLM_KEY), "inputString": "a b c"}
        )
        assert count == {"tokenCount": 3}
        state = await llm.rpc(
            "getInstanceProcessingState",
            {"specifier": by_identifier(LLM_KEY), "throwIfNotFound": True},
        )
        assert state["status"] in ("processingPrompt", "generating")
        assert state["queued"] == 1  # the running one (the TypeScript SDK: "including the
        # current one")
        # A second prediction on the same instance queues behind the first.
        second = await llm.open_channel("predict", predict_params("queued"))

        def queued(frame: dict[str, Any]) -> bool:
            return frame.get("type") == "rpcResult" and frame["result"].get("queued") == 2

        async with asyncio.timeout(5):
            while True:
                frame = await llm.call(
                    "getInstanceProcessingState",
                    {"specifier": by_identifier(LLM_KEY), "throwIfNotFound": True},
                )
                if queued(frame):
                    break
        assert not llm.channel_frames(second)
        await llm.channel_send(channel, {"type": "cancel"})
        assert (await llm.channel_end(channel))["type"] == "channelClose"
        assert (await llm.channel_end(second))["type"] == "channelClose"
        assert _content(llm.channel_packets(second)) == "You said: queued"


async def test_unload_during_prediction_reports_model_unloaded(make_server: MakeServer) -> None:
    server = await make_server(ScriptedEngine(token_delay=0.01))
    async with connect(server.url, "/llm") as llm:
        await load(llm)
        channel = await llm.open_channel("predict", predict_params("!long 1000"))
        await llm.wait_for(
            lambda f: f.get("channelId") == channel and f["message"]["type"] == "fragment"
        )
        assert await llm.rpc("unloadModel", {"identifier": LLM_KEY}) is None
        await llm.channel_end(channel)
        assert _success(llm.channel_packets(channel))["stats"]["stopReason"] == "modelUnloaded"


async def test_socket_close_cancels_running_prediction(make_server: MakeServer) -> None:
    server = await make_server(ScriptedEngine(token_delay=0.01))
    async with connect(server.url, "/llm") as llm:
        await load(llm)
        channel = await llm.open_channel("predict", predict_params("!long 100000"))
        await llm.wait_for(
            lambda f: f.get("channelId") == channel and f["message"]["type"] == "fragment"
        )
        assert server.statistics().running_tasks == 1
    # The session ends only after every task it ran has finished.
    await asyncio.wait_for(ServerRecorder.of(server).wait_open_sockets(0), 5)
    instance = server.models.instance(LLM_KEY)
    assert instance is not None
    assert instance.active == 0 and instance.status == "idle"
    assert server.statistics().running_tasks == 0


def _cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


async def test_embed_string(lms: LMStudioServer) -> None:
    async with connect(lms.url, "/embedding") as emb:
        await load(emb, EMBED_KEY)

        async def embed(text: str) -> list[float]:
            result = await emb.rpc(
                "embedString", {"modelSpecifier": by_identifier(EMBED_KEY), "inputString": text}
            )
            assert set(result) == {"embedding"}
            vector: list[float] = result["embedding"]
            return vector

        cat = await embed("the cat sat on the mat")
        assert len(cat) == 64
        assert math.isclose(math.sqrt(sum(v * v for v in cat)), 1.0, rel_tol=1e-9)
        assert await embed("the cat sat on the mat") == cat
        similar = _cosine(cat, await embed("a cat on a mat"))
        unrelated = _cosine(cat, await embed("quantum chromodynamics lectures"))
        assert similar > unrelated
        assert similar > 0.4
        error = await emb.rpc_error(
            "embedString", {"modelSpecifier": by_identifier(LLM_KEY), "inputString": "x"}
        )
        assert_error(error, "generic.noModelMatchingQuery")
        error = await emb.rpc_error(
            "embedString",
            {"modelSpecifier": by_identifier(EMBED_KEY), "inputString": "word " * 600},
        )
        assert "context" in error["title"]


async def test_predict_on_embedding_namespace_does_not_exist(lms: LMStudioServer) -> None:
    async with connect(lms.url, "/embedding") as emb:
        _, end = await emb.run_channel("predict", predict_params("hi", config=EMPTY_STACK))
        assert end["type"] == "channelError"
        await emb.wait_warning("channelEndpointUnknown")
