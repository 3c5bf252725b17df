"""Revision cross-checks of the bundle itself: unsafe entries, where the AppSpec is, macOS debris. The
hook scripts and `files` sources are checked in revision_scripts.py."""

from __future__ import annotations

import posixpath
from typing import Dict, Iterable, Iterator, Tuple

from appspec_tools.agent_names import APPSPEC_NAMES
from appspec_tools.problem import Problem
from appspec_tools.revision import (
    ABSOLUTE,
    HARDLINK_OUT,
    SETUID,
    SPECIAL,
    SYMLINK_OUT,
    THROUGH_SYMLINK,
    Revision,
)
from appspec_tools.rules import ERROR, INFO, WARNING, declare

# The rule each kind of unsafe entry is reported under.
RULE_IDS = {
    ABSOLUTE: "REV003", HARDLINK_OUT: "REV004", THROUGH_SYMLINK: "REV004", SPECIAL: "REV005",
    SETUID: "REV006", SYMLINK_OUT: "REV018",
}  # fmt: skip

MAX_REPORTED = 10  # unsafe entries reported one by one per rule; the rest are counted
MACOSX = "__MACOSX"

_LISTING = "# bundle.zip holds: "
declare(
    "REV001",
    ERROR,
    "No AppSpec in the revision",
    hint="put appspec.yml at the top of the bundle: zip the folder's contents (`cd app && zip -r ../b.zip .`)",
    doc="""The agent reads `appspec.yml` (or the name the deployment gives; Install falls back to
    `appspec.yaml`) at the revision root; without it the deployment fails with "No such file or
    directory - …/deployment-archive/appspec.yml". File names are case-sensitive on Linux.""",
    bad=_LISTING + "AppSpec.yml, scripts/start.sh",
    good=_LISTING + "appspec.yml, scripts/start.sh",
    scope="revision",
)
declare(
    "REV002",
    ERROR,
    "AppSpec below the revision root",
    hint="zip the revision folder's contents, not a folder above it, and leave out __MACOSX and dotfiles",
    doc="""After unpacking a zip/tar/tgz the agent strips one top-level folder, and only when it is the
    only entry at the archive root and directly holds a name matching `appspec` (AGENT-FACTS §8). An
    AppSpec two folders down, or one folder down beside `__MACOSX/` or a `.gitignore`, is not found.
    Directory revisions are never stripped.""",
    bad=_LISTING + "build/myapp/appspec.yml, build/myapp/scripts/start.sh",
    good=_LISTING + "myapp/appspec.yml, myapp/scripts/start.sh   (myapp/ is stripped)",
    scope="revision",
)
declare(
    "REV003",
    ERROR,
    "Archive entry with an absolute path or `..`",
    hint="rebuild the bundle from the revision folder with relative paths (`cd app && zip -r ../b.zip .`)",
    doc="""An entry named `/etc/x` or `../x` writes outside the deployment archive (GNU tar refuses
    `..` members and fails the unpack). The deploy shim refuses such bundles.""",
    bad=_LISTING + "appspec.yml, ../../etc/cron.d/job",
    good=_LISTING + "appspec.yml, etc/cron.d/job",
    scope="revision",
)
declare(
    "REV004",
    ERROR,
    "Hard link out of the archive, or an entry under one of its symlinks",
    hint="make links relative and inside the revision, or create them from a hook script",
    doc="""A tar hard link to `../../etc/shadow`, or an entry `config/app.conf` after a symlink
    `config -> /etc/myapp`, makes the unpack write a host file. The deploy shim refuses such bundles in
    every mode.""",
    bad=_LISTING + "appspec.yml, config -> /etc/myapp, config/app.conf",
    good=_LISTING + "appspec.yml, config -> shared/config",
    scope="revision",
)
declare(
    "REV005",
    ERROR,
    "Device file, FIFO or socket in the archive",
    hint="remove it from the bundle; create device nodes or FIFOs from a hook script if you need them",
    doc="`tar -xpsf` as root (the agent's unpack) creates device nodes; a revision never needs one.",
    bad=_LISTING + "appspec.yml, dev/sda (block device)",
    good=_LISTING + "appspec.yml",
    scope="revision",
)
declare(
    "REV006",
    WARNING,
    "setuid or setgid file in the archive",
    hint="clear the bit (`chmod u-s,g-s FILE`) before bundling; set it from `permissions` if truly needed",
    doc="""`tar -xpsf` as root keeps setuid and setgid bits, so the bundle installs a privileged program
    (`unzip` drops them). The agent deploys it; `appspec deploy --safe` and `appspec fleet` refuse it.
    setgid on a directory (group inheritance) is not reported.""",
    bad=_LISTING + "appspec.yml, bin/tool (mode 4755)",
    good=_LISTING + "appspec.yml, bin/tool (mode 0755)",
    scope="revision",
)
declare(
    "REV007",
    WARNING,
    "macOS `__MACOSX/` metadata in the bundle",
    hint="zip from a terminal (`zip -r -X ../b.zip .`) instead of Finder's Compress, or `zip -d b.zip '__MACOSX/*'`",
    doc="""Finder's "Compress" adds `__MACOSX/` resource forks. They are unpacked and installed with
    `source: /`, and beside the single top folder they stop the agent from stripping it (REV002).""",
    bad=_LISTING + "myapp/appspec.yml, __MACOSX/myapp/._appspec.yml",
    good=_LISTING + "myapp/appspec.yml",
    scope="revision",
)
declare(
    "REV008",
    INFO,
    "`.DS_Store` files in the revision",
    hint="delete them and add `.DS_Store` to .gitignore (or zip with `-x '*.DS_Store'`)",
    doc="""Finder metadata gets installed with the application; a stray `.DS_Store` already at the
    destination is the classic "a specified file already exists at this location" failure under the
    default `file_exists_behavior: DISALLOW`.""",
    bad=_LISTING + "appspec.yml, app/.DS_Store",
    good=_LISTING + "appspec.yml, app/index.html",
    scope="revision",
)
declare(
    "REV009",
    WARNING,
    "More than one AppSpec at the revision root",
    hint="keep one AppSpec file (appspec.yml) and delete the others",
    doc="""The agent reads the AppSpec name the deployment gives (`appspec.yml` by default); Install
    falls back to `appspec.yaml`, hook execution does not. With two variants, which one applies
    depends on the deployment. The linter checks the first of appspec.yml, appspec.yaml, appspec.json.""",
    bad=_LISTING + "appspec.yml, appspec.yaml",
    good=_LISTING + "appspec.yml",
    scope="revision",
)


