# GENERATED from tests/parity/_async/ours.py by scripts/unasync.py. Do not edit: edit the source.
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

Scenario = Callable[[lms.Client], Any]  # a coroutine function (a plain one when sync)
SCENARIOS: dict[str, Scenario] = {}


def scenario(fn: Scenario) -> Scenario:
    SCENARIOS[fn.__name__] = fn
    return fn


def run(name: str, url: str, api_token: str | None = None) -> None:
    """Run scenario ``name`` with a fresh client of ``url``, then close the client."""
    with lms.Client(url, api_token=api_token, timeout=15) as client:
        SCENARIOS[name](client)


# -- system ---------------------------------------------------------------------------------------


@scenario
def version(client: lms.Client) -> None:
    client.system.get_lmstudio_version()


@scenario
def list_downloaded(client: lms.Client) -> None:
    client.system.list_downloaded_models()


@scenario
def list_downloaded_llm(client: lms.Client) -> None:
    client.system.list_downloaded_models("llm")


@scenario
def list_downloaded_embedding(client: lms.Client) -> None:
    client.system.list_downloaded_models("embedding")


@scenario
def system_info(client: lms.Client) -> None:
    client.system.get_info()


@scenario
def list_variants(client: lms.Client) -> None:
    client.system.list_downloaded_model_variants(LLM)


@scenario
def notify(client: lms.Client) -> None:
    client.system.notify("Parity", description="done", no_auto_dismiss=True)


@scenario
def experiment_flags(client: lms.Client) -> None:
    client.system.set_experiment_flag("parity-flag", True)
    client.system.get_experiment_flags()


@scenario
def error_http_server(client: lms.Client) -> None:
    with pytest.raises(lms.NotSupportedByServerError):
        client.system.start_http_server(port=41999, cors=True)
    with pytest.raises(lms.NotSupportedByServerError):
        client.system.stop_http_server()


# -- runtime --------------------------------------------------------------------------------------


@scenario
def runtime_engines(client: lms.Client) -> None:
    client.runtime.list_engines()
    client.runtime.get_engine_selections()


@scenario
def select_engine(client: lms.Client) -> None:
    [engine, *_] = client.runtime.list_engines()
    client.runtime.select_engine(
        lms.EngineSpecifier(name=engine.name, version=engine.version), "GGUF"
    )


@scenario
def survey_hardware(client: lms.Client) -> None:
    client.runtime.survey_hardware()


@scenario
def survey_hardware_all(client: lms.Client) -> None:
    client.runtime.survey_hardware("all")


# -- diagnostics ----------------------------------------------------------------------------------


@scenario
def stream_logs(client: lms.Client) -> None:
    stream = client.diagnostics.stream_logs()
    stream.close()


@scenario
def auth_api_token(client: lms.Client) -> None:
    # Run against a server that requires the API token the client was given.
    client.llm.list_loaded()
    client.system.list_downloaded_models()


# -- model management -----------------------------------------------------------------------------


@scenario
def list_loaded(client: lms.Client) -> None:
    client.llm.list_loaded()


@scenario
def list_loaded_embedding(client: lms.Client) -> None:
    client.embedding.list_loaded()


@scenario
def get_or_load(client: lms.Client) -> None:
    client.llm.model(LLM)


@scenario
def get_or_load_without_ttl(client: lms.Client) -> None:
    client.llm.model(LLM, ttl=None)  # what the TypeScript SDK does by default


@scenario
def get_or_load_with_config(client: lms.Client) -> None:
    client.llm.model(LLM, ttl=120, config={"context_length": 1024})


@scenario
def any_loaded(client: lms.Client) -> None:
    client.llm.model(LLM)
    client.llm.model()


@scenario
def load_with_config_and_progress(client: lms.Client) -> None:
    progress: list[float] = []
    client.llm.load(
        LLM,
        identifier="parity-load",
        ttl=300,
        config={"context_length": 2048, "eval_batch_size": 256, "flash_attention": True, "seed": 7},
        on_progress=progress.append,
    )
    assert progress, "no load progress"


