"""Parity scenarios, our SDK's side: the same user actions as ``tests/parity/scenarios.mjs``
(official @lmstudio/sdk 2.0), one function per scenario, with the same names.

Written once for the async face; ``scripts/unasync.py`` generates the sync twin
(``tests/parity/_sync/ours.py``). Each function gets a fresh client connected to a server
that records its traffic; the parity test compares that traffic with the TypeScript client's.
A scenario that expects an error checks for it itself.
"""

from __future__ import annotations

import base64
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, NotRequired, TypedDict, cast

import pytest

import lmstudio_sdk as lms

LLM = "scripted-echo-1b"
VISION = "scripted-vision-1b"
EMBEDDING = "scripted-embed-small"
PLUGIN = "tests/faulty"  # the test plugin the plugin scenarios run against (spec.py)

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

# Every load option both SDKs map (the speculative-decoding ones are their helper's scenarios).
EVERY_LOAD_OPTION: lms.LlmLoadConfigDict = {
    "auto_fit": False,
    "gpu": {
        "ratio": 0.5,
        "num_cpu_expert_layers_ratio": 0.25,
        "main_gpu": 0,
        "split_strategy": "favorMainGpu",
        "disabled_gpus": [1],
    },
    "gpu_strict_vram_cap": True,
    "max_parallel_predictions": 2,
    "use_unified_kv_cache": False,
    "offload_kv_cache_to_gpu": False,
    "context_length": 2048,
    "prompt_template": {"type": "jinja", "jinjaPromptTemplate": {"template": "{{ messages }}"}},
    "rope_frequency_base": 10000,
    "rope_frequency_scale": False,
    "eval_batch_size": 128,
    "physical_batch_size": 64,
    "flash_attention": True,
    "context_checkpoints": 3,
    "reasoning_budget_message": "Enough thinking.",
    "keep_model_in_memory": True,
    "seed": 42,
    "try_mmap": False,
    "try_direct_io": True,
    "llama_cpp_arguments_override": {
        "enabled": True,
        "disabledParameters": ["--no-warmup"],
        "overrideParameters": [{"key": "--threads", "value": "2"}],
        "excludeAllConfig": False,
    },
    "num_experts": 2,
    "llama_k_cache_quantization_type": "q8_0",
    "llama_v_cache_quantization_type": False,
    "mlx_disk_cache": True,
    "mlx_kv_cache_quantization": {
        "enabled": True,
        "bits": 4,
        "groupSize": 64,
        "quantizedStart": 512,
    },
}
EVERY_EMBEDDING_LOAD_OPTION: lms.EmbeddingLoadConfigDict = {
    "gpu": {"ratio": 1, "main_gpu": 0, "split_strategy": "evenly", "disabled_gpus": []},
    "context_length": 512,
    "rope_frequency_base": False,
    "rope_frequency_scale": 2,
    "keep_model_in_memory": False,
    "try_mmap": True,
}
EVERY_PREDICTION_OPTION: lms.LlmPredictionConfigDict = {
    "max_tokens": 30,
    "reasoning_budget": 100,
    "temperature": 0.3,
    "stop_strings": ["\n\n"],
    "tool_call_stop_strings": ["</tool>"],
    "context_overflow_policy": "rollingWindow",
    "tool_choice": {"type": "generic", "mode": "none"},
    "tool_naming": "snakeCase",
    "top_k_sampling": 20,
    "repeat_penalty": False,
    "presence_penalty": 0.1,
    "min_p_sampling": False,
    "top_p_sampling": 0.95,
    "xtc_probability": 0.2,
    "xtc_threshold": 0.1,
    "log_probs": 3,
    "cpu_threads": 2,
    "enable_thinking": False,
    "prompt_template": {
        "type": "manual",
        "manualPromptTemplate": {
            "beforeSystem": "<s>",
            "afterSystem": "</s>",
            "beforeUser": "<u>",
            "afterUser": "</u>",
            "beforeAssistant": "<a>",
            "afterAssistant": "</a>",
        },
        "stopStrings": ["</a>"],
    },
    "user_max_image_dimension_pixels": 512,
    "ignore_model_preferred_max_image_dimension": True,
}
# A raw completion takes no tools nor a reasoning budget (both SDKs refuse them there).
EVERY_COMPLETION_OPTION = cast(
    lms.LlmPredictionConfigDict,
    {
        k: v
        for k, v in EVERY_PREDICTION_OPTION.items()
        if k not in ("tool_choice", "reasoning_budget")
    },
)
WEATHER_CALL = '!tool get_weather {"city": "Paris"}'


def weather_tool() -> lms.Tool[..., Any]:
    return lms.tool_from_schema(
        "get_weather", "The weather in a city", JSON_SCHEMA, lambda city: f"Sunny in {city}"
    )


