"""The parts of docs/parity.md that the suite keeps true.

* The list of deliberate differences from the TypeScript SDK, grouped by kind: generated from
  ``spec.py`` (each ``Difference``'s group and reason, with the scenarios that list it).
  After changing ``spec.py``, rewrite it with ``python -m tests.parity.docs``;
  ``test_docs.py`` fails while the document and ``spec.py`` disagree.
* The TypeScript SDK's public methods that no scenario calls, each with the reason:
  ``test_docs.py`` checks every public method of the TypeScript SDK's client classes (read
  from its typings) is either called by ``scenarios.mjs`` or listed there, and that every
  listed method exists.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from .spec import GROUPS, SCENARIOS

ROOT = Path(__file__).resolve().parent.parent.parent
DOC = ROOT / "docs" / "parity.md"
SCENARIOS_MJS = Path(__file__).resolve().parent / "scenarios.mjs"
TYPINGS = (
    ROOT / "tests" / "conformance" / "node_modules" / "@lmstudio" / "sdk" / "dist" / "index.d.ts"
)

DIFFERENCES_START = (
    "<!-- deliberate differences: generated from tests/parity/spec.py by "
    "`python -m tests.parity.docs`; do not edit by hand -->"
)
DIFFERENCES_END = "<!-- end of deliberate differences -->"
UNCOVERED_START = "<!-- uncovered methods: checked by tests/parity/test_docs.py -->"
UNCOVERED_END = "<!-- end of uncovered methods -->"

# The TypeScript SDK's classes a user calls (namespaces, handles, results with methods).
CLIENT_CLASSES = (
    "LMStudioClient",
    "ModelNamespace",
    "DynamicHandle",
    "LLMDynamicHandle",
    "LLM",
    "EmbeddingDynamicHandle",
    "EmbeddingModel",
    "FilesNamespace",
    "FileHandle",
    "SystemNamespace",
    "DiagnosticsNamespace",
    "RuntimeNamespace",
    "RuntimeEngineNamespace",
    "RuntimeExtensionsNamespace",
    "RepositoryNamespace",
    "RepositoryLMLinkNamespace",
    "UnstableRepositoryNamespace",
    "ModelSearchResultEntry",
    "ModelSearchResultDownloadOption",
    "ArtifactDownloadPlanner",
    "PluginsNamespace",
    "LLMGeneratorHandle",
    "OngoingPrediction",
    "OngoingGeneratorPrediction",
)
_METHOD = re.compile(r"^(?:static )?([A-Za-z_$][\w$]*|\[Symbol\.\w+\])\s*(?:<[^(]*>)?\(")


def differences_markdown() -> str:
    """The deliberate differences, grouped by kind, each reason with its scenarios."""
    grouped: dict[str, dict[str, list[str]]] = {group: {} for group in GROUPS}
    for scenario in SCENARIOS:
        for difference in scenario.differences:
            names = grouped[difference.group].setdefault(difference.reason, [])
            if scenario.name not in names:
                names.append(scenario.name)
    lines: list[str] = []
    for group, reasons in grouped.items():
        if not reasons:
            continue
        lines += [f"### {group}", ""]
        for reason, names in reasons.items():
            listed = ", ".join(f"`{name}`" for name in names)
            lines.append(f"- {reason} Scenarios ({len(names)}): {listed}.")
        lines.append("")
    return "\n".join(lines)


def section(text: str, start: str, end: str) -> str:
    """What ``text`` holds between the marker lines ``start`` and ``end``."""
    try:
        _, rest = text.split(start + "\n", 1)
        body, _ = rest.split(end, 1)
    except ValueError:
        raise AssertionError(f"docs/parity.md lacks the markers {start!r} ... {end!r}") from None
    return body


def with_differences(text: str) -> str:
    body = section(text, DIFFERENCES_START, DIFFERENCES_END)
    return text.replace(
        DIFFERENCES_START + "\n" + body + DIFFERENCES_END,
        DIFFERENCES_START + "\n" + differences_markdown() + DIFFERENCES_END,
    )


def uncovered_methods(text: str) -> dict[str, str]:
    """``Class.method`` -> why, from the table of methods no scenario calls."""
    rows: dict[str, str] = {}
    for line in section(text, UNCOVERED_START, UNCOVERED_END).splitlines():
        match = re.match(r"^\| `([\w$]+\.[\w$\[\].]+)` \| (.+) \|$", line)
        if match:
            rows[match[1]] = match[2]
    return rows


def typescript_methods(typings: str) -> set[str]:
    """``Class.method`` for every public method of ``CLIENT_CLASSES`` in the SDK's typings."""
    found: set[str] = set()
    for cls in CLIENT_CLASSES:
        match = re.search(rf"export declare (?:abstract )?class {cls}\b[^{{]*\{{", typings)
        if match is None:
            raise AssertionError(f"the typings have no class {cls}")
        depth, index = 1, match.end()
        body_start = index
        while depth:
            depth += {"{": 1, "}": -1}.get(typings[index], 0)
            index += 1
        depth = 0
        for line in typings[body_start : index - 1].splitlines():
            stripped = line.strip()
            method = _METHOD.match(stripped) if depth == 0 else None
            if method and not stripped.startswith(("private", "protected", "constructor")):
                found.add(f"{cls}.{method[1]}")
            depth += line.count("{") - line.count("}")
    return found


def called_by_scenarios(method: str, scenarios: str) -> bool:
    """Whether ``scenarios.mjs`` calls a method of that name (by name only: a listed method
    wins over a same-named call of another class)."""
    name = method.split(".", 1)[1]
    if name.startswith("[Symbol."):
        return name[1:-1] in scenarios
    return re.search(rf"\.{re.escape(name)}\s*\(", scenarios) is not None


def main(argv: list[str]) -> int:
    text = DOC.read_text(encoding="utf-8")
    updated = with_differences(text)
    if "--check" in argv:
        if updated != text:
            print("docs/parity.md's deliberate differences are out of date; run:")
            print("  python -m tests.parity.docs")
            return 1
        return 0
    if updated != text:
        DOC.write_text(updated, encoding="utf-8")
        print("docs/parity.md: deliberate differences rewritten")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
