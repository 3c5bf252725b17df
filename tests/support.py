"""The small helper every rule test uses: a document in, the expected (rule, line, column) out."""

from __future__ import annotations

import textwrap
from typing import Iterable, List, Optional, Tuple

from appspec_tools.linter import lint_bytes
from appspec_tools.problem import Problem


def lint_text(
    text: str, path: str = "appspec.yml", platform: Optional[str] = None, **kwargs
) -> List[Problem]:
    if text.startswith("\n"):
        text = textwrap.dedent(text[1:])
    return lint_bytes(text.encode("utf-8"), path, platform=platform, **kwargs)


def found(text: str, rule_prefix: str = "", **kwargs) -> List[Tuple[str, int, int]]:
    """(rule id, line, column) of every problem whose id starts with ``rule_prefix``."""
    return [
        (p.rule_id, p.line, p.column) for p in lint_text(text, **kwargs) if p.rule_id.startswith(rule_prefix)
    ]


def assert_problems(
    text: str, expected: Iterable[Tuple[str, int, int]], rule_prefix: str = "", **kwargs
) -> None:
    assert found(text, rule_prefix, **kwargs) == list(expected)
