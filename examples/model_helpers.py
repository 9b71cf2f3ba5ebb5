"""Before loading a model: will it fit? After: what is it doing, what are its defaults?

python examples/model_helpers.py [HOST] [MODEL] [CONTEXT_LENGTH]

Estimates the memory the model takes at that context length (weights plus KV cache, no
loading), loads it only if the estimate passes the server's guardrails, then reads its
processing state and its base prediction config, and finds it again by a full query.
"""

from __future__ import annotations

import sys

import lmstudio_sdk as lms

MIB = 1024 * 1024


def main(host: str | None, model_key: str, context_length: int) -> None:
    with lms.Client(host) as client:
        estimate = client.llm.estimate_resources_usage(
            model_key, {"context_length": context_length}
        )
        memory = estimate.memory
        print(
            f"{model_key} at {context_length} tokens: {memory.model_bytes / MIB:.0f} MiB weights "
            f"+ {memory.context_bytes / MIB:.0f} MiB KV cache = {memory.total_bytes / MIB:.0f} "
            f"MiB ({memory.confidence} confidence)"
        )
        if not estimate.passes_guardrails:
            print("too large for this machine: not loading it")
            return
        model = client.llm.load(model_key, config={"context_length": context_length})
        try:
            state = model.get_processing_state()
            print(f"state: {state.status}, {state.queued} request(s)")
            base = model.get_base_prediction_config()
            print(f"default temperature: {base.temperature}")
            info = model.info
            assert info is not None
            # A dynamic handle by query: whatever loaded model has that path, now or later.
            by_path = client.llm.handle(lms.ModelQuery(path=info.path))
            print(f"found by path: {by_path.get_info().identifier}")
        finally:
            model.unload()


def arguments() -> tuple[str | None, str, int]:
    args = sys.argv[1:4]
    host = args[0] if args else None
    model_key = args[1] if len(args) > 1 else "smollm2-135m-instruct"
    return host, model_key, int(args[2]) if len(args) > 2 else 2048


if __name__ == "__main__":
    main(*arguments())
