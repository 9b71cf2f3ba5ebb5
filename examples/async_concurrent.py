"""Several predictions at once on one async client, and cancelling one of them.

python examples/async_concurrent.py [HOST] [MODEL]
"""

from __future__ import annotations

import asyncio
import sys

import lmstudio_sdk as lms


async def main(host: str | None, model_key: str | None) -> None:
    async with lms.AsyncClient(host) as client:
        model = await client.llm.model(model_key)
        questions = ["Name a colour.", "Name a planet.", "Name a fruit."]
        results = await asyncio.gather(
            *(model.respond(q, config={"max_tokens": 32}) for q in questions)
        )
        for question, result in zip(questions, results, strict=True):
            print(f"{question} -> {result.content!r}")

        stream = model.respond_stream("Tell me a very long story.", config={"max_tokens": 500})
        async for _ in stream:
            stream.cancel()  # the server stops; result() reports why
        print("cancelled:", (await stream.result()).stats.stop_reason)


def arguments() -> tuple[str | None, str | None]:
    """HOST and MODEL from the command line; None lets the SDK choose."""
    args = sys.argv[1:3]
    return (args[0] if args else None, args[1] if len(args) > 1 else None)


if __name__ == "__main__":
    asyncio.run(main(*arguments()))
