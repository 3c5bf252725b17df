"""Source → nodes → rules → problems, for one document or a whole command line of paths."""

from __future__ import annotations

import os
import re
from typing import (
    TYPE_CHECKING,
    Any,
    Dict,
    FrozenSet,
    Iterable,
    List,
    Mapping,
    NamedTuple,
    Optional,
    Set,
    Tuple,
)

from appspec_tools.agent_names import APPSPEC_NAMES as APPSPEC_NAMES  # re-exported
from appspec_tools.bundle_types import is_archive
from appspec_tools.errors import InputError
from appspec_tools.platforms import detect_platform
from appspec_tools.problem import Problem, Severity
from appspec_tools.rules import Context, Finding, Rule, rules_for
from appspec_tools.source import MAX_FILE_BYTES, Source, read_source

if TYPE_CHECKING:  # the archive readers are imported only to lint a revision
    from appspec_tools.revision import Revision

SKIP_DIRS = frozenset(
    {".git", ".hg", ".svn", "node_modules", ".venv", "venv", "__pycache__", ".tox", ".mypy_cache"}
)
_INLINE = r"#\s*appspec-lint:\s*(disable|disable-file)\s*=\s*([A-Za-z0-9_, ]+)"  # compiled on first use


class LintError(InputError):
    """A path that could not be linted at all (I/O, usage); the CLI prints it as one line, exit 2."""


# LintOptions, LintReport, Source and Context are not dataclasses: defining each dataclass costs about
# a millisecond of every `appspec lint` start-up.
class LintOptions(NamedTuple):
    """What to lint for: a platform instead of detection, rules off and on, the largest file read."""

    platform: Optional[str] = None
    disabled: FrozenSet[str] = frozenset()
    enabled: FrozenSet[str] = frozenset()
    max_bytes: int = MAX_FILE_BYTES


class LintReport:
    """Every problem found, the paths that could not be linted at all, and how many files were read."""

    def __init__(self) -> None:
        self.problems: List[Problem] = []
        self.errors: List[str] = []
        self.files = 0


def lint_bytes(
    raw: bytes,
    path: str,
    *,
    platform: Optional[str] = None,
    disabled: Iterable[str] = (),
    enabled: Iterable[str] = (),
    revision: Optional[Revision] = None,
    fmt: Optional[str] = None,
    max_bytes: int = MAX_FILE_BYTES,
    source: Optional[Source] = None,
) -> List[Problem]:
    """Every problem in one AppSpec document, sorted by position. Rules that are off by default run
    only when named in ``enabled``; ``source`` is `raw` already read (the model's load passes it)."""
    if source is None:
        source = read_source(raw, path, fmt, max_bytes)
    chosen = None if source.root is None else platform or detect_platform(source.root)
    rules = rules_for(chosen, revision is not None)
    found: List[Tuple[Rule, int, int, str, str]] = []
    for item in source.findings:
        found.append((rules[item.rule_id], item.line, item.column, item.message, ""))
    if source.root is not None and chosen is not None:
        ctx = Context(source=source, root=source.root, platform=chosen, revision=revision)
        for rule in _applicable(rules.values(), ctx):
            for finding in rule.findings(ctx):
                line, column = _position(finding)
                found.append((rule, line, column, finding.message, finding.hint))
    inline = _inline_disables(source.text)
    inline_lines, inline_file = inline.by_line, inline.whole
    for line, column, rule_id in _unknown_ids(inline.named, rules):
        message = f"`appspec-lint:` comment names {rule_id}, which is no rule id; it turns nothing off"
        found.append((rules["SYN013"], line, column, message, ""))
    off = (
        set(disabled) | inline_file | {r.id for r in rules.values() if not r.enabled and r.id not in enabled}
    )
    last_line = raw.count(b"\n") + 1  # a parser's end-of-stream mark may point one line past the end
    problems = [
        Problem(path, min(line, last_line), column, rule.id, rule.severity, message, hint or rule.hint)
        for rule, line, column, message, hint in found
        if rule.id not in off and rule.id not in inline_lines.get(line, ())
    ]
    problems = list(dict.fromkeys(problems))
    problems.sort(key=Problem.sort_key)
    return problems


