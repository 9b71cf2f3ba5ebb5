"""Plugin config schematics as plain typed dataclasses.

::

    @dataclass
    class Config:
        top_k: Annotated[int, Numeric(min=1, max=10, slider=Slider(1, 10, 1))] = 3
        prefix: Annotated[str, Text(label="Prefix", paragraph=True)] = "Context:"
        enabled: bool = True
        folders: Annotated[list[str], StringArray(max_items=5)] = field(default_factory=list)
        mode: Annotated[str, Select(["short", "long"])] = "short"
        budget: Annotated[float | None, CheckboxNumeric(min=0)] = None

The field's Python type chooses LM Studio's field type (``int``/``float`` → numeric,
``str`` → string, ``bool`` → boolean, ``list[str]`` → stringArray); a marker in ``Annotated``
adds its parameters (range, slider, options…) or picks ``select`` / ``checkboxNumeric``.
Hooks read the values back as an instance of the dataclass (``ctl.config``).
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass
from typing import Any, TypeVar, Union

from .._exceptions import LMStudioValueError
from .._protocol.packets.shared import KVConfig, KVConfigSchematics, KVConfigSchematicsField
from .._protocol.plugin_config import config_problem, config_values, values_from_kv

__all__ = [
    "CheckboxNumeric",
    "Numeric",
    "Select",
    "Slider",
    "StringArray",
    "Text",
    "config_from_kv",
    "schematics_of",
]

ConfigT = TypeVar("ConfigT")


@dataclass(frozen=True, slots=True)
class Slider:
    """Show a ``Numeric`` field as a slider from ``min`` to ``max`` in steps of ``step``."""

    min: float
    max: float
    step: float


@dataclass(frozen=True, slots=True, kw_only=True)
class _Field:
    label: str | None = None
    hint: str | None = None

    def params(self) -> dict[str, Any]:
        """The field's parameters in LM Studio's config schematics (camelCase keys)."""
        out: dict[str, Any] = {}
        if self.label is not None:
            out["displayName"] = self.label
        if self.hint is not None:
            out["hint"] = self.hint
        return out


@dataclass(frozen=True, slots=True, kw_only=True)
class Numeric(_Field):
    """A number: optional range, step, slider, decimal places."""

    min: float | None = None
    max: float | None = None
    step: float | None = None
    slider: Slider | None = None
    precision: int | None = None

    def params(self) -> dict[str, Any]:
        out = _Field.params(self)
        for key in ("min", "max", "step", "precision"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        if self.slider is not None:
            out["slider"] = {
                "min": self.slider.min,
                "max": self.slider.max,
                "step": self.slider.step,
            }
        return out


@dataclass(frozen=True, slots=True, kw_only=True)
class CheckboxNumeric(Numeric):
    """A number that can be switched off: the value is ``None`` when unchecked."""

    unchecked_hint: str | None = None

    def params(self) -> dict[str, Any]:
        out = Numeric.params(self)
        if self.unchecked_hint is not None:
            out["uncheckedHint"] = self.unchecked_hint
        return out


@dataclass(frozen=True, slots=True, kw_only=True)
class Text(_Field):
    """A string: optional length limits; a paragraph (multi-line) or a protected (secret) one."""

    min_length: int | None = None
    max_length: int | None = None
    paragraph: bool = False
    protected: bool = False
    placeholder: str | None = None

    def params(self) -> dict[str, Any]:
        out = _Field.params(self)
        if self.min_length is not None:
            out["minLength"] = self.min_length
        if self.max_length is not None:
            out["maxLength"] = self.max_length
        if self.paragraph:
            out["isParagraph"] = True
        if self.protected:
            out["isProtected"] = True
        if self.placeholder is not None:
            out["placeholder"] = self.placeholder
        return out


@dataclass(frozen=True, slots=True)
class Select(_Field):
    """One of the given options (values, or (value, display name) pairs)."""

    options: list[str | tuple[str, str]] = dataclasses.field(default_factory=list)

    def params(self) -> dict[str, Any]:
        out = _Field.params(self)
        out["options"] = [
            o if isinstance(o, str) else {"value": o[0], "displayName": o[1]} for o in self.options
        ]
        return out


@dataclass(frozen=True, slots=True, kw_only=True)
class StringArray(_Field):
    """A list of strings."""

    max_items: int | None = None
    allow_empty: bool = False

    def params(self) -> dict[str, Any]:
        out = _Field.params(self)
        if self.max_items is not None:
            out["maxNumItems"] = self.max_items
        if self.allow_empty:
            out["allowEmptyStrings"] = True
        return out


def _bad(cls: type, name: str, problem: str) -> LMStudioValueError:
    return LMStudioValueError(f"config field {cls.__name__}.{name}: {problem}")


def _field_of(cls: type, f: dataclasses.Field[Any], hint: Any) -> KVConfigSchematicsField:
    marker: _Field | None = None
    if typing.get_origin(hint) is typing.Annotated:
        base, *extras = typing.get_args(hint)
        marker = next((e for e in extras if isinstance(e, _Field)), None)
        hint = base
    if f.default is not dataclasses.MISSING:
        default = f.default
    elif f.default_factory is not dataclasses.MISSING:
        default = f.default_factory()
    else:
        raise _bad(cls, f.name, "needs a default (LM Studio shows it before any hook runs)")
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    optional_number = (
        origin in (Union, types.UnionType)
        and type(None) in args
        and {a for a in args if a is not type(None)} <= {int, float}
    )
    params: dict[str, Any]
    if isinstance(marker, CheckboxNumeric) or optional_number:
        numeric = marker if isinstance(marker, Numeric) else CheckboxNumeric()
        params = numeric.params()
        params["int"] = int in args and float not in args
        type_key = "checkboxNumeric"
        if default is None:  # unchecked: any value in range stands for it
            low, high = params.get("min"), params.get("max")
            placeholder = max(0, low) if low is not None else 0
            default = {
                "checked": False,
                "value": min(placeholder, high) if high is not None else placeholder,
            }
        else:
            default = {"checked": True, "value": default}
    elif hint is bool:
        params, type_key = (marker or _Field()).params(), "boolean"
    elif hint in (int, float):
        numeric = (
            marker if isinstance(marker, Numeric) else Numeric(label=getattr(marker, "label", None))
        )
        params, type_key = numeric.params(), "numeric"
        params["int"] = hint is int
    elif hint is str and isinstance(marker, Select):
        params, type_key = marker.params(), "select"
    elif hint is str:
        text = marker if isinstance(marker, Text) else Text(label=getattr(marker, "label", None))
        params, type_key = text.params(), "string"
    elif origin is list and args == (str,):
        array = marker if isinstance(marker, StringArray) else StringArray()
        params, type_key = array.params(), "stringArray"
    else:
        raise _bad(
            cls,
            f.name,
            f"type {hint!r} has no LM Studio field type; use int, float, str, bool, list[str] "
            "or an optional number",
        )
    params.setdefault("displayName", f.name.replace("_", " ").capitalize())
    field = KVConfigSchematicsField(
        short_key=f.name,
        full_key=f.name,
        type_key=type_key,
        type_params=params,
        default_value=default,
    )
    problem = config_problem(field, default)
    if problem is not None:
        raise _bad(cls, f.name, f"the default does not fit: {problem}")
    return field


def schematics_of(cls: type | None) -> KVConfigSchematics | None:
    """The wire schematics of a config dataclass (None: no config)."""
    if cls is None:
        return None
    if not dataclasses.is_dataclass(cls):
        raise LMStudioValueError(f"{cls!r} is not a dataclass; decorate it with @dataclass")
    hints = typing.get_type_hints(cls, include_extras=True)
    fields = [_field_of(cls, f, hints[f.name]) for f in dataclasses.fields(cls)]
    return KVConfigSchematics(fields=fields) if fields else None


def config_from_kv(cls: type[ConfigT] | None, kv: KVConfig) -> ConfigT | None:
    """The typed config a hook reads: an instance of ``cls`` from the values the server sent
    (defaults filled in; ``checkboxNumeric`` → number or None; ints as ``int``)."""
    if cls is None:
        return None
    schematics = schematics_of(typing.cast(type, cls))
    try:
        values = config_values(schematics, values_from_kv(kv))
    except ValueError as exc:
        raise LMStudioValueError(f"the server sent a config that does not fit: {exc}") from None
    kinds = {f.full_key: f for f in (schematics.fields if schematics else [])}
    typed: dict[str, Any] = {}
    for key, value in values.items():
        field = kinds[key]
        is_int = isinstance(field.type_params, dict) and field.type_params.get("int")
        if field.type_key == "checkboxNumeric":
            value = (
                (int(value["value"]) if is_int else value["value"]) if value["checked"] else None
            )
        elif field.type_key == "numeric":
            value = int(value) if is_int else float(value)
        elif field.type_key == "stringArray":
            value = list(value)
        typed[key] = value
    return cls(**typed)
