"""Values read from nodes the way CodeDeploy reads them: the agent (Ruby, EC2/On-Premises, exact keys) and
the service (ECS and Lambda, keys in any case). The rules and the typed model both read through here, so
a value is built the way it was linted."""

from __future__ import annotations

import math
import re
from typing import Any, List, NamedTuple, Optional, Tuple

from appspec_tools.nodes import Mapping, Node, Scalar, Sequence, describe

_RUBY_TO_I = r"\s*([+-]?\d+(?:_\d+)*)"  # compiled by `re` on first use, not at import
_PLAIN_INT = r"\s*[+-]?\d+\s*"
_DECIMAL = r"\s*[+-]?\d+\.\d*\s*"


# -- shapes -----------------------------------------------------------------------------------------


def is_null(node: Optional[Node]) -> bool:
    """Absent or null: what Ruby's `nil` stands for."""
    return node is None or (isinstance(node, Scalar) and node.tag == "null")


def items(node: Optional[Node]) -> List[Node]:
    """The items of a list; nothing for any other value."""
    return list(node.items) if isinstance(node, Sequence) else []


def items_or_lone(node: Optional[Node]) -> List[Node]:
    """The items of a list; a lone mapping where the service expects a list counts as its only item."""
    if isinstance(node, Sequence):
        return list(node.items)
    return [node] if isinstance(node, Mapping) else []


def field_pair(node: Optional[Node], name: str) -> Optional[Tuple[Node, Node]]:
    """The (key, value) of ``name`` matched case-insensitively, as the service does; the last one wins."""
    if not isinstance(node, Mapping):
        return None
    found = None
    for key, key_node, value in node.items():
        if isinstance(key, str) and key.lower() == name.lower():
            found = (key_node, value)
    return found


def field(node: Optional[Node], name: str) -> Optional[Node]:
    pair = field_pair(node, name)
    return pair[1] if pair else None


def first_mapping(node: Optional[Node]) -> Optional[Mapping]:
    """A mapping, or the first mapping of a list (`LoadBalancerInfo` is sometimes written as a list)."""
    if isinstance(node, Mapping):
        return node
    return next((item for item in items(node) if isinstance(item, Mapping)), None)


# -- strings ----------------------------------------------------------------------------------------


def string(node: Optional[Node]) -> Optional[str]:
    """A string scalar's value; None for any other value (a number, null, a list)."""
    return node.value if isinstance(node, Scalar) and node.tag == "str" else None


def stripped(node: Optional[Node]) -> Optional[str]:
    """A string scalar's value without surrounding blanks; None for any other value."""
    value = string(node)
    return value.strip() if isinstance(value, str) else None


