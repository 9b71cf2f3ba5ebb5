"""``response_format=``: what the user asks the reply to be, as LM Studio's structured setting
and as a parser that turns the reply back into the user's type.

Accepted, as in the official Python SDK 1.5 (whose code therefore runs unchanged):

- a pydantic model class (detected by its ``model_json_schema`` / ``model_validate_json``
  methods: pydantic is never imported here, nor required);
- a msgspec ``Struct``, a dataclass, a ``TypedDict`` (or anything else ``msgspec`` can describe
  and decode), including the official SDK's ``lmstudio.BaseModel``;
- a JSON schema dict (``{"type": "object", ...}``): the reply comes back as plain JSON values;
- a structured setting dict, ``{"type": "json", "jsonSchema": {...}}`` or
  ``{"type": "gbnf", "gbnfGrammar": "..."}`` (a GBNF reply comes back as its text), or an object
  with ``to_dict()`` returning one (the official SDK's ``LlmStructuredPredictionSetting``).

Pure: no I/O.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Mapping
from typing import Any, Generic, TypeVar, is_typeddict

import msgspec

from .._exceptions import LMStudioValueError, StructuredOutputError

__all__ = ["ResponseFormat", "response_format_of"]

T = TypeVar("T")

_CUT_OFF: dict[str, str] = {
    "maxPredictedTokensReached": "max_tokens cut it off: raise max_tokens or pass False",
    "contextLengthReached": "the context length cut it off: load the model with more context",
    "userStopped": "the prediction was cancelled before the JSON ended",
    "stopStringFound": "a stop string ended it",
}

_ACCEPTED = (
    "a pydantic model class, a msgspec Struct, a dataclass or TypedDict class, a JSON schema "
    'dict, or {"type": "gbnf", "gbnfGrammar": ...}'
)


class ResponseFormat(Generic[T]):
    """The structured setting sent to LM Studio and the parser of the reply."""

    def __init__(
        self,
        setting: dict[str, Any],
        parse: Callable[[str], T],
        *,
        name: str,
        validation_errors: tuple[type[BaseException], ...],
        is_json: bool = True,
    ) -> None:
        self.setting = setting
        """``llm.prediction.structured``'s value."""
        self.name = name
        self.is_json = is_json
        self._parse = parse
        self._errors = validation_errors

    def __repr__(self) -> str:
        return f"ResponseFormat({self.name})"

    def parse(self, text: str, stop_reason: str) -> T:
        """The reply as the user's type; StructuredOutputError (with the raw text) if not."""
        try:
            return self._parse(text)
        except self._errors as exc:
            raise structured_output_error(text, stop_reason, exc, self.name) from exc


