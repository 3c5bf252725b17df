"""The agent's Install event: cleanup of the previous install, file copies, permissions (AGENT-FACTS §5).

Instructions are generated first (agent_shim/install_plan.py: copy/mkdir, then permission commands),
written to `<group>-install.json`, then executed while `<group>-cleanup` is written line by line, so a
failed install leaves a partial cleanup list the next deployment replays.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from typing import IO, Any, Callable, Dict, List, Sequence, Tuple

from agent_shim import selinux
from agent_shim.install_plan import Command, InstallError, Instructions, generate

__all__ = ["InstallError", "cleanup_entries", "execute", "install", "replay_cleanup"]

Executor = Callable[[Command, IO[str], Callable[[str], None]], None]


def cleanup_entries(cleanup_file: str) -> List[str]:
    """The previous install's cleanup list, newest first; a last line without a newline is an
    unfinished entry and ignored (install_instruction.rb)."""
    try:
        with open(cleanup_file, encoding="utf-8", errors="surrogateescape") as handle:
            lines = handle.read().splitlines(keepends=True)
    except FileNotFoundError:
        return []
    if lines and not lines[-1].endswith("\n"):
        lines.pop()
    return list(reversed(lines))


def replay_cleanup(cleanup_file: str) -> None:
    """Remove what the previous install created, newest first; non-empty directories stay."""
    if not os.path.exists(cleanup_file):
        return
    for line in cleanup_entries(cleanup_file):
        if line.startswith("semanage\0"):
            target = line.split("\0", 1)[1].strip()
            if shutil.which("semanage"):
                subprocess.run(["semanage", "fcontext", "-d", target], check=False, capture_output=True)
            continue
        path = line.strip()
        if os.path.islink(path):
            os.remove(path)
        elif os.path.isdir(path):
            try:
                os.rmdir(path)
            except OSError:
                pass  # not empty: someone else's files live there
        elif os.path.exists(path):
            os.remove(path)
    os.remove(cleanup_file)


def execute(
    instructions: Instructions, cleanup: IO[str], warn: Callable[[str], None], safe: bool = False
) -> None:
    executors = _SAFE_EXECUTORS if safe else _EXECUTORS
    for command in instructions.commands:
        executors[command.type](command, cleanup, warn)


def _copy(command: Command, cleanup: IO[str], warn: Callable[[str], None]) -> None:
    cleanup.write(command.path + "\n")
    cleanup.flush()
    try:
        _copy_file(command.source, command.path)
    except OSError as exc:  # as Ruby words it: "No such file or directory @ rb_sysopen - PATH"
        raise InstallError(f"{exc.strerror} @ rb_sysopen - {exc.filename or command.source}") from None


def _copy_file(source: str, destination: str) -> None:
    """`FileUtils.copy(source, destination, preserve: true)`, or `FileUtils.symlink` of a link; an existing
    folder (OVERWRITE) receives the file inside it, as FileUtils does; any other file there is replaced."""
    if os.path.islink(source):
        link = os.readlink(source)
        if os.path.isdir(destination) and not os.path.islink(destination):
            destination = os.path.join(destination, os.path.basename(link))
        elif os.path.lexists(destination):
            os.remove(destination)
        os.symlink(link, destination)
        return
    if not os.path.lexists(source):  # a `files` source the revision does not have
        raise FileNotFoundError(2, "No such file or directory", source)
    if os.path.isdir(destination) and not os.path.islink(destination):
        destination = os.path.join(destination, os.path.basename(source))
    if os.path.lexists(destination) and not os.path.isdir(destination):  # never written through a link
        os.remove(destination)
    # contents, times, owner where allowed (else no setuid/setgid), mode
    shutil.copyfile(source, destination)
    info = os.stat(source)
    os.utime(destination, ns=(info.st_atime_ns, info.st_mtime_ns))
    mode = stat.S_IMODE(info.st_mode)
    try:
        os.chown(destination, info.st_uid, info.st_gid)
    except PermissionError:
        mode &= 0o1777
    os.chmod(destination, mode)


def _mkdir(command: Command, cleanup: IO[str], warn: Callable[[str], None]) -> None:
    try:  # FileUtils.mkdir: Ruby's words for a file in the way ("File exists @ dir_s_mkdir - PATH")
        os.mkdir(command.path)
    except OSError as exc:
        raise InstallError(f"{exc.strerror} @ dir_s_mkdir - {command.path}") from None
    cleanup.write(command.path + "\n")
    cleanup.flush()


def _chmod(command: Command, cleanup: IO[str], warn: Callable[[str], None]) -> None:
    os.chmod(command.path, int(command.mode, 8))


def _owner_ids(command: Command) -> Tuple[int, int]:
    """Ruby's Etc.getpwnam / Etc.getgrnam, with their messages."""
    import grp
    import pwd

    try:
        uid = pwd.getpwnam(command.owner).pw_uid if command.owner else -1
    except KeyError:
        raise InstallError(f"can't find user for {command.owner}") from None
    try:
        gid = grp.getgrnam(command.group).gr_gid if command.group else -1
    except KeyError:
        raise InstallError(f"can't find group for {command.group}") from None
    return uid, gid


