"""The one value every check produces: a problem at a place in a file."""

from __future__ import annotations

import enum
from typing import NamedTuple


class Severity(enum.IntEnum):
    INFO = 1
    WARNING = 2
    ERROR = 3

    @property
    def label(self) -> str:
        return self.name.lower()


class Problem(NamedTuple):
    """One finding, located. A NamedTuple (immutable like a frozen dataclass): importing `dataclasses`
    costs about 8 ms of every `appspec lint` start-up (it pulls in inspect, ast and dis)."""

    path: str
    line: int
    column: int
    rule_id: str
    severity: Severity
    message: str
    hint: str = ""

    def sort_key(self) -> tuple:
        return (self.path, self.line, self.column, -self.severity, self.rule_id, self.message)
