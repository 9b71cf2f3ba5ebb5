"""Tools from Python: a typed function (or an explicit JSON schema) becomes a tool a model can call.

Pure and reusable (``act()`` on both faces uses it; a plugin's tools provider can too):

    @tool
    def get_weather(city: str, unit: Literal["C", "F"] = "C") -> str:
        '''The current weather of a city.

        Args:
            city: The city's name, e.g. "Paris".
            unit: Celsius or Fahrenheit.
        '''

``get_weather`` is now a :class:`Tool` (still callable as before) with ``name``,
``description`` (the docstring's summary), and ``parameters``, a JSON schema built from the
annotations (defaults, ``Optional``, ``Literal``, ``Enum``, lists and dicts, dataclasses,
``TypedDict``s, msgspec ``Struct``s, and pydantic models when pydantic is installed — it is
never required) with each parameter's description taken from the docstring (Google, NumPy and
Sphinx styles). ``Tool.validate(arguments)`` checks a model's arguments against the signature
and returns the keyword arguments to call it with (nested values converted to their annotated
types), or raises :class:`ToolArgumentsError`, whose message goes back to the model.

``tool_from_schema(name, description, schema, implementation)`` makes a tool from a
hand-written JSON schema (arguments are then only checked to be a JSON object).
``ToolFunctionDef`` / ``ToolFunctionDefDict`` are ``lmstudio``'s (the official Python SDK)
spellings, accepted wherever tools are.
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import (
    Annotated,
    Any,
    Final,
    Generic,
    ParamSpec,
    Protocol,
    TypedDict,
    TypeVar,
    get_type_hints,
    overload,
)

import msgspec

from .._exceptions import LMStudioValueError, ToolArgumentsError

__all__ = [
    "ParamDefDict",
    "Tool",
    "ToolFunctionDef",
    "ToolFunctionDefDict",
    "ToolLike",
    "ToolSet",
    "error_result_content",
    "result_content",
    "tool",
    "tool_from_schema",
]

P = ParamSpec("P")
R = TypeVar("R")
R_co = TypeVar("R_co", covariant=True)


@dataclass(frozen=True, eq=False)
class Tool(Generic[P, R_co]):
    """A function a model may call: its name, description, JSON schema and implementation.

    Calling the tool calls the function. Make one with :func:`tool` (from a typed function)
    or :func:`tool_from_schema`.
    """

    name: str
    description: str
    parameters: dict[str, Any]
    """The JSON schema of the arguments (an object schema)."""
    implementation: Callable[P, R_co]
    is_async: bool
    _validator: Callable[[Mapping[str, Any]], dict[str, Any]] = dataclasses.field(repr=False)

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R_co:
        return self.implementation(*args, **kwargs)

    @property
    def __name__(self) -> str:
        """The tool's name (a tool passes for the function it wraps)."""
        return self.name

    def validate(self, arguments: Mapping[str, Any] | None) -> dict[str, Any]:
        """The keyword arguments to call the implementation with, from a model's arguments.

        Raises:
            ToolArgumentsError: the arguments do not fit (unknown or missing names, wrong
                types); its message is meant for the model.
        """
        if arguments is None:
            arguments = {}
        if not isinstance(arguments, Mapping):
            raise ToolArgumentsError(
                f"the arguments of tool {self.name!r} must be a JSON object, "
                f"not {type(arguments).__name__}"
            )
        return self._validator(arguments)

    def to_llm_tool(self) -> dict[str, Any]:
        """The tool as LM Studio's ``LLMTool`` (``llm.prediction.tools``) entry."""
        return {
            "type": "function",
            "function": {
                "name": self.name,
                "description": self.description,
                "parameters": self.parameters,
            },
        }


class ToolFunction(Protocol):
    """A plain function used as a tool (its signature and docstring are read at run time).

    Typed by its name only, so that a list of functions has no ``Any`` in its type."""

    @property
    def __name__(self) -> str: ...


class ParamDefDict(TypedDict, total=False):
    """``lmstudio``'s inline parameter form: ``{"type": int, "default": 3}``."""

    type: Any
    default: Any


class ToolFunctionDefDict(TypedDict):
    """``lmstudio``'s tool definition as a dict."""

    name: str
    description: str
    parameters: Mapping[str, object]
    implementation: ToolFunction


