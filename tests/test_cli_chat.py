"""`lmstudio-sdk chat`, the main job, against a scripted server and (marked llama) for real."""

from __future__ import annotations

import pytest

from lmstudio_sdk.cli import main
from tests.conftest import RunningServer


def test_chat_streams_a_reply_and_the_stats(
    server: RunningServer, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["chat", "--host", server.url, "--model", "scripted-echo-1b", "hello cli"])
    out, err = capsys.readouterr()
    assert code == 0
    assert out == "You said: hello cli\n"
    assert "stop: eosFound" in err and "tok/s" in err


def test_chat_reports_an_unknown_model(
    server: RunningServer, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["chat", "--host", server.url, "--model", "no-such-model", "hi"])
    assert code == 1
    assert "no-such-model" in capsys.readouterr().err


def test_interactive_chat_keeps_the_history(
    server: RunningServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = iter(["first", "second", ""])
    monkeypatch.setattr("builtins.input", lambda _prompt: next(lines))
    code = main(["chat", "--host", server.url, "--model", "scripted-echo-1b"])
    assert code == 0
    assert capsys.readouterr().out == "You said: first\nYou said: second\n"