def _applicable(rules: Iterable[Rule], ctx: Context) -> List[Rule]:
    from appspec_tools.nodes import Mapping

    chosen = []
    for rule in rules:
        if rule.scope == "source" or ctx.platform not in rule.platforms:
            continue
        if rule.scope == "revision" and ctx.revision is None:
            continue
        if not isinstance(ctx.root, Mapping) and rule.id != "TOP001" and rule.area != "SYN":
            continue
        chosen.append(rule)
    return chosen


def _position(finding: Finding) -> Tuple[int, int]:
    where = finding.where
    if where is None:
        return 1, 1
    if isinstance(where, tuple):
        return max(1, where[0]), max(1, where[1])
    return where.line, where.column


class InlineDisables(NamedTuple):
    by_line: Dict[int, Set[str]]  # line -> ids off on that line
    whole: Set[str]  # ids off in the whole file
    named: List[Tuple[int, int, str]]  # (line, column, id) of every id named, to check they exist


def _inline_disables(text: str) -> InlineDisables:
    """`# appspec-lint: disable=RULE` after content applies to its line, alone to the next line;
    `# appspec-lint: disable-file=RULE` to the whole file."""
    found = InlineDisables({}, set(), [])
    if "appspec-lint" not in text:
        return found
    lines = text.splitlines()
    for number, line in enumerate(lines, 1):
        match = re.search(_INLINE, line)
        if not match:
            continue
        ids = set()
        for part in re.finditer(r"[A-Za-z0-9_]+", match.group(2)):
            ids.add(part.group().upper())
            found.named.append((number, match.start(2) + part.start() + 1, part.group().upper()))
        if match.group(1) == "disable-file":
            found.whole.update(ids)
            continue
        target = number
        if not line[: match.start()].strip():
            target = next(
                (
                    n
                    for n in range(number + 1, len(lines) + 1)
                    if lines[n - 1].strip() and not lines[n - 1].lstrip().startswith("#")
                ),
                number,
            )
        found.by_line.setdefault(target, set()).update(ids)
    return found


def _unknown_ids(named: List[Tuple[int, int, str]], rules: Dict[str, Rule]) -> List[Tuple[int, int, str]]:
    """The inline ids no rule has; every rule module is loaded only when a named id is not among the
    modules this document needed already."""
    from appspec_tools.rules import RETIRED, all_rules

    named = [(line, column, rule_id) for line, column, rule_id in named if rule_id not in RETIRED]
    if all(rule_id in rules for _, _, rule_id in named):
        return []
    known = all_rules()
    return [(line, column, rule_id) for line, column, rule_id in named if rule_id not in known]


def read_limited(path: str, max_bytes: int) -> bytes:
    try:
        with open(path, "rb") as handle:
            return handle.read(max_bytes + 1)
    except IsADirectoryError:
        raise LintError(f"{path}: is a directory") from None
    except OSError as exc:
        raise LintError(f"{path}: cannot read: {exc.strerror or exc}") from None


def find_appspecs(directory: str) -> List[str]:
    """AppSpec files under a directory: the root's own, else every revision root below it."""
    for name in APPSPEC_NAMES:
        candidate = os.path.join(directory, name)
        if os.path.isfile(candidate):
            return [candidate]
    found = []
    for current, dirs, files in os.walk(directory):
        dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS and not d.startswith("."))
        for name in APPSPEC_NAMES:
            if name in files:
                found.append(os.path.join(current, name))
                break
    return found


def revision_roots(changed: Iterable[str]) -> List[str]:
    """The revisions that hold the changed files, each once, in the order first reached: for each file,
    the nearest folder upwards (its own included) holding appspec.yml, .yaml or .json. The search stops
    at the top of the repository (a folder holding `.git`); files outside every revision are left out."""
    roots: List[str] = []
    seen: Dict[str, Optional[str]] = {}  # absolute folder -> its revision root, or None
    for path in changed:
        root = _root_of(os.path.dirname(os.path.abspath(path)), seen)
        shown = root if root is None or os.path.isabs(path) else os.path.relpath(root)
        if shown is not None and shown not in roots:
            roots.append(shown)
    return roots


