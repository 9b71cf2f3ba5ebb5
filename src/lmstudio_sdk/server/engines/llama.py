"""The llama.cpp engine (llama-cpp-python 0.3.36) behind the embedded server's Engine interface.

Threading model: llama.cpp calls release the GIL (ctypes), so every blocking step runs in a
thread of its own and hands events back to the event loop through ``call_soon_threadsafe``.
One ``threading.Lock`` per loaded instance serialises predictions, because a ``Llama`` object
is not re-entrant (a second generation would run on the first one's KV state). Cancellation is
checked before every prompt batch and after every sampled token; on cancel the token generator
is closed at once.

The generation loop is our own, on top of ``Llama.eval``/``Llama.generate``, rather than
``create_chat_completion``: that gives real stop reasons, per-batch prompt-processing progress,
our own tool-call prompting/parsing, reasoning splitting and special-token hygiene (text from
the conversation is tokenised with ``special=False``).
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import ctypes
import logging
import os
import random
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from ..._protocol.schema import (
    ChatHistoryData,
    EmbeddingModelInfo,
    FilePart,
    KVConfig,
    KVConfigField,
    LLMInfo,
    PromptProcessingDetails,
)
from ..inference.params import SamplingParams, checkbox, sampling_from_config
from ..inference.prompt import (
    PreparedChat,
    Segment,
    build_prompt,
    manual_template_prompt,
    prepare_messages,
)
from ..models_dir import ScannedModel, scan_model_files
from ..tool_prompt import (
    TOOL_CALL_OPEN,
    OutputParser,
    json_schema_grammar,
    tool_call_grammar,
)
from .base import (
    CancelToken,
    EngineError,
    EngineEvent,
    PredictionFinished,
    PredictionRequest,
    PromptProgress,
)

__all__ = ["LlamaEngine", "LlamaLoadedModel", "default_thread_count"]

_log = logging.getLogger(__name__)

_END = object()

# Load keys that describe GPU placement or memory fitting; on this CPU-only build they have
# no effect, which is logged at debug level instead of warning about every TS-2.0 load (TS
# writes autoFit=false whenever a context length is given).
_LOAD_KEYS_IRRELEVANT_ON_CPU = frozenset(
    {
        "llm.load.llama.acceleration.offloadRatio",
        "embedding.load.llama.acceleration.offloadRatio",
        "load.gpuSplitConfig",
        "load.gpuStrictVramCap",
        "llm.load.offloadKVCacheToGpu",
        "llm.load.llama.autoFit",
        "llm.load.mlx.autoFit",
        "llm.load.yuzu.autoFit",
        "llm.load.numCpuExpertLayersRatio",
    }
)

_KV_CACHE_TYPES = {
    "f32": 0,
    "f16": 1,
    "q4_0": 2,
    "q4_1": 3,
    "q5_0": 6,
    "q5_1": 7,
    "q8_0": 8,
    "iq4_nl": 20,
}

_DEFAULT_LLM_CONTEXT = 4096


def default_thread_count() -> int:
    """1 on machines with ≤2 cores (spinning OpenMP workers collapse under contention), else
    all cores but one."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        cores = os.cpu_count() or 1
    return 1 if cores <= 2 else cores - 1


def _llama_cpp() -> Any:
    try:
        import llama_cpp
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise EngineError(
            "The llama.cpp engine is not installed",
            cause=str(exc),
            suggestion="Run scripts/install-engine.sh, or pip install 'lmstudio-sdk[server]'.",
        ) from exc
    return llama_cpp


# -- loading with real progress ----------------------------------------------------------------

_LOAD_LOCK = threading.Lock()


@contextlib.contextmanager
def _model_progress(callback: Callable[[float], bool]) -> Iterator[None]:
    """Route llama.cpp's model-load progress to ``callback`` for one ``Llama(...)`` call.

    ``Llama.__init__`` builds its ``llama_model_params`` itself and offers no progress
    parameter, so for the duration of the constructor we wrap the function it gets them from
    and set ``progress_callback`` on the result. Loads are serialised by ``_LOAD_LOCK`` so the
    wrapper never leaks into another load. If the binding ever changes shape, loading still
    works, just with staged progress.
    """
    llama_cpp = _llama_cpp()
    module = llama_cpp.llama_cpp
    original = getattr(module, "llama_model_default_params", None)
    cb_type = getattr(module, "llama_progress_callback", None)
    if original is None or cb_type is None:
        yield
        return

    def on_progress(progress: float, _user_data: Any) -> bool:
        try:
            return bool(callback(float(progress)))
        except Exception:  # never let an exception cross the C boundary
            return True

    c_callback = cb_type(on_progress)

    def patched() -> Any:
        params = original()
        params.progress_callback = c_callback
        params.progress_callback_user_data = None
        return params

    module.llama_model_default_params = patched
    try:
        yield
    finally:
        module.llama_model_default_params = original


