"""A small JSON parser that builds position-keeping nodes (the stdlib parser forgets positions)."""

from __future__ import annotations

import re
from typing import List, Tuple

from appspec_tools.nodes import Mapping, Node, Scalar, Sequence

_NUMBER = re.compile(r"-?(?:0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?")
_STRING_CHUNK = re.compile(r'[^"\\\x00-\x1f]*')
_ESCAPES = {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}
_WS = " \t\n\r"


class JSONSyntaxError(ValueError):
    def __init__(self, message: str, line: int, column: int) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.column = column


class _Parser:
    def __init__(self, text: str, max_depth: int) -> None:
        self.text = text
        self.pos = 0
        self.max_depth = max_depth
        self.line_starts = [0] + [m.end() for m in re.finditer("\n", text)]

    def where(self, pos: int) -> Tuple[int, int]:
        lo, hi = 0, len(self.line_starts) - 1
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if self.line_starts[mid] <= pos:
                lo = mid
            else:
                hi = mid - 1
        return lo + 1, pos - self.line_starts[lo] + 1

    def fail(self, message: str, pos: int = -1) -> JSONSyntaxError:
        line, column = self.where(self.pos if pos < 0 else pos)
        return JSONSyntaxError(message, line, column)

    def skip(self) -> None:
        text, pos = self.text, self.pos
        while pos < len(text) and text[pos] in _WS:
            pos += 1
        self.pos = pos

    def expect(self, char: str) -> None:
        self.skip()
        if self.text.startswith(char, self.pos):
            self.pos += 1
            return
        found = self.text[self.pos : self.pos + 1] or "end of file"
        raise self.fail(f"expected {char!r} but found {found!r}")

    def value(self, depth: int) -> Node:
        if depth > self.max_depth:
            raise self.fail(f"nesting deeper than {self.max_depth} levels")
        self.skip()
        if self.pos >= len(self.text):
            raise self.fail("unexpected end of file, expected a value")
        line, column = self.where(self.pos)
        char = self.text[self.pos]
        if char == "{":
            return self.obj(depth, line, column)
        if char == "[":
            return self.array(depth, line, column)
        if char == '"':
            text = self.string()
            return Scalar(text, "str", line, column, quoted=True, text=text)
        for word, value, tag in (("true", True, "bool"), ("false", False, "bool"), ("null", None, "null")):
            if self.text.startswith(word, self.pos):
                self.pos += len(word)
                return Scalar(value, tag, line, column, text=word)
        match = _NUMBER.match(self.text, self.pos)
        if match and match.end() > self.pos:
            self.pos = match.end()
            raw = match.group(0)
            if match.group(1) or match.group(2):
                return Scalar(float(raw), "float", line, column, text=raw)
            return Scalar(int(raw), "int", line, column, text=raw)
        raise self.fail(f"unexpected character {char!r}, expected a value")

    def string(self) -> str:
        start = self.pos
        self.pos += 1
        parts: List[str] = []
        text = self.text
        while True:
            chunk = _STRING_CHUNK.match(text, self.pos)
            assert chunk is not None
            parts.append(chunk.group(0))
            self.pos = chunk.end()
            if self.pos >= len(text):
                raise self.fail("unterminated string", start)
            char = text[self.pos]
            if char == '"':
                self.pos += 1
                return "".join(parts)
            if char == "\\":
                esc = text[self.pos + 1 : self.pos + 2]
                if esc in _ESCAPES:
                    parts.append(_ESCAPES[esc])
                    self.pos += 2
                elif esc == "u" and re.fullmatch(r"[0-9a-fA-F]{4}", text[self.pos + 2 : self.pos + 6]):
                    parts.append(chr(int(text[self.pos + 2 : self.pos + 6], 16)))
                    self.pos += 6
                else:
                    raise self.fail(f"invalid escape \\{esc}")
            else:
                raise self.fail("control character in string (escape it, e.g. \\n or \\t)")

    def obj(self, depth: int, line: int, column: int) -> Mapping:
        self.pos += 1
        pairs: List[Tuple[Node, Node]] = []
        self.skip()
        if self.text.startswith("}", self.pos):
            self.pos += 1
            return Mapping(pairs, line, column)
        while True:
            self.skip()
            if not self.text.startswith('"', self.pos):
                raise self.fail("expected a quoted key")
            kline, kcol = self.where(self.pos)
            key = self.string()
            self.expect(":")
            pairs.append((Scalar(key, "str", kline, kcol, quoted=True, text=key), self.value(depth + 1)))
            self.skip()
            if self.text.startswith(",", self.pos):
                self.pos += 1
                continue
            if self.text.startswith("}", self.pos):
                self.pos += 1
                return Mapping(pairs, line, column)
            raise self.fail("expected ',' or '}' after a value (a missing comma?)")

    def array(self, depth: int, line: int, column: int) -> Sequence:
        self.pos += 1
        items: List[Node] = []
        self.skip()
        if self.text.startswith("]", self.pos):
            self.pos += 1
            return Sequence(items, line, column)
        while True:
            items.append(self.value(depth + 1))
            self.skip()
            if self.text.startswith(",", self.pos):
                self.pos += 1
                continue
            if self.text.startswith("]", self.pos):
                self.pos += 1
                return Sequence(items, line, column)
            raise self.fail("expected ',' or ']' after a value (a missing comma?)")


def parse_json(text: str, max_depth: int = 64) -> Node:
    """Parse JSON text into nodes; raises JSONSyntaxError with a position."""
    parser = _Parser(text, max_depth)
    node = parser.value(0)
    parser.skip()
    if parser.pos != len(text):
        raise parser.fail("extra data after the JSON document")
    return node
