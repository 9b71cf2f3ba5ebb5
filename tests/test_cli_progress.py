"""The CLI's progress bars: plain text in logs and on terminals, rich on terminals when the
``cli`` extra is installed."""

from __future__ import annotations

import io

import pytest

from lmstudio_sdk.cli.progress import ProgressDisplay, human_bytes


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_plain_text_in_a_log_prints_the_start_and_the_end() -> None:
    log = io.StringIO()
    with ProgressDisplay("model.gguf", unit="bytes", stream=log) as bar:
        for done in range(0, 2_000_001, 250_000):
            bar.update(done, 2_000_000, 1_000_000)
    lines = log.getvalue().splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("model.gguf [") and "  0% 0 B/2.00 MB" in lines[0]
    assert "100% 2.00 MB/2.00 MB 1.00 MB/s" in lines[1]


def test_plain_text_says_where_an_interrupted_load_stopped() -> None:
    log = io.StringIO()
    with (
        pytest.raises(KeyboardInterrupt),
        ProgressDisplay("Loading x", unit="fraction", stream=log) as bar,
    ):
        bar.update(0.25, 1.0)
        raise KeyboardInterrupt
    assert log.getvalue().splitlines()[-1] == "Loading x: stopped at 25%"


def test_plain_text_on_a_terminal_redraws_one_line() -> None:
    terminal = Terminal()
    with ProgressDisplay("Loading x", unit="fraction", stream=terminal, plain=True) as bar:
        bar.update(0.5, 1.0)
        bar.update(1.0, 1.0)
    text = terminal.getvalue()
    assert text.count("\n") == 1 and text.startswith("\rLoading x [#")
    assert text.rstrip("\n").rsplit("\r", 1)[-1].endswith("100%")


def test_rich_draws_on_a_terminal() -> None:
    pytest.importorskip("rich")
    terminal = Terminal()
    with ProgressDisplay("model.gguf", unit="bytes", stream=terminal) as bar:
        bar.update(1_000_000, 2_000_000, 500_000)
        bar.update(2_000_000, 2_000_000, 500_000)
    text = terminal.getvalue()
    assert "model.gguf" in text and "2.0/2.0 MB" in text and "\x1b[" in text  # rich's drawing


def test_human_bytes() -> None:
    assert [human_bytes(n) for n in (999, 1_500, 2_000_000, 3.5e9, 7e12)] == [
        "999 B",
        "1.50 KB",
        "2.00 MB",
        "3.50 GB",
        "7000.00 GB",
    ]
