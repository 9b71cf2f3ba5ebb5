"""Speculative decoding: a small draft model proposes tokens, the model checks them in one go.

python examples/speculative_decoding.py [HOST] [MODEL] [DRAFT_MODEL]

``config={"draft_model": key}`` names the draft model (LM Studio's
``llm.prediction.speculativeDecoding.draftModel``); it must share the model's tokenizer (a
smaller model of the same family). The reply is the one the model gives alone; the stats say
how many drafted tokens it accepted. ``preload_draft_model`` loads the draft ahead of time.
Without DRAFT_MODEL the model drafts for itself, which shows the mechanics (near-total
acceptance) but is no faster. On the embedded server (``lmstudio-sdk serve``), load the
model with ``flash_attention`` for replies identical token for token.
"""

from __future__ import annotations

import sys
import time

import lmstudio_sdk as lms


def main(host: str | None, model_key: str | None, draft_key: str | None) -> None:
    with lms.Client(host) as client:
        model = client.llm.model(model_key, config={"flash_attention": True})
        draft = draft_key or model.get_info().model_key
        model.preload_draft_model(draft)
        config: lms.LlmPredictionConfigDict = {"temperature": 0, "max_tokens": 32}
        question = "Explain why the sky is blue in two sentences."
        runs: list[tuple[str, lms.LlmPredictionConfigDict]] = [
            ("alone", config),
            (f"with draft {draft}", {**config, "draft_model": draft}),
        ]
        for name, settings in runs:
            start = time.perf_counter()
            result = model.respond(question, config=settings)
            elapsed = time.perf_counter() - start
            print(f"[{name}] {elapsed:.2f}s: {result.content!r}")
        stats = result.stats
        print(
            f"drafted {stats.total_draft_tokens_count}: accepted "
            f"{stats.accepted_draft_tokens_count}, rejected {stats.rejected_draft_tokens_count}, "
            f"ignored {stats.ignored_draft_tokens_count} (draft model {stats.used_draft_model_key})"
        )


def arguments() -> tuple[str | None, str | None, str | None]:
    """HOST, MODEL and DRAFT_MODEL from the command line; None lets the SDK choose."""
    args: list[str | None] = [*sys.argv[1:4], None, None, None]
    return args[0], args[1], args[2]


if __name__ == "__main__":
    main(*arguments())
