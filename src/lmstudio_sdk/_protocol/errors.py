"""The serialized error object (``SerializedLMSExtendedError``) of rpcError and channelError.

Parsing is lenient on purpose, like the TS client: a sub-field of the wrong type is dropped,
never fatal, so that a server error always reaches the caller as an error.
"""

from __future__ import annotations

from typing import Any

import msgspec

__all__ = ["ErrorData", "parse_error_data"]


class ErrorData(msgspec.Struct, frozen=True, kw_only=True, rename="camel", omit_defaults=True):
    """What the server said went wrong."""

    title: str = "Unknown error"
    cause: str | None = None
    suggestion: str | None = None
    error_data: dict[str, Any] | None = None
    display_data: dict[str, Any] | None = None
    stack: str | None = None
    root_title: str | None = None

    @property
    def display_code(self) -> str | None:
        """``displayData.code``: LM Studio's error kind, if the server sent one."""
        code = (self.display_data or {}).get("code")
        return code if isinstance(code, str) else None

    @property
    def error_code(self) -> str | None:
        """``errorData.code``: the lmstudio-sdk server's machine-readable kind of error."""
        code = (self.error_data or {}).get("code")
        return code if isinstance(code, str) else None

    def describe(self) -> str:
        """One readable message: title, then cause and suggestion (never the server's stack)."""
        parts = [self.title]
        if self.cause:
            parts.append(f"Cause: {self.cause}")
        if self.suggestion:
            parts.append(f"Suggestion: {self.suggestion}")
        return "\n".join(parts)


_STRING_FIELDS = ("title", "cause", "suggestion", "stack", "rootTitle")
_OBJECT_FIELDS = ("errorData", "displayData")


def parse_error_data(value: object) -> ErrorData:
    """Turn whatever the server sent as an error into ErrorData, dropping ill-typed parts.

    A plain string (as in an auth failure) becomes the title.
    """
    if isinstance(value, str):
        return ErrorData(title=value or "Unknown error", root_title=value or None)
    if not isinstance(value, dict):
        return ErrorData()
    kept: dict[str, Any] = {}
    for key in _STRING_FIELDS:
        if isinstance(value.get(key), str):
            kept[key] = value[key]
    for key in _OBJECT_FIELDS:
        if isinstance(value.get(key), dict):
            kept[key] = value[key]
    if "title" not in kept and "rootTitle" in kept:
        kept["title"] = kept["rootTitle"]
    return msgspec.convert(kept, ErrorData)


def error_data(
    title: str,
    *,
    cause: str | None = None,
    suggestion: str | None = None,
    display_data: dict[str, Any] | None = None,
    machine_data: dict[str, Any] | None = None,
) -> ErrorData:
    """Build an error the way the reference server does (``rootTitle`` = ``title``);
    ``machine_data`` becomes ``errorData``."""
    return ErrorData(
        title=title,
        root_title=title,
        cause=cause,
        suggestion=suggestion,
        error_data=machine_data,
        display_data=display_data,
    )
