"""The layer rules of docs/architecture.md, checked on the source."""

from __future__ import annotations

import ast
import re
import sys
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


# -- who may import whom: one table, the same as docs/architecture.md's --------------------------

DOCS = PACKAGE.parent.parent / "docs" / "architecture.md"
SDK_LAYERS = ("_protocol", "_transport", "_async", "_sync", "plugin", "server", "cli")
# Each layer's allowed imports besides the standard library and its own modules: other SDK
# layers or leaf modules, and third-party packages.
MAY_IMPORT: dict[str, frozenset[str]] = {
    "_protocol": frozenset({"_exceptions", "_types", "msgspec"}),
    # mcp (and its anyio): the mcp extra, loaded on first use by _transport/mcp.py
    "_transport": frozenset({"_protocol", "_exceptions", "websockets", "mcp", "anyio"}),
    "_async": frozenset({"_protocol", "_transport", "_types", "_exceptions", "msgspec"}),
    "_sync": frozenset({"_protocol", "_transport", "_types", "_exceptions", "msgspec"}),
    "plugin": frozenset({"_async", "_protocol", "_types", "_exceptions", "msgspec"}),
    "server": frozenset(
        {"_protocol", "_exceptions", "_types", "_version", "msgspec", "websockets"}
        | {"httpx", "llama_cpp", "numpy", "gguf", "jinja2"}  # engines' optional extras
        | {"pypdf"}  # the pdf extra (document parsing)
    ),
    "cli": frozenset({"*"}),
}
LEAF_MODULES = {"_exceptions", "_types", "_version"}
# Which concurrency a module may use: the sync face never imports asyncio, and each transport
# twin uses its own kind only.
NEVER_IMPORTS: dict[str, frozenset[str]] = {
    "_sync": frozenset({"asyncio"}),
    "_transport/sync.py": frozenset({"asyncio"}),
    "_transport/asyncio.py": frozenset({"threading", "queue", "concurrent"}),
}


def layer_of(path: Path) -> str:
    return path.relative_to(PACKAGE).parts[0]


def foreign_imports(path: Path) -> set[str]:
    """The SDK layers / leaf modules and third-party packages a file imports, not its own."""
    own = layer_of(path)
    found: set[str] = set()
    for module in imported_modules(path):
        parts = module.split(".")
        if parts[0] == "lmstudio_sdk":
            if len(parts) > 1 and parts[1] != own:
                found.add(parts[1])
        elif parts[0] and parts[0] not in sys.stdlib_module_names and parts[0] != "__future__":
            found.add(parts[0])
    return found


@pytest.mark.parametrize(
    "path", [p for layer in SDK_LAYERS for p in files(layer)], ids=lambda p: module_name(p)
)
def test_each_layer_imports_only_what_the_table_allows(path: Path) -> None:
    allowed = MAY_IMPORT[layer_of(path)]
    if "*" in allowed:
        return
    bad = foreign_imports(path) - allowed
    assert not bad, (
        f"{module_name(path)} imports {sorted(bad)}; its layer may import {sorted(allowed)}"
    )


@pytest.mark.parametrize("where", sorted(NEVER_IMPORTS))
def test_each_face_uses_its_own_concurrency(where: str) -> None:
    paths = files(where) if not where.endswith(".py") else [PACKAGE / where]
    assert paths
    for path in paths:
        tops = {m.split(".")[0] for m in imported_modules(path)}
        bad = tops & NEVER_IMPORTS[where]
        assert not bad, f"{module_name(path)} imports {sorted(bad)}"


@pytest.mark.parametrize("name", sorted(LEAF_MODULES))
def test_leaf_modules_import_no_layer(name: str) -> None:
    """_exceptions, _types and _version sit under every layer: they import none, except
    _protocol's error data for type hints only (never at run time)."""
    path = PACKAGE / f"{name}.py"
    tree = ast.parse(path.read_text(), filename=str(path))
    runtime = [n for n in tree.body if isinstance(n, ast.Import | ast.ImportFrom)]
    layers = {
        m.split(".")[1]
        for node in runtime
        for m in imported_modules_of(node, path)
        if m.startswith("lmstudio_sdk.") and m.count(".") >= 1
    }
    assert layers <= LEAF_MODULES, f"{name} imports {sorted(layers - LEAF_MODULES)} at run time"


def imported_modules_of(node: ast.Import | ast.ImportFrom, path: Path) -> set[str]:
    if isinstance(node, ast.Import):
        return {alias.name for alias in node.names}
    if not node.level:
        return {node.module or ""}
    base = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts[:-1]).split(".")
    return {".".join(base[: len(base) - node.level + 1] + ([node.module] if node.module else []))}


