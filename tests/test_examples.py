"""The examples run as users would run them (subprocesses) against the scripted server."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from lmstudio_sdk.server import ServerThread
from tests.conftest import CatalogServer, RunningServer
from tests.llama.conftest import models_dir, requires_engine  # noqa: F401  # the fixture

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def run_example(name: str, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / name), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_chat_stream(server: RunningServer) -> None:
    out = run_example("chat_stream.py", server.url, "scripted-echo-1b")
    assert out.startswith("You said: What is a local LLM?")
    assert "[eosFound," in out


def test_from_lmstudio(server: RunningServer) -> None:
    call = '!tool multiply {"a": 6, "b": 7}'
    out = run_example("from_lmstudio.py", server.url, "scripted-echo-1b", call)
    assert out.splitlines()[:3] == [
        "2 rounds; the chat now has 5 messages",
        "Tool result: 42.0",
        "no-such-model-anywhere: not found, as expected",
    ]
    assert "loaded: scripted-echo-1b" in out


def test_async_concurrent(slow_server: RunningServer) -> None:
    # 20 ms per token: the cancel sent after the first fragment arrives mid-reply.
    out = run_example("async_concurrent.py", slow_server.url, "scripted-echo-1b")
    assert "Name a planet. -> 'You said: Name a planet.'" in out
    assert "cancelled: userStopped" in out


def test_embeddings(server: RunningServer) -> None:
    out = run_example("embeddings.py", server.url, "scripted-embed-small")
    lines = out.splitlines()
    assert len(lines) == 3
    # The scripted embedder is a hashed bag of words: "cat" shares a word with the query.
    assert lines[0].endswith("The cat sleeps on the sofa.")


def test_download_model(catalog_server: CatalogServer) -> None:
    out = run_example("download_model.py", catalog_server.url, "tiny chat")
    assert out.startswith("Tiny-Chat-GGUF: Tiny-Chat-Q8_0.gguf (2.1 MB)\n")
    assert "100% 2.1/2.1 MB" in out and "checking and installing..." in out
    assert out.endswith("downloaded: load it with client.llm.model('tiny-chat')\n")
    assert (catalog_server.models_dir / "acme/Tiny-Chat-GGUF/Tiny-Chat-Q8_0.gguf").is_file()


def test_stream_logs(server: RunningServer) -> None:
    out = run_example("stream_logs.py", server.url, "scripted-echo-1b")
    assert "[reply] 'You said: Name a colour.'" in out
    assert "[input to scripted-echo-1b]" in out
    assert "[output of scripted-echo-1b] 'You said: Name a" in out
    assert "[stats]" in out and "eosFound" in out


@pytest.mark.parametrize("name", sorted(p.name for p in EXAMPLES.glob("*.py")))
def test_every_example_has_a_usage_docstring(name: str) -> None:
    text = (EXAMPLES / name).read_text()
    assert text.startswith('"""') and f"python examples/{name}" in text


def test_pool(server: RunningServer, slow_server: RunningServer) -> None:
    hosts = f"{server.url},{slow_server.url}"
    out = run_example("pool.py", hosts, "scripted-echo-1b", "scripted-embed-small")
    assert "You said: Question 5: name a colour." in out
    per_host = next(line for line in out.splitlines() if line.startswith("predictions per host:"))
    assert server.url in per_host and slow_server.url in per_host  # both hosts served
    assert "9 vectors of" in out


def test_structured_output_against_an_engine_that_ignores_the_schema(server: RunningServer) -> None:
    # The scripted engine echoes instead of following the schema: the typed error path.
    out = run_example("structured_output.py", server.url, "scripted-echo-1b")
    assert out == "no valid Person (eosFound): 'You said: Invent a person.'\n"


def test_logprobs_when_the_engine_sends_none(server: RunningServer) -> None:
    out = run_example("logprobs.py", server.url, "scripted-echo-1b")
    assert out == "the server sent no log-probabilities\n"


