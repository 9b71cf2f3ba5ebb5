"""The traffic log (`serve --record FILE`, `LMStudioServer(record=…)`): every frame, both
directions, per connection, secrets redacted."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from websockets.sync.client import connect as sync_connect

import lmstudio_sdk as lms
from lmstudio_sdk.cli import build_parser
from lmstudio_sdk.server import ServerThread
from lmstudio_sdk.server.engines.scripted import ScriptedEngine
from lmstudio_sdk.server.traffic_log import REDACTED, redact

from .helpers import TIMEOUT, auth_packet
from .test_thread_cli import _version_over

TOKEN_ID = "abcdEFGH"
TOKEN_SECRET = "abcdefghijABCDEFGHIJ"
API_TOKEN = f"sk-lm-{TOKEN_ID}:{TOKEN_SECRET}"


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_records_every_frame_per_connection_with_secrets_redacted(tmp_path: Path) -> None:
    log = tmp_path / "traffic.jsonl"
    with ServerThread(ScriptedEngine, port=0, api_token=API_TOKEN, record=log) as handle:
        with lms.Client(f"127.0.0.1:{handle.port}", api_token=API_TOKEN) as client:
            assert client.llm.list_loaded() == []
            assert client.system.get_lmstudio_version().version
    text = log.read_text()
    assert TOKEN_SECRET not in text  # the passkey is the token's secret half
    lines = _lines(log)
    by_conn: dict[int, list[dict[str, Any]]] = {}
    for line in lines:
        by_conn.setdefault(line["conn"], []).append(line)
    assert sorted(by_conn) == [1, 2]
    namespaces = {conn[0]["ns"] for conn in by_conn.values()}
    assert namespaces == {"/llm", "/system"}
    for events in by_conn.values():
        directions = [e["dir"] for e in events]
        assert directions[0] == "open" and directions[-1] == "close"
        assert directions[1:3] == ["c2s", "s2c"]  # auth, then its answer
        auth = events[1]["msg"]
        assert auth["clientIdentifier"] == TOKEN_ID
        assert auth["clientPasskey"] == REDACTED
        assert events[2]["msg"] == {"success": True}
        call = events[3]["msg"]
        assert call["type"] == "rpcCall" and events[3]["dir"] == "c2s"
        assert events[4]["msg"]["type"] == "rpcResult"
        assert events[4]["msg"]["callId"] == call["callId"]
    times = [line["t"] for line in lines]
    assert times == sorted(times) and times[0] >= 0


def test_a_refused_identity_is_recorded_without_its_passkey(tmp_path: Path) -> None:
    log = tmp_path / "traffic.jsonl"
    with ServerThread(ScriptedEngine, port=0, api_token=API_TOKEN, record=log) as handle:
        wrong = "sk-lm-abcdEFGH:zzzzzzzzzzZZZZZZZZZZ"
        with lms.Client(f"127.0.0.1:{handle.port}", api_token=wrong) as client:
            with pytest.raises(lms.AuthenticationError):
                client.llm.list_loaded()
    text = log.read_text()
    assert "zzzzzzzzzz" not in text
    events = [e for e in _lines(log) if e["dir"] in ("c2s", "s2c")]
    assert events[0]["msg"]["clientPasskey"] == REDACTED
    assert events[1]["msg"]["success"] is False


def test_redact_finds_secrets_anywhere() -> None:
    value = {
        "type": "channelSend",
        "message": {"type": "ready", "clientIdentifier": "plugin-1", "clientPasskey": "s3cret"},
        "headers": ["Authorization: Bearer abc.def", "ok"],
        "note": f"use {API_TOKEN} here",
        "apiToken": None,  # nothing to hide
        "tokens": [1, 2],
    }
    assert redact(value) == {
        "type": "channelSend",
        "message": {"type": "ready", "clientIdentifier": "plugin-1", "clientPasskey": REDACTED},
        "headers": [f"Authorization: Bearer {REDACTED}", "ok"],
        "note": f"use sk-lm-{TOKEN_ID}:{REDACTED} here",
        "apiToken": None,
        "tokens": [1, 2],
    }


def test_no_record_no_file(tmp_path: Path) -> None:
    with ServerThread(ScriptedEngine, port=0) as handle:
        assert handle.server.record is None
        _version_over(handle.url)
    assert list(tmp_path.iterdir()) == []


def test_serve_record_option(tmp_path: Path) -> None:
    log = tmp_path / "serve.jsonl"
    process = subprocess.Popen(
        [sys.executable, "-m", "lmstudio_sdk.cli", "serve", "--port", "0", "--record", str(log)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        url = line.rsplit(" ", 1)[-1].strip()
        assert _version_over(url)["type"] == "rpcResult"
        process.terminate()
        assert process.wait(timeout=15) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
    frames = [e for e in _lines(log) if "msg" in e]
    assert [e["dir"] for e in frames] == ["c2s", "s2c", "c2s", "s2c"]
    assert frames[2]["msg"] == {"type": "rpcCall", "endpoint": "version", "callId": 0}


def test_serve_record_into_missing_folder_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = str(tmp_path / "no" / "such" / "file.jsonl")
    args = build_parser().parse_args(["serve", "--port", "0", "--record", target])
    assert args.func(args) == 2
    assert "--record" in capsys.readouterr().err


def test_binary_and_non_json_frames_are_recorded_by_size_or_text(tmp_path: Path) -> None:
    log = tmp_path / "traffic.jsonl"
    with ServerThread(ScriptedEngine, port=0, record=log) as handle:
        with sync_connect(handle.url + "/system", open_timeout=TIMEOUT) as ws:
            ws.send(auth_packet())
            assert json.loads(ws.recv(TIMEOUT)) == {"success": True}
            ws.send(b"\x00\x01\x02")
            ws.send("not json")
            warnings = [json.loads(ws.recv(TIMEOUT)) for _ in range(2)]
            assert all(w["type"] == "communicationWarning" for w in warnings)
    received = [e for e in _lines(log) if e["dir"] == "c2s"]
    assert received[1] == {**received[1], "binaryBytes": 3}
    assert received[2]["text"] == "not json"
