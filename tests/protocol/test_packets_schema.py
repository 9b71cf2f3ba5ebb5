"""The packet vocabulary against the TS SDK 2.0 schema it is generated from.

Every endpoint part has a type (or None when the part is void). For every part, a small sampler
makes deterministic documents from its JSON Schema (required fields only, all fields, one per
``anyOf`` branch, enums, consts and bounds honoured); each is decoded with our type, re-encoded,
and the result must validate against the part's schema and equal the document. That is what
keeps the server from sending a shape an official client would drop.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import msgspec
import pytest

from lmstudio_sdk._protocol.packets import ENDPOINTS, NAMESPACES
from lmstudio_sdk._protocol.packets.shared import LLMInstanceInfo, ModelSpecifier

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "schema" / "endpoints-sdk-2.0.0.schema.json"
SCHEMA: dict[str, Any] = json.loads(SCHEMA_PATH.read_text())

# schema key → registry attribute, per endpoint kind
PARTS = {
    "rpc": {"parameter": "parameter", "returns": "result"},
    "channel": {
        "creationParameter": "creation_parameter",
        "toClientPacket": "to_client",
        "toServerPacket": "to_server",
    },
}
ALL_ATTRIBUTES = [a for parts in PARTS.values() for a in parts.values()]

# A string matching each pattern of the schema; an unknown pattern fails the test.
PATTERN_EXAMPLES = {
    "^[a-z0-9]+(?:-[a-z0-9]+)*$": "my-plugin",
    "^[a-z0-9]+(?:[-.][a-z0-9]+)*$": "model.v2-q4",
    "^[\\p{L}\\p{N}!@#$%^&()\\-_+=,.;'[\\]{}~`]"
    "[\\p{L}\\p{N}!@#$%^&()\\-_+=,.;'[\\]{}~` ]*(?<![. ])$": "My Plugin (v2)",
}
# Python's re has no \p{...}; in this class (which already admits "_") \w means the same.
PYTHON_REGEX = {"\\p{L}\\p{N}": "\\w"}

KEYWORDS = {
    "$schema", "type", "properties", "required", "additionalProperties", "items", "anyOf", "not",
    "const", "enum", "default", "pattern", "minLength", "maxLength", "minimum", "maximum",
    "exclusiveMinimum", "minItems", "maxItems",
}  # fmt: skip


def canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


def unique(docs: list[Any]) -> list[Any]:
    seen: dict[str, Any] = {}
    for doc in docs:
        seen.setdefault(canonical(doc), doc)
    return list(seen.values())


def is_void(schema: Any) -> bool:
    return schema == "void" or (isinstance(schema, dict) and schema.get("not") == {})


class Sampler:
    """Deterministic documents for a JSON Schema fragment of the TS SDK's own validators."""

    def __init__(self, unknown_enums: bool = False, drop_required: bool = False) -> None:
        self.unknown_enums = unknown_enums
        self.drop_required = drop_required  # also objects that miss one required property
        self.branch_docs: dict[str, int] = {}  # anyOf branch path → documents made from it

    def docs(self, schema: Any, path: str = "") -> list[Any]:
        assert isinstance(schema, dict), f"{path}: {schema!r}"
        unknown = set(schema) - KEYWORDS
        assert not unknown, f"{path}: the sampler does not know {unknown}"
        if is_void(schema):
            return []  # "undefined": no JSON document has this shape
        if "anyOf" in schema and untagged_objects(schema["anyOf"]) and self.drop_required:
            # msgspec cannot express such a union: our type is Any, which accepts anything.
            return Sampler(self.unknown_enums).docs(schema, path)
        if "anyOf" in schema:
            found: list[Any] = []
            for index, branch in enumerate(schema["anyOf"]):
                branch_path = f"{path}/anyOf/{index}"
                branch_docs = self.docs(branch, branch_path)
                if not is_void(branch):
                    self.branch_docs[branch_path] = len(branch_docs)
                found += branch_docs
            return unique(found)
        if "const" in schema:
            return [schema["const"]]
        if "enum" in schema:
            return ["someFutureValue"] if self.unknown_enums else list(schema["enum"])
        kind = schema.get("type")
        if kind is None:
            return [{"free": ["form", 1, None]}]
        if isinstance(kind, list):
            return unique([d for k in kind for d in self.docs({**schema, "type": k}, path)])
        sample: list[Any] = getattr(self, kind)(schema, path)
        return sample

    def object(self, schema: dict[str, Any], path: str) -> list[Any]:
        props: dict[str, Any] | None = schema.get("properties")
        if props is None:
            extra = schema.get("additionalProperties", {})
            values = [] if extra is False else self.docs(extra, f"{path}/additionalProperties")
            return [{}, *({"someKey": value} for value in values)]
        options = {key: self.docs(prop, f"{path}/properties/{key}") for key, prop in props.items()}
        required = {key: options[key][0] for key in schema.get("required", [])}
        full = {**required, **{key: docs[0] for key, docs in options.items() if docs}}
        variants = [{**required, key: doc} for key, docs in options.items() for doc in docs[1:]]
        if self.drop_required:  # not a tag: a standalone tagged struct may omit it
            tags = [key for key in required if "const" in props[key]]
            variants += [{k: v for k, v in required.items() if k != key} for key in required]
            variants = [v for v in variants if all(tag in v for tag in tags)]
        return unique([required, full, *variants])

    def array(self, schema: dict[str, Any], path: str) -> list[Any]:
        items = schema.get("items", {})
        if isinstance(items, list):  # a tuple
            options = [self.docs(item, f"{path}/items/{i}") for i, item in enumerate(items)]
            first = [docs[0] for docs in options]
            variants = [
                [*first[:i], doc, *first[i + 1 :]]
                for i, docs in enumerate(options)
                for doc in docs[1:]
            ]
            return unique([first, *variants])
        low, high = schema.get("minItems", 0), schema.get("maxItems", 3)
        repeat = min(max(low, 1), high)
        lists = [[doc] * repeat for doc in self.docs(items, f"{path}/items")]
        return [[], *lists] if low == 0 else lists

    def string(self, schema: dict[str, Any], path: str) -> list[Any]:
        if "pattern" in schema:
            return [PATTERN_EXAMPLES[schema["pattern"]]]
        low, high = schema.get("minLength", 0), schema.get("maxLength", 100)
        return ["sample text"[:high].ljust(low, "x")]

    def integer(self, schema: dict[str, Any], path: str) -> list[Any]:
        return [bounded(42, schema)]

    def number(self, schema: dict[str, Any], path: str) -> list[Any]:
        # 7 must come back as 7, not 7.0: token ids are "number" on the wire.
        return unique([bounded(2.5, schema), bounded(7, schema)])

    def boolean(self, schema: dict[str, Any], path: str) -> list[Any]:
        return [True, False]

    def null(self, schema: dict[str, Any], path: str) -> list[Any]:
        return [None]


