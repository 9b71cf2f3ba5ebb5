"""The scripted engine on its own: tokenizer, embeddings, stop strings, directives."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

from lmstudio_sdk._protocol.chat import message_data
from lmstudio_sdk._protocol.packets.shared import (
    ChatHistoryData,
    KVConfig,
    KVConfigField,
    TextPart,
)
from lmstudio_sdk.server.engines.base import (
    EngineEvent,
    FragmentGenerated,
    LoadedModel,
    PredictionFinished,
    PredictionRequest,
)
from lmstudio_sdk.server.engines.scripted import (
    SCRIPTED_LLM_KEY,
    ScriptedEngine,
    scripted_embedding,
    scripted_token_id,
    scripted_tokenize,
)


def test_tokenizer_round_trips_and_splits_words_and_punctuation() -> None:
    text = "Hello, world!  How are\tyou? "
    tokens = scripted_tokenize(text)
    assert "".join(tokens) == text
    assert tokens == ["Hello", ",", " world", "!", "  How", " are", "\tyou", "?", " "]


def test_token_ids_are_stable_across_processes() -> None:
    here = [scripted_token_id(t) for t in scripted_tokenize("stable ids, please")]
    code = (
        "from lmstudio_sdk.server.engines.scripted import scripted_token_id, scripted_tokenize;"
        "print([scripted_token_id(t) for t in scripted_tokenize('stable ids, please')])"
    )
    other = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
        env={"PYTHONHASHSEED": "12345", "PATH": ""},
    )
    assert other.stdout.strip() == str(here)
    assert all(0 <= i < 50_000 for i in here)
    assert scripted_token_id("hello") == 907_060_870 % 50_000  # zlib.crc32(b"hello")


def test_embeddings() -> None:
    a = scripted_embedding("red apples and green pears", 64)
    assert a == scripted_embedding("red apples and green pears", 64)
    assert abs(sum(v * v for v in a) - 1.0) < 1e-9
    assert scripted_embedding("", 8) == [1.0] + [0.0] * 7
    assert len(scripted_embedding("x", 3)) == 3


async def _run(model: LoadedModel, text: str, **config: Any) -> list[EngineEvent]:
    history = ChatHistoryData(messages=[message_data("user", [TextPart(text=text)])])
    fields = [KVConfigField(key=k.replace("__", "."), value=v) for k, v in config.items()]
    request = PredictionRequest(config=KVConfig(fields=fields), history=history)
    return [event async for event in model.predict(request)]


async def _load() -> LoadedModel:
    engine = ScriptedEngine()
    [info] = [m for m in engine.list_models() if m.model_key == SCRIPTED_LLM_KEY]
    progress: list[float] = []
    model = await engine.load(info, KVConfig(fields=[]), progress.append)
    assert progress == [0.25, 0.5, 0.75, 1.0]
    return model


async def test_prediction_is_deterministic_and_ends_with_finished() -> None:
    model = await _load()
    first = await _run(model, "same input")
    second = await _run(model, "same input")
    texts = [e.content for e in first if isinstance(e, FragmentGenerated)]
    assert texts == [e.content for e in second if isinstance(e, FragmentGenerated)]
    assert "".join(texts) == "You said: same input"
    assert isinstance(first[-1], PredictionFinished)
    assert first[-1].predicted_tokens_count == len(texts)


async def test_stop_string_spanning_tokens_never_leaks() -> None:
    model = await _load()
    events = await _run(model, "!long 4", llm__prediction__stopStrings=["1 wo"])
    text = "".join(e.content for e in events if isinstance(e, FragmentGenerated))
    assert text == "word0 word"
    finished = events[-1]
    assert isinstance(finished, PredictionFinished)
    assert (finished.stop_reason, finished.stop_string) == ("stopStringFound", "1 wo")


async def test_cancel_before_first_token() -> None:
    model = await _load()
    history = ChatHistoryData(messages=[message_data("user", [TextPart(text="!long 5")])])
    request = PredictionRequest(config=KVConfig(fields=[]), history=history)
    request.cancel.set()
    events = [event async for event in model.predict(request)]
    assert not [e for e in events if isinstance(e, FragmentGenerated)]
    finished = events[-1]
    assert isinstance(finished, PredictionFinished) and finished.stop_reason == "userStopped"


async def test_context_length_is_a_stop_reason() -> None:
    engine = ScriptedEngine()
    [info] = [m for m in engine.list_models() if m.model_key == SCRIPTED_LLM_KEY]
    config = KVConfig(fields=[KVConfigField(key="llm.load.contextLength", value=30)])
    model = await engine.load(info, config, lambda _: None)
    assert model.context_length == 30
    events = await _run(model, "!long 100")
    finished = events[-1]
    assert isinstance(finished, PredictionFinished)
    assert finished.stop_reason == "contextLengthReached"
    assert finished.prompt_tokens_count + finished.predicted_tokens_count == 30