@scenario
def load_embedding(client: lms.Client) -> None:
    client.embedding.load(EMBEDDING, config={"context_length": 256})


@scenario
def unload_by_identifier(client: lms.Client) -> None:
    client.llm.load(LLM, identifier="parity-unload")
    client.llm.unload("parity-unload")


@scenario
def unload_handle(client: lms.Client) -> None:
    model = client.llm.load(LLM, identifier="parity-unload")
    model.unload()


@scenario
def dynamic_handle(client: lms.Client) -> None:
    client.llm.load(LLM, identifier="parity-dynamic")
    handle = client.llm.handle("parity-dynamic")
    handle.respond("hello parity")
    handle.count_tokens("hello parity")


@scenario
def embedding_model_info(client: lms.Client) -> None:
    (client.embedding.model(EMBEDDING)).get_info()


@scenario
def embedding_load_config(client: lms.Client) -> None:
    (client.embedding.model(EMBEDDING)).get_load_config()


@scenario
def embedding_context_length(client: lms.Client) -> None:
    (client.embedding.model(EMBEDDING)).get_context_length()


@scenario
def embedding_unload_handle(client: lms.Client) -> None:
    model = client.embedding.load(EMBEDDING, identifier="parity-unload")
    model.unload()


@scenario
def model_info(client: lms.Client) -> None:
    model = client.llm.model(LLM)
    model.get_info()


@scenario
def load_config(client: lms.Client) -> None:
    model = client.llm.model(LLM)
    model.get_load_config()


@scenario
def context_length(client: lms.Client) -> None:
    model = client.llm.model(LLM)
    model.get_context_length()


# -- model helpers, full queries, LM Link devices (issue 11 item 6) -------------------------------


@scenario
def processing_state(client: lms.Client) -> None:
    model = client.llm.model(LLM)
    model.get_processing_state()


@scenario
def embedding_processing_state(client: lms.Client) -> None:
    (client.embedding.model(EMBEDDING)).get_processing_state()


@scenario
def base_prediction_config(client: lms.Client) -> None:
    model = client.llm.model(LLM)
    model.get_base_prediction_config()


@scenario
def estimate_usage(client: lms.Client) -> None:
    client.llm.estimate_resources_usage(LLM, {"context_length": 1024})


@scenario
def estimate_usage_embedding(client: lms.Client) -> None:
    client.embedding.estimate_resources_usage(
        EMBEDDING, {"context_length": 256}, device_identifier=None
    )


@scenario
def model_query(client: lms.Client) -> None:
    client.llm.load(VISION, identifier="parity-eyes")
    handle = client.llm.handle(
        lms.ModelQuery(path="lmstudio-sdk/scripted-vision-1b-GGUF", vision=True)
    )
    handle.count_tokens("hello parity")


@scenario
def local_device(client: lms.Client) -> None:
    client.llm.load(LLM, identifier="parity-local", device_identifier=None)
    client.llm.unload("parity-local", device_identifier=None)


# -- predictions ----------------------------------------------------------------------------------


@scenario
def respond(client: lms.Client) -> None:
    model = client.llm.model(LLM)
    model.respond("hello parity")


@scenario
def respond_stream(client: lms.Client) -> None:
    model = client.llm.model(LLM)
    stream = model.respond_stream([{"role": "user", "content": "hello parity"}])
    for _fragment in stream:
        pass
    stream.result()


@scenario
def respond_history(client: lms.Client) -> None:
    model = client.llm.model(LLM)
    model.respond(
        [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "first"},
            {"role": "assistant", "content": "You said: first"},
            {"role": "user", "content": "second"},
        ]
    )


@scenario
def respond_sampling(client: lms.Client) -> None:
    model = client.llm.model(LLM)
    model.respond("hello parity", config=SAMPLING)


@scenario
def respond_stop_strings(client: lms.Client) -> None:
    model = client.llm.model(LLM)
    model.respond("hello parity", config={"stop_strings": ["parity"], "max_tokens": False})


