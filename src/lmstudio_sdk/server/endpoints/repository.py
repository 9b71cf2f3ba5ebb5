"""/repository: search the model catalogue, list a model's download options, download one with
progress; LM Link status (this server has no LM Link: it reports itself offline, and
``unimplemented.py`` says why the LM Link setters and the Hub endpoints are left out).

The catalogue itself (``services/catalog.py``) exists when the server was started with one
(``lmstudio-sdk serve --catalog DIR``); without it these endpoints refuse with a typed
"not implemented" error that says so.
"""

from __future__ import annotations

import asyncio
import socket
import threading

from ..._protocol.packets import repository as wire
from ..._protocol.packets.shared import (
    DownloadModelDownloadProgressPacket,
    DownloadModelStartFinalizingPacket,
    DownloadProgressUpdate,
    SearchModelsResultResultIdentifierCatalog,
    SearchModelsResultResultIdentifierHf,
)
from ..errors import not_supported
from ..services.catalog import Catalog
from .context import CallContext, ChannelContext, ChannelEndpoint, NamespaceTable, RpcEndpoint

__all__ = ["TABLE"]


def _catalog(ctx: CallContext, endpoint: str) -> Catalog:
    if ctx.catalog is None:
        raise not_supported(
            f"/repository/{endpoint}",
            "this server has no model catalogue (it was started without --catalog)",
            suggestion="Start it with a catalogue folder: `lmstudio-sdk serve --catalog DIR` "
            "(see docs/catalog.md).",
        )
    return ctx.catalog


async def search_models(ctx: CallContext, p: wire.SearchModelsParameter) -> wire.SearchModelsResult:
    hits = _catalog(ctx, "searchModels").search(
        p.opts.search_term, p.opts.limit, p.opts.compatibility_types
    )
    return wire.SearchModelsResult(
        results=[
            wire.SearchModelsResultResult(
                name=hit.entry.name,
                identifier=SearchModelsResultResultIdentifierCatalog(
                    identifier=hit.entry.identifier
                ),
                exact=hit.exact or None,
                staff_pick=hit.entry.staff_pick or None,
            )
            for hit in hits
        ]
    )


async def get_model_download_options(
    ctx: CallContext, p: wire.GetModelDownloadOptionsParameter
) -> wire.GetModelDownloadOptionsResult:
    catalog = _catalog(ctx, "getModelDownloadOptions")
    identifier = p.model_search_result_identifier
    if isinstance(identifier, SearchModelsResultResultIdentifierHf):
        raise not_supported(
            "/repository/getModelDownloadOptions",
            "Hugging Face search results (type 'hf'): this server downloads only from its own "
            "catalogue, never from a model hub",
            suggestion="Use a search result of type 'catalog'.",
        )
    return wire.GetModelDownloadOptionsResult(
        results=[
            wire.GetModelDownloadOptionsResultResult(
                quantization=option.file.quantization,
                name=option.file.file_name,
                size_bytes=option.file.size_bytes,
                fit_estimation=option.fit_estimation,
                recommended=option.recommended or None,
                download_identifier=option.download_identifier,
                indexed_model_identifier=option.download_identifier,
                compatibility_type=option.file.compatibility_type,
            )
            for option in catalog.options(identifier.identifier)
        ]
    )


async def download_model(ctx: ChannelContext, p: wire.DownloadModelCreationParameter) -> None:
    catalog = _catalog(ctx, "downloadModel")
    catalog.option(p.download_identifier)  # an unknown identifier fails before any work
    loop = asyncio.get_running_loop()
    cancel = threading.Event()
    ctx.on_cancel(cancel.set)

    def on_progress(done: int, total: int, speed: float) -> None:
        update = DownloadProgressUpdate(
            downloaded_bytes=done, total_bytes=total, speed_bytes_per_second=round(speed, 1)
        )
        loop.call_soon_threadsafe(ctx.send, DownloadModelDownloadProgressPacket(update=update))

    def on_finalizing() -> None:
        loop.call_soon_threadsafe(ctx.send, DownloadModelStartFinalizingPacket())

    key = await catalog.download(
        p.download_identifier,
        on_progress=on_progress,
        on_finalizing=on_finalizing,
        cancel=cancel,
    )
    ctx.send(wire.DownloadModelSuccessPacket(default_identifier=key))


# -- LM Link: one device, no peers (the setters are in unimplemented.py) --------------------------


async def lm_link_status(ctx: CallContext, _: None) -> wire.LmLinkStatusResult:
    return wire.LmLinkStatusResult(
        status="offline",
        issues=["noAccess"],
        peers=[],
        # The one device this server is: what deviceIdentifier of load, unload, getOrLoad,
        # estimateModelUsage and model queries accepts besides null.
        device_identifier=ctx.models.device_identifier,
        device_name=socket.gethostname(),
    )


TABLE = NamespaceTable(
    "/repository",
    rpcs={
        "searchModels": RpcEndpoint(search_models),
        "getModelDownloadOptions": RpcEndpoint(get_model_download_options),
        "lmLinkStatus": RpcEndpoint(lm_link_status),
    },
    channels={
        "downloadModel": ChannelEndpoint(download_model),
    },
)
