"""The command line refuses what it cannot mean with a one-line error (no traceback), explains
every option, and lets Ctrl-C stop a reply without ending the chat."""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import lmstudio_sdk
from lmstudio_sdk.cli import build_parser, main
from tests.conftest import RunningServer


def _exit_code(argv: list[str]) -> int | str | None:
    with pytest.raises(SystemExit) as caught:
        main(argv)
    return caught.value.code


@pytest.mark.parametrize("port", ["70000", "-1", "http"])
def test_serve_refuses_an_impossible_port(port: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert _exit_code(["serve", "--port", port]) == 2
    err = capsys.readouterr().err
    assert "argument --port" in err and "0 to 65535" in err
    assert "Traceback" not in err


@pytest.mark.parametrize("command", ["serve", "chat"])
def test_a_missing_models_dir_is_refused(
    command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nonexistent"
    assert _exit_code([command, "--models-dir", str(missing)]) == 2
    err = capsys.readouterr().err
    assert "argument --models-dir" in err and str(missing) in err and "no such" in err


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert _exit_code(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"lmstudio-sdk {lmstudio_sdk.__version__}"


def _parsers(parser: argparse.ArgumentParser) -> Iterator[argparse.ArgumentParser]:
    yield parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                yield from _parsers(sub)


def test_every_option_has_plain_help() -> None:
    for parser in _parsers(build_parser()):
        assert "``" not in (parser.description or ""), parser.prog
        assert "``" not in parser.format_help(), parser.prog
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                continue
            assert action.help, f"{parser.prog} {'/'.join(action.option_strings) or action.dest}"


def test_chat_with_an_empty_prompt_is_an_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def no_input(_prompt: str) -> str:
        raise AssertionError("an empty prompt must not start an interactive chat")

    monkeypatch.setattr("builtins.input", no_input)
    assert _exit_code(["chat", "--host", "127.0.0.1:1", "  "]) == 2
    assert "empty" in capsys.readouterr().err


CHAT = [sys.executable, "-m", "lmstudio_sdk.cli", "chat"]


@pytest.mark.skipif(os.name != "posix", reason="SIGINT delivery to a subprocess")
def test_ctrl_c_stops_the_reply_not_the_chat(slow_server: RunningServer) -> None:
    chat = subprocess.Popen(
        [*CHAT, "--host", slow_server.url, "--model", "scripted-echo-1b", "--max-tokens", "1000"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert chat.stdin is not None and chat.stdout is not None
    try:
        chat.stdin.write(b"!long 500\n")
        chat.stdin.flush()
        seen = b""
        while b"word3" not in seen:  # the reply has started (after the "> " prompt)
            chunk = os.read(chat.stdout.fileno(), 100)
            assert chunk, seen
            seen += chunk
        started = time.monotonic()
        chat.send_signal(signal.SIGINT)
        chat.stdin.write(b"still there?\n\n")
        chat.stdin.flush()
        out, err = chat.communicate(timeout=30)
    finally:
        chat.kill()
    assert chat.returncode == 0, err.decode()
    assert b"You said: still there?" in out
    assert b"interrupted" in err
    assert time.monotonic() - started < 10
