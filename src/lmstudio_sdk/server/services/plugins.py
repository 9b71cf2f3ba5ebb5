"""Plugins hosted by the server: registration, their hook channels, and calling their hooks.

A development plugin registers (``registerDevelopmentPlugin``) and gets credentials; the plugin
process connects on ``/plugins`` with them and opens one channel per hook. The server sends a
hook request on that channel and waits for the plugin's answer, always with a deadline: a
plugin that raises, hangs or exits never hangs a prediction; the caller gets a ``ServerError``
that names the plugin, and the server keeps serving.

Only this module holds plugin state; the endpoints (``/plugins`` and ``/llm``'s predictions)
call it.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import secrets
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass, field
from typing import Any

from ..._protocol.packets.shared import (
    ChatHistoryData,
    ChatMessageData,
    KVConfig,
    KVConfigSchematics,
    SerializedError,
)
from ..._protocol.plugin_config import config_values, kv_from_values, values_from_kv
from ..errors import ServerError

__all__ = [
    "DEFAULT_HOOK_DEADLINE",
    "GONE",
    "HookChannel",
    "Plugin",
    "PluginRegistry",
    "Processing",
    "hook_failed",
    "stream_answers",
]

logger = logging.getLogger("lmstudio_sdk.server")

# How long a hook may take to answer (each packet of a generator or a tool call counts anew).
DEFAULT_HOOK_DEADLINE = 60.0

HOOKS = ("promptPreprocessor", "toolsProvider", "generator")


class _Gone:
    """Put in a task's queue when the plugin's hook channel closed (the plugin exited)."""


GONE = _Gone()


class HookChannel:
    """One hook channel a plugin process opened: send it requests, route its answers by task."""

    def __init__(self, plugin: str, hook: str, send: Callable[[Any], None]) -> None:
        self.plugin = plugin
        self.hook = hook
        self._send = send
        self._tasks: dict[str, asyncio.Queue[Any]] = {}
        self.closed = False

    def send(self, packet: Any) -> None:
        self._send(packet)

    def open_task(self, key: str) -> asyncio.Queue[Any]:
        queue: asyncio.Queue[Any] = asyncio.Queue()
        if self.closed:
            queue.put_nowait(GONE)
        self._tasks[key] = queue
        return queue

    def close_task(self, key: str) -> None:
        self._tasks.pop(key, None)

    def deliver(self, key: str, packet: Any) -> bool:
        """A plugin packet for task ``key``; False if no such task is waiting (a late or
        nonsensical answer, which is dropped)."""
        queue = self._tasks.get(key)
        if queue is None:
            return False
        queue.put_nowait(packet)
        return True

    def close(self) -> None:
        self.closed = True
        for queue in self._tasks.values():
            queue.put_nowait(GONE)


@dataclass(eq=False)
class Plugin:
    identifier: str  # "owner/name"
    client_identifier: str
    client_passkey: str
    manifest: Any
    hooks: dict[str, HookChannel] = field(default_factory=dict)
    config_schematics: KVConfigSchematics | None = None
    global_config_schematics: KVConfigSchematics | None = None
    init_completed: bool = False
    errors: list[str] = field(default_factory=list)


@dataclass(eq=False)
class Processing:
    """What a hook may ask about the prediction it serves (``pci`` + ``token``)."""

    plugin: str
    token: str
    history: ChatHistoryData
    current: ChatMessageData | None
    model_identifier: str | None
    on_status: Callable[[str, str, str], None]  # (plugin, status, text)


class PluginRegistry:
    """Every registered plugin of one server."""

    def __init__(self, hook_deadline: float = DEFAULT_HOOK_DEADLINE) -> None:
        self.hook_deadline = hook_deadline
        self._plugins: dict[str, Plugin] = {}
        self._by_client: dict[str, Plugin] = {}
        self._processing: dict[str, Processing] = {}
        self._ids = itertools.count(1)

    # -- registration -----------------------------------------------------------------------

    def register(self, identifier: str, manifest: Any) -> Plugin:
        if identifier in self._plugins:
            raise ServerError(
                f'A plugin "{identifier}" is already registered',
                suggestion="Stop the other development run of this plugin first.",
            )
        plugin = Plugin(
            identifier=identifier,
            client_identifier=f"plugin-{identifier.replace('/', '-')}-{secrets.token_hex(4)}",
            client_passkey=secrets.token_urlsafe(24),
            manifest=manifest,
        )
        self._plugins[identifier] = plugin
        self._by_client[plugin.client_identifier] = plugin
        logger.info("plugin %s registered", identifier)
        return plugin

    def unregister(self, plugin: Plugin) -> None:
        if self._plugins.get(plugin.identifier) is plugin:
            del self._plugins[plugin.identifier]
        self._by_client.pop(plugin.client_identifier, None)
        for channel in plugin.hooks.values():
            channel.close()
        logger.info("plugin %s unregistered", plugin.identifier)

    def credentials(self) -> dict[str, str]:
        """client identifier → passkey of every registered plugin (accepted even when the
        server requires an API token)."""
        return {p.client_identifier: p.client_passkey for p in self._plugins.values()}

    def of_client(self, client_identifier: str, endpoint: str) -> Plugin:
        """The plugin a socket authenticated as; refuses every other client."""
        plugin = self._by_client.get(client_identifier)
        if plugin is None:
            raise ServerError(
                f"Only a plugin process may call {endpoint}",
                suggestion="Register the plugin with registerDevelopmentPlugin (lmstudio-sdk "
                "plugin dev DIR) and connect with the credentials it hands back "
                "(LMS_PLUGIN_CLIENT_IDENTIFIER / LMS_PLUGIN_CLIENT_PASSKEY).",
            )
        return plugin

    def get(self, identifier: str) -> Plugin:
        plugin = self._plugins.get(identifier)
        if plugin is None:
            known = ", ".join(sorted(self._plugins)) or "none"
            raise ServerError(
                f'No plugin "{identifier}" is registered',
                cause=f"Registered plugins: {known}",
                suggestion="Start it with `lmstudio-sdk plugin dev DIR`; identifiers are "
                "owner/name as in its manifest.json.",
                display_data={"code": "generic.pluginNotFound", "identifier": identifier},
            )
        return plugin

    def hook(self, identifier: str, hook: str) -> HookChannel:
        plugin = self.get(identifier)
        channel = plugin.hooks.get(hook)
        if channel is None or channel.closed:
            raise ServerError(
                f'Plugin "{identifier}" has no {hook} hook',
                suggestion=f"Its hooks: {', '.join(sorted(plugin.hooks)) or 'none yet'}.",
            )
        return channel

    def attach_hook(self, plugin: Plugin, hook: str, send: Callable[[Any], None]) -> HookChannel:
        old = plugin.hooks.get(hook)
        if old is not None:
            old.close()
        channel = HookChannel(plugin.identifier, hook, send)
        plugin.hooks[hook] = channel
        return channel

    def detach_hook(self, plugin: Plugin, channel: HookChannel) -> None:
        channel.close()
        if plugin.hooks.get(channel.hook) is channel:
            del plugin.hooks[channel.hook]

    def plugin_config(self, identifier: str, config: KVConfig | None) -> KVConfig:
        """The config a hook receives: the plugin's defaults under the caller's values."""
        plugin = self.get(identifier)
        given = values_from_kv(config) if config is not None else {}
        try:
            return kv_from_values(config_values(plugin.config_schematics, given))
        except ValueError as exc:
            raise ServerError(
                f'Invalid config for plugin "{identifier}": {exc}',
                suggestion="Pass only the fields the plugin declares, with values that fit them.",
            ) from None

    def global_config(self, identifier: str) -> KVConfig:
        plugin = self.get(identifier)
        return kv_from_values(config_values(plugin.global_config_schematics, {}))

    # -- processing contexts ------------------------------------------------------------------

    def next_id(self, prefix: str) -> str:
        return f"{prefix}-{next(self._ids)}"

    def open_processing(self, processing: Processing) -> str:
        pci = self.next_id("pci")
        self._processing[pci] = processing
        return pci

    def close_processing(self, pci: str) -> None:
        self._processing.pop(pci, None)

    def processing(self, pci: str, token: str) -> Processing:
        found = self._processing.get(pci)
        if found is None or not secrets.compare_digest(found.token, token):
            raise ServerError(
                "This prediction process is over (or the pci/token pair is wrong)",
                suggestion="Processing calls are valid only while the hook request runs.",
            )
        return found

    # -- waiting for a hook's answer ----------------------------------------------------------

    async def answer(
        self,
        channel: HookChannel,
        queue: asyncio.Queue[Any],
        what: str,
        cancelled: asyncio.Event | None,
        abort: Callable[[], None],
    ) -> Any:
        """The plugin's next packet for a task; None if ``cancelled`` was set first (after
        ``abort()``). ServerError when the plugin exits or misses the deadline."""
        getter = asyncio.ensure_future(queue.get())
        waits: set[asyncio.Future[Any]] = {getter}
        canceller = asyncio.ensure_future(cancelled.wait()) if cancelled is not None else None
        if canceller is not None:
            waits.add(canceller)
        try:
            done, _ = await asyncio.wait(
                waits, timeout=self.hook_deadline, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            for waiter in waits:
                if not waiter.done():
                    waiter.cancel()
        if getter in done:
            packet = getter.result()
            if packet is GONE:
                raise ServerError(
                    f'Plugin "{channel.plugin}" exited during its {what}',
                    suggestion="Check the plugin process's output; restart it with "
                    "`lmstudio-sdk plugin dev DIR`.",
                    display_data={"code": "plugins.exited", "plugin": channel.plugin},
                )
            return packet
        abort()
        if canceller is not None and canceller in done:
            return None
        raise ServerError(
            f'Plugin "{channel.plugin}" did not answer its {what} within {self.hook_deadline:g} s',
            suggestion="The plugin hangs or is too slow; the server gave up on it.",
            display_data={"code": "plugins.deadline", "plugin": channel.plugin},
        )


def hook_failed(plugin: str, what: str, error: SerializedError) -> ServerError:
    """The error a caller gets when a plugin's hook raised (its summary in ``cause``)."""
    title = error.title if isinstance(error.title, str) else "unknown error"
    cause = error.cause if isinstance(error.cause, str) else None
    stack = error.stack if isinstance(error.stack, str) else None
    return ServerError(
        f'Plugin "{plugin}" failed in its {what}: {title}',
        cause="\n".join(t for t in (cause, stack) if t) or None,
        suggestion=error.suggestion if isinstance(error.suggestion, str) else None,
        display_data={"code": "plugins.hookFailed", "plugin": plugin},
    )


async def stream_answers(
    registry: PluginRegistry,
    channel: HookChannel,
    key: str,
    what: str,
    cancelled: asyncio.Event | None,
    abort: Callable[[], None],
    first: Callable[[], None],
) -> AsyncGenerator[Any, None]:
    """Open task ``key``, send its request (``first``) and yield the plugin's packets until the
    caller stops; the task is closed on exit. Yields None once if cancelled."""
    queue = channel.open_task(key)
    try:
        first()
        while True:
            packet = await registry.answer(channel, queue, what, cancelled, abort)
            yield packet
            if packet is None:
                return
    finally:
        channel.close_task(key)
