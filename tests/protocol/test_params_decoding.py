"""Request parameters as packet structs; results: decode_result and decode_model_list."""

from __future__ import annotations

import json
import logging
from typing import Any

import msgspec
import pytest
from msgspec import UNSET, Raw

from lmstudio_sdk._exceptions import RemoteProtocolError
from lmstudio_sdk._protocol.chat import message_data
from lmstudio_sdk._protocol.packets.embedding import EmbedStringParameter
from lmstudio_sdk._protocol.packets.llm import (
    ApplyPromptTemplateOpts,
    ApplyPromptTemplateParameter,
    PredictCreationParameter,
)
from lmstudio_sdk._protocol.packets.shared import (
    ChatHistoryData,
    CountTokensResult,
    EmbeddingModelInfo,
    EmbeddingModelInstanceInfo,
    GetModelInfoParameter,
    GetOrLoadCreationParameter,
    InstanceReferenceSpecifier,
    KVConfig,
    KVConfigLayer,
    KVConfigStack,
    LLMInfo,
    LLMInstanceInfo,
    LoadModelCreationParameter,
    ModelQuery,
    QuerySpecifier,
    TextPart,
    TokenizeResult,
    UnloadModelParameter,
)
from lmstudio_sdk._protocol.results import (
    LMStudioVersion,
    decode_kv_config,
    decode_model_list,
    decode_result,
    decode_version,
)
from lmstudio_sdk._protocol.tolerance import fill_model_info

LLM = {
    "type": "llm",
    "modelKey": "qwen2.5-0.5b-instruct",
    "format": "gguf",
    "displayName": "Qwen2.5 0.5B Instruct",
    "path": "lmstudio-community/Qwen2.5-0.5B-Instruct-GGUF/Qwen2.5-0.5B-Instruct-Q4_K_M.gguf",
    "sizeBytes": 397808192,
    "maxContextLength": 32768,
}
EMBEDDING = {**LLM, "type": "embedding", "modelKey": "nomic"}
INSTANCE = {"identifier": "i", "instanceReference": "r", "contextLength": 4096}


def raw(value: Any) -> Raw:
    return Raw(json.dumps(value).encode())


def wire(params: msgspec.Struct) -> Any:
    return json.loads(msgspec.json.encode(params))


# -- parameters (recorded client frames) ------------------------------------------------------


def test_get_model_info_params_match_the_py_recording() -> None:
    params = GetModelInfoParameter(
        specifier=QuerySpecifier(query=ModelQuery(identifier="missing-model")),
        throw_if_not_found=True,
    )
    assert wire(params) == {
        "specifier": {"type": "query", "query": {"identifier": "missing-model"}},
        "throwIfNotFound": True,
    }


def test_get_or_load_params_match_the_py_recording() -> None:
    params = GetOrLoadCreationParameter(
        identifier="load-me",
        load_config_stack=KVConfigStack(
            layers=[KVConfigLayer(layer_name="apiOverride", config=KVConfig(fields=[]))]
        ),
        load_ttl_ms=3600000,
    )
    assert wire(params) == {
        "identifier": "load-me",
        "loadConfigStack": {"layers": [{"layerName": "apiOverride", "config": {"fields": []}}]},
        "loadTtlMs": 3600000,
    }


def test_optional_params_are_omitted_not_null() -> None:
    assert wire(
        LoadModelCreationParameter(model_key="k", load_config_stack=KVConfigStack(layers=[]))
    ) == {
        "modelKey": "k",
        "loadConfigStack": {"layers": []},
    }
    assert wire(UnloadModelParameter(identifier="my-qwen")) == {"identifier": "my-qwen"}
    assert wire(
        EmbedStringParameter(
            model_specifier=InstanceReferenceSpecifier(instance_reference="inst-ref-0002"),
            input_string="hello",
        )
    ) == {
        "modelSpecifier": {"type": "instanceReference", "instanceReference": "inst-ref-0002"},
        "inputString": "hello",
    }


