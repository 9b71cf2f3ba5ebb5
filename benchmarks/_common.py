"""What the orchestrator and the workers share: constants, statistics, process helpers."""

from __future__ import annotations

import json
import os
import re
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ECHO_KEY = "scripted-echo-1b"
EMBED_KEY = "scripted-embed-small"
COUNT_TOKENS_TEXT = "hello world, how many tokens is this?"
SHORT_PROMPT = "hi"  # the scripted engine answers "You said: hi" (4 fragments)
REPO_ROOT = Path(__file__).resolve().parent.parent

JsonDict = dict[str, Any]


# -- statistics --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Summary:
    """Median of repeated samples, with their range as a spread."""

    median: float
    low: float
    high: float
    n: int

    @classmethod
    def of(cls, samples: list[float]) -> Summary:
        if not samples:
            raise ValueError("no samples")
        return cls(statistics.median(samples), min(samples), max(samples), len(samples))

    @property
    def spread_pct(self) -> float:
        """(max - min) / median, in percent: how much the repeats disagree."""
        return 100.0 * (self.high - self.low) / self.median if self.median else 0.0

    def as_json(self) -> JsonDict:
        return {
            "median": self.median,
            "min": self.low,
            "max": self.high,
            "n": self.n,
            "spread_pct": round(self.spread_pct, 1),
        }


@dataclass
class CaseResult:
    """What one worker run reports: one value per repeat, plus client CPU per repeat."""

    samples: list[float]
    cpu: list[float] = field(default_factory=list)  # client process CPU seconds per unit
    extra: JsonDict = field(default_factory=dict)

    def as_json(self) -> JsonDict:
        return {"samples": self.samples, "cpu": self.cpu, "extra": self.extra}


class Stopwatch:
    """Wall and process-CPU time of one measured block."""

    def __init__(self) -> None:
        self.wall = 0.0
        self.cpu = 0.0

    def __enter__(self) -> Stopwatch:
        self._wall0 = time.perf_counter()
        self._cpu0 = time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall = time.perf_counter() - self._wall0
        self.cpu = time.process_time() - self._cpu0


# -- processes ---------------------------------------------------------------------------------


def pin_command(command: list[str], cpu: int | None) -> list[str]:
    """Prefix ``taskset`` so the process (and its threads) stay on one core."""
    if cpu is None:
        return command
    return ["taskset", "-c", str(cpu), *command]


def cpu_layout(pin: bool) -> tuple[int | None, int | None]:
    """(server core, client core): apart when pinning is on and there are two cores."""
    try:
        cores = sorted(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return None, None
    if not pin or len(cores) < 2 or not _has_taskset():
        return None, None
    return cores[-1], cores[0]


def _has_taskset() -> bool:
    try:
        subprocess.run(["taskset", "-V"], capture_output=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return False
    return True


_LISTENING = re.compile(r"listening on (ws://\S+)")


class ServerProcess:
    """``lmstudio-sdk serve`` in its own process, so that it never shares the client's GIL."""

    def __init__(self, *args: str, cpu: int | None) -> None:
        self._command = pin_command(
            [sys.executable, "-m", "lmstudio_sdk.cli", "serve", "--port", "0", *args], cpu
        )
        self.process: subprocess.Popen[str] | None = None
        self.url = ""

    def __enter__(self) -> ServerProcess:
        self.process = subprocess.Popen(
            self._command,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        match = _LISTENING.search(line)
        if match is None:
            self.__exit__()
            raise RuntimeError(f"the server did not start: {line!r}")
        self.url = match.group(1)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


class WorkerError(Exception):
    pass


SINGLE = "result"  # the key of a case's only result


def run_worker(
    case: str, params: JsonDict, *, cpu: int | None, timeout: float
) -> dict[str, CaseResult]:
    """Run one case in a fresh interpreter (no state, threads or imports shared between cases).

    Returns the case's results by implementation (``SINGLE`` when it measured one).
    """
    command = pin_command(
        [sys.executable, "-m", "benchmarks.worker", case, json.dumps(params)], cpu
    )
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=timeout, cwd=REPO_ROOT, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise WorkerError(f"{case} did not finish within {timeout:g} s (hang?)") from exc
    if done.returncode != 0:
        tail = done.stderr.strip().splitlines()[-3:]
        raise WorkerError(f"{case} failed (exit {done.returncode}): {' | '.join(tail)}")
    last = done.stdout.strip().splitlines()[-1]
    data = json.loads(last)
    return {
        key: CaseResult(value["samples"], value["cpu"], value["extra"])
        for key, value in data.items()
    }
