"""The parity scenarios: what each one needs, and the differences it is allowed.

Every scenario is written twice, as the same user action: in ``scenarios.mjs`` on the official
TypeScript SDK (@lmstudio/sdk 2.0) and in ``_async/ours.py`` on ours (the sync twin is
generated). Both run against a fresh embedded server (scripted engine) that records its
traffic; ``test_parity.py`` compares the two recordings frame by frame.

A difference is either fixed in our SDK or listed here with its reason and an eraser
(``member_value``, ``drop_call``, ``combine``, ``unordered``, ``drop`` from ``traffic.py``, or
a function of your own) that removes exactly that difference, so the rest of the scenario is
still compared. Protocol-level bugs are never
listed: fix them. A listed difference that no longer occurs fails the test, so this table
cannot rot.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from .traffic import (
    Difference,
    Traffic,
    combine,
    drop_call,
    drop_channel,
    kv_field,
    member_value,
    schema_members,
)

API_TOKEN = "sk-lm-parityID:paritySecret12345678"
# The plugin of the plugin scenarios: a preprocessor, a generator and a tools provider.
PLUGIN_DIRECTORY = Path(__file__).resolve().parent.parent / "plugins" / "faulty"
PLUGIN = "tests/faulty"

# -- the deliberate differences, each with its reason ---------------------------------------------

# The kinds of deliberate difference, in the order docs/parity.md lists them.
PYTHON_DEFAULTS = "Other defaults"
TS_DROPS = "Settings the TypeScript SDK 2.0 drops"
FEWER_CALLS = "Fewer or other calls for the same answer"
SERVER_ERRORS = "The server's own errors"
NATIVE_SCHEMAS = "JSON schemas from each language's own types"
GROUPS = (PYTHON_DEFAULTS, TS_DROPS, FEWER_CALLS, SERVER_ERRORS, NATIVE_SCHEMAS)


def deliberate(group: str, difference: Difference) -> Difference:
    if group not in GROUPS:
        raise ValueError(f"unknown group {group!r}; one of {GROUPS}")
    return replace(difference, group=group)


def jit_ttl(namespace: str = "/llm") -> Difference:
    """``model(key)`` (getOrLoad) without ``ttl=``."""
    return deliberate(
        PYTHON_DEFAULTS,
        ttl_echoed(
            member_value(
                "model(key) sends loadTtlMs 3600000 (a JIT-loaded model is unloaded after an hour "
                "idle) when no ttl= is given, as the official Python SDK does; the TypeScript SDK "
                "sends none and leaves the model loaded forever. ttl=None sends none.",
                "ours",
                namespace,
                ("creationParameter", "loadTtlMs"),
                3600000,
                type="channelCreate",
                endpoint="getOrLoad",
            )
        ),
    )


def ttl_echoed(sent: Difference) -> Difference:
    """The server reports the TTL it was sent (``ttlMs`` of the instance info) in every frame
    about that instance: erased on both sides with the member it follows from."""

    def erase(ts: Traffic, ours: Traffic) -> None:
        sent.erase(ts, ours)
        for traffic in (ts, ours):
            for streams in traffic.streams.values():
                streams["s2c"] = [_without_ttl(frame) for frame in streams["s2c"]]

    return Difference(sent.reason, erase)


def _without_ttl(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_ttl(v) for k, v in value.items() if k != "ttlMs"}
    if isinstance(value, list):
        return [_without_ttl(v) for v in value]
    return value


LLM_TTL = (jit_ttl("/llm"),)
EMBEDDING_TTL = (jit_ttl("/embedding"),)


def get_info_throws(namespace: str) -> Difference:
    return deliberate(
        SERVER_ERRORS,
        combine(
            "handle.get_info() asks the server to throw (throwIfNotFound: true), as the official "
            "Python SDK does, so a gone instance is the server's ModelNotFoundError with its "
            "message; the TypeScript SDK asks for no error and raises one of its own on an empty "
            "answer.",
            member_value(
                "",
                "ours",
                namespace,
                ("parameter", "throwIfNotFound"),
                True,
                endpoint="getModelInfo",
            ),
            member_value(
                "",
                "ts",
                namespace,
                ("parameter", "throwIfNotFound"),
                False,
                endpoint="getModelInfo",
            ),
        ),
    )


def load_config_alone(namespace: str) -> Difference:
    return deliberate(
        FEWER_CALLS,
        drop_call(
            "get_load_config() is one getLoadConfig call; the TypeScript SDK also fetches the "
            "model's info (getModelInfo) that it does not need for the answer.",
            "ts",
            namespace,
            "getModelInfo",
        ),
    )


def context_from_info(namespace: str) -> Difference:
    return deliberate(
        FEWER_CALLS,
        combine(
            "get_context_length() reads the instance info's contextLength (getModelInfo); the "
            "TypeScript SDK 2.0 reads the load config's contextLength (getLoadConfig). Same value, "
            "one call each.",
            drop_call("", "ts", namespace, "getLoadConfig"),
            drop_call("", "ours", namespace, "getModelInfo"),
        ),
    )


def unload_pinned(namespace: str) -> Difference:
    return deliberate(
        FEWER_CALLS,
        combine(
            "a pinned handle's unload() sends unloadModel with the identifier it already knows; "
            "the TypeScript SDK first looks the instance up (getModelInfo) and adds "
            "deviceIdentifier: null.",
            drop_call("", "ts", namespace, "getModelInfo"),
            member_value(
                "", "ts", namespace, ("parameter", "deviceIdentifier"), None, endpoint="unloadModel"
            ),
        ),
    )


def tool_error_reported() -> Difference:
    return deliberate(
        PYTHON_DEFAULTS,
        drop_channel(
            "act() tells the model when a tool raises (on_tool_error='report', the default: the "
            "model can retry or explain) and predicts once more; both official SDKs fail act() "
            "with the tool's error. on_tool_error='raise' does what they do.",
            "ours",
            "/llm",
            "predict",
            1,
        ),
    )


def act_needs_tools() -> Difference:
    return deliberate(
        PYTHON_DEFAULTS,
        drop_channel(
            "act() with no tools is refused (LMStudioValueError: use respond()), as the official "
            "Python SDK refuses it; the TypeScript SDK runs one prediction with tools 'none'.",
            "ts",
            "/llm",
            "predict",
            0,
        ),
    )


def xtc_sent() -> Difference:
    return deliberate(
        TS_DROPS,
        combine(
            "xtc_probability and xtc_threshold are sent (llm.prediction.llama.xtcProbability, "
            "xtcThreshold); the TypeScript SDK 2.0 maps them in its conversion but its option "
            "schema lacks them, so they are dropped before they reach the server.",
            kv_field("", "ours", "/llm", "llm.prediction.llama.xtcProbability"),
            kv_field("", "ours", "/llm", "llm.prediction.llama.xtcThreshold"),
        ),
    )


def embedding_ratio_sent() -> Difference:
    return deliberate(
        TS_DROPS,
        kv_field(
            "an embedding load's gpu ratio is sent "
            "(embedding.load.llama.acceleration.offloadRatio), as the official Python SDK sends "
            "it; the TypeScript SDK 2.0's embedding conversion leaves it out.",
            "ours",
            "/embedding",
            "embedding.load.llama.acceleration.offloadRatio",
        ),
    )


def typed_schema() -> Difference:
    return deliberate(
        NATIVE_SCHEMAS,
        combine(
            "response_format=<a TypedDict, dataclass, msgspec Struct or pydantic model> sends "
            "the JSON schema the Python type gives (msgspec's or pydantic's: with the type's "
            "title), as the official Python SDK sends a pydantic model's; the TypeScript SDK "
            "converts its zod schema (zod-to-json-schema: $schema, additionalProperties: false).",
            schema_members("", "ours", "/llm", "title"),
            schema_members("", "ts", "/llm", "$schema", "additionalProperties"),
        ),
    )


@dataclass(frozen=True)
class ParityScenario:
    name: str
    differences: tuple[Difference, ...] = ()
    # Seconds per generated token of the scripted engine (a cancel needs a prediction that
    # lasts long enough to be cancelled).
    token_delay: float = 0.0
    # Seconds a load takes on the scripted engine (a load to cancel must last).
    load_delay: float = 0.0
    # Compare what the server sent back too. Off only where the server's frames depend on
    # timing (how many fragments go out before a cancel arrives).
    compare_server_frames: bool = True
    # Both clients present this API token to a server that requires it (None: guests).
    api_token: str | None = None
    # The server has a model catalogue (tests/repository/catalog_kit.py) and an empty models
    # folder of its own, for the repository scenarios.
    catalog: bool = False
    # The server hosts the test plugin (PLUGIN, from PLUGIN_DIRECTORY) before the client comes.
    plugin: bool = False


SCENARIOS: tuple[ParityScenario, ...] = (
    # system
    ParityScenario("version"),
    ParityScenario("list_downloaded"),
    ParityScenario("list_downloaded_llm"),
    ParityScenario("list_downloaded_embedding"),
    ParityScenario("system_info"),
    ParityScenario("list_variants"),
    ParityScenario("notify"),
    ParityScenario("experiment_flags"),
    ParityScenario("error_request_shutdown"),
    ParityScenario("when_disconnected"),
    ParityScenario("error_http_server"),
    ParityScenario("auth_api_token", api_token=API_TOKEN),
    # runtime
    ParityScenario("runtime_engines"),
    ParityScenario("select_engine"),
    ParityScenario("survey_hardware"),
    ParityScenario("survey_hardware_all"),
    # diagnostics
    # What the server logs meanwhile depends on how long each client stays subscribed.
    ParityScenario("stream_logs", compare_server_frames=False),
    # model management
    ParityScenario("list_loaded"),
    ParityScenario("list_loaded_embedding"),
    ParityScenario("get_or_load", LLM_TTL),
    ParityScenario("get_or_load_with_config"),
    ParityScenario("get_or_load_without_ttl"),
    ParityScenario("any_loaded", LLM_TTL),
    ParityScenario("load_with_config_and_progress"),
    ParityScenario("load_embedding"),
    ParityScenario("load_cancel", load_delay=2.0, compare_server_frames=False),
    ParityScenario("load_every_option"),
    ParityScenario("load_embedding_every_option", (embedding_ratio_sent(),)),
    ParityScenario("unload_by_identifier"),
    ParityScenario("unload_handle", (unload_pinned("/llm"),)),
    ParityScenario("dynamic_handle_path"),
    ParityScenario("dynamic_handle"),
    ParityScenario("embedding_any_loaded", EMBEDDING_TTL),
    ParityScenario("embedding_unload_by_identifier"),
    ParityScenario("embedding_model_info", (*EMBEDDING_TTL, get_info_throws("/embedding"))),
    ParityScenario("embedding_load_config", (*EMBEDDING_TTL, load_config_alone("/embedding"))),
    ParityScenario("embedding_context_length", (*EMBEDDING_TTL, context_from_info("/embedding"))),
    ParityScenario("embedding_unload_handle", (unload_pinned("/embedding"),)),
    ParityScenario("model_info", (*LLM_TTL, get_info_throws("/llm"))),
    ParityScenario("load_config", (*LLM_TTL, load_config_alone("/llm"))),
    ParityScenario("context_length", (*LLM_TTL, context_from_info("/llm"))),
    # model helpers, full queries, LM Link devices (issue 11 item 6)
    ParityScenario("processing_state", LLM_TTL),
    ParityScenario("embedding_processing_state", EMBEDDING_TTL),
    ParityScenario("base_prediction_config", LLM_TTL),
    ParityScenario("estimate_usage"),
    ParityScenario("estimate_usage_embedding"),
    ParityScenario("model_query"),
    ParityScenario("local_device"),
    # predictions
    ParityScenario("respond", LLM_TTL),
    ParityScenario("respond_stream", LLM_TTL),
    ParityScenario("respond_history", LLM_TTL),
    ParityScenario("respond_sampling", LLM_TTL),
    ParityScenario("respond_every_option", (*LLM_TTL, xtc_sent())),
    ParityScenario("complete_every_option", (*LLM_TTL, xtc_sent())),
    ParityScenario("respond_stop_strings", LLM_TTL),
    ParityScenario("respond_structured", LLM_TTL),
    ParityScenario("respond_structured_typed", (*LLM_TTL, typed_schema())),
    ParityScenario("respond_tools", LLM_TTL),
    ParityScenario("parse_document"),
    ParityScenario(
        "retrieve",
        (
            *EMBEDDING_TTL,
            deliberate(
                FEWER_CALLS,
                drop_call(
                    "retrieve(embedding_model=handle) names the model by the identifier a "
                    "pinned handle already holds; the TypeScript SDK asks the server for it "
                    "(getModelInfo) on every retrieval.",
                    "ts",
                    "/embedding",
                    "getModelInfo",
                ),
            ),
        ),
    ),
    ParityScenario("respond_image", LLM_TTL),
    ParityScenario("prepare_file_path"),
    ParityScenario("file_path"),
    ParityScenario("respond_file", LLM_TTL),
    ParityScenario("respond_reasoning", LLM_TTL),
    ParityScenario("complete", LLM_TTL),
    ParityScenario("cancel", LLM_TTL, token_delay=0.02, compare_server_frames=False),
    # act()
    ParityScenario("act_no_tool_call", LLM_TTL),
    ParityScenario("act_without_tools", (*LLM_TTL, act_needs_tools())),
    ParityScenario("act_tool_round", LLM_TTL),
    ParityScenario("act_several_tools", LLM_TTL),
    ParityScenario("act_typed_tool", LLM_TTL),
    ParityScenario("act_history_and_config", LLM_TTL),
    ParityScenario("act_max_rounds", LLM_TTL),
    ParityScenario("act_tool_error", (*LLM_TTL, tool_error_reported())),
    ParityScenario("act_tool_error_raise", LLM_TTL),
    ParityScenario("act_guard_deny", LLM_TTL),
    ParityScenario("act_guard_override", LLM_TTL),
    # The prediction goes on after the unknown call, until the client stops it.
    ParityScenario("act_unknown_tool", LLM_TTL, token_delay=0.02, compare_server_frames=False),
    # tokens and templates
    ParityScenario("tokenize", LLM_TTL),
    ParityScenario("tokenize_list", LLM_TTL),
    ParityScenario("count_tokens", LLM_TTL),
    ParityScenario("apply_prompt_template", LLM_TTL),
    # embeddings
    ParityScenario("embed_one", EMBEDDING_TTL),
    ParityScenario("embed_list", EMBEDDING_TTL),
    ParityScenario("embedding_tokens", EMBEDDING_TTL),
    # repository (a server with a model catalogue; download progress depends on timing)
    ParityScenario("search_models", catalog=True),
    ParityScenario("search_models_all", catalog=True),
    ParityScenario("download_options", catalog=True),
    ParityScenario("download", catalog=True, compare_server_frames=False),
    ParityScenario("download_cancel", catalog=True, compare_server_frames=False),
    ParityScenario("lm_link_status", catalog=True),
    ParityScenario("error_lm_link"),
    ParityScenario("error_search_limit", catalog=True),
    # plugins (the server hosts the test plugin)
    ParityScenario("generator_respond", plugin=True),
    ParityScenario("generator_stream", plugin=True),
    ParityScenario("generator_error", plugin=True),
    ParityScenario("generator_act", plugin=True),
    # What the plugin sends before the cancel arrives depends on timing.
    ParityScenario("generator_cancel", plugin=True, compare_server_frames=False),
    ParityScenario("plugin_tools_config", plugin=True),
    ParityScenario("plugin_tools", plugin=True),
    ParityScenario("plugin_tools_act", plugin=True),
    ParityScenario("preprocessed_prediction", LLM_TTL, plugin=True),
    # errors
    ParityScenario("error_unknown_model", LLM_TTL),
    ParityScenario("error_unknown_preset", LLM_TTL),
    ParityScenario("error_prediction", LLM_TTL),
    ParityScenario("error_complete_tools", LLM_TTL),
    ParityScenario("error_unload_unknown"),
    ParityScenario("error_draft_model", LLM_TTL),
    ParityScenario("error_preload_draft_model", LLM_TTL),
    ParityScenario("error_load_unknown"),
    ParityScenario("error_bad_config"),
    ParityScenario("error_wrong_domain", EMBEDDING_TTL),
)