def _chown(command: Command, cleanup: IO[str], warn: Callable[[str], None]) -> None:
    """File.chown, as the agent: a matched symlink's target changes owner."""
    os.chown(command.path, *_owner_ids(command))


def _safe_chown(command: Command, cleanup: IO[str], warn: Callable[[str], None]) -> None:
    """`--safe`: a matched symlink itself changes owner, never its target (which may be a host file)."""
    os.chown(command.path, *_owner_ids(command), follow_symlinks=False)


def _not_through_symlink(run: Executor) -> Executor:
    """`--safe`: chmod and setfacl follow a symlink to its target; a symlink is left as it is."""

    def guarded(command: Command, cleanup: IO[str], warn: Callable[[str], None]) -> None:
        if os.path.islink(command.path):
            warn(
                f"--safe: {command.type} not applied to the symlink {command.path} (it would change its target)"
            )
            return
        run(command, cleanup, warn)

    return guarded


def full_acl(acls: Sequence[str], mode: int) -> List[str]:
    """The agent completes the ACL with base entries from the file's mode before `setfacl --set`."""
    perm = f"{mode & 0o777:03o}"
    entries = list(acls)
    kinds = [str(a).split(":") for a in entries]
    named = any(len(k) == 3 and k[1] for k in kinds)
    has_mask = any(len(k) == 3 and k[0] in ("m", "mask") for k in kinds)
    entries += [f"u::{perm[0]}", f"g::{perm[1]}", f"o::{perm[2]}"]
    if named and not has_mask:
        entries.append(f"m::{perm[1]}")
    defaults = [k for k in kinds if len(k) == 4]
    if defaults:
        if not any(k[1] in ("u", "user") and not k[2] for k in defaults):
            entries.append(f"d:u::{perm[0]}")
        if not any(k[1] in ("g", "group") and not k[2] for k in defaults):
            entries.append(f"d:g::{perm[1]}")
        if not any(k[1] in ("o", "other") for k in defaults):
            entries.append(f"d:o::{perm[2]}")
        if any(k[2] for k in defaults) and not any(k[1] in ("m", "mask") for k in defaults):
            entries.append(f"d:m::{perm[1]}")
    return entries


def _setfacl(command: Command, cleanup: IO[str], warn: Callable[[str], None]) -> None:
    if not shutil.which("setfacl"):
        warn(f"setfacl is not installed: ACLs {','.join(command.acls)} were not applied to {command.path}")
        return
    acl = ",".join(full_acl(command.acls, os.stat(command.path).st_mode))
    result = subprocess.run(
        ["setfacl", "--set", acl, command.path], capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise InstallError(
            "The deployment failed because of a problem with the acls permission settings in the application "
            f"specification file for this object: {command.path}. Failed command: setfacl --set {acl} {command.path}. "
            f"Exit code: {result.returncode}"
        )


def _semanage(command: Command, cleanup: IO[str], warn: Callable[[str], None]) -> None:
    selinux.change_context(command.path, command.context, cleanup, InstallError)


_EXECUTORS: Dict[str, Executor] = {
    "copy": _copy,
    "mkdir": _mkdir,
    "chmod": _chmod,
    "chown": _chown,
    "setfacl": _setfacl,
    "semanage": _semanage,
}
_SAFE_EXECUTORS: Dict[str, Executor] = dict(
    _EXECUTORS,
    chmod=_not_through_symlink(_chmod),
    chown=_safe_chown,
    setfacl=_not_through_symlink(_setfacl),
)


def install(
    archive: str,
    instructions_dir: str,
    group_id: str,
    appspec: Any,
    file_exists_behavior: str,
    warn: Callable[[str], None] = lambda message: None,
    install_root: str = "",
    safe: bool = False,
) -> Instructions:
    """Cleanup, generate, write install.json, execute while writing the new cleanup file. Like the agent,
    the previous install's files are removed before conflicts (DISALLOW, duplicates) and a context
    without a range are found; `safe` finds them first, so a refused install leaves the running
    revision's files in place."""
    os.makedirs(instructions_dir, exist_ok=True)
    cleanup_file = os.path.join(instructions_dir, f"{group_id}-cleanup")
    pending = [line.strip() for line in cleanup_entries(cleanup_file) if not line.startswith("semanage\0")]
    try:  # what the host will hold once the cleanup has run
        if pending:  # the instructions are written before any runs: a context without a range fails there
            generate(archive, appspec, file_exists_behavior, install_root, pending, safe).to_json()
    except InstallError:
        if safe:
            raise
        warn(
            "the agent removes the previous install's files before it finds this problem, and so "
            "does this deployment; --safe finds it first and keeps them"
        )
    replay_cleanup(cleanup_file)
    instructions = generate(archive, appspec, file_exists_behavior, install_root, safe=safe)
    for note in instructions.notes:
        warn(note)
    with open(os.path.join(instructions_dir, f"{group_id}-install.json"), "w", encoding="utf-8") as handle:
        handle.write(instructions.to_json())
    with open(cleanup_file, "w", encoding="utf-8", errors="surrogateescape") as cleanup:
        execute(instructions, cleanup, warn, safe)
    return instructions