@dataclass(kw_only=True, frozen=True)
class ToolFunctionDef:
    """``lmstudio``'s tool definition: parameter types given explicitly, not read from a
    signature (``parameters`` maps a name to a type or a :class:`ParamDefDict`)."""

    name: str
    description: str
    parameters: Mapping[str, Any]
    implementation: Callable[..., Any]

    @classmethod
    def from_callable(
        cls, f: Callable[..., Any], *, name: str | None = None, description: str | None = None
    ) -> ToolFunctionDef:
        """The definition of a typed function (as :func:`tool` reads it)."""
        made = tool(f, name=name, description=description)
        hints = _hints(f)
        params: dict[str, Any] = {}
        for p in inspect.signature(f).parameters.values():
            kind = hints.get(p.name, Any)
            params[p.name] = (
                kind if p.default is p.empty else ParamDefDict(type=kind, default=p.default)
            )
        return cls(
            name=made.name, description=made.description, parameters=params, implementation=f
        )

    def to_tool(self) -> Tool[..., Any]:
        """The ``Tool`` this definition describes, with its arguments checked before each call.

        Raises:
            LMStudioValueError: A parameter's spec has no ``type``, or one this SDK cannot check.
        """
        fields: list[_Field] = []
        for pname, spec in self.parameters.items():
            if isinstance(spec, Mapping):
                if "type" not in spec:
                    raise LMStudioValueError(
                        f"tool {self.name!r}: parameter {pname!r} needs a 'type' key"
                    )
                fields.append(_Field(pname, spec["type"], spec.get("default", _REQUIRED), ""))
            else:
                fields.append(_Field(pname, spec, _REQUIRED, ""))
        return _build(self.name, self.description, fields, self.implementation)


ToolLike = ToolFunction | ToolFunctionDef | ToolFunctionDefDict
"""What ``act(tools=...)`` takes: plain functions, ``Tool``s (which have a ``__name__`` too)
and ``lmstudio``-style definitions."""


@overload
def tool(
    func: Callable[P, R], *, name: str | None = None, description: str | None = None
) -> Tool[P, R]: ...


@overload
def tool(
    func: None = None, *, name: str | None = None, description: str | None = None
) -> Callable[[Callable[P, R]], Tool[P, R]]: ...


def tool(
    func: Callable[P, R] | None = None, *, name: str | None = None, description: str | None = None
) -> Tool[P, R] | Callable[[Callable[P, R]], Tool[P, R]]:
    """Make a typed function a :class:`Tool`: ``@tool``, ``@tool(name=...)`` or ``tool(f)``.

    The name defaults to the function's, the description to its docstring's summary, and
    each parameter's description to its entry in the docstring's Args / Parameters /
    ``:param:`` section. Works for plain and ``async def`` functions.

    Raises:
        LMStudioValueError: the function cannot be a tool (``*args``, positional-only
            parameters, no description, an annotation that has no JSON schema).
    """
    if func is None:

        def decorate(f: Callable[P, R]) -> Tool[P, R]:
            return _from_callable(f, name, description)

        return decorate
    return _from_callable(func, name, description)


def tool_from_schema(
    name: str,
    description: str,
    parameters: Mapping[str, Any],
    implementation: Callable[..., Any],
) -> Tool[..., Any]:
    """A tool from an explicit JSON schema (an object schema); the arguments are passed as
    keywords, checked only to be an object with the schema's required names."""
    _check_name(name)
    if not isinstance(description, str):
        raise LMStudioValueError("tool_from_schema() description must be a string")
    if not isinstance(parameters, Mapping) or parameters.get("type", "object") != "object":
        raise LMStudioValueError(
            "tool_from_schema() parameters must be a JSON object schema, e.g. "
            '{"type": "object", "properties": {"city": {"type": "string"}}}'
        )
    if not callable(implementation):
        raise LMStudioValueError("tool_from_schema() implementation must be a function")
    schema = {"type": "object", **dict(parameters)}
    required = [r for r in schema.get("required", []) if isinstance(r, str)]

    def validate(arguments: Mapping[str, Any]) -> dict[str, Any]:
        missing = [r for r in required if r not in arguments]
        if missing:
            raise ToolArgumentsError(
                f"tool {name!r} is missing required argument(s): {', '.join(missing)}"
            )
        return dict(arguments)

    return Tool(
        name=name,
        description=description,
        parameters=schema,
        implementation=implementation,
        is_async=inspect.iscoroutinefunction(implementation),
        _validator=validate,
    )


