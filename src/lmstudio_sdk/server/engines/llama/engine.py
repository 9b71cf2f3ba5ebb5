"""The llama.cpp engine (llama-cpp-python 0.3.36) behind the embedded server's Engine interface.

Threading model: llama.cpp calls release the GIL (ctypes), so every blocking step runs in a
thread of its own and hands events back to the event loop through ``call_soon_threadsafe``.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable
from pathlib import Path

from ...._protocol.packets.shared import EmbeddingModelInfo, KVConfig, LLMInfo
from ...errors import ServerError, domain_mismatch, path_not_found
from ...local.memory import F16, kv_cache_size
from ...local.models_dir import ScannedModel, is_encoder, scan_model_files
from ..base import MemoryEstimate
from .load_config import parallel_predictions, translate_load_config, unified_kv_cache
from .model import LlamaLoadedModel
from .runtime import default_thread_count

__all__ = ["LlamaEngine"]


class LlamaEngine:
    """Lists GGUF models in an LM Studio-layout folder and loads them with llama.cpp."""

    name = "llama.cpp"

    def __init__(self, models_dir: Path, *, n_threads: int | None = None) -> None:
        self.models_dir = Path(models_dir)
        self.n_threads = n_threads if n_threads and n_threads > 0 else default_thread_count()
        self._scanned: dict[str, ScannedModel] = {}

    def list_models(self) -> list[LLMInfo | EmbeddingModelInfo]:
        scanned = scan_model_files(self.models_dir)
        self._scanned = {s.info.path: s for s in scanned}
        return [s.info for s in scanned]

    def scanned(self, info: LLMInfo | EmbeddingModelInfo) -> ScannedModel:
        found = self._scanned.get(info.path)
        if found is None or not found.file.is_file():
            self.list_models()
            found = self._scanned.get(info.path)
        if found is None:
            raise ServerError(
                f"Model file not found: {info.path}",
                cause=f"{info.path} is not in {self.models_dir}",
            )
        return found

    def find_llm(self, key: str) -> ScannedModel:
        """The LLM of the models folder with this model key, path, or folder ("publisher/
        name"): a draft model."""
        models = scan_model_files(self.models_dir)
        self._scanned = {s.info.path: s for s in models}
        wanted = key.strip().strip("/").lower()
        found = [
            s
            for s in models
            if wanted in (s.info.model_key.lower(), s.info.path.lower())
            or wanted == s.info.indexed_model_identifier.lower()
            or ("/" in wanted and s.info.path.lower().startswith(wanted + "/"))
        ]
        llms = [s for s in found if isinstance(s.info, LLMInfo)]
        if llms:
            return llms[0]
        if found:
            raise domain_mismatch(found[0].info.path, "embedding", "llm")
        raise path_not_found(key, [s.info.model_key for s in models])

    def estimate_memory(
        self, info: LLMInfo | EmbeddingModelInfo, config: KVConfig
    ) -> MemoryEstimate:
        """The file's weights (and its vision projector's) plus the KV cache a load with
        ``config`` would allocate: the same context length, sequences and cache types as
        ``load`` (encoders, as most embedding models are, keep no cache)."""
        scanned = self.scanned(info)
        kwargs, effective = translate_load_config(info, config, self.n_threads)
        n_ctx = int(kwargs["n_ctx"])
        weights = scanned.file.stat().st_size
        if scanned.mmproj is not None and scanned.mmproj.is_file():
            weights += scanned.mmproj.stat().st_size
        if is_encoder(scanned.architecture):
            return MemoryEstimate(weights, 0, n_ctx, confident=True)
        slots = 1 if isinstance(info, EmbeddingModelInfo) else parallel_predictions(effective)
        cells = n_ctx * slots if slots > 1 and not unified_kv_cache(effective) else n_ctx
        cache = kv_cache_size(
            scanned.metadata,
            cells,
            type_k=int(kwargs.get("type_k", F16)),
            type_v=int(kwargs.get("type_v", F16)),
        )
        return MemoryEstimate(weights, cache.bytes, n_ctx, confident=cache.confident)

    async def load(
        self,
        info: LLMInfo | EmbeddingModelInfo,
        config: KVConfig,
        on_progress: Callable[[float], None],
    ) -> LlamaLoadedModel:
        scanned = self.scanned(info)
        loop = asyncio.get_running_loop()
        abort = threading.Event()
        last = [0.0]

        def report(value: float) -> bool:
            value = min(max(value, 0.0), 1.0)
            # llama.cpp reports once per tensor; pass on steps of at least 1 %.
            if value >= last[0] + 0.01 or (value == 1.0 and last[0] < 1.0):
                last[0] = value
                with contextlib.suppress(RuntimeError):  # loop closed
                    loop.call_soon_threadsafe(on_progress, value)
            return not abort.is_set()

        future = loop.run_in_executor(
            None,
            lambda: LlamaLoadedModel.load(
                scanned, config, self.n_threads, report, find_llm=self.find_llm
            ),
        )
        try:
            model = await asyncio.shield(future)
        except asyncio.CancelledError:
            abort.set()

            def dispose(f: asyncio.Future[LlamaLoadedModel]) -> None:
                if not f.cancelled() and f.exception() is None:
                    f.result().close()

            future.add_done_callback(dispose)
            raise
        report(1.0)
        return model
