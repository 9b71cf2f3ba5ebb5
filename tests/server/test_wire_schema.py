"""The server cannot send a shape an official client would drop.

A representative session against the scripted server (every endpoint it handles, error and
cancel paths, the load / getOrLoad / predict / completeRawText channels, tool-call packets)
goes through raw sockets whose every frame is kept. Afterwards EVERY rpcResult and channel
packet is validated with ``jsonschema`` against the vendored TS SDK 2.0 schema of its endpoint
(the ``returns`` / ``toClientPacket`` part); a void or absent-allowed result must be absent.
"""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema

from lmstudio_sdk.server import LMStudioServer
from lmstudio_sdk.server.engines.scripted import ScriptedEngine

from ..repository.catalog_kit import MIB, make_catalog
from .conftest import MakeServer
from .helpers import (
    EMBED_KEY,
    EMPTY_STACK,
    LLM_KEY,
    RawClient,
    by_identifier,
    chat,
    connect,
    load,
    predict_params,
    stack,
)
from .test_predict import TOOLS

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "schema" / "endpoints-sdk-2.0.0.schema.json"
SCHEMA: dict[str, Any] = json.loads(SCHEMA_PATH.read_text())


def _is_void(schema: Any) -> bool:
    return schema == "void" or (isinstance(schema, dict) and schema.get("not") == {})


def _python_regex(schema: Any) -> Any:
    """Python's re has no \\p{L}\\p{N}; in the schema's one such class \\w means the same."""
    if isinstance(schema, dict):
        fixed = {k: _python_regex(v) for k, v in schema.items()}
        if isinstance(fixed.get("pattern"), str):
            fixed["pattern"] = fixed["pattern"].replace("\\p{L}\\p{N}", "\\w")
        return fixed
    if isinstance(schema, list):
        return [_python_regex(v) for v in schema]
    return schema


@cache
def _validator(namespace: str, kind: str, endpoint: str, part: str) -> Any:
    schema = SCHEMA[namespace][kind][endpoint][part]
    return None if _is_void(schema) else jsonschema.Draft7Validator(_python_regex(schema))


def _may_be_absent(namespace: str, endpoint: str) -> bool:
    returns = SCHEMA[namespace]["rpc"][endpoint]["returns"]
    return _is_void(returns) or any(_is_void(b) for b in returns.get("anyOf", []))


class WireTap:
    """Keeps every frame each raw socket sends and receives; checks them against the schema."""

    def __init__(self) -> None:
        self.sockets: list[tuple[str, list[dict[str, Any]], RawClient]] = []

    @asynccontextmanager
    async def connect(self, base_url: str, namespace: str) -> AsyncIterator[RawClient]:
        async with connect(base_url, namespace) as client:
            sent: list[dict[str, Any]] = []
            original = client.send

            async def send(message: Any) -> None:
                sent.append(json.loads(message) if isinstance(message, str) else message)
                await original(message)

            client.send = send  # type: ignore[method-assign]
            self.sockets.append((namespace.strip("/"), sent, client))
            yield client

    def invalid_frames(self) -> tuple[int, list[str]]:
        """(frames checked, a description of every invalid one)."""
        checked, problems = 0, []
        for namespace, sent, client in self.sockets:
            calls = {m["callId"]: m["endpoint"] for m in sent if m.get("type") == "rpcCall"}
            channels = {
                m["channelId"]: m["endpoint"] for m in sent if m.get("type") == "channelCreate"
            }
            for frame in client.frames:
                if frame["type"] == "rpcResult":
                    endpoint = calls[frame["callId"]]
                    problem = self._check_result(namespace, endpoint, frame)
                elif frame["type"] == "channelSend":
                    endpoint = channels[frame["channelId"]]
                    problem = self._check(
                        namespace, "channel", endpoint, "toClientPacket", frame["message"]
                    )
                else:
                    continue
                checked += 1
                if problem is not None:
                    problems.append(f"/{namespace} {endpoint}: {problem}\n  frame: {frame}")
        return checked, problems

    def _check_result(self, namespace: str, endpoint: str, frame: dict[str, Any]) -> str | None:
        if "result" not in frame:
            if _may_be_absent(namespace, endpoint):
                return None
            return "the result is missing"
        result = frame["result"]
        if SCHEMA[namespace]["rpc"][endpoint]["serialization"] == "superjson":
            if not isinstance(result, dict) or "json" not in result:
                return "a superjson result is an object with a json member"
            result = result["json"]
        return self._check(namespace, "rpc", endpoint, "returns", result)

    @staticmethod
    def _check(namespace: str, kind: str, endpoint: str, part: str, value: Any) -> str | None:
        validator = _validator(namespace, kind, endpoint, part)
        if validator is None:
            return f"the schema's {part} is void, yet the server sent {value!r}"
        error = jsonschema.exceptions.best_match(validator.iter_errors(value))
        if error is None:
            return None
        # For a union, name the error inside the branch of the packet's own type.
        branch = [e for e in error.context or [] if e.validator != "const"]
        deepest = max(branch, key=lambda e: len(e.absolute_path), default=error)
        return f"{list(deepest.absolute_path)}: {deepest.message}"


