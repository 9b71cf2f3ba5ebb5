"""The tolerant parser behind ``stream.partial()``: any JSON text, cut anywhere, gives a value
that the complete text only extends."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from lmstudio_sdk._protocol.partial_json import JsonValue, PartialJSON

# JSON has no NaN or Infinity (json.dumps writes them, but that is not JSON).
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)


def extends(partial: Any, full: Any) -> bool:
    """``full`` could be what ``partial`` becomes."""
    if isinstance(partial, dict):
        return isinstance(full, dict) and all(
            k in full and extends(v, full[k]) for k, v in partial.items()
        )
    if isinstance(partial, list):
        return (
            isinstance(full, list)
            and len(partial) <= len(full)
            and all(extends(a, b) for a, b in zip(partial, full, strict=False))
        )
    if isinstance(partial, str):
        return isinstance(full, str) and full.startswith(partial)
    return bool(partial == full)


@given(json_values, st.booleans(), st.data())
def test_every_prefix_is_extended_by_the_whole(value: JsonValue, indent: bool, data: Any) -> None:
    text = json.dumps(value, indent=1 if indent else None, ensure_ascii=data.draw(st.booleans()))
    whole = json.loads(text)
    parser = PartialJSON()
    cuts = sorted(data.draw(st.lists(st.integers(0, len(text)), max_size=8)))
    start = 0
    for cut in [*cuts, len(text)]:
        seen = parser.feed(text[start:cut])
        start = cut
        assert seen is None or extends(seen, whole), (text[:cut], seen)
    assert parser.finish() == whole and parser.error is None


def test_what_is_left_out_until_it_cannot_change() -> None:
    assert PartialJSON().feed('{"a": 12') == {}  # 12 may become 123
    assert PartialJSON().feed('{"a": tru') == {}
    assert PartialJSON().feed('{"a": true') == {"a": True}
    assert PartialJSON().feed('{"a": "x\\') == {"a": "x"}  # half an escape
    assert PartialJSON().feed('{"a": "\\u00e') == {"a": ""}
    assert PartialJSON().feed('{"ke') == {}
    assert PartialJSON().feed('[1, {"b": [') == [1, {"b": []}]
    assert PartialJSON().feed("  ") is None


def test_text_that_is_not_json_stops_with_what_came_before() -> None:
    parser = PartialJSON()
    assert parser.feed('{"a": 1, oops') == {"a": 1}
    assert parser.error is not None and "character 9" in parser.error
