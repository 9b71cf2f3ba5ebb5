"""The openai engine: LM Studio's SDK API in front of OpenAI-compatible servers.

``upstreams`` knows the servers, their health and load; ``transport`` does the HTTP (httpx)
and turns failures into ``errors``; ``catalog`` turns ``/v1/models`` into downloaded models;
``model`` runs one model's calls: ``request_body`` builds each request, ``sse`` and
``stream_mapping`` turn the stream back into prediction events, ``tokenizer`` finds the
upstream's tokenize endpoint. ``engine`` ties them together. httpx is an optional dependency
(the ``openai`` extra); ``engines.create_engine`` checks for it before importing this package.
"""

from __future__ import annotations

from .engine import OpenAIEngine
from .model import OpenAILoadedModel

__all__ = ["OpenAIEngine", "OpenAILoadedModel"]