async def _predict(client: RawClient, params: dict[str, Any], endpoint: str = "predict") -> None:
    _, end = await client.run_channel(endpoint, params)
    assert end["type"] in ("channelClose", "channelError"), end


async def _model_management(tap: WireTap, url: str, namespace: str, key: str) -> None:
    async with tap.connect(url, namespace) as client:
        await client.rpc("listLoaded")
        info = await load(client, key, identifier=f"{key}-tap", ttlMs=600_000)
        spec = {"type": "instanceReference", "instanceReference": info["instanceReference"]}
        await client.rpc("listLoaded")
        await client.rpc("getModelInfo", {"specifier": spec, "throwIfNotFound": True})
        missing = {"specifier": by_identifier("no-such-model"), "throwIfNotFound": False}
        await client.rpc("getModelInfo", missing)
        await client.rpc_error("getModelInfo", {**missing, "throwIfNotFound": True})
        await client.rpc("getLoadConfig", {"specifier": spec})
        await client.rpc("getBasePredictionConfig", {"specifier": spec})
        await client.rpc("getInstanceProcessingState", {"specifier": spec, "throwIfNotFound": True})
        await client.rpc("getInstanceProcessingState", {**missing, "throwIfNotFound": False})
        await client.rpc("estimateModelUsage", {"modelKey": key, "loadConfigStack": EMPTY_STACK})
        await client.rpc("tokenize", {"specifier": spec, "inputString": "hello world"})
        await client.rpc("countTokens", {"specifier": spec, "inputString": "hello world"})
        get_or_load = {"identifier": f"{key}-tap", "loadConfigStack": EMPTY_STACK}
        await client.run_channel("getOrLoad", get_or_load)  # alreadyLoaded
        await client.run_channel("getOrLoad", {**get_or_load, "identifier": key})  # JIT load
        await client.run_channel("loadModel", {"modelKey": key, "loadConfigStack": EMPTY_STACK})
        if namespace == "/embedding":
            await client.rpc("embedString", {"modelSpecifier": spec, "inputString": "hello"})
        await client.rpc("unloadModel", {"identifier": f"{key}-tap"})


async def _llm_session(tap: WireTap, url: str) -> None:
    async with tap.connect(url, "/llm") as llm:
        await load(llm, LLM_KEY)
        await _predict(llm, predict_params("hello there"))
        await _predict(llm, predict_params("!think about it"))
        await _predict(
            llm, predict_params("!long 5", config=stack(llm__prediction__topKSampling=5))
        )
        tools = stack(llm__prediction__tools=TOOLS)
        await _predict(llm, predict_params('!tool add {"a": 1, "b": 2}', config=tools))
        await _predict(llm, predict_params("!tool multiply {}", config=tools))  # unknown tool
        await _predict(llm, predict_params("!tool add {oops", config=tools))  # invalid JSON
        await _predict(llm, predict_params("!error boom"))
        raw = {
            "modelSpecifier": by_identifier(LLM_KEY),
            "rawPrompt": "Once upon a time",
            "predictionConfigStack": EMPTY_STACK,
        }
        await _predict(llm, raw, "completeRawText")
        template = {
            "specifier": by_identifier(LLM_KEY),
            "history": chat("hi"),
            "predictionConfigStack": EMPTY_STACK,
            "opts": {"toolDefinitions": TOOLS["tools"]},
        }
        await llm.rpc("applyPromptTemplate", template)
        await llm.rpc("applyPromptTemplate", {**template, "opts": {}})
        # Cancel paths: a long prediction and a slow load, each cancelled by the client.
        channel = await llm.open_channel("predict", predict_params("!long 400"))
        await llm.wait_for(lambda f: f.get("channelId") == channel and f["type"] == "channelSend")
        await llm.channel_send(channel, {"type": "cancel"})
        await llm.channel_end(channel)
        await _predict(llm, predict_params("hi", identifier="no-such-model"))  # channelError


async def _slow_load_cancelled(tap: WireTap, url: str) -> None:
    async with tap.connect(url, "/llm") as llm:
        channel = await llm.open_channel(
            "loadModel", {"modelKey": LLM_KEY, "loadConfigStack": EMPTY_STACK}
        )
        await llm.wait_for(lambda f: f.get("channelId") == channel and f["type"] == "channelSend")
        await llm.channel_send(channel, {"type": "cancel"})
        await llm.channel_end(channel)