def docs_table() -> dict[str, set[str]]:
    """The "who may import whom" table of docs/architecture.md: layer -> names it may import."""
    text = DOCS.read_text().split("## Who may import whom", 1)[1].split("\n## ", 1)[0]
    known = set(SDK_LAYERS) | LEAF_MODULES | {n for names in MAY_IMPORT.values() for n in names}
    rows: dict[str, set[str]] = {}
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 3 or not cells[0].startswith("`"):
            continue
        for layer in re.findall(r"`(\w+)`", cells[0]):
            if layer in SDK_LAYERS:
                names = set(re.findall(r"`(\w+)`", cells[1])) & known
                rows[layer] = {"*"} if cells[1] == "everything" else names
    return rows


def test_the_docs_table_is_the_checked_table() -> None:
    assert docs_table() == {layer: set(names) for layer, names in MAY_IMPORT.items()}


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
    # hosts.py (the Pool) is a client of clients: it owns one AsyncClient per host.
    "path",
    [p for p in files("_async") if p.name not in ("client.py", "hosts.py")],
    ids=lambda p: p.name,
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


# -- the embedded server's layers, bottom to top (docs/architecture.md, "The embedded server") --

SERVER = "lmstudio_sdk.server"
SERVER_LAYERS: tuple[tuple[str, ...], ...] = (
    ("errors", "unimplemented"),  # the one error type, LM Studio's error data; why an
    # endpoint is left out (a data table)
    ("local",),  # models folder, GGUF reading/conversion, model install
    ("engines",),  # the engine interface, scripted, llama, openai
    ("services",),  # models manager, file store, identities, observer
    ("endpoints",),  # handlers, one module per namespace
    ("router", "session", "traffic_log"),  # (namespace, endpoint) → handler; one socket, its log
    ("app", "thread", "recorder", "__init__"),  # the server, its thread, the test recorder
)
# Optional heavy dependencies a module may import on first use rather than at import time; ssl
# (OpenSSL, ~3 MB of RSS), which only a wss:// connection needs (tests/test_import_cost.py); and
# rich, the cli extra; mcp (with its anyio), the mcp extra.
LAZY_IMPORTS_ALLOWED = {
    "llama_cpp",
    "numpy",
    "gguf",
    "jinja2",
    "pypdf",
    "ssl",
    "rich",
    "mcp",
    "anyio",
}
MAX_SERVER_MODULE_LINES = 600


def server_layer(module: str) -> int | None:
    """The layer of a module (or a name in it) of ``lmstudio_sdk.server``; None outside it."""
    if module != SERVER and not module.startswith(SERVER + "."):
        return None
    first = module[len(SERVER) + 1 :].split(".")[0] or "__init__"
    for index, names in enumerate(SERVER_LAYERS):
        if first in names:
            return index
    raise AssertionError(f"{module} is in no server layer; add it to SERVER_LAYERS")


def module_name(path: Path) -> str:
    return ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)


@pytest.mark.parametrize("path", files("server"), ids=lambda p: module_name(p))
def test_server_module_imports_only_its_layer_and_lower(path: Path) -> None:
    own = server_layer(module_name(path))
    assert own is not None
    bad = {
        m for m in imported_modules(path) if (layer := server_layer(m)) is not None and layer > own
    }
    assert not bad, (
        f"{module_name(path)} (layer {SERVER_LAYERS[own]}) imports from a layer above: "
        f"{sorted(bad)}"
    )


@pytest.mark.parametrize("path", files("server/engines"), ids=lambda p: module_name(p))
def test_engines_import_no_sibling_engine_but_their_own(path: Path) -> None:
    """An engine package is self-contained: scripted never reaches into llama, nor back."""
    own = module_name(path).split(".")[3:4]  # base, scripted, llama, __init__
    engines = {"scripted", "llama", "openai"}
    bad = {
        m
        for m in imported_modules(path)
        if m.startswith(SERVER + ".engines.")
        and (other := m.split(".")[3]) in engines
        and own not in ([other], ["__init__"])
    }
    assert not bad, f"{module_name(path)} imports another engine: {sorted(bad)}"


def imports_inside_functions(path: Path) -> list[tuple[int, str]]:
    """(line, module) of every import statement inside a function body."""
    tree = ast.parse(path.read_text(), filename=str(path))
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        for inner in ast.walk(node):
            if isinstance(inner, ast.Import):
                found.extend((inner.lineno, alias.name) for alias in inner.names)
            elif isinstance(inner, ast.ImportFrom):
                found.append((inner.lineno, "." * inner.level + (inner.module or "")))
    return found


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: module_name(p))
def test_no_import_inside_a_function(path: Path) -> None:
    """Imports belong at the top of the module; only optional heavy dependencies load lazily
    (an import inside a function hides a cycle or a cost)."""
    bad = [
        (line, module)
        for line, module in imports_inside_functions(path)
        if module.split(".")[0] not in LAZY_IMPORTS_ALLOWED
    ]
    assert not bad, f"{module_name(path)} imports inside functions: {bad}"


@pytest.mark.parametrize("path", files("server"), ids=lambda p: module_name(p))
def test_server_modules_are_small(path: Path) -> None:
    lines = len(path.read_text().splitlines())
    assert lines <= MAX_SERVER_MODULE_LINES, f"{module_name(path)} has {lines} lines"
