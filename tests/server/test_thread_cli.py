"""ServerThread (sync use) and the `lmstudio-sdk serve` command."""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import signal
import subprocess
import sys
import threading

import pytest
from websockets.sync.client import connect as sync_connect

from lmstudio_sdk.cli import build_parser
from lmstudio_sdk.cli import serve as serve_cli
from lmstudio_sdk.server import ServerThread
from lmstudio_sdk.server.engines import EngineUnavailableError
from lmstudio_sdk.server.engines.scripted import ScriptedEngine

from .helpers import TIMEOUT, auth_packet


def _version_over(url: str) -> dict[str, object]:
    with sync_connect(url + "/system", open_timeout=TIMEOUT) as ws:
        ws.send(auth_packet())
        assert json.loads(ws.recv(TIMEOUT)) == {"success": True}
        ws.send(json.dumps({"type": "rpcCall", "endpoint": "version", "callId": 0}))
        reply: dict[str, object] = json.loads(ws.recv(TIMEOUT))
        return reply


def test_server_thread_serves_and_stops() -> None:
    created_in: list[threading.Thread] = []

    def factory() -> ScriptedEngine:
        created_in.append(threading.current_thread())
        return ScriptedEngine()

    with ServerThread(engine_factory=factory, port=0) as handle:
        assert handle.url == f"ws://127.0.0.1:{handle.port}"
        assert handle.server.url == handle.url
        reply = _version_over(handle.url)
        assert reply["type"] == "rpcResult"
        assert handle.call(lambda server: server.statistics().loaded_instances) == ()
        [thread] = created_in
        assert thread is not threading.current_thread() and thread.is_alive()
    assert not thread.is_alive()
    with pytest.raises(OSError):
        _version_over(handle.url)


def test_server_thread_reports_start_failure() -> None:
    with ServerThread(engine_factory=ScriptedEngine, port=0) as first:
        taken = ServerThread(engine_factory=ScriptedEngine, port=first.port)
        with pytest.raises(OSError):
            taken.start()


def test_serve_parser_defaults() -> None:
    args = build_parser().parse_args(["serve"])
    assert (args.host, args.port, args.engine, args.token_delay) == (
        "127.0.0.1",
        41343,
        "scripted",
        0.0,
    )
    assert args.api_token is None and args.threads is None and args.models_dir is None


def test_llama_engine_missing_gives_install_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    args = argparse.Namespace(engine="llama", models_dir=None, threads=None, token_delay=0.0)
    with pytest.raises(EngineUnavailableError, match=r"lmstudio-sdk\[server\]"):
        serve_cli.build_engine(args)


def test_bad_api_token_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    args = build_parser().parse_args(["serve", "--api-token", "nope", "--port", "0"])
    assert args.func(args) == 2
    assert "--api-token" in capsys.readouterr().err


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_serve_command(sig: signal.Signals) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "lmstudio_sdk.cli", "serve", "--port", "0", "--token-delay", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        prefix = "LM Studio SDK server listening on "
        assert line.startswith(prefix), line
        url = line[len(prefix) :].strip()
        assert url.startswith("ws://127.0.0.1:")
        assert _version_over(url)["type"] == "rpcResult"
        process.send_signal(sig)
        assert process.wait(timeout=15) == 0
        assert process.stdout.read() == ""  # exactly one line on stdout
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
