"""`lmstudio-sdk chat`, the main job, against a scripted server and (marked llama) for real."""

from __future__ import annotations

import io
import logging
import time

import pytest

from lmstudio_sdk.cli import main
from lmstudio_sdk.cli.chat import PromptWait, _ReplyAwareHandler
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


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_spinner_turns_while_the_prompt_is_processed() -> None:
    terminal = _Terminal()
    wait = PromptWait(terminal, delay=0, interval=0.005)
    wait.update(0.42)
    wait.start()
    deadline = time.monotonic() + 10
    while "42%" not in terminal.getvalue() and time.monotonic() < deadline:
        time.sleep(0.005)
    wait.stop()
    drawn = terminal.getvalue()
    assert "processing the prompt  42%" in drawn
    assert drawn.endswith("\r\x1b[K")  # the line is cleared for the reply
    wait.stop()  # idempotent
    assert terminal.getvalue() == drawn  # and nothing is drawn after stop


def test_no_spinner_on_a_pipe_or_for_a_quick_first_token() -> None:
    pipe = io.StringIO()
    wait = PromptWait(pipe, delay=0)
    wait.start()
    wait.update(0.5)
    wait.stop()
    assert pipe.getvalue() == ""
    terminal = _Terminal()
    quick = PromptWait(terminal, delay=30)
    quick.start()
    quick.stop()  # the first token came before the delay: nothing was drawn
    assert terminal.getvalue() == ""


def test_sdk_warnings_do_not_run_into_the_reply(capsys: pytest.CaptureFixture[str]) -> None:
    terminal = io.StringIO()
    handler = _ReplyAwareHandler(terminal)
    logger = logging.getLogger("lmstudio_sdk.test-cli")
    logger.addHandler(handler)
    try:
        _ReplyAwareHandler.line_open = True  # a reply is being printed
        logger.warning("the prompt did not fit")
    finally:
        logger.removeHandler(handler)
    assert capsys.readouterr().out == "\n"  # the reply line was ended first
    assert terminal.getvalue() == "[WARNING: the prompt did not fit]\n"
    assert not _ReplyAwareHandler.line_open
