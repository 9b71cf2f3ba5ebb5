"""LoadState: the loadModel / getOrLoad channels as packets in, progress values out."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from msgspec import Raw

from lmstudio_sdk._exceptions import RemoteProtocolError
from lmstudio_sdk._protocol.loading import LoadState
from lmstudio_sdk._protocol.packets.shared import EmbeddingModelInstanceInfo, LLMInstanceInfo

INFO = {
    "type": "llm",
    "modelKey": "qwen2.5-0.5b-instruct",
    "format": "gguf",
    "displayName": "Qwen2.5 0.5B Instruct",
    "path": "lmstudio-community/Qwen2.5-0.5B-Instruct-GGUF/Qwen2.5-0.5B-Instruct-Q4_K_M.gguf",
    "sizeBytes": 397808192,
    "maxContextLength": 32768,
}
INSTANCE = {
    **INFO,
    "identifier": "my-qwen",
    "instanceReference": "inst-ref-0001",
    "contextLength": 8192,
}
EMBEDDING_INSTANCE = {
    **INSTANCE,
    "type": "embedding",
    "identifier": "nomic",
    "modelKey": "text-embedding-nomic-embed-text-v1.5",
}


def packet(value: dict[str, Any]) -> Raw:
    return Raw(json.dumps(value).encode())


def run(state: LoadState[Any], *packets: dict[str, Any]) -> list[list[float]]:
    return [state.feed(packet(p)) for p in packets]


def test_load_model_sequence() -> None:
    # Shape of traffic-ts2.jsonl lines 45-49.
    state = LoadState(LLMInstanceInfo)
    assert run(
        state,
        {"type": "resolved", "info": INFO},
        {"type": "progress", "progress": 0.25},
        {"type": "progress", "progress": 1},
    ) == [[], [0.25], [1.0]]
    assert not state.finished
    assert run(state, {"type": "success", "info": INSTANCE}) == [[]]  # 1.0 already reported
    assert state.finished
    assert state.already_loaded is False
    assert isinstance(state.instance, LLMInstanceInfo)
    assert state.instance.identifier == "my-qwen"
    assert state.instance.context_length == 8192
    state.channel_closed()


def test_get_or_load_sequence_with_jit_load() -> None:
    state = LoadState(LLMInstanceInfo)
    assert run(
        state,
        {"type": "startLoading", "identifier": "load-me", "info": INFO},
        {"type": "unloadingOtherJITModel", "info": INSTANCE},
        {"type": "loadProgress", "progress": 0.5},
        {"type": "loadSuccess", "info": INSTANCE},
    ) == [[], [], [0.5], [1.0]]
    assert state.already_loaded is False


def test_already_loaded_reports_no_progress() -> None:
    state = LoadState(EmbeddingModelInstanceInfo)
    assert run(state, {"type": "alreadyLoaded", "info": EMBEDDING_INSTANCE}) == [[]]
    assert state.already_loaded is True
    assert isinstance(state.instance, EmbeddingModelInstanceInfo)
    assert state.instance.identifier == "nomic"


def test_progress_only_rises_is_clamped_and_ends_at_one() -> None:
    state = LoadState(LLMInstanceInfo)
    assert run(
        state,
        {"type": "progress", "progress": -0.5},
        {"type": "progress", "progress": 0},
        {"type": "progress", "progress": 0.3},
        {"type": "loadProgress", "progress": 0.3},
        {"type": "progress", "progress": 0.2},
        {"type": "loadProgress", "progress": 0.9},
        {"type": "progress", "progress": 7},
        {"type": "progress", "progress": 1},
        {"type": "success", "info": INSTANCE},
    ) == [[], [], [0.3], [], [], [0.9], [1.0], [], []]


def test_success_without_progress_still_ends_at_one() -> None:
    state = LoadState(LLMInstanceInfo)
    assert run(
        state, {"type": "progress", "progress": 0.4}, {"type": "success", "info": INSTANCE}
    ) == [
        [0.4],
        [1.0],
    ]


def test_ambiguous_resolution_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    state = LoadState(LLMInstanceInfo)
    with caplog.at_level(logging.INFO, logger="lmstudio_sdk.protocol"):
        assert run(
            state,
            {"type": "resolved", "info": INFO, "ambiguous": ["a", "b"]},
            {"type": "resolved", "info": INFO, "ambiguous": []},
            {"type": "downloadProgress", "progress": 0.5},
            {"type": "progress"},
        ) == [[], [], [], []]
    assert [(r.levelname, r.getMessage()) for r in caplog.records] == [
        ("WARNING", "model key is ambiguous, LM Studio chose the first of ['a', 'b']"),
        ("INFO", "ignoring an unknown load packet type 'downloadProgress'"),
        ("INFO", "ignoring an unknown load packet type 'progress'"),
    ]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"type": "success"}, "LM Studio's 'success' packet has no model info"),
        (
            {"type": "alreadyLoaded", "info": None},
            "LM Studio sent an invalid model info when loading: ",
        ),
        (
            {"type": "loadSuccess", "info": INFO},
            "LM Studio sent an invalid model info when loading: ",
        ),
        (
            {"type": "success", "info": EMBEDDING_INSTANCE},
            "LM Studio sent an invalid model info when loading: ",
        ),
        ({"progress": 0.5}, "LM Studio sent an invalid load packet: "),
        ({"type": "progress", "progress": "half"}, "LM Studio sent an invalid load packet: "),
    ],
)
def test_invalid_packets_are_the_servers_protocol_error(
    value: dict[str, Any], message: str
) -> None:
    state = LoadState(LLMInstanceInfo)
    with pytest.raises(RemoteProtocolError) as info:
        state.feed(packet(value))
    assert str(info.value).startswith(message)
    assert not state.finished


def test_a_non_object_packet_is_a_protocol_error() -> None:
    with pytest.raises(RemoteProtocolError, match=r"^LM Studio sent an invalid load packet: "):
        LoadState(LLMInstanceInfo).feed(Raw(b"[]"))


def test_channel_close_before_the_model_loaded_is_a_protocol_error() -> None:
    state = LoadState(LLMInstanceInfo)
    run(state, {"type": "progress", "progress": 0.5})
    with pytest.raises(
        RemoteProtocolError, match=r"^LM Studio closed the load channel before the model loaded$"
    ):
        state.channel_closed()
