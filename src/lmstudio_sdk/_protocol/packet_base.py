"""Hand-written bases of the generated packet structs (``scripts/gen_packets.py``).

``WireStruct`` carries the wire conventions every packet shares. The few shapes that also
carry behaviour users rely on get it from a base here, named in the generator's ``BASES``
table, so the generated modules stay pure data and this behaviour is written once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol, Self

import msgspec

__all__ = ["ChatMessageBase", "KVConfigBase", "ModelInfoBase", "WireStruct"]


class WireStruct(msgspec.Struct, frozen=True, kw_only=True, rename="camel", omit_defaults=True):
    """Base of every packet struct: camelCase on the wire, None fields omitted."""

    def to_dict(self) -> dict[str, Any]:
        """The wire form: a dict with camelCase keys (as the official SDK's ``to_dict``)."""
        value: dict[str, Any] = msgspec.to_builtins(self)
        return value

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        """The struct from its wire form (camelCase keys), checked: ``msgspec.ValidationError``
        (``lmstudio_sdk.ValidationError``) names what does not fit."""
        return msgspec.convert(data, cls)


class ModelInfoBase(WireStruct, frozen=True, kw_only=True):
    """Base of the model infos (downloaded and loaded, LLM and embedding)."""

    @property
    def domain(self) -> str:
        """``"llm"`` or ``"embedding"``: the wire's ``type`` tag."""
        return str(self.__struct_config__.tag)

    @property
    def type(self) -> str:
        """The official SDK's name of ``domain``: ``"llm"`` or ``"embedding"``."""
        return str(self.__struct_config__.tag)


class ChatMessageBase(WireStruct, frozen=True, kw_only=True):
    """Base of the role-tagged chat messages (user, assistant, system, tool)."""

    @property
    def role(self) -> str:
        """``"user"``, ``"assistant"``, ``"system"`` or ``"tool"``: the wire's ``role`` tag."""
        return str(self.__struct_config__.tag)


class _KVField(Protocol):
    @property
    def key(self) -> str: ...

    @property
    def value(self) -> Any: ...


class KVConfigBase(WireStruct, frozen=True, kw_only=True):
    """Base of ``KVConfig``: a list of key/value fields, read like a mapping."""

    if TYPE_CHECKING:  # declared by the generated subclass; named here for the type checker
        fields: Sequence[_KVField]

    def get(self, key: str, default: Any = None) -> Any:
        """The value of ``key`` (the last one wins, as in LM Studio), else ``default``."""
        for item in reversed(self.fields):
            if item.key == key:
                return item.value
        return default

    def as_dict(self) -> dict[str, Any]:
        """Every field as ``{key: value}`` (LM Studio's dotted keys, wire values)."""
        return {item.key: item.value for item in self.fields}