class ToolSet:
    """The tools of one ``act()``, by name (duplicates refused)."""

    def __init__(self, tools: Iterable[ToolLike]) -> None:
        if isinstance(tools, str | Mapping) or not isinstance(tools, Iterable):
            raise LMStudioValueError("tools must be a list of tools or functions")
        self.tools: dict[str, Tool[..., Any]] = {}
        for item in tools:
            made = as_tool(item)
            if made.name in self.tools:
                raise LMStudioValueError(f"two tools are named {made.name!r}; names must differ")
            self.tools[made.name] = made
        if not self.tools:
            raise LMStudioValueError("act() needs at least one tool; use respond() without tools")

    def llm_tools(self) -> list[dict[str, Any]]:
        return [t.to_llm_tool() for t in self.tools.values()]

    def get(self, name: str) -> Tool[..., Any] | None:
        return self.tools.get(name)


def as_tool(item: object) -> Tool[..., Any]:
    if isinstance(item, Tool):
        return item
    if isinstance(item, ToolFunctionDef):
        return item.to_tool()
    if isinstance(item, Mapping):
        try:
            return ToolFunctionDef(**item).to_tool()
        except TypeError as exc:
            raise LMStudioValueError(
                f"a tool dict needs name, description, parameters, implementation: {exc}"
            ) from None
    if callable(item):
        return _from_callable(item, None, None)
    raise LMStudioValueError(f"{item!r} is not a tool: pass a function or a Tool")


def result_content(value: object) -> str:
    """What the model sees of a tool's return value: JSON (a string is JSON-quoted, as the
    official SDKs send it); values JSON cannot hold (dataclasses, structs, …) are converted."""
    if value is None:
        return "null"
    try:
        return msgspec.json.encode(value, enc_hook=_enc_hook).decode()
    except (TypeError, msgspec.EncodeError):
        return json.dumps(str(value), ensure_ascii=False)


def error_result_content(message: str) -> str:
    """What the model sees of a failed tool call: ``{"error":"…"}``, compact, as the
    TypeScript SDK sends a denial (``JSON.stringify``)."""
    return json.dumps({"error": message}, ensure_ascii=False, separators=(",", ":"))


# -- building ---------------------------------------------------------------------------------

_REQUIRED: Final = inspect.Parameter.empty
_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]{0,63}$")


@dataclass
class _Field:
    name: str
    annotation: Any
    default: Any
    description: str


def _check_name(name: object) -> None:
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise LMStudioValueError(
            f"tool name {name!r} must start with a letter or _ and hold only letters, digits, "
            "_, . or - (64 at most)"
        )


def _hints(f: Callable[..., Any]) -> dict[str, Any]:
    try:
        return get_type_hints(f, include_extras=True)
    except Exception as exc:  # a bad annotation in user code: say which
        raise LMStudioValueError(f"cannot read the annotations of {f!r}: {exc}") from None


def _from_callable(f: Callable[P, R], name: str | None, description: str | None) -> Tool[P, R]:
    if isinstance(f, Tool):
        return f
    if not callable(f):
        raise LMStudioValueError(f"tool() takes a function, not {type(f).__name__}")
    tool_name = name if name is not None else getattr(f, "__name__", None)
    _check_name(tool_name)
    assert isinstance(tool_name, str)
    summary, param_docs = parse_docstring(inspect.getdoc(f) or "")
    if description is None:
        description = summary
    if not isinstance(description, str) or not description.strip():
        raise LMStudioValueError(
            f"tool {tool_name!r} has no description: give the function a docstring, or pass "
            "description="
        )
    try:
        signature = inspect.signature(f)
    except (TypeError, ValueError) as exc:
        raise LMStudioValueError(f"cannot read the signature of {f!r}: {exc}") from None
    hints = _hints(f)
    fields: list[_Field] = []
    for p in signature.parameters.values():
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD, p.POSITIONAL_ONLY):
            raise LMStudioValueError(
                f"tool {tool_name!r}: parameter {p.name!r} is {p.kind.description}; a model "
                "passes arguments by name only"
            )
        fields.append(_Field(p.name, hints.get(p.name, Any), p.default, param_docs.get(p.name, "")))
    return _build(tool_name, description.strip(), fields, f)


