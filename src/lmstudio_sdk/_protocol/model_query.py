"""Model queries and LM Link device identifiers as callers give them, checked and turned into
the wire's ``ModelQuery``: pure, so that every entry point words its refusals alike.

A query is a plain identifier, a ``ModelQuery`` or a dict with the same members in snake case
(``domain``, ``identifier``, ``path``, ``vision``, ``device_identifier``). A device identifier
is a string (that LM Link device), ``None`` (this machine only, LM Studio's ``null``) or not
given (LM Studio's default: the preferred device, then this one, then the others).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, TypedDict

import msgspec

from .._exceptions import LMStudioValueError
from .._types import NOT_GIVEN, NotGiven
from .packets.shared import ModelQuery

__all__ = [
    "DeviceIdentifier",
    "ModelQueryDict",
    "QueryLike",
    "check_device_identifier",
    "matches_device",
    "to_model_query",
]

DeviceIdentifier = str | None | Literal[NotGiven.NOT_GIVEN]


class ModelQueryDict(TypedDict, total=False):
    """A model query as a dict (every member optional; ``{}`` matches any loaded model)."""

    domain: Literal["llm", "embedding"]
    """Must be the namespace's own domain (``client.llm``: ``"llm"``)."""
    identifier: str
    """Exactly this instance identifier (the name given at load time)."""
    path: str
    """``publisher/repo`` (any quantisation) or ``publisher/repo/file``, forward slashes."""
    vision: bool
    """True: the model must take images; False: it must not."""
    device_identifier: str | None
    """The LM Link device the model must be on; None: this machine only."""


QueryLike = str | ModelQuery | ModelQueryDict

_MEMBERS = ("domain", "identifier", "path", "vision", "device_identifier")
_MAX_TEXT = 1024  # the schema's limit on identifiers and paths


def check_device_identifier(value: object, where: str) -> str | msgspec.UnsetType | None:
    """The wire value of a ``device_identifier=`` argument (UNSET when not given)."""
    if value is NOT_GIVEN:
        return msgspec.UNSET
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise LMStudioValueError(
            f"{where} device_identifier must be a non-empty string (an LM Link device, e.g. "
            f"client.repository.lm_link_status().device_identifier) or None (this machine "
            f"only), not {value!r}"
        )
    return value


def matches_device(listed: str | None, wanted: str | msgspec.UnsetType | None) -> bool:
    """Whether an instance listed with device ``listed`` (None: this machine) is on the device
    a caller asked for (UNSET: any)."""
    return isinstance(wanted, msgspec.UnsetType) or listed == wanted


def _text(where: str, name: str, value: object) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > _MAX_TEXT:
        raise LMStudioValueError(
            f"{where} query {name} must be a non-empty string of at most {_MAX_TEXT} "
            f"characters, not {value!r}"
        )
    return value


def to_model_query(query: object, domain: str, where: str) -> ModelQuery:
    """The wire query for what a caller passed, checked member by member. ``domain`` is the
    namespace's: a query for the other one could never match, and is refused here."""
    if isinstance(query, str):
        return ModelQuery(identifier=_text(where, "identifier", query))
    if isinstance(query, ModelQuery):
        members: dict[str, Any] = {
            name: getattr(query, name)
            for name in _MEMBERS
            if getattr(query, name) is not None or name == "device_identifier"
        }
        if isinstance(members["device_identifier"], msgspec.UnsetType):
            del members["device_identifier"]
    elif isinstance(query, Mapping):
        members = dict(query)
        unknown = sorted(str(k) for k in members if k not in _MEMBERS)
        if unknown:
            raise LMStudioValueError(
                f"{where} query has no member {unknown[0]!r}; a query has " + ", ".join(_MEMBERS)
            )
    else:
        raise LMStudioValueError(
            f"{where} takes an identifier (str), a ModelQuery or a dict of its members, "
            f"not {type(query).__name__}"
        )
    checked: dict[str, Any] = {}
    if members.get("domain") is not None:
        if members["domain"] != domain:
            raise LMStudioValueError(
                f"{where} query domain={members['domain']!r} can never match in client."
                f"{domain}: query {members['domain']!r} models through their own namespace, "
                "or leave domain out"
            )
        checked["domain"] = domain
    for name in ("identifier", "path"):
        if members.get(name) is not None:
            checked[name] = _text(where, name, members[name])
    if "path" in checked and "\\" in checked["path"]:
        raise LMStudioValueError(
            f"{where} query path {checked['path']!r} has backslashes: model paths use forward "
            "slashes, on Windows too"
        )
    vision = members.get("vision")
    if vision is not None:
        if not isinstance(vision, bool):
            raise LMStudioValueError(f"{where} query vision must be True or False, not {vision!r}")
        if vision and domain == "embedding":
            raise LMStudioValueError(
                f"{where} query vision=True can never match: embedding models take no images"
            )
        checked["vision"] = vision
    if "device_identifier" in members:
        checked["device_identifier"] = check_device_identifier(
            members["device_identifier"], f"{where} query"
        )
    return ModelQuery(**checked)
