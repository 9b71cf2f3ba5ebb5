"""/system and /runtime endpoints; protocol errors, warnings and robustness."""

from __future__ import annotations

import asyncio
import json
import os
from typing import Any

import pytest

from lmstudio_sdk.server import LMStudioServer, ServerRecorder
from lmstudio_sdk.server.engines.base import PredictionRequest
from lmstudio_sdk.server.engines.scripted import ScriptedEngine

from .conftest import MakeServer
from .helpers import (
    EMPTY_STACK,
    LIST_ENGINES_REQUIRED,
    LLM_INFO_REQUIRED,
    LLM_KEY,
    MODEL_INFO_OPTIONAL,
    MODEL_INFO_REQUIRED,
    VISION_KEY,
    assert_error,
    assert_fields,
    by_identifier,
    connect,
    load,
)


async def test_list_downloaded_models(lms: LMStudioServer) -> None:
    async with connect(lms.url, "/system") as system:
        models = await system.rpc("listDownloadedModels")
        by_key = {m["modelKey"]: m for m in models}
        assert set(by_key) == {"scripted-echo-1b", "scripted-vision-1b", "scripted-embed-small"}
        for model in models:
            required = LLM_INFO_REQUIRED if model["type"] == "llm" else MODEL_INFO_REQUIRED
            assert_fields(model, required, MODEL_INFO_OPTIONAL)
            assert model["deviceIdentifier"] is None and model["format"] == "gguf"
        assert by_key["scripted-vision-1b"]["vision"] is True
        embed = by_key["scripted-embed-small"]
        assert embed["type"] == "embedding" and embed["maxContextLength"] == 512
        assert (
            embed["path"] == "lmstudio-sdk/scripted-embed-small-GGUF/scripted-embed-small-F16.gguf"
        )
        variants = await system.rpc("listDownloadedModelVariants", {"modelKey": LLM_KEY})
        assert [v["modelKey"] for v in variants] == [LLM_KEY]
        error = await system.rpc_error("listDownloadedModelVariants", {"modelKey": "nope"})
        assert_error(error, "generic.pathNotFound")


async def test_version_info_notify_flags(lms: LMStudioServer) -> None:
    async with connect(lms.url, "/system") as system:
        version = await system.rpc("version")
        assert set(version) == {"version", "build"}
        assert len(version["version"].split(".")) == 3 and isinstance(version["build"], int)
        info = await system.rpc("info")
        assert info == {"pid": os.getpid(), "isDaemon": True, "version": version["version"]}
        assert await system.rpc("notify", {"title": "Hello", "description": "World"}) is None
        assert ServerRecorder.of(lms).notifications == [("Hello", "World")]
        assert await system.rpc("getExperimentFlags") == []
        assert await system.rpc("setExperimentFlag", {"code": "b", "value": True}) is None
        await system.rpc("setExperimentFlag", {"code": "a", "value": True})
        assert await system.rpc("getExperimentFlags") == ["a", "b"]
        await system.rpc("setExperimentFlag", {"code": "b", "value": False})
        assert await system.rpc("getExperimentFlags") == ["a"]


async def test_http_server_endpoints_explain_themselves(lms: LMStudioServer) -> None:
    async with connect(lms.url, "/system") as system:
        for endpoint, param in (("startHttpServer", {"port": 1234}), ("stopHttpServer", None)):
            error = await (
                system.rpc_error(endpoint, param) if param else system.rpc_error(endpoint)
            )
            assert "HTTP" in error["title"] and error["suggestion"]


async def test_alive_channel_stays_open(lms: LMStudioServer) -> None:
    async with connect(lms.url, "/system") as system:
        channel = await system.open_channel("alive")
        # Calls on the same socket still answer, and the channel sent nothing.
        assert (await system.rpc("version"))["build"] >= 0
        assert system.channel_frames(channel) == []
        assert lms.statistics().running_tasks == 1


