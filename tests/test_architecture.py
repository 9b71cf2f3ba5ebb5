"""The layer rules of docs/architecture.md, checked on the source."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "src" / "lmstudio_sdk"

IO_MODULES = {
    "asyncio",
    "threading",
    "socket",
    "websockets",
    "selectors",
    "subprocess",
    "concurrent",
    "ssl",
    "http",
    "urllib",
}


def imported_modules(path: Path) -> set[str]:
    """Absolute names of every module a file imports (relative imports resolved)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts[:-1])
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            names.add(module)
            names.update(f"{module}.{alias.name}" for alias in node.names)
    return names


def files(layer: str) -> list[Path]:
    return sorted((PACKAGE / layer).rglob("*.py"))


@pytest.mark.parametrize("path", files("_protocol"), ids=lambda p: p.name)
def test_protocol_core_does_no_io(path: Path) -> None:
    bad = {m for m in imported_modules(path) if m.split(".")[0] in IO_MODULES}
    assert not bad, f"{path.name} imports I/O modules: {sorted(bad)}"


@pytest.mark.parametrize("path", files("_protocol"), ids=lambda p: p.name)
def test_protocol_core_imports_no_upper_layer(path: Path) -> None:
    upper = (
        "lmstudio_sdk._async",
        "lmstudio_sdk._sync",
        "lmstudio_sdk._transport",
        "lmstudio_sdk.server",
        "lmstudio_sdk.cli",
    )
    bad = {m for m in imported_modules(path) if m.startswith(upper)}
    assert not bad, f"{path.name} imports from a layer above it: {sorted(bad)}"


@pytest.mark.parametrize("path", files("_async") + files("_sync"), ids=lambda p: p.name)
def test_client_faces_do_not_import_the_server(path: Path) -> None:
    bad = {
        m
        for m in imported_modules(path)
        if m.startswith(("lmstudio_sdk.server", "lmstudio_sdk.cli"))
    }
    assert not bad, f"{path.name} imports the server or CLI: {sorted(bad)}"


@pytest.mark.parametrize("path", files("server"), ids=lambda p: p.name)
def test_server_does_not_use_the_client_faces(path: Path) -> None:
    bad = {
        m
        for m in imported_modules(path)
        if m.startswith(("lmstudio_sdk._async", "lmstudio_sdk._sync"))
    }
    assert not bad, f"{path.name} imports a client face: {sorted(bad)}"


@pytest.mark.parametrize(
    "path", [p for p in files("_async") if p.name != "client.py"], ids=lambda p: p.name
)
def test_namespaces_and_handles_use_the_pool_not_the_client(path: Path) -> None:
    """Only the client knows the client; the rest of the face reaches no one's privates."""
    assert "lmstudio_sdk._async.client" not in imported_modules(path)
    tree = ast.parse(path.read_text(), filename=str(path))
    reaching = [
        f"line {node.lineno}: {ast.unparse(node)}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and node.attr.startswith("_")
        and not node.attr.startswith("__")
        and isinstance(node.value, ast.Attribute)
        and node.value.attr in ("_client", "_pool")
    ]
    assert not reaching, f"{path.name} reaches into private attributes: {reaching}"
