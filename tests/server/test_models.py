"""Model management endpoints on /llm and /embedding, loading, JIT, TTL, identifiers."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from lmstudio_sdk.server import LMStudioServer
from lmstudio_sdk.server.engines.scripted import ScriptedEngine

from .conftest import MakeServer
from .helpers import (
    EMBED_KEY,
    EMPTY_STACK,
    ESTIMATE_MEMORY_REQUIRED,
    LLM_INFO_REQUIRED,
    LLM_KEY,
    MODEL_INFO_OPTIONAL,
    TIMEOUT,
    VISION_KEY,
    assert_embedding_instance,
    assert_error,
    assert_fields,
    assert_llm_instance,
    by_identifier,
    connect,
    load,
    predict_params,
    stack,
)

LLM_PATH = "lmstudio-sdk/scripted-echo-1b-GGUF/scripted-echo-1b-Q4_K_M.gguf"


async def test_load_model_stream_and_shapes(lms: LMStudioServer) -> None:
    async with connect(lms.url, "/llm") as llm:
        packets, end = await llm.run_channel(
            "loadModel",
            {
                "modelKey": LLM_KEY,
                "identifier": "my-echo",
                "ttlMs": 60_000,
                "loadConfigStack": stack(llm__load__contextLength=2048),
            },
        )
        assert end["type"] == "channelClose"
        kinds = [p["type"] for p in packets]
        assert kinds[0] == "resolved" and kinds[-1] == "success"
        assert set(kinds[1:-1]) == {"progress"} and len(kinds) > 3
        progress = [p["progress"] for p in packets[1:-1]]
        assert progress == sorted(progress) and progress[-1] == 1
        resolved = packets[0]["info"]
        assert resolved["type"] == "llm" and "identifier" not in resolved
        assert_fields(resolved, LLM_INFO_REQUIRED, MODEL_INFO_OPTIONAL)
        info = packets[-1]["info"]
        assert_llm_instance(info)
        assert info["identifier"] == "my-echo"
        assert info["modelKey"] == LLM_KEY and info["path"] == LLM_PATH
        assert info["contextLength"] == 2048 and info["maxContextLength"] == 8192
        assert info["ttlMs"] == 60_000
        assert info["publisher"] == "lmstudio-sdk" and info["architecture"] == "llama"
        assert info["quantization"] == {"name": "Q4_K_M", "bits": 4}
        assert info["trainedForToolUse"] is True and info["vision"] is False

        loaded = await llm.rpc("listLoaded")
        assert [i["identifier"] for i in loaded] == ["my-echo"]
        assert_llm_instance(loaded[0])
        by_ref = {"type": "instanceReference", "instanceReference": info["instanceReference"]}
        fetched = await llm.rpc("getModelInfo", {"specifier": by_ref, "throwIfNotFound": True})
        assert fetched["instanceReference"] == info["instanceReference"]
        config = await llm.rpc("getLoadConfig", {"specifier": by_identifier("my-echo")})
        assert {"key": "llm.load.contextLength", "value": 2048} in config["fields"]


async def test_identifier_dedup_and_explicit_duplicate(lms: LMStudioServer) -> None:
    async with connect(lms.url, "/llm") as llm:
        first, second, third = [await load(llm) for _ in range(3)]
        assert [first["identifier"], second["identifier"], third["identifier"]] == [
            LLM_KEY,
            f"{LLM_KEY}:2",
            f"{LLM_KEY}:3",
        ]
        refs = {first["instanceReference"], second["instanceReference"], third["instanceReference"]}
        assert len(refs) == 3
        _, end = await llm.run_channel(
            "loadModel",
            {"modelKey": LLM_KEY, "identifier": LLM_KEY, "loadConfigStack": EMPTY_STACK},
        )
        assert end["type"] == "channelError"
        assert_error(end["error"])
        # LM Studio's words, and only a title: the official Python SDK 1.5 then prints it on
        # one line after "Model load error: ", where its tests match "...*already exists".
        assert "already exists" in end["error"]["title"]
        assert set(end["error"]) <= {"title", "rootTitle", "stack"}, end["error"]


async def test_load_resolves_paths(lms: LMStudioServer) -> None:
    async with connect(lms.url, "/llm") as llm:
        full = await load(llm, LLM_PATH)
        no_file = await load(llm, "lmstudio-sdk/scripted-echo-1b-GGUF")
        assert full["modelKey"] == no_file["modelKey"] == LLM_KEY


async def test_load_unknown_model_is_path_not_found(lms: LMStudioServer) -> None:
    async with connect(lms.url, "/llm") as llm:
        _, end = await llm.run_channel(
            "loadModel", {"modelKey": "nope/nothing", "loadConfigStack": EMPTY_STACK}
        )
        assert end["type"] == "channelError"
        error = end["error"]
        assert_error(error, "generic.pathNotFound")
        assert error["displayData"]["path"] == "nope/nothing"
        assert error["displayData"]["totalModels"] == 3
        assert LLM_KEY in error["displayData"]["availablePathsSample"]
        assert error["suggestion"]


async def test_domain_mismatch_both_ways(lms: LMStudioServer) -> None:
    async with connect(lms.url, "/embedding") as emb, connect(lms.url, "/llm") as llm:
        _, end = await emb.run_channel(
            "loadModel", {"modelKey": LLM_KEY, "loadConfigStack": EMPTY_STACK}
        )
        assert_error(end["error"], "generic.domainMismatch")
        assert end["error"]["displayData"]["actualDomain"] == "llm"
        assert end["error"]["displayData"]["expectedDomain"] == "embedding"
        await load(emb, EMBED_KEY)
        error = await llm.rpc_error(
            "getModelInfo", {"specifier": by_identifier(EMBED_KEY), "throwIfNotFound": True}
        )
        assert_error(error, "generic.domainMismatch")
        assert error["displayData"]["actualDomain"] == "embedding"
        # Each namespace lists only its own domain.
        assert await llm.rpc("listLoaded") == []
        assert [i["modelKey"] for i in await emb.rpc("listLoaded")] == [EMBED_KEY]


async def test_load_cancel_ends_with_channel_error(make_server: MakeServer) -> None:
    server = await make_server(ScriptedEngine(load_delay=30.0))
    async with connect(server.url, "/llm") as llm:
        channel = await llm.open_channel(
            "loadModel", {"modelKey": LLM_KEY, "loadConfigStack": EMPTY_STACK}
        )
        await llm.wait_for(lambda f: f.get("channelId") == channel)  # resolved
        await llm.channel_send(channel, {"type": "cancel"})
        end = await llm.channel_end(channel)
        assert end["type"] == "channelError"
        assert_error(end["error"])
        assert "cancelled" in end["error"]["title"]
        assert await llm.rpc("listLoaded") == []
        assert server.statistics().loaded_instances == ()


async def test_get_or_load_jit_then_already_loaded(lms: LMStudioServer) -> None:
    async with connect(lms.url, "/llm") as llm:
        packets, end = await llm.run_channel(
            "getOrLoad", {"identifier": LLM_KEY, "loadConfigStack": EMPTY_STACK}
        )
        assert end["type"] == "channelClose"
        kinds = [p["type"] for p in packets]
        assert kinds[0] == "startLoading" and kinds[-1] == "loadSuccess"
        assert set(kinds[1:-1]) == {"loadProgress"}
        assert packets[0]["identifier"] == LLM_KEY
        assert_fields(packets[0]["info"], LLM_INFO_REQUIRED, MODEL_INFO_OPTIONAL)
        info = packets[-1]["info"]
        assert_llm_instance(info)
        assert info["ttlMs"] == 3_600_000  # LM Studio's JIT default

        for name in (LLM_KEY, LLM_PATH, "lmstudio-sdk/scripted-echo-1b-GGUF"):
            packets, end = await llm.run_channel(
                "getOrLoad", {"identifier": name, "loadConfigStack": EMPTY_STACK, "loadTtlMs": 5}
            )
            assert [p["type"] for p in packets] == ["alreadyLoaded"], name
            assert packets[0]["info"]["instanceReference"] == info["instanceReference"]
            assert end["type"] == "channelClose"
        assert lms.statistics().loaded_instances == (LLM_KEY,)


async def test_jit_load_evicts_the_other_jit_models(lms: LMStudioServer) -> None:
    """LM Studio's default: a JIT load unloads the models loaded JIT before it, across domains,
    telling the client with unloadingOtherJITModel; explicitly loaded models stay."""
    async with connect(lms.url, "/llm") as llm, connect(lms.url, "/embedding") as emb:
        await load(llm, VISION_KEY)  # explicit: never evicted
        packets, _ = await llm.run_channel(
            "getOrLoad", {"identifier": LLM_KEY, "loadConfigStack": EMPTY_STACK}
        )
        assert "unloadingOtherJITModel" not in [p["type"] for p in packets]
        packets, end = await emb.run_channel(
            "getOrLoad", {"identifier": EMBED_KEY, "loadConfigStack": EMPTY_STACK}
        )
        assert end["type"] == "channelClose"
        kinds = [p["type"] for p in packets]
        assert kinds[:2] == ["startLoading", "unloadingOtherJITModel"], kinds
        assert kinds[-1] == "loadSuccess"
        evicted = packets[1]["info"]
        assert_llm_instance(evicted)
        assert evicted["identifier"] == LLM_KEY
        assert [m["identifier"] for m in await llm.rpc("listLoaded")] == [VISION_KEY]
        assert [m["identifier"] for m in await emb.rpc("listLoaded")] == [EMBED_KEY]


async def test_concurrent_jit_loads_share_one_instance(make_server: MakeServer) -> None:
    server = await make_server(ScriptedEngine(load_delay=0.2))
    async with connect(server.url, "/llm") as llm:
        creation = {"identifier": LLM_KEY, "loadConfigStack": EMPTY_STACK}
        channels = [await llm.open_channel("getOrLoad", creation) for _ in range(3)]
        ends = [await llm.channel_end(c) for c in channels]
        assert all(e["type"] == "channelClose" for e in ends)
        refs = {llm.channel_packets(c)[-1]["info"]["instanceReference"] for c in channels}
        assert len(refs) == 1
        assert server.statistics().loaded_instances == (LLM_KEY,)


async def test_get_or_load_unknown(lms: LMStudioServer) -> None:
    async with connect(lms.url, "/embedding") as emb:
        _, end = await emb.run_channel(
            "getOrLoad", {"identifier": "missing", "loadConfigStack": EMPTY_STACK}
        )
        assert_error(end["error"], "generic.pathNotFound")


async def test_get_model_info_not_found(lms: LMStudioServer) -> None:
    async with connect(lms.url, "/llm") as llm:
        await load(llm)
        frame = await llm.call(
            "getModelInfo", {"specifier": by_identifier("missing-model"), "throwIfNotFound": False}
        )
        assert frame == {"type": "rpcResult", "callId": frame["callId"]}  # result omitted
        error = await llm.rpc_error(
            "getModelInfo", {"specifier": by_identifier("missing-model"), "throwIfNotFound": True}
        )
        assert_error(error, "generic.noModelMatchingQuery")
        assert error["title"] == 'No model found that fits the query "missing-model"'
        display = error["displayData"]
        assert display["query"] == {"identifier": "missing-model"}
        assert display["loadedModelsSample"] == [LLM_KEY] and display["totalLoadedModels"] == 1
        gone = {"type": "instanceReference", "instanceReference": "inst-nope"}
        error = await llm.rpc_error("getModelInfo", {"specifier": gone, "throwIfNotFound": True})
        assert_error(error, "generic.specificModelUnloaded")


async def test_queries(lms: LMStudioServer) -> None:
    async with connect(lms.url, "/llm") as llm:
        await load(llm, LLM_KEY)
        await load(llm, VISION_KEY)

        async def find(query: dict[str, Any]) -> str:
            specifier = {"type": "query", "query": query}
            info = await llm.rpc("getModelInfo", {"specifier": specifier, "throwIfNotFound": True})
            identifier: str = info["identifier"]
            return identifier

        assert await find({}) == LLM_KEY  # any loaded model: the first
        assert await find({"vision": True}) == VISION_KEY
        assert await find({"vision": False}) == LLM_KEY
        assert await find({"path": "lmstudio-sdk/scripted-vision-1b-GGUF"}) == VISION_KEY
        assert await find({"domain": "llm", "identifier": VISION_KEY}) == VISION_KEY
        error = await llm.rpc_error(
            "getModelInfo",
            {
                "specifier": {"type": "query", "query": {"domain": "embedding"}},
                "throwIfNotFound": True,
            },
        )
        assert_error(error, "generic.noModelMatchingQuery")
        assert error["displayData"]["totalLoadedModels"] == 2


async def test_publisher_name_queries_match_paths(lms: LMStudioServer) -> None:
    """LM Studio resolves "publisher/name" in an identifier or path case-insensitively against
    the start of a model's path, even when the name stops inside the folder name (the official
    Python SDK 1.5's tests use "hugging-quants/llama-3.2-1b-instruct" for the folder
    "hugging-quants/Llama-3.2-1B-Instruct-Q8_0-GGUF")."""
    async with connect(lms.url, "/llm") as llm:
        # A downloaded model by the start of its path (loadModel's modelKey).
        info = await load(llm, "LMStudio-SDK/scripted-echo-1B", identifier="echo")
        assert info["path"] == LLM_PATH

        async def find(query: dict[str, Any]) -> Any:
            found = await llm.rpc(
                "getModelInfo",
                {"specifier": {"type": "query", "query": query}, "throwIfNotFound": True},
            )
            return found["identifier"]

        assert await find({"identifier": "lmstudio-sdk/scripted-echo-1b"}) == "echo"
        assert await find({"identifier": "LMStudio-SDK/Scripted-Echo-1B-GGUF"}) == "echo"
        assert await find({"path": "lmstudio-sdk/scripted-echo"}) == "echo"
        # Without a publisher it is no path: only identifiers and model keys match.
        for needle in ("scripted-echo", "lmstudio-sdk/scripted-vision", "lmstudio-sdk/"):
            error = await llm.rpc_error(
                "getModelInfo",
                {"specifier": by_identifier(needle), "throwIfNotFound": True},
            )
            assert_error(error, "generic.noModelMatchingQuery")
        # An exact identifier wins over a path match.
        await load(llm, LLM_KEY, identifier="lmstudio-sdk/scripted-echo-1b")
        assert await find({"identifier": "lmstudio-sdk/scripted-echo-1b"}) == (
            "lmstudio-sdk/scripted-echo-1b"
        )


async def test_unload(lms: LMStudioServer) -> None:
    async with connect(lms.url, "/llm") as llm:
        await load(llm)
        assert await llm.rpc("unloadModel", {"identifier": LLM_KEY}) is None
        assert await llm.rpc("listLoaded") == []
        # An identifier that is not loaded: noModelMatchingQuery, which the official Python
        # SDK 1.5 raises as LMStudioModelNotFoundError (its own test set-up relies on that).
        error = await llm.rpc_error("unloadModel", {"identifier": LLM_KEY})
        assert_error(error, "generic.noModelMatchingQuery")
        assert error["displayData"] == {
            "code": "generic.noModelMatchingQuery",
            "query": {"identifier": LLM_KEY},
            "loadedModelsSample": [],
            "totalLoadedModels": 0,
        }


async def test_base_prediction_config_processing_state_estimate(lms: LMStudioServer) -> None:
    async with connect(lms.url, "/llm") as llm, connect(lms.url, "/embedding") as emb:
        await load(llm)
        await load(emb, EMBED_KEY)
        base = await llm.rpc("getBasePredictionConfig", {"specifier": by_identifier(LLM_KEY)})
        assert {"key": "llm.prediction.temperature", "value": 0.8} in base["fields"]
        assert await emb.rpc(
            "getBasePredictionConfig", {"specifier": by_identifier(EMBED_KEY)}
        ) == {"fields": []}
        state = await llm.rpc(
            "getInstanceProcessingState",
            {"specifier": by_identifier(LLM_KEY), "throwIfNotFound": True},
        )
        assert state == {"status": "idle", "queued": 0}
        for client, key, context_key in (
            (llm, LLM_KEY, "llm.load.contextLength"),
            (emb, EMBED_KEY, "embedding.load.contextLength"),
        ):
            estimate = await client.rpc(
                "estimateModelUsage",
                {
                    "modelKey": key,
                    "loadConfigStack": stack(**{context_key.replace(".", "__"): 256}),
                },
            )
            assert set(estimate) == {"memory", "passesGuardrails"}
            assert_fields(estimate["memory"], ESTIMATE_MEMORY_REQUIRED, set())
            assert estimate["memory"]["confidence"] in ("high", "low")
            memory = estimate["memory"]
            assert memory["totalBytes"] == memory["modelBytes"] + memory["contextBytes"]


async def test_tokenize_and_count_on_both_namespaces(lms: LMStudioServer) -> None:
    async with connect(lms.url, "/llm") as llm, connect(lms.url, "/embedding") as emb:
        await load(llm)
        await load(emb, EMBED_KEY)
        for client, key in ((llm, LLM_KEY), (emb, EMBED_KEY)):
            param = {"specifier": by_identifier(key), "inputString": "Hello, world!"}
            tokens = (await client.rpc("tokenize", param))["tokens"]
            assert len(tokens) == 4 and all(isinstance(t, int) for t in tokens)
            assert await client.rpc("countTokens", param) == {"tokenCount": 4}


async def test_embedding_instance_shape(lms: LMStudioServer) -> None:
    async with connect(lms.url, "/embedding") as emb:
        info = await load(emb, EMBED_KEY)
        assert_embedding_instance(info)
        assert "vision" not in info and info["contextLength"] == 512


async def test_ttl_unloads_idle_instance(lms: LMStudioServer) -> None:
    async with connect(lms.url, "/llm") as llm:
        info = await load(llm, ttlMs=100)
        instance = lms.models.instance(info["identifier"])
        assert instance is not None
        await asyncio.wait_for(instance.unloaded.wait(), TIMEOUT)
        assert await llm.rpc("listLoaded") == []


async def test_ttl_waits_for_running_prediction(make_server: MakeServer) -> None:
    server = await make_server(ScriptedEngine(token_delay=0.02))
    async with connect(server.url, "/llm") as llm:
        info = await load(llm, ttlMs=150)
        instance = server.models.instance(info["identifier"])
        assert instance is not None
        channel = await llm.open_channel(
            "predict",
            {
                "modelSpecifier": by_identifier(LLM_KEY),
                "history": {
                    "messages": [
                        {"role": "user", "content": [{"type": "text", "text": "!long 20"}]}
                    ]
                },
                "predictionConfigStack": EMPTY_STACK,
            },
        )
        end = await llm.channel_end(channel)  # ~0.4 s, longer than the TTL
        assert end["type"] == "channelClose"
        success = llm.channel_packets(channel)[-1]
        # Had the TTL fired mid-prediction, the unload would have stopped it (modelUnloaded).
        assert success["stats"]["stopReason"] == "eosFound"
        assert success["stats"]["predictedTokensCount"] == 20
        assert isinstance(success["modelInfo"]["lastUsedTime"], int)
        await asyncio.wait_for(instance.unloaded.wait(), TIMEOUT)


@pytest.mark.parametrize("namespace", ["/llm", "/embedding"])
async def test_list_loaded_rejects_a_parameter(lms: LMStudioServer, namespace: str) -> None:
    async with connect(lms.url, namespace) as client:
        frame = await client.call("listLoaded", {})
        assert frame["type"] == "rpcError"
        await client.wait_warning("rpcParameterTypeError")


async def test_the_one_device_is_accepted_and_any_other_refused(lms: LMStudioServer) -> None:
    """The server is one LM Link device: its own identifier (lmLinkStatus), null (local only)
    and no identifier all address it; any other identifier is refused, naming it."""
    own = lms.services.models.device_identifier
    assert own.startswith("lmstudio-sdk-") and len(own) == len("lmstudio-sdk-") + 16
    async with connect(lms.url, "/repository") as repo:
        assert (await repo.rpc("lmLinkStatus"))["deviceIdentifier"] == own
    async with connect(lms.url, "/llm") as llm:
        for device in (own, None):
            info = await load(llm, LLM_KEY, identifier=f"dev-{device}", deviceIdentifier=device)
            query = {"identifier": info["identifier"], "deviceIdentifier": device}
            found = await llm.rpc(
                "getModelInfo",
                {"specifier": {"type": "query", "query": query}, "throwIfNotFound": True},
            )
            assert found["identifier"] == info["identifier"]
            assert found["deviceIdentifier"] is None  # listed as local, as LM Studio does
            await llm.rpc(
                "unloadModel", {"identifier": info["identifier"], "deviceIdentifier": device}
            )
        await load(llm, LLM_KEY)
        missing = "peer-device-42"
        refusals = [
            await llm.rpc_error(
                "unloadModel", {"identifier": LLM_KEY, "deviceIdentifier": missing}
            ),
            await llm.rpc_error(
                "getModelInfo",
                {
                    "specifier": {"type": "query", "query": {"deviceIdentifier": missing}},
                    "throwIfNotFound": True,
                },
            ),
            await llm.rpc_error(
                "estimateModelUsage",
                {"modelKey": LLM_KEY, "loadConfigStack": stack(), "deviceIdentifier": missing},
            ),
        ]
        for channel in ("loadModel", "getOrLoad"):
            key = "modelKey" if channel == "loadModel" else "identifier"
            opened = await llm.open_channel(
                channel, {key: LLM_KEY, "loadConfigStack": stack(), "deviceIdentifier": missing}
            )
            end = await llm.channel_end(opened)
            assert end["type"] == "channelError", end
            refusals.append(end["error"])
        for error in refusals:
            assert missing in error["title"] and own in error["suggestion"], error
            assert error["errorData"] == {
                "code": "deviceNotFound",
                "deviceIdentifier": missing,
                "known": [own],
            }
        # Still loaded: the refused unload touched nothing.
        assert [i["identifier"] for i in await llm.rpc("listLoaded")] == [LLM_KEY]


async def test_impossible_queries_are_refused_naming_the_member(lms: LMStudioServer) -> None:
    async with connect(lms.url, "/llm") as llm, connect(lms.url, "/embedding") as emb:
        await load(llm)
        await load(emb, EMBED_KEY)
        for client, query, why in (
            (llm, {"domain": "embedding"}, "serves llm models, not embedding ones"),
            (emb, {"vision": True}, "embedding models have no vision"),
        ):
            error = await client.rpc_error(
                "getModelInfo",
                {"specifier": {"type": "query", "query": query}, "throwIfNotFound": True},
            )
            assert_error(error, "generic.noModelMatchingQuery")
            assert why in error["title"], error


async def test_processing_state_counts_the_running_and_the_waiting(
    make_server: MakeServer,
) -> None:
    server = await make_server(ScriptedEngine(token_delay=0.02))
    async with connect(server.url, "/llm") as llm:
        await load(llm)
        spec = {"specifier": by_identifier(LLM_KEY), "throwIfNotFound": True}
        assert await llm.rpc("getInstanceProcessingState", spec) == {
            "status": "idle",
            "queued": 0,
        }
        channels = [
            await llm.open_channel("predict", predict_params("!long 500")) for _ in range(3)
        ]
        async with asyncio.timeout(10):
            while (state := await llm.rpc("getInstanceProcessingState", spec))["queued"] < 3:
                pass  # each poll is a round trip: no busy loop
        assert state["status"] in ("processingPrompt", "generating") and state["queued"] == 3
        for channel in channels:
            await llm.channel_send(channel, {"type": "cancel"})
            await llm.channel_end(channel)
        assert await llm.rpc("getInstanceProcessingState", spec) == {
            "status": "idle",
            "queued": 0,
        }
