"""Tools from Python functions: names, descriptions, JSON schemas and argument validation."""

from __future__ import annotations

import dataclasses
import enum
import json
from typing import Any, Literal, TypedDict

import msgspec
import pytest

import lmstudio_sdk as lms
from lmstudio_sdk._protocol.tools import ToolSet, parse_docstring, result_content


class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


@dataclasses.dataclass
class Point:
    x: int
    y: int = 0


class Options(TypedDict):
    fast: bool


class Box(msgspec.Struct):
    sides: list[int]


class Model:  # the two methods lmstudio_sdk uses of a pydantic model
    def __init__(self, q: int) -> None:
        self.q = q

    @classmethod
    def model_json_schema(cls) -> dict[str, Any]:
        return {"type": "object", "properties": {"q": {"type": "integer"}}, "required": ["q"]}

    @classmethod
    def model_validate(cls, value: Any) -> Model:
        if not isinstance(value, dict) or not isinstance(value.get("q"), int):
            raise ValueError("q must be an integer")
        return cls(value["q"])


def test_google_docstring_and_annotations_give_the_schema() -> None:
    @lms.tool
    def weather(
        city: str,
        unit: Literal["C", "F"] = "C",
        days: int | None = None,
        color: Color = Color.RED,
        at: Point | None = None,
        options: Options | None = None,
        box: Box | None = None,
        tags: list[str] | None = None,
    ) -> str:
        """The weather of a city.

        Longer explanation.

        Args:
            city: The city's
                name.
            unit (str): Celsius or Fahrenheit.

        Returns:
            A sentence.
        """
        return city

    assert weather.name == "weather"
    assert weather.description == "The weather of a city.\n\nLonger explanation."
    schema = weather.parameters
    assert schema["type"] == "object" and schema["required"] == ["city"]
    assert schema["additionalProperties"] is False
    props = schema["properties"]
    assert props["city"] == {"type": "string", "description": "The city's name."}
    assert props["unit"] == {
        "enum": ["C", "F"],
        "default": "C",
        "description": "Celsius or Fahrenheit.",
    }
    assert props["days"]["anyOf"] == [{"type": "integer"}, {"type": "null"}]
    assert props["color"] == {"enum": ["blue", "red"], "default": "red"}
    point = props["at"]["anyOf"][0]
    assert point == {
        "type": "object",
        "properties": {"x": {"type": "integer"}, "y": {"type": "integer", "default": 0}},
        "required": ["x"],
    }
    assert props["options"]["anyOf"][0]["properties"] == {"fast": {"type": "boolean"}}
    assert props["box"]["anyOf"][0]["properties"]["sides"]["items"] == {"type": "integer"}
    assert "$defs" not in schema and "$ref" not in json.dumps(schema)
    assert weather("Paris") == "Paris"  # still the function


def test_numpy_and_sphinx_docstrings() -> None:
    numpy_doc = """Sum two numbers.

    Parameters
    ----------
    a : int
        The first
        number.
    b : int
        The second.

    Returns
    -------
    int
    """
    assert parse_docstring(numpy_doc) == (
        "Sum two numbers.",
        {"a": "The first number.", "b": "The second."},
    )
    sphinx_doc = """Sum two numbers.

    :param a: The first.
    :param int b: The second.
    :returns: the sum
    """
    assert parse_docstring(sphinx_doc) == (
        "Sum two numbers.",
        {"a": "The first.", "b": "The second."},
    )


def test_validation_converts_and_reports_for_the_model() -> None:
    @lms.tool
    def place(at: Point, color: Color = Color.RED, count: int = 1) -> str:
        """Place a point."""
        return f"{at} {color}"

    kwargs = place.validate({"at": {"x": 3}, "color": "blue"})
    assert kwargs == {"at": Point(3, 0), "color": Color.BLUE}  # defaults left to the function
    with pytest.raises(lms.ToolArgumentsError, match=r"Expected `int`, got `str` - at `\$.at.x`"):
        place.validate({"at": {"x": "three"}})
    with pytest.raises(lms.ToolArgumentsError, match="missing required field `at`"):
        place.validate({})
    with pytest.raises(lms.ToolArgumentsError, match="unknown field `colour`"):
        place.validate({"at": {"x": 1}, "colour": "red"})
    with pytest.raises(lms.ToolArgumentsError, match="Invalid enum value 'green'"):
        place.validate({"at": {"x": 1}, "color": "green"})


def test_pydantic_style_models_are_detected_not_required() -> None:
    async def query(model: Model) -> int:
        """Run a query."""
        return model.q

    made = lms.tool(query)
    assert made.is_async
    assert made.parameters["properties"]["model"]["properties"] == {"q": {"type": "integer"}}
    assert made.validate({"model": {"q": 2}})["model"].q == 2
    with pytest.raises(lms.ToolArgumentsError, match="q must be an integer"):
        made.validate({"model": {"q": "x"}})


def test_names_descriptions_and_explicit_schemas() -> None:
    def f(x: int) -> int:
        return x

    named = lms.tool(name="double", description="Double a number.")(f)
    assert (named.name, named.description) == ("double", "Double a number.")
    with pytest.raises(lms.LMStudioValueError, match="no description"):
        lms.tool(f)
    with pytest.raises(lms.LMStudioValueError, match="by name only"):

        @lms.tool
        def star(*args: int) -> None:
            """Star."""

    with pytest.raises(lms.LMStudioValueError, match="tool name"):
        lms.tool(f, name="bad name", description="x")
    raw = lms.tool_from_schema(
        "lookup",
        "Look a word up.",
        {"type": "object", "properties": {"word": {"type": "string"}}, "required": ["word"]},
        lambda word: word.upper(),
    )
    assert raw.to_llm_tool()["function"]["parameters"]["required"] == ["word"]
    assert raw.validate({"word": "x"}) == {"word": "x"}
    with pytest.raises(lms.ToolArgumentsError, match="word"):
        raw.validate({})


def test_lmstudio_style_definitions_are_accepted() -> None:
    def multiply(a: float, b: float = 2.0) -> float:
        """Multiply."""
        return a * b

    definition = lms.ToolFunctionDef.from_callable(multiply)
    assert definition.parameters["b"] == {"type": float, "default": 2.0}
    as_dict: lms.ToolFunctionDefDict = {
        "name": "mul",
        "description": "Multiply.",
        "parameters": {"a": float, "b": {"type": float, "default": 2.0}},
        "implementation": multiply,
    }
    tools = ToolSet([definition, as_dict, lms.tool(multiply, name="m3")])
    assert list(tools.tools) == ["multiply", "mul", "m3"]
    assert tools.tools["mul"].parameters["required"] == ["a"]
    assert tools.tools["mul"].parameters["properties"]["b"]["default"] == 2.0


def test_results_are_json_for_the_model() -> None:
    assert result_content("hi") == '"hi"'
    assert result_content({"a": [1, 2]}) == '{"a":[1,2]}'
    assert result_content(Point(1, 2)) == '{"x":1,"y":2}'
    assert result_content(None) == "null"
