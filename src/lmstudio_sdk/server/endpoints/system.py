"""/system: versions, downloaded models, notifications, experiment flags, liveness, shutdown."""

from __future__ import annotations

import asyncio
import os

from ..._protocol.packets.shared import ModelInfo
from ..._protocol.packets.system import (
    InfoResult,
    ListDownloadedModelVariantsParameter,
    NotifyParameter,
    SetExperimentFlagParameter,
    StartHttpServerParameter,
    VersionResult,
)
from ..errors import not_supported, path_not_found, permission_denied
from .context import CallContext, ChannelContext, ChannelEndpoint, NamespaceTable, RpcEndpoint

__all__ = ["LMSTUDIO_BUILD", "LMSTUDIO_VERSION", "TABLE"]


# The LM Studio version this server reports (the first with API tokens and /runtime).
LMSTUDIO_VERSION = "0.4.0"


LMSTUDIO_BUILD = 1


async def list_downloaded_models(ctx: CallContext, _: None) -> list[ModelInfo]:
    return list(ctx.models.downloaded())


async def list_downloaded_model_variants(
    ctx: CallContext, p: ListDownloadedModelVariantsParameter
) -> list[ModelInfo]:
    models = ctx.models.downloaded()
    found = [m for m in models if m.model_key == p.model_key]
    if not found:
        raise path_not_found(p.model_key, [m.model_key for m in models])
    return found


async def version(ctx: CallContext, _: None) -> VersionResult:
    return VersionResult(version=LMSTUDIO_VERSION, build=LMSTUDIO_BUILD)


async def info(ctx: CallContext, _: None) -> InfoResult:
    return InfoResult(pid=os.getpid(), is_daemon=True, version=LMSTUDIO_VERSION)


async def notify(ctx: CallContext, p: NotifyParameter) -> None:
    ctx.notify(p.title, p.description)


async def get_experiment_flags(ctx: CallContext, _: None) -> list[str]:
    return sorted(ctx.experiment_flags)


async def set_experiment_flag(ctx: CallContext, p: SetExperimentFlagParameter) -> None:
    if p.value:
        ctx.experiment_flags.add(p.code)
    else:
        ctx.experiment_flags.discard(p.code)


def _no_http_server(endpoint: str) -> Exception:
    return not_supported(
        f"/system/{endpoint}",
        "this server has no separate HTTP (OpenAI-compatible) server to start or stop: its one "
        "port speaks only the SDK API (and its discovery over HTTP)",
        suggestion="Connect SDK clients to the URL printed by `lmstudio-sdk serve`.",
    )


async def start_http_server(ctx: CallContext, p: StartHttpServerParameter) -> None:
    raise _no_http_server("startHttpServer")


async def stop_http_server(ctx: CallContext, _: None) -> None:
    raise _no_http_server("stopHttpServer")


async def request_shutdown(ctx: CallContext, _: None) -> None:
    # LM Studio keeps shutdown for privileged clients. Here that means the API token: without
    # one every client is a guest that may claim any identifier, so nobody may shut down.
    if not ctx.holds_api_token:
        raise permission_denied(
            "Only a client with this server's API token may shut it down",
            "Start the server with `lmstudio-sdk serve --api-token sk-lm-…` and connect with "
            "that token; or stop it where it runs (Ctrl-C).",
        )
    ctx.request_shutdown()


async def alive(ctx: ChannelContext, _: None) -> None:
    # Never ends on its own: the client learns of a disconnect when the socket closes.
    await asyncio.Event().wait()


TABLE = NamespaceTable(
    "/system",
    rpcs={
        "listDownloadedModels": RpcEndpoint(list_downloaded_models),
        "listDownloadedModelVariants": RpcEndpoint(list_downloaded_model_variants),
        "version": RpcEndpoint(version),
        "info": RpcEndpoint(info),
        "notify": RpcEndpoint(notify),
        "getExperimentFlags": RpcEndpoint(get_experiment_flags),
        "setExperimentFlag": RpcEndpoint(set_experiment_flag),
        "startHttpServer": RpcEndpoint(start_http_server),
        "stopHttpServer": RpcEndpoint(stop_http_server),
        "requestShutdown": RpcEndpoint(request_shutdown),
    },
    channels={
        "alive": ChannelEndpoint(alive),
    },
)
