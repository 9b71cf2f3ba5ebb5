"""Running a scenario with each client against a recording server."""

from __future__ import annotations

import asyncio
import atexit
import json
import os
import select
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import msgspec

import lmstudio_sdk as lms
from lmstudio_sdk.plugin.runner import PluginRunner, load_plugin
from lmstudio_sdk.server import ServerThread
from lmstudio_sdk.server.engines.scripted import ScriptedEngine

from ..repository.catalog_kit import MIB, make_catalog
from .spec import PLUGIN_DIRECTORY, ParityScenario
from .traffic import Traffic, load, normalise

HERE = Path(__file__).resolve().parent
NODE_MODULES = HERE.parent / "conformance" / "node_modules"
SCRIPT_TIMEOUT_S = 60.0
PLUGIN_READY_S = 30.0
# Downloads from the catalogue: slow enough for a cancel to land mid-download, fast enough that
# the small files (1 MiB) arrive in a fraction of a second.
DOWNLOAD_BYTES_PER_SECOND = 8 * MIB
_catalog: Path | None = None


class ScenarioFailed(AssertionError):
    """A client could not carry the scenario out (not a traffic difference)."""


def catalog() -> Path:
    """The model catalogue of the repository scenarios (made once per process)."""
    global _catalog
    if _catalog is None:
        folder = Path(tempfile.mkdtemp(prefix="parity-catalog-"))
        atexit.register(shutil.rmtree, folder, True)
        _catalog = make_catalog(folder, big_size=8 * MIB)
    return _catalog


def record(scenario: ParityScenario, path: Path, run: Callable[[str], None]) -> Traffic:
    """Run ``run(url)`` against a fresh recording server; the normalised traffic.

    A scenario with ``plugin=True`` runs against the test plugin (``PLUGIN_DIRECTORY``), hosted
    before the client connects; the plugin's own sockets are not part of the comparison (the
    same plugin serves both clients: what it is sent follows from what the client sent).
    """
    options: dict[str, Any] = {}
    if scenario.catalog:
        models = Path(tempfile.mkdtemp(prefix=f"{path.stem}-models-", dir=path.parent))
        options.update(
            catalog=catalog(),
            models_dir=models,
            download_bytes_per_second=DOWNLOAD_BYTES_PER_SECOND,
        )
    setup_connections = 0
    with ServerThread(
        lambda: ScriptedEngine(token_delay=scenario.token_delay, load_delay=scenario.load_delay),
        port=0,
        api_token=scenario.api_token,
        record=path,
        **options,
    ) as handle:
        if scenario.plugin:
            with hosted_plugin(handle.url, PLUGIN_DIRECTORY):
                setup_connections = _connections(path)
                run(handle.url)
        else:
            run(handle.url)
    events = [e for e in load(path) if e["conn"] > setup_connections]
    traffic = normalise(events)
    if not scenario.compare_server_frames:
        for streams in traffic.streams.values():
            streams["s2c"] = []
    return traffic


def _connections(path: Path) -> int:
    """How many sockets the server has accepted so far (the log's ``open`` events)."""
    return sum(1 for event in load(path) if event["dir"] == "open")