async def test_runtime(lms: LMStudioServer) -> None:
    async with connect(lms.url, "/runtime") as runtime:
        engines = await runtime.rpc("listEngines")
        assert len(engines) == 1
        assert_fields(engines[0], LIST_ENGINES_REQUIRED, {"gpu"})
        assert isinstance(engines[0]["cpu"]["architecture"], str)
        assert engines[0]["supportedModelFormatNames"] == ["GGUF"]
        # TS sends the void parameter superjson-encoded as undefined.
        undefined = {"json": None, "meta": {"values": ["undefined"]}}
        selections = await runtime.rpc("getEngineSelections", undefined)
        assert await runtime.rpc("getEngineSelections") == selections
        error = await runtime.rpc_error("getEngineSelections", {"json": 1})
        assert "no parameter" in error["title"]
        # superjson: a Map is sent as its entries plus meta.values "map".
        assert selections["meta"] == {"values": ["map"]}
        [[format_name, engine]] = selections["json"]
        assert format_name == "GGUF"
        assert engine == {"name": engines[0]["name"], "version": engines[0]["version"]}


# -- protocol errors ------------------------------------------------------------------------------


async def test_unknown_and_unhandled_endpoints(lms: LMStudioServer) -> None:
    async with connect(lms.url, "/llm") as llm:
        error = await llm.rpc_error("fly")
        assert '"fly"' in error["title"]
        await llm.wait_warning("rpcEndpointUnknown")
        _, end = await llm.run_channel("teleport", {})
        assert end["type"] == "channelError"
        await llm.wait_warning("channelEndpointUnknown")
    async with connect(lms.url, "/runtime") as runtime:
        error = await runtime.rpc_error(
            "searchRuntimeExtensions", {"query": "x", "includeIncompatible": False}
        )
        assert "not implemented" in error["title"]
        await runtime.wait_warning("rpcEndpointUnhandled")
        _, end = await runtime.run_channel("downloadRuntimeExtension", {})
        assert end["type"] == "channelError"
        await runtime.wait_warning("channelEndpointUnhandled")


async def test_invalid_parameters(lms: LMStudioServer) -> None:
    async with connect(lms.url, "/llm") as llm:
        error = await llm.rpc_error("tokenize", {"specifier": by_identifier(LLM_KEY)})
        assert "inputString" in error["title"]
        await llm.wait_warning("rpcParameterTypeError")
        error = await llm.rpc_error("countTokens")  # parameter missing entirely
        assert "missing" in error["title"]
        _, end = await llm.run_channel("predict", {"history": "nope"})
        assert end["type"] == "channelError"
        assert_error(end["error"])
        await llm.wait_warning("channelCreationParameterTypeError")


async def test_faithful_errors_only_warn(make_server: MakeServer) -> None:
    server = await make_server(faithful_errors=True)
    async with connect(server.url, "/llm") as llm:
        call_id = llm.next_id()
        await llm.send({"type": "rpcCall", "endpoint": "fly", "callId": call_id})
        channel = await llm.open_channel("predict", {"history": "nope"})
        await llm.wait_warning("rpcEndpointUnknown")
        await llm.wait_warning("channelCreationParameterTypeError")
        # Real calls still work; the bad ones never got an answer.
        assert await llm.rpc("listLoaded") == []
        assert [f for f in llm.frames if f.get("callId") == call_id] == []
        assert llm.channel_frames(channel) == []


async def test_faithful_errors_still_answer_endpoints_we_lack(make_server: MakeServer) -> None:
    """An endpoint LM Studio implements and this server does not: LM Studio would answer it,
    so even the faithful mode ends the call with an error instead of leaving it hanging."""
    from lmstudio_sdk._protocol.packets import ENDPOINTS
    from lmstudio_sdk.server.router import ROUTER

    lacking = [
        ("/" + namespace, name, endpoint.kind)
        for (namespace, name), endpoint in ENDPOINTS.items()
        if (ROUTER.rpc if endpoint.kind == "rpc" else ROUTER.channel)("/" + namespace, name)
        == "unhandled"
    ]
    if not lacking:
        pytest.skip("this server implements every endpoint of the protocol")
    namespace, name, kind = lacking[0]
    server = await make_server(faithful_errors=True)
    async with connect(server.url, namespace) as client:
        if kind == "rpc":
            frame = await client.call(name, None)
            assert frame["type"] == "rpcError" and "not implemented" in frame["error"]["title"]
        else:
            _, end = await client.run_channel(name, None)
            assert end["type"] == "channelError"
            assert "not implemented" in end["error"]["title"]