def _build(
    name: str, description: str, fields: list[_Field], implementation: Callable[P, R]
) -> Tool[P, R]:
    _check_name(name)
    struct_fields: list[tuple[str, Any] | tuple[str, Any, Any]] = []
    for f in fields:
        kind = f.annotation
        if f.description:
            kind = Annotated[kind, msgspec.Meta(description=f.description)]
        if f.default is _REQUIRED:
            struct_fields.append((f.name, kind))
        else:
            struct_fields.append((f.name, kind, msgspec.field(default_factory=_factory(f.default))))
    try:
        struct = msgspec.defstruct(
            f"{name}_arguments".replace(".", "_").replace("-", "_"),
            struct_fields,
            kw_only=True,
            forbid_unknown_fields=True,
        )
    except (TypeError, ValueError) as exc:
        raise LMStudioValueError(f"tool {name!r}: {exc}") from None
    try:
        schema = _object_schema(struct, {f.name: f.default for f in fields})
    except (TypeError, ValueError) as exc:
        raise LMStudioValueError(
            f"tool {name!r} has a parameter type with no JSON schema: {exc}"
        ) from None
    names = [f.name for f in fields]

    def validate(arguments: Mapping[str, Any]) -> dict[str, Any]:
        try:
            converted = msgspec.convert(dict(arguments), struct, dec_hook=_dec_hook)
        except msgspec.ValidationError as exc:
            raise ToolArgumentsError(f"invalid arguments for tool {name!r}: {exc}") from None
        # Only what the model passed: the function's own defaults fill in the rest.
        return {n: getattr(converted, n) for n in names if n in arguments}

    return Tool(
        name=name,
        description=description,
        parameters=schema,
        implementation=implementation,
        is_async=inspect.iscoroutinefunction(implementation),
        _validator=validate,
    )


def _factory(default: Any) -> Callable[[], Any]:
    return lambda: default


def _object_schema(struct: type[Any], defaults: Mapping[str, Any]) -> dict[str, Any]:
    (top,), components = msgspec.json.schema_components(
        [struct], schema_hook=_schema_hook, ref_template="#/$defs/{name}"
    )
    defs = dict(components)
    body = defs.pop(top["$ref"].rsplit("/", 1)[1])
    body.pop("title", None)
    for pname, value in defaults.items():  # default_factory hides defaults from msgspec
        if value is not _REQUIRED and pname in body.get("properties", {}):
            try:
                body["properties"][pname]["default"] = msgspec.to_builtins(
                    value, enc_hook=_enc_hook
                )
            except (TypeError, msgspec.EncodeError):
                pass
    schema: dict[str, Any] = _inline(body, defs, ())
    if any("$ref" in json.dumps(v) for v in [schema]):  # recursive types keep their $defs
        schema["$defs"] = defs
    if not schema.get("required"):
        schema.pop("required", None)
    schema.setdefault("properties", {})
    return schema


