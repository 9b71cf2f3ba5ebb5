"""The openai engine: the embedded server in front of OpenAI-compatible servers (vLLM, SGLang,
Ray Serve LLM, llama.cpp servers…), so that LM Studio clients run unchanged against them.

Loading maps to what the OpenAI API offers, which is nothing: a model is "loaded" once an
upstream lists it in ``/v1/models`` (the upstream decides what it serves and keeps it in
memory); unloading forgets the instance and leaves the upstream alone. The context length is
the upstream's; a requested one cannot change it.
"""

from __future__ import annotations

from collections.abc import Callable

from ...._protocol.packets.shared import EmbeddingModelInfo, KVConfig, KVConfigField, LLMInfo
from .catalog import ModelCatalog
from .errors import no_upstream_for
from .model import OpenAILoadedModel
from .upstreams import UpstreamPool

__all__ = ["OpenAIEngine"]


class OpenAIEngine:
    name = "openai"

    def __init__(
        self,
        upstreams: list[str],
        *,
        api_key: str | None = None,
        read_timeout: float = 120.0,
        health_interval: float = 5.0,
    ) -> None:
        self.pool = UpstreamPool(
            upstreams, api_key=api_key, read_timeout=read_timeout, health_interval=health_interval
        )
        self._catalog = ModelCatalog(self.pool)

    def list_models(self) -> list[LLMInfo | EmbeddingModelInfo]:
        return self._catalog.list_models()

    async def load(
        self,
        info: LLMInfo | EmbeddingModelInfo,
        config: KVConfig,
        on_progress: Callable[[float], None],
    ) -> OpenAILoadedModel:
        self.pool.client()  # starts the health check on this loop
        if not self.pool.serving(info.model_key):
            raise no_upstream_for(info.model_key, [u.url for u in self.pool.upstreams])
        on_progress(1.0)
        key = (
            "llm.load.contextLength"
            if isinstance(info, LLMInfo)
            else "embedding.load.contextLength"
        )
        fields = [f for f in config.fields if f.key != key]
        fields.insert(0, KVConfigField(key=key, value=info.max_context_length))
        return OpenAILoadedModel(self.pool, info, KVConfig(fields=fields))

    async def aclose(self) -> None:
        await self.pool.aclose()
