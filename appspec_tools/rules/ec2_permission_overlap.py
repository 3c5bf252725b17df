"""EC2/On-Premises `permissions` entries that reach the same path: Install gives each installed path one
entry and fails on a second ("the permissions setting for (…) is specified more than once",
`install_instruction.rb`); which paths an entry reaches is `linux_permission_info.rb`'s matching."""

from __future__ import annotations

import posixpath
import re
from typing import FrozenSet, Iterator, List, NamedTuple, Optional, Tuple

from appspec_tools.agent_names import APPSPEC_NAMES
from appspec_tools.nodes import Mapping, Node, Scalar
from appspec_tools.reading import is_null, items, string
from appspec_tools.rules import ERROR, WARNING, Context, Finding, rule
from appspec_tools.rules.ec2_files import file_copies
from appspec_tools.rules.permission_entries import entries, entry_types

HEAD = "version: 0.0\nos: linux\n"
COPY = "files:\n  - source: /\n    destination: /opt/app\n"


class Scope(NamedTuple):
    node: Node
    object: str
    everything: bool  # pattern ** and no except: every path under object
    pattern: str
    excepts: Tuple[str, ...]
    types: FrozenSet[str]


def scope_of(entry: Mapping) -> Optional[Scope]:
    """What one entry reaches, when its object, pattern and types are readable."""
    value, types = string(entry.get("object")), entry_types(entry)
    pattern = entry.get("pattern")
    glob = "**" if is_null(pattern) else string(pattern)
    if value is None or not value.strip().startswith("/") or types is None or glob is None:
        return None
    excepts = tuple(text for text in map(string, items(entry.get("except"))) if text is not None)
    obj = entry.get("object")
    assert obj is not None
    everything = glob == "**" and not items(entry.get("except"))
    return Scope(obj, posixpath.normpath(value.strip()), everything, glob, excepts, types)


def _scopes(ctx: Context) -> List[Scope]:
    return [scope for scope in map(scope_of, entries(ctx)) if scope is not None]


def _simple_glob(name: str, pattern: str) -> bool:
    """The agent's glob: `*` is any run of characters, nothing else is special, no `/` in the name."""
    regex = "".join(".*" if char == "*" else re.escape(char) for char in pattern)
    return "/" not in name and re.fullmatch(regex, name, re.DOTALL) is not None


def sets_file(scope: Scope, path: str) -> bool:
    """True when the entry gives permissions to the installed file ``path``."""
    if "file" not in scope.types:
        return False
    if path == scope.object:
        return True  # the object is itself the copied file
    prefix = scope.object.rstrip("/") + "/"
    if not path.startswith(prefix):
        return False
    name = path[len(prefix) :]
    if scope.pattern != "**" and not _simple_glob(name, scope.pattern):
        return False
    return not any(_simple_glob(name, item) for item in scope.excepts)


def _members(ctx: Context) -> List[str]:
    """Revision members that are certainly files: the AppSpec itself and every hook script (a missing
    script fails the deployment anyway)."""
    name = posixpath.basename(ctx.source.path)
    found = [name if name in APPSPEC_NAMES else ctx.appspec_name]
    hooks = ctx.doc.get("hooks")
    for _, _, scripts in hooks.items() if isinstance(hooks, Mapping) else []:
        for entry in items(scripts):
            location = entry.get("location") if isinstance(entry, Mapping) else None
            if isinstance(location, Scalar) and isinstance(location.value, str) and location.value.strip():
                member = posixpath.normpath(location.value.strip().lstrip("/"))
                if not member.startswith("../"):
                    found.append(member)
    return found


def installed_files(ctx: Context) -> List[str]:
    """Paths on the instance that the `files` section certainly installs as files."""
    out: List[str] = []
    for copy in file_copies(ctx):
        for member in _members(ctx):
            if copy.source == ".":
                relative = member
            elif member == copy.source:
                relative = posixpath.basename(member)
            elif member.startswith(copy.source + "/"):
                relative = member[len(copy.source) + 1 :]
            else:
                continue
            path = posixpath.normpath(posixpath.join(copy.destination, relative))
            if path not in out:
                out.append(path)
    return out


