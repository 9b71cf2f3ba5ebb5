"""Running a scenario with each client against a recording server."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable
from pathlib import Path

from lmstudio_sdk.server import ServerThread
from lmstudio_sdk.server.engines.scripted import ScriptedEngine

from .spec import ParityScenario
from .traffic import Traffic, load, normalise

HERE = Path(__file__).resolve().parent
NODE_MODULES = HERE.parent / "conformance" / "node_modules"
SCRIPT_TIMEOUT_S = 60.0


class ScenarioFailed(AssertionError):
    """A client could not carry the scenario out (not a traffic difference)."""


def record(scenario: ParityScenario, path: Path, run: Callable[[str], None]) -> Traffic:
    """Run ``run(url)`` against a fresh recording server; the normalised traffic."""
    with ServerThread(
        lambda: ScriptedEngine(token_delay=scenario.token_delay),
        port=0,
        api_token=scenario.api_token,
        record=path,
    ) as handle:
        run(handle.url)
    traffic = normalise(load(path))
    if not scenario.compare_server_frames:
        for streams in traffic.streams.values():
            streams["s2c"] = []
    return traffic


class TypeScriptRecordings:
    """Each scenario run once with the official TypeScript SDK (node), recorded."""

    def __init__(self, node: str, folder: Path) -> None:
        self.node = node
        self.folder = folder
        self._cache: dict[str, Traffic] = {}

    def get(self, scenario: ParityScenario) -> Traffic:
        if scenario.name not in self._cache:
            path = self.folder / f"{scenario.name}.jsonl"
            runner = self._runner(scenario.name, scenario.api_token)
            self._cache[scenario.name] = record(scenario, path, runner)
        return self._cache[scenario.name].copy()

    def _runner(self, name: str, api_token: str | None) -> Callable[[str], None]:
        def run(url: str) -> None:
            command = [self.node, str(HERE / "scenarios.mjs"), url, name]
            if api_token is not None:
                command.append(api_token)
            try:
                done = subprocess.run(
                    command,
                    capture_output=True,
                    text=True,
                    timeout=SCRIPT_TIMEOUT_S,
                    stdin=subprocess.DEVNULL,
                    env={**os.environ, "NO_COLOR": "1"},
                    check=False,
                )
            except subprocess.TimeoutExpired as exc:
                raise ScenarioFailed(f"{' '.join(command)} timed out") from exc
            outcome = _last_json_line(done.stdout)
            if done.returncode != 0 or outcome is None or outcome.get("ok") is not True:
                raise ScenarioFailed(
                    f"the TypeScript scenario {name!r} failed (exit {done.returncode}): "
                    f"{outcome}\n{done.stderr[-3000:]}"
                )

        return run


def _last_json_line(stdout: str) -> dict[str, object] | None:
    for line in reversed(stdout.splitlines()):
        try:
            value = json.loads(line)
        except ValueError:
            continue
        if isinstance(value, dict):
            return value
    return None
