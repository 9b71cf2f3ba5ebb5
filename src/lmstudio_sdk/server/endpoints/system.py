"""/system: versions, downloaded models, notifications, experiment flags, liveness."""

from __future__ import annotations

import asyncio
import os
from typing import Any

from ..._protocol.params import (
    ModelKeyParams,
    NotifyParams,
    SetExperimentFlagParams,
    StartHttpServerParams,
)
from ..._protocol.schema import (
    model_info_to_wire,
)
from ..errors import ServerError, path_not_found
from .context import CallContext, ChannelContext, ChannelEndpoint, NamespaceTable, RpcEndpoint

__all__ = ["LMSTUDIO_BUILD", "LMSTUDIO_VERSION", "TABLE"]


# The LM Studio version this server reports (the first with API tokens and /runtime).
LMSTUDIO_VERSION = "0.4.0"


LMSTUDIO_BUILD = 1


async def list_downloaded_models(ctx: CallContext, _: None) -> Any:
    return [model_info_to_wire(m) for m in ctx.models.downloaded()]


async def list_downloaded_model_variants(ctx: CallContext, p: ModelKeyParams) -> Any:
    models = ctx.models.downloaded()
    found = [m for m in models if m.model_key == p.model_key]
    if not found:
        raise path_not_found(p.model_key, [m.model_key for m in models])
    return [model_info_to_wire(m) for m in found]


async def version(ctx: CallContext, _: None) -> Any:
    return {"version": LMSTUDIO_VERSION, "build": LMSTUDIO_BUILD}


async def info(ctx: CallContext, _: None) -> Any:
    return {"pid": os.getpid(), "isDaemon": True, "version": LMSTUDIO_VERSION}


async def notify(ctx: CallContext, p: NotifyParams) -> None:
    ctx.notify(p.title, p.description)


async def get_experiment_flags(ctx: CallContext, _: None) -> Any:
    return sorted(ctx.experiment_flags)


async def set_experiment_flag(ctx: CallContext, p: SetExperimentFlagParams) -> None:
    if p.value:
        ctx.experiment_flags.add(p.code)
    else:
        ctx.experiment_flags.discard(p.code)


def _no_http_server() -> ServerError:
    return ServerError(
        "The embedded lmstudio-sdk server has no separate HTTP (OpenAI-compatible) server",
        suggestion=f"Its port already serves the SDK API; connect to {_SERVER_HINT}.",
    )


_SERVER_HINT = "the URL printed by `lmstudio-sdk serve`"


async def start_http_server(ctx: CallContext, p: StartHttpServerParams) -> None:
    raise _no_http_server()


async def stop_http_server(ctx: CallContext, _: None) -> None:
    raise _no_http_server()


async def alive(ctx: ChannelContext, _: None) -> None:
    # Never ends on its own: the client learns of a disconnect when the socket closes.
    await asyncio.Event().wait()


TABLE = NamespaceTable(
    "/system",
    rpcs={
        "listDownloadedModels": RpcEndpoint(list_downloaded_models),
        "listDownloadedModelVariants": RpcEndpoint(list_downloaded_model_variants, ModelKeyParams),
        "version": RpcEndpoint(version),
        "info": RpcEndpoint(info),
        "notify": RpcEndpoint(notify, NotifyParams),
        "getExperimentFlags": RpcEndpoint(get_experiment_flags),
        "setExperimentFlag": RpcEndpoint(set_experiment_flag, SetExperimentFlagParams),
        "startHttpServer": RpcEndpoint(start_http_server, StartHttpServerParams),
        "stopHttpServer": RpcEndpoint(stop_http_server),
    },
    channels={"alive": ChannelEndpoint(alive)},
)
