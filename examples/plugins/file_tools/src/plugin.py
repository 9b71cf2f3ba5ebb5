"""A tools provider: a calculator, and a file reader that refuses any path outside the folder
given in its config (or the session's working directory).

Run it:  lmstudio-sdk plugin dev examples/plugins/file_tools
"""

from __future__ import annotations

import ast
import operator
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from lmstudio_sdk.plugin import HookError, Numeric, Text, ToolsProviderController, tool_status


@dataclass
class Config:
    folder: Annotated[str, Text(label="Folder", hint="The only folder read_file may read")] = ""
    max_bytes: Annotated[int, Numeric(label="Largest file (bytes)", min=1, max=1_000_000)] = 10_000


OPERATORS: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.Pow: operator.pow,
}


def evaluate(node: ast.AST) -> float:
    if isinstance(node, ast.Expression):
        return evaluate(node.body)
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return -evaluate(node.operand)
    if isinstance(node, ast.BinOp) and type(node.op) in OPERATORS:
        return float(OPERATORS[type(node.op)](evaluate(node.left), evaluate(node.right)))
    raise HookError("only numbers and + - * / ** are allowed")


def calculate(expression: str) -> float:
    """Evaluate an arithmetic expression such as "2 * (3 + 4)"."""
    try:
        tree = ast.parse(expression, mode="eval")
    except SyntaxError:
        raise HookError(f"not an arithmetic expression: {expression!r}") from None
    return evaluate(tree)


def provide_tools(ctl: ToolsProviderController[Config, None]) -> list[dict[str, Any]]:
    root_text = ctl.config.folder or ctl.working_directory
    root = Path(root_text).resolve() if root_text else None
    limit = ctl.config.max_bytes

    def read_file(path: str) -> str:
        if root is None:
            raise HookError("no folder is configured", suggestion="Set 'folder' in the config.")
        target = (root / path).resolve()
        if not target.is_relative_to(root):
            raise HookError(f"{path!r} is outside the allowed folder")
        if not target.is_file():
            raise HookError(f"{path!r} is not a file in the allowed folder")
        tool_status(f"reading {target.name}")
        data = target.read_bytes()[:limit]
        return data.decode("utf-8", errors="replace")

    string = {"type": "string"}
    return [
        {
            "name": "calculate",
            "description": "Evaluate an arithmetic expression.",
            "parameters": {"properties": {"expression": string}, "required": ["expression"]},
            "implementation": calculate,
        },
        {
            "name": "read_file",
            "description": "Read a text file of the allowed folder (a path relative to it).",
            "parameters": {"properties": {"path": string}, "required": ["path"]},
            "implementation": read_file,
        },
    ]
