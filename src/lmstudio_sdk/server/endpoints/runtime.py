"""/runtime: the engine this server runs, described as LM Studio describes its engines."""

from __future__ import annotations

import platform
import sys
from typing import Any

from ..._version import __version__
from .context import CallContext, NamespaceTable, RpcEndpoint

__all__ = ["TABLE"]


def _engine_descriptor(ctx: CallContext) -> dict[str, str]:
    return {"name": f"lmstudio-sdk-{ctx.engine_name}", "version": __version__}


async def list_engines(ctx: CallContext, _: None) -> Any:
    platform_name = {"darwin": "mac", "win32": "win"}.get(sys.platform, "linux")
    return [
        {
            **_engine_descriptor(ctx),
            "engine": ctx.engine_name,
            "platform": platform_name,
            "cpu": {"architecture": platform.machine() or "unknown"},
            "supportedModelFormatNames": ["GGUF"],
        }
    ]


async def get_engine_selections(ctx: CallContext, _: None) -> Any:
    # superjson-serialised endpoint (the only one): a Map becomes entries plus meta "map".
    return {"json": [["GGUF", _engine_descriptor(ctx)]], "meta": {"values": ["map"]}}


TABLE = NamespaceTable(
    "/runtime",
    rpcs={
        "listEngines": RpcEndpoint(list_engines),
        "getEngineSelections": RpcEndpoint(get_engine_selections, superjson=True),
    },
)
