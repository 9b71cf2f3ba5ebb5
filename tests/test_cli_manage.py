"""``lmstudio-sdk ls | ps | load | unload | get | catalog``, run as subprocesses against an
embedded server with a model catalogue (tests/repository/catalog_kit.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import API_TOKEN, CatalogServer, RunningServer
from tests.repository.catalog_kit import MIB, write_gguf

ECHO = "scripted-echo-1b"


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lmstudio_sdk.cli", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, **(env or {})},
    )


def ok(*args: str) -> subprocess.CompletedProcess[str]:
    done = cli(*args)
    assert done.returncode == 0, done.stderr
    return done


def test_ls_lists_downloaded_models(catalog_server: CatalogServer) -> None:
    out = ok("ls", "--host", catalog_server.url).stdout
    assert out.startswith("You have ")
    assert "LLM" in out and "EMBEDDING" in out and ECHO in out
    llms = json.loads(ok("ls", "--llm", "--json", "--host", catalog_server.url).stdout)
    assert ECHO in {m["modelKey"] for m in llms}
    assert {m["type"] for m in llms} == {"llm"}


def test_load_ps_unload(catalog_server: CatalogServer) -> None:
    host = ("--host", catalog_server.url)
    done = ok(
        "load", ECHO, "--context-length", "1024", "--ttl", "300", "--identifier", "cli-a", *host
    )
    assert "Loaded scripted-echo-1b as 'cli-a' (context 1024)" in done.stdout
    assert "Loading scripted-echo-1b" in done.stderr and "100%" in done.stderr
    info = json.loads(ok("load", ECHO, "--identifier", "cli-b", "--json", *host).stdout)
    assert info["identifier"] == "cli-b"
    table = ok("ps", *host).stdout.splitlines()
    assert table[0].split() == ["IDENTIFIER", "MODEL", "TYPE", "SIZE", "CONTEXT", "TTL"]
    rows = {line.split()[0]: line.split() for line in table[1:]}
    assert rows["cli-a"][-2:] == ["1024", "300s"]
    loaded = json.loads(ok("ps", "--json", *host).stdout)
    assert {"cli-a", "cli-b"} <= {m["identifier"] for m in loaded}
    assert "✓ LOADED" in ok("ls", *host).stdout
    assert ok("unload", "cli-a", *host).stdout == "Unloaded cli-a\n"
    gone = cli("unload", "cli-a", *host)
    assert gone.returncode == 1 and "no loaded model has the identifier 'cli-a'" in gone.stderr
    out = json.loads(ok("unload", "--all", "--json", *host).stdout)
    assert "cli-b" in out["unloaded"]
    assert json.loads(ok("ps", "--json", *host).stdout) == []
    assert "No models are loaded" in ok("ps", *host).stdout


def test_load_reports_an_unknown_model(catalog_server: CatalogServer) -> None:
    done = cli("load", "no-such-model", "--host", catalog_server.url)
    assert done.returncode == 1
    assert done.stderr.startswith("error: ") and "no-such-model" in done.stderr


def test_get_searches_and_downloads_with_progress(catalog_server: CatalogServer) -> None:
    host = ("--host", catalog_server.url)
    listing = ok("get", "tiny", "--list", *host).stdout
    assert "acme/Tiny-Chat-GGUF (staff pick)" in listing
    assert "Tiny-Chat-Q8_0.gguf *" in listing  # the recommended file
    done = ok("get", "tiny chat", "--quant", "q4_k_m", *host)
    assert "Downloading acme/Tiny-Chat-GGUF Q4_K_M (1.05 MB)" in done.stderr
    assert "100% 1.05 MB/1.05 MB" in done.stderr
    assert done.stdout.startswith("Downloaded. Load it with: lmstudio-sdk load tiny-chat")
    assert (catalog_server.models_dir / "acme/Tiny-Chat-GGUF/Tiny-Chat-Q4_K_M.gguf").is_file()
    result = json.loads(ok("get", "tiny-embed-gguf", "--json", *host).stdout)
    assert result == {
        "modelKey": "text-embedding-tiny-embed",
        "identifier": "acme/Tiny-Embed-GGUF",
        "file": "Tiny-Embed-F16.gguf",
        "sizeBytes": MIB // 2,
    }
    missing = cli("get", "tiny chat", "--quant", "Q2_K", *host)
    assert missing.returncode == 1 and "choose from Q4_K_M, Q8_0" in missing.stderr
    none = cli("get", "zzzz-nothing", *host)
    assert none.returncode == 1 and "no model matches" in none.stderr


def test_get_without_a_catalogue_says_how_to_get_one(server: RunningServer) -> None:
    done = cli("get", "tiny", "--host", server.url)
    assert done.returncode == 1 and "--catalog" in done.stderr


def test_the_api_token_option_and_its_environment_variable(token_server: RunningServer) -> None:
    refused = cli("ps", "--host", token_server.url, env={"LM_API_TOKEN": ""})
    assert refused.returncode == 1 and refused.stderr.startswith("error: ")
    ok("ps", "--host", token_server.url, "--api-token", API_TOKEN)
    assert cli("ps", "--host", token_server.url, env={"LM_API_TOKEN": API_TOKEN}).returncode == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["load", ECHO, "--context-length", "0"], "must be positive"),
        (["load", ECHO, "--ttl", "-1"], "must be a positive number"),
        (["unload"], "one of the arguments identifier --all/-a is required"),
        (["ps", "--timeout", "nan"], "must be a positive number"),
        (["ls", "--host", "nohostport"], "needs a port"),
    ],
)
def test_bad_arguments_are_refused(args: list[str], message: str) -> None:
    done = cli(*args)
    assert done.returncode != 0 and message in done.stderr


def test_catalog_init_makes_a_catalogue_that_serve_accepts(tmp_path: Path) -> None:
    write_gguf(tmp_path / "Tiny-GGUF/Tiny-Q4_0.gguf", name="Tiny", size=4096)
    out = ok("catalog", "init", str(tmp_path), "--publisher", "me").stdout
    assert out == f"Wrote {tmp_path / 'catalog.json'}: 1 models, 1 files\n"
    manifest = json.loads((tmp_path / "catalog.json").read_text())
    assert manifest["models"][0]["id"] == "me/Tiny-GGUF"
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "catalog.json").write_text("{}")
    done = cli("serve", "--port", "0", "--catalog", str(bad))
    assert done.returncode == 2 and "'models' list" in done.stderr