def test_predict_and_apply_prompt_template_params() -> None:
    history = ChatHistoryData(messages=[message_data("user", [TextPart(text="hi")])])
    spec = InstanceReferenceSpecifier(instance_reference="inst-ref-0001")
    stack = KVConfigStack(layers=[])
    assert wire(
        PredictCreationParameter(
            model_specifier=spec, history=history, prediction_config_stack=stack
        )
    ) == {
        "modelSpecifier": {"type": "instanceReference", "instanceReference": "inst-ref-0001"},
        "history": {"messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}]},
        "predictionConfigStack": {"layers": []},
    }
    # PY 1.5 sends "opts": {} by default.
    assert (
        wire(
            ApplyPromptTemplateParameter(
                specifier=spec,
                history=history,
                prediction_config_stack=stack,
                opts=ApplyPromptTemplateOpts(),
            )
        )["opts"]
        == {}
    )


# -- results ----------------------------------------------------------------------------------


def test_decode_result() -> None:
    assert decode_result(
        raw({"tokenCount": 5}), CountTokensResult, "countTokens"
    ) == CountTokensResult(token_count=5)
    assert decode_result(raw({"tokens": [9707, 11, 1879]}), TokenizeResult, "tokenize").tokens == [
        9707,
        11,
        1879,
    ]
    assert decode_version(raw({"version": "0.3.99", "build": 1})) == (
        LMStudioVersion(version="0.3.99", build=1)
    )
    assert decode_version(raw({"version": "0.4.0", "extra": 1})).build == 0


def test_a_void_result_where_one_is_needed_is_a_protocol_error() -> None:
    with pytest.raises(RemoteProtocolError, match=r"^LM Studio sent no result for countTokens$"):
        decode_result(UNSET, CountTokensResult, "countTokens")


@pytest.mark.parametrize("value", [{"tokenCount": "5"}, {}, [5], None])
def test_an_unusable_result_is_a_protocol_error(value: Any) -> None:
    with pytest.raises(
        RemoteProtocolError, match=r"^LM Studio sent an invalid result for countTokens: "
    ):
        decode_result(raw(value), CountTokensResult, "countTokens")


def test_decode_model_list_by_domain() -> None:
    items = [LLM, EMBEDDING]
    assert decode_model_list(raw(items), "listDownloadedModels", instances=False) == [
        msgspec.convert(fill_model_info(LLM), LLMInfo),
        msgspec.convert(fill_model_info(EMBEDDING), EmbeddingModelInfo),
    ]
    instances = decode_model_list(
        raw([{**LLM, **INSTANCE}, {**EMBEDDING, **INSTANCE}]), "listLoaded", instances=True
    )
    assert [type(m) for m in instances] == [LLMInstanceInfo, EmbeddingModelInstanceInfo]
    assert decode_model_list(raw([]), "listLoaded", instances=True) == []


def test_unknown_domains_are_skipped_and_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    items = [{"type": "drafter"}, LLM, {"type": "imageGen", "x": 1}, {"type": "drafter"}]
    with caplog.at_level(logging.INFO, logger="lmstudio_sdk.protocol"):
        models = decode_model_list(raw(items), "listDownloadedModels", instances=False)
        decode_model_list(raw(items), "listDownloadedModels", instances=False)
    assert [m.model_key for m in models] == ["qwen2.5-0.5b-instruct"]
    assert [r.getMessage() for r in caplog.records] == [
        "skipping models of a domain this SDK does not know: 'drafter'",
        "skipping models of a domain this SDK does not know: 'imageGen'",
    ]


def test_unknown_model_formats_pass_through_and_are_logged_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    items = [{**LLM, "format": "yuzu2"}, {**EMBEDDING, "format": "yuzu2"}, {**LLM, "format": "mlx"}]
    with caplog.at_level(logging.INFO, logger="lmstudio_sdk.protocol"):
        models = decode_model_list(raw(items), "listDownloadedModels", instances=False)
    assert [m.format for m in models] == ["yuzu2", "yuzu2", "mlx"]
    assert [r.getMessage() for r in caplog.records] == [
        "LM Studio sent format='yuzu2', which this SDK does not know; passing it through",
        "LM Studio sent format='mlx', which this SDK does not know; passing it through",
    ]


def test_items_without_a_usable_domain_are_skipped_and_logged_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    items = [
        {"modelKey": "no-type"},
        {"type": None},
        {"type": 3},
        {"type": ["llm"]},
        {"type": {}},
        LLM,
    ]
    with caplog.at_level(logging.INFO, logger="lmstudio_sdk.protocol"):
        models = decode_model_list(raw(items), "listLoaded", instances=False)
        decode_model_list(raw(items), "listLoaded", instances=False)
    assert [m.model_key for m in models] == ["qwen2.5-0.5b-instruct"]
    assert [r.getMessage() for r in caplog.records] == [
        "skipping models of a domain this SDK does not know: None",
        "skipping models of a domain this SDK does not know: 3",
        "skipping models of a domain this SDK does not know: ['llm']",
        "skipping models of a domain this SDK does not know: {}",
    ]


@pytest.mark.parametrize(
    "value",
    [
        {"not": "a list"},
        [1],
        ["llm"],
        [None],
        [[LLM]],
        [{**LLM, "sizeBytes": "big"}],
        [{"type": "llm"}],
    ],
)
def test_an_unusable_model_list_is_a_protocol_error(value: Any) -> None:
    with pytest.raises(
        RemoteProtocolError, match=r"^LM Studio sent an invalid result for listLoaded: "
    ):
        decode_model_list(raw(value), "listLoaded", instances=False)


def test_a_void_model_list_is_a_protocol_error() -> None:
    with pytest.raises(RemoteProtocolError, match=r"^LM Studio sent no result for listLoaded$"):
        decode_model_list(UNSET, "listLoaded", instances=True)


def test_an_empty_kv_config_may_come_without_its_field_list() -> None:
    assert decode_kv_config(raw({}), "getLoadConfig") == KVConfig(fields=[])
    with pytest.raises(RemoteProtocolError, match=r"invalid result for getLoadConfig: "):
        decode_kv_config(raw({"fields": 1}), "getLoadConfig")
