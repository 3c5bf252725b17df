"""Revision cross-checks of the AppSpec's hook scripts and `files` sources against what the bundle holds:
missing or non-executable scripts, CRLF and missing `#!` lines, interpreters a current image lacks."""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from typing import Iterator, List, Optional

from appspec_tools.lifecycle import EC2_SCRIPTABLE
from appspec_tools.nodes import Mapping, Scalar
from appspec_tools.reading import items
from appspec_tools.revision import DIR, FILE, Revision
from appspec_tools.rules import ERROR, INFO, WARNING, Context, Finding, rule

MAX_SCRIPT_BYTES = 1024 * 1024
SHELLS = frozenset({"sh", "bash", "dash", "ash", "ksh", "mksh", "zsh", "busybox"})
MISSING_INTERPRETERS = frozenset({"python", "python2"})


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
