"""Rank sentences by similarity to a query with an embedding model.

python examples/embeddings.py [HOST] [EMBEDDING_MODEL]
"""

from __future__ import annotations

import math
import sys

import lmstudio_sdk as lms

SENTENCES = [
    "The cat sleeps on the sofa.",
    "Interest rates rose again this quarter.",
    "A kitten naps on a cushion.",
]


def cosine(a: list[float], b: list[float]) -> float:
    dot = math.fsum(x * y for x, y in zip(a, b, strict=True))
    return dot / math.sqrt(math.fsum(x * x for x in a) * math.fsum(y * y for y in b))


def main(host: str | None, model_key: str | None) -> None:
    with lms.Client(host) as client:
        model = client.embedding.model(model_key)
        query, *vectors = model.embed(
            ["Where is the cat?", *SENTENCES]
        )  # one round trip each, sent at once
        ranked = sorted(zip(SENTENCES, vectors, strict=True), key=lambda p: -cosine(query, p[1]))
        for sentence, vector in ranked:
            print(f"{cosine(query, vector):+.3f}  {sentence}")


def arguments() -> tuple[str | None, str | None]:
    """HOST and MODEL from the command line; None lets the SDK choose."""
    args = sys.argv[1:3]
    return (args[0] if args else None, args[1] if len(args) > 1 else None)


if __name__ == "__main__":
    main(*arguments())
