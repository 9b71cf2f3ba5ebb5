"""/embedding: embeddings, plus model management."""

from __future__ import annotations

from typing import Any

from ..._protocol.params import (
    EmbedStringParams,
)
from . import model_management
from .context import CallContext, NamespaceTable, RpcEndpoint

__all__ = ["TABLE"]


async def embed_string(ctx: CallContext, p: EmbedStringParams) -> Any:
    models = ctx.models
    instance = models.find(p.model_specifier, "embedding")
    async with models.use(instance, "computingEmbedding"):
        vector = await instance.model.embed(p.input_string)
    return {"embedding": vector}


TABLE = NamespaceTable(
    "/embedding",
    rpcs={**model_management.RPCS, "embedString": RpcEndpoint(embed_string, EmbedStringParams)},
    channels=dict(model_management.CHANNELS),
)
