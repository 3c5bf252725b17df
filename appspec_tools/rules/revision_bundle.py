"""Revision cross-checks: the bundle itself (unsafe entries, where the AppSpec is, macOS debris) and the
AppSpec's hook scripts and `files` sources checked against what the bundle holds."""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from typing import Dict, Iterable, Iterator, List, Optional, Tuple

from appspec_tools.agent_names import APPSPEC_NAMES
from appspec_tools.lifecycle import EC2_SCRIPTABLE
from appspec_tools.nodes import Mapping, Scalar
from appspec_tools.problem import Problem
from appspec_tools.reading import items
from appspec_tools.revision import (
    ABSOLUTE,
    DIR,
    FILE,
    HARDLINK_OUT,
    SETUID,
    SPECIAL,
    SYMLINK_OUT,
    THROUGH_SYMLINK,
    Revision,
)
from appspec_tools.rules import ERROR, INFO, WARNING, Context, Finding, declare, rule

# The rule each kind of unsafe entry is reported under.
RULE_IDS = {
    ABSOLUTE: "REV003", HARDLINK_OUT: "REV004", THROUGH_SYMLINK: "REV004", SPECIAL: "REV005",
    SETUID: "REV006", SYMLINK_OUT: "REV018",
}  # fmt: skip

MAX_SCRIPT_BYTES = 1024 * 1024
MAX_REPORTED = 10  # unsafe entries reported one by one per rule; the rest are counted
MACOSX = "__MACOSX"
SHELLS = frozenset({"sh", "bash", "dash", "ash", "ksh", "mksh", "zsh", "busybox"})
MISSING_INTERPRETERS = frozenset({"python", "python2"})

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


@dataclass
class HookScript:
    event: str
    node: Scalar  # the `location:` value
    member: str  # the path inside the revision
    data: Optional[bytes] = None  # the first MAX_SCRIPT_BYTES when it is a regular file


def _bundle(ctx: Context) -> Revision:
    """The revision a rule of scope "revision" checks (the linter runs them only with one)."""
    assert ctx.revision is not None
    return ctx.revision


def _windows(ctx: Context) -> bool:
    node = ctx.doc.get("os")
    return (
        isinstance(node, Scalar) and isinstance(node.value, str) and node.value.strip().lower() == "windows"
    )


def _member(value: str, windows: bool) -> str:
    """A `location`/`source` as a revision path: the agent joins it to the archive, so a leading `/`
    stays inside (File.join), and on Windows `\\` separates."""
    return (value.replace("\\", "/") if windows else value).lstrip("/")


def _scripts(ctx: Context) -> List[HookScript]:
    """Every script of a scriptable event, read once per document."""
    if "rev.scripts" in ctx.cache:
        return ctx.cache["rev.scripts"]
    scripts, hooks, windows = [], ctx.doc.get("hooks"), _windows(ctx)
    if isinstance(hooks, Mapping):
        for event, _, entries in hooks.items():
            if event not in EC2_SCRIPTABLE:
                continue  # never run by the agent; the hook rules report the name
            for item in items(entries):
                node = item.get("location") if isinstance(item, Mapping) else None
                if isinstance(node, Scalar) and isinstance(node.value, str) and node.value.strip():
                    script = HookScript(event, node, _member(node.value, windows))
                    if _bundle(ctx).is_regular(script.member):
                        script.data = _bundle(ctx).read(script.member, MAX_SCRIPT_BYTES)
                    scripts.append(script)
    ctx.cache["rev.scripts"] = scripts
    return scripts


def _texts(ctx: Context) -> Iterator[HookScript]:
    """Linux scripts that are text (not an ELF binary) and not empty."""
    if _windows(ctx):
        return
    for script in _scripts(ctx):
        if script.data and not script.data.startswith(b"\x7fELF"):
            yield script


def _interpreter(data: bytes) -> str:
    """The program named by the #! line (`env`'s argument for `#!/usr/bin/env NAME`), or ""."""
    words = data.split(b"\n", 1)[0][2:].decode("utf-8", "replace").strip().split()
    if words and posixpath.basename(words[0]) == "env":
        words = [w for w in words[1:] if not w.startswith("-") and "=" not in w]
    return posixpath.basename(words[0]) if words else ""


def _suggest(rev: Revision, member: str) -> str:
    import difflib

    names = [e.name for e in rev.entries() if e.kind != DIR][:20_000]
    same_case = [n for n in names if n.lower() == member.lower()]
    same_base = sorted((n for n in names if posixpath.basename(n) == posixpath.basename(member)), key=len)
    close = same_case or same_base or difflib.get_close_matches(member, names, n=1, cutoff=0.8)
    return f"; did you mean '{close[0]}'?" if close else ""