def untagged_objects(branches: list[Any]) -> bool:
    """Two objects or more, not told apart by one string const property (like "type")."""
    objects = [b for b in branches if b.get("type") == "object"]
    props = [b.get("properties", {}) for b in objects]
    tags = [
        {(k, p["const"]) for k, p in ps.items() if isinstance(p.get("const"), str)} for ps in props
    ]
    keys = {k for tag in tags for k, _ in tag}
    return len(objects) > 1 and (len(keys) != 1 or not all(tags))


def bounded(value: float, schema: dict[str, Any]) -> Any:
    if "minimum" in schema:
        value = max(value, schema["minimum"])
    if "exclusiveMinimum" in schema:
        value = max(value, schema["exclusiveMinimum"] + 1)
    if "maximum" in schema:
        value = min(value, schema["maximum"])
    return value


def python_regex(schema: Any) -> Any:
    """The schema with its patterns in Python's regex dialect, for jsonschema."""
    if isinstance(schema, dict):
        fixed = {k: python_regex(v) for k, v in schema.items()}
        if isinstance(fixed.get("pattern"), str):
            for js, py in PYTHON_REGEX.items():
                fixed["pattern"] = fixed["pattern"].replace(js, py)
        return fixed
    if isinstance(schema, list):
        return [python_regex(v) for v in schema]
    return schema


def anyof_branches(schema: Any, path: str = "") -> list[str]:
    """Path of every non-void anyOf branch, in the sampler's path notation."""
    found: list[str] = []
    if isinstance(schema, dict):
        for index, branch in enumerate(schema.get("anyOf", [])):
            found += [] if is_void(branch) else [f"{path}/anyOf/{index}"]
            found += anyof_branches(branch, f"{path}/anyOf/{index}")
        for key, prop in schema.get("properties", {}).items():
            found += anyof_branches(prop, f"{path}/properties/{key}")
        items = schema.get("items")
        for index, item in enumerate(items if isinstance(items, list) else []):
            found += anyof_branches(item, f"{path}/items/{index}")
        if isinstance(items, dict):
            found += anyof_branches(items, f"{path}/items")
        if isinstance(schema.get("additionalProperties"), dict):
            found += anyof_branches(schema["additionalProperties"], f"{path}/additionalProperties")
    return found


def endpoints() -> list[tuple[str, str, str, dict[str, Any]]]:
    return [
        (namespace, kind, name, spec)
        for namespace, groups in SCHEMA.items()
        for kind in PARTS
        for name, spec in groups[kind].items()
    ]


def parts() -> list[tuple[str, str, str, Any, Any]]:
    """(namespace, endpoint, part, JSON Schema, our type) of every non-void part."""
    return [
        (namespace, name, key, spec[key], getattr(ENDPOINTS[namespace, name], attribute))
        for namespace, kind, name, spec in endpoints()
        for key, attribute in PARTS[kind].items()
        if not is_void(spec[key])
    ]


