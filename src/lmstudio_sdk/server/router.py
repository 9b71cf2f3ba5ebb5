"""From (namespace, endpoint name) to its handler: the namespace tables, composed.

The router also tells an endpoint the protocol knows but this server does not handle from one
that does not exist, because LM Studio warns differently about each.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

from .._protocol.namespaces import NAMESPACES
from .catalog import KNOWN_ENDPOINTS
from .endpoints import embedding, files, llm, runtime, system
from .endpoints.context import ChannelEndpoint, NamespaceTable, RpcEndpoint

__all__ = ["ROUTER", "Router"]

Missing = Literal["unhandled", "unknown"]


class Router:
    def __init__(self, tables: Iterable[NamespaceTable]) -> None:
        self._rpcs: dict[str, dict[str, RpcEndpoint]] = {ns: {} for ns in NAMESPACES}
        self._channels: dict[str, dict[str, ChannelEndpoint]] = {ns: {} for ns in NAMESPACES}
        for table in tables:
            if table.namespace not in NAMESPACES:
                raise ValueError(f"no namespace {table.namespace!r} in the protocol")
            self._rpcs[table.namespace].update(table.rpcs)
            self._channels[table.namespace].update(table.channels)

    def rpc(self, namespace: str, endpoint: str) -> RpcEndpoint | Missing:
        found = self._rpcs[namespace].get(endpoint)
        if found is not None:
            return found
        return "unhandled" if endpoint in KNOWN_ENDPOINTS[namespace][0] else "unknown"

    def channel(self, namespace: str, endpoint: str) -> ChannelEndpoint | Missing:
        found = self._channels[namespace].get(endpoint)
        if found is not None:
            return found
        return "unhandled" if endpoint in KNOWN_ENDPOINTS[namespace][1] else "unknown"


ROUTER = Router([llm.TABLE, embedding.TABLE, system.TABLE, files.TABLE, runtime.TABLE])