def time_tool() -> lms.Tool[..., Any]:
    return lms.tool_from_schema(
        "get_time", "The time in a city", JSON_SCHEMA, lambda city: {"city": city, "time": "12:00"}
    )


def failing_tool() -> lms.Tool[..., Any]:
    def fail(city: str) -> str:
        raise RuntimeError("the weather service is down")

    return lms.tool_from_schema("get_weather", "The weather in a city", JSON_SCHEMA, fail)


class _Stop(Exception):
    """Raised by a callback to leave a load or download early."""


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
async def error_request_shutdown(client: lms.AsyncClient) -> None:
    with pytest.raises(lms.PermissionDeniedError):
        await client.system.request_shutdown()


@scenario
async def when_disconnected(client: lms.AsyncClient) -> None:
    # Subscribe, then leave (closing the client ends the wait).
    with pytest.raises(lms.LMStudioTimeoutError):
        await client.system.when_disconnected(timeout=0.2)
    await client.system.get_lmstudio_version()


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
async def load_every_option(client: lms.AsyncClient) -> None:
    await client.llm.load(LLM, config=EVERY_LOAD_OPTION)


@scenario
async def load_embedding_every_option(client: lms.AsyncClient) -> None:
    await client.embedding.load(EMBEDDING, config=EVERY_EMBEDDING_LOAD_OPTION)


@scenario
async def load_cancel(client: lms.AsyncClient) -> None:
    def stop(_progress: float) -> None:
        raise _Stop

    with pytest.raises(_Stop):
        await client.llm.load(LLM, on_progress=stop)
    await client.llm.list_loaded()


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
async def dynamic_handle_path(client: lms.AsyncClient) -> None:
    model = await client.llm.load(LLM)
    assert model.info is not None  # a loaded model's handle knows its info
    await client.llm.handle(path=model.info.path).count_tokens("hello parity")


@scenario
async def dynamic_handle(client: lms.AsyncClient) -> None:
    await client.llm.load(LLM, identifier="parity-dynamic")
    handle = client.llm.handle("parity-dynamic")
    await handle.respond("hello parity")
    await handle.count_tokens("hello parity")


@scenario
async def embedding_any_loaded(client: lms.AsyncClient) -> None:
    await client.embedding.model(EMBEDDING)
    await client.embedding.model()


@scenario
async def embedding_unload_by_identifier(client: lms.AsyncClient) -> None:
    await client.embedding.load(EMBEDDING, identifier="parity-unload")
    await client.embedding.unload("parity-unload")


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
async def respond_every_option(client: lms.AsyncClient) -> None:
    model = await client.llm.model(LLM)
    await model.respond("hello parity", config=EVERY_PREDICTION_OPTION)


@scenario
async def complete_every_option(client: lms.AsyncClient) -> None:
    model = await client.llm.model(LLM)
    await model.complete("Once upon a time", config=EVERY_COMPLETION_OPTION)


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


class City(TypedDict):
    city: str
    population: NotRequired[int]


@scenario
async def respond_structured_typed(client: lms.AsyncClient) -> None:
    model = await client.llm.model(LLM)
    await model.respond('!say {"city": "Paris"}', response_format=City)


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
async def prepare_file_path(client: lms.AsyncClient) -> None:
    with tempfile.TemporaryDirectory(prefix="parity-") as folder:
        (Path(folder) / "notes.txt").write_bytes(TEXT)
        (Path(folder) / "pixel.png").write_bytes(PNG)
        await client.files.prepare_file(Path(folder) / "notes.txt")
        await client.files.prepare_image(str(Path(folder) / "pixel.png"))


@scenario
async def file_path(client: lms.AsyncClient) -> None:
    file = await client.files.prepare_file(TEXT, name="notes.txt")
    await client.files.get_local_file_absolute_path(file)


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


# -- act() ---------------------------------------------------------------------------------------


@scenario
async def act_no_tool_call(client: lms.AsyncClient) -> None:
    model = await client.llm.model(LLM)
    await model.act("hello parity", [weather_tool()])


@scenario
async def act_without_tools(client: lms.AsyncClient) -> None:
    model = await client.llm.model(LLM)
    with pytest.raises(lms.LMStudioValueError):
        await model.act("hello parity", [])


@scenario
async def act_tool_round(client: lms.AsyncClient) -> None:
    model = await client.llm.model(LLM)
    result = await model.act(WEATHER_CALL, [weather_tool()])
    assert result.rounds == 2, result


@scenario
async def act_several_tools(client: lms.AsyncClient) -> None:
    model = await client.llm.model(LLM)
    two_calls = f'{WEATHER_CALL}\n!tool get_time {{"city": "Paris"}}'
    await model.act(two_calls, [weather_tool(), time_tool()])