async def _system_files_runtime(tap: WireTap, url: str) -> None:
    async with tap.connect(url, "/system") as system:
        downloaded = await system.rpc("listDownloadedModels")
        await system.rpc("listDownloadedModelVariants", {"modelKey": downloaded[0]["modelKey"]})
        await system.rpc_error("listDownloadedModelVariants", {"modelKey": "no-such-model"})
        for endpoint in ("version", "info", "getExperimentFlags"):
            await system.rpc(endpoint)
        await system.rpc("notify", {"title": "hello", "description": "from the tap"})
        await system.rpc("setExperimentFlag", {"code": "tap", "value": True})
        await system.rpc("getExperimentFlags")
        await system.rpc_error("startHttpServer", {"port": 1234})
        await system.rpc_error("stopHttpServer")
        await system.open_channel("alive")
    async with tap.connect(url, "/files") as files:
        content = base64.b64encode(b"hello").decode()
        await files.rpc("uploadFileBase64", {"name": "a.txt", "contentBase64": content})
    async with tap.connect(url, "/runtime") as runtime:
        await runtime.rpc("listEngines")
        await runtime.rpc("getEngineSelections", {"json": None, "meta": {"values": ["undefined"]}})


async def _representative_session(server: LMStudioServer, slow: LMStudioServer) -> WireTap:
    tap = WireTap()
    await _model_management(tap, server.url, "/llm", LLM_KEY)
    await _model_management(tap, server.url, "/embedding", EMBED_KEY)
    await _llm_session(tap, server.url)
    await _system_files_runtime(tap, server.url)
    await _slow_load_cancelled(tap, slow.url)
    return tap


async def test_every_server_frame_validates_against_the_schema(make_server: MakeServer) -> None:
    server = await make_server(ScriptedEngine(token_delay=0.001))
    slow = await make_server(ScriptedEngine(load_delay=1.0))
    tap = await _representative_session(server, slow)
    checked, problems = tap.invalid_frames()
    assert not problems, f"{len(problems)} of {checked} frames break the schema:\n" + "\n".join(
        problems
    )
    # Every endpoint the server handles was exercised, so every handler's shapes were checked.
    print(f"\nwire tap: {checked} server frames valid against the schema")
    assert checked > 100


async def test_the_tap_fails_loudly_on_an_invalid_frame(make_server: MakeServer) -> None:
    """A server that drops a required field is caught (here: a fragment's tokensCount)."""
    server = await make_server()
    tap = WireTap()
    async with tap.connect(server.url, "/llm") as llm:
        await load(llm, LLM_KEY)
        await _predict(llm, predict_params("hello"))
    frames = tap.sockets[0][2].frames
    fragment = next(f for f in frames if f.get("message", {}).get("type") == "fragment")
    del fragment["message"]["fragment"]["tokensCount"]
    _, problems = tap.invalid_frames()
    assert len(problems) == 1 and "'tokensCount' is a required property" in problems[0]


async def test_repository_frames_validate_against_the_schema(
    make_server: MakeServer, tmp_path: Path
) -> None:
    """/repository: search, download options, a download to its end and a cancelled one, LM
    Link status and its refusals, against a catalogue (tests/repository/catalog_kit.py)."""
    catalog = make_catalog(tmp_path / "catalog")
    server = await make_server(
        catalog=catalog, models_dir=tmp_path / "models", download_bytes_per_second=4 * MIB
    )
    tap = WireTap()
    async with tap.connect(server.url, "/repository") as repo:
        await repo.rpc("searchModels", {"opts": {"searchTerm": "tiny", "limit": 5}})
        await repo.rpc("searchModels", {"opts": {}})
        await repo.rpc(
            "getModelDownloadOptions",
            {
                "modelSearchResultIdentifier": {
                    "type": "catalog",
                    "identifier": "acme/Tiny-Chat-GGUF",
                }
            },
        )
        channel = await repo.open_channel(
            "downloadModel", {"downloadIdentifier": "acme/Tiny-Chat-GGUF/Tiny-Chat-Q8_0.gguf"}
        )
        await repo.channel_end(channel)
        channel = await repo.open_channel(
            "downloadModel", {"downloadIdentifier": "acme/Big-Llama-GGUF/Big-Llama-Q4_0.gguf"}
        )
        await repo.wait_for(lambda f: f.get("channelId") == channel and f["type"] == "channelSend")
        await repo.channel_send(channel, {"type": "cancel"})
        await repo.channel_end(channel)
        await repo.rpc("lmLinkStatus")
        await repo.rpc_error("lmLinkSetDisabled", {"disabled": True})
    checked, problems = tap.invalid_frames()
    assert not problems, "\n".join(problems)
    assert checked >= 8
