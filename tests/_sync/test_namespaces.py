# GENERATED from tests/_async/test_namespaces.py by scripts/unasync.py. Do not edit: edit the source.
"""client.system, client.runtime and client.diagnostics against the embedded server (scripted
engine), over real loopback WebSockets. Written once for the async face;
``scripts/unasync.py`` generates the sync twin.
"""

from __future__ import annotations

import os
import platform
import uuid
from collections.abc import Iterator

import pytest

import lmstudio_sdk as lms
from lmstudio_sdk.server import ServerThread
from lmstudio_sdk.server.engines.scripted import ScriptedEngine
from tests.conftest import API_TOKEN, RunningServer

ECHO = "scripted-echo-1b"


@pytest.fixture
def client(server: RunningServer) -> Iterator[lms.Client]:
    with lms.Client(server.url, timeout=10) as client:
        yield client


# -- system -------------------------------------------------------------------------------------


def test_info_names_this_process(client: lms.Client) -> None:
    info = client.system.get_info()
    assert info.pid == os.getpid()  # the ServerThread runs in this process
    assert info.is_daemon is True
    assert info.version == (client.system.get_lmstudio_version()).version


def test_notify_and_variants(client: lms.Client) -> None:
    client.system.notify("Job done", description="all of it", no_auto_dismiss=True)
    variants = client.system.list_downloaded_model_variants(ECHO)
    assert [v.model_key for v in variants] == [ECHO]
    with pytest.raises(lms.ModelNotFoundError):
        client.system.list_downloaded_model_variants("no-such-model")


def test_experiment_flags_round_trip(client: lms.Client) -> None:
    code = f"test-flag-{uuid.uuid4().hex[:8]}"
    client.system.set_experiment_flag(code, True)
    assert code in client.system.get_experiment_flags()
    client.system.set_experiment_flag(code, False)
    assert code not in client.system.get_experiment_flags()


def test_http_server_is_not_supported_and_says_why(client: lms.Client) -> None:
    with pytest.raises(lms.NotSupportedByServerError, match="startHttpServer") as started:
        client.system.start_http_server(port=1234)
    assert started.value.data.cause and "HTTP" in started.value.data.cause
    with pytest.raises(lms.NotSupportedByServerError, match="stopHttpServer"):
        client.system.stop_http_server()


def test_a_guest_may_not_shut_the_server_down(client: lms.Client) -> None:
    with pytest.raises(lms.PermissionDeniedError, match="API token"):
        client.system.request_shutdown()
    assert (client.system.get_info()).pid == os.getpid()  # still serving


def test_shutdown_from_a_token_holder_and_when_disconnected() -> None:
    with ServerThread(engine_factory=ScriptedEngine, port=0, api_token=API_TOKEN) as handle:
        with lms.Client(handle.url, api_token=API_TOKEN, timeout=10) as client:
            with pytest.raises(lms.LMStudioTimeoutError):
                client.system.when_disconnected(timeout=0.3)  # still there
            client.system.request_shutdown()
            client.system.when_disconnected(timeout=10)
            with pytest.raises(lms.LMStudioConnectionError):
                client.system.get_info()


# -- runtime ------------------------------------------------------------------------------------


def test_engines_and_selections(client: lms.Client) -> None:
    [engine] = client.runtime.list_engines()
    assert engine.name == "lmstudio-sdk-scripted"
    assert engine.supported_model_format_names == ["GGUF"]
    selections = client.runtime.get_engine_selections()
    assert selections == {"GGUF": lms.EngineSpecifier(name=engine.name, version=engine.version)}
    client.runtime.select_engine(selections["GGUF"], "GGUF")  # the one it runs: fine
    other = lms.EngineSpecifier(name="llama.cpp-cuda", version="1.0.0")
    with pytest.raises(lms.NotSupportedByServerError, match="selectEngine"):
        client.runtime.select_engine(other, "GGUF")