def test_tool_agent(server: RunningServer) -> None:
    # The scripted model calls the tools its message names, both in one round.
    question = '!tool multiply {"a": 12.5, "b": 8}\n!tool current_time {"timezone_offset_hours": 0}'
    out = run_example("tool_agent.py", server.url, "scripted-echo-1b", question)
    lines = out.splitlines()
    assert lines[0] == "[round 0] multiply({'a': 12.5, 'b': 8}) -> 100.0"
    assert lines[1].startswith("[round 0] current_time({'timezone_offset_hours': 0}) -> \"20")
    assert lines[2].startswith('Tool result: 100.0, "20')
    assert lines[3] == "[2 rounds, 5 messages in the chat]"


def test_chat_history(server: RunningServer, tmp_path: Path) -> None:
    saved = tmp_path / "chat.json"
    out = run_example("chat_history.py", server.url, "scripted-echo-1b", str(saved))
    assert out.splitlines()[0] == f"saved 3 messages to {saved}"
    assert "assistant: You said: Name another one." in out
    assert saved.read_text().startswith('{"messages":[{"role":"system"')


def test_mcp_tools(server: RunningServer) -> None:
    pytest.importorskip("mcp")
    mcp_server = Path(__file__).resolve().parent / "mcp" / "mcp_server.py"
    question = '!tool add {"a": 2, "b": 3}'  # the scripted model calls the MCP tool
    out = run_example(
        "mcp_tools.py",
        server.url,
        "scripted-echo-1b",
        question,
        "--",
        sys.executable,
        str(mcp_server),
    )
    assert out.splitlines()[0].startswith("MCP tools: add, fail, slow")
    assert "[add({'a': 2, 'b': 3}) -> {\"result\":5}]" in out
    assert out.rstrip().endswith('Tool result: {"result":5}')


def test_model_helpers(server: RunningServer) -> None:
    out = run_example("model_helpers.py", server.url, "scripted-echo-1b", "1024")
    lines = out.splitlines()
    # The scripted engine has no GGUF header: the server's rule of thumb, low confidence.
    assert lines[0].startswith("scripted-echo-1b at 1024 tokens: 770 MiB weights + 128 MiB KV")
    assert lines[0].endswith("(low confidence)")
    assert lines[1:3] == ["state: idle, 0 request(s)", "default temperature: 0.8"]
    # Another test may have an instance of that model loaded too: the first one matches.
    assert lines[3].startswith("found by path: scripted-echo-1b") and len(lines) == 4


def test_retrieval(server: RunningServer) -> None:
    out = run_example("retrieval.py", server.url, "scripted-echo-1b", "scripted-embed-small")
    lines = out.splitlines()
    # The question is about bread: bread.md's chunks rank first (the scripted embedder shares
    # words), and the echo model's reply carries the retrieved context.
    assert lines[0].split()[1] == "bread.md", out
    assert "You said: Answer from these excerpts only." in out
    assert "[bread.md]" in out and "230 degrees" in out


def test_chat_with_file(server: RunningServer) -> None:
    out = run_example("chat_with_file.py", server.url, "scripted-echo-1b")
    lines = out.splitlines()
    assert lines[0] == "uploaded handbook.txt: 138 bytes, text/plain"
    assert lines[1] == "You said: When do backups run?"


def test_embedded_server() -> None:
    out = run_example("embedded_server.py")
    lines = out.splitlines()
    assert lines[0].startswith("serving on ws://127.0.0.1:")
    assert lines[1] == "models: ['scripted-echo-1b', 'scripted-vision-1b', 'scripted-embed-small']"
    assert lines[2] == "You said: Hello, server! [eosFound]"
    assert lines[3] == "stopped"


@pytest.mark.llama
@requires_engine
def test_speculative_decoding(models_dir: Path) -> None:  # noqa: F811
    from lmstudio_sdk.server.engines.llama import LlamaEngine

    with ServerThread(engine_factory=lambda: LlamaEngine(models_dir, n_threads=1), port=0) as h:
        out = run_example("speculative_decoding.py", h.url, "smollm2-135m-instruct")
    alone, drafted, counts = out.splitlines()
    assert alone.startswith("[alone] ")
    assert drafted.startswith("[with draft smollm2-135m-instruct] ")
    # The same reply, token for token.
    assert alone.split(": ", 1)[1] == drafted.split(": ", 1)[1]
    assert counts.startswith("drafted ") and counts.endswith("(draft model smollm2-135m-instruct)")
    total, accepted = (int(counts.split()[i].rstrip(":,")) for i in (1, 3))
    assert 0 < accepted <= total
