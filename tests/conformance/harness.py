"""Process plumbing for the conformance suite: our server and the scenario scripts.

Everything here has a time limit: the server must print its URL within
SERVER_START_TIMEOUT_S and is always stopped (SIGTERM, then SIGKILL); a scenario script run is
killed after its engine's script time-out, keeping the scenario lines it had printed.

The same scenarios run against two engines (see EngineSetup): ``scripted`` (deterministic echo
replies, checked word for word) and ``llama`` (llama.cpp on the bundled small models, checked
for structure only). The scripts take ``--engine NAME`` to pick the model keys, prompts and
prediction settings of that engine.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent

API_TOKEN = "sk-lm-abcdEFGH:abcdefghijABCDEFGHIJ"
# The scripted cancel scenarios stream `!long 200`; with this delay that takes 4 s, so a cancel
# that the server ignores shows up as a wrong stop reason rather than as a race.
TOKEN_DELAY_S = "0.02"

SERVER_START_TIMEOUT_S = 30.0
SERVER_STOP_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class EngineSetup:
    """How to serve one engine and how to run the scenario scripts against it."""

    name: str
    # `serve` arguments besides --port (the auth server adds --api-token).
    server_args: tuple[str, ...]
    # Bounds a whole script run (partial output is kept), so that even a server that hangs on
    # everything fails the suite within a few minutes. The scripts give each scenario a limit
    # of their own (8 s scripted, 30 s llama).
    script_timeout_s: float

    @property
    def script_args(self) -> list[str]:
        return ["--engine", self.name]


def scripted_setup() -> EngineSetup:
    return EngineSetup(
        "scripted", ("--engine", "scripted", "--token-delay", TOKEN_DELAY_S), script_timeout_s=45.0
    )


def llama_setup(models_dir: Path) -> EngineSetup:
    # One thread keeps the timings steady on small CI machines; the models are tiny.
    args = ("--engine", "llama", "--models-dir", str(models_dir), "--threads", "1")
    return EngineSetup("llama", args, script_timeout_s=150.0)


def openai_setup(upstream_url: str) -> EngineSetup:
    """The openai engine in front of llama-cpp-python's server (tests/openai_engine)."""
    args = ("--engine", "openai", "--upstream", upstream_url)
    return EngineSetup("openai", args, script_timeout_s=150.0)


_LISTENING = re.compile(r"^LM Studio SDK server listening on (ws://\S+)$")


@dataclass
class ServerProcess:
    url: str
    process: subprocess.Popen[str]
    stderr_path: Path
    stdout_lines: list[str] = field(default_factory=list)

    def log_tail(self, limit: int = 3000) -> str:
        try:
            return self.stderr_path.read_text(errors="replace")[-limit:]
        except OSError:
            return ""


def _drain(stream: Any, sink: list[str]) -> None:
    for line in stream:
        sink.append(line.rstrip("\n"))


def start_server(*args: str, stderr_path: Path) -> ServerProcess:
    """Starts `lmstudio_sdk.cli serve --port 0 ARGS...` and waits for its URL."""
    command = [sys.executable, "-m", "lmstudio_sdk.cli", "serve", "--port", "0", *args]
    stderr_file = stderr_path.open("w")
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=stderr_file,
        stdin=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    stderr_file.close()
    assert process.stdout is not None
    lines: list[str] = []
    reader = threading.Thread(target=_drain, args=(process.stdout, lines), daemon=True)
    reader.start()
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    while time.monotonic() < deadline:
        if lines:
            match = _LISTENING.match(lines[0])
            if match is None:
                stop_server(process)
                pytest.fail(
                    f"server printed an unexpected first line {lines[0]!r}; "
                    f"stderr: {stderr_path.read_text()[-4000:]}"
                )
            return ServerProcess(match.group(1), process, stderr_path, lines)
        if process.poll() is not None:
            reader.join(1.0)
            pytest.fail(
                f"server exited with {process.returncode} before listening: {command}\n"
                f"stdout: {lines}\nstderr: {stderr_path.read_text()[-4000:]}"
            )
        time.sleep(0.02)
    stop_server(process)
    pytest.fail(
        f"server did not print its URL within {SERVER_START_TIMEOUT_S} s: {command}\n"
        f"stderr: {stderr_path.read_text()[-4000:]}"
    )


def stop_server(process: subprocess.Popen[str]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(SERVER_STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(SERVER_STOP_TIMEOUT_S)


@dataclass(frozen=True)
class ScenarioResult:
    scenario: str
    ok: bool
    detail: dict[str, Any]


@dataclass
class ScriptRun:
    """Everything one run of a scenario script produced."""

    command: list[str]
    results: dict[str, ScenarioResult]
    returncode: int | None
    stderr: str
    timed_out: bool
    server_log: str = ""

    def diagnostics(self) -> str:
        status = "timed out" if self.timed_out else f"exit code {self.returncode}"
        return (
            f"{' '.join(self.command)} ({status})\n"
            f"--- script stderr (tail) ---\n{self.stderr[-3000:]}\n"
            f"--- server stderr (tail) ---\n{self.server_log}"
        )


def parse_scenario_lines(stdout: str) -> dict[str, ScenarioResult]:
    results: dict[str, ScenarioResult] = {}
    for line in stdout.splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if not isinstance(record, dict) or "scenario" not in record:
            continue
        detail = record.get("detail")
        results[str(record["scenario"])] = ScenarioResult(
            scenario=str(record["scenario"]),
            ok=record.get("ok") is True,
            detail=detail if isinstance(detail, dict) else {"raw": detail},
        )
    return results


def run_script(command: list[str], timeout_s: float) -> ScriptRun:
    process = subprocess.Popen(
        command,
        cwd=HERE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1", "NO_COLOR": "1"},
    )
    timed_out = False
    try:
        stdout, stderr = process.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        timed_out = True
        process.kill()
        stdout, stderr = process.communicate(timeout=SERVER_STOP_TIMEOUT_S)
    finally:
        if process.poll() is None:  # interrupted (e.g. Ctrl-C): leave no script behind
            process.kill()
            process.wait(SERVER_STOP_TIMEOUT_S)
    return ScriptRun(command, parse_scenario_lines(stdout), process.returncode, stderr, timed_out)


@dataclass
class ClientRuns:
    """The feature run and the auth run of one official client."""

    features: ScriptRun
    auth: ScriptRun

    def __repr__(self) -> str:  # keeps pytest's failure reports short
        return f"ClientRuns(features={self.features.command}, auth={self.auth.command})"

    def get(self, scenario: str) -> tuple[ScenarioResult | None, ScriptRun]:
        run = self.auth if ".auth_" in f".{scenario}" else self.features
        return run.results.get(scenario), run