# -- the engine --------------------------------------------------------------------------------


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
            raise EngineError(
                f"Model file not found: {info.path}",
                cause=f"{info.path} is not in {self.models_dir}",
            )
        return found

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
            None, lambda: LlamaLoadedModel._load(self, scanned, config, report)
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


# -- a loaded model ----------------------------------------------------------------------------


class LlamaLoadedModel:
    """One loaded instance: an LLM (predict) or an embedding model (embed)."""

    def __init__(
        self,
        engine: LlamaEngine,
        scanned: ScannedModel,
        llm: Any,
        load_config: KVConfig,
        vision: Any | None,
    ) -> None:
        self._engine = engine
        self._scanned = scanned
        self._llm = llm
        self._load_config = load_config
        self._vision = vision
        self._lock = threading.Lock()
        self._closed = False
        self._unloading = False
        self._cache_valid = True
        self._warned: set[tuple[str, str]] = set()
        self._active_cancel: list[threading.Event] = []
        llama_cpp = _llama_cpp()
        self._lc = llama_cpp
        self._vocab = llm._model.vocab
        # llama.cpp may round the context up (to a multiple of 256), but llama-cpp-python's
        # token buffers have the requested size: the smaller one is the real limit.
        self._n_ctx = min(int(llm.n_ctx()), len(llm.input_ids))
        self._bos_id = int(llm.token_bos())
        self._eos_id = int(llm.token_eos())
        self._bos_text = self._token_text(self._bos_id)
        self._eos_text = self._token_text(self._eos_id)

    # -- construction -----------------------------------------------------------------------

    @classmethod
    def _load(
        cls,
        engine: LlamaEngine,
        scanned: ScannedModel,
        config: KVConfig,
        report: Callable[[float], bool],
    ) -> LlamaLoadedModel:
        llama_cpp = _llama_cpp()
        info = scanned.info
        is_embedding = isinstance(info, EmbeddingModelInfo)
        prefix = "embedding.load." if is_embedding else "llm.load."
        used: dict[str, Any] = {}
        handled: set[str] = set()

        def get(key: str) -> Any:
            handled.add(key)
            return config.get(key)

        max_ctx = info.max_context_length
        requested = get(prefix + "contextLength")
        if requested is None:
            n_ctx = max_ctx if is_embedding else min(_DEFAULT_LLM_CONTEXT, max_ctx)
        else:
            if not isinstance(requested, int) or isinstance(requested, bool) or requested < 1:
                raise EngineError(f"Invalid context length: {requested!r}")
            if requested > max_ctx:
                raise EngineError(
                    f"Context length {requested} is larger than this model supports",
                    cause=f"{info.model_key} was trained with a context of {max_ctx} tokens.",
                    suggestion=f"Load it with a context length of at most {max_ctx}.",
                )
            n_ctx = requested
        used[prefix + "contextLength"] = n_ctx

        kwargs: dict[str, Any] = {
            "n_ctx": n_ctx,
            "n_threads": engine.n_threads,
            "n_threads_batch": engine.n_threads,
            "n_gpu_layers": 0,
            "verbose": False,
        }
        seed = get(prefix + "seed")
        if seed is not None:
            checked, value = checkbox(seed)
            if checked and isinstance(value, int) and value >= 0:
                kwargs["seed"] = value
            used[prefix + "seed"] = {"checked": bool(checked), "value": value}
        batch = get(prefix + "llama.evalBatchSize")
        if isinstance(batch, int) and batch > 0:
            kwargs["n_batch"] = batch
        used[prefix + "llama.evalBatchSize"] = kwargs.get("n_batch", 512)
        if not is_embedding:
            ubatch = get("llm.load.llama.physicalBatchSize")
            if isinstance(ubatch, int) and ubatch > 0:
                kwargs["n_ubatch"] = ubatch
                used["llm.load.llama.physicalBatchSize"] = ubatch
            flash = get("llm.load.llama.flashAttention")
            if isinstance(flash, bool):
                kwargs["flash_attn"] = flash
            used["llm.load.llama.flashAttention"] = kwargs.get("flash_attn", False)
            for key, kwarg in (
                ("llm.load.llama.kCacheQuantizationType", "type_k"),
                ("llm.load.llama.vCacheQuantizationType", "type_v"),
            ):
                value = get(key)
                if value is None:
                    continue
                checked, name = checkbox(value)
                if checked:
                    if name not in _KV_CACHE_TYPES:
                        raise EngineError(f"Unsupported KV cache type {name!r} for {key}")
                    kwargs[kwarg] = _KV_CACHE_TYPES[name]
                used[key] = {"checked": checked, "value": name}
            fp16 = get("llm.load.llama.useFp16ForKVCache")
            if fp16 is False and "type_k" not in kwargs:
                kwargs["type_k"] = kwargs["type_v"] = _KV_CACHE_TYPES["f32"]
                used["llm.load.llama.useFp16ForKVCache"] = False
        for key, kwarg in (
            (prefix + "llama.ropeFrequencyBase", "rope_freq_base"),
            (prefix + "llama.ropeFrequencyScale", "rope_freq_scale"),
        ):
            value = get(key)
            if value is None:
                continue
            checked, number = checkbox(value)
            if checked and isinstance(number, int | float) and number > 0:
                kwargs[kwarg] = float(number)
            used[key] = {"checked": checked, "value": number}
        mmap = get(prefix + "llama.tryMmap")
        if isinstance(mmap, bool):
            kwargs["use_mmap"] = mmap
        used[prefix + "llama.tryMmap"] = kwargs.get("use_mmap", True)
        mlock = get(prefix + "llama.keepModelInMemory")
        if isinstance(mlock, bool):
            kwargs["use_mlock"] = mlock
        used[prefix + "llama.keepModelInMemory"] = kwargs.get("use_mlock", False)
        used["llm.load.llama.cpuThreadPoolSize"] = engine.n_threads
        used[prefix + "llama.acceleration.offloadRatio"] = 0

        for item in config.fields:
            if item.key in handled:
                continue
            if item.key in _LOAD_KEYS_IRRELEVANT_ON_CPU:
                _log.debug("%s: %s has no effect on the CPU engine", info.model_key, item.key)
            else:
                _log.warning(
                    "%s: load setting %s=%r is not supported by the llama.cpp engine; ignored",
                    info.model_key,
                    item.key,
                    item.value,
                )

        if is_embedding:
            kwargs["embedding"] = True
            # Pooled output; llama.cpp takes the type from the GGUF (mean for MiniLM).
            kwargs["n_batch"] = max(kwargs.get("n_batch", 512), n_ctx)
            kwargs["n_ubatch"] = kwargs["n_batch"]

        report(0.01)
        try:
            with _LOAD_LOCK, _model_progress(lambda v: report(0.01 + 0.89 * v)):
                llm = llama_cpp.Llama(str(scanned.file), **kwargs)
        except EngineError:
            raise
        except Exception as exc:
            raise EngineError(
                f"Failed to load {info.model_key}", cause=str(exc) or type(exc).__name__
            ) from exc
        if not report(0.92):
            llm.close()
            raise EngineError("Model loading was cancelled")

        vision = None
        if scanned.mmproj is not None and not is_embedding:
            try:
                vision = _VisionHandler(str(scanned.mmproj))
                vision.attach(llm)
            except Exception as exc:
                llm.close()
                raise EngineError(
                    f"Failed to load the vision projector of {info.model_key}",
                    cause=str(exc),
                ) from exc
        report(1.0)
        effective = KVConfig(fields=[KVConfigField(key=k, value=v) for k, v in used.items()])
        return cls(engine, scanned, llm, effective, vision)

    # -- LoadedModel protocol ----------------------------------------------------------------

    @property
    def info(self) -> LLMInfo | EmbeddingModelInfo:
        return self._scanned.info

    @property
    def context_length(self) -> int:
        return self._n_ctx

    @property
    def load_config(self) -> KVConfig:
        return self._load_config

    @property
    def is_embedding(self) -> bool:
        return isinstance(self._scanned.info, EmbeddingModelInfo)

    @property
    def has_vision(self) -> bool:
        return self._vision is not None

    def tokenize(self, text: str) -> list[int]:
        """Tokens of ``text`` as plain text (special-token syntax is not parsed, no BOS)."""
        self._check_open()
        return self._tokenize(text, add_bos=False, special=False)

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
            raise EngineError(
                f"{self.info.model_key} is not an embedding model",
                suggestion="Load an embedding model to create embeddings.",
            )

        def work() -> list[float]:
            with self._lock:
                self._check_open()
                vector = self._llm.embed(text, normalize=True, truncate=True)
            return [float(v) for v in vector]

        return await asyncio.get_running_loop().run_in_executor(None, work)

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
            self._vision = None
            with contextlib.suppress(Exception):
                self._llm.close()

    def predict(self, request: PredictionRequest) -> AsyncIterator[EngineEvent]:
        return self._predict(request)

    async def _predict(self, request: PredictionRequest) -> AsyncIterator[EngineEvent]:
        self._check_open()
        if self.is_embedding:
            raise EngineError(
                f"{self.info.model_key} is an embedding model and cannot generate text"
            )
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[Any] = asyncio.Queue()
        abandoned = threading.Event()
        self._active_cancel.append(abandoned)

        def emit(item: Any) -> None:
            with contextlib.suppress(RuntimeError):  # the loop is gone
                loop.call_soon_threadsafe(queue.put_nowait, item)

        def run() -> None:
            try:
                _Prediction(self, request, abandoned, emit).run()
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
            raise EngineError(f"{self.info.model_key} has been unloaded")

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
            raise EngineError(
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


# -- one prediction (runs in its own thread) ---------------------------------------------------


class _Prediction:
    def __init__(
        self,
        model: LlamaLoadedModel,
        request: PredictionRequest,
        abandoned: threading.Event,
        emit: Callable[[Any], None],
    ) -> None:
        self.m = model
        self.llm = model._llm
        self.request = request
        self.cancel: CancelToken = request.cancel
        self.abandoned = abandoned
        self.emit = emit
        self.t_start = time.monotonic()

    def cancelled(self) -> bool:
        return self.cancel.is_set() or self.abandoned.is_set()

    def run(self) -> None:
        # Wait for the instance lock without blocking cancellation.
        while not self.m._lock.acquire(timeout=0.05):
            if self.cancelled():
                self.emit(PredictionFinished("userStopped", 0, 0, total_time_sec=0.0))
                return
        try:
            self.m._check_open()
            self._run_locked()
        finally:
            self.m._lock.release()

    # -- prompt ------------------------------------------------------------------------------

    def _prompt_segments(
        self, params: SamplingParams, history: ChatHistoryData, marker: str | None
    ) -> tuple[list[Segment], PreparedChat, bool]:
        m = self.m
        template_spec = params.prompt_template
        use_tools = bool(params.tools) and params.tool_choice != "none"
        if template_spec is not None and template_spec.get("type") == "jinja":
            jinja = template_spec.get("jinjaPromptTemplate") or {}
            template = str(jinja.get("template") or "")
            if not template:
                raise EngineError("The prompt template in the prediction config is empty")
            bos = str(jinja.get("bosToken", m._bos_text))
            eos = str(jinja.get("eosToken", m._eos_text))
        elif template_spec is not None:
            template, bos, eos = "", m._bos_text, m._eos_text
        else:
            template = m._chat_template()
            bos, eos = m._bos_text, m._eos_text
        native = bool(template) and m._native_tools(template)
        prepared = prepare_messages(
            history,
            native_tools=native,
            tools=params.tools if use_tools else (),
            system_prompt=params.system_prompt,
            image_marker=marker,
        )
        if prepared.dropped_files:
            names = ", ".join(f.name for f in prepared.dropped_files)
            _log.warning(
                "%s: file parts other than images are not supported; dropped %s",
                m.info.model_key,
                names,
            )
        if template_spec is not None and template_spec.get("type") == "manual":
            spec = template_spec.get("manualPromptTemplate") or {}
            segments = manual_template_prompt(spec, prepared.messages)
        else:
            extra_tools = params.tools if (use_tools and native) else None
            segments = build_prompt(
                template,
                prepared.messages,
                bos_token=bos,
                eos_token=eos,
                tools=extra_tools,
                protected=(marker,) if marker else (),
            )
        return segments, prepared, native

    def _tokens_of(self, segments: Sequence[Segment]) -> list[int]:
        m = self.m
        tokens: list[int] = []
        for i, seg in enumerate(segments):
            tokens.extend(m._tokenize(seg.text, add_bos=(i == 0), special=seg.from_template))
        if len(tokens) >= 2 and tokens[0] == tokens[1] == m._bos_id:
            del tokens[0]  # the template wrote BOS and the tokenizer added one too
        return tokens

    # -- main ----------------------------------------------------------------------------------

    def _run_locked(self) -> None:
        m = self.m
        request = self.request
        params = sampling_from_config(request.config)
        m._warn_unsupported(params.unsupported)
        if params.cpu_threads is not None:
            threads = min(params.cpu_threads, os.cpu_count() or 1)
            self.m._lc.llama_set_n_threads(self.llm.ctx, threads, threads)
        else:
            self.m._lc.llama_set_n_threads(self.llm.ctx, m._engine.n_threads, m._engine.n_threads)

        images: list[FilePart] = []
        marker: str | None = None
        reasoning_open = False
        parse_tools = bool(params.tools) and params.tool_choice != "none"
        if request.history is not None:
            if m._vision is not None:
                marker = m._vision.marker()
            segments, prepared, _native = self._prompt_segments(params, request.history, marker)
            images = prepared.images
            if not images:
                marker = None
            prompt_text = "".join(s.text for s in segments)
            if params.reasoning and prompt_text.rstrip().endswith(params.reasoning.start):
                reasoning_open = True
            tokens = [] if images else self._tokens_of(segments)
            if not images:
                tokens = self._fit_history(tokens, segments, params, request.history, marker)
        elif request.raw_prompt is not None:
            # A raw completion prompt is the caller's own prompt format, special tokens
            # included, so they are parsed (as LM Studio does).
            prompt_text = request.raw_prompt
            tokens = m._tokenize(prompt_text, add_bos=True, special=True)
            segments = []
            tokens = self._fit_tokens(tokens, params)
        else:
            raise EngineError("The prediction request has neither a chat nor a prompt")

        grammar = self._grammar(params)
        parser = OutputParser(
            reasoning=params.reasoning,
            parse_tools=parse_tools,
            start_in_reasoning=reasoning_open,
        )
        if images:
            n_prompt = self._eval_with_images("".join(s.text for s in segments), images)
            if n_prompt is None:
                return
            prompt_tokens = [int(t) for t in self.llm.input_ids[: self.llm.n_tokens]]
            m._cache_valid = False
        else:
            if not self._eval_prompt(tokens):
                return
            prompt_tokens = tokens
        self._generate(prompt_tokens, params, grammar, parser)

    # -- context fitting ------------------------------------------------------------------------

    def _budget(self) -> int:
        # Leave room for at least a few generated tokens.
        return max(1, self.m._n_ctx - 8)

    def _fit_tokens(self, tokens: list[int], params: SamplingParams) -> list[int]:
        budget = self._budget()
        if len(tokens) <= budget:
            return tokens
        if params.overflow_policy == "stopAtLimit":
            raise EngineError(
                f"The prompt ({len(tokens)} tokens) does not fit in the context "
                f"({self.m._n_ctx} tokens)",
                suggestion="Load the model with a longer context, shorten the prompt, or "
                "use the truncateMiddle / rollingWindow context overflow policy.",
            )
        if params.overflow_policy == "rollingWindow":
            keep = 1 if tokens and tokens[0] == self.m._bos_id else 0
        else:
            keep = min(len(tokens) // 4, budget // 4)
        return tokens[:keep] + tokens[len(tokens) - (budget - keep) :]

    def _fit_history(
        self,
        tokens: list[int],
        segments: list[Segment],
        params: SamplingParams,
        history: ChatHistoryData,
        marker: str | None,
    ) -> list[int]:
        """Drop whole messages (middle or oldest) until the prompt fits, then cut tokens."""
        budget = self._budget()
        if len(tokens) <= budget or params.overflow_policy == "stopAtLimit":
            return self._fit_tokens(tokens, params)
        messages = list(history.messages)
        while len(tokens) > budget:
            first_kept = 1 if messages and messages[0].role == "system" else 0
            if params.overflow_policy == "truncateMiddle":
                # Keep the system prompt and the first user message.
                first_kept += 1
            if len(messages) - first_kept <= 1:
                break
            del messages[first_kept]
            while len(messages) > first_kept + 1 and messages[first_kept].role == "tool":
                del messages[first_kept]  # a tool result without its call makes no sense
            segments, _prepared, _native = self._prompt_segments(
                params, ChatHistoryData(messages=messages), marker
            )
            tokens = self._tokens_of(segments)
        return self._fit_tokens(tokens, params)

    # -- evaluation -----------------------------------------------------------------------------

    def _progress(self, cached: int, total: int, processed: int) -> None:
        done = processed - cached
        todo = max(total - cached, 1)
        self.emit(
            PromptProgress(
                progress=min(done / todo, 1.0),
                details=PromptProcessingDetails(
                    cached_token_count=cached,
                    total_prompt_token_count=total,
                    processed_prompt_token_count=processed,
                    unprocessed_prompt_token_count=total - processed,
                ),
            )
        )

    def _finish_cancelled(self, prompt_tokens: int) -> None:
        elapsed = time.monotonic() - self.t_start
        self.emit(PredictionFinished("userStopped", prompt_tokens, 0, total_time_sec=elapsed))

    def _eval_prompt(self, tokens: list[int]) -> bool:
        """Evaluate the prompt (reusing the cached prefix); False if cancelled."""
        llm = self.llm
        if not tokens:
            raise EngineError("The prompt is empty")
        prefix = 0
        if self.m._cache_valid and llm.n_tokens > 0:
            for a, b in zip(llm.input_ids[: llm.n_tokens], tokens, strict=False):
                if int(a) != b:
                    break
                prefix += 1
        prefix = min(prefix, len(tokens) - 1)  # re-evaluate at least one token for logits
        if prefix > 0 and llm._ctx.kv_cache_seq_rm(-1, prefix, -1):
            llm.n_tokens = prefix
        else:
            prefix = 0
            llm.reset()
        self.m._cache_valid = True
        total = len(tokens)
        self._progress(prefix, total, prefix)
        step = max(int(llm.n_batch), 1)
        for start in range(prefix, total, step):
            if self.cancelled():
                self.m._cache_valid = False
                self._finish_cancelled(total)
                return False
            llm.eval(tokens[start : start + step])
            self._progress(prefix, total, min(start + step, total))
        return True

    def _eval_with_images(self, text: str, images: list[FilePart]) -> int | None:
        vision = self.m._vision
        assert vision is not None
        blobs = [self._image_bytes(part) for part in images]
        self.m._cache_valid = False
        total_box = [0]

        def on_chunk(done: int, total: int) -> bool:
            total_box[0] = total
            self._progress(0, total, done)
            return not self.cancelled()

        ok = vision.eval_prompt(self.llm, text, blobs, on_chunk, self.m._n_ctx)
        if not ok:
            self._finish_cancelled(total_box[0])
            return None
        return int(self.llm.n_tokens)

    def _image_bytes(self, part: FilePart) -> bytes:
        data = self.request.files.get(part.identifier)
        if data is not None:
            return data
        raise EngineError(
            f"The image {part.name!r} is not available to the engine",
            cause=f"No bytes for file identifier {part.identifier!r}.",
        )

    def _grammar(self, params: SamplingParams) -> Any:
        llama_cpp = self.m._lc
        text: str | None = None
        if params.tools and params.tool_choice == "required":
            text = tool_call_grammar(params.tools)
        elif params.structured is not None:
            if params.structured.get("type") == "gbnf":
                text = str(params.structured.get("gbnfGrammar") or "")
                if not text.strip():
                    raise EngineError("Structured output: the GBNF grammar is empty")
            else:
                schema = params.structured.get("jsonSchema")
                if schema is None:
                    text = llama_cpp.llama_grammar.JSON_GBNF
                else:
                    try:
                        text = json_schema_grammar(schema)
                    except Exception as exc:
                        raise EngineError(
                            "Structured output: the JSON schema cannot be turned into a grammar",
                            cause=str(exc),
                        ) from exc
        if text is None:
            return None
        try:
            return llama_cpp.LlamaGrammar.from_string(text, verbose=False)
        except Exception as exc:
            raise EngineError("Structured output: invalid grammar", cause=str(exc)) from exc

    # -- generation ------------------------------------------------------------------------------

    def _generate(
        self,
        prompt_tokens: list[int],
        params: SamplingParams,
        grammar: Any,
        parser: OutputParser,
    ) -> None:
        llm = self.llm
        m = self.m
        n_ctx = m._n_ctx
        llm.set_seed(params.seed if params.seed is not None else random.randrange(2**31))
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        stops = params.stop_strings
        pending = ""
        pending_tokens = 0
        predicted = 0
        t_first: float | None = None
        stop_reason = "eosFound"
        stop_string: str | None = None
        context: list[int] = list(prompt_tokens)

        def send(text: str, n_tokens: int) -> None:
            for event in parser.feed(text, n_tokens):
                self.emit(event)

        finished = False
        while not finished:
            generator = llm.generate(
                context,
                top_k=params.top_k if params.top_k > 0 else n_ctx,
                top_p=params.top_p,
                min_p=params.min_p,
                typical_p=params.typical_p,
                temp=params.temperature,
                repeat_penalty=params.repeat_penalty,
                frequency_penalty=params.frequency_penalty,
                presence_penalty=params.presence_penalty,
                mirostat_mode=params.mirostat_mode,
                mirostat_tau=params.mirostat_tau,
                mirostat_eta=params.mirostat_eta,
                grammar=grammar,
            )
            try:
                shifted = False
                for token in generator:
                    token = int(token)
                    if t_first is None:
                        t_first = time.monotonic()
                    if self.cancelled():
                        stop_reason = "userStopped"
                        finished = True
                        break
                    if m._lc.llama_vocab_is_eog(m._vocab, token):
                        stop_reason = "eosFound"
                        finished = True
                        break
                    predicted += 1
                    context.append(token)
                    pending += decoder.decode(m._piece(token))
                    pending_tokens += 1
                    hit = _find_stop(pending, stops)
                    if hit is not None:
                        idx, stop_string = hit
                        send(pending[:idx], pending_tokens)
                        pending, pending_tokens = "", 0
                        stop_reason = "stopStringFound"
                        finished = True
                        break
                    hold = _stop_prefix_len(pending, stops)
                    if hold < len(pending):
                        send(pending[: len(pending) - hold], pending_tokens)
                        pending = pending[len(pending) - hold :]
                        pending_tokens = 0
                    if params.max_tokens is not None and predicted >= params.max_tokens:
                        stop_reason = "maxPredictedTokensReached"
                        finished = True
                        break
                    if len(context) >= n_ctx:
                        if params.overflow_policy == "stopAtLimit":
                            stop_reason = "contextLengthReached"
                            finished = True
                        else:
                            context = self._shift(context, params, n_ctx)
                            shifted = True
                        break
                if not finished and not shifted:
                    finished = True  # the generator ended by itself
            finally:
                generator.close()
            if self.cancelled() and not finished:
                stop_reason, finished = "userStopped", True

        tail = pending + decoder.decode(b"", final=True)
        if tail:
            send(tail, pending_tokens)
        for event in parser.finish():
            self.emit(event)
        if parser.tool_calls and stop_reason in (
            "eosFound",
            "stopStringFound",
            "maxPredictedTokensReached",
        ):
            # The model asked for tools (a call that completed on the last allowed token
            # counts too; a cut-off call was reported as ToolCallFailed by the parser).
            stop_reason = "toolCalls"
        if stop_reason == "userStopped" and m._unloading and not self.cancel.is_set():
            stop_reason = "modelUnloaded"
        t_end = time.monotonic()
        ttft = (t_first - self.t_start) if t_first is not None else None
        gen_time = (t_end - t_first) if t_first is not None else 0.0
        tps = predicted / gen_time if predicted and gen_time > 0 else None
        self.emit(
            PredictionFinished(
                stop_reason=stop_reason,
                prompt_tokens_count=len(prompt_tokens),
                predicted_tokens_count=predicted,
                time_to_first_token_sec=ttft,
                total_time_sec=t_end - self.t_start,
                tokens_per_second=tps,
                stop_string=stop_string if stop_reason == "stopStringFound" else None,
            )
        )

    def _shift(self, context: list[int], params: SamplingParams, n_ctx: int) -> list[int]:
        """Make room when the context is full (truncateMiddle / rollingWindow)."""
        keep = 1 if context and context[0] == self.m._bos_id else 0
        if params.overflow_policy == "truncateMiddle":
            keep = max(keep, min(len(context) // 4, n_ctx // 4))
        discard = max((len(context) - keep) // 2, 1)
        _log.info(
            "%s: context full; dropping %d tokens (%s)",
            self.m.info.model_key,
            discard,
            params.overflow_policy,
        )
        return context[:keep] + context[keep + discard :]


def _find_stop(text: str, stops: Sequence[str]) -> tuple[int, str] | None:
    best: tuple[int, str] | None = None
    for stop in stops:
        idx = text.find(stop)
        if idx >= 0 and (best is None or idx < best[0]):
            best = (idx, stop)
    return best


def _stop_prefix_len(text: str, stops: Sequence[str]) -> int:
    best = 0
    for stop in stops:
        for n in range(min(len(stop) - 1, len(text)), best, -1):
            if text.endswith(stop[:n]):
                best = n
                break
    return best


# -- vision ------------------------------------------------------------------------------------


_VISION_CLASS: Any = None
_MTMD_LOG_CALLBACK: Any = None  # kept referenced: llama.cpp holds the C pointer


def _silence_mtmd_logging(mtmd: Any) -> None:
    """Send mtmd's own logging to Python's logger at debug level.

    By default mtmd prints to stderr at every image prediction, and its lines contain the whole
    rendered prompt: user text must not leak into server logs unless asked for (-v).
    """
    global _MTMD_LOG_CALLBACK
    if _MTMD_LOG_CALLBACK is None:
        import llama_cpp

        def forward(_level: int, text: bytes, _user_data: Any) -> None:
            if _log.isEnabledFor(logging.DEBUG):
                _log.debug("mtmd: %s", text.decode("utf-8", "replace").rstrip())

        _MTMD_LOG_CALLBACK = llama_cpp.llama_log_callback(forward)
    mtmd.mtmd_log_set(_MTMD_LOG_CALLBACK, None)
    mtmd.mtmd_helper_log_set(_MTMD_LOG_CALLBACK, None)


def _VisionHandler(clip_model_path: str) -> Any:
    """Create the vision handler (the class is built on first use, so that importing this
    module does not need llama_cpp)."""
    global _VISION_CLASS
    if _VISION_CLASS is None:
        _VISION_CLASS = _define_vision_class()
    return _VISION_CLASS(clip_model_path)


def _define_vision_class() -> Any:
    from llama_cpp.llama_chat_format import MTMDChatHandler

    class VisionHandler(MTMDChatHandler):
        """llama-cpp-python's MTMD handler, used for its projector context and bitmap loading.

        Its ``__call__`` renders the template with list-valued ``content`` (which templates that
        concatenate strings, like SmolLM2's, reject), fetches images by URL and runs its own
        completion; we need none of that. We render the prompt ourselves with the media marker in
        the text, then :meth:`eval_prompt` tokenises it into text and image chunks and evaluates
        them into the ``Llama`` context, after which our normal generation loop samples.
        """

        def __init__(self, clip_model_path: str) -> None:
            super().__init__(clip_model_path, verbose=False, use_gpu=False)

        def attach(self, llm: Any) -> None:
            self._init_mtmd_context(llm)
            _silence_mtmd_logging(self._mtmd_cpp)

        def marker(self) -> str:
            value: bytes = self._mtmd_cpp.mtmd_default_marker()
            return value.decode("utf-8")

        def eval_prompt(
            self,
            llm: Any,
            text: str,
            images: Sequence[bytes],
            on_chunk: Callable[[int, int], bool],
            n_ctx: int,
        ) -> bool:
            import llama_cpp

            mtmd = self._mtmd_cpp
            bitmaps = []
            try:
                for blob in images:
                    try:
                        bitmaps.append(self._create_bitmap_from_bytes(blob))
                    except ValueError as exc:
                        raise EngineError("The image cannot be decoded", cause=str(exc)) from exc
                input_text = mtmd.mtmd_input_text()
                encoded = text.encode("utf-8")
                input_text.text = encoded
                input_text.text_len = len(encoded)
                input_text.add_special = True
                input_text.parse_special = True
                chunks = mtmd.mtmd_input_chunks_init()
                if chunks is None:
                    raise EngineError("Failed to prepare the image prompt")
                try:
                    array = (mtmd.mtmd_bitmap_p_ctypes * len(bitmaps))(*bitmaps)
                    result = mtmd.mtmd_tokenize(
                        self.mtmd_ctx, chunks, ctypes.byref(input_text), array, len(bitmaps)
                    )
                    if result != 0:
                        raise EngineError(f"Failed to tokenize the image prompt (code {result})")
                    n_chunks = mtmd.mtmd_input_chunks_size(chunks)
                    total = sum(
                        int(
                            mtmd.mtmd_input_chunk_get_n_tokens(
                                mtmd.mtmd_input_chunks_get(chunks, i)
                            )
                        )
                        for i in range(n_chunks)
                    )
                    if total >= n_ctx:
                        raise EngineError(
                            f"The prompt ({total} tokens) does not fit in the context "
                            f"({n_ctx} tokens)"
                        )
                    llm.reset()
                    llm._ctx.kv_cache_clear()
                    if not on_chunk(0, total):
                        return False
                    for i in range(n_chunks):
                        chunk = mtmd.mtmd_input_chunks_get(chunks, i)
                        kind = mtmd.mtmd_input_chunk_get_type(chunk)
                        if kind == mtmd.MTMD_INPUT_CHUNK_TYPE_TEXT:
                            n_out = ctypes.c_size_t()
                            ptr = mtmd.mtmd_input_chunk_get_tokens_text(chunk, ctypes.byref(n_out))
                            llm.eval([ptr[j] for j in range(n_out.value)])
                        else:
                            n_chunk = int(mtmd.mtmd_input_chunk_get_n_tokens(chunk))
                            start = llm.n_tokens
                            new_n_past = llama_cpp.llama_pos(0)
                            result = mtmd.mtmd_helper_eval_chunk_single(
                                self.mtmd_ctx,
                                llm._ctx.ctx,
                                chunk,
                                llama_cpp.llama_pos(start),
                                llama_cpp.llama_seq_id(0),
                                llm.n_batch,
                                False,
                                ctypes.byref(new_n_past),
                            )
                            if result != 0:
                                raise EngineError(f"Failed to encode the image (code {result})")
                            # Image positions hold no real token; mark them so that no later
                            # prompt can match them as a cached prefix.
                            llm.input_ids[start : start + n_chunk] = -1
                            llm.n_tokens = int(new_n_past.value)
                        if not on_chunk(int(llm.n_tokens), total):
                            return False
                finally:
                    mtmd.mtmd_input_chunks_free(chunks)
            finally:
                for bitmap in bitmaps:
                    mtmd.mtmd_bitmap_free(bitmap)
            return True

    return VisionHandler