def deleted_under_pre_commit(environ: Optional[Mapping[str, str]] = None) -> List[str]:
    """The files that the pre-commit run that started us deletes (empty when not under pre-commit).

    pre-commit passes a hook only the files that still exist, so deleting a hook script that an AppSpec
    still names would never reach its revision. Asked of git as pre-commit chose its files: between
    PRE_COMMIT_FROM_REF and PRE_COMMIT_TO_REF (`run --from-ref --to-ref`, CI), otherwise the staged ones.
    pre-commit runs hooks at the repository's top, where git's names are relative to."""
    if environ is None:
        environ = os.environ
    if environ.get("PRE_COMMIT") != "1":
        return []
    import subprocess  # only here: lint's start-up stays light

    diff = ["git", "diff", "--name-only", "--no-ext-diff", "-z", "--diff-filter=D"]
    old, new = environ.get("PRE_COMMIT_FROM_REF"), environ.get("PRE_COMMIT_TO_REF")
    attempts = [[*diff, f"{old}...{new}"], [*diff, f"{old}..{new}"]] if old and new else [[*diff, "--staged"]]
    for command in attempts:  # `...` needs a merge base; pre-commit falls back to `..` the same way
        try:
            listed = subprocess.run(command, capture_output=True, check=True, timeout=60).stdout
        except (OSError, subprocess.SubprocessError):
            continue
        return [os.fsdecode(name) for name in listed.split(b"\0") if name]
    return []


def _root_of(folder: str, seen: Dict[str, Optional[str]]) -> Optional[str]:
    passed = []
    while folder not in seen:
        passed.append(folder)
        parent = os.path.dirname(folder)
        if any(os.path.isfile(os.path.join(folder, name)) for name in APPSPEC_NAMES):
            seen[folder] = folder
        elif parent == folder or os.path.exists(os.path.join(folder, ".git")):
            seen[folder] = None
        else:
            folder = parent
    for name in passed:
        seen[name] = seen[folder]
    return seen[folder]


def lint_paths(paths: List[str], options: LintOptions, stdin: Any = None) -> LintReport:
    report = LintReport()
    for path in paths or ["."]:
        try:
            if path == "-":
                raw = (stdin.read(options.max_bytes + 1)) if stdin is not None else b""
                report.problems += _lint_one(raw, "<stdin>", options)
            elif os.path.isdir(path):
                appspecs = find_appspecs(path)
                if not appspecs:
                    raise LintError(
                        f"{path}: no appspec.yml, appspec.yaml or appspec.json found; "
                        "pass the AppSpec file or the revision folder that holds it"
                    )
                for appspec in appspecs:
                    report.problems += _lint_bundle(os.path.dirname(appspec) or ".", options)
                    report.files += 1
                continue
            elif is_archive(path):
                report.problems += _lint_bundle(path, options)
            elif not os.path.exists(path):
                raise LintError(f"{path}: no such file or directory")
            else:
                report.problems += _lint_one(read_limited(path, options.max_bytes), path, options)
            report.files += 1
        except LintError as exc:
            report.errors.append(str(exc))
    report.problems.sort(key=Problem.sort_key)
    return report


def _lint_bundle(path: str, options: LintOptions) -> List[Problem]:
    """A revision folder or bundle; the archive readers are imported only here, not for an AppSpec file."""
    from appspec_tools.revision import RevisionError, open_revision

    try:
        with open_revision(path) as rev:
            return _lint_revision(rev, options)
    except RevisionError as exc:
        raise LintError(str(exc)) from None


def _lint_one(
    raw: bytes, path: str, options: LintOptions, revision: Optional[Revision] = None
) -> List[Problem]:
    return lint_bytes(
        raw,
        path,
        platform=options.platform,
        disabled=options.disabled,
        enabled=options.enabled,
        revision=revision,
        max_bytes=options.max_bytes,
    )


def _lint_revision(rev: Revision, options: LintOptions) -> List[Problem]:
    """An AppSpec linted with its revision: its own problems plus the bundle cross-checks."""
    from appspec_tools.rules.revision_bundle import revision_problems

    problems = list(revision_problems(rev, options.disabled))
    if rev.appspec_member is None:
        return problems
    raw = rev.read(rev.appspec_member, options.max_bytes + 1)
    problems += _lint_one(raw, rev.display(rev.appspec_member), options, revision=rev)
    return problems


def lint_revision(revision: Revision, options: Optional[LintOptions] = None) -> List[Problem]:
    """Every problem of an open revision (appspec_tools.revision.open_revision), sorted."""
    return sorted(_lint_revision(revision, options or LintOptions()), key=Problem.sort_key)


def failing(problems: Iterable[Problem], strict: bool) -> bool:
    threshold = Severity.WARNING if strict else Severity.ERROR
    return any(p.severity >= threshold for p in problems)
