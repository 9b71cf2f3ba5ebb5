"""How sure was the model? Each token's probability and its runners-up.

python examples/logprobs.py [HOST] [MODEL]

``config={"log_probs": k}`` asks for every token's log-probability and its ``k`` most likely
alternatives (LM Studio's ``llm.prediction.logProbs``); they arrive on the fragments
(``fragment.tokens``) and are gathered in ``result.tokens``.
"""

from __future__ import annotations

import math
import sys

import lmstudio_sdk as lms


def main(host: str | None, model_key: str | None) -> None:
    with lms.Client(host) as client:
        model = client.llm.model(model_key)
        result = model.respond(
            "Name a colour.", config={"log_probs": 3, "max_tokens": 8, "temperature": 0}
        )
        if result.tokens is None:
            print("the server sent no log-probabilities")
            return
        for token in result.tokens:
            p = math.exp(token.log_prob) if token.log_prob is not None else float("nan")
            others = ", ".join(
                f"{c.text!r} {math.exp(c.log_prob):.0%}" for c in token.candidates or []
            )
            print(f"{token.text!r:>14} {p:6.1%}   top: {others}")


def arguments() -> tuple[str | None, str | None]:
    """HOST and MODEL from the command line; None lets the SDK choose."""
    args = sys.argv[1:3]
    return (args[0] if args else None, args[1] if len(args) > 1 else None)


if __name__ == "__main__":
    main(*arguments())
