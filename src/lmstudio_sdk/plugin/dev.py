"""``lmstudio-sdk plugin dev DIR``: register a development plugin, run it in a child process
with the credentials the server hands back, and restart it when a file of the folder changes.

The registration lives as long as its channel: on exit (Ctrl-C included) the child is stopped
and the channel ends with ``{"type": "end"}``, which unregisters the plugin.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec

from .._async.client import AsyncClient
from .._async.session import AsyncChannel
from .._exceptions import LMStudioConnectionError, LMStudioProtocolError
from .._protocol.packets import ENDPOINTS
from .._protocol.packets.plugins import RegisterDevelopmentPluginReadyPacket
from .runner import ENV_BASE_URL, ENV_CLIENT_ID, ENV_CLIENT_KEY, load_plugin, read_manifest

__all__ = ["register_development_plugin", "run_dev"]

POLL_SECONDS = 0.5
STOP_SECONDS = 5.0


def snapshot(folder: Path) -> dict[str, float]:
    """Modification times of the plugin's files (caches and hidden files left out)."""
    times: dict[str, float] = {}
    for path in folder.rglob("*"):
        parts = path.relative_to(folder).parts
        if any(p.startswith(".") or p == "__pycache__" for p in parts) or not path.is_file():
            continue
        with contextlib.suppress(OSError):
            times[str(path)] = path.stat().st_mtime
    return times


async def _stop(child: asyncio.subprocess.Process) -> None:
    if child.returncode is not None:
        return
    child.terminate()
    try:
        await asyncio.wait_for(child.wait(), STOP_SECONDS)
    except TimeoutError:
        child.kill()
        await child.wait()


def _prepare(directory: str | os.PathLike[str]) -> tuple[Path, dict[str, Any]]:
    folder = Path(directory).resolve()
    manifest = read_manifest(folder)
    load_plugin(folder)  # fail now, in this process, when the plugin cannot load
    return folder, manifest


async def register_development_plugin(
    client: AsyncClient, manifest: dict[str, Any], timeout: float | None
) -> tuple[AsyncChannel, RegisterDevelopmentPluginReadyPacket]:
    """Register a development plugin; its channel (send ``{"type": "end"}`` to unregister)
    and the credentials the plugin serves with."""
    # LM Studio has no Python runner: like the official Python SDK's dev runner, register
    # as "node" (the app starts nothing for a development plugin; we run it ourselves).
    registered = {"type": "plugin", "runner": "node", "owner": manifest["owner"]}
    registered["name"] = manifest["name"]
    channel = await client.open_channel(
        "plugins", "registerDevelopmentPlugin", {"manifest": registered}
    )
    raw = await channel.receive(timeout)
    if raw is None:
        raise LMStudioProtocolError("the server closed the registration without credentials")
    ready = msgspec.json.decode(
        raw, type=ENDPOINTS["plugins", "registerDevelopmentPlugin"].to_client
    )
    if not isinstance(ready, RegisterDevelopmentPluginReadyPacket):
        channel.abandon()
        raise LMStudioProtocolError(f"expected the plugin's credentials, got {ready!r}")
    return channel, ready


async def run_dev(
    directory: str | os.PathLike[str],
    host: str | None,
    *,
    log: Callable[[str], None] = print,
    timeout: float = 30.0,
) -> None:
    """Register the plugin and keep it running (reloaded on change) until cancelled."""
    folder, manifest = _prepare(directory)
    async with AsyncClient(host, timeout=timeout) as client:
        channel, ready = await register_development_plugin(client, manifest, timeout)
        env = {
            **os.environ,
            ENV_CLIENT_ID: ready.client_identifier,
            ENV_CLIENT_KEY: ready.client_passkey,
            ENV_BASE_URL: client.base_url or "",
        }
        identifier = f"{manifest['owner']}/{manifest['name']}"
        child: asyncio.subprocess.Process | None = None
        # The registration lives as long as its channel: if the server ends it (it stopped or
        # restarted), the plugin's credentials are void and there is nothing left to serve.
        registration = asyncio.ensure_future(channel.receive(None))
        try:
            while True:
                seen = snapshot(folder)
                child = await asyncio.create_subprocess_exec(
                    sys.executable, "-m", "lmstudio_sdk.cli", "plugin", "run", str(folder), env=env
                )
                log(f"plugin {identifier} started (pid {child.pid}); watching {folder}")
                reported = False
                while snapshot(folder) == seen:
                    if registration.done():
                        cause = registration.exception() if not registration.cancelled() else None
                        raise LMStudioConnectionError(
                            f"the server ended the registration of plugin {identifier}"
                            + (f": {cause}" if cause else "")
                        )
                    if child.returncode is not None and not reported:
                        reported = True
                        log(
                            f"plugin {identifier} exited ({child.returncode}); waiting for a change"
                        )
                    await asyncio.sleep(POLL_SECONDS)
                log(f"plugin {identifier} changed; reloading")
                await _stop(child)
        finally:
            registration.cancel()
            if child is not None:
                await _stop(child)
            channel.send({"type": "end"})
