# GENERATED from tests/_async/test_misuse.py by scripts/unasync.py. Do not edit: edit the source.
"""Misuse of a client against the embedded server: a typed error that says what happened,
never a silent reconnect, a hang, or an error that blames the wrong thing. Written once for
the async face; ``scripts/unasync.py`` generates the sync twin."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import lmstudio_sdk as lms
from tests.conftest import RunningServer

ECHO = "scripted-echo-1b"


def test_a_closed_client_refuses_every_call(server: RunningServer) -> None:
    client = lms.Client(server.url, timeout=10)
    model = client.llm.model(ECHO)
    client.close()
    calls: list[tuple[Callable[..., Any], tuple[Any, ...]]] = [
        (model.respond, ("hi",)),
        (client.llm.model, (ECHO,)),
        (client.llm.list_loaded, ()),
        (client.system.get_lmstudio_version, ()),
        (client.embedding.list_loaded, ()),
        (client.files.prepare_file, (Path(__file__),)),
        (client.rpc, ("system", "version")),
        (client.open_channel, ("llm", "getOrLoad", {"identifier": ECHO})),
    ]
    for call, args in calls:
        with pytest.raises(lms.LMStudioClientClosedError, match="Client is closed"):
            call(*args)
    client.close()  # closing again is harmless
    with pytest.raises(lms.LMStudioClientClosedError, match=r"close\(\)"):
        with client:
            pass


def test_leaving_the_context_closes_the_client(server: RunningServer) -> None:
    with lms.Client(server.url, timeout=10) as client:
        assert client.system.get_lmstudio_version()
    with pytest.raises(lms.LMStudioClientClosedError):
        client.system.get_lmstudio_version()


def test_a_trailing_slash_still_connects(server: RunningServer) -> None:
    with lms.Client(f"127.0.0.1:{server.port}/", timeout=10) as client:
        assert client.system.get_lmstudio_version()
        assert client.base_url == f"ws://127.0.0.1:{server.port}"


def test_a_wrong_path_prefix_is_not_an_authentication_error(server: RunningServer) -> None:
    with lms.Client(f"{server.url}/lmstudio", timeout=10) as client:
        with pytest.raises(lms.LMStudioConnectionError) as caught:
            client.system.get_lmstudio_version()
    assert not isinstance(caught.value, lms.AuthenticationError)
    message = str(caught.value)
    assert f"{server.url}/lmstudio/system" in message
    assert "HTTP 403" in message and "path" in message


def test_the_escape_hatch_checks_its_arguments(server: RunningServer) -> None:
    with lms.Client(server.url, timeout=10) as client:
        with pytest.raises(lms.LMStudioValueError, match="endpoint must be a string"):
            client.rpc("system", 5)  # type: ignore[arg-type]
        with pytest.raises(lms.LMStudioValueError, match="namespace must be a string"):
            client.open_channel(None, "getOrLoad")  # type: ignore[arg-type]
        with pytest.raises(lms.LMStudioValueError, match="cannot be sent as JSON"):
            client.rpc("system", "version", object())
        channel = client.open_channel(
            "llm", "getOrLoad", {"identifier": ECHO, "loadConfigStack": {"layers": []}}
        )
        with pytest.raises(lms.LMStudioValueError, match="timeout=-1"):
            channel.receive_value(-1)
        with pytest.raises(lms.LMStudioValueError, match="cannot be sent as JSON"):
            channel.send(object())
        while channel.receive_value(5) is not None:
            pass
        # Nothing above reached the server as garbage: the socket still answers.
        assert client.system.get_lmstudio_version()


# -- keyword arguments, argument types, callbacks, structured output ---------------------------


def test_raw_completions_take_no_tools_nor_reasoning_budget(
    server: RunningServer,
) -> None:
    with lms.Client(server.url, timeout=10) as client:
        model = client.llm.model(ECHO)
        configs: list[lms.LlmPredictionConfigDict] = [
            {"raw_tools": {"type": "toolArray", "tools": []}},
            {"tool_choice": "required"},
            {"reasoning_budget": 100},
        ]
        for config in configs:
            with pytest.raises(lms.LMStudioValueError, match=r"use respond\(\) or act\(\)"):
                model.complete("hi", config=config)
            with pytest.raises(lms.LMStudioValueError, match="complete_stream"):
                model.complete_stream("hi", config=config)
        # An unchecked budget is no budget.
        model.complete("hi", config={"reasoning_budget": False, "max_tokens": 2})


def test_unknown_prediction_keywords_are_refused(server: RunningServer) -> None:
    with lms.Client(server.url, timeout=10) as client:
        model = client.llm.model(ECHO)
        with pytest.raises(lms.LMStudioValueError, match=r"config=, e\.g\. config=\{'max_tokens'"):
            model.respond("!long 50", max_tokens=3)  # type: ignore[call-overload]
        with pytest.raises(lms.LMStudioValueError, match=r"use respond_stream\(\) to stream"):
            model.respond("hi", stream=True)  # type: ignore[call-overload]
        with pytest.raises(lms.LMStudioValueError, match=r"use complete_stream\(\)"):
            model.complete("hi", stream=True)  # type: ignore[call-overload]
        with pytest.raises(lms.LMStudioValueError, match="did you mean 'on_fragment'"):
            model.respond_stream("hi", on_fragmnt=print)  # type: ignore[call-overload]
        with pytest.raises(lms.LMStudioValueError, match="did you mean 'timeout'"):
            model.tokenize("hi", timeot=3)  # type: ignore[call-overload]
        with pytest.raises(lms.LMStudioValueError, match="preset must be a string"):
            model.respond("hi", preset=5)  # type: ignore[call-overload]
        with pytest.raises(lms.LMStudioValueError, match="on_fragment must be a function"):
            model.respond("hi", on_fragment="print")  # type: ignore[call-overload]
        with pytest.raises(lms.LMStudioValueError, match="max_tokens must be a positive integer"):
            model.respond("hi", config={"max_tokens": -5})
        with pytest.raises(lms.ConfigKeyError, match="did you mean 'json_schema'"):
            model.respond(  # type: ignore[call-overload]
                "hi",
                config={"structured": {"type": "json", "json_schem": {}}},
            )
        assert (
            model.respond("!long 50", config={"max_tokens": 3})
        ).stats.predicted_tokens_count == 3


def test_wrong_argument_types_are_refused_before_sending(server: RunningServer) -> None:
    with lms.Client(server.url, timeout=10) as client:
        # Loaded explicitly: a JIT load of the embedder would evict a JIT-loaded LLM.
        model = client.llm.load(ECHO)
        embedder = client.embedding.model("scripted-embed-small")
        with pytest.raises(lms.LMStudioValueError, match="not bytes"):
            model.tokenize(b"abc")  # type: ignore[arg-type]
        with pytest.raises(lms.LMStudioValueError, match="item 1 is a int"):
            model.tokenize(["a", 2])  # type: ignore[list-item]
        with pytest.raises(lms.LMStudioValueError, match="must be a string, not NoneType"):
            model.count_tokens(None)  # type: ignore[arg-type]
        with pytest.raises(lms.LMStudioValueError, match="not int"):
            embedder.embed(123)  # type: ignore[call-overload]
        with pytest.raises(lms.LMStudioValueError, match="ttl must be a positive number"):
            client.llm.model(ECHO, ttl="long")  # type: ignore[arg-type]
        with pytest.raises(lms.LMStudioValueError, match="must be a path, bytes or a binary"):
            client.files.prepare_file(42)  # type: ignore[arg-type]
        assert model.tokenize(["a", "b"])  # the socket is still fine


def test_structured_output_cut_off_is_a_typed_error(server: RunningServer) -> None:
    with lms.Client(server.url, timeout=10) as client:
        model = client.llm.model(ECHO)
        schema: dict[str, Any] = {"type": "object"}
        result = model.respond(
            '{"name": "a long name"}',
            config={"structured": {"type": "json", "jsonSchema": schema}, "max_tokens": 2},
        )
        with pytest.raises(lms.StructuredOutputError, match="max_tokens cut it off") as caught:
            result.parsed  # noqa: B018
        assert caught.value.raw_text == result.content
        assert caught.value.stop_reason == "maxPredictedTokensReached"
        assert isinstance(caught.value, ValueError)


def test_another_context_length_of_a_loaded_model_is_reported(
    server: RunningServer,
) -> None:
    with lms.Client(server.url, timeout=10) as client:
        loaded = client.llm.load(ECHO, config={"context_length": 1024})
        try:
            with pytest.warns(UserWarning, match="context length 1024, not the 2048 asked for"):
                same = client.llm.model(loaded.identifier, config={"context_length": 2048})
            assert same.identifier == loaded.identifier
        finally:
            loaded.unload()