@contextmanager
def hosted_plugin(url: str, directory: Path) -> Iterator[None]:
    """The plugin in ``directory`` registered (``registerDevelopmentPlugin``) and served by our
    runner on a loop of its own, in this process (no process to start); ready on entry."""
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    stop: asyncio.Event | None = None
    failure: list[BaseException] = []

    async def serve() -> None:
        nonlocal stop
        stop = asyncio.Event()
        plugin = load_plugin(directory)
        manifest = {"type": "plugin", "runner": "node", "owner": plugin.identifier.split("/")[0]}
        manifest["name"] = plugin.identifier.split("/")[1]
        async with lms.AsyncClient(url, timeout=PLUGIN_READY_S) as client:
            channel = await client.open_channel(
                "plugins", "registerDevelopmentPlugin", {"manifest": manifest}
            )
            raw = await channel.receive(PLUGIN_READY_S)
            assert raw is not None, "the server sent no plugin credentials"
            credentials = msgspec.json.decode(raw)
            runner = PluginRunner(
                plugin,
                host=url,
                client_identifier=credentials["clientIdentifier"],
                client_passkey=credentials["clientPasskey"],
            )
            task = asyncio.ensure_future(runner.run(ready.set))
            try:
                await stop.wait()
            finally:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
                channel.send({"type": "end"})

    def main() -> None:
        try:
            loop.run_until_complete(serve())
        except BaseException as exc:  # reported by the caller
            failure.append(exc)
        finally:
            ready.set()
            loop.close()

    thread = threading.Thread(target=main, name="parity-plugin", daemon=True)
    thread.start()
    try:
        if not ready.wait(PLUGIN_READY_S) or failure:
            raise ScenarioFailed(f"the test plugin did not come up: {failure}")
        yield
    finally:
        if stop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(stop.set)
        thread.join(PLUGIN_READY_S)


class TypeScriptRecordings:
    """Each scenario run once with the official TypeScript SDK, recorded: one Node process
    (``scenarios.mjs --serve``) runs them all, a fresh client and server each (starting Node
    and loading the SDK would cost more than most scenarios)."""

    def __init__(self, node: str, folder: Path) -> None:
        self.node = node
        self.folder = folder
        self._cache: dict[str, Traffic] = {}
        self._process: subprocess.Popen[str] | None = None
        self._stderr = folder / "node-stderr.log"
        self._stderr_file: IO[str] | None = None

    def get(self, scenario: ParityScenario) -> Traffic:
        if scenario.name not in self._cache:
            path = self.folder / f"{scenario.name}.jsonl"
            runner = self._runner(scenario.name, scenario.api_token)
            self._cache[scenario.name] = record(scenario, path, runner)
        return self._cache[scenario.name].copy()

    def close(self) -> None:
        process, self._process = self._process, None
        if process is not None:
            assert process.stdin is not None
            process.stdin.close()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self._stderr_file is not None:
            self._stderr_file.close()
            self._stderr_file = None

    def _node(self) -> subprocess.Popen[str]:
        if self._process is None or self._process.poll() is not None:
            if self._stderr_file is None:
                self._stderr_file = self._stderr.open("a")
            self._process = subprocess.Popen(
                [self.node, str(HERE / "scenarios.mjs"), "--serve"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=self._stderr_file,
                text=True,
                bufsize=1,
                env={**os.environ, "NO_COLOR": "1"},
            )
        return self._process

    def _runner(self, name: str, api_token: str | None) -> Callable[[str], None]:
        def run(url: str) -> None:
            process = self._node()
            assert process.stdin is not None and process.stdout is not None
            request = {"url": url, "name": name, "apiToken": api_token}
            process.stdin.write(json.dumps(request) + "\n")
            process.stdin.flush()
            ready, _, _ = select.select([process.stdout], [], [], SCRIPT_TIMEOUT_S)
            line = process.stdout.readline() if ready else ""
            outcome = _last_json_line(line)
            if outcome is None:
                self.close_after_failure()
                raise ScenarioFailed(
                    f"the TypeScript scenario {name!r} gave no outcome in {SCRIPT_TIMEOUT_S} s"
                    f"{self._stderr_tail()}"
                )
            if outcome.get("ok") is not True or outcome.get("scenario") != name:
                raise ScenarioFailed(
                    f"the TypeScript scenario {name!r} failed: {outcome}{self._stderr_tail()}"
                )

        return run

    def close_after_failure(self) -> None:
        if self._process is not None:
            self._process.kill()
            self._process.wait()
            self._process = None

    def _stderr_tail(self) -> str:
        try:
            return "\n" + self._stderr.read_text(errors="replace")[-3000:]
        except OSError:
            return ""


def _last_json_line(stdout: str) -> dict[str, object] | None:
    for line in reversed(stdout.splitlines()):
        try:
            value = json.loads(line)
        except ValueError:
            continue
        if isinstance(value, dict):
            return value
    return None