def _overlap(scope: Scope, other: Scope) -> bool:
    """Both entries reach the same paths whatever is installed under them."""
    if not scope.types & other.types:
        return False
    if scope.object == other.object:
        same_glob = scope.pattern == other.pattern and not scope.excepts and not other.excepts
        return scope.everything or other.everything or same_glob
    return (other.everything and scope.object.startswith(other.object.rstrip("/") + "/")) or (
        scope.everything and other.object.startswith(scope.object.rstrip("/") + "/")
    )


class _Clash(NamedTuple):
    scope: Scope
    other: Scope  # the earlier entry
    path: Optional[str]  # an installed path both set (certain failure), or None (overlap only)


def _clashes(ctx: Context) -> List[_Clash]:
    """Each entry's clash with an earlier one, a certain one first; shared by PERM019 and PERM020."""
    if "permission_clashes" in ctx.cache:
        return ctx.cache["permission_clashes"]
    scopes, installed, found = _scopes(ctx), installed_files(ctx), []
    for index, scope in enumerate(scopes):
        earlier = scopes[:index]
        certain = [
            _Clash(scope, other, path)
            for other in earlier
            for path in installed
            if sets_file(scope, path) and sets_file(other, path)
        ]
        possible = [_Clash(scope, other, None) for other in earlier if _overlap(scope, other)]
        found += (certain or possible)[:1]
    ctx.cache["permission_clashes"] = found
    return found


@rule(
    "PERM019",
    WARNING,
    "Two permissions cover the same paths",
    hint="give each path one entry: split by `type`, or narrow one entry with `pattern`/`except`",
    platforms={"ec2"},
    bad=HEAD + "permissions:\n  - object: /opt/app\n    owner: app\n  - object: /opt/app/bin\n    mode: 755",
    good=HEAD + "permissions:\n  - object: /opt/app\n    owner: app\n    type: [directory]\n"
    "  - object: /opt/app\n    mode: 755\n    owner: app\n    type: [file]",
)
def overlapping_entries(ctx: Context) -> Iterator[Finding]:
    """Each installed path may receive one permission entry; a second one fails the Install: "the
    permissions setting for (…) is specified more than once". Reported when the overlap is certain:
    the same object, or an object inside another whose entry has `pattern: **` (the default) and no
    `except`, with a file/directory type in common. Splitting one object by `type: [directory]` and
    `type: [file]` is fine. A warning, because nothing may be installed under the object; when the
    `files` section certainly installs a path that both set, PERM020 reports it as an error instead."""
    for clash in _clashes(ctx):
        if clash.path is None:
            common = " and ".join(sorted(clash.scope.types & clash.other.types))
            kinds = common.replace("file", "files").replace("directory", "directories")
            yield Finding(
                clash.scope.node,
                f"permissions for {kinds} under '{clash.scope.object}' overlap the entry at line "
                f"{clash.other.node.line} ('{clash.other.object}'): Install fails, a path is "
                "specified more than once",
            )


@rule(
    "PERM020",
    ERROR,
    "Two permissions set a path that `files` certainly installs",
    hint="give each path one entry: remove the repeated entry, split by `type`, or narrow one with "
    "`pattern`/`except`",
    platforms={"ec2"},
    bad=HEAD
    + COPY
    + "permissions:\n  - object: /opt/app\n    owner: app\n  - object: /opt/app\n    mode: 644",
    good=HEAD + COPY + "permissions:\n  - object: /opt/app\n    owner: app\n    mode: 644",
)
def certain_overlap(ctx: Context) -> Iterator[Finding]:
    """Install fails with "the permissions setting for (PATH) is specified more than once" as soon as
    two entries reach one installed file. Some files are installed for certain: the AppSpec itself
    wherever `source: /` copies the whole revision, and every hook script wherever a `files` entry
    copies its folder (a missing script fails the deployment anyway). Two entries that both reach such
    a file, for example the same object twice without a `pattern`, fail every deployment to a host where
    the file does not exist yet."""
    for clash in _clashes(ctx):
        if clash.path is not None:
            yield Finding(
                clash.scope.node,
                f"this entry and the one at line {clash.other.node.line} both set '{clash.path}', which "
                "`files` installs: Install fails, the permissions setting is specified more than once",
            )
