"""The protocol core stays sans-I/O: no module of it imports an I/O or concurrency library."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import lmstudio_sdk._protocol

PACKAGE = Path(lmstudio_sdk._protocol.__file__).parent
FORBIDDEN = {
    "asyncio",
    "threading",
    "socket",
    "websockets",
    "selectors",
    "concurrent",
    "trio",
    "anyio",
}
MODULES = sorted(PACKAGE.glob("*.py"))


def imported_roots(path: Path) -> set[str]:
    roots: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    return roots


def test_the_package_has_the_expected_modules() -> None:
    names = {path.stem for path in MODULES}
    assert {"client", "server", "envelope", "events", "errors", "identity"} <= names


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_no_io_imports(path: Path) -> None:
    assert imported_roots(path) & FORBIDDEN == set()


def test_the_checker_sees_imports() -> None:
    source = PACKAGE / "client.py"
    assert {"msgspec", "logging", "enum"} <= imported_roots(source)
