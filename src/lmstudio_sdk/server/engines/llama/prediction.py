"""One prediction: the prompt (chat or raw) as tokens or as text and images, the grammar and
the sampler, handed to the model's batch scheduler as a job; progress and tokens come back as
events.

The preparation runs in the prediction's own thread, which then waits for the job; the
scheduler checks cancellation before every step (one token, or one prompt chunk).
"""

from __future__ import annotations

import os
import random
import threading
import time
from collections.abc import Callable
from typing import Any

from ...._protocol.packets.shared import FilePart, PromptProcessingDetails
from ...errors import ServerError
from ..base import CancelToken, PredictionRequest, PromptProgress
from .generation import Generation
from .instance import LlamaInstance
from .prompting import fit_history, fit_tokens, prompt_segments, tokens_of
from .sampler import build_sampler
from .sampling import SamplingParams, sampling_from_config
from .scheduler import Job
from .speculative import Drafter
from .tools import OutputParser, json_schema_grammar, tool_call_grammar

__all__ = ["Prediction"]


class Prediction:
    """One prediction: prepared in the calling thread, run by the batch scheduler."""

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
        """Prepare, submit, and wait until the scheduler has finished the job."""
        self.m._check_open()
        job = self._job()
        if job is None:
            return
        self.m._scheduler.submit(job)
        job.done.wait()
        if job.error is not None:
            raise job.error

    # -- preparation --------------------------------------------------------------------------

    def _job(self) -> Job | None:
        m = self.m
        request = self.request
        params = sampling_from_config(request.config)
        m._warn_unsupported(params.unsupported)
        drafter = None
        if params.draft_model is not None:
            drafter = Drafter(
                m._draft_model(params.draft_model),
                max_tokens=params.draft_max_tokens,
                min_tokens=params.draft_min_tokens,
                min_p=params.draft_min_p,
                exact=params.draft_exact,
            )
        threads = None
        if params.cpu_threads is not None:
            threads = min(params.cpu_threads, os.cpu_count() or 1)

        images: list[FilePart] = []
        marker: str | None = None
        reasoning_open = False
        parse_tools = bool(params.tools) and params.tool_choice != "none"
        prompt_text = ""
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
            tokens = m._tokenize(request.raw_prompt, add_bos=True, special=True)
            tokens = fit_tokens(self.m, tokens, params)
        else:
            raise ServerError("The prediction request has neither a chat nor a prompt")
        if not images and not tokens:
            raise ServerError("The prompt is empty")

        grammar = self._grammar(params)
        parser = OutputParser(
            reasoning=params.reasoning,
            parse_tools=parse_tools,
            start_in_reasoning=reasoning_open,
            tool_names=params.tool_names,
        )
        generation = Generation(
            m, tokens, params, parser, emit=self.emit, cancel=self.cancel, t_start=self.t_start
        )
        if drafter is not None:
            generation.draft = drafter.counts
        prefill = None
        if images:
            blobs = [self._image_bytes(part) for part in images]
            prefill = self._image_prefill(prompt_text, blobs, generation)
        if self.cancelled():
            generation.stop("userStopped")
            return None

        def make_sampler() -> Any:
            self.llm.set_seed(params.seed if params.seed is not None else random.randrange(2**31))
            return build_sampler(
                self.llm, params, grammar, params.top_k if params.top_k > 0 else m._n_ctx
            )

        return Job(
            generation=generation,
            make_sampler=make_sampler,
            cancelled=self.cancelled,
            progress=self._progress,
            prefill=prefill,
            n_threads=threads,
            drafter=drafter,
        )

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

    def _image_prefill(
        self, text: str, blobs: list[bytes], generation: Generation
    ) -> Callable[[Any, int], int | None]:
        """Evaluate text and images into one sequence (on the scheduler thread; images are
        encoded by the projector, so they do not share a batch with other sequences)."""
        vision = self.m._vision
        assert vision is not None

        def prefill(ctx: Any, seq_id: int) -> int | None:
            total_box = [0]

            def on_chunk(done: int, total: int) -> bool:
                total_box[0] = total
                self._progress(0, total, done)
                return not self.cancelled()

            n_past: int | None = vision.eval_prompt(
                ctx, seq_id, self.m._batch_size, text, blobs, on_chunk, self.m._n_ctx
            )
            generation.n_prompt = n_past if n_past is not None else total_box[0]
            return n_past

        return prefill

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
