"""A tolerant parser for JSON that is still arriving: ``stream.partial()``'s engine. Pure.

``PartialJSON.feed(text)`` appends a fragment of the reply and returns the value seen so far:
objects and arrays are closed where the text stops, a string being written is included as far
as it goes (an escape cut in half is left out until it completes), and only what cannot change
any more is included otherwise: a key whose value has not begun is left out, and so are a
number or a literal (``true``, ``null``, ...) that the next fragment could still extend.

Each ``feed`` reads the text received so far again, in one linear pass (structured replies are
short: a few hundred characters take microseconds), and stops re-reading once the top-level
value is complete. Text that is not JSON stops the parsing: ``value`` keeps what was read before
it and ``error`` says where.
"""

from __future__ import annotations

import json
from typing import TypeAlias

__all__ = ["JsonValue", "PartialJSON"]

JsonValue: TypeAlias = dict[str, "JsonValue"] | list["JsonValue"] | str | int | float | bool | None
"""A JSON value as Python builtins."""

_WS = " \t\r\n"
_LITERALS: dict[str, JsonValue] = {"true": True, "false": False, "null": None}
_NUMBER_CHARS = frozenset("+-0123456789.eE")
_ESCAPES = {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}


class _Missing:
    """No value (yet)."""


_MISSING = _Missing()


class PartialJSON:
    """Feed the reply's fragments; read the value so far after each."""

    def __init__(self) -> None:
        self._text = ""
        self._root_done: JsonValue | _Missing = _MISSING
        self.error: str | None = None
        """Why parsing stopped early (the text is not JSON there), or None."""

    @property
    def text(self) -> str:
        return self._text

    def feed(self, fragment: str) -> JsonValue | None:
        """Add a fragment; the value seen so far (None before any value begins)."""
        self._text += fragment
        return self.value()

    def finish(self) -> JsonValue | None:
        """The value once the text is known to be complete (a number at the very end counts)."""
        return self.value(final=True)

    def value(self, *, final: bool = False) -> JsonValue | None:
        if not isinstance(self._root_done, _Missing):
            return self._root_done
        self.error = None
        parser = _Parser(self._text, final)
        try:
            value, complete = parser.value(0)
        except _Stop as stop:
            self.error = stop.reason
            value, complete = stop.partial, False
        if complete and not isinstance(value, _Missing):
            self._root_done = value
        return None if isinstance(value, _Missing) else value


class _Stop(Exception):
    def __init__(self, reason: str, partial: JsonValue | _Missing) -> None:
        self.reason = reason
        self.partial = partial


class _Parser:
    """One pass over the text. ``value(i)`` returns (value, complete); at the end of the text
    it returns what it has with complete=False."""

    def __init__(self, text: str, final: bool) -> None:
        self.text = text
        self.final = final
        self.pos = 0

    def ws(self, i: int) -> int:
        text = self.text
        while i < len(text) and text[i] in _WS:
            i += 1
        return i

    def value(self, i: int) -> tuple[JsonValue | _Missing, bool]:
        i = self.ws(i)
        text = self.text
        if i >= len(text):
            self.pos = i
            return _MISSING, False
        c = text[i]
        if c == "{":
            return self.container(i, {})
        if c == "[":
            return self.container(i, [])
        if c == '"':
            return self.string(i)
        if c in _NUMBER_CHARS:
            return self.number(i)
        for word, literal in _LITERALS.items():
            if text.startswith(word, i):
                self.pos = i + len(word)
                return literal, True
            if word.startswith(text[i:]):  # a literal cut short: may still become it
                self.pos = len(text)
                return _MISSING, False
        raise _Stop(f"unexpected {c!r} at character {i}", _MISSING)

    def number(self, i: int) -> tuple[JsonValue | _Missing, bool]:
        text = self.text
        j = i
        while j < len(text) and text[j] in _NUMBER_CHARS:
            j += 1
        self.pos = j
        if j >= len(text) and not self.final:
            return _MISSING, False  # the next fragment may add digits
        try:
            number = json.loads(text[i:j])
        except ValueError:
            raise _Stop(f"invalid number {text[i:j]!r} at character {i}", _MISSING) from None
        return number, True

    def string(self, i: int) -> tuple[JsonValue | _Missing, bool]:
        text = self.text
        out: list[str] = []
        j = i + 1
        while j < len(text):
            c = text[j]
            if c == '"':
                self.pos = j + 1
                return "".join(out), True
            if c == "\\":
                if j + 1 >= len(text):
                    break  # an escape cut in half
                e = text[j + 1]
                if e == "u":
                    digits = text[j + 2 : j + 6]
                    if len(digits) < 4:
                        break
                    code = int(digits, 16)
                    j += 6
                    if 0xD800 <= code < 0xDC00:  # a surrogate pair: wait for its second half
                        if len(text) < j + 6:
                            break
                        if text[j : j + 2] == "\\u":
                            low = int(text[j + 2 : j + 6], 16)
                            if 0xDC00 <= low < 0xE000:
                                code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                                j += 6
                    out.append(chr(code))
                    continue
                if e not in _ESCAPES:
                    raise _Stop(f"invalid escape at character {j}", "".join(out))
                out.append(_ESCAPES[e])
                j += 2
                continue
            out.append(c)
            j += 1
        self.pos = len(text)
        return "".join(out), False

    def container(
        self, i: int, members: dict[str, JsonValue] | list[JsonValue]
    ) -> tuple[JsonValue | _Missing, bool]:
        text = self.text
        close = "}" if isinstance(members, dict) else "]"
        j = self.ws(i + 1)
        if j < len(text) and text[j] == close:
            self.pos = j + 1
            return members, True
        while True:
            key: str | None = None
            if isinstance(members, dict):
                j = self.ws(j)
                if j >= len(text):
                    break
                if text[j] != '"':
                    raise _Stop(f"expected a key at character {j}", members)
                name, done = self.string(j)
                if not done:
                    break
                assert isinstance(name, str)
                key = name
                j = self.ws(self.pos)
                if j >= len(text):
                    break
                if text[j] != ":":
                    raise _Stop(f"expected ':' at character {j}", members)
                j += 1
            try:
                item, done = self.value(j)
            except _Stop as stop:
                if not isinstance(stop.partial, _Missing):
                    _put(members, key, stop.partial)
                stop.partial = members
                raise
            if not isinstance(item, _Missing):
                _put(members, key, item)
            if not done:
                break
            j = self.ws(self.pos)
            if j >= len(text):
                break
            if text[j] == ",":
                j += 1
                continue
            if text[j] == close:
                self.pos = j + 1
                return members, True
            raise _Stop(f"expected ',' or {close!r} at character {j}", members)
        self.pos = len(text)
        return members, False


def _put(
    members: dict[str, JsonValue] | list[JsonValue], key: str | None, value: JsonValue
) -> None:
    if isinstance(members, dict):
        assert key is not None
        members[key] = value
    else:
        members.append(value)