def add(a: int, b: int) -> int:
    """Add two numbers"""
    return a + b


@scenario
async def act_typed_tool(client: lms.AsyncClient) -> None:
    model = await client.llm.model(LLM)
    await model.act('!tool add {"a": 2, "b": 3}', [add])


@scenario
async def act_history_and_config(client: lms.AsyncClient) -> None:
    model = await client.llm.model(LLM)
    await model.act(
        [
            {"role": "system", "content": "Use tools."},
            {"role": "user", "content": WEATHER_CALL},
        ],
        [weather_tool()],
        config={"temperature": 0.2, "max_tokens": 50},
    )


@scenario
async def act_max_rounds(client: lms.AsyncClient) -> None:
    model = await client.llm.model(LLM)
    await model.act(WEATHER_CALL, [weather_tool()], max_prediction_rounds=1)


@scenario
async def act_tool_error(client: lms.AsyncClient) -> None:
    model = await client.llm.model(LLM)
    await model.act(WEATHER_CALL, [failing_tool()])  # the model is told (on_tool_error="report")


@scenario
async def act_tool_error_raise(client: lms.AsyncClient) -> None:
    model = await client.llm.model(LLM)
    with pytest.raises(lms.ToolCallFailedError):
        await model.act(WEATHER_CALL, [failing_tool()], on_tool_error="raise")


@scenario
async def act_guard_deny(client: lms.AsyncClient) -> None:
    model = await client.llm.model(LLM)
    await model.act(
        WEATHER_CALL,
        [weather_tool()],
        guard_tool_call=lambda _round, _request: lms.GuardDecision.deny("not today"),
    )


@scenario
async def act_guard_override(client: lms.AsyncClient) -> None:
    model = await client.llm.model(LLM)
    await model.act(
        WEATHER_CALL,
        [weather_tool()],
        guard_tool_call=lambda _round, _request: lms.GuardDecision.allow_with({"city": "Lyon"}),
    )


@scenario
async def act_unknown_tool(client: lms.AsyncClient) -> None:
    model = await client.llm.model(LLM)
    with pytest.raises(lms.InvalidToolRequestError):
        await model.act(f'!tool no_such_tool {{"city": "Paris"}}\n{WEATHER_CALL}', [weather_tool()])


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


# -- repository (the server has a catalogue: tests/repository/catalog_kit.py) ---------------------


@scenario
async def search_models(client: lms.AsyncClient) -> None:
    await client.repository.search_models("tiny", limit=5, compatibility=["gguf"])


@scenario
async def search_models_all(client: lms.AsyncClient) -> None:
    await client.repository.search_models()


@scenario
async def download_options(client: lms.AsyncClient) -> None:
    [entry, *_] = await client.repository.search_models("Tiny-Chat-GGUF")
    await entry.get_download_options()


@scenario
async def download(client: lms.AsyncClient) -> None:
    [entry, *_] = await client.repository.search_models("Tiny-Chat-GGUF")
    options = await entry.get_download_options()
    option = next(o for o in options if o.quantization == "Q4_K_M")
    progress: list[object] = []
    finalizing: list[bool] = []
    key = await option.download(
        on_progress=progress.append, on_start_finalizing=lambda: finalizing.append(True)
    )
    assert key and progress and finalizing
    await client.system.list_downloaded_models()


@scenario
async def download_cancel(client: lms.AsyncClient) -> None:
    [entry, *_] = await client.repository.search_models("Big-Llama-GGUF")
    [option, *_] = await entry.get_download_options()

    def stop(_update: object) -> None:
        raise _Stop

    with pytest.raises(_Stop):
        await option.download(on_progress=stop)
    await client.system.list_downloaded_models()


@scenario
async def lm_link_status(client: lms.AsyncClient) -> None:
    await client.repository.lm_link_status()


@scenario
async def error_lm_link(client: lms.AsyncClient) -> None:
    with pytest.raises(lms.LMStudioServerError):
        await client.repository.lm_link_set_disabled(True)
    with pytest.raises(lms.LMStudioServerError):
        await client.repository.lm_link_update_device_name("parity")
    with pytest.raises(lms.LMStudioServerError):
        await client.repository.lm_link_set_preferred_device("parity-device")


@scenario
async def error_search_limit(client: lms.AsyncClient) -> None:
    with pytest.raises(lms.LMStudioValueError):
        await client.repository.search_models("tiny", limit=1000)


# -- plugins (the server hosts the test plugin PLUGIN) --------------------------------------------


@scenario
async def generator_respond(client: lms.AsyncClient) -> None:
    await client.plugins.generator(PLUGIN).respond("make it loud")


