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
