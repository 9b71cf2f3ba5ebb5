"""Config dataclasses → LM Studio's config schematics, and values read back typed."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any

import msgspec
import pytest

import lmstudio_sdk as lms
from lmstudio_sdk._protocol.packets.shared import KVConfig, KVConfigField
from lmstudio_sdk.plugin import CheckboxNumeric, Numeric, Select, Slider, StringArray, Text
from lmstudio_sdk.plugin.config import config_from_kv, schematics_of


@dataclass
class Every:
    count: Annotated[
        int, Numeric(label="Count", hint="h", min=0, max=9, step=1, slider=Slider(0, 9, 1))
    ] = 3
    ratio: Annotated[float, Numeric(precision=1)] = 0.5
    name: Annotated[
        str, Text(min_length=1, max_length=5, paragraph=True, protected=True, placeholder="p")
    ] = "ab"
    on: bool = True
    tags: Annotated[list[str], StringArray(max_items=2, allow_empty=True)] = field(
        default_factory=list
    )
    mode: Annotated[str, Select(["a", ("b", "Bee")])] = "a"
    budget: Annotated[int | None, CheckboxNumeric(min=1, unchecked_hint="off")] = None


def wire(cls: type) -> list[dict[str, Any]]:
    schematics = schematics_of(cls)
    assert schematics is not None
    fields: list[dict[str, Any]] = msgspec.to_builtins(schematics)["fields"]
    return fields


def test_every_field_type_on_the_wire() -> None:
    fields = {f["fullKey"]: f for f in wire(Every)}
    assert fields["count"] == {
        "shortKey": "count",
        "fullKey": "count",
        "typeKey": "numeric",
        "typeParams": {
            "displayName": "Count",
            "hint": "h",
            "min": 0,
            "max": 9,
            "step": 1,
            "slider": {"min": 0, "max": 9, "step": 1},
            "int": True,
        },
        "defaultValue": 3,
    }
    assert fields["ratio"]["typeParams"] == {"precision": 1, "int": False, "displayName": "Ratio"}
    assert fields["name"]["typeKey"] == "string"
    assert fields["name"]["typeParams"] == {
        "minLength": 1,
        "maxLength": 5,
        "isParagraph": True,
        "isProtected": True,
        "placeholder": "p",
        "displayName": "Name",
    }
    assert (fields["on"]["typeKey"], fields["on"]["defaultValue"]) == ("boolean", True)
    assert fields["tags"]["typeKey"] == "stringArray"
    assert fields["tags"]["typeParams"]["maxNumItems"] == 2
    assert fields["mode"]["typeKey"] == "select"
    assert fields["mode"]["typeParams"]["options"] == ["a", {"value": "b", "displayName": "Bee"}]
    assert fields["budget"]["typeKey"] == "checkboxNumeric"
    assert fields["budget"]["defaultValue"] == {"checked": False, "value": 1}
    assert fields["budget"]["typeParams"]["uncheckedHint"] == "off"


def test_values_read_back_typed() -> None:
    kv = KVConfig(
        fields=[
            KVConfigField(key="count", value=7.0),
            KVConfigField(key="budget", value={"checked": True, "value": 4.0}),
            KVConfigField(key="tags", value=["x", ""]),
        ]
    )
    config = config_from_kv(Every, kv)
    assert config == Every(count=7, tags=["x", ""], budget=4)
    assert type(config.count) is int and type(config.budget) is int
    with pytest.raises(lms.LMStudioValueError, match=r"mode.*not one of the options"):
        config_from_kv(Every, KVConfig(fields=[KVConfigField(key="mode", value="c")]))


def test_bad_config_classes_are_refused_with_the_field() -> None:
    @dataclass
    class NoDefault:
        x: int

    @dataclass
    class BadType:
        x: dict[str, int] = field(default_factory=dict)

    @dataclass
    class BadDefault:
        x: Annotated[int, Numeric(max=3)] = 5

    with pytest.raises(lms.LMStudioValueError, match=r"NoDefault.x: needs a default"):
        schematics_of(NoDefault)
    with pytest.raises(lms.LMStudioValueError, match=r"BadType.x: type .* has no LM Studio"):
        schematics_of(BadType)
    with pytest.raises(lms.LMStudioValueError, match=r"BadDefault.x: the default does not fit"):
        schematics_of(BadDefault)
    with pytest.raises(lms.LMStudioValueError, match=r"not a dataclass"):
        schematics_of(int)
