"""Parity scenarios, our SDK's side: the same user actions as ``tests/parity/scenarios.mjs``
(official @lmstudio/sdk 2.0), one function per scenario, with the same names.

Written once for the async face; ``scripts/unasync.py`` generates the sync twin
(``tests/parity/_sync/ours.py``). Each function gets a fresh client connected to a server
that records its traffic; the parity test compares that traffic with the TypeScript client's.
A scenario that expects an error checks for it itself.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

import pytest

import lmstudio_sdk as lms

LLM = "scripted-echo-1b"
VISION = "scripted-vision-1b"
EMBEDDING = "scripted-embed-small"

# A 1x1 PNG (the same bytes as PNG_BASE64 in scenarios.mjs).
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR4nGP4z8AAAAMBAQDJ/pLvAAAAAElFTkSuQmCC"
)
TEXT = b"parity notes\n"
# The retrieve scenario's documents (BREAD_BASE64 and PLANETS_BASE64 in scenarios.mjs).
BREAD = b"Knead the dough.\n\nBake the bread in a hot oven for thirty minutes.\n"
PLANETS = b"Saturn has rings.\n\nJupiter has many moons and a great red spot.\n"

SAMPLING: lms.LlmPredictionConfigDict = {
    "temperature": 0.5,
    "max_tokens": 20,
    "top_k_sampling": 40,
    "top_p_sampling": 0.9,
    "min_p_sampling": 0.05,
    "repeat_penalty": 1.1,
}
JSON_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"city": {"type": "string"}},
    "required": ["city"],
}
WEATHER_TOOL: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather in a city",
        "parameters": JSON_SCHEMA,
    },
}

Scenario = Callable[[lms.AsyncClient], Any]  # a coroutine function (a plain one when sync)
SCENARIOS: dict[str, Scenario] = {}


def scenario(fn: Scenario) -> Scenario:
    SCENARIOS[fn.__name__] = fn
    return fn


async def run(name: str, url: str, api_token: str | None = None) -> None:
    """Run scenario ``name`` with a fresh client of ``url``, then close the client."""
    async with lms.AsyncClient(url, api_token=api_token, timeout=15) as client:
        await SCENARIOS[name](client)


# -- system ---------------------------------------------------------------------------------------


@scenario
async def version(client: lms.AsyncClient) -> None:
    await client.system.get_lmstudio_version()


@scenario
async def list_downloaded(client: lms.AsyncClient) -> None:
    await client.system.list_downloaded_models()


@scenario
async def list_downloaded_llm(client: lms.AsyncClient) -> None:
    await client.system.list_downloaded_models("llm")


@scenario
async def list_downloaded_embedding(client: lms.AsyncClient) -> None:
    await client.system.list_downloaded_models("embedding")


@scenario
async def system_info(client: lms.AsyncClient) -> None:
    await client.system.get_info()


@scenario
async def list_variants(client: lms.AsyncClient) -> None:
    await client.system.list_downloaded_model_variants(LLM)


@scenario
async def notify(client: lms.AsyncClient) -> None:
    await client.system.notify("Parity", description="done", no_auto_dismiss=True)


@scenario
async def experiment_flags(client: lms.AsyncClient) -> None:
    await client.system.set_experiment_flag("parity-flag", True)
    await client.system.get_experiment_flags()


@scenario
async def error_http_server(client: lms.AsyncClient) -> None:
    with pytest.raises(lms.NotSupportedByServerError):
        await client.system.start_http_server(port=41999, cors=True)
    with pytest.raises(lms.NotSupportedByServerError):
        await client.system.stop_http_server()


# -- runtime --------------------------------------------------------------------------------------


@scenario
async def runtime_engines(client: lms.AsyncClient) -> None:
    await client.runtime.list_engines()
    await client.runtime.get_engine_selections()


@scenario
async def select_engine(client: lms.AsyncClient) -> None:
    [engine, *_] = await client.runtime.list_engines()
    await client.runtime.select_engine(
        lms.EngineSpecifier(name=engine.name, version=engine.version), "GGUF"
    )


@scenario
async def survey_hardware(client: lms.AsyncClient) -> None:
    await client.runtime.survey_hardware()


@scenario
async def survey_hardware_all(client: lms.AsyncClient) -> None:
    await client.runtime.survey_hardware("all")


# -- diagnostics ----------------------------------------------------------------------------------


@scenario
async def stream_logs(client: lms.AsyncClient) -> None:
    stream = await client.diagnostics.stream_logs()
    await stream.aclose()


@scenario
async def auth_api_token(client: lms.AsyncClient) -> None:
    # Run against a server that requires the API token the client was given.
    await client.llm.list_loaded()
    await client.system.list_downloaded_models()


# -- model management -----------------------------------------------------------------------------


@scenario
async def list_loaded(client: lms.AsyncClient) -> None:
    await client.llm.list_loaded()


@scenario
async def list_loaded_embedding(client: lms.AsyncClient) -> None:
    await client.embedding.list_loaded()


@scenario
async def get_or_load(client: lms.AsyncClient) -> None:
    await client.llm.model(LLM)


@scenario
async def get_or_load_without_ttl(client: lms.AsyncClient) -> None:
    await client.llm.model(LLM, ttl=None)  # what the TypeScript SDK does by default


@scenario
async def get_or_load_with_config(client: lms.AsyncClient) -> None:
    await client.llm.model(LLM, ttl=120, config={"context_length": 1024})


@scenario
async def any_loaded(client: lms.AsyncClient) -> None:
    await client.llm.model(LLM)
    await client.llm.model()


@scenario
async def load_with_config_and_progress(client: lms.AsyncClient) -> None:
    progress: list[float] = []
    await client.llm.load(
        LLM,
        identifier="parity-load",
        ttl=300,
        config={"context_length": 2048, "eval_batch_size": 256, "flash_attention": True, "seed": 7},
        on_progress=progress.append,
    )
    assert progress, "no load progress"


@scenario
async def load_embedding(client: lms.AsyncClient) -> None:
    await client.embedding.load(EMBEDDING, config={"context_length": 256})


@scenario
async def unload_by_identifier(client: lms.AsyncClient) -> None:
    await client.llm.load(LLM, identifier="parity-unload")
    await client.llm.unload("parity-unload")


@scenario
async def unload_handle(client: lms.AsyncClient) -> None:
    model = await client.llm.load(LLM, identifier="parity-unload")
    await model.unload()


@scenario
async def dynamic_handle(client: lms.AsyncClient) -> None:
    await client.llm.load(LLM, identifier="parity-dynamic")
    handle = client.llm.handle("parity-dynamic")
    await handle.respond("hello parity")
    await handle.count_tokens("hello parity")


@scenario
async def embedding_model_info(client: lms.AsyncClient) -> None:
    await (await client.embedding.model(EMBEDDING)).get_info()


@scenario
async def embedding_load_config(client: lms.AsyncClient) -> None:
    await (await client.embedding.model(EMBEDDING)).get_load_config()


@scenario
async def embedding_context_length(client: lms.AsyncClient) -> None:
    await (await client.embedding.model(EMBEDDING)).get_context_length()


@scenario
async def embedding_unload_handle(client: lms.AsyncClient) -> None:
    model = await client.embedding.load(EMBEDDING, identifier="parity-unload")
    await model.unload()


@scenario
async def model_info(client: lms.AsyncClient) -> None:
    model = await client.llm.model(LLM)
    await model.get_info()


@scenario
async def load_config(client: lms.AsyncClient) -> None:
    model = await client.llm.model(LLM)
    await model.get_load_config()


@scenario
async def context_length(client: lms.AsyncClient) -> None:
    model = await client.llm.model(LLM)
    await model.get_context_length()


# -- model helpers, full queries, LM Link devices (issue 11 item 6) -------------------------------


@scenario
async def processing_state(client: lms.AsyncClient) -> None:
    model = await client.llm.model(LLM)
    await model.get_processing_state()


@scenario
async def embedding_processing_state(client: lms.AsyncClient) -> None:
    await (await client.embedding.model(EMBEDDING)).get_processing_state()


@scenario
async def base_prediction_config(client: lms.AsyncClient) -> None:
    model = await client.llm.model(LLM)
    await model.get_base_prediction_config()


@scenario
async def estimate_usage(client: lms.AsyncClient) -> None:
    await client.llm.estimate_resources_usage(LLM, {"context_length": 1024})


@scenario
async def estimate_usage_embedding(client: lms.AsyncClient) -> None:
    await client.embedding.estimate_resources_usage(
        EMBEDDING, {"context_length": 256}, device_identifier=None
    )


@scenario
async def model_query(client: lms.AsyncClient) -> None:
    await client.llm.load(VISION, identifier="parity-eyes")
    handle = client.llm.handle(
        lms.ModelQuery(path="lmstudio-sdk/scripted-vision-1b-GGUF", vision=True)
    )
    await handle.count_tokens("hello parity")


@scenario
async def local_device(client: lms.AsyncClient) -> None:
    await client.llm.load(LLM, identifier="parity-local", device_identifier=None)
    await client.llm.unload("parity-local", device_identifier=None)


# -- predictions ----------------------------------------------------------------------------------


@scenario
async def respond(client: lms.AsyncClient) -> None:
    model = await client.llm.model(LLM)
    await model.respond("hello parity")


@scenario
async def respond_stream(client: lms.AsyncClient) -> None:
    model = await client.llm.model(LLM)
    stream = model.respond_stream([{"role": "user", "content": "hello parity"}])
    async for _fragment in stream:
        pass
    await stream.result()


@scenario
async def respond_history(client: lms.AsyncClient) -> None:
    model = await client.llm.model(LLM)
    await model.respond(
        [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "first"},
            {"role": "assistant", "content": "You said: first"},
            {"role": "user", "content": "second"},
        ]
    )


@scenario
async def respond_sampling(client: lms.AsyncClient) -> None:
    model = await client.llm.model(LLM)
    await model.respond("hello parity", config=SAMPLING)


@scenario
async def respond_stop_strings(client: lms.AsyncClient) -> None:
    model = await client.llm.model(LLM)
    await model.respond("hello parity", config={"stop_strings": ["parity"], "max_tokens": False})


@scenario
async def respond_structured(client: lms.AsyncClient) -> None:
    model = await client.llm.model(LLM)
    await model.respond(
        '{"city": "Paris"}', config={"structured": {"type": "json", "jsonSchema": JSON_SCHEMA}}
    )


@scenario
async def respond_tools(client: lms.AsyncClient) -> None:
    model = await client.llm.model(LLM)
    await model.respond(
        '!tool get_weather {"city": "Paris"}',
        config={"raw_tools": {"type": "toolArray", "tools": [WEATHER_TOOL]}},
    )


@scenario
async def respond_image(client: lms.AsyncClient) -> None:
    image = await client.files.prepare_image(PNG, name="pixel.png")
    model = await client.llm.model(VISION)
    await model.respond([{"role": "user", "content": "Describe this image.", "images": [image]}])


@scenario
async def respond_file(client: lms.AsyncClient) -> None:
    file = await client.files.prepare_file(TEXT, name="notes.txt")
    model = await client.llm.model(LLM)
    # The order the TypeScript SDK sends (its chat input takes files only under `images`).
    await model.respond([{"role": "user", "content": [file, "Summarise the file."]}])


@scenario
async def parse_document(client: lms.AsyncClient) -> None:
    file = await client.files.prepare_file(TEXT, name="notes.txt")
    await client.files.get_document_parsing_library(file)
    await client.files.parse_document(file)


@scenario
async def retrieve(client: lms.AsyncClient) -> None:
    embedding = await client.embedding.model(EMBEDDING)
    bread = await client.files.prepare_file(BREAD, name="bread.txt")
    planets = await client.files.prepare_file(PLANETS, name="planets.txt")
    await client.files.retrieve(
        "When is the bread baked?",
        [bread, planets],
        embedding_model=embedding,
        limit=2,
        chunk_size=24,
        chunk_overlap=4,
    )


@scenario
async def respond_reasoning(client: lms.AsyncClient) -> None:
    model = await client.llm.model(LLM)
    await model.respond(
        "!think about parity",
        config={
            "reasoning_parsing": {
                "enabled": True,
                "startString": "<think>",
                "endString": "</think>",
            }
        },
    )


@scenario
async def complete(client: lms.AsyncClient) -> None:
    model = await client.llm.model(LLM)
    await model.complete("Once upon a time", config={"max_tokens": 5})


@scenario
async def cancel(client: lms.AsyncClient) -> None:
    model = await client.llm.model(LLM)
    stream = model.respond_stream("!long 200")
    fragments = 0
    async for _fragment in stream:
        fragments += 1
        if fragments == 3:
            stream.cancel()
    result = await stream.result()
    assert result.stats.stop_reason == "userStopped"


# -- tokens and templates -------------------------------------------------------------------------


@scenario
async def tokenize(client: lms.AsyncClient) -> None:
    model = await client.llm.model(LLM)
    await model.tokenize("hello parity world")


@scenario
async def tokenize_list(client: lms.AsyncClient) -> None:
    model = await client.llm.model(LLM)
    await model.tokenize(["hello", "parity world"])


@scenario
async def count_tokens(client: lms.AsyncClient) -> None:
    model = await client.llm.model(LLM)
    await model.count_tokens("hello parity world")


@scenario
async def apply_prompt_template(client: lms.AsyncClient) -> None:
    model = await client.llm.model(LLM)
    await model.apply_prompt_template(
        [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "template me"}]
    )


# -- embeddings -----------------------------------------------------------------------------------


@scenario
async def embed_one(client: lms.AsyncClient) -> None:
    model = await client.embedding.model(EMBEDDING)
    await model.embed("hello parity")


@scenario
async def embed_list(client: lms.AsyncClient) -> None:
    model = await client.embedding.model(EMBEDDING)
    await model.embed(["first", "second", "third"])


@scenario
async def embedding_tokens(client: lms.AsyncClient) -> None:
    model = await client.embedding.model(EMBEDDING)
    await model.tokenize("hello parity")
    await model.count_tokens("hello parity")


# -- errors ---------------------------------------------------------------------------------------


@scenario
async def error_unknown_model(client: lms.AsyncClient) -> None:
    with pytest.raises(lms.ModelNotFoundError):
        await client.llm.model("no-such-model")


@scenario
async def error_prediction(client: lms.AsyncClient) -> None:
    model = await client.llm.model(LLM)
    with pytest.raises(lms.LMStudioServerError):
        await model.respond("!error")


@scenario
async def error_unload_unknown(client: lms.AsyncClient) -> None:
    with pytest.raises(lms.LMStudioError):
        await client.llm.unload("no-such-instance")
