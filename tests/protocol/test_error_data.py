"""ErrorData, the lenient parse_error_data, and server_error's exception classes."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from lmstudio_sdk._exceptions import (
    ConfigKeyError,
    DomainMismatchError,
    LMStudioError,
    LMStudioServerError,
    LMStudioValueError,
    ModelNotFoundError,
    PresetNotFoundError,
    UnsupportedFeatureError,
    server_error,
)
from lmstudio_sdk._protocol.errors import ErrorData, error_data, parse_error_data

# Recorded rpcError payload (traffic-ts2.jsonl, line 59).
RECORDED: dict[str, Any] = {
    "title": 'No model found that fits the query "missing-model"',
    "suggestion": "Load the model first.",
    "displayData": {
        "code": "generic.noModelMatchingQuery",
        "query": {"identifier": "missing-model"},
        "loadedModelsSample": ["qwen2.5-0.5b-instruct"],
        "totalLoadedModels": 1,
    },
    "rootTitle": 'No model found that fits the query "missing-model"',
}


def test_recorded_error() -> None:
    data = parse_error_data(RECORDED)
    assert data == ErrorData(
        title='No model found that fits the query "missing-model"',
        suggestion="Load the model first.",
        display_data=RECORDED["displayData"],
        root_title='No model found that fits the query "missing-model"',
    )
    assert data.display_code == "generic.noModelMatchingQuery"
    assert data.describe() == (
        'No model found that fits the query "missing-model"\nSuggestion: Load the model first.'
    )
    assert msgspec.json.decode(msgspec.json.encode(data)) == RECORDED


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Invalid passkey", ErrorData(title="Invalid passkey", root_title="Invalid passkey")),
        ("", ErrorData()),
        (None, ErrorData()),
        (42, ErrorData()),
        ([{"title": "x"}], ErrorData()),
        ({}, ErrorData()),
        ({"title": "T"}, ErrorData(title="T")),
        ({"rootTitle": "R"}, ErrorData(title="R", root_title="R")),
        ({"title": "T", "rootTitle": "R"}, ErrorData(title="T", root_title="R")),
        ({"title": 5, "rootTitle": "R"}, ErrorData(title="R", root_title="R")),
        (
            {
                "title": ["not", "a", "string"],
                "cause": 1,
                "suggestion": None,
                "errorData": [],
                "displayData": "generic.noModelMatchingQuery",
                "stack": {"frames": 1},
                "rootTitle": False,
                "unknownField": "kept out",
            },
            ErrorData(),
        ),
        (
            {
                "title": "T",
                "cause": "C",
                "suggestion": "S",
                "errorData": {"k": 1},
                "displayData": {"code": "generic.x"},
                "stack": "at x",
                "rootTitle": "R",
            },
            ErrorData(
                title="T",
                cause="C",
                suggestion="S",
                error_data={"k": 1},
                display_data={"code": "generic.x"},
                stack="at x",
                root_title="R",
            ),
        ),
    ],
)
def test_parse_error_data_is_lenient(value: object, expected: ErrorData) -> None:
    assert parse_error_data(value) == expected


@pytest.mark.parametrize(
    ("display_data", "code"),
    [
        (None, None),
        ({}, None),
        ({"code": 5}, None),
        ({"code": "generic.presetNotFound"}, "generic.presetNotFound"),
    ],
)
def test_display_code(display_data: dict[str, Any] | None, code: str | None) -> None:
    assert ErrorData(display_data=display_data).display_code == code


@pytest.mark.parametrize(
    ("data", "text"),
    [
        (ErrorData(), "Unknown error"),
        (ErrorData(title="T", cause="C"), "T\nCause: C"),
        (ErrorData(title="T", suggestion="S", stack="secret"), "T\nSuggestion: S"),
        (ErrorData(title="T", cause="", suggestion=""), "T"),
        (ErrorData(title="T", cause="C", suggestion="S"), "T\nCause: C\nSuggestion: S"),
    ],
)
def test_describe_never_shows_the_stack(data: ErrorData, text: str) -> None:
    assert data.describe() == text


def test_error_data_builds_what_the_reference_server_sends() -> None:
    data = error_data("Boom", cause="C", suggestion="S", display_data={"code": "generic.x"})
    assert msgspec.json.decode(msgspec.json.encode(data)) == {
        "title": "Boom",
        "rootTitle": "Boom",
        "cause": "C",
        "suggestion": "S",
        "displayData": {"code": "generic.x"},
    }
    assert msgspec.json.encode(error_data("Just a title")) == (
        b'{"title":"Just a title","rootTitle":"Just a title"}'
    )


@pytest.mark.parametrize(
    ("code", "cls"),
    [
        ("generic.noModelMatchingQuery", ModelNotFoundError),
        ("generic.pathNotFound", ModelNotFoundError),
        ("generic.identifierNotFound", ModelNotFoundError),
        ("generic.specificModelUnloaded", ModelNotFoundError),
        ("generic.presetNotFound", PresetNotFoundError),
        ("generic.domainMismatch", DomainMismatchError),
        ("generic.engineDoesNotSupportFeature", UnsupportedFeatureError),
        ("generic.missingRuntimeExtension", UnsupportedFeatureError),
        ("generic.notYetKnown", LMStudioServerError),
        ("", LMStudioServerError),
    ],
)
def test_server_error_maps_display_codes(code: str, cls: type[LMStudioServerError]) -> None:
    data = ErrorData(title="T", cause="C", display_data={"code": code})
    error = server_error(data)
    assert type(error) is cls
    assert isinstance(error, LMStudioError)
    assert error.data is data
    assert error.title == "T"
    assert error.display_code == code
    assert error.display_data == {"code": code}
    assert str(error) == "T\nCause: C"


def test_server_error_without_display_data() -> None:
    error = server_error(ErrorData(title="Plain"))
    assert type(error) is LMStudioServerError
    assert error.display_code is None
    assert str(error) == "Plain"


def test_config_key_error_message() -> None:
    error = ConfigKeyError("temprature", where="prediction config", suggestion="temperature")
    assert str(error) == "unknown prediction config key 'temprature'; did you mean 'temperature'?"
    assert isinstance(error, KeyError)
    assert isinstance(error, LMStudioValueError)
    assert (error.key, error.suggestion) == ("temprature", "temperature")
    assert str(ConfigKeyError("zzz", where="load config", suggestion=None)) == (
        "unknown load config key 'zzz'"
    )