async def test_malformed_frames_warn_and_the_socket_keeps_serving(lms: LMStudioServer) -> None:
    async with connect(lms.url, "/llm") as llm:
        await llm.send("{not json")
        await llm.send(json.dumps({"type": "rpcCall", "endpoint": 3}))
        await llm.send(json.dumps({"type": "unheardOf"}))
        await llm.ws.send(b"\x00binary")
        await llm.send({"type": "channelSend", "channelId": 999, "message": {"type": "cancel"}})
        await llm.wait_for(lambda f: len([w for w in llm.warnings()]) >= 5)
        kinds = [w.get("kind") for w in llm.warnings()]
        assert kinds == ["unknown", "unknown", "unknown", "unknown", "channelUnknown"]
        # At most five warnings per socket.
        await llm.send("{again")
        assert await llm.rpc("listLoaded") == []
        assert len(llm.warnings()) == 5


async def test_bad_channel_packet_is_a_warning(lms: LMStudioServer) -> None:
    async with connect(lms.url, "/system") as system:
        channel = await system.open_channel("alive")
        await system.channel_send(channel, {"type": "cancel"})
        await system.wait_warning("channelMessageTypeError")
        assert system.channel_frames(channel) == []


async def test_keep_alive_is_acknowledged(lms: LMStudioServer) -> None:
    async with connect(lms.url, "/system") as system:
        await system.send({"type": "keepAlive"})
        await system.wait_for(lambda f: f.get("type") == "keepAliveAck")


async def test_ack_requests_are_answered(lms: LMStudioServer) -> None:
    async with connect(lms.url, "/system") as system:
        channel = await system.open_channel("alive")
        await system.send(
            {"type": "channelSend", "channelId": channel, "message": {"type": "x"}, "ackId": 7}
        )
        ack = await system.wait_for(lambda f: f.get("type") == "channelAck")
        assert ack == {"type": "channelAck", "channelId": channel, "ackId": 7}


class _CrashingEngine(ScriptedEngine):
    """Tokenizing crashes with a bug-like exception (not a ServerError)."""

    async def load(self, info: Any, config: Any, on_progress: Any) -> Any:
        model = await super().load(info, config, on_progress)

        async def crash(text: str) -> list[int]:
            raise ZeroDivisionError("boom")

        model.tokenize = crash  # type: ignore[method-assign]
        return model


async def test_handler_crash_is_an_error_not_a_dead_socket(
    make_server: MakeServer, caplog: pytest.LogCaptureFixture
) -> None:
    server = await make_server(_CrashingEngine())
    async with connect(server.url, "/llm") as llm:
        await load(llm)
        error = await llm.rpc_error(
            "tokenize", {"specifier": by_identifier(LLM_KEY), "inputString": "x"}
        )
        assert "ZeroDivisionError: boom" in error["title"]
        assert "Traceback" in error["stack"]
        assert await llm.rpc("listLoaded")
    assert "RPC handler failed" in caplog.text


async def test_ids_are_per_kind(lms: LMStudioServer) -> None:
    """callId 1 and channelId 1 may coexist (the official Python SDK does this)."""
    async with connect(lms.url, "/system") as system:
        await system.send({"type": "channelCreate", "endpoint": "alive", "channelId": 1})
        await system.send({"type": "rpcCall", "endpoint": "version", "callId": 1})
        result = await system.wait_for(lambda f: f.get("callId") == 1)
        assert result["type"] == "rpcResult"
        await system.send({"type": "channelCreate", "endpoint": "alive", "channelId": 1})
        await system.wait_warning("channelAlreadyOpen")


async def test_statistics(lms: LMStudioServer) -> None:
    async with (
        connect(lms.url, "/llm", "alice", "a") as llm,
        connect(lms.url, "/system", "bob", "b"),
    ):
        await load(llm)
        stats = lms.statistics()
        assert stats.open_sockets == 2
        assert stats.sockets_by_namespace == {"/llm": 1, "/system": 1}
        assert stats.identities == {"alice": 1, "bob": 1}
        assert stats.loaded_instances == (LLM_KEY,)


