"""One client over several hosts: predictions spread over them, a list embedded in slices.

python examples/pool.py HOST,HOST[,HOST…] [MODEL] [EMBEDDING_MODEL]
"""

from __future__ import annotations

import asyncio
import sys
from collections import Counter

import lmstudio_sdk as lms


async def main(hosts: list[str], model_key: str, embedding_key: str | None) -> None:
    async with lms.AsyncPool(hosts, retry_unstarted=True) as pool:
        model = await pool.llm.model(model_key)
        questions = [f"Question {i}: name a colour." for i in range(6)]
        streams = [model.respond_stream(q, config={"max_tokens": 32}) for q in questions]
        results = await asyncio.gather(*(stream.result() for stream in streams))
        for stream, result in zip(streams, results, strict=True):
            print(f"{stream.host}: {result.content!r}")
        print("predictions per host:", dict(Counter(stream.host for stream in streams)))
        if embedding_key is not None:
            embedder = await pool.embedding.model(embedding_key)
            vectors = await embedder.embed([f"text {i}" for i in range(9)])
            print(f"{len(vectors)} vectors of {len(vectors[0])} dimensions")


def arguments() -> tuple[list[str], str, str | None]:
    """HOSTs (comma-separated), MODEL and EMBEDDING_MODEL from the command line."""
    args = sys.argv[1:4]
    if not args:
        sys.exit(__doc__)
    model = args[1] if len(args) > 1 else "qwen2.5-7b-instruct"
    return args[0].split(","), model, args[2] if len(args) > 2 else None


if __name__ == "__main__":
    asyncio.run(main(*arguments()))
