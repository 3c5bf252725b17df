"""Parsed documents as nodes that remember where they came from (1-based line and column).

A mapping keeps every key/value pair in source order, duplicates included, so that rules can
report them; lookups return the *last* pair, which is what the agent's YAML loader keeps.
"""

from __future__ import annotations

from typing import Any, Iterator, List, Optional, Tuple, Union


class Node:
    __slots__ = ("line", "column")

    def __init__(self, line: int, column: int) -> None:
        self.line = line
        self.column = column

    kind = "node"


class Scalar(Node):
    """A scalar as the agent's YAML 1.1 loader resolves it (`0644` is the int 420)."""

    __slots__ = ("value", "tag", "quoted", "text")
    kind = "scalar"

    def __init__(self, value: Any, tag: str, line: int, column: int, quoted: bool = False, text: str = ""):
        super().__init__(line, column)
        self.value = value
        self.tag = tag  # str, int, float, bool, null, timestamp, binary
        self.quoted = quoted
        self.text = text  # the scalar as written, without quotes

    def __repr__(self) -> str:
        return f"Scalar({self.value!r}@{self.line}:{self.column})"


class Sequence(Node):
    __slots__ = ("items",)
    kind = "sequence"

    def __init__(self, items: List[Node], line: int, column: int):
        super().__init__(line, column)
        self.items = items

    def __iter__(self) -> Iterator[Node]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)


class Mapping(Node):
    __slots__ = ("pairs",)
    kind = "mapping"

    def __init__(self, pairs: List[Tuple[Node, Node]], line: int, column: int):
        super().__init__(line, column)
        self.pairs = pairs

    def items(self) -> Iterator[Tuple[Any, Node, Node]]:
        """(key value, key node, value node) for every pair, duplicates included."""
        for key, value in self.pairs:
            yield key_value(key), key, value

    def keys(self) -> List[Any]:
        return [key_value(k) for k, _ in self.pairs]

    def pair(self, key: Any) -> Optional[Tuple[Node, Node]]:
        found = None
        for k, v in self.pairs:
            kv = key_value(k)
            if type(kv) is type(key) and kv == key:
                found = (k, v)
        return found

    def get(self, key: Any) -> Optional[Node]:
        found = self.pair(key)
        return found[1] if found else None

    def key_node(self, key: Any) -> Optional[Node]:
        found = self.pair(key)
        return found[0] if found else None

    def __contains__(self, key: Any) -> bool:
        return self.pair(key) is not None

    def __len__(self) -> int:
        return len(self.pairs)


AnyNode = Union[Scalar, Sequence, Mapping]


def key_value(node: Node) -> Any:
    if isinstance(node, Scalar):
        return node.value
    return f"<{node.kind} key>"


def to_python(node: Optional[Node]) -> Any:
    """Plain Python data, with the agent's last-key-wins rule for duplicates."""
    if node is None:
        return None
    if isinstance(node, Scalar):
        return node.value
    if isinstance(node, Sequence):
        return [to_python(item) for item in node.items]
    if isinstance(node, Mapping):
        out = {}
        for key, _, value in node.items():
            try:
                out[key] = to_python(value)
            except TypeError:  # unhashable key
                out[repr(key)] = to_python(value)
        return out
    raise TypeError(node)


def walk(node: Optional[Node]) -> Iterator[Node]:
    """Every node of a tree, depth first; shared (aliased) subtrees are visited once."""
    seen = set()
    stack = [node] if node is not None else []
    while stack:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        if isinstance(current, Mapping):
            for k, v in reversed(current.pairs):
                stack.append(v)
                stack.append(k)
        elif isinstance(current, Sequence):
            stack.extend(reversed(current.items))


def describe(node: Optional[Node]) -> str:
    """How a node's type reads in a message: 'a string', 'a list', 'null'..."""
    if node is None:
        return "missing"
    if isinstance(node, Mapping):
        return "a mapping"
    if isinstance(node, Sequence):
        return "a list"
    assert isinstance(node, Scalar)
    return {
        "str": "a string",
        "int": "an integer",
        "float": "a number",
        "bool": "a boolean",
        "null": "null",
        "timestamp": "a date",
        "binary": "binary data",
    }.get(node.tag, "a scalar")