declare(
    "REV018",
    WARNING,
    "Symlink that points outside the archive",
    hint="point it inside the revision, or create it from a hook script if it must point at the host",
    doc="""A symlink to `/etc/myapp` or `../../shared` is unpacked as a link, by the agent and by the
    deploy shim, and a `files` copy installs the link as it is: what it points at is the host's, not the
    revision's. An entry under it is REV004.""",
    bad=_LISTING + "appspec.yml, config -> /etc/myapp",
    good=_LISTING + "appspec.yml, config -> shared/config",
    scope="revision",
)
_UNPACKED = {  # what happens to an entry of these kinds; the others are refused
    SETUID: "the agent keeps the bit; `appspec deploy --safe` and `appspec fleet` refuse it",
    SYMLINK_OUT: "the agent and the deploy shim keep it as a link",
}


def revision_problems(rev: Revision, disabled: Iterable[str] = frozenset()) -> Iterator[Problem]:
    """Revision-level problems (not inside the AppSpec), at line 1, column 1 of the revision path."""
    from appspec_tools.rules import all_rules

    rules, off = all_rules(), frozenset(disabled)
    for rule_id, message in revision_findings(rev):
        if rule_id not in off:
            yield Problem(rev.path, 1, 1, rule_id, rules[rule_id].severity, message, rules[rule_id].hint)


def revision_findings(rev: Revision) -> Iterator[Tuple[str, str]]:
    """(rule id, message) for the revision-level problems: the bundle's unsafe entries, where its AppSpec
    is, macOS debris."""
    counts: Dict[str, int] = {}
    for found in rev.unsafe_entries():
        rule_id = RULE_IDS[found.kind]
        counts[rule_id] = counts.get(rule_id, 0) + 1
        if counts[rule_id] <= MAX_REPORTED:
            yield (
                rule_id,
                f"{found.reason}: {_UNPACKED.get(found.kind, 'the deploy shim refuses to unpack it')}",
            )
    for rule_id, count in sorted(counts.items()):
        if count > MAX_REPORTED:
            yield rule_id, f"{count - MAX_REPORTED} more entries like these in {rev.path}"
    entries = list(rev.entries())
    if rev.appspec_member is None:
        yield _appspec_not_found(rev)
    elif len(rev.appspec_variants) > 1:
        yield (
            "REV009",
            (
                f"{' and '.join(rev.appspec_variants)} at the root of {rev.display('')}: the deployment's AppSpec "
                f"name decides which one is used; linted {rev.appspec_member}"
            ),
        )
    macosx = [e for e in entries if e.name.split("/", 1)[0] == MACOSX]
    if macosx:
        yield "REV007", f"{rev.display(MACOSX)}/ holds {len(macosx)} macOS Finder metadata entries"
    stores = [e.name for e in entries if posixpath.basename(e.name) == ".DS_Store"]
    if stores:
        more = f" and {len(stores) - 1} more" if len(stores) > 1 else ""
        yield "REV008", f"macOS Finder file {rev.display(stores[0])}{more} will be deployed"


def _appspec_not_found(rev: Revision) -> Tuple[str, str]:
    where = rev.display("")
    found = sorted(
        (e.name for e in rev.archive_entries() if posixpath.basename(e.name).lower() in APPSPEC_NAMES),
        key=lambda name: (name.count("/"), name),
    )
    if not found:
        return "REV001", f"no appspec.yml, appspec.yaml or appspec.json in {where}"
    first = found[0]
    if posixpath.basename(first) not in APPSPEC_NAMES:
        return "REV001", f"no appspec.yml at the root of {where}: found {first}, but names are case-sensitive"
    if rev.kind == "directory":
        return (
            "REV002",
            f"the AppSpec is at {first}, not at the root of {where} (directories are not stripped)",
        )
    roots = sorted({e.name.split("/", 1)[0] for e in rev.archive_entries() if e.name})
    top = first.split("/", 1)[0]
    if first.count("/") == 1 and len(roots) > 1:
        beside = ", ".join(r for r in roots if r != top)
        beside = beside if len(beside) < 80 else beside[:77] + "..."
        return "REV002", (
            f"the AppSpec is at {first}, not at the root of {where}: the agent strips {top}/ only when it is "
            f"alone at the archive root, and {beside} is beside it"
        )
    return "REV002", (
        f"the AppSpec is at {first}, {first.count('/')} folders down in {where}: the agent strips at most one "
        "top-level folder"
    )