@cache
def checked_documents(namespace: str, name: str, key: str) -> int:
    """Round-trip every sample of one part; the number of documents checked."""
    spec = next(s for ns, _, n, s in endpoints() if (ns, n) == (namespace, name))
    kind = "rpc" if "parameter" in spec else "channel"
    schema, ours = spec[key], getattr(ENDPOINTS[namespace, name], PARTS[kind][key])
    sampler = Sampler()
    docs = sampler.docs(schema)
    uncovered = [p for p in anyof_branches(schema) if sampler.branch_docs.get(p, 0) < 1]
    assert not uncovered, f"anyOf branches without a document: {uncovered}"
    assert docs, "no documents"
    validator = jsonschema.Draft7Validator(python_regex(schema))
    for doc in docs:
        validator.validate(doc)  # the sampler itself is right
        encoded = msgspec.json.encode(msgspec.json.decode(json.dumps(doc), type=ours))
        validator.validate(json.loads(encoded))
        assert canonical(json.loads(encoded)) == canonical(doc)
    return len(docs)


def test_registry_covers_every_endpoint() -> None:
    expected = {(namespace, name) for namespace, _, name, _ in endpoints()}
    assert set(ENDPOINTS) == expected
    print(f"\npacket registry: {len(ENDPOINTS)} endpoints in {len(NAMESPACES)} namespaces")
    assert len(ENDPOINTS) == 93
    assert list(NAMESPACES) == list(SCHEMA)


@pytest.mark.parametrize(
    ("namespace", "kind", "name", "spec"),
    endpoints(),
    ids=[f"{ns}.{name}" for ns, _, name, _ in endpoints()],
)
def test_every_part_has_a_type_or_none_when_void(
    namespace: str, kind: str, name: str, spec: dict[str, Any]
) -> None:
    endpoint = ENDPOINTS[namespace, name]
    assert (endpoint.kind, endpoint.serialization) == (kind, spec["serialization"])
    for key, attribute in PARTS[kind].items():
        ours = getattr(endpoint, attribute)
        assert (ours is None) == (spec[key] == "void" or spec[key].get("not") == {}), key
        if ours is not None:
            msgspec.json.Decoder(ours)  # a type msgspec accepts
    others = set(ALL_ATTRIBUTES) - set(PARTS[kind].values())
    assert all(getattr(endpoint, attribute) is None for attribute in others)


@pytest.mark.parametrize(
    ("namespace", "name", "key"),
    [(ns, name, key) for ns, name, key, _, _ in parts()],
    ids=[f"{ns}.{name}.{key}" for ns, name, key, _, _ in parts()],
)
def test_samples_round_trip_and_validate(namespace: str, name: str, key: str) -> None:
    assert checked_documents(namespace, name, key) >= 1


@pytest.mark.parametrize(
    ("namespace", "name", "key", "schema", "ours"),
    parts(),
    ids=[f"{ns}.{name}.{key}" for ns, name, key, _, _ in parts()],
)
def test_a_missing_required_property_is_rejected(
    namespace: str, name: str, key: str, schema: Any, ours: Any
) -> None:
    validator = jsonschema.Draft7Validator(python_regex(schema))
    for doc in Sampler(drop_required=True).docs(schema):
        if not validator.is_valid(doc):
            with pytest.raises(msgspec.ValidationError):
                msgspec.json.decode(json.dumps(doc), type=ours)


def test_number_of_documents_checked() -> None:
    total = sum(checked_documents(ns, name, key) for ns, name, key, _, _ in parts())
    print(f"\npacket vocabulary: {total} documents round-tripped through {len(parts())} parts")
    assert total > 1000


@pytest.mark.parametrize(
    ("namespace", "name", "key", "schema", "ours"),
    parts(),
    ids=[f"{ns}.{name}.{key}" for ns, name, key, _, _ in parts()],
)
def test_decoding_ignores_unknown_fields_and_enum_values(
    namespace: str, name: str, key: str, schema: Any, ours: Any
) -> None:
    for doc in Sampler(unknown_enums=True).docs(schema):
        if isinstance(doc, dict):
            doc = {**doc, "someFieldFromTheFuture": {"x": 1}}
        msgspec.json.decode(json.dumps(doc), type=ours)


def test_unknown_enum_value_and_field_in_a_model_info() -> None:
    info = msgspec.json.decode(
        b'{"type": "llm", "modelKey": "m", "format": "newFormat", "displayName": "M",'
        b' "publisher": "p", "path": "p/m", "sizeBytes": 1, "indexedModelIdentifier": "p/m",'
        b' "deviceIdentifier": null, "identifier": "m", "instanceReference": "r", "ttlMs": null,'
        b' "lastUsedTime": null, "vision": false, "trainedForToolUse": false,'
        b' "maxContextLength": 8, "contextLength": 8, "newField": [1]}',
        type=LLMInstanceInfo,
    )
    assert info.format == "newFormat"


def test_a_tagged_struct_always_writes_its_tag() -> None:
    query = msgspec.json.decode(b'{"type": "query", "query": {}}', type=ModelSpecifier)
    assert json.loads(msgspec.json.encode(query)) == {"type": "query", "query": {}}
