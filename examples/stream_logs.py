"""Watch the server's diagnostics log while a prediction runs (async face): the prompt the
model really saw, its output with stats, and the server's own log records.

    python examples/stream_logs.py [HOST] [MODEL]

HOST defaults to discovery on this machine; MODEL to any loaded LLM.
"""

from __future__ import annotations

import asyncio
import sys

import lmstudio_sdk as lms


async def watch(logs: lms.AsyncLogStream, identifier: str) -> None:
    """Print events until the output of a prediction of ``identifier``."""
    async for event in logs:
        data = event.data
        if isinstance(data, lms.PredictionInputLog):
            print(f"[input to {data.model_identifier}]\n{data.input}")
        elif isinstance(data, lms.PredictionOutputLog):
            print(f"[output of {data.model_identifier}] {data.output!r}")
            if data.stats is not None:
                print(
                    f"[stats] {data.stats.predicted_tokens_count} tokens, {data.stats.stop_reason}"
                )
            if data.model_identifier == identifier:
                return
        elif isinstance(data, lms.ServerLog):
            print(f"[server {data.level}] {data.content}")


async def main(host: str | None, model_key: str | None) -> None:
    async with lms.AsyncClient(host) as client:
        model = await client.llm.model(model_key)
        async with await client.diagnostics.stream_logs(timeout=60) as logs:
            watcher = asyncio.create_task(watch(logs, model.identifier))
            # The server starts sending once it has seen the subscription, which races with
            # the first prediction (another socket): ask again until the log showed one.
            for question in ("Name a colour.", "Name a fruit.", "Name a planet."):
                reply = await model.respond(question, config={"max_tokens": 16})
                print(f"[reply] {reply.content!r}")
                done, _ = await asyncio.wait({watcher}, timeout=1.0)
                if done:
                    break
            await asyncio.wait_for(watcher, 60)


if __name__ == "__main__":
    args = sys.argv[1:]
    asyncio.run(main(args[0] if args else None, args[1] if len(args) > 1 else None))
