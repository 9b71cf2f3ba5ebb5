"""/runtime: the engine this server runs, described as LM Studio describes its engines."""

from __future__ import annotations

import platform
import sys

import msgspec

from ..._protocol.packets.runtime import GetEngineSelectionsResult, ListEnginesResultItem
from ..._protocol.packets.shared import GetEngineSelectionsResultItem1, ListEnginesResultItemCpu
from ..._version import __version__
from .context import CallContext, NamespaceTable, RpcEndpoint

__all__ = ["TABLE"]


_PLATFORMS = {
    "darwin": "mac",
    "win32": "win",
}


class SuperJsonMeta(msgspec.Struct, frozen=True):
    values: list[str]


class SuperJsonMap(msgspec.Struct, frozen=True):
    """superjson's envelope of a ``Map``: its entries, and meta saying they form a map."""

    json: GetEngineSelectionsResult
    meta: SuperJsonMeta = SuperJsonMeta(values=["map"])


def _engine_descriptor(ctx: CallContext) -> GetEngineSelectionsResultItem1:
    return GetEngineSelectionsResultItem1(
        name=f"lmstudio-sdk-{ctx.engine_name}", version=__version__
    )


async def list_engines(ctx: CallContext, _: None) -> list[ListEnginesResultItem]:
    descriptor = _engine_descriptor(ctx)
    engine = ListEnginesResultItem(
        name=descriptor.name,
        version=descriptor.version,
        engine=ctx.engine_name,
        platform=_PLATFORMS.get(sys.platform, "linux"),
        cpu=ListEnginesResultItemCpu(architecture=platform.machine() or "unknown"),
        supported_model_format_names=["GGUF"],
    )
    return [engine]


async def get_engine_selections(ctx: CallContext, _: None) -> SuperJsonMap:
    # The only superjson-serialised endpoint: its Map result travels as entries plus meta.
    return SuperJsonMap(json=[("GGUF", _engine_descriptor(ctx))])


TABLE = NamespaceTable(
    "/runtime",
    rpcs={
        "listEngines": RpcEndpoint(list_engines),
        "getEngineSelections": RpcEndpoint(get_engine_selections),
    },
)
