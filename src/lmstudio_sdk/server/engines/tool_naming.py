"""``llm.prediction.toolNaming``: the names tools get in the prompt, and the way back.

LM Studio shows the model a transformed name (by default ``removeSpecial``: every character
that is not a letter, digit or ``_`` becomes ``_``), and reports the model's calls under the
tool's own name, so that a client finds its tool. ``passThrough`` keeps names as they are;
``snakeCase`` and ``camelCase`` re-case the words of the name. Engines rename the tools of a
request with :func:`rename_tools` and map the names the model writes back with the mapping
it returns.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["DEFAULT_TOOL_NAMING", "TOOL_NAMINGS", "model_tool_name", "rename_tools"]

TOOL_NAMINGS = ("passThrough", "removeSpecial", "snakeCase", "camelCase")
DEFAULT_TOOL_NAMING = "removeSpecial"

_WORDS = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+[0-9]*|[0-9]+")


def model_tool_name(name: str, naming: str | None) -> str:
    """The name the model sees for a tool called ``name``."""
    naming = naming or DEFAULT_TOOL_NAMING
    if naming == "passThrough":
        return name
    if naming == "removeSpecial":
        return re.sub(r"[^A-Za-z0-9_]", "_", name)
    words: list[str] = [str(w).lower() for w in _WORDS.findall(name)]
    if not words:
        return re.sub(r"[^A-Za-z0-9_]", "_", name)
    if naming == "snakeCase":
        return "_".join(words)
    return words[0] + "".join(w.capitalize() for w in words[1:])  # camelCase


def rename_tools(
    tools: Sequence[Mapping[str, Any]], naming: str | None
) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """The tools as the model sees them, and ``{model's name: tool's own name}``.

    Two tools that would get the same name keep their own names (the model can still tell
    them apart)."""
    wanted = [model_tool_name(str(t.get("function", {}).get("name", "")), naming) for t in tools]
    renamed: list[dict[str, Any]] = []
    names: dict[str, str] = {}
    for tool, shown in zip(tools, wanted, strict=True):
        function = dict(tool.get("function", {}))
        own = str(function.get("name", ""))
        if wanted.count(shown) > 1:
            shown = own
        function["name"] = shown
        renamed.append({**tool, "function": function})
        names[shown] = own
    return renamed, names
