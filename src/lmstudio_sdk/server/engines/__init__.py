"""Inference engines behind one interface (``base.py``), and how to make one by name."""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Sequence
from pathlib import Path

from ..local.models_dir import default_models_dir
from .base import Engine
from .scripted import ScriptedEngine

__all__ = ["ENGINE_NAMES", "EngineUnavailableError", "create_engine"]

ENGINE_NAMES = ("scripted", "llama", "openai")

_INSTALL_HINT = (
    "The llama engine needs llama-cpp-python. Install it with "
    "`pip install 'lmstudio-sdk[server]'` or run scripts/install-engine.sh."
)


_OPENAI_HINT = (
    "The openai engine needs httpx. Install it with `pip install 'lmstudio-sdk[openai]'`."
)


class EngineUnavailableError(Exception):
    """The engine cannot run here (a missing dependency); the message says how to fix it."""


def create_engine(
    name: str,
    *,
    models_dir: Path | None = None,
    n_threads: int | None = None,
    token_delay: float = 0.0,
    load_delay: float = 0.0,
    upstreams: Sequence[str] = (),
    upstream_api_key: str | None = None,
) -> Engine:
    """``scripted`` (deterministic, no dependencies), ``llama`` (llama.cpp on GGUF files) or
    ``openai`` (in front of the OpenAI-compatible servers at ``upstreams``).

    ``token_delay`` and ``load_delay`` (seconds) slow the scripted engine down for tests.
    """
    if name == "scripted":
        return ScriptedEngine(token_delay=token_delay, load_delay=load_delay)
    if name == "openai":
        return _openai_engine(upstreams, upstream_api_key)
    if name != "llama":
        raise ValueError(f"unknown engine {name!r}; expected one of {', '.join(ENGINE_NAMES)}")
    if importlib.util.find_spec("llama_cpp") is None:
        raise EngineUnavailableError(_INSTALL_HINT)
    try:
        # Imported lazily: llama-cpp-python is an optional dependency.
        module = importlib.import_module("lmstudio_sdk.server.engines.llama")
    except ImportError as exc:
        raise EngineUnavailableError(f"{_INSTALL_HINT} ({exc})") from exc
    if models_dir is None:
        models_dir = default_models_dir()
    engine: Engine = module.LlamaEngine(models_dir, n_threads=n_threads)
    return engine


def _openai_engine(upstreams: Sequence[str], api_key: str | None) -> Engine:
    if not upstreams:
        raise ValueError("the openai engine needs at least one upstream URL (--upstream)")
    if importlib.util.find_spec("httpx") is None:
        raise EngineUnavailableError(_OPENAI_HINT)
    # Imported lazily: httpx is an optional dependency.
    module = importlib.import_module("lmstudio_sdk.server.engines.openai")
    engine: Engine = module.OpenAIEngine(list(upstreams), api_key=api_key)
    return engine
