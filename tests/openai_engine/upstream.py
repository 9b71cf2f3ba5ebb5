"""llama-cpp-python's own OpenAI-compatible server (``python -m llama_cpp.server``) as the
upstream of the openai engine: a server nobody here wrote, on the bundled small models.

One process serves both models (a config file with one entry per model; it swaps them on
demand). Start-up waits for ``GET /v1/models``; stopping is SIGTERM, then SIGKILL.
"""

from __future__ import annotations

import importlib.util
import json
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

SMOL = "smollm2-135m-instruct"
MINILM = "text-embedding-all-minilm-l6-v2"
SMOL_FILE = "HuggingFaceTB/SmolLM2-135M-Instruct-GGUF/SmolLM2-135M-Instruct-Q4_1.gguf"
MINILM_FILE = "sentence-transformers/all-MiniLM-L6-v2-GGUF/all-MiniLM-L6-v2-f16.gguf"
# SmolLM2 is served with this context, so that a prompt of 10,000 words is refused upstream.
UPSTREAM_CONTEXT = 2048
START_TIMEOUT_S = 60.0

MISSING = [
    m
    for m in ("llama_cpp", "fastapi", "uvicorn", "sse_starlette", "starlette_context")
    if importlib.util.find_spec(m) is None
]
SKIP_REASON = (
    f"llama-cpp-python's server needs {', '.join(MISSING)} "
    "(scripts/install-engine.sh, then scripts/bootstrap.sh --dev)"
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Upstream:
    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)

    def kill(self) -> None:
        self.process.kill()
        self.process.wait(5)


def start_upstream(models_dir: Path, work_dir: Path, *, embedding: bool = True) -> Upstream:
    port = free_port()
    models = [
        {
            "model": str(models_dir / SMOL_FILE),
            "model_alias": SMOL,
            "n_ctx": UPSTREAM_CONTEXT,
            "n_threads": 1,
            "verbose": False,
        }
    ]
    if embedding:
        models.append(
            {
                "model": str(models_dir / MINILM_FILE),
                "model_alias": MINILM,
                "embedding": True,
                "n_threads": 1,
                "verbose": False,
            }
        )
    config = work_dir / f"upstream-{port}.json"
    config.write_text(json.dumps({"host": "127.0.0.1", "port": port, "models": models}))
    log = work_dir / f"upstream-{port}.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "llama_cpp.server", "--config_file", str(config)],
            stdout=sink,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    upstream = Upstream(f"http://127.0.0.1:{port}", process, log)
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"llama_cpp.server exited: {log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{upstream.url}/v1/models", timeout=1) as answer:
                if answer.status == 200:
                    return upstream
        except (urllib.error.URLError, OSError):
            time.sleep(0.1)
    upstream.stop()
    raise RuntimeError(f"llama_cpp.server did not start: {log.read_text()[-3000:]}")
