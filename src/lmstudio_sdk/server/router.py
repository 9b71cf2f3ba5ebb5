"""From (namespace, endpoint name) to its handler and its wire types: the namespace tables,
composed with the packet vocabulary's ``ENDPOINTS`` registry.

The router also tells an endpoint the protocol knows but this server does not handle from one
that does not exist (the registry holds every endpoint of TS SDK 2.0), because LM Studio warns
differently about each.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Generic, Literal, TypeVar

from .._protocol.namespaces import NAMESPACES
from .._protocol.packets import ENDPOINTS, Endpoint
from .endpoints import diagnostics, embedding, files, llm, plugins, repository, runtime, system
from .endpoints.context import ChannelEndpoint, NamespaceTable, RpcEndpoint

__all__ = ["ROUTER", "Missing", "Route", "Router"]

Missing = Literal["unhandled", "unknown"]
HandlerT = TypeVar("HandlerT", RpcEndpoint, ChannelEndpoint)


@dataclass(frozen=True, slots=True)
class Route(Generic[HandlerT]):
    """A handled endpoint: its handler and its wire types."""

    handler: HandlerT
    wire: Endpoint


def _registry_key(namespace: str, name: str) -> tuple[str, str]:
    return (namespace.lstrip("/"), name)


class Router:
    def __init__(self, tables: Iterable[NamespaceTable]) -> None:
        self._rpcs: dict[str, dict[str, Route[RpcEndpoint]]] = {ns: {} for ns in NAMESPACES}
        self._channels: dict[str, dict[str, Route[ChannelEndpoint]]] = {ns: {} for ns in NAMESPACES}
        for table in tables:
            if table.namespace not in NAMESPACES:
                raise ValueError(f"no namespace {table.namespace!r} in the protocol")
            for name, rpc in table.rpcs.items():
                wire = self._wire(table.namespace, name, "rpc")
                self._rpcs[table.namespace][name] = Route(rpc, wire)
            for name, channel in table.channels.items():
                wire = self._wire(table.namespace, name, "channel")
                self._channels[table.namespace][name] = Route(channel, wire)

    @staticmethod
    def _wire(namespace: str, name: str, kind: str) -> Endpoint:
        wire = ENDPOINTS.get(_registry_key(namespace, name))
        if wire is None or wire.kind != kind:
            raise ValueError(f"{namespace} has no {kind} endpoint {name!r} in the protocol")
        return wire

    def rpc(self, namespace: str, endpoint: str) -> Route[RpcEndpoint] | Missing:
        found = self._rpcs[namespace].get(endpoint)
        if found is not None:
            return found
        return self._missing(namespace, endpoint, "rpc")

    def channel(self, namespace: str, endpoint: str) -> Route[ChannelEndpoint] | Missing:
        found = self._channels[namespace].get(endpoint)
        if found is not None:
            return found
        return self._missing(namespace, endpoint, "channel")

    @staticmethod
    def _missing(namespace: str, endpoint: str, kind: str) -> Missing:
        known = ENDPOINTS.get(_registry_key(namespace, endpoint))
        return "unhandled" if known is not None and known.kind == kind else "unknown"


ROUTER = Router(
    [
        llm.TABLE,
        embedding.TABLE,
        system.TABLE,
        files.TABLE,
        runtime.TABLE,
        diagnostics.TABLE,
        plugins.TABLE,
        repository.TABLE,
    ]
)
