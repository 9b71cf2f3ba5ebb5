"""MCP servers' tools as ``act()`` tools: where the server is, and what the model sees of a
tool's result. Pure: the session itself (the ``mcp`` package, on a loop thread of its own) is
``_transport/mcp.py``; it hands results here as plain JSON values.

What the model sees of a result (``CallToolResult``):

- ``structuredContent`` when the tool gave one (a JSON value, sent as JSON);
- otherwise the content blocks, joined by blank lines: text as is, images and audio described
  (``[image: image/png, 1234 bytes]``: a tool result is text for the model), resource links by
  name and URI, embedded resources as their text (or described when binary);
- ``isError: true``: the same text, as the tool's error (``McpToolError``).
"""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .._exceptions import LMStudioValueError

__all__ = [
    "McpCallResult",
    "McpTarget",
    "McpToolSpec",
    "call_result",
    "describe_content",
    "mcp_target",
    "progress_text",
]


@dataclass(frozen=True)
class McpTarget:
    """An MCP server: a command to run (stdio transport) or a URL (streamable HTTP)."""

    command: tuple[str, ...] = ()
    url: str | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    cwd: str | None = None

    def describe(self) -> str:
        return self.url if self.url is not None else " ".join(self.command)


@dataclass(frozen=True)
class McpToolSpec:
    """A tool the MCP server lists: its name, description and input JSON schema."""

    name: str
    description: str
    input_schema: dict[str, Any]


@dataclass(frozen=True)
class McpCallResult:
    """One finished call: what the model sees (``value``), its text, and whether the tool said
    it failed."""

    value: Any
    text: str
    is_error: bool


def mcp_target(command: object, url: object, env: object, cwd: object) -> McpTarget:
    """Check ``mcp_tools()``'s server arguments (exactly one of command and url)."""
    if (command is None) == (url is None):
        raise LMStudioValueError(
            "mcp_tools() takes exactly one server: command=['python', 'server.py'] (stdio) or "
            "url='http://127.0.0.1:8000/mcp' (streamable HTTP)"
        )
    if env is not None and (
        not isinstance(env, Mapping)
        or not all(isinstance(k, str) and isinstance(v, str) for k, v in env.items())
    ):
        raise LMStudioValueError("mcp_tools() env is a mapping of variable names to strings")
    if cwd is not None and not isinstance(cwd, str | os.PathLike):
        raise LMStudioValueError(f"mcp_tools() cwd is a folder path, not {cwd!r}")
    if url is not None:
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise LMStudioValueError(
                f"mcp_tools() url is the server's http:// or https:// endpoint, not {url!r}"
            )
        if env is not None or cwd is not None:
            raise LMStudioValueError("mcp_tools() env= and cwd= only apply to command=")
        return McpTarget(url=url)
    if (
        isinstance(command, str)
        or not isinstance(command, Sequence)
        or not command
        or not all(isinstance(part, str) and part for part in command)
    ):
        raise LMStudioValueError(
            "mcp_tools() command is the program and its arguments as a list of strings, e.g. "
            f"['python', 'server.py'], not {command!r}"
        )
    return McpTarget(
        command=tuple(command),
        env=dict(env or {}),
        cwd=os.fspath(cwd) if cwd is not None else None,
    )


def _size(data: object) -> str:
    if not isinstance(data, str):
        return "no data"
    try:
        return f"{len(base64.b64decode(data, validate=True))} bytes"
    except (binascii.Error, ValueError):
        return f"{len(data)} characters of data"


def describe_content(block: Mapping[str, Any]) -> str:
    """One content block (its JSON form) as text for the model."""
    kind = block.get("type")
    if kind == "text":
        return str(block.get("text", ""))
    if kind in ("image", "audio"):
        mime = block.get("mimeType") or block.get("mime_type") or "unknown type"
        return f"[{kind}: {mime}, {_size(block.get('data'))}]"
    if kind == "resource_link":
        name = block.get("title") or block.get("name") or "resource"
        mime = block.get("mimeType") or block.get("mime_type")
        return f"[resource link: {name} <{block.get('uri')}>" + (f" ({mime})]" if mime else "]")
    if kind == "resource":
        resource = block.get("resource")
        if not isinstance(resource, Mapping):
            return "[resource]"
        if isinstance(resource.get("text"), str):
            return str(resource["text"])
        mime = resource.get("mimeType") or resource.get("mime_type") or "unknown type"
        return f"[resource: {resource.get('uri')}, {mime}, {_size(resource.get('blob'))}]"
    return f"[{kind or 'unknown'} content]"


def call_result(
    content: Sequence[Mapping[str, Any]], structured: Any, is_error: bool
) -> McpCallResult:
    """A ``CallToolResult`` (as JSON values) as what the model sees."""
    text = "\n\n".join(describe_content(block) for block in content)
    value = structured if structured is not None and not is_error else text
    return McpCallResult(value=value, text=text, is_error=is_error)


def progress_text(progress: float, total: float | None, message: str | None) -> str:
    """An MCP progress notification as a status line: its message, else ``3/10``."""
    if message:
        return message
    amount = f"{progress:g}/{total:g}" if total is not None else f"{progress:g}"
    return f"progress {amount}"
