"""Progress bars for model loads and downloads: ``rich`` when it is installed (the ``cli``
extra) and stderr is a terminal, plain text otherwise (one redrawn line on a terminal, the start
and the end elsewhere, so logs stay short)."""

from __future__ import annotations

import importlib.util
import sys
import time
from types import TracebackType
from typing import IO, Any, Literal, Self

__all__ = ["ProgressDisplay", "human_bytes"]

Unit = Literal["bytes", "fraction"]


def human_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if abs(n) < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.2f} {unit}"
        n /= 1000
    raise AssertionError("unreachable")


def rich_available() -> bool:
    return importlib.util.find_spec("rich") is not None


class ProgressDisplay:
    """``with ProgressDisplay("Downloading x", unit="bytes") as bar: bar.update(done, total)``.

    ``unit="fraction"``: ``done`` runs from 0 to 1 (a model load).
    """

    def __init__(
        self, label: str, *, unit: Unit, stream: IO[str] | None = None, plain: bool = False
    ) -> None:
        self._label = label
        self._unit = unit
        self._stream = stream if stream is not None else sys.stderr
        self._tty = self._stream.isatty()
        self._rich: Any = None
        self._task: Any = None
        self._use_rich = self._tty and not plain and rich_available()
        self._started = False
        self._last_draw = 0.0
        self._last: tuple[float, float, float | None] | None = None

    def __enter__(self) -> Self:
        if self._use_rich:
            # Imported here: rich is optional (the cli extra).
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                DownloadColumn,
                Progress,
                TaskProgressColumn,
                TextColumn,
                TimeRemainingColumn,
                TransferSpeedColumn,
            )

            columns: list[Any] = [TextColumn("{task.description}"), BarColumn()]
            if self._unit == "bytes":
                columns += [DownloadColumn(), TransferSpeedColumn(), TimeRemainingColumn()]
            else:
                columns += [TaskProgressColumn()]
            self._rich = Progress(*columns, console=Console(file=self._stream), transient=False)
            self._rich.start()
            self._task = self._rich.add_task(self._label, total=None)
        return self

    def update(self, done: float, total: float, speed: float | None = None) -> None:
        self._last = (done, total, speed)
        if self._rich is not None:
            self._rich.update(self._task, completed=done, total=total)
            return
        now = time.monotonic()
        if not self._started:
            self._started = True
            self._draw(done, total, speed, end="\n" if not self._tty else "")
            self._last_draw = now
        elif self._tty and (now - self._last_draw >= 0.1 or done >= total):
            self._draw(done, total, speed, end="")
            self._last_draw = now

    def _draw(self, done: float, total: float, speed: float | None, *, end: str) -> None:
        fraction = min(done / total, 1.0) if total else 0.0
        width = 30
        filled = int(fraction * width)
        text = f"{self._label} [{'#' * filled}{'.' * (width - filled)}] {fraction * 100:3.0f}%"
        if self._unit == "bytes":
            text += f" {human_bytes(done)}/{human_bytes(total)}"
            if speed:
                text += f" {human_bytes(speed)}/s"
        prefix = "\r" if self._tty else ""
        self._stream.write(prefix + text + end)
        self._stream.flush()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._rich is not None:
            self._rich.stop()
            return
        if self._last is not None:
            done, total, speed = self._last
            if self._tty:
                self._draw(done, total, speed, end="\n")
            elif exc_type is None or done >= total:
                self._draw(done, total, speed, end="\n")
            else:
                at = human_bytes(done) if self._unit == "bytes" else f"{done * 100:.0f}%"
                self._stream.write(f"{self._label}: stopped at {at}\n")
                self._stream.flush()
