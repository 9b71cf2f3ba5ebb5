"""JSON-schema grammars keep sampled output inside JSON.

llama-cpp-python's schema converter lets a JSON string contain raw control characters (its
``char`` rule is ``[^"\\\\]``), which JSON forbids: sampled replies escaped the grammar about
once in 30 at temperature 0.8. The engine tightens the rule (``tools.strict_json_strings``).
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest

from lmstudio_sdk.server.engines.base import PredictionRequest
from lmstudio_sdk.server.engines.llama.tools import json_schema_grammar, tool_call_grammar

from .conftest import chat, predict_config, requires_engine
from .helpers import collect, finished, text_of

pytestmark = [pytest.mark.llama, requires_engine]

SCHEMA = {
    "type": "object",
    "properties": {"name": {"type": "string", "maxLength": 12}},
    "required": ["name"],
    "additionalProperties": False,
}
SEEDS = 200


def test_no_string_rule_admits_control_characters() -> None:
    tool = {"function": {"name": "f", "parameters": SCHEMA}}
    for grammar in (json_schema_grammar(SCHEMA), tool_call_grammar([tool])):
        char_rules = [line for line in grammar.splitlines() if line.startswith("char ::=")]
        assert char_rules, grammar
        for rule in char_rules:
            assert rule.startswith('char ::= [^"\\\\\\x7F\\x00-\\x1F] |'), rule


@pytest.mark.timeout(900)
async def test_sampled_json_never_escapes_the_grammar(smol: Any) -> None:
    """200 seeds at temperature 0.8, four at a time (the model's parallel slots)."""

    async def one(seed: int) -> tuple[str, str]:
        config = predict_config(
            24,
            structured={"type": "json", "jsonSchema": SCHEMA},
            temperature=0.8,
            seed={"checked": True, "value": seed},
        )
        events = await collect(
            smol, PredictionRequest(config=config, history=chat(("user", "Name a book.")))
        )
        return text_of(events), finished(events).stop_reason

    started = time.monotonic()
    replies: list[tuple[str, str]] = []
    for first in range(0, SEEDS, 4):
        replies += await asyncio.gather(*(one(s) for s in range(first, first + 4)))
    invalid = []
    for seed, (text, stop_reason) in enumerate(replies):
        try:
            value = json.loads(text)
        except ValueError:
            invalid.append((seed, stop_reason, text))
            continue
        assert set(value) == {"name"} and len(value["name"]) <= 12, text
    assert not invalid, invalid
    # A reply that reached max_tokens was complete JSON all the same (checked above).
    assert {r for _t, r in replies} <= {"eosFound", "maxPredictedTokensReached"}
    print(f"{SEEDS} sampled replies in {time.monotonic() - started:.1f} s")
