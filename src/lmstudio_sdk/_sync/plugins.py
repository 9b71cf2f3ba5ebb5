# GENERATED from src/lmstudio_sdk/_async/plugins.py by scripts/unasync.py. Do not edit: edit the source.
"""``client.plugins``: use plugins the server hosts — a generator plugin in place of a model.

Source of truth for both faces (see ``scripts/unasync.py``).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from types import TracebackType
from typing import Any, Never

import msgspec

from .._exceptions import LMStudioError, LMStudioValueError, LocalProtocolError
from .._protocol.chat import ChatLike, to_history
from .._protocol.generator import GeneratorResult, GeneratorState
from .._protocol.packets.plugins import GenerateWithGeneratorCreationParameter
from .._protocol.packets.shared import (
    KVConfig,
    KVConfigField,
    PredictionFragment,
    StartToolUseSessionCreationParameterPluginConfigSpecifierDirect,
    ToolDefinition,
)
from .._protocol.plugin_config import PLUGINS_KEY
from .._types import NOT_GIVEN, Timeout, checked_arguments, reject_unknown_arguments
from .pool import SessionPool
from .session import Channel, encode_payload

__all__ = [
    "GeneratorHandle",
    "GeneratorStream",
    "PluginsNamespace",
    "plugins_field",
]

_CANCEL = {"type": "cancel"}


def _identifier(value: object) -> str:
    if not isinstance(value, str) or value.count("/") != 1 or "" in value.split("/"):
        raise LMStudioValueError(
            f"a plugin identifier is 'owner/name' as in its manifest.json, not {value!r}"
        )
    return value


def _plugin_kv(config: object) -> KVConfig:
    if config is None:
        return KVConfig(fields=[])
    if not isinstance(config, Mapping) or not all(isinstance(k, str) for k in config):
        raise LMStudioValueError(
            f"a plugin config is a mapping of its field names to values, not {config!r}"
        )
    return KVConfig(fields=[KVConfigField(key=k, value=v) for k, v in config.items()])


def _tools(tools: object) -> list[ToolDefinition]:
    if tools is None:
        return []
    if not isinstance(tools, list | tuple):
        raise LMStudioValueError(f"tools must be a list of tool definitions, not {tools!r}")
    try:
        return [
            t if isinstance(t, ToolDefinition) else msgspec.convert(t, ToolDefinition)
            for t in tools
        ]
    except msgspec.ValidationError as exc:
        raise LMStudioValueError(
            "each tool is {'type': 'function', 'function': {'name': …, 'parameters': {…}}}: "
            f"{exc}"
        ) from None


def plugins_field(plugins: object) -> dict[str, Any]:
    """The raw prediction config that runs ``plugins`` (identifiers, or (identifier, config)
    pairs) for one prediction: pass it as ``config={"raw": plugins_field([...])}``."""
    if not isinstance(plugins, list | tuple):
        raise LMStudioValueError(
            "plugins is a list of 'owner/name' identifiers or ('owner/name', {config}) pairs"
        )
    items = []
    for item in plugins:
        identifier, config = item if isinstance(item, tuple) and len(item) == 2 else (item, None)
        kv = _plugin_kv(config)
        items.append(
            {"identifier": _identifier(identifier), "config": {f.key: f.value for f in kv.fields}}
        )
    return {PLUGINS_KEY: items}


class GeneratorStream:
    """One generation by a generator plugin: iterate it for fragments, or ``result()``."""

    def __init__(
        self, pool: SessionPool, parameter: Any, plugin: str, timeout: float | None
    ) -> None:
        self._pool = pool
        self._parameter = parameter
        self._timeout = timeout
        self._state = GeneratorState(plugin)
        self._channel: Channel | None = None
        self._failure: BaseException | None = None
        self._done = False

    def __iter__(self) -> Iterator[PredictionFragment]:
        try:
            while not self._done:
                for fragment in self._step():
                    yield fragment
        finally:
            if not self._done:
                self.cancel()

    def result(self) -> GeneratorResult:
        """Wait for the end of the generation (consuming what was not iterated yet)."""
        while not self._done:
            self._step()
        if self._failure is not None:
            raise self._failure
        return self._state.result()

    def cancel(self) -> None:
        """Ask the server to stop the generator. Never blocks."""
        if self._channel is not None and not self._done:
            self._channel.send(_CANCEL)

    def close(self) -> None:
        if not self._done:
            self.cancel()
            self._done = True
            self._failure = LocalProtocolError("the stream was closed before the generator ended")
            if self._channel is not None:
                self._channel.abandon()

    def __enter__(self) -> GeneratorStream:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _step(self) -> list[PredictionFragment]:
        if self._channel is None:
            self._channel = self._pool.open_channel(
                "plugins", "generateWithGenerator", self._parameter, self._timeout
            )
        channel = self._channel
        try:
            message = channel.receive(self._timeout)
        except LMStudioError as exc:
            if channel.finished:
                self._done = True
                self._failure = exc
            else:
                self.cancel()
            raise
        except BaseException:
            self.cancel()
            raise
        if message is None:
            self._done = True
            self._state.channel_closed()
            return []
        fragments = self._state.feed(message)
        if self._state.finished:
            self._done = True
            channel.abandon()
        return fragments


class GeneratorHandle:
    """A generator plugin used like a model: ``respond()`` / ``respond_stream()``."""

    def __init__(self, pool: SessionPool, identifier: str, config: KVConfig) -> None:
        self._pool = pool
        self.identifier = identifier
        self._config = config

    @checked_arguments
    def respond_stream(
        self, chat: ChatLike, *, tools: list[Any] | None = None, timeout: Timeout = NOT_GIVEN
    ) -> GeneratorStream:
        """Start a generation; nothing is sent until the first iteration or ``result()``.

        ``tools``: tool definitions offered to the generator (the wire's
        ``{"type": "function", "function": {...}}``).
        """
        parameter = GenerateWithGeneratorCreationParameter(
            plugin_identifier=self.identifier,
            plugin_config_specifier=StartToolUseSessionCreationParameterPluginConfigSpecifierDirect(
                config=self._config
            ),
            tools=_tools(tools),
            history=to_history(chat),
        )
        encode_payload(parameter, "creation parameter")  # refuse unsendable input now
        return GeneratorStream(
            self._pool, parameter, self.identifier, self._pool.timeout_for(timeout)
        )

    @checked_arguments
    def respond(
        self, chat: ChatLike, *, tools: list[Any] | None = None, timeout: Timeout = NOT_GIVEN
    ) -> GeneratorResult:
        """The generator's whole answer."""
        return self.respond_stream(chat, tools=tools, timeout=timeout).result()


class PluginsNamespace:
    """``client.plugins``: plugins hosted by the server."""

    def __init__(self, pool: SessionPool) -> None:
        self._pool = pool

    def generator(
        self, plugin_identifier: str, *, config: Mapping[str, Any] | None = None, **unknown: Never
    ) -> GeneratorHandle:
        """A handle on a generator plugin (``owner/name``); ``config`` sets its config fields
        (the server fills in the defaults and refuses unknown fields or unfit values)."""
        reject_unknown_arguments("plugins.generator()", unknown, ("plugin_identifier", "config"))
        return GeneratorHandle(self._pool, _identifier(plugin_identifier), _plugin_kv(config))
