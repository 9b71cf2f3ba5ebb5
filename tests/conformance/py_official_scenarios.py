"""Conformance scenarios for the official ``lmstudio`` Python SDK (1.5.0 from PyPI).

Run as a subprocess (never imported by pytest, so the official client's background threads
and global state stay out of the test process)::

    python py_official_scenarios.py [--engine E] ws://127.0.0.1:PORT            # features
    python py_official_scenarios.py [--engine E] ws://127.0.0.1:PORT API_TOKEN  # auth; the
                                                              # server enforces API_TOKEN

``HOST:PORT`` is accepted as well. ``E`` is the server's engine, ``scripted`` (default) or
``llama``; it selects the model keys, prompts and prediction settings from ``ENGINES`` and
nothing else: the scenario code is the same for both.

Every scenario runs once with the sync ``lmstudio.Client`` (names prefixed ``sync.``) and once
with ``lmstudio.AsyncClient`` (``async.``). One JSON line per scenario goes to stdout:
``{"scenario": ..., "ok": bool, "detail": {...}}``. ``ok`` means the scenario ran to its end
without an unexpected error or time-out; ``detail`` holds what the client observed (same keys as
ts_scenarios.mjs) and test_official_clients.py checks it. Everything the client logs at WARNING
or above, and every Python warning, is collected into ``detail["clientLog"]``.

What lmstudio 1.5.0 lacks, and how the scenarios deal with it:

* no LM Studio version call: there is no ``lmstudio_version`` scenario;
* no ``api_token``: the token scenarios subclass the client and override its
  ``_create_auth_message`` hook to send the token-derived identity, as 1.6.0b1 does;
* no TTL in its model-info type: the ``load`` scenario reads ``ttlMs`` from the raw
  ``getModelInfo`` reply through the client's ``_get_api_model_info``.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import logging
import os
import shutil
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lmstudio

Detail = dict[str, Any]

UNKNOWN_MODEL = "no-such-model"
# Valid token format (sk-lm-<8 alphanumerics>:<20 alphanumerics>), but not the server's token.
WRONG_TOKEN = "sk-lm-wrongTok:zzzzzzzzzzYYYYYYYYYY"

# A 16x16 RGB gradient PNG (463 bytes); ts_scenarios.mjs sends the same image.
IMAGE_PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAABAAAAAQCAIAAACQkWg2AAABlklEQVR42hXRURVEIQhFUSMYgQhGMAIRiGCEE8EIRiAC"
    "EYhABCLMG7/ZrMt1jMEcyGAN9kAHNjgDBnfwBj6IQQ5q0IMxJnMikzXZE53Y5EyY3Mmb+CQmOalJzw8IUxBhCVtQwYQj"
    "IFzhCS6EkEIJLR9YzIUs1mIvdGGLs2BxF2/hi1jkoha9PrCZG9mszd7oxjZnw+Zu3sY3sclNbXp/QJmKKEvZiiqmHAXl"
    "Kk9xJZRUSmn9gDENMZaxDTXMOAbGNZ7hRhhplNH2gcM8yGEd9kEPdjgHDvfwDn6IQx7q0OcD/wK/Sr4jv9hfkG/1N/x/"
    "Fx44BCQU9Pc94zIvclmXfdGLXc79j9/Lu/glLnmpS98PPOZDHuuxH/qwx3n/5ffxHv6IRz7q0e8DznTEWc521DHn+D/K"
    "dZ7jTjjplNP+gWAGEqxgBxpYcOIf/AYv8CCCDCro+EAyE0lWshNNLDn5P/MmL/Ekkkwq6fxAMQspVrELLaw49S/lFq/w"
    "Ioosquj6QDMbaVazG22sOf2v8Dav8SaabKrp5geIAnAQC3NfwAAAAABJRU5ErkJggg=="
)

# The sentences of the embed scenario: ``related`` means nearly what ``anchor`` means,
# ``unrelated`` does not (ts_scenarios.mjs embeds the same three).
EMBED_TEXTS = {
    "anchor": "A cat sat on the mat.",
    "related": "A kitten was sleeping on the rug.",
    "unrelated": "Quarterly tax filings are due at the end of March.",
}


@dataclass(frozen=True)
class EngineProfile:
    """What differs between engines (the same table as ENGINES in ts_scenarios.mjs).

    The scripted engine answers directives (``!long N``, ``!error``) with exact echo text;
    llama.cpp gets real prompts, temperature 0 and few tokens.
    """

    scenario_timeout_s: float
    llm_key: str
    vision_key: str
    embedding_key: str
    predict_config: lmstudio.LlmPredictionConfigDict | None
    cancel_prompt: str
    cancel_config: lmstudio.LlmPredictionConfigDict | None
    requested_tokens: int
    cancel_after: int
    error_prompt: str
    error_config: lmstudio.LlmPredictionConfigDict | None


ENGINES = {
    "scripted": EngineProfile(
        scenario_timeout_s=8.0,
        llm_key="scripted-echo-1b",
        vision_key="scripted-vision-1b",
        embedding_key="scripted-embed-small",
        predict_config=None,
        cancel_prompt="!long 200",
        cancel_config=None,
        requested_tokens=200,
        cancel_after=3,
        error_prompt="!error",
        error_config=None,
    ),
    "llama": EngineProfile(
        scenario_timeout_s=30.0,
        llm_key="smollm2-135m-instruct",
        # SmolLM2 with the tiny random projector installed beside it (--with-vision).
        vision_key="smollm2-135m-instruct",
        embedding_key="text-embedding-all-minilm-l6-v2",
        predict_config={"temperature": 0, "maxTokens": 24},
        # Long enough to be still generating when the cancel arrives after the first fragment.
        cancel_prompt="Write a very long story about a dragon who learns to bake bread.",
        cancel_config={"temperature": 0, "maxTokens": 400},
        requested_tokens=400,
        cancel_after=1,
        # A real engine error: a prompt longer than any context SmolLM2 has (8192), refused
        # before evaluation under the stopAtLimit overflow policy.
        error_prompt="hello " * 10_000,
        error_config={"contextOverflowPolicy": "stopAtLimit"},
    ),
}

# The openai engine in front of llama-cpp-python's server on the same models.
ENGINES["openai"] = ENGINES["llama"]

# Set by main() from --engine.
E = ENGINES["scripted"]
SCENARIO_TIMEOUT_S = E.scenario_timeout_s


# -- output and client logging -----------------------------------------------------------------


def emit(scenario: str, ok: bool, detail: Detail) -> None:
    line = json.dumps({"scenario": scenario, "ok": ok, "detail": detail}, default=repr)
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


class _LogCollector(logging.Handler):
    """Keeps every WARNING+ record (the client's own, and Python warnings) in order."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        text = f"{record.levelname.lower()}: {record.name}: {record.getMessage()}"
        self.lines.append(text[:2000])
        sys.stderr.write(f"[client {text}]\n")


_collector = _LogCollector()


def describe_error(error: BaseException) -> Detail:
    return {"name": type(error).__name__, "message": str(error)[:4000]}


@contextmanager
def _scenario_log() -> Iterator[list[str]]:
    start = len(_collector.lines)
    lines: list[str] = []
    try:
        yield lines
    finally:
        lines.extend(_collector.lines[start:])


class ExpectedFailureMissing(Exception):
    """The scenario expected the client to raise, but the call succeeded."""


def _chat(user_text: str, images: tuple[lmstudio.FileHandle, ...] = ()) -> lmstudio.Chat:
    chat = lmstudio.Chat()
    chat.add_user_message(user_text, images=images)
    return chat


def _file_summary(handle: lmstudio.FileHandle) -> Detail:
    return {"type": handle.file_type, "name": handle.name, "sizeBytes": handle.size_bytes}


def _one_token(
    config: lmstudio.LlmPredictionConfigDict | None,
) -> lmstudio.LlmPredictionConfigDict:
    one: lmstudio.LlmPredictionConfigDict = {**(config or {}), "maxTokens": 1}
    return one


def _image_path() -> Path:
    """IMAGE_PNG as a file, for prepare_image(path)."""
    path = Path(tempfile.mkdtemp(prefix="conformance-")) / "conformance.png"
    path.write_bytes(IMAGE_PNG)
    return path


def _parse_token(token: str) -> tuple[str, str]:
    identifier, _, passkey = token.removeprefix("sk-lm-").partition(":")
    return identifier, passkey


# -- sync scenarios ----------------------------------------------------------------------------


def run_sync(name: str, body: Callable[[], Detail]) -> None:
    """Runs ``body`` on a daemon thread so a hang becomes a failed scenario, not a stuck run."""
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["detail"] = body()
        except BaseException as error:
            outcome["error"] = error

    started = time.monotonic()
    with _scenario_log() as log:
        worker = threading.Thread(target=target, name=f"scenario-{name}", daemon=True)
        worker.start()
        worker.join(SCENARIO_TIMEOUT_S)
    elapsed_ms = round((time.monotonic() - started) * 1000)
    if worker.is_alive():
        error: Detail = {
            "name": "Timeout",
            "message": f"scenario timed out after {SCENARIO_TIMEOUT_S} s",
        }
        emit(name, False, {"error": error, "elapsedMs": elapsed_ms, "clientLog": log})
    elif "error" in outcome:
        detail = {"error": describe_error(outcome["error"])}
        emit(name, False, {**detail, "elapsedMs": elapsed_ms, "clientLog": log})
    else:
        emit(name, True, {**outcome["detail"], "elapsedMs": elapsed_ms, "clientLog": log})


def expect_error_sync(call: Callable[[], object]) -> Detail:
    try:
        call()
    except Exception as error:
        return describe_error(error)
    raise ExpectedFailureMissing("expected the call to fail, but it succeeded")


def _stats(result: lmstudio.PredictionResult) -> Detail:
    return {
        "stopReason": result.stats.stop_reason,
        "predictedTokensCount": result.stats.predicted_tokens_count,
        "promptTokensCount": result.stats.prompt_tokens_count,
    }


def collect_sync(stream: lmstudio.PredictionStream, cancel_after: int | None = None) -> Detail:
    fragments: list[str] = []
    for fragment in stream:
        fragments.append(fragment.content)
        if cancel_after is not None and len(fragments) == cancel_after:
            stream.cancel()
    result = stream.result()
    return {"fragments": fragments, "content": result.content, "stats": _stats(result)}


class _TokenClient(lmstudio.Client):
    """lmstudio 1.5.0 has no ``api_token``; send the token-derived identity like 1.6.0b1 does."""

    def __init__(self, api_host: str, api_token: str) -> None:
        self._api_token = api_token  # read by _create_auth_message during __init__
        super().__init__(api_host)

    def _create_auth_message(self) -> Mapping[str, Any]:
        return self._format_auth_message(*_parse_token(self._api_token))


class _AsyncTokenClient(lmstudio.AsyncClient):
    def __init__(self, api_host: str, api_token: str) -> None:
        self._api_token = api_token
        super().__init__(api_host)

    def _create_auth_message(self) -> Mapping[str, Any]:
        return self._format_auth_message(*_parse_token(self._api_token))


def _sync_model_summary(model: lmstudio.LLM | lmstudio.EmbeddingModel) -> Detail:
    info = model.get_info()
    return {"identifier": model.identifier, "modelKey": info.model_key, "path": info.path}


def sync_feature_scenarios(
    client: lmstudio.Client, prefix: str
) -> list[tuple[str, Callable[[], Detail]]]:
    load_identifier = f"conformance-py-{prefix}-load"

    def llm() -> lmstudio.LLM:
        return client.llm.model(E.llm_key)

    def list_downloaded() -> Detail:
        models = client.list_downloaded_models()
        return {
            "models": [{"type": m.type, "modelKey": m.model_key, "path": m.path} for m in models]
        }

    def get_or_load() -> Detail:
        model = llm()
        summary = _sync_model_summary(model)
        return {**summary, "infoModelKey": summary["modelKey"]}

    def list_loaded() -> Detail:
        llm()
        return {"models": [_sync_model_summary(m) for m in client.llm.list_loaded()]}

    def load() -> Detail:
        progress: list[float] = []
        model = client.llm.load_new_instance(
            E.llm_key, load_identifier, ttl=300, on_load_progress=progress.append
        )
        raw_info = client.llm._get_api_model_info(model.identifier)
        return {
            **_sync_model_summary(model),
            "requestedIdentifier": load_identifier,
            "progress": progress,
            "ttlMs": raw_info.get("ttlMs"),
        }

    def unload() -> Detail:
        before = [m.identifier for m in client.llm.list_loaded()]
        client.llm.unload(load_identifier)
        after = [m.identifier for m in client.llm.list_loaded()]
        return {"unloaded": load_identifier, "before": before, "after": after}

    def respond() -> Detail:
        user_text = "hello conformance world"
        history = _chat(user_text)
        stream = llm().respond_stream(history, config=E.predict_config)
        return {"userText": user_text, **collect_sync(stream)}

    def complete() -> Detail:
        # 1.5.0 sends this as `predict` with a completeModeFormatting layer.
        prompt = "complete this raw prompt"
        stream = llm().complete_stream(prompt, config=E.predict_config)
        return {"prompt": prompt, **collect_sync(stream)}

    def cancel() -> Detail:
        stream = llm().respond_stream(_chat(E.cancel_prompt), config=E.cancel_config)
        return {
            "requestedTokens": E.requested_tokens,
            "cancelAfter": E.cancel_after,
            **collect_sync(stream, cancel_after=E.cancel_after),
        }

    def prediction_error() -> Detail:
        model = llm()
        history = _chat(E.error_prompt)
        return {"error": expect_error_sync(lambda: model.respond(history, config=E.error_config))}

    def tokenize() -> Detail:
        text = "hello conformance world"
        return {"text": text, "tokens": list(llm().tokenize(text))}

    def count_tokens() -> Detail:
        model = llm()
        text = "hello conformance world"
        count = model.count_tokens(text)
        return {"text": text, "count": count, "tokenizeLength": len(model.tokenize(text))}

    def context_length() -> Detail:
        # 1.5.0 reads this from getModelInfo (`contextLength`).
        model = llm()
        return {
            "contextLength": model.get_context_length(),
            "infoContextLength": model.get_info().context_length,
        }

    def apply_prompt_template() -> Detail:
        user_text = "template this message"
        history = _chat(user_text)
        return {"userText": user_text, "formatted": llm().apply_prompt_template(history)}

    def embed() -> Detail:
        model = client.embedding.model(E.embedding_key)
        vectors = {name: list(model.embed(text)) for name, text in EMBED_TEXTS.items()}
        return {
            **_sync_model_summary(model),
            "texts": EMBED_TEXTS,
            "embedding": vectors["anchor"],
            "related": vectors["related"],
            "unrelated": vectors["unrelated"],
        }

    def unknown_model() -> Detail:
        return {
            "model": UNKNOWN_MODEL,
            "error": expect_error_sync(lambda: client.llm.model(UNKNOWN_MODEL)),
        }

    def image() -> Detail:
        # The sync flavour uploads bytes, the async one a path.
        handle = client.prepare_image(IMAGE_PNG, name="conformance.png")
        model = client.llm.model(E.vision_key)
        user_text = "Describe this image."
        # The same chat without the image, one token: its prompt must be shorter.
        text_only = model.respond(_chat(user_text), config=_one_token(E.predict_config))
        stream = model.respond_stream(_chat(user_text, (handle,)), config=E.predict_config)
        return {
            "userText": user_text,
            "modelKey": model.get_info().model_key,
            "file": _file_summary(handle),
            "textOnlyPromptTokens": text_only.stats.prompt_tokens_count,
            **collect_sync(stream),
        }

    return [
        ("list_downloaded", list_downloaded),
        ("get_or_load", get_or_load),
        ("list_loaded", list_loaded),
        ("load", load),
        ("unload", unload),
        ("respond", respond),
        ("complete", complete),
        ("cancel", cancel),
        ("prediction_error", prediction_error),
        ("tokenize", tokenize),
        ("count_tokens", count_tokens),
        ("context_length", context_length),
        ("apply_prompt_template", apply_prompt_template),
        ("embed", embed),
        ("unknown_model", unknown_model),
        ("image", image),
    ]


FEATURE_SCENARIOS = [
    "list_downloaded",
    "get_or_load",
    "list_loaded",
    "load",
    "unload",
    "respond",
    "complete",
    "cancel",
    "prediction_error",
    "tokenize",
    "count_tokens",
    "context_length",
    "apply_prompt_template",
    "embed",
    "unknown_model",
    "image",
]
AUTH_SCENARIOS = ["auth_wrong_token", "auth_no_token", "auth_right_token"]


def _start_sync_client(client: lmstudio.Client) -> lmstudio.Client:
    """Enter the client (it probes /lmstudio-greeting) within the scenario time limit."""
    entered: dict[str, Any] = {}

    def target() -> None:
        try:
            entered["client"] = client.__enter__()
        except BaseException as error:
            entered["error"] = error

    worker = threading.Thread(target=target, daemon=True)
    worker.start()
    worker.join(SCENARIO_TIMEOUT_S)
    if "client" in entered:
        return client
    if "error" in entered:
        raise entered["error"]
    raise TimeoutError(f"lmstudio.Client did not start within {SCENARIO_TIMEOUT_S} s")


def _close_sync_client(client: lmstudio.Client) -> None:
    closer = threading.Thread(target=client.close, daemon=True)
    closer.start()
    closer.join(5.0)


def run_sync_features(api_host: str) -> None:
    prefix = "sync"
    client = lmstudio.Client(api_host)
    try:
        _start_sync_client(client)
    except Exception as error:
        for name in FEATURE_SCENARIOS:
            detail = {"error": describe_error(error), "phase": "client start"}
            emit(f"{prefix}.{name}", False, detail)
        return
    try:
        for name, body in sync_feature_scenarios(client, prefix):
            run_sync(f"{prefix}.{name}", body)
    finally:
        _close_sync_client(client)


def run_sync_auth(api_host: str, api_token: str) -> None:
    def attempt(client: lmstudio.Client) -> Detail:
        try:
            _start_sync_client(client)
            loaded = client.llm.list_loaded()
            downloaded = client.list_downloaded_models()
            return {
                "loadedCount": len(loaded),
                "downloadedKeys": [m.model_key for m in downloaded],
            }
        finally:
            _close_sync_client(client)

    def wrong_token() -> Detail:
        client = _TokenClient(api_host, WRONG_TOKEN)
        return {"error": expect_error_sync(lambda: attempt(client))}

    def no_token() -> Detail:
        # 1.5.0 always sends a random (uuid4) identity.
        client = lmstudio.Client(api_host)
        return {"error": expect_error_sync(lambda: attempt(client))}

    def right_token() -> Detail:
        return attempt(_TokenClient(api_host, api_token))

    run_sync("sync.auth_wrong_token", wrong_token)
    run_sync("sync.auth_no_token", no_token)
    run_sync("sync.auth_right_token", right_token)


# -- async scenarios ---------------------------------------------------------------------------


async def run_async(name: str, body: Callable[[], Awaitable[Detail]]) -> None:
    started = time.monotonic()
    with _scenario_log() as log:
        try:
            detail = await asyncio.wait_for(body(), SCENARIO_TIMEOUT_S)
        except TimeoutError:
            error: Detail = {
                "name": "Timeout",
                "message": f"scenario timed out after {SCENARIO_TIMEOUT_S} s",
            }
            ok, detail = False, {"error": error}
        except Exception as exc:
            ok, detail = False, {"error": describe_error(exc)}
        else:
            ok = True
    elapsed_ms = round((time.monotonic() - started) * 1000)
    emit(name, ok, {**detail, "elapsedMs": elapsed_ms, "clientLog": log})


async def expect_error_async(call: Awaitable[object]) -> Detail:
    try:
        await call
    except Exception as error:
        return describe_error(error)
    raise ExpectedFailureMissing("expected the call to fail, but it succeeded")


async def collect_async(
    stream: lmstudio.AsyncPredictionStream, cancel_after: int | None = None
) -> Detail:
    fragments: list[str] = []
    async for fragment in stream:
        fragments.append(fragment.content)
        if cancel_after is not None and len(fragments) == cancel_after:
            await stream.cancel()
    result = stream.result()
    return {"fragments": fragments, "content": result.content, "stats": _stats(result)}


async def _async_model_summary(model: lmstudio.AsyncLLM | lmstudio.AsyncEmbeddingModel) -> Detail:
    info = await model.get_info()
    return {"identifier": model.identifier, "modelKey": info.model_key, "path": info.path}


def async_feature_scenarios(
    client: lmstudio.AsyncClient, prefix: str
) -> list[tuple[str, Callable[[], Awaitable[Detail]]]]:
    load_identifier = f"conformance-py-{prefix}-load"

    async def llm() -> lmstudio.AsyncLLM:
        return await client.llm.model(E.llm_key)

    async def list_downloaded() -> Detail:
        models = await client.list_downloaded_models()
        return {
            "models": [{"type": m.type, "modelKey": m.model_key, "path": m.path} for m in models]
        }

    async def get_or_load() -> Detail:
        summary = await _async_model_summary(await llm())
        return {**summary, "infoModelKey": summary["modelKey"]}

    async def list_loaded() -> Detail:
        await llm()
        loaded = await client.llm.list_loaded()
        return {"models": [await _async_model_summary(m) for m in loaded]}

    async def load() -> Detail:
        progress: list[float] = []
        model = await client.llm.load_new_instance(
            E.llm_key, load_identifier, ttl=300, on_load_progress=progress.append
        )
        raw_info = await client.llm._get_api_model_info(model.identifier)
        return {
            **(await _async_model_summary(model)),
            "requestedIdentifier": load_identifier,
            "progress": progress,
            "ttlMs": raw_info.get("ttlMs"),
        }

    async def unload() -> Detail:
        before = [m.identifier for m in await client.llm.list_loaded()]
        await client.llm.unload(load_identifier)
        after = [m.identifier for m in await client.llm.list_loaded()]
        return {"unloaded": load_identifier, "before": before, "after": after}

    async def respond() -> Detail:
        user_text = "hello conformance world"
        history = _chat(user_text)
        stream = await (await llm()).respond_stream(history, config=E.predict_config)
        return {"userText": user_text, **(await collect_async(stream))}

    async def complete() -> Detail:
        prompt = "complete this raw prompt"
        stream = await (await llm()).complete_stream(prompt, config=E.predict_config)
        return {"prompt": prompt, **(await collect_async(stream))}

    async def cancel() -> Detail:
        history = _chat(E.cancel_prompt)
        stream = await (await llm()).respond_stream(history, config=E.cancel_config)
        return {
            "requestedTokens": E.requested_tokens,
            "cancelAfter": E.cancel_after,
            **(await collect_async(stream, cancel_after=E.cancel_after)),
        }

    async def prediction_error() -> Detail:
        model = await llm()
        history = _chat(E.error_prompt)
        return {"error": await expect_error_async(model.respond(history, config=E.error_config))}

    async def tokenize() -> Detail:
        text = "hello conformance world"
        return {"text": text, "tokens": list(await (await llm()).tokenize(text))}

    async def count_tokens() -> Detail:
        model = await llm()
        text = "hello conformance world"
        count = await model.count_tokens(text)
        return {"text": text, "count": count, "tokenizeLength": len(await model.tokenize(text))}

    async def context_length() -> Detail:
        model = await llm()
        return {
            "contextLength": await model.get_context_length(),
            "infoContextLength": (await model.get_info()).context_length,
        }

    async def apply_prompt_template() -> Detail:
        user_text = "template this message"
        history = _chat(user_text)
        formatted = await (await llm()).apply_prompt_template(history)
        return {"userText": user_text, "formatted": formatted}

    async def embed() -> Detail:
        model = await client.embedding.model(E.embedding_key)
        vectors = {name: list(await model.embed(text)) for name, text in EMBED_TEXTS.items()}
        return {
            **(await _async_model_summary(model)),
            "texts": EMBED_TEXTS,
            "embedding": vectors["anchor"],
            "related": vectors["related"],
            "unrelated": vectors["unrelated"],
        }

    async def unknown_model() -> Detail:
        error = await expect_error_async(client.llm.model(UNKNOWN_MODEL))
        return {"model": UNKNOWN_MODEL, "error": error}

    async def image() -> Detail:
        path = _image_path()
        try:
            handle = await client.prepare_image(path)
        finally:
            shutil.rmtree(path.parent, ignore_errors=True)
        model = await client.llm.model(E.vision_key)
        user_text = "Describe this image."
        text_only = await model.respond(_chat(user_text), config=_one_token(E.predict_config))
        history = _chat(user_text, (handle,))
        stream = await model.respond_stream(history, config=E.predict_config)
        return {
            "userText": user_text,
            "modelKey": (await model.get_info()).model_key,
            "file": _file_summary(handle),
            "textOnlyPromptTokens": text_only.stats.prompt_tokens_count,
            **(await collect_async(stream)),
        }

    return [
        ("list_downloaded", list_downloaded),
        ("get_or_load", get_or_load),
        ("list_loaded", list_loaded),
        ("load", load),
        ("unload", unload),
        ("respond", respond),
        ("complete", complete),
        ("cancel", cancel),
        ("prediction_error", prediction_error),
        ("tokenize", tokenize),
        ("count_tokens", count_tokens),
        ("context_length", context_length),
        ("apply_prompt_template", apply_prompt_template),
        ("embed", embed),
        ("unknown_model", unknown_model),
        ("image", image),
    ]


async def run_async_features(api_host: str) -> None:
    prefix = "async"
    client = lmstudio.AsyncClient(api_host)
    try:
        # The async client eagerly opens and authenticates five sockets here.
        await asyncio.wait_for(client.__aenter__(), SCENARIO_TIMEOUT_S)
    except Exception as error:
        for name in FEATURE_SCENARIOS:
            detail = {"error": describe_error(error), "phase": "client start"}
            emit(f"{prefix}.{name}", False, detail)
        return
    try:
        for name, body in async_feature_scenarios(client, prefix):
            await run_async(f"{prefix}.{name}", body)
    finally:
        try:
            await asyncio.wait_for(client.aclose(), 5.0)
        except Exception as error:
            sys.stderr.write(f"closing the async client failed: {error!r}\n")


async def run_async_auth(api_host: str, api_token: str) -> None:
    async def attempt(client: lmstudio.AsyncClient) -> Detail:
        async with client:
            loaded = await client.llm.list_loaded()
            downloaded = await client.list_downloaded_models()
            return {
                "loadedCount": len(loaded),
                "downloadedKeys": [m.model_key for m in downloaded],
            }

    async def wrong_token() -> Detail:
        client = _AsyncTokenClient(api_host, WRONG_TOKEN)
        return {"error": await expect_error_async(attempt(client))}

    async def no_token() -> Detail:
        client = lmstudio.AsyncClient(api_host)
        return {"error": await expect_error_async(attempt(client))}

    async def right_token() -> Detail:
        return await attempt(_AsyncTokenClient(api_host, api_token))

    await run_async("async.auth_wrong_token", wrong_token)
    await run_async("async.auth_no_token", no_token)
    await run_async("async.auth_right_token", right_token)


# -- main --------------------------------------------------------------------------------------


def _api_host(base: str) -> str:
    for scheme in ("ws://", "http://"):
        base = base.removeprefix(scheme)
    return base.rstrip("/")


def main(argv: list[str]) -> int:
    global E, SCENARIO_TIMEOUT_S
    parser = argparse.ArgumentParser(prog="py_official_scenarios.py")
    parser.add_argument("--engine", choices=sorted(ENGINES), default="scripted")
    parser.add_argument("url", help="ws://HOST:PORT or HOST:PORT")
    parser.add_argument("api_token", nargs="?", default=None)
    args = parser.parse_args(argv)
    E = ENGINES[args.engine]
    SCENARIO_TIMEOUT_S = E.scenario_timeout_s
    api_host = _api_host(args.url)
    api_token: str | None = args.api_token

    # Python warnings go to logging; all WARNING+ records go to the collector (and stderr).
    logging.captureWarnings(True)
    warnings.simplefilter("always")
    root = logging.getLogger()
    root.setLevel(logging.WARNING)
    root.addHandler(_collector)

    if api_token is None:
        run_sync_features(api_host)
        asyncio.run(run_async_features(api_host))
    else:
        run_sync_auth(api_host, api_token)
        asyncio.run(run_async_auth(api_host, api_token))
    return 0


if __name__ == "__main__":
    code = main(sys.argv[1:])
    sys.stdout.flush()
    sys.stderr.flush()
    # Abandoned scenario threads (time-outs) must not keep the process alive.
    os._exit(code)