def _inline(node: Any, defs: Mapping[str, Any], seen: tuple[str, ...]) -> Any:
    """Replace ``$ref``s by their definitions (small models read inline schemas better);
    a recursive reference stays a ``$ref``."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            key = ref.rsplit("/", 1)[1]
            if key in seen or key not in defs:
                return node
            target = {k: v for k, v in defs[key].items() if k != "title"}
            extra = {k: v for k, v in node.items() if k != "$ref"}
            return {**_inline(target, defs, (*seen, key)), **extra}
        return {k: _inline(v, defs, seen) for k, v in node.items()}
    if isinstance(node, list):
        return [_inline(v, defs, seen) for v in node]
    return node


def _is_pydantic_model(kind: Any) -> bool:
    return isinstance(kind, type) and callable(getattr(kind, "model_json_schema", None))


def _schema_hook(kind: Any) -> dict[str, Any]:
    if _is_pydantic_model(kind):
        schema: dict[str, Any] = kind.model_json_schema()
        return schema
    raise NotImplementedError(f"no JSON schema for {kind!r}")


def _dec_hook(kind: Any, value: Any) -> Any:
    if _is_pydantic_model(kind):
        try:
            return kind.model_validate(value)
        except ValueError as exc:  # pydantic's ValidationError is a ValueError
            raise msgspec.ValidationError(str(exc)) from None
    raise NotImplementedError(f"cannot convert to {kind!r}")


def _enc_hook(value: Any) -> Any:
    dump = getattr(value, "model_dump", None)
    if callable(dump):
        return dump(mode="json")
    raise NotImplementedError(f"cannot encode {type(value).__name__}")


# -- docstrings -------------------------------------------------------------------------------

_GOOGLE_SECTION = re.compile(r"^(Args|Arguments|Parameters|Params)\s*:\s*$")
_NUMPY_SECTION = re.compile(r"^(Parameters|Params|Arguments)\s*$")
_OTHER_SECTION = re.compile(
    r"^(Returns?|Raises|Yields?|Examples?|Notes?|See Also|Warnings?|References|Attributes)\s*:?\s*$"
)
_SPHINX_PARAM = re.compile(r"^:param\s+(?:[^:]*\s)?(\w+)\s*:\s*(.*)$")
_GOOGLE_ITEM = re.compile(r"^(\*{0,2}\w+)\s*(?:\([^)]*\))?\s*:\s*(.*)$")
_NUMPY_ITEM = re.compile(r"^(\w+)\s*(?::.*)?$")


def parse_docstring(doc: str) -> tuple[str, dict[str, str]]:
    """The description (text before the first section) and each parameter's description,
    from a Google, NumPy or Sphinx style docstring."""
    lines = inspect.cleandoc(doc).splitlines() if doc else []
    summary: list[str] = []
    params: dict[str, str] = {}
    i = 0
    in_summary = True
    while i < len(lines):
        line = lines[i]
        stripped = line.strip()
        nxt = lines[i + 1].strip() if i + 1 < len(lines) else ""
        if _GOOGLE_SECTION.match(stripped) and not line.startswith(" "):
            in_summary = False
            i = _google_items(lines, i + 1, params)
            continue
        if _NUMPY_SECTION.match(stripped) and set(nxt) == {"-"}:
            in_summary = False
            i = _numpy_items(lines, i + 2, params)
            continue
        sphinx = _SPHINX_PARAM.match(stripped)
        if sphinx:
            in_summary = False
            text = [sphinx[2].strip()]
            i += 1
            while i < len(lines) and lines[i].startswith((" ", "\t")) and lines[i].strip():
                text.append(lines[i].strip())
                i += 1
            params[sphinx[1]] = " ".join(t for t in text if t)
            continue
        if stripped.startswith(":") or _OTHER_SECTION.match(stripped) or set(nxt) == {"-"}:
            in_summary = False
        if in_summary:
            summary.append(line)
        i += 1
    return "\n".join(summary).strip(), params


def _google_items(lines: list[str], i: int, params: dict[str, str]) -> int:
    indent: int | None = None
    current: str | None = None
    while i < len(lines):
        line = lines[i]
        if line.strip() and not line.startswith((" ", "\t")):
            break  # the next section
        if not line.strip():
            i += 1
            continue
        depth = len(line) - len(line.lstrip())
        if indent is None:
            indent = depth
        item = _GOOGLE_ITEM.match(line.strip())
        if depth == indent and item:
            current = item[1].lstrip("*")
            params[current] = item[2].strip()
        elif current is not None:
            params[current] = (params[current] + " " + line.strip()).strip()
        i += 1
    return i


def _numpy_items(lines: list[str], i: int, params: dict[str, str]) -> int:
    current: str | None = None
    while i < len(lines):
        line = lines[i]
        stripped = line.strip()
        nxt = lines[i + 1].strip() if i + 1 < len(lines) else ""
        if stripped and not line.startswith((" ", "\t")) and set(nxt) == {"-"}:
            break  # the next section
        if stripped and not line.startswith((" ", "\t")):
            item = _NUMPY_ITEM.match(stripped)
            current = item[1] if item else None
            if current:
                params[current] = ""
        elif stripped and current is not None:
            params[current] = (params[current] + " " + stripped).strip()
        i += 1
    return i