@rule(
    "REV010",
    ERROR,
    "Hook script not in the revision",
    hint="fix the `location` (relative to the revision root, case-sensitive) or add the script to the bundle",
    platforms={"ec2"},
    scope="revision",
    bad="version: 0.0\nos: linux\nhooks:\n  ApplicationStart:\n    - location: scripts/start.sh  # not in the bundle",
    good="version: 0.0\nos: linux\nhooks:\n  ApplicationStart:\n    - location: scripts/start_server.sh",
)
def script_missing(ctx: Context) -> Iterator[Finding]:
    """The agent joins `location` to the unpacked revision (a leading `/` stays inside it) and fails the
    event with "Script does not exist at specified location: …" (ScriptMissing) when nothing is there."""
    rev = _bundle(ctx)
    for script in _scripts(ctx):
        entry, status = rev.resolved(script.member)
        if entry is not None:
            continue
        why = {"escapes": "a link out of", "loop": "a symlink loop in"}.get(status, "no such file in")
        tip = _suggest(rev, script.member) if status == "missing" else ""
        message = (
            f"Script does not exist at specified location: {script.node.value} ({why} {rev.display('')})"
        )
        yield Finding(script.node, message + tip)


@rule(
    "REV011",
    ERROR,
    "Hook location is a directory, not a script",
    hint="point `location` at the script file inside that folder",
    platforms={"ec2"},
    scope="revision",
    bad="version: 0.0\nos: linux\nhooks:\n  AfterInstall:\n    - location: scripts",
    good="version: 0.0\nos: linux\nhooks:\n  AfterInstall:\n    - location: scripts/after_install.sh",
)
def script_not_a_file(ctx: Context) -> Iterator[Finding]:
    """A directory passes the agent's existence check, then running it fails the event (EACCES,
    "Permission denied"); device files and FIFOs cannot be run either."""
    for script in _scripts(ctx):
        entry = _bundle(ctx).resolved(script.member)[0]
        if entry is not None and entry.kind != FILE:
            what = "a directory" if entry.kind == DIR else f"a {entry.kind} entry"
            yield Finding(
                script.node, f"hook location {script.node.value} is {what}, not a script the agent can run"
            )


@rule(
    "REV012",
    ERROR,
    "Hook script with Windows (CRLF) line endings",
    hint="convert it to LF (`dos2unix FILE`, or `*.sh text eol=lf` in .gitattributes)",
    platforms={"ec2"},
    scope="revision",
    bad="version: 0.0\nos: linux\nhooks:\n  ApplicationStart:\n    - location: start.sh  # '#!/bin/bash\\r\\n'",
    good="version: 0.0\nos: linux\nhooks:\n  ApplicationStart:\n    - location: start.sh  # '#!/bin/bash\\n'",
)
def script_crlf(ctx: Context) -> Iterator[Finding]:
    """With CRLF endings the #! line names the interpreter `/bin/bash\\r`, which does not exist: the event
    fails ("bad interpreter", ENOENT), whatever the interpreter. In a shell script (or one without #!,
    which /bin/sh runs) every later command also ends with a carriage return, so `fi\\r`, `exit 0\\r` or
    paths break; other interpreters (python, node…) accept CRLF after the first line. Windows
    revisions are not checked."""
    for script in _texts(ctx):
        data, value = script.data or b"", script.node.value
        first = data.split(b"\n", 1)[0]
        if data.startswith(b"#!") and first.endswith(b"\r"):
            shown = first[2:].decode("utf-8", "replace").strip()
            yield Finding(script.node, f"{value}: the #! line '{shown}\\r' ends with a carriage return (CRLF): "
                          "the host reports \"bad interpreter\"")  # fmt: skip
        elif b"\r\n" in data and (not data.startswith(b"#!") or _interpreter(data) in SHELLS):
            line = data.count(b"\n", 0, data.index(b"\r\n")) + 1
            yield Finding(script.node, f"{value} has CRLF line endings from line {line}: the shell reads a "
                          "carriage return at the end of every command")  # fmt: skip


@rule(
    "REV013",
    WARNING,
    "Hook script without a #! line",
    hint="start the script with `#!/bin/bash` (or the interpreter it is written for)",
    platforms={"ec2"},
    scope="revision",
    bad="version: 0.0\nos: linux\nhooks:\n  ApplicationStart:\n    - location: start.sh  # starts with 'set -e'",
    good="version: 0.0\nos: linux\nhooks:\n  ApplicationStart:\n    - location: start.sh  # starts with '#!/bin/bash'",
)
def script_without_shebang(ctx: Context) -> Iterator[Finding]:
    """The agent runs the script path directly. Without `#!` the exec fails with ENOEXEC and Ruby's
    spawn retries it with `/bin/sh` (dash on Ubuntu and Debian), so bash syntax breaks and the script
    may do something else than on the developer's machine. A UTF-8 BOM before `#!` hides the line the
    same way. Empty scripts do nothing. ELF binaries are fine. Windows revisions are not checked."""
    for script in [] if _windows(ctx) else _scripts(ctx):
        data, value = script.data, script.node.value
        if data is None or data.startswith((b"#!", b"\x7fELF")):
            continue
        if not data:
            message = f"{value} is empty: it has no #! line and does nothing"
        elif data.startswith(b"\xef\xbb\xbf#!"):
            message = f"{value} starts with a byte-order mark, so its #! line is ignored and /bin/sh runs it"
        else:
            message = (
                f"{value} has no #! line: the exec fails (ENOEXEC) and the agent's Ruby runs it with /bin/sh"
            )
        yield Finding(script.node, message)


