"""Every public name has a docstring: the API reference (docs/api/) is generated from them.

Public means: each name of ``lmstudio_sdk._PUBLIC`` and of ``lmstudio_sdk.plugin.__all__``,
and every public method, property, class method and static method of their classes (both
faces: ``Client`` and ``AsyncClient`` are both in the table), including those a class inherits
from the SDK's own bases. A name that is not a class or a function (a type alias, a constant),
or that names an undocumented class under another name, needs an attribute docstring: a string
literal right below its assignment, as mkdocstrings reads it. Placeholders do not count: a
dataclass's generated ``Name(field, …)`` text, or the packet generator's "Wire shape first seen
at …" note.
"""

from __future__ import annotations

import ast
import dataclasses
import importlib
import inspect
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import lmstudio_sdk
import lmstudio_sdk.plugin

PLACEHOLDERS = ("Wire shape first seen at",)


def _own_doc(obj: Any, name: str) -> str:
    doc = obj.__dict__.get("__doc__") if inspect.isclass(obj) else obj.__doc__
    doc = (doc or "").strip()
    if inspect.isclass(obj) and dataclasses.is_dataclass(obj) and doc.startswith(f"{name}("):
        return ""  # the text dataclasses write when the class has none
    if doc.startswith(PLACEHOLDERS):
        return ""
    return doc


def _attribute_docstring(module: ModuleType, name: str) -> str:
    """The string literal right after ``name = …`` (or ``name: T = …``) at module level."""
    tree = ast.parse(inspect.getsource(module))
    for node, following in zip(tree.body, tree.body[1:], strict=False):
        targets: list[ast.expr] = []
        if isinstance(node, ast.Assign):
            targets = list(node.targets)
        elif isinstance(node, ast.AnnAssign):
            targets = [node.target]
        if any(isinstance(t, ast.Name) and t.id == name for t in targets):
            if (
                isinstance(following, ast.Expr)
                and isinstance(following.value, ast.Constant)
                and isinstance(following.value.value, str)
            ):
                return following.value.value.strip()
            return ""
    return ""


def _members(cls: type, root: str) -> dict[str, Any]:
    """Public methods and properties of a class, own and inherited from the package's classes."""
    found: dict[str, Any] = {}
    for klass in reversed(cls.__mro__):
        if klass.__module__.split(".")[0] != root:
            continue
        for attr, value in vars(klass).items():
            if attr.startswith("_"):
                continue
            if isinstance(value, staticmethod | classmethod):
                value = value.__func__
            if isinstance(value, property) or inspect.isfunction(value):
                found[attr] = value
    return found


def _member_doc(cls: type, attr: str, value: Any) -> str:
    if isinstance(value, property):
        return (value.__doc__ or "").strip()
    # inspect.getdoc also finds the docstring of the base method an override replaces.
    return (inspect.getdoc(getattr(cls, attr)) or "").strip()


def undocumented(names: dict[str, str], package: ModuleType) -> list[str]:
    """Every public name (and member) of ``package`` without a docstring.

    Args:
        names: Public name -> the module (relative to ``package``) that defines it.
        package: The package the names are imported from.

    Returns:
        ``module: name`` or ``module: Class.member`` for each one missing, sorted.
    """
    missing: list[str] = []
    for name, module_name in names.items():
        obj = getattr(package, name)
        module = importlib.import_module(module_name, package.__name__)
        if (inspect.isclass(obj) or inspect.isfunction(obj)) and obj.__name__ == name:
            if not _own_doc(obj, name):
                missing.append(f"{module.__name__}: {name}")
        elif inspect.isclass(obj) and _own_doc(obj, obj.__name__):
            pass  # another name for a documented class
        elif not _attribute_docstring(module, name):
            missing.append(f"{module.__name__}: {name} (an attribute docstring below it)")
        if inspect.isclass(obj):
            for attr, value in _members(obj, package.__name__.split(".")[0]).items():
                if not _member_doc(obj, attr, value):
                    missing.append(f"{value_module(value, module)}: {name}.{attr}")
    return sorted(set(missing))


def value_module(value: Any, default: ModuleType) -> str:
    function = value.fget if isinstance(value, property) else value
    return getattr(function, "__module__", None) or default.__name__


def test_every_public_name_of_the_package_has_a_docstring() -> None:
    missing = undocumented(lmstudio_sdk._PUBLIC, lmstudio_sdk)
    assert missing == [], "write a docstring (Google style) for:\n" + "\n".join(missing)


def test_every_public_name_of_the_plugin_api_has_a_docstring() -> None:
    plugin = lmstudio_sdk.plugin
    names = {name: getattr(plugin, name).__module__ for name in plugin.__all__}
    missing = undocumented(names, plugin)
    assert missing == [], "write a docstring (Google style) for:\n" + "\n".join(missing)


def test_the_check_finds_a_missing_docstring(tmp_path: Path) -> None:
    # The walk above must be able to fail: a class, a method, a property and an alias without
    # docstrings are each reported; documented ones are not.
    source = tmp_path / "undocumented_pkg_for_test.py"
    source.write_text(
        "import dataclasses\n"
        "class Documented:\n"
        '    """Has one."""\n'
        "    def method(self) -> None:\n"
        '        """Has one."""\n'
        "class Bare:\n"
        "    def method(self) -> None: ...\n"
        "    @property\n"
        "    def prop(self) -> int: return 1\n"
        "@dataclasses.dataclass\n"
        "class Data:\n"
        "    x: int\n"
        "Alias = int | str\n"
        "Documented_alias = int | str\n"
        '"""Has one."""\n'
    )
    sys.path.insert(0, str(tmp_path))
    try:
        module = importlib.import_module("undocumented_pkg_for_test")
        names = {n: module.__name__ for n in ("Documented", "Bare", "Data", "Alias")}
        names["Documented_alias"] = module.__name__
        missing = undocumented(names, module)
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("undocumented_pkg_for_test", None)
    assert missing == [
        "undocumented_pkg_for_test: Alias (an attribute docstring below it)",
        "undocumented_pkg_for_test: Bare",
        "undocumented_pkg_for_test: Bare.method",
        "undocumented_pkg_for_test: Bare.prop",
        "undocumented_pkg_for_test: Data",
    ]
