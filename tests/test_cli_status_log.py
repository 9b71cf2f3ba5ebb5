"""`lmstudio-sdk status` and `lmstudio-sdk log stream` against a scripted server."""

from __future__ import annotations

import json
import os
import threading

import pytest

import lmstudio_sdk as lms
from lmstudio_sdk.cli import main
from tests.conftest import RunningServer, ServerProcess, free_port

ECHO = "scripted-echo-1b"


def test_status_text(server: RunningServer, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["status", "--host", server.url])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert f"pid {os.getpid()}" in out
    assert "engine:   lmstudio-sdk-scripted" in out
    assert f"{os.cpu_count()} logical cores" in out and "CPU only" in out


def test_status_json(server: RunningServer, capsys: pytest.CaptureFixture[str]) -> None:
    with lms.Client(server.url) as client:
        loaded = client.llm.model(ECHO).identifier
    assert main(["status", "--host", server.url, "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["info"]["pid"] == os.getpid()
    assert status["engines"][0]["engine"] == "scripted"
    assert status["hardware"]["status"] == "ok"
    assert loaded in status["loaded"]


def test_status_of_no_server_is_an_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["status", "--host", "127.0.0.1:9"]) == 1
    assert "error:" in capsys.readouterr().err


def test_log_stream_prints_a_prediction(
    server: RunningServer, capsys: pytest.CaptureFixture[str]
) -> None:
    codes: list[int] = []
    streaming = threading.Thread(
        target=lambda: codes.append(
            main(["log", "stream", "--host", server.url, "--json", "--count", "3"])
        )
    )
    streaming.start()
    with lms.Client(server.url, timeout=10) as client:
        model = client.llm.model(ECHO)
        for _ in range(50):  # until a prediction ran after the subscription took effect
            model.respond("cli logs")
            streaming.join(timeout=0.2)
            if not streaming.is_alive():
                break
    streaming.join(timeout=10)
    assert codes == [0]
    events = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    kinds = [e["data"]["type"] for e in events]
    assert kinds[0] == "server.log" and "subscribed" in events[0]["data"]["content"]
    # A prediction already running when the subscription took effect shows only its output.
    assert set(kinds[1:]) <= {"llm.prediction.input", "llm.prediction.output"}
    outputs = [e["data"]["output"] for e in events if e["data"]["type"] == "llm.prediction.output"]
    assert outputs and set(outputs) == {"You said: cli logs"}


def test_log_stream_refuses_a_bad_count(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["log", "stream", "--count", "0"])
    assert "positive" in capsys.readouterr().err


def test_serve_exits_when_a_token_holder_requests_shutdown() -> None:
    token = "sk-lm-abcdEFGH:abcdefghijABCDEFGHIJ"
    proc = ServerProcess(free_port(), "--api-token", token)
    proc.start()
    try:
        assert proc.process is not None
        with lms.Client(proc.url, api_token=token, timeout=10) as client:
            client.system.request_shutdown()
            client.system.when_disconnected(timeout=10)
        assert proc.process.wait(timeout=15) == 0
    finally:
        proc.kill()