@rule(
    "REV014",
    WARNING,
    "Hook script is not executable",
    hint="`chmod +x` the script and commit the mode (`git update-index --chmod=+x FILE`)",
    platforms={"ec2"},
    scope="revision",
    bad="version: 0.0\nos: linux\nhooks:\n  ApplicationStart:\n    - location: start.sh  # mode 0644",
    good="version: 0.0\nos: linux\nhooks:\n  ApplicationStart:\n    - location: start.sh  # mode 0755",
)
def script_not_executable(ctx: Context) -> Iterator[Finding]:
    """The agent logs "Script at specified location: … is not executable. Trying to make it executable."
    and runs `chmod +x`; only if that fails does the event fail (ScriptNotExecutable). A zip made on
    Windows stores no Unix modes, so `unzip` creates every file without the exec bit. Windows
    revisions are not checked."""
    for script in [] if _windows(ctx) else _scripts(ctx):
        if script.data is None:
            continue
        mode = _bundle(ctx).mode(script.member)
        if mode is None:
            yield Finding(script.node, f"{script.node.value} has no Unix mode in {_bundle(ctx).path} (zipped on "
                          "Windows?), so it unpacks without the exec bit and the agent must chmod +x it")  # fmt: skip
        elif not mode & 0o111:
            yield Finding(script.node, f"Script at specified location: {script.node.value} is not executable "
                          f"(mode {mode:04o}): the agent runs chmod +x on it and logs a warning")  # fmt: skip


@rule(
    "REV015",
    INFO,
    "Hook script runs `python` (not `python3`)",
    hint="use `#!/usr/bin/env python3`",
    platforms={"ec2"},
    scope="revision",
    bad="version: 0.0\nos: linux\nhooks:\n  ValidateService:\n    - location: check.py  # '#!/usr/bin/env python'",
    good="version: 0.0\nos: linux\nhooks:\n  ValidateService:\n    - location: check.py  # '#!/usr/bin/env python3'",
)
def script_python_name(ctx: Context) -> Iterator[Finding]:
    """Amazon Linux 2023, Ubuntu 20.04+, Debian 11+ and RHEL 8+ ship `python3` but no `python` (or
    `python2`) command by default, so such a #! line fails with "No such file or directory" there."""
    for script in _texts(ctx):
        data = script.data or b""
        name = _interpreter(data) if data.startswith(b"#!") else ""
        if name in MISSING_INTERPRETERS:
            yield Finding(
                script.node, f"{script.node.value} runs `{name}`: most current Linux images have only python3"
            )


@rule(
    "REV016",
    ERROR,
    "`files` source not in the revision",
    hint="fix the `source` (relative to the revision root, case-sensitive; `/` is the whole revision)",
    platforms={"ec2"},
    scope="revision",
    bad="version: 0.0\nos: linux\nfiles:\n  - source: dist  # the bundle has build/\n    destination: /opt/app",
    good="version: 0.0\nos: linux\nfiles:\n  - source: build\n    destination: /opt/app",
)
def source_missing(ctx: Context) -> Iterator[Finding]:
    """Install copies `File.join(archive, source)`; a missing source fails Install with "No such file or
    directory" (UnknownError) after the previous revision's files were already removed."""
    windows = _windows(ctx)
    for item in items(ctx.doc.get("files")):
        node = item.get("source") if isinstance(item, Mapping) else None
        if not isinstance(node, Scalar) or not isinstance(node.value, str):
            continue
        member = _member(node.value, windows)
        if member.strip("./") and not _bundle(ctx).exists(member):
            tip = _suggest(_bundle(ctx), member)
            where = _bundle(ctx).display("")
            yield Finding(node, f"files source {node.value} does not exist in {where}: Install fails{tip}")


@rule(
    "REV017",
    WARNING,
    "tar or tgz bundle for Windows",
    hint="bundle Windows revisions as zip (`aws deploy push` makes a zip)",
    platforms={"ec2"},
    scope="revision",
    bad="version: 0.0\nos: windows  # in bundle.tgz",
    good="version: 0.0\nos: windows  # in bundle.zip",
)
def windows_tar(ctx: Context) -> Iterator[Finding]:
    """The Windows agent supports zip bundles; for tar and tgz it logs a warning and tries anyway."""
    if _windows(ctx) and _bundle(ctx).kind == "tar":
        yield Finding(
            ctx.doc.get("os"), f"os: windows with the tar bundle {_bundle(ctx).path}: Windows needs zip"
        )
