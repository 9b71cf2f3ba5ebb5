"""The grammars behind structured output and forced tool calls produce valid JSON only."""

from __future__ import annotations

import re
from typing import Any

import pytest

from .conftest import requires_engine

pytestmark = [pytest.mark.llama, requires_engine]

SCHEMA = {
    "type": "object",
    "properties": {"response": {"type": "string"}, "n": {"type": "integer"}},
    "required": ["response", "n"],
}
TOOL = {"type": "function", "function": {"name": "say", "parameters": SCHEMA}}


def _char_rules(grammar: str) -> list[str]:
    return [line for line in grammar.splitlines() if re.match(r"^[\w-]*char ::=", line)]


@pytest.mark.parametrize("which", ["schema", "tool"])
def test_json_strings_exclude_raw_control_characters(which: str) -> None:
    """JSON forbids raw control characters (a newline) inside strings; llama-cpp-python's
    converter allows them ([^"\\\\]), so a model could produce unparseable "JSON" (the official
    Python SDK's structured-output tests caught one). They must be escaped instead."""
    import importlib

    llama_cpp: Any = importlib.import_module("llama_cpp")
    from lmstudio_sdk.server.engines.llama.tools import json_schema_grammar, tool_call_grammar

    grammar: Any = json_schema_grammar(SCHEMA) if which == "schema" else tool_call_grammar([TOOL])
    rules = _char_rules(grammar)
    assert rules, grammar
    for rule in rules:
        assert '[^"\\\\\\x7F\\x00-\\x1F]' in rule, rule
    llama_cpp.LlamaGrammar.from_string(grammar, verbose=False)  # still a valid grammar
