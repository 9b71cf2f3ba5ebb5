"""The plugin process's life: a plugin that exits mid-call, Ctrl-C, reloading, bad folders."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from shutil import copytree

import pytest

import lmstudio_sdk as lms
from lmstudio_sdk.server import ServerThread
from lmstudio_sdk.server.engines.scripted import ScriptedEngine

from .harness import FAULTY, DevPlugin, hooks_of, start_plugin


def test_a_plugin_that_exits_mid_call_fails_the_prediction_and_the_server_serves_on(
    plugin_server: ServerThread, tmp_path: Path
) -> None:
    folder = copytree(FAULTY, tmp_path / "exiting")
    manifest = folder / "manifest.json"
    manifest.write_text(manifest.read_text().replace('"faulty"', '"exiting"'))
    plugin = start_plugin(plugin_server, folder, "tests/exiting", {"promptPreprocessor"})
    try:
        with lms.Client(plugin_server.url, timeout=20) as client:
            model = client.llm.model("scripted-echo-1b")
            config: lms.LlmPredictionConfigDict = {"raw": lms.plugins_field(["tests/exiting"])}
            started = time.monotonic()
            with pytest.raises(lms.LMStudioServerError, match=r'"tests/exiting" exited'):
                model.respond("exit", config=config)
            assert time.monotonic() - started < 10
            assert model.respond("still here").content == "You said: still here"
            with pytest.raises(lms.LMStudioServerError, match="has no promptPreprocessor hook"):
                model.respond("again", config=config)
            # The dev runner restarts the plugin when one of its files changes.
            (folder / "src" / "plugin.py").write_text(
                (folder / "src" / "plugin.py").read_text() + "\n# changed\n"
            )
            plugin.wait_ready({"promptPreprocessor", "generator"})
            assert model.respond("back", config=config).content.startswith("You said: back |")
    finally:
        out = plugin.stop()
    assert plugin.process.returncode == 0, out
    assert "reloading" in out and "plugin unregistered" in out
    assert hooks_of(plugin_server, "tests/exiting") == set()


def test_ctrl_c_unregisters_the_plugin(plugin_server: ServerThread, tmp_path: Path) -> None:
    folder = copytree(FAULTY, tmp_path / "stopping")
    manifest = folder / "manifest.json"
    manifest.write_text(manifest.read_text().replace('"faulty"', '"stopping"'))
    plugin = start_plugin(plugin_server, folder, "tests/stopping", {"generator"})
    out = plugin.stop()
    assert plugin.process.returncode == 0, out

    def registered(server: object) -> bool:
        try:
            plugin_server.server.services.plugins.get("tests/stopping")
        except Exception:
            return False
        return True

    assert plugin_server.call(registered) is False


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lmstudio_sdk.cli", "plugin", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env if env is not None else dict(os.environ),
        check=False,
    )


def test_plugin_run_needs_the_credentials_lm_studio_hands_a_plugin() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LMS_PLUGIN_")}
    done = run_cli("run", str(FAULTY), env=env)
    assert done.returncode == 2
    assert "LMS_PLUGIN_CLIENT_IDENTIFIER" in done.stderr


def test_bad_plugin_folders_are_refused_with_the_reason(tmp_path: Path) -> None:
    (tmp_path / "manifest.json").write_text('{"type": "plugin", "runner": "node", "owner": "a"}')
    done = run_cli("dev", str(tmp_path), "--host", "127.0.0.1:9")
    assert done.returncode == 1
    assert '"name" must be a non-empty string' in done.stderr
    (tmp_path / "manifest.json").write_text(
        '{"type": "plugin", "runner": "node", "owner": "a", "name": "b"}'
    )
    done = run_cli("dev", str(tmp_path), "--host", "127.0.0.1:9")
    assert 'this runner serves "python" plugins' in done.stderr


def test_plugin_dev_exits_when_the_server_goes_away(tmp_path: Path) -> None:
    folder = copytree(FAULTY, tmp_path / "orphan")
    with ServerThread(engine_factory=lambda: ScriptedEngine(), port=0) as handle:
        plugin = DevPlugin(handle, folder, "tests/faulty")
        plugin.wait_ready({"generator"})
    try:
        plugin.process.wait(timeout=30)
    finally:
        out = plugin.stop()
    assert plugin.process.returncode == 1, out
    assert "ended the registration of plugin tests/faulty" in out
