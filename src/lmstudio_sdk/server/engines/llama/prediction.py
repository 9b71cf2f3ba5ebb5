"""One prediction in its own thread: the prompt (chat or raw), its evaluation with progress
and cancellation (text, or text and images), the grammar, then the sampling loop.

Cancellation is checked before every prompt batch and after every sampled token.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from typing import Any

from ...._protocol.packets.shared import FilePart, PromptProcessingDetails
from ...errors import ServerError
from ..base import CancelToken, PredictionFinished, PredictionRequest, PromptProgress
from .generation import generate
from .instance import LlamaInstance
from .prompting import fit_history, fit_tokens, prompt_segments, tokens_of
from .sampling import SamplingParams, sampling_from_config
from .tools import OutputParser, json_schema_grammar, tool_call_grammar

__all__ = ["Prediction"]


class Prediction:
    """One prediction, run in a thread of its own: prompt, evaluation, then generation."""

    def __init__(
        self,
        model: LlamaInstance,
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
            self.m._lc.llama_set_n_threads(self.llm.ctx, m._n_threads, m._n_threads)

        images: list[FilePart] = []
        marker: str | None = None
        reasoning_open = False
        parse_tools = bool(params.tools) and params.tool_choice != "none"
        if request.history is not None:
            if m._vision is not None:
                marker = m._vision.marker()
            segments, prepared, _native = prompt_segments(self.m, params, request.history, marker)
            images = prepared.images
            if not images:
                marker = None
            prompt_text = "".join(s.text for s in segments)
            if params.reasoning and prompt_text.rstrip().endswith(params.reasoning.start):
                reasoning_open = True
            tokens = [] if images else tokens_of(self.m, segments)
            if not images:
                tokens = fit_history(self.m, tokens, segments, params, request.history, marker)
        elif request.raw_prompt is not None:
            # A raw completion prompt is the caller's own prompt format, special tokens
            # included, so they are parsed (as LM Studio does).
            prompt_text = request.raw_prompt
            tokens = m._tokenize(prompt_text, add_bos=True, special=True)
            segments = []
            tokens = fit_tokens(self.m, tokens, params)
        else:
            raise ServerError("The prediction request has neither a chat nor a prompt")

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
        generate(
            m,
            prompt_tokens,
            params,
            grammar,
            parser,
            emit=self.emit,
            cancelled=self.cancelled,
            cancel=self.cancel,
            t_start=self.t_start,
        )

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
            raise ServerError("The prompt is empty")
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
        raise ServerError(
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
                    raise ServerError("Structured output: the GBNF grammar is empty")
            else:
                schema = params.structured.get("jsonSchema")
                if schema is None:
                    text = llama_cpp.llama_grammar.JSON_GBNF
                else:
                    try:
                        text = json_schema_grammar(schema)
                    except Exception as exc:
                        raise ServerError(
                            "Structured output: the JSON schema cannot be turned into a grammar",
                            cause=str(exc),
                        ) from exc
        if text is None:
            return None
        try:
            return llama_cpp.LlamaGrammar.from_string(text, verbose=False)
        except Exception as exc:
            raise ServerError("Structured output: invalid grammar", cause=str(exc)) from exc
