"""Argument types shared by the subcommands: each refuses what cannot be meant, so that argparse
prints a one-line usage error instead of a traceback from deep inside."""

from __future__ import annotations

import argparse
import math
from pathlib import Path

__all__ = ["existing_dir", "non_empty_text", "positive_number", "tcp_port"]


def tcp_port(text: str) -> int:
    """0 to 65535 (0: the system picks a free port)."""
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number (0 to 65535)") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{port} is not a port; use 0 to 65535")
    return port


def existing_dir(text: str) -> Path:
    """A folder that exists: a mistyped models folder would otherwise serve no models silently."""
    path = Path(text).expanduser()
    if not path.is_dir():
        what = "not a directory" if path.exists() else "no such directory"
        raise argparse.ArgumentTypeError(f"{what}: {path}")
    return path


def non_empty_text(text: str) -> str:
    if not text.strip():
        raise argparse.ArgumentTypeError(
            "the prompt is empty; leave it out for an interactive chat"
        )
    return text


def positive_number(text: str) -> float:
    """A finite number above zero (seconds, bytes per second, …)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"{text} must be a positive number")
    return value