@scenario
def respond_structured(client: lms.Client) -> None:
    model = client.llm.model(LLM)
    model.respond(
        '{"city": "Paris"}', config={"structured": {"type": "json", "jsonSchema": JSON_SCHEMA}}
    )


@scenario
def respond_tools(client: lms.Client) -> None:
    model = client.llm.model(LLM)
    model.respond(
        '!tool get_weather {"city": "Paris"}',
        config={"raw_tools": {"type": "toolArray", "tools": [WEATHER_TOOL]}},
    )


@scenario
def respond_image(client: lms.Client) -> None:
    image = client.files.prepare_image(PNG, name="pixel.png")
    model = client.llm.model(VISION)
    model.respond([{"role": "user", "content": "Describe this image.", "images": [image]}])


@scenario
def respond_file(client: lms.Client) -> None:
    file = client.files.prepare_file(TEXT, name="notes.txt")
    model = client.llm.model(LLM)
    # The order the TypeScript SDK sends (its chat input takes files only under `images`).
    model.respond([{"role": "user", "content": [file, "Summarise the file."]}])


@scenario
def parse_document(client: lms.Client) -> None:
    file = client.files.prepare_file(TEXT, name="notes.txt")
    client.files.get_document_parsing_library(file)
    client.files.parse_document(file)


@scenario
def retrieve(client: lms.Client) -> None:
    embedding = client.embedding.model(EMBEDDING)
    bread = client.files.prepare_file(BREAD, name="bread.txt")
    planets = client.files.prepare_file(PLANETS, name="planets.txt")
    client.files.retrieve(
        "When is the bread baked?",
        [bread, planets],
        embedding_model=embedding,
        limit=2,
        chunk_size=24,
        chunk_overlap=4,
    )


@scenario
def respond_reasoning(client: lms.Client) -> None:
    model = client.llm.model(LLM)
    model.respond(
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
def complete(client: lms.Client) -> None:
    model = client.llm.model(LLM)
    model.complete("Once upon a time", config={"max_tokens": 5})


@scenario
def cancel(client: lms.Client) -> None:
    model = client.llm.model(LLM)
    stream = model.respond_stream("!long 200")
    fragments = 0
    for _fragment in stream:
        fragments += 1
        if fragments == 3:
            stream.cancel()
    result = stream.result()
    assert result.stats.stop_reason == "userStopped"


# -- tokens and templates -------------------------------------------------------------------------


@scenario
def tokenize(client: lms.Client) -> None:
    model = client.llm.model(LLM)
    model.tokenize("hello parity world")


@scenario
def tokenize_list(client: lms.Client) -> None:
    model = client.llm.model(LLM)
    model.tokenize(["hello", "parity world"])


@scenario
def count_tokens(client: lms.Client) -> None:
    model = client.llm.model(LLM)
    model.count_tokens("hello parity world")


@scenario
def apply_prompt_template(client: lms.Client) -> None:
    model = client.llm.model(LLM)
    model.apply_prompt_template(
        [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "template me"}]
    )


# -- embeddings -----------------------------------------------------------------------------------


@scenario
def embed_one(client: lms.Client) -> None:
    model = client.embedding.model(EMBEDDING)
    model.embed("hello parity")


@scenario
def embed_list(client: lms.Client) -> None:
    model = client.embedding.model(EMBEDDING)
    model.embed(["first", "second", "third"])


@scenario
def embedding_tokens(client: lms.Client) -> None:
    model = client.embedding.model(EMBEDDING)
    model.tokenize("hello parity")
    model.count_tokens("hello parity")


# -- errors ---------------------------------------------------------------------------------------


@scenario
def error_unknown_model(client: lms.Client) -> None:
    with pytest.raises(lms.ModelNotFoundError):
        client.llm.model("no-such-model")


@scenario
def error_prediction(client: lms.Client) -> None:
    model = client.llm.model(LLM)
    with pytest.raises(lms.LMStudioServerError):
        model.respond("!error")


@scenario
def error_unload_unknown(client: lms.Client) -> None:
    with pytest.raises(lms.LMStudioError):
        client.llm.unload("no-such-instance")
