"""Run the embedded LM Studio-compatible server inside this process, and chat with it.

    python examples/embedded_server.py

The server listens on a free port of 127.0.0.1 in a thread of its own, with the deterministic
``scripted`` engine (model ``scripted-echo-1b`` answers "You said: …"); any LM Studio client,
this SDK's or the official ones, can talk to ``handle.url`` meanwhile. For real inference on
GGUF models run ``lmstudio-sdk serve --engine llama`` instead (see docs/server.md).
"""

from __future__ import annotations

import lmstudio_sdk as lms
from lmstudio_sdk.server import ScriptedEngine, ServerThread


def main() -> None:
    with ServerThread(engine_factory=ScriptedEngine, port=0) as handle:
        print(f"serving on {handle.url}")
        with lms.Client(handle.url) as client:
            print("models:", [m.model_key for m in client.system.list_downloaded_models()])
            model = client.llm.model("scripted-echo-1b")  # loaded on first use
            result = model.respond("Hello, server!")
            print(result.content, f"[{result.stats.stop_reason}]")
    print("stopped")


if __name__ == "__main__":
    main()
