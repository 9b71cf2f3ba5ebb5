"""One model loaded by llama.cpp: an LLM (predict) or an embedding model (embed).

A ``Llama`` context is not re-entrant, so one thread owns it: an LLM's batch scheduler
(``scheduler.py``, N sequences decoded together) or an embedding model's batcher
(``embedding.py``). A prediction is prepared in a thread of its own (``prediction.py``), runs
as a job of the scheduler, and hands events back to the loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import threading
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

from ...._protocol.packets.shared import ChatHistoryData, EmbeddingModelInfo, KVConfig, LLMInfo
from ...errors import ServerError
from ...local.models_dir import ScannedModel
from ..base import EngineEvent, PredictionRequest
from .embedding import EmbeddingBatcher
from .handoff import inbox_for
from .load_config import parallel_predictions, translate_load_config, unified_kv_cache
from .prediction import Prediction
from .runtime import LOAD_LOCK, llama_cpp_module, model_progress, parallel_context
from .scheduler import BatchScheduler
from .speculative import DraftModel, check_vocabularies, load_draft_model
from .templates import build_prompt, prepare_messages
from .tools import TOOL_CALL_OPEN
from .vision import create_vision_handler

__all__ = ["LlamaLoadedModel"]

_log = logging.getLogger("lmstudio_sdk.server.engines.llama")

_END = object()


class LlamaLoadedModel:
    """One loaded instance: an LLM (predict) or an embedding model (embed)."""

    def __init__(
        self,
        scanned: ScannedModel,
        llm: Any,
        load_config: KVConfig,
        vision: Any | None,
        n_threads: int,
        find_llm: Callable[[str], ScannedModel] | None = None,
    ) -> None:
        self._n_threads = n_threads
        self._find_llm = find_llm
        self._drafts: dict[str, DraftModel] = {}  # draft models by file path
        self._draft_lock = threading.Lock()
        self._scanned = scanned
        self._llm = llm
        self._load_config = load_config
        self._vision = vision
        self._lock = threading.Lock()  # guards closing
        self._closed = False
        self._unloading = False
        self._warned: set[tuple[str, str]] = set()
        self._active_cancel: list[threading.Event] = []
        llama_cpp = llama_cpp_module()
        self._lc = llama_cpp
        self._vocab = llm._model.vocab
        # llama.cpp may round the context up (to a multiple of 256), but the requested size
        # is the limit the client asked for; each sequence has a stream of that size.
        requested = load_config.get("llm.load.contextLength") or load_config.get(
            "embedding.load.contextLength"
        )
        per_sequence = int(llama_cpp.llama_n_ctx_seq(llm._ctx.ctx))
        self._n_ctx = min(per_sequence, int(requested)) if requested else per_sequence
        self._bos_id = int(llm.token_bos())
        self._eos_id = int(llm.token_eos())
        self._bos_text = self._token_text(self._bos_id)
        self._eos_text = self._token_text(self._eos_id)
        self._batch_size = int(llm.n_batch)
        self._scheduler: BatchScheduler | None = None
        self._embedder: EmbeddingBatcher | None = None
        name = scanned.info.model_key
        if isinstance(scanned.info, EmbeddingModelInfo):
            self._embedder = EmbeddingBatcher(llama_cpp, llm, self._n_ctx, name)
        else:
            slots = parallel_predictions(load_config)
            self._scheduler = BatchScheduler(
                llama_cpp,
                llm._ctx,
                slots,
                self._batch_size,
                n_threads,
                name,
                shared_cache=unified_kv_cache(load_config),
            )

    # -- construction -----------------------------------------------------------------------

    @classmethod
    def load(
        cls,
        scanned: ScannedModel,
        config: KVConfig,
        n_threads: int,
        report: Callable[[float], bool],
        find_llm: Callable[[str], ScannedModel] | None = None,
    ) -> LlamaLoadedModel:
        """Load in the calling thread; ``report`` gets rising progress and returns False to
        abort."""
        llama_cpp = llama_cpp_module()
        info = scanned.info
        is_embedding = isinstance(info, EmbeddingModelInfo)
        kwargs, effective = translate_load_config(info, config, n_threads)
        report(0.01)
        try:
            slots = 1 if is_embedding else parallel_predictions(effective)
            unified = unified_kv_cache(effective)
            if slots > 1 and not unified:
                kwargs["n_ctx"] = int(kwargs["n_ctx"]) * slots  # one stream per sequence
            with (
                LOAD_LOCK,
                model_progress(lambda v: report(0.01 + 0.89 * v)),
                parallel_context(slots, unified=unified) if slots > 1 else contextlib.nullcontext(),
            ):
                llm = llama_cpp.Llama(str(scanned.file), **kwargs)
        except ServerError:
            raise
        except Exception as exc:
            raise ServerError(
                f"Failed to load {info.model_key}", cause=str(exc) or type(exc).__name__
            ) from exc
        if not report(0.92):
            llm.close()
            raise ServerError("Model loading was cancelled")

        vision = None
        if scanned.mmproj is not None and not is_embedding:
            try:
                vision = create_vision_handler(str(scanned.mmproj))
                vision.attach(llm)
            except Exception as exc:
                llm.close()
                raise ServerError(
                    f"Failed to load the vision projector of {info.model_key}",
                    cause=str(exc),
                ) from exc
        report(1.0)
        return cls(scanned, llm, effective, vision, n_threads, find_llm)

    # -- LoadedModel protocol ----------------------------------------------------------------

    @property
    def info(self) -> LLMInfo | EmbeddingModelInfo:
        return self._scanned.info

    @property
    def context_length(self) -> int:
        return self._n_ctx

    @property
    def parallel_slots(self) -> int:
        if self._scheduler is not None:
            return self._scheduler.n_slots
        assert self._embedder is not None
        return self._embedder.max_sequences

    @property
    def load_config(self) -> KVConfig:
        return self._load_config

    @property
    def is_embedding(self) -> bool:
        return isinstance(self._scanned.info, EmbeddingModelInfo)

    @property
    def has_vision(self) -> bool:
        return self._vision is not None

    async def tokenize(self, text: str) -> list[int]:
        """Tokens of ``text`` as plain text (special-token syntax is not parsed, no BOS). An
        embedding model's tokens are those it embeds, with its start and end markers ([CLS]
        and [SEP] for BERT), as LM Studio answers; ``count_tokens`` leaves them out."""
        self._check_open()
        return self._tokenize(text, add_bos=self.is_embedding, special=False)

    async def count_tokens(self, text: str) -> int:
        """The number of tokens of ``text`` itself (no start or end markers)."""
        self._check_open()
        return len(self._tokenize(text, add_bos=False, special=False))

    def detokenize(self, tokens: Sequence[int]) -> str:
        self._check_open()
        return b"".join(self._piece(t) for t in tokens).decode("utf-8", errors="replace")

    def apply_prompt_template(
        self,
        history: ChatHistoryData,
        *,
        omit_bos_token: bool = False,
        omit_eos_token: bool = False,
        tools: list[dict[str, Any]] | None = None,
    ) -> str:
        self._check_open()
        template = self._chat_template()
        native = self._native_tools(template)
        prepared = prepare_messages(history, native_tools=native, tools=tools or ())
        segments = build_prompt(
            template,
            prepared.messages,
            bos_token="" if omit_bos_token else self._bos_text,
            eos_token="" if omit_eos_token else self._eos_text,
            tools=tools if native else None,
        )
        return "".join(s.text for s in segments)

    async def embed(self, text: str) -> list[float]:
        self._check_open()
        if not self.is_embedding:
            raise ServerError(
                f"{self.info.model_key} is not an embedding model",
                suggestion="Load an embedding model to create embeddings.",
            )

        assert self._embedder is not None
        # BOS/CLS is added, special-token syntax is plain text (as llama-cpp-python embeds).
        return await self._embedder.embed(self._tokenize(text, add_bos=True, special=False))

    async def unload(self) -> None:
        self._unloading = True
        for event in list(self._active_cancel):
            event.set()
        await asyncio.get_running_loop().run_in_executor(None, self.close)

    def close(self) -> None:
        """Free the model (waits for a running prediction to notice its cancellation)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            if self._scheduler is not None:
                self._scheduler.close()  # waits for running jobs to see their cancellation
            if self._embedder is not None:
                self._embedder.close()
            with self._draft_lock:
                for draft in self._drafts.values():
                    draft.close()
                self._drafts.clear()
            self._vision = None
            with contextlib.suppress(Exception):
                self._llm.close()

    async def preload_draft_model(self, key: str) -> None:
        """Load the draft model ``key`` now (``/llm preloadDraftModel``), so that the first
        prediction that names it does not wait for it."""
        self._check_open()
        await asyncio.get_running_loop().run_in_executor(None, self._draft_model, key)

    def _draft_model(self, key: str) -> DraftModel:
        """The draft model ``key`` (a model key or path of the models folder), loaded next to
        this one on first use and kept until this one unloads; refused when its vocabulary
        differs."""
        self._check_open()
        if self._scheduler is None or self._find_llm is None:
            raise ServerError(f"{self.info.model_key} cannot use a draft model")
        scanned = self._find_llm(key)
        path = scanned.info.path
        with self._draft_lock:
            draft = self._drafts.get(path)
            if draft is not None:
                return draft
            draft = load_draft_model(
                self._lc,
                scanned,
                n_ctx=self._n_ctx,
                n_slots=self._scheduler.n_slots,
                n_threads=self._n_threads,
                n_batch=self._batch_size,
                flash_attn=self._load_config.get("llm.load.llama.flashAttention") is True,
            )
            try:
                check_vocabularies(
                    self._lc, self._vocab, draft.vocab, self.info.model_key, draft.model_key
                )
            except BaseException:
                draft.close()
                raise
            if self._closed:
                draft.close()
                self._check_open()
            self._drafts[path] = draft
            return draft

    def predict(self, request: PredictionRequest) -> AsyncIterator[EngineEvent]:
        return self._predict(request)

    async def _predict(self, request: PredictionRequest) -> AsyncIterator[EngineEvent]:
        self._check_open()
        if self.is_embedding:
            raise ServerError(
                f"{self.info.model_key} is an embedding model and cannot generate text"
            )
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[Any] = asyncio.Queue()
        abandoned = threading.Event()
        self._active_cancel.append(abandoned)

        inbox = inbox_for(loop)

        def emit(item: Any) -> None:
            inbox.post(queue.put_nowait, item)

        def run() -> None:
            try:
                Prediction(self, request, abandoned, emit).run()
            except BaseException as exc:
                emit(exc)
            finally:
                emit(_END)

        thread = threading.Thread(target=run, name=f"predict-{self.info.model_key}", daemon=True)
        thread.start()
        try:
            while True:
                item = await queue.get()
                if item is _END:
                    break
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            abandoned.set()
            with contextlib.suppress(ValueError):
                self._active_cancel.remove(abandoned)

    # -- helpers ------------------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise ServerError(f"{self.info.model_key} has been unloaded")

    def _token_text(self, token: int) -> str:
        if token < 0:
            return ""
        return self._piece(token, special=True).decode("utf-8", errors="replace")

    def _piece(self, token: int, *, special: bool = False) -> bytes:
        size = 64
        while True:
            buf = ctypes.create_string_buffer(size)
            n = self._lc.llama_token_to_piece(self._vocab, token, buf, size, 0, special)
            if n >= 0:
                return buf.raw[:n]
            size = -n

    def _tokenize(self, text: str, *, add_bos: bool, special: bool) -> list[int]:
        if not text and not add_bos:
            return []
        return list(self._llm.tokenize(text.encode("utf-8"), add_bos=add_bos, special=special))

    def _chat_template(self) -> str:
        template = self._scanned.chat_template
        if not template:
            raise ServerError(
                f"{self.info.model_key} has no chat template",
                cause="The GGUF file has no tokenizer.chat_template, so there is no way to "
                "turn a chat into this model's prompt format.",
                suggestion="Use text completion (complete) instead of chat, or pass a prompt "
                "template in the prediction config (llm.prediction.promptTemplate).",
            )
        return template

    @staticmethod
    def _native_tools(template: str) -> bool:
        # Templates that render `tools` themselves *and* use the <tool_call> convention
        # (Qwen, Hermes) get the tools natively; everything else gets our own instructions.
        return "tools" in template and TOOL_CALL_OPEN in template

    def _warn_unsupported(self, unsupported: Sequence[tuple[str, Any]]) -> None:
        for key, value in unsupported:
            marker = (key, repr(value))
            if marker in self._warned:
                continue
            self._warned.add(marker)
            _log.warning(
                "%s: prediction setting %s=%r is not supported by the llama.cpp engine; ignored",
                self.info.model_key,
                key,
                value,
            )