async def test_stop_unloads_everything(make_server: MakeServer) -> None:
    server = await make_server()
    async with connect(server.url, "/llm") as llm:
        await load(llm)
        instance = server.models.instance(LLM_KEY)
        assert instance is not None
        await server.stop()
        assert instance.unloaded.is_set()
        await llm.closed.wait()


async def test_absurdly_nested_frame_is_a_warning(lms: LMStudioServer) -> None:
    async with connect(lms.url, "/system") as system:
        await system.send('{"a":' * 100_000)
        await system.wait_warning("unknown")
        assert (await system.rpc("version"))["version"]


PNG_1x1 = (
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9"
    "awAAAABJRU5ErkJggg=="
)


async def test_upload_file_base64_and_release_with_identity(lms: LMStudioServer) -> None:
    import base64

    async with connect(lms.url, "/files", "uploader", "pw") as files:
        result = await files.rpc("uploadFileBase64", {"name": "dot.png", "contentBase64": PNG_1x1})
        assert set(result) == {"identifier", "fileType", "sizeBytes"}
        assert result["fileType"] == "image"
        assert result["sizeBytes"] == len(base64.b64decode(PNG_1x1))
        assert result["identifier"].endswith(".png")
        assert lms.files.read(result["identifier"], "uploader") == base64.b64decode(PNG_1x1)
        text = await files.rpc(
            "uploadFileBase64",
            {"name": "notes.txt", "contentBase64": base64.b64encode(b"hi").decode()},
        )
        assert text["fileType"] == "text/plain" and text["sizeBytes"] == 2
        error = await files.rpc_error("uploadFileBase64", {"name": "x", "contentBase64": "%%%"})
        assert "base64" in error["title"]
        assert lms.statistics().uploaded_files == 2
    # The identity's last socket closed: its files are released.
    await asyncio.wait_for(ServerRecorder.of(lms).wait_open_sockets(0), 5)
    assert lms.statistics().uploaded_files == 0
    from lmstudio_sdk.server.errors import ServerError

    with pytest.raises(ServerError, match="No uploaded file"):
        lms.files.read(result["identifier"], "uploader")


async def test_predictions_get_the_bytes_of_their_own_uploads_only(
    make_server: MakeServer,
) -> None:
    import base64

    seen: list[dict[str, bytes]] = []

    class RecordingEngine(ScriptedEngine):
        async def load(self, *args: Any, **kwargs: Any) -> Any:
            loaded = await super().load(*args, **kwargs)
            original = loaded.predict

            def predict(request: PredictionRequest) -> Any:
                seen.append(dict(request.files))
                return original(request)

            loaded.predict = predict  # type: ignore[method-assign]
            return loaded

    server = await make_server(RecordingEngine())
    # Files live while their identity has a socket open: keep /files open throughout.
    async with (
        connect(server.url, "/files", "owner", "pw") as files,
        connect(server.url, "/llm", "owner", "pw") as llm,
    ):
        upload = await files.rpc("uploadFileBase64", {"name": "dot.png", "contentBase64": PNG_1x1})
        image_part = {
            "type": "file",
            "name": "dot.png",
            "identifier": upload["identifier"],
            "sizeBytes": upload["sizeBytes"],
            "fileType": "image",
        }
        content = [{"type": "text", "text": "hi"}, image_part]
        creation = {
            "modelSpecifier": {"type": "query", "query": {"identifier": VISION_KEY}},
            "history": {"messages": [{"role": "user", "content": content}]},
            "predictionConfigStack": EMPTY_STACK,
        }
        load = {"identifier": VISION_KEY, "loadConfigStack": EMPTY_STACK}
        await llm.run_channel("getOrLoad", load)
        _, end = await llm.run_channel("predict", creation)
        assert end["type"] == "channelClose"
        async with connect(server.url, "/llm", "stranger", "pw") as other:
            _, refused = await other.run_channel("predict", creation)
        assert refused["type"] == "channelError"
        assert "No uploaded file" in refused["error"]["title"]
    assert seen == [{upload["identifier"]: base64.b64decode(PNG_1x1)}]
