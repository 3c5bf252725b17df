"""The rule registry.

Each rule is a small generator function registered with :func:`rule`; its id, severity, one-line
summary, fix hint, docstring and bad/good examples live beside the check, and docs/rules.md is
generated from them. Rules read nodes from a :class:`Context` and yield :class:`Finding` values;
they never print, exit or read files (a revision's files come through ``ctx.revision``).
"""

from __future__ import annotations

import difflib
import importlib
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, FrozenSet, Iterable, Iterator, List, Optional, Sequence, Tuple, Union

from appspec_tools.lifecycle import PLATFORMS
from appspec_tools.nodes import Mapping, Node
from appspec_tools.problem import Severity
from appspec_tools.source import Source

ERROR, WARNING, INFO = Severity.ERROR, Severity.WARNING, Severity.INFO
ALL_PLATFORMS: FrozenSet[str] = frozenset(PLATFORMS)

Position = Union[Node, Tuple[int, int], None]


@dataclass(frozen=True)
class Finding:
    where: Position
    message: str
    hint: str = ""


@dataclass
class Context:
    source: Source
    root: Node
    platform: str
    revision: Any = None  # appspec_tools.revision.Revision when linting a revision
    appspec_name: str = "appspec.yml"
    cache: Dict[str, Any] = field(default_factory=dict)

    @property
    def doc(self) -> Mapping:
        assert isinstance(self.root, Mapping)
        return self.root


Check = Callable[[Context], Iterable[Finding]]


@dataclass(frozen=True)
class Rule:
    id: str
    severity: Severity
    summary: str
    hint: str
    platforms: FrozenSet[str]
    scope: str  # "source": found while parsing; "document": the AppSpec; "revision": needs the bundle
    check: Optional[Check]
    doc: str
    bad: str
    good: str
    area: str
    enabled: bool = True  # False: advice that runs only when asked for with --enable / `enable:`

    def findings(self, ctx: Context) -> Iterator[Finding]:
        if self.check is not None:
            yield from self.check(ctx)


RULES: Dict[str, Rule] = {}
AREAS = {
    "SYN": "Syntax and encoding",
    "TOP": "Document (version, os, top-level keys)",
    "FILE": "EC2/On-Premises files",
    "PERM": "EC2/On-Premises permissions",
    "HOOK": "EC2/On-Premises hooks",
    "ECS": "Amazon ECS",
    "LMB": "AWS Lambda",
    "REV": "Revision (bundle) cross-checks",
}
_MODULES = ("syntax", "document", "files", "permissions", "hooks", "ecs", "lambda_", "revision")


def _doc(text: Optional[str]) -> str:
    import inspect

    return inspect.cleandoc(text or "")


def rule(
    id: str,
    severity: Severity,
    summary: str,
    *,
    hint: str,
    bad: str = "",
    good: str = "",
    platforms: Iterable[str] = ALL_PLATFORMS,
    scope: str = "document",
    enabled: bool = True,
) -> Callable[[Check], Check]:
    """Register a check. The function's docstring is the rule's user documentation."""

    def register(check: Check) -> Check:
        declare(
            id,
            severity,
            summary,
            hint=hint,
            bad=bad,
            good=good,
            platforms=platforms,
            scope=scope,
            doc=_doc(check.__doc__),
            check=check,
            enabled=enabled,
        )
        return check

    return register


def declare(
    id: str,
    severity: Severity,
    summary: str,
    *,
    hint: str,
    doc: str = "",
    bad: str = "",
    good: str = "",
    platforms: Iterable[str] = ALL_PLATFORMS,
    scope: str = "source",
    check: Optional[Check] = None,
    enabled: bool = True,
) -> Rule:
    """Register a rule whose findings come from elsewhere (the parser, the revision reader)."""
    if id in RULES:
        raise ValueError(f"rule id {id} registered twice")
    area = id.rstrip("0123456789")
    if area not in AREAS:
        raise ValueError(f"rule id {id}: unknown area {area}")
    new = Rule(
        id,
        severity,
        summary,
        hint,
        frozenset(platforms),
        scope,
        check,
        _doc(doc),
        _doc(bad),
        _doc(good),
        area,
        enabled,
    )
    RULES[id] = new
    return new


_loaded = False


def all_rules() -> Dict[str, Rule]:
    global _loaded
    if not _loaded:
        for name in _MODULES:
            importlib.import_module(f"appspec_tools.rules.{name}")
        _loaded = True
    return RULES


def did_you_mean(word: Any, candidates: Sequence[str], cutoff: float = 0.75) -> Optional[str]:
    """The nearest valid name, case-insensitively first, as a 'did you mean' suggestion."""
    if not isinstance(word, str):
        return None
    for candidate in candidates:
        if candidate.lower() == word.lower():
            return candidate
    lowered = {c.lower(): c for c in candidates}
    close = difflib.get_close_matches(word.lower(), list(lowered), n=1, cutoff=cutoff)
    return lowered[close[0]] if close else None


def unknown_keys(mapping: Mapping, known: Sequence[str], where: str) -> Iterator[Tuple[Node, str]]:
    """Keys of ``mapping`` not in ``known``, each with a message that suggests the nearest name."""
    for key, key_node, _ in mapping.items():
        if key in known:
            continue
        guess = did_you_mean(key, known)
        tip = f"; did you mean '{guess}'?" if guess else f" (known keys: {', '.join(known)})"
        yield key_node, f"unknown key '{key}' in {where}: the agent ignores it{tip}"


def list_of(node: Optional[Node]) -> List[Node]:
    from appspec_tools.nodes import Sequence as Seq

    return list(node.items) if isinstance(node, Seq) else []
