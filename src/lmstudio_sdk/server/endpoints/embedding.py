"""/embedding: embeddings, plus model management."""

from __future__ import annotations

from ..._protocol.packets.embedding import EmbedStringParameter, EmbedStringResult
from . import model_management
from .context import CallContext, NamespaceTable, RpcEndpoint

__all__ = ["TABLE"]


async def embed_string(ctx: CallContext, p: EmbedStringParameter) -> EmbedStringResult:
    models = ctx.models
    instance = models.find(p.model_specifier, "embedding")
    async with models.use(instance, "computingEmbedding"):
        vector = await instance.model.embed(p.input_string)
    return EmbedStringResult(embedding=list(vector))


TABLE = NamespaceTable(
    "/embedding",
    rpcs={**model_management.RPCS, "embedString": RpcEndpoint(embed_string)},
    channels=dict(model_management.CHANNELS),
)
