"""A tools provider's tools, as the runner serves them: name, wire definition, and a call.

A tool is anything ``act()`` takes: a typed function or a ``Tool`` (``lmstudio_sdk.tool``,
``tool_from_schema``), ``lmstudio``'s ``ToolFunctionDef``, or an explicit JSON-schema mapping
``{"name", "description", "parameters": {"properties": …}, "implementation"}``.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import msgspec

from .._exceptions import LMStudioValueError
from .._protocol.packets.shared import ToolDefinition
from .._protocol.tools import Tool, as_tool
from .hooks import HookError

__all__ = ["ServedTool", "served_tools"]


@dataclass(frozen=True)
class ServedTool:
    name: str
    definition: ToolDefinition
    implementation: Callable[..., Any]
    validate: Callable[[Mapping[str, Any]], dict[str, Any]]

    @property
    def is_async(self) -> bool:
        return inspect.iscoroutinefunction(self.implementation)


def _plain_validate(
    schema: Mapping[str, Any], name: str
) -> Callable[[Mapping[str, Any]], dict[str, Any]]:
    required = [r for r in schema.get("required", []) if isinstance(r, str)]

    def validate(arguments: Mapping[str, Any]) -> dict[str, Any]:
        missing = [r for r in required if r not in arguments]
        if missing:
            raise HookError(f"tool {name!r} is missing required argument(s): {', '.join(missing)}")
        return dict(arguments)

    return validate


def _json_schema_mapping(item: object) -> bool:
    """A mapping whose parameters are a JSON object schema (not lmstudio's name → type map)."""
    if not isinstance(item, Mapping):
        return False
    parameters = item.get("parameters")
    return isinstance(parameters, Mapping) and (
        "properties" in parameters or parameters.get("type") == "object" or not parameters
    )


def _served(item: object) -> ServedTool:
    if not _json_schema_mapping(item) and not isinstance(item, Tool):
        try:
            item = as_tool(item)
        except LMStudioValueError as exc:
            raise HookError(
                f"a tools provider returned something that is not a tool: {exc}"
            ) from None
    if isinstance(item, Mapping):
        name, description = item.get("name"), item.get("description", "")
        parameters, implementation = item.get("parameters"), item.get("implementation")
        validate = None
    else:
        name = getattr(item, "name", None)
        description = getattr(item, "description", "")
        parameters = getattr(item, "parameters", None)
        implementation = getattr(item, "implementation", None)
        validate = getattr(item, "validate", None)
    if not isinstance(name, str) or not name:
        raise HookError(f"a provided tool needs a name: {item!r}")
    if not isinstance(parameters, Mapping) or parameters.get("type", "object") != "object":
        raise HookError(f"tool {name!r}: parameters must be a JSON object schema")
    if not callable(implementation):
        raise HookError(f"tool {name!r}: implementation must be a function")
    schema = {"type": "object", "properties": {}, **dict(parameters)}
    definition = msgspec.convert(
        {
            "type": "function",
            "function": {"name": name, "description": str(description), "parameters": schema},
        },
        ToolDefinition,
    )
    return ServedTool(
        name=name,
        definition=definition,
        implementation=implementation,
        validate=validate if callable(validate) else _plain_validate(schema, name),
    )


def served_tools(items: object) -> dict[str, ServedTool]:
    """A tools provider's return value, by name (refused with a reason when it is not tools)."""
    if isinstance(items, str | Mapping) or not hasattr(items, "__iter__"):
        raise HookError("a tools provider returns a list of tools")
    tools: dict[str, ServedTool] = {}
    for item in items:
        made = _served(item)
        if made.name in tools:
            raise HookError(f"two provided tools are named {made.name!r}")
        tools[made.name] = made
    return tools
