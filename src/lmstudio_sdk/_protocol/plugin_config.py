"""Plugin config schematics: the field types of LM Studio's plugin configs, and the values a
hook receives (defaults filled in, every value checked against its field).

Pure functions over the packet vocabulary: the plugin API builds schematics with them, the
server checks a caller's plugin config with them before a hook sees it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from .packets.shared import KVConfig, KVConfigField, KVConfigSchematics, KVConfigSchematicsField

__all__ = [
    "FIELD_TYPES",
    "PLUGINS_KEY",
    "config_problem",
    "config_values",
    "kv_from_values",
    "values_from_kv",
]

# The prediction config field that names the plugins a prediction runs, in order:
# ``[{"identifier": "owner/name", "config": {field: value, ...}}, ...]``. LM Studio keeps a
# chat's plugins in the app; over the SDK API a prediction names them with this key.
PLUGINS_KEY = "ext.lmstudioSdk.plugins"

# The value types a plugin config field may have (TS SDK's kvValueTypesLibrary, the subset that
# plugins' createConfigSchematics offers).
FIELD_TYPES = ("numeric", "checkboxNumeric", "string", "boolean", "stringArray", "select")


def _number_problem(value: Any, params: Mapping[str, Any]) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return f"expected a finite number, got {value!r}"
    if params.get("int") and not float(value).is_integer():
        return f"expected an integer, got {value!r}"
    low, high = params.get("min"), params.get("max")
    if isinstance(low, int | float) and value < low:
        return f"{value!r} is below the minimum {low!r}"
    if isinstance(high, int | float) and value > high:
        return f"{value!r} is above the maximum {high!r}"
    return None


def _string_problem(value: Any, params: Mapping[str, Any]) -> str | None:
    if not isinstance(value, str):
        return f"expected a string, got {type(value).__name__}"
    low, high = params.get("minLength"), params.get("maxLength")
    if isinstance(low, int) and len(value) < low:
        return f"expected at least {low} characters, got {len(value)}"
    if isinstance(high, int) and len(value) > high:
        return f"expected at most {high} characters, got {len(value)}"
    return None


def _select_problem(value: Any, params: Mapping[str, Any]) -> str | None:
    options = [o if isinstance(o, str) else o.get("value") for o in params.get("options", [])]
    if value not in options:
        return f"{value!r} is not one of the options {options!r}"
    return None


def _string_array_problem(value: Any, params: Mapping[str, Any]) -> str | None:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        return f"expected a list of strings, got {value!r}"
    most = params.get("maxNumItems")
    if isinstance(most, int) and len(value) > most:
        return f"expected at most {most} items, got {len(value)}"
    if not params.get("allowEmptyStrings") and any(v == "" for v in value):
        return "empty strings are not allowed"
    return None


def _checkbox_numeric_problem(value: Any, params: Mapping[str, Any]) -> str | None:
    if (
        not isinstance(value, dict)
        or set(value) != {"checked", "value"}
        or not isinstance(value["checked"], bool)
    ):
        return f'expected {{"checked": bool, "value": number}}, got {value!r}'
    return _number_problem(value["value"], params)


def config_problem(field: KVConfigSchematicsField, value: Any) -> str | None:
    """Why ``value`` does not fit ``field`` (None: it fits, or its type is not one of
    ``FIELD_TYPES`` and is left unchecked)."""
    params: Mapping[str, Any] = field.type_params if isinstance(field.type_params, dict) else {}
    match field.type_key:
        case "numeric":
            return _number_problem(value, params)
        case "checkboxNumeric":
            return _checkbox_numeric_problem(value, params)
        case "string":
            return _string_problem(value, params)
        case "boolean":
            return None if isinstance(value, bool) else f"expected true or false, got {value!r}"
        case "stringArray":
            return _string_array_problem(value, params)
        case "select":
            return _select_problem(value, params)
    return None  # a field type this SDK does not know (a newer LM Studio's): not checked


def config_values(
    schematics: KVConfigSchematics | None, given: Mapping[str, Any]
) -> dict[str, Any]:
    """The values a hook receives: each field's default, overridden by ``given``.

    ValueError names the field when a key is unknown or a value does not fit its field.
    """
    fields = {f.full_key: f for f in (schematics.fields if schematics else [])}
    unknown = sorted(set(given) - set(fields))
    if unknown:
        known = ", ".join(sorted(fields)) or "none (this plugin has no config)"
        raise ValueError(f"unknown config field(s) {', '.join(unknown)}; the fields are: {known}")
    values: dict[str, Any] = {}
    for key, field in fields.items():
        value = given.get(key, field.default_value)
        problem = config_problem(field, value)
        if problem is not None:
            raise ValueError(f"config field {key!r}: {problem}")
        values[key] = value
    return values


def kv_from_values(values: Mapping[str, Any]) -> KVConfig:
    return KVConfig(fields=[KVConfigField(key=k, value=v) for k, v in values.items()])


def values_from_kv(config: KVConfig) -> dict[str, Any]:
    return {f.key: f.value for f in config.fields}