def ruby_to_s(value: Any) -> str:
    """Ruby's `to_s` of a YAML 1.1 value: the agent turns numbers and booleans into text this way."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
        mantissa, _, exponent = repr(value).partition("e")
        if exponent:
            return f"{mantissa if '.' in mantissa else mantissa + '.0'}e{exponent}"
        return mantissa
    if isinstance(value, bytes):
        return value.decode("latin-1")
    return str(value)


def scalar_to_s(node: Optional[Node]) -> Optional[str]:
    """`value.to_s` of a scalar ("" for null); None for a list, a mapping or no value."""
    return ruby_to_s(node.value) if isinstance(node, Scalar) else None


def text(node: Optional[Node]) -> Optional[str]:
    """A scalar's value as the agent's string; None when absent, null, or not a scalar."""
    return None if is_null(node) else scalar_to_s(node)


def strings(node: Optional[Node]) -> Tuple[str, ...]:
    """The scalar items of a list as strings; other items are left out."""
    return tuple(value for value in (text(item) for item in items(node)) if value is not None)


def key_text(key: Any) -> str:
    """A mapping key as a name: a key that YAML read as a number or a boolean is its `to_s`."""
    return key if isinstance(key, str) else ruby_to_s(key)


# -- numbers and booleans ---------------------------------------------------------------------------


class RubyInteger(NamedTuple):
    value: Optional[int]  # what Ruby gets; None when the value has no `to_i` (true, a list, a date)
    read_as: str  # "default", "int", "fraction" (truncated), "text" (leading digits), or why there is none


def ruby_to_i(node: Optional[Node], default: int) -> RubyInteger:
    """`(value || default).to_i`: "30" is 30, 30.9 is 30, "5m" is 5, "foo" is 0; nil and false are the
    default."""
    if is_null(node) or (isinstance(node, Scalar) and node.value is False):
        return RubyInteger(default, "default")
    if not isinstance(node, Scalar) or node.tag in ("bool", "timestamp", "binary"):
        return RubyInteger(None, f"{describe(node)} has no integer value")
    value = node.value
    if node.tag == "int":
        return RubyInteger(value, "int")
    if node.tag == "float":
        if not math.isfinite(value):
            return RubyInteger(None, f"{node.text} has no integer value")
        return RubyInteger(math.trunc(value), "fraction" if value != math.trunc(value) else "int")
    written = str(value)
    match = re.match(_RUBY_TO_I, written)
    number = int(match.group(1).replace("_", "")) if match else 0
    if re.fullmatch(_PLAIN_INT, written):
        return RubyInteger(number, "int")
    return RubyInteger(number, "fraction" if re.fullmatch(_DECIMAL, written) else "text")


def integer_or_digits(node: Optional[Node]) -> Tuple[Optional[int], bool]:
    """(the integer, written as a string?) for an integer or a string of digits; (None, False) otherwise."""
    if isinstance(node, Scalar) and node.tag == "int" and isinstance(node.value, int):
        return node.value, False
    digits = stripped(node)
    if digits is not None and digits.isdigit() and digits.isascii():
        return int(digits), True
    return None, False


def ruby_truthy(node: Optional[Node]) -> bool:
    """Only nil and false are false in Ruby: the string "no" means yes."""
    return not is_null(node) and not (isinstance(node, Scalar) and node.value is False)


# -- the document -----------------------------------------------------------------------------------


def version(node: Optional[Node]) -> str:
    """The only AppSpec version, however it was written (0.0, 0, "0.0"), as the string "0.0"."""
    if isinstance(node, Scalar):
        if node.tag in ("int", "float") and node.value == 0:
            return "0.0"
        if node.tag == "str" and node.value.strip() in ("0.0", "0"):
            return "0.0"
    return text(node) or ""


def target_os(doc: Mapping) -> str:
    """`windows` when the AppSpec says so, else `linux` (an invalid `os` is TOP006's business)."""
    node = doc.get("os")
    return "windows" if isinstance(node, Scalar) and node.value == "windows" else "linux"


# -- SELinux ranges -------------------------------------------------------------------------------


class RangeError(ValueError):
    """A `context.range` that `range_info.rb` rejects; the message is the agent's."""


class RangeOrderError(RangeError):
    """The high sensitivity is below the low one (the agent's message is its long AppSpec one)."""


def selinux_range(text: str) -> str:
    """`RangeInfo.new(text).get_range`: `s#[-s#][:c#[.c#](,c#[.c#])*]`, high ≥ low, categories 0-1023,
    each once; returned as the agent passes it to `semanage -r` (levels as numbers, categories sorted
    and joined into runs). Raises `RangeError` with the agent's words."""

    def parts(value: str, on: str) -> List[str]:
        pieces = value.split(on, 1)
        if any(not piece for piece in pieces):
            raise RangeError(f"invalid range part {value}")
        return pieces

    def number(value: str, letter: str, what: str) -> int:
        digits = value[1:]
        if len(value) < 2 or not value.startswith(letter) or not all("0" <= c <= "9" for c in digits):
            raise RangeError(f"invalid {what} {value}")
        return int(digits)

    levels = parts(text, ":")
    sensitivities = parts(levels[0], "-")
    low = number(sensitivities[0], "s", "sensitivity")
    high = number(sensitivities[1], "s", "sensitivity") if len(sensitivities) == 2 else low
    if high < low:
        raise RangeOrderError(
            f"The deployment failed because of a problem with the SELinux range specified ({text}) for the context "
            "parameter in the permissions section of the application specification file. Make corrections in the "
            "permissions section of the AppSpec file, and then try again."
        )
    out = f"s{low}" + (f"-s{high}" if high != low else "")
    if len(levels) == 1:
        return out
    categories: List[int] = []
    pieces = levels[1].split(",")
    while pieces and not pieces[-1]:
        pieces.pop()  # Ruby's split drops trailing empty fields
    for part in pieces:
        if "." in part:
            first, last = parts(part, ".")
            start, end = _category(first), _category(last)
            if end < start:
                raise RangeError(f"invalid category range {first}.{last}")
            categories += range(start, end + 1)
        else:
            categories.append(_category(part))
    categories.sort()
    if len(set(categories)) != len(categories):
        raise RangeError("duplicate categories")
    runs: List[str] = []
    index = 0
    while index < len(categories):
        start = index
        while index + 1 < len(categories) and categories[index + 1] == categories[index] + 1:
            index += 1
        first_c, last_c = categories[start], categories[index]
        runs.append(f"c{first_c}" if first_c == last_c else f"c{first_c}.c{last_c}")
        index += 1
    return f"{out}:{','.join(runs)}"


def _category(value: str) -> int:
    digits = value[1:]
    if (
        len(value) < 2
        or not value.startswith("c")
        or not all("0" <= c <= "9" for c in digits)
        or int(digits) > 1023
    ):
        raise RangeError(f"invalid category {value}")
    return int(digits)
