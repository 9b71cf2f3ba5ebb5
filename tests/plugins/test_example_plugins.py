"""The example plugins of examples/plugins, run as users run them (``lmstudio-sdk plugin dev``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import lmstudio_sdk as lms
from lmstudio_sdk.server import ServerRecorder, ServerThread

from .harness import EXAMPLES, DevPlugin, start_plugin

PREPROCESSOR = "lmstudio-sdk-examples/context-preprocessor"
GENERATOR = "lmstudio-sdk-examples/proxy-generator"
TOOLS = "lmstudio-sdk-examples/file-tools"


@pytest.fixture(scope="module")
def examples(plugin_server: ServerThread) -> Iterator[None]:
    started: list[DevPlugin] = []
    try:
        started.append(
            start_plugin(
                plugin_server,
                EXAMPLES / "context_preprocessor",
                PREPROCESSOR,
                {"promptPreprocessor"},
            )
        )
        started.append(
            start_plugin(plugin_server, EXAMPLES / "proxy_generator", GENERATOR, {"generator"})
        )
        started.append(
            start_plugin(plugin_server, EXAMPLES / "file_tools", TOOLS, {"toolsProvider"})
        )
        yield
    finally:
        for plugin in started:
            plugin.stop()


def test_context_preprocessor_adds_the_matching_note(
    plugin_server: ServerThread, examples: None, tmp_path: Path
) -> None:
    (tmp_path / "cats.txt").write_text("Cats sleep sixteen hours a day.")
    (tmp_path / "rust.md").write_text("Rust has no garbage collector.")
    config = {"folder": str(tmp_path), "top_k": 1}
    with lms.Client(plugin_server.url, timeout=20) as client:
        model = client.llm.model("scripted-echo-1b")
        result = model.respond(
            "How long do cats sleep?",
            config={"raw": lms.plugins_field([(PREPROCESSOR, config)])},
        )
        assert result.content == (
            "You said: Context:\n[cats.txt] Cats sleep sixteen hours a day.\n\n"
            "Question: How long do cats sleep?"
        )
        statuses = ServerRecorder.of(plugin_server.server).plugin_statuses
        assert (PREPROCESSOR, "done", "Added 1 note(s)") in statuses
        with pytest.raises(lms.LMStudioServerError, match=r"notes folder .* does not exist"):
            model.respond(
                "hi",
                config={"raw": lms.plugins_field([(PREPROCESSOR, {"folder": "/nonexistent"})])},
            )


async def test_proxy_generator_answers_with_another_model(
    plugin_server: ServerThread, examples: None
) -> None:
    async with lms.AsyncClient(plugin_server.url, timeout=20) as client:
        generator = client.plugins.generator(GENERATOR, config={"prefix": "[via plugin] "})
        result = await generator.respond("Name a planet.")
    assert result.content == "[via plugin] You said: Name a planet."


async def test_file_tools_calculate_and_read_only_inside_their_folder(
    plugin_server: ServerThread, examples: None, tmp_path: Path
) -> None:
    (tmp_path / "inside.txt").write_text("secret of the folder")
    (tmp_path.parent / "outside.txt").write_text("not for the model")
    config = {"fields": [{"key": "folder", "value": str(tmp_path)}]}
    async with lms.AsyncClient(plugin_server.url, timeout=20) as client:
        channel = await client.open_channel(
            "plugins",
            "startToolUseSession",
            {
                "pluginIdentifier": TOOLS,
                "pluginConfigSpecifier": {"type": "direct", "config": config},
            },
        )
        ready = await channel.receive_value(10)
        assert [t["function"]["name"] for t in ready["toolDefinitions"]] == [
            "calculate",
            "read_file",
        ]

        async def call(call_id: int, name: str, arguments: dict[str, object]) -> dict[str, object]:
            channel.send(
                {"type": "callTool", "callId": call_id, "name": name, "arguments": arguments}
            )
            while True:
                packet: dict[str, object] = await channel.receive_value(10)
                if packet["type"] in ("toolCallComplete", "toolCallError"):
                    return packet

        assert (await call(1, "calculate", {"expression": "2 * (3 + 4)"}))["result"] == 14
        refused = await call(2, "calculate", {"expression": "__import__('os')"})
        assert "only numbers" in str(refused["error"])
        assert (await call(3, "read_file", {"path": "inside.txt"}))[
            "result"
        ] == "secret of the folder"
        for path in ("../outside.txt", str(tmp_path.parent / "outside.txt")):
            outside = await call(4, "read_file", {"path": path})
            assert outside["type"] == "toolCallError"
            assert "outside the allowed folder" in str(outside["error"])
        channel.send({"type": "discardSession"})
