"""The rule registry.

Each rule is a small generator function registered with :func:`rule`; its id, severity, one-line
summary, fix hint, docstring and bad/good examples live beside the check, and docs/rules.md is
generated from them. Rules read nodes from a :class:`Context` and yield :class:`Finding` values;
they never print, exit or read files (a revision's files come through ``ctx.revision``).

Rule modules are found by name, not listed: `common_*` hold the rules of every document (and the
parser's), `ec2_*`, `ecs_*` and `lambda_*` those of one platform, `revision_*` the bundle cross-checks;
other modules are helpers. They are imported on demand: :func:`rules_for` imports the ones a document's
platform needs, :func:`all_rules` every one of them the first time it is read.
"""

from __future__ import annotations

import importlib
from typing import (
    TYPE_CHECKING,
    Any,
    Callable,
    Dict,
    FrozenSet,
    Iterable,
    Iterator,
    List,
    MutableMapping,
    NamedTuple,
    Optional,
    Sequence,
    Set,
    Tuple,
    Union,
)

from appspec_tools.lifecycle import PLATFORMS
from appspec_tools.nodes import Mapping, Node
from appspec_tools.problem import Severity
from appspec_tools.source import Source

if TYPE_CHECKING:  # the archive readers are imported only to lint a revision
    from appspec_tools.revision import Revision

ERROR, WARNING, INFO = Severity.ERROR, Severity.WARNING, Severity.INFO
ALL_PLATFORMS: FrozenSet[str] = frozenset(PLATFORMS)

Position = Union[Node, Tuple[int, int], None]


class Finding(NamedTuple):
    """What a check yields: where, what is wrong, and a fix hint when it differs from the rule's.
    A NamedTuple, not a dataclass: as immutable, and cheaper to define at every start-up."""

    where: Position
    message: str
    hint: str = ""


class Context:
    """What a check reads: the document's nodes and platform, the revision when linting a bundle, and
    a cache the checks of one document share. A plain class, not a dataclass, to keep start-up short."""

    def __init__(
        self,
        source: Source,
        root: Node,
        platform: str,
        revision: Optional[Revision] = None,
        appspec_name: str = "appspec.yml",
    ) -> None:
        self.source = source
        self.root = root
        self.platform = platform
        self.revision = revision
        self.appspec_name = appspec_name
        self.cache: Dict[str, Any] = {}

    @property
    def doc(self) -> Mapping:
        assert isinstance(self.root, Mapping)
        return self.root


Check = Callable[[Context], Iterable[Finding]]


class Rule(NamedTuple):
    """A registered rule: its id, severity and documentation beside its check (a NamedTuple, like
    Problem, to keep `dataclasses` out of lint's start-up; `_replace` makes a changed copy)."""

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
COMMON, REVISION = "common", "revision"
SCOPES = (COMMON, *PLATFORMS, REVISION)  # the first word of a rule module's name
# Ids no longer given, with what replaced them: `--disable`, `disable:` and inline comments still take
# them (they turn nothing off), so a configuration written for an older release keeps working.
RETIRED: Dict[str, str] = {
    "ECS008": "merged into ECS009: a TaskDefinition that is not an ARN is advice (info), as a pipeline fills it in",
}


def _doc(text: Optional[str]) -> str:
    """inspect.cleandoc without importing inspect (6 ms of lint's start-up): the first line stripped, the
    others dedented by their common indentation, blank lines at both ends dropped."""
    lines = (text or "").expandtabs().split("\n")
    indents = [len(line) - len(line.lstrip()) for line in lines[1:] if line.strip()]
    margin = min(indents, default=0)
    lines = [lines[0].strip()] + [line[margin:] for line in lines[1:]]
    while lines and not lines[0]:
        lines.pop(0)
    while lines and not lines[-1]:
        lines.pop()
    return "\n".join(lines)


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


_modules: Dict[str, Tuple[str, ...]] = {}
_imported: Set[str] = set()


def rule_modules() -> Dict[str, Tuple[str, ...]]:
    """Rule module names by scope (common, each platform, revision), read from the package's file
    names without importing them."""
    if not _modules:
        import pkgutil

        found: Dict[str, List[str]] = {scope: [] for scope in SCOPES}
        for module in pkgutil.iter_modules(__path__):
            scope = module.name.split("_", 1)[0]
            if scope in found:
                found[scope].append(module.name)
        _modules.update((scope, tuple(sorted(names))) for scope, names in found.items())
    return _modules


def _import(scopes: Iterable[str]) -> None:
    for scope in scopes:
        for name in rule_modules()[scope]:
            if name not in _imported:
                importlib.import_module(f"{__name__}.{name}")
                _imported.add(name)


def rules_for(platform: Optional[str], revision: bool = False) -> Dict[str, Rule]:
    """The registry holding at least every rule that can apply to one document of ``platform`` (None:
    no document, only the parser's findings), with the revision cross-checks when ``revision``."""
    if platform is not None and platform not in PLATFORMS:
        _import(SCOPES)
        return RULES
    _import((COMMON, platform) if platform else (COMMON,))
    if revision:
        _import((REVISION,))
    return RULES


class RuleRegistry(MutableMapping[str, Rule]):
    """Every rule by id. Its modules are imported when it is first read, not when it is fetched, so
    `appspec lint` of one file still imports only the rule modules that file's platform needs."""

    def _every(self) -> Dict[str, Rule]:
        _import(SCOPES)
        return RULES

    def __getitem__(self, rule_id: str) -> Rule:
        return RULES[rule_id] if rule_id in RULES else self._every()[rule_id]

    def __setitem__(self, rule_id: str, rule: Rule) -> None:
        self._every()[rule_id] = rule

    def __delitem__(self, rule_id: str) -> None:
        del self._every()[rule_id]

    def __iter__(self) -> Iterator[str]:
        return iter(self._every())

    def __len__(self) -> int:
        return len(self._every())


_REGISTRY = RuleRegistry()


def all_rules() -> RuleRegistry:
    return _REGISTRY


def did_you_mean(word: Any, candidates: Sequence[str], cutoff: float = 0.75) -> Optional[str]:
    """The nearest valid name, case-insensitively first, as a 'did you mean' suggestion."""
    if not isinstance(word, str):
        return None
    for candidate in candidates:
        if candidate.lower() == word.lower():
            return candidate
    import difflib  # only for a misspelt name, not at every start-up

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