def test_survey_reports_this_machine(client: lms.Client) -> None:
    survey = client.runtime.survey_hardware()
    assert survey.status == "ok"
    [engine] = survey.engines
    assert engine.engine == "scripted"
    assert engine.hardware_survey is not None
    cpu = engine.hardware_survey.cpu_survey_result.cpu_info
    assert cpu is not None
    arch = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "ARM64", "arm64": "ARM64"}
    assert cpu.architecture == arch.get(platform.machine().lower(), "unknown")
    gpus = engine.hardware_survey.gpu_survey_result
    assert gpus.gpu_info == [] and gpus.result.code == "noDevicesFound"
    assert engine.memory_info is not None
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    assert abs(engine.memory_info.ram_capacity - memory) < memory * 0.05
    assert engine.compatibility.message and f"{os.cpu_count()} logical cores" in (
        engine.compatibility.message
    )
    assert (client.runtime.survey_hardware("all")).engines == survey.engines


# -- diagnostics --------------------------------------------------------------------------------


def _subscribed(stream: lms.LogStream) -> None:
    """Read up to the server's record of this subscription: from here on nothing is missed."""
    for event in stream:
        if isinstance(event.data, lms.ServerLog) and "subscribed" in event.data.content:
            return
    raise AssertionError("the stream ended before the subscription was confirmed")


def _prediction_events(
    stream: lms.LogStream, identifier: str
) -> tuple[lms.PredictionInputLog, lms.PredictionOutputLog]:
    seen_input = None
    for event in stream:
        data = event.data
        if isinstance(data, lms.PredictionInputLog) and data.model_identifier == identifier:
            seen_input = data
        if isinstance(data, lms.PredictionOutputLog) and data.model_identifier == identifier:
            assert seen_input is not None, "the output came before the input"
            return seen_input, data
    raise AssertionError("the stream ended before the prediction's output")


def test_stream_logs_sees_every_prediction_on_every_subscriber(
    client: lms.Client,
) -> None:
    model = client.llm.model(ECHO)
    first = client.diagnostics.stream_logs(timeout=10)
    second = client.diagnostics.stream_logs(timeout=10)
    _subscribed(first)
    _subscribed(second)
    result = model.respond("log me")
    for stream in (first, second):
        seen_input, output = _prediction_events(stream, model.identifier)
        assert "log me" in seen_input.input
        assert seen_input.model_path
        assert output.output == result.content
        assert output.stats is not None
        assert output.stats.predicted_tokens_count == result.stats.predicted_tokens_count
    first.stop()
    for _ in first:  # drains what came before the server closed the subscription
        pass
    assert first.finished
    second.close()
    assert second.finished


def test_stream_logs_callback_form(client: lms.Client) -> None:
    model = client.llm.model(ECHO)
    events: list[lms.LogEvent] = []

    def on_log(event: lms.LogEvent) -> None:
        events.append(event)
        data = event.data
        if isinstance(data, lms.PredictionOutputLog) and data.model_identifier == model.identifier:
            stream.stop()

    stream = client.diagnostics.stream_logs(on_log=on_log)
    for _ in range(50):  # until a prediction ran after the subscription took effect
        model.respond("call me back")
        if stream.finished:
            break
    stream.wait(timeout=10)
    kinds = [type(e.data) for e in events]
    assert lms.PredictionInputLog in kinds and lms.PredictionOutputLog in kinds
    assert stream.failure is None


def test_a_failing_log_callback_ends_the_stream_with_its_error(
    client: lms.Client,
) -> None:
    def on_log(event: lms.LogEvent) -> None:
        raise ValueError("bad callback")

    stream = client.diagnostics.stream_logs(on_log=on_log)
    with pytest.raises(ValueError, match="bad callback"):
        stream.wait(timeout=10)  # the subscription notice reaches the callback
    with pytest.raises(lms.LocalProtocolError):
        for _ in stream:
            pass
