"""One upstream model as a loaded instance: chat and raw completion streams, embeddings,
tokenize. Nothing is held here but the model id: any upstream serving it takes each call.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any

from ...._protocol.packets.shared import (
    ChatHistoryData,
    EmbeddingModelInfo,
    KVConfig,
    LLMInfo,
    TextPart,
    ToolCallResultPart,
)
from ...errors import ServerError
from ..base import (
    CancelToken,
    EngineEvent,
    PredictionFinished,
    PredictionRequest,
    refuse_draft_model,
)
from .errors import not_supported_by_upstream, unfinished_stream
from .request_body import (
    chat_body,
    completion_body,
    legacy_response_format,
    settings_from_config,
)
from .stream_mapping import ChunkMapper
from .tokenizer import UpstreamTokenizer
from .transport import Cancelled, EndedWithoutDone, post_json, stream_events
from .upstreams import UpstreamPool

__all__ = ["OpenAILoadedModel"]


def _history_text(history: ChatHistoryData) -> str:
    parts: list[str] = []
    for message in history.messages:
        for part in message.content:
            if isinstance(part, TextPart):
                parts.append(part.text)
            elif isinstance(part, ToolCallResultPart):
                parts.append(part.content)
    return "\n".join(parts)


def _normalised(vector: list[float]) -> list[float]:
    norm = math.sqrt(sum(v * v for v in vector))
    return [v / norm for v in vector] if norm > 0 else vector


class OpenAILoadedModel:
    def __init__(
        self,
        pool: UpstreamPool,
        info: LLMInfo | EmbeddingModelInfo,
        load_config: KVConfig,
    ) -> None:
        self._pool = pool
        self._info = info
        self._load_config = load_config
        self._tokenizer = UpstreamTokenizer(pool, info.model_key)

    @property
    def info(self) -> LLMInfo | EmbeddingModelInfo:
        return self._info

    @property
    def context_length(self) -> int:
        return self._info.max_context_length

    @property
    def load_config(self) -> KVConfig:
        return self._load_config

    async def tokenize(self, text: str) -> list[int]:
        return await self._tokenizer.tokenize(text)

    def apply_prompt_template(
        self,
        history: ChatHistoryData,
        *,
        omit_bos_token: bool = False,
        omit_eos_token: bool = False,
        tools: list[dict[str, Any]] | None = None,
    ) -> str:
        upstream = self._pool.pick(self._info.model_key)
        raise not_supported_by_upstream(
            "Applying the prompt template", "prompt-template", upstream.url
        )

    async def embed(self, text: str) -> list[float]:
        if not isinstance(self._info, EmbeddingModelInfo):
            raise ServerError(f"{self._info.model_key} is not an embedding model")
        path = "/v1/embeddings"
        answer = await post_json(
            self._pool, self._info.model_key, path, {"model": self._info.model_key, "input": text}
        )
        try:
            vector = [float(v) for v in answer["data"][0]["embedding"]]
        except (KeyError, IndexError, TypeError, ValueError) as exc:
            raise ServerError(
                f"The upstream's answer to {path} holds no embedding", cause=repr(answer)[:300]
            ) from exc
        # LM Studio's embeddings are unit vectors; not every upstream normalises.
        return _normalised(vector)

    async def unload(self) -> None:
        """Nothing to free: the OpenAI API has no unload; the upstream keeps its model."""

    async def _chunks(
        self, path: str, body: dict[str, Any], cancel: CancelToken
    ) -> AsyncGenerator[Any, None]:
        """The upstream's chunks; a refused ``json_schema`` response format is retried once
        in llama-cpp-python's older shape (nothing was streamed yet)."""
        model = self._info.model_key
        streamed = False
        try:
            first = stream_events(self._pool, model, path, body, cancel)
            async with contextlib.aclosing(first):
                async for chunk in first:
                    streamed = True
                    yield chunk
            return
        except ServerError as exc:
            legacy = legacy_response_format(body)
            if streamed or legacy is None or "response_format" not in exc.title:
                raise
        second = stream_events(self._pool, model, path, legacy, cancel)
        async with contextlib.aclosing(second):
            async for chunk in second:
                yield chunk

    def predict(self, request: PredictionRequest) -> AsyncIterator[EngineEvent]:
        if isinstance(self._info, EmbeddingModelInfo):
            raise ServerError(f"{self._info.model_key} is an embedding model; it cannot predict")
        refuse_draft_model(request.config, "openai")
        return self._predict(request)

    async def _predict(self, request: PredictionRequest) -> AsyncIterator[EngineEvent]:
        start = time.perf_counter()
        model = self._info.model_key
        settings = settings_from_config(request.config)
        if request.history is not None:
            path = "/v1/chat/completions"
            body = chat_body(model, request.history, settings, request.files)
            prompt_text = _history_text(request.history)
        else:
            path = "/v1/completions"
            prompt_text = request.raw_prompt or ""
            body = completion_body(model, prompt_text, settings)
        mapper = ChunkMapper(
            settings.stop_strings, settings.max_tokens, logprobs=settings.logprobs is not None
        )
        first_at: float | None = None
        cancelled = request.cancel.is_set()
        if not cancelled:
            chunks = self._chunks(path, body, request.cancel)
            try:
                async with contextlib.aclosing(chunks):
                    async for chunk in chunks:
                        for event in mapper.feed(chunk):
                            first_at = first_at or time.perf_counter()
                            yield event
                        if mapper.stopped:
                            break  # leaving aclosing() closes the upstream stream
            except Cancelled:
                cancelled = True
            except EndedWithoutDone as ended:
                if mapper.finish_reason is None:
                    raise unfinished_stream(ended.upstream, path) from ended
        for event in mapper.finish(cancelled=cancelled):
            yield event
        prompt_tokens = mapper.usage.get("prompt_tokens")
        if not isinstance(prompt_tokens, int) or prompt_tokens <= 0:
            prompt_tokens = await self._tokenizer.count(prompt_text)
        end = time.perf_counter()
        predicted = mapper.predicted_tokens()
        generation = end - (first_at or start)
        yield PredictionFinished(
            stop_reason="userStopped" if cancelled else mapper.stop_reason(),
            prompt_tokens_count=prompt_tokens,
            predicted_tokens_count=predicted,
            time_to_first_token_sec=(first_at - start) if first_at else None,
            total_time_sec=end - start,
            tokens_per_second=predicted / generation if predicted and generation > 0 else None,
            stop_string=mapper.stop_string,
        )
