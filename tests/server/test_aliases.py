"""Model aliases (``serve --alias NAME=KEY``): a model served under another key and path."""

from __future__ import annotations

import pytest

from lmstudio_sdk.cli import main
from lmstudio_sdk.server import LMStudioServer
from lmstudio_sdk.server.engines.aliases import AliasedEngine, ModelAlias, parse_alias
from lmstudio_sdk.server.engines.scripted import ScriptedEngine

from .helpers import EMBED_KEY, LLM_KEY, connect, load, predict_params

ALIASES = [
    parse_alias(f"hugging-quants/Llama-3.2-1B-Instruct-GGUF={LLM_KEY}"),
    parse_alias(f"nomic-ai/nomic-embed-text-v1.5={EMBED_KEY}"),
    parse_alias(f"my-echo={LLM_KEY}"),
]


def test_parse_alias() -> None:
    assert parse_alias(" a/b = c ") == ModelAlias(name="a/b", target="c")
    for bad in ("no-equals", "=key", "name=", "a/b/c=key", "bad name=key"):
        with pytest.raises(ValueError, match="alias"):
            parse_alias(bad)


async def test_aliases_are_downloaded_models_of_their_own() -> None:
    engine = AliasedEngine(ScriptedEngine(), ALIASES)
    assert engine.missing_targets() == []
    async with LMStudioServer(engine, host="127.0.0.1", port=0) as lms:
        async with connect(lms.url, "/system") as system:
            models = {m["modelKey"]: m for m in await system.rpc("listDownloadedModels")}
        # Keys as LM Studio derives them from the folder name; paths in that folder.
        llama = models["llama-3.2-1b-instruct"]
        assert llama["path"] == (
            "hugging-quants/Llama-3.2-1B-Instruct-GGUF/scripted-echo-1b-Q4_K_M.gguf"
        )
        assert llama["publisher"] == "hugging-quants" and llama["type"] == "llm"
        nomic = models["text-embedding-nomic-embed-text-v1.5"]
        assert nomic["type"] == "embedding" and nomic["path"].startswith("nomic-ai/")
        assert models["my-echo"]["path"].startswith("lmstudio-sdk-alias/my-echo/")
        assert {LLM_KEY, EMBED_KEY} <= set(models)  # the targets stay listed

        async with connect(lms.url, "/llm") as llm:
            # Loaded by key and by path, as its own instance, predicting with the target.
            info = await load(llm, "llama-3.2-1b-instruct")
            assert info["identifier"] == "llama-3.2-1b-instruct"
            assert info["modelKey"] == "llama-3.2-1b-instruct"
            assert info["path"] == llama["path"]
            target = await load(llm, LLM_KEY)
            assert target["identifier"] == LLM_KEY
            packets, _ = await llm.run_channel(
                "predict",
                predict_params("hello alias", "hugging-quants/llama-3.2"),
            )
            assert packets[-1]["type"] == "success", packets
            assert packets[-1]["modelInfo"]["identifier"] == "llama-3.2-1b-instruct"
        async with connect(lms.url, "/embedding") as emb:
            info = await load(emb, "nomic-ai/nomic-embed-text-v1.5")
            assert info["modelKey"] == "text-embedding-nomic-embed-text-v1.5"


def test_serve_refuses_an_alias_of_a_missing_model(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--alias", "a/b=no-such-model", "--port", "0"]) == 2
    err = capsys.readouterr().err
    assert "--alias" in err and "'no-such-model'" in err and "models list" in err


def test_serve_refuses_a_malformed_alias(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["serve", "--alias", "nothing"])
    assert caught.value.code == 2
    err = capsys.readouterr().err
    assert "argument --alias" in err and "NAME=TARGET" in err and "Traceback" not in err
