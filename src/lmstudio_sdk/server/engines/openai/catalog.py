"""The upstreams' ``/v1/models`` → the server's downloaded models.

LLM or embedding model? ``/v1/models`` does not say (neither vLLM, SGLang nor the llama.cpp
servers put a task in it), so each model id is probed once with a one-word ``POST
/v1/embeddings``: a model that answers with a vector is an embedding model, anything else an
LLM. (A llama.cpp ``llama-server`` started with ``--embeddings`` answers for an LLM too; start
embedding models on their own upstream.) The context length comes from the listing where the
upstream gives it (vLLM/SGLang ``max_model_len``, llama-server ``meta.n_ctx_train``), else
DEFAULT_CONTEXT_LENGTH.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from ...._protocol.packets.shared import EmbeddingModelInfo, LLMInfo
from .upstreams import Upstream, UpstreamPool

__all__ = ["DEFAULT_CONTEXT_LENGTH", "ModelCatalog"]

DEFAULT_CONTEXT_LENGTH = 4096
PROBE_TIMEOUT_S = 10.0


def context_length_of(entry: dict[str, Any]) -> int:
    meta = entry.get("meta")
    if not isinstance(meta, dict):
        meta = {}
    for value in (entry.get("max_model_len"), entry.get("context_length"), meta.get("n_ctx_train")):
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
    return DEFAULT_CONTEXT_LENGTH


def format_of(model_id: str, entry: dict[str, Any]) -> str:
    """A guess, for display only (LM Studio's clients insist on one of their formats):
    llama.cpp servers (``meta`` in the listing, llama-cpp-python's ``owned_by: me``, a
    ``.gguf`` id) serve GGUF; vLLM, SGLang and Ray Serve serve Hugging Face safetensors."""
    if isinstance(entry.get("meta"), dict) or entry.get("owned_by") in ("me", "llamacpp"):
        return "gguf"
    return "gguf" if "gguf" in model_id.lower() else "safetensors"


def model_info(
    model_id: str, entry: dict[str, Any], embedding: bool
) -> LLMInfo | EmbeddingModelInfo:
    owner = entry.get("owned_by")
    common: dict[str, Any] = {
        "model_key": model_id,
        "format": format_of(model_id, entry),
        "display_name": model_id,
        "publisher": owner if isinstance(owner, str) else "",
        "path": model_id,
        "indexed_model_identifier": model_id,
        "size_bytes": 0,  # the upstream does not say
        "max_context_length": context_length_of(entry),
        "device_identifier": None,
    }
    if embedding:
        return EmbeddingModelInfo(**common)
    return LLMInfo(**common, vision=False, trained_for_tool_use=True)


class ModelCatalog:
    """Every model some upstream serves, classified once per model id."""

    def __init__(self, pool: UpstreamPool) -> None:
        self._pool = pool
        self._is_embedding: dict[str, bool] = {}
        self._refreshing: asyncio.Task[None] | None = None

    def list_models(self) -> list[LLMInfo | EmbeddingModelInfo]:
        """The models the upstreams last listed. On the server's loop a due re-listing runs
        in the background (this listing shows the previous one's result), so that HTTP to a
        slow or unreachable upstream never blocks the server; only the very first listing,
        or one made where no loop runs, waits for the upstreams."""
        if self._pool.listing_due():
            try:
                asyncio.get_running_loop()
                in_loop = self._pool.listed_once
            except RuntimeError:
                in_loop = False
            if in_loop:
                if self._refreshing is None or self._refreshing.done():
                    self._refreshing = self._pool.spawn(self._refresh(), "list upstream models")
            else:
                self._pool.refresh_sync()
                for upstream, model_id in self._unclassified():
                    self._classify_sync(upstream, model_id)
        refreshing = self._refreshing is not None and not self._refreshing.done()
        return [
            model_info(model_id, entry, self._is_embedding.get(model_id, False))
            for model_id, (_upstream, entry) in sorted(self._entries().items())
            # A model the running refresh found is shown once it is classified.
            if not (refreshing and model_id not in self._is_embedding)
        ]

    async def _refresh(self) -> None:
        await self._pool.refresh()
        # Classified before the next listing shows them: never an embedding model as an LLM.
        await asyncio.gather(*(self._classify(u, m) for u, m in self._unclassified()))

    def _entries(self) -> dict[str, tuple[Upstream, dict[str, Any]]]:
        entries: dict[str, tuple[Upstream, dict[str, Any]]] = {}
        for upstream in self._pool.upstreams:
            if upstream.healthy:
                for model_id, entry in upstream.models.items():
                    entries.setdefault(model_id, (upstream, entry))
        return entries

    def _unclassified(self) -> list[tuple[Upstream, str]]:
        return [
            (upstream, model_id)
            for model_id, (upstream, _entry) in self._entries().items()
            if model_id not in self._is_embedding
        ]

    def _classify_sync(self, upstream: Upstream, model_id: str) -> None:
        try:
            with self._pool.sync_client(PROBE_TIMEOUT_S) as client:
                response = client.post(f"{upstream.url}/v1/embeddings", json=_probe(model_id))
            self._remember(model_id, response)
        except (httpx.HTTPError, ValueError, AttributeError, TypeError):
            pass  # not remembered (listed as an LLM): probed again next time

    async def _classify(self, upstream: Upstream, model_id: str) -> None:
        try:
            response = await self._pool.client().post(
                f"{upstream.url}/v1/embeddings", json=_probe(model_id), timeout=PROBE_TIMEOUT_S
            )
            self._remember(model_id, response)
        except (httpx.HTTPError, ValueError, AttributeError, TypeError):
            pass  # not remembered (listed as an LLM): probed again next time

    def _remember(self, model_id: str, response: httpx.Response) -> None:
        data = response.json().get("data") if response.status_code == 200 else None
        first = data[0] if isinstance(data, list) and data else {}
        self._is_embedding[model_id] = isinstance(first.get("embedding"), list)


def _probe(model_id: str) -> dict[str, Any]:
    return {"model": model_id, "input": "probe"}