def structured_output_error(
    text: str, stop_reason: str, error: BaseException, target: str
) -> StructuredOutputError:
    """Why a reply is not what was asked for: cut off, not JSON, or not valid for the type."""
    if not _is_json(text):
        why = _CUT_OFF.get(stop_reason, f"the model stopped with {stop_reason!r}")
        if isinstance(error, json.JSONDecodeError):
            detail = f"{error.msg} at character {error.pos}"
        else:
            detail = str(error).splitlines()[0] if str(error) else type(error).__name__
        message = f"the reply is not valid JSON ({detail}); {why}"
    else:
        message = f"the reply is JSON but not a valid {target}: {error}"
    return StructuredOutputError(
        message, raw_text=text, stop_reason=stop_reason, target=target, error=error
    )


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def json_reply(text: str, stop_reason: str) -> Any:
    """A reply decoded as plain JSON values."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise structured_output_error(text, stop_reason, exc, "JSON value") from None


def response_format_of(value: object, where: str) -> ResponseFormat[Any]:
    """The response format a ``response_format=`` argument describes; LMStudioValueError if none."""
    if isinstance(value, type):
        return _from_type(value, where)
    to_dict = getattr(value, "to_dict", None)
    if not isinstance(value, Mapping) and callable(to_dict):
        value = to_dict()
    if isinstance(value, Mapping):
        return _from_mapping(value, where)
    raise LMStudioValueError(
        f"{where} response_format must be {_ACCEPTED}; got {type(value).__name__}"
    )


def _from_mapping(value: Mapping[str, Any], where: str) -> ResponseFormat[Any]:
    kind = value.get("type")
    if kind == "gbnf":
        grammar = value.get("gbnfGrammar", value.get("gbnf_grammar"))
        if not isinstance(grammar, str) or not grammar.strip():
            raise LMStudioValueError(
                f'{where} response_format {{"type": "gbnf"}} needs a non-empty "gbnfGrammar" string'
            )
        return ResponseFormat(
            {"type": "gbnf", "gbnfGrammar": grammar},
            _identity,
            name="GBNF grammar",
            validation_errors=(),
            is_json=False,
        )
    if kind == "json" and ("jsonSchema" in value or "json_schema" in value):
        schema = value.get("jsonSchema", value.get("json_schema"))
    elif kind is not None or any(k in value for k in ("$ref", "properties", "anyOf", "oneOf")):
        schema = value  # a JSON schema itself
    else:
        raise LMStudioValueError(
            f"{where} response_format {dict(value)!r} is neither a JSON schema (it has no "
            f'"type") nor a structured setting; pass {_ACCEPTED}'
        )
    if not isinstance(schema, Mapping):
        raise LMStudioValueError(f"{where} response_format's jsonSchema must be a dict")
    _check_json(schema, where)
    return ResponseFormat(
        {"type": "json", "jsonSchema": dict(schema)},
        json.loads,
        name="JSON value",
        validation_errors=(ValueError,),
    )


def _from_type(cls: type, where: str) -> ResponseFormat[Any]:
    name = cls.__name__
    if not issubclass(cls, msgspec.Struct) and _is_pydantic(cls):
        schema = cls.model_json_schema()  # type: ignore[attr-defined]
        return ResponseFormat(
            {"type": "json", "jsonSchema": _inline_root(schema)},
            cls.model_validate_json,  # type: ignore[attr-defined]
            name=name,
            validation_errors=(ValueError,),  # pydantic's ValidationError is a ValueError
        )
    if issubclass(cls, msgspec.Struct) or dataclasses.is_dataclass(cls) or is_typeddict(cls):
        try:
            schema = msgspec.json.schema(cls)
            decoder: msgspec.json.Decoder[Any] = msgspec.json.Decoder(cls)
        except (TypeError, ValueError) as exc:
            raise LMStudioValueError(
                f"{where} response_format {name} cannot be described as a JSON schema: {exc}"
            ) from exc
        return ResponseFormat(
            {"type": "json", "jsonSchema": _inline_root(schema)},
            decoder.decode,
            name=name,
            validation_errors=(msgspec.DecodeError,),
        )
    raise LMStudioValueError(f"{where} response_format must be {_ACCEPTED}; got the class {name}")


def _is_pydantic(cls: type) -> bool:
    return callable(getattr(cls, "model_json_schema", None)) and callable(
        getattr(cls, "model_validate_json", None)
    )


def _inline_root(schema: Mapping[str, Any]) -> dict[str, Any]:
    """``{"$ref": "#/$defs/X", "$defs": {...}}`` (msgspec's shape) with X itself at the root,
    so that grammars and LM Studio's own converter see an object schema at the top."""
    result = dict(schema)
    ref = result.get("$ref")
    defs = result.get("$defs")
    if isinstance(ref, str) and ref.startswith("#/$defs/") and isinstance(defs, Mapping):
        target = defs.get(ref.removeprefix("#/$defs/"))
        if isinstance(target, Mapping) and len(result) == 2:
            inlined = dict(target)
            others = {k: v for k, v in defs.items() if k != ref.removeprefix("#/$defs/")}
            if _mentions(others, ref) or _mentions(target, ref):
                inlined["$defs"] = dict(defs)  # still referred to: keep every definition
            elif others:
                inlined["$defs"] = others
            return inlined
    return result


def _mentions(value: object, ref: str) -> bool:
    return ref in json.dumps(value)


def _check_json(schema: Mapping[str, Any], where: str) -> None:
    try:
        json.dumps(schema)
    except (TypeError, ValueError) as exc:
        raise LMStudioValueError(
            f"{where} response_format's JSON schema is not JSON-serialisable: {exc}"
        ) from exc


def _identity(text: str) -> str:
    return text
