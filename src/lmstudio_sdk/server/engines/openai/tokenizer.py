"""Tokenize through the upstream's own endpoint, found by trying each known shape once.

llama-cpp-python's server: ``POST /extras/tokenize {"model", "input"}`` → ``{"tokens"}``;
vLLM and SGLang: ``POST /tokenize {"model", "prompt"}`` → ``{"tokens"}``; llama.cpp's
``llama-server``: ``POST /tokenize {"content"}`` → ``{"tokens"}``. An upstream with none of
them gets the typed "not supported by the upstream" error.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from ...errors import ServerError
from .errors import not_supported_by_upstream
from .transport import post_json
from .upstreams import UpstreamPool

__all__ = ["TOKENIZE_ROUTES", "UpstreamTokenizer"]


@dataclass(frozen=True)
class TokenizeRoute:
    path: str
    input_field: str


TOKENIZE_ROUTES = (
    TokenizeRoute("/extras/tokenize", "input"),
    TokenizeRoute("/tokenize", "prompt"),
    TokenizeRoute("/tokenize", "content"),
)


def _tokens(answer: Any) -> list[int] | None:
    tokens = answer.get("tokens") if isinstance(answer, dict) else None
    if isinstance(tokens, list) and all(isinstance(t, int) for t in tokens):
        return tokens
    return None


class UpstreamTokenizer:
    def __init__(self, pool: UpstreamPool, model_id: str) -> None:
        self._pool = pool
        self._model_id = model_id
        self._route: TokenizeRoute | None = None
        self._unsupported_on: set[str] = set()

    def _routes(self, upstream_url: str) -> tuple[TokenizeRoute, ...]:
        if upstream_url in self._unsupported_on:
            return ()
        return (self._route,) if self._route is not None else TOKENIZE_ROUTES

    def _learn(self, route: TokenizeRoute, answer: Any) -> list[int] | None:
        tokens = _tokens(answer)
        if tokens is not None:
            self._route = route
        return tokens

    async def tokenize(self, text: str) -> list[int]:
        upstream = self._pool.pick(self._model_id)
        for route in self._routes(upstream.url):
            body = {"model": self._model_id, route.input_field: text}
            try:
                answer = await post_json(self._pool, self._model_id, route.path, body)
            except ServerError as exc:
                if _is_refusal(exc):
                    continue  # another shape, or none
                raise
            if (tokens := self._learn(route, answer)) is not None:
                return tokens
        self._unsupported_on.add(upstream.url)
        raise not_supported_by_upstream(
            "Tokenization", "/extras/tokenize or /tokenize", upstream.url
        )

    async def count(self, text: str) -> int:
        """A token count for stats when the upstream reports none: its tokenizer when it has
        one, else about four characters per token."""
        upstream_url = self._pool.pick(self._model_id).url
        for route in self._routes(upstream_url):
            body = {"model": self._model_id, route.input_field: text}
            try:
                answer = await post_json(self._pool, self._model_id, route.path, body)
            except ServerError as exc:
                if _is_refusal(exc):
                    continue
                break  # a failing upstream: estimate, and ask again next time
            if (tokens := self._learn(route, answer)) is not None:
                return len(tokens)
        else:
            self._unsupported_on.add(upstream_url)
        return max(1, math.ceil(len(text) / 4))


def _is_refusal(exc: ServerError) -> bool:
    code = (exc.display_data or {}).get("code")
    return code in ("openai.notSupportedByUpstream", "openai.upstreamError")