@scenario
async def generator_stream(client: lms.AsyncClient) -> None:
    stream = client.plugins.generator(PLUGIN).respond_stream(
        [{"role": "user", "content": "make it loud"}]
    )
    async for _fragment in stream:
        pass
    await stream.result()


@scenario
async def generator_error(client: lms.AsyncClient) -> None:
    with pytest.raises(lms.LMStudioServerError):
        await client.plugins.generator(PLUGIN).respond("raise")


@scenario
async def generator_act(client: lms.AsyncClient) -> None:
    # The test generator calls the first tool it is offered ({"a": 1}) after its words; the
    # second round offers none, so it only answers.
    half = lms.tool_from_schema(
        "half",
        "Half a number",
        {"type": "object", "properties": {"a": {"type": "number"}}, "required": ["a"]},
        lambda a: a / 2,
    )
    generator = client.plugins.generator(PLUGIN)
    result = await generator.act("make it loud", [half], max_prediction_rounds=2)
    assert result.rounds == 2, result


@scenario
async def generator_cancel(client: lms.AsyncClient) -> None:
    # Cancelled when it outlasts its timeout (the sync face has no task to cancel from).
    stream = client.plugins.generator(PLUGIN).respond_stream("hang", timeout=0.2)
    with pytest.raises(lms.LMStudioTimeoutError):
        await stream.result()


@scenario
async def plugin_tools_config(client: lms.AsyncClient) -> None:
    session = client.plugins.plugin_tools(PLUGIN, config={"count": 5}, working_directory="/tmp")
    async with session:
        pass


@scenario
async def plugin_tools(client: lms.AsyncClient) -> None:
    async with client.plugins.plugin_tools(PLUGIN) as session:
        assert await session.call("add", {"a": 2, "b": 3}) == 5


@scenario
async def plugin_tools_act(client: lms.AsyncClient) -> None:
    async with client.plugins.plugin_tools(PLUGIN) as session:
        model = await client.llm.model(LLM, ttl=None)
        await model.act('!tool add {"a": 2, "b": 3}', session.tools)


@scenario
async def preprocessed_prediction(client: lms.AsyncClient) -> None:
    model = await client.llm.model(LLM)
    plugins = lms.plugins_field([(PLUGIN, {"count": 3, "loud": True})])
    await model.respond("hello parity", config={"raw": plugins})


# -- errors ---------------------------------------------------------------------------------------


@scenario
async def error_unknown_model(client: lms.AsyncClient) -> None:
    with pytest.raises(lms.ModelNotFoundError):
        await client.llm.model("no-such-model")


@scenario
async def error_unknown_preset(client: lms.AsyncClient) -> None:
    model = await client.llm.model(LLM)
    with pytest.raises(lms.LMStudioServerError):
        await model.respond("hello parity", preset="parity-preset", config={"temperature": 0.1})


@scenario
async def error_prediction(client: lms.AsyncClient) -> None:
    model = await client.llm.model(LLM)
    with pytest.raises(lms.LMStudioServerError):
        await model.respond("!error")


@scenario
async def error_draft_model(client: lms.AsyncClient) -> None:
    model = await client.llm.model(LLM)
    with pytest.raises(lms.UnsupportedFeatureError):
        await model.respond(
            "hello parity",
            config={
                "draft_model": LLM,
                "speculative_decoding_min_draft_length_to_consider": 2,
                "speculative_decoding_min_continue_drafting_probability": 0.5,
            },
        )


@scenario
async def error_preload_draft_model(client: lms.AsyncClient) -> None:
    model = await client.llm.model(LLM)
    with pytest.raises(lms.UnsupportedFeatureError):
        await model.preload_draft_model(LLM)


@scenario
async def error_complete_tools(client: lms.AsyncClient) -> None:
    model = await client.llm.model(LLM)
    with pytest.raises(lms.LMStudioValueError):
        await model.complete("Once", config={"tool_choice": "required"})
    with pytest.raises(lms.LMStudioValueError):
        await model.complete("Once", config={"reasoning_budget": 100})


@scenario
async def error_unload_unknown(client: lms.AsyncClient) -> None:
    with pytest.raises(lms.LMStudioError):
        await client.llm.unload("no-such-instance")


@scenario
async def error_load_unknown(client: lms.AsyncClient) -> None:
    with pytest.raises(lms.ModelNotFoundError):
        await client.llm.load("no-such-model")
    with pytest.raises(lms.ModelNotFoundError):
        await client.embedding.load("no-such-embedding")


@scenario
async def error_bad_config(client: lms.AsyncClient) -> None:
    with pytest.raises(lms.LMStudioError):
        await client.llm.load(LLM, config={"context_length": -5})


@scenario
async def error_wrong_domain(client: lms.AsyncClient) -> None:
    with pytest.raises(lms.LMStudioError):
        await client.embedding.model(LLM)
