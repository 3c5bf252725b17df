"""The agent's Install event: cleanup of the previous install, file copies, permissions (AGENT-FACTS §5).

Instructions are generated first (copy/mkdir, then permission commands), written to
`<group>-install.json`, then executed while `<group>-cleanup` is written line by line, so a failed
install leaves a partial cleanup list the next deployment replays.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
from dataclasses import dataclass, field, replace
from typing import IO, Any, Callable, Dict, Iterable, List, Optional, Sequence, Set, Tuple

from agent_shim import selinux


class InstallError(Exception):
    """An Install failure; the message is the agent's."""


Executor = Callable[["Command", IO[str], Callable[[str], None]], None]


@dataclass
class Command:
    type: str
    path: str
    source: str = ""
    mode: str = ""
    owner: Optional[str] = None
    group: Optional[str] = None
    acls: Sequence[str] = ()
    context: Any = None

    def to_dict(self) -> Dict[str, Any]:
        if self.type == "copy":
            return {"type": "copy", "source": self.source, "destination": self.path}
        if self.type == "mkdir":
            return {"type": "mkdir", "directory": self.path}
        if self.type == "chmod":
            return {"type": "chmod", "mode": self.mode, "file": self.path}
        if self.type == "chown":
            return {"type": "chown", "owner": self.owner, "group": self.group, "file": self.path}
        if self.type == "setfacl":
            return {"type": "setfacl", "acl": list(self.acls), "file": self.path}
        return selinux.instruction(self.path, self.context)


@dataclass
class Instructions:
    commands: List[Command] = field(default_factory=list)
    copy_targets: Dict[str, str] = field(default_factory=dict)
    mkdir_targets: List[str] = field(default_factory=list)
    permission_targets: Set[str] = field(default_factory=set)
    absent: Set[str] = field(default_factory=set)  # paths the pending cleanup will remove

    def exists(self, path: str) -> bool:
        return os.path.lexists(path) and os.path.abspath(path) not in self.absent

    def copy(self, source: str, destination: str) -> None:
        destination = os.path.abspath(destination)
        if destination in self.copy_targets:
            raise InstallError(
                f"The deployment failed because the application specification file specifies two source files named "
                f"{source} and {self.copy_targets[destination]} for the same destination ({destination}). Remove one of "
                "the source file paths from the AppSpec file, and then try again."
            )
        if destination in self.mkdir_targets:
            raise InstallError(
                f"The deployment failed because the application specification file calls for installing the file "
                f"{source}, but a file with that name already exists at the location ({destination}). Update your "
                "AppSpec file or directory structure, and then try again."
            )
        self.commands.append(Command("copy", destination, source=source))
        self.copy_targets[destination] = source

    def mkdir(self, destination: str) -> None:
        destination = os.path.abspath(destination)
        if destination in self.copy_targets:
            raise InstallError(
                f"The deployment failed because the application specification file includes an mkdir command more "
                f"than once for the same destination path ({destination}) from ({self.copy_targets[destination]}). "
                "Update the files section of the AppSpec file, and then try again."
            )
        if destination not in self.mkdir_targets:
            self.commands.append(Command("mkdir", destination))
            self.mkdir_targets.append(destination)

    def set_permissions(self, path: str, permission: Any) -> None:
        path = os.path.abspath(path)
        if path in self.permission_targets:
            raise InstallError(
                f"The deployment failed because the permissions setting for ({path}) is specified more than once in "
                "the application specification file. Update the files section of the AppSpec file, and then try again."
            )
        self.permission_targets.add(path)
        if permission.mode is not None:
            self.commands.append(Command("chmod", path, mode=str(permission.mode)))
        if permission.acls:
            self.commands.append(Command("setfacl", path, acls=tuple(permission.acls)))
        if permission.context is not None:
            self.commands.append(Command("semanage", path, context=permission.context))
        if permission.owner is not None or permission.group is not None:
            self.commands.append(Command("chown", path, owner=permission.owner, group=permission.group))

    def to_json(self) -> str:
        try:
            return json.dumps({"instructions": [c.to_dict() for c in self.commands]})
        except selinux.NoRange as exc:
            raise InstallError(str(exc)) from None


def simple_glob(name: str, pattern: str) -> bool:
    """The agent's glob: only `*` is special, and it never matches across `/`
    (linux_permission_info.rb matches_simple_glob)."""
    if "/" in name:
        return False
    regex = "".join(".*" if ch == "*" else re.escape(ch) for ch in pattern)
    return re.fullmatch(regex, name, flags=re.DOTALL) is not None


def _relative_to_object(name: str, obj: str) -> Optional[str]:
    base = os.path.abspath(obj)
    if not base.endswith("/"):
        base += "/"
    name = name.rstrip("/")
    return name[len(base) :] if name.startswith(base) else None


def matches_pattern(permission: Any, name: str) -> bool:
    rel = _relative_to_object(name, permission.object)
    if rel is None:
        return False
    return permission.pattern == "**" or simple_glob(rel, permission.pattern)


def matches_except(permission: Any, name: str) -> bool:
    rel = _relative_to_object(name, permission.object)
    return rel is not None and any(simple_glob(rel, item) for item in permission.except_)


def _has_default_acl(permission: Any) -> bool:
    return any(
        str(ace).split(":")[0] in ("d", "default") and len(str(ace).split(":")) == 4
        for ace in permission.acls
    )


def rebase(path: str, install_root: str) -> str:
    """A destination under `install_root` (ours, like DESTDIR: for rehearsals without root)."""
    return os.path.join(install_root, path.lstrip("/")) if install_root else path


def generate(
    archive: str, appspec: Any, file_exists_behavior: str, install_root: str = "", absent: Iterable[str] = ()
) -> Instructions:
    """Install instructions for an AppSpec, checked against the host's current files (minus `absent`)."""
    instructions = Instructions(absent={os.path.abspath(p) for p in absent})
    for original in appspec.files:
        mapping = replace(original, destination=rebase(original.destination, install_root))
        source = (
            os.path.join(archive, mapping.source.lstrip("/\\"))
            if mapping.source not in ("/", "\\")
            else archive
        )
        if os.path.isdir(source) and not os.path.islink(source):
            _fill_in_missing_ancestors(instructions, mapping.destination)
            _directory_copy(instructions, source, mapping.destination, file_exists_behavior)
        else:
            target = os.path.join(mapping.destination, os.path.basename(source.rstrip("/")))
            _fill_in_missing_ancestors(instructions, target)
            _normal_copy(instructions, source, target, file_exists_behavior)
    for original_permission in appspec.permissions:
        permission = replace(original_permission, object=rebase(original_permission.object, install_root))
        obj = os.path.abspath(permission.object)
        if obj in instructions.copy_targets:
            if "file" in permission.type:
                _validate_file_permission(permission, obj)
                instructions.set_permissions(obj, permission)
        elif obj in instructions.mkdir_targets or os.path.isdir(obj):
            for match in _find_matches(instructions, permission):
                instructions.set_permissions(match, permission)
    return instructions


def _validate_file_permission(permission: Any, obj: str) -> None:
    if permission.pattern != "**":
        raise InstallError(
            f"The deployment failed because the application specification file includes an object ({permission.object}) "
            f"with an invalid pattern ({permission.pattern}), such as a pattern for a file applied to a directory. "
            "Correct the permissions section of the AppSpec file, and then try again."
        )
    if permission.except_:
        raise InstallError(
            f"The deployment failed because the except parameter for a pattern in the permissions section "
            f"({list(permission.except_)}) for the object named {permission.object} contains an invalid format. "
            "Update the AppSpec file, and then try again."
        )
    _validate_file_acl(permission)


def _validate_file_acl(permission: Any) -> None:
    if _has_default_acl(permission):
        raise InstallError(
            "The deployment failed because the -d parameter has been specified to apply an acl setting to a file. "
            "This parameter is supported for directories only. Update the AppSpec file, and then try again."
        )


def _find_matches(instructions: Instructions, permission: Any) -> List[str]:
    matches = []
    if "file" in permission.type:
        for target in instructions.copy_targets:
            if matches_pattern(permission, target) and not matches_except(permission, target):
                _validate_file_acl(permission)
                matches.append(target)
    if "directory" in permission.type:
        for target in instructions.mkdir_targets:
            if matches_pattern(permission, target) and not matches_except(permission, target):
                matches.append(target)
    return matches


def _directory_copy(instructions: Instructions, source: str, destination: str, behavior: str) -> None:
    if not os.path.isdir(destination):
        instructions.mkdir(destination)
    for entry in sorted(os.listdir(source)):
        entry_source = os.path.join(source, entry)
        entry_destination = os.path.join(destination, entry)
        if os.path.isdir(entry_source) and not os.path.islink(entry_source):
            _directory_copy(instructions, entry_source, entry_destination, behavior)
        else:
            _normal_copy(instructions, entry_source, entry_destination, behavior)


def _normal_copy(instructions: Instructions, source: str, destination: str, behavior: str) -> None:
    if instructions.exists(destination):
        if behavior == "DISALLOW":
            raise InstallError(
                f"The deployment failed because a specified file already exists at this location: {destination}"
            )
        if behavior == "RETAIN":
            return
        if behavior != "OVERWRITE":
            raise InstallError(
                f"The deployment failed because an invalid option was specified for fileExistsBehavior: {behavior}. "
                "Valid options include OVERWRITE, RETAIN, and DISALLOW."
            )
    instructions.copy(source, destination)


def _fill_in_missing_ancestors(instructions: Instructions, destination: str) -> None:
    missing: List[str] = []
    parent = os.path.dirname(destination)
    while not os.path.exists(parent) and parent not in (".", "/", ""):
        missing.insert(0, parent)
        parent = os.path.dirname(parent)
    for directory in missing:
        instructions.mkdir(directory)


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
    if os.path.lexists(command.path):  # OVERWRITE: copy over the existing file
        os.remove(command.path)
    if os.path.islink(command.source):
        os.symlink(os.readlink(command.source), command.path)
        return
    # FileUtils.copy(preserve: true): contents, times, owner where allowed (else no setuid/setgid), mode
    if not os.path.lexists(command.source):  # a `files` source the revision does not have
        raise InstallError(f"No such file or directory @ rb_sysopen - {command.source}")
    shutil.copyfile(command.source, command.path)
    info = os.stat(command.source)
    os.utime(command.path, ns=(info.st_atime_ns, info.st_mtime_ns))
    mode = stat.S_IMODE(info.st_mode)
    try:
        os.chown(command.path, info.st_uid, info.st_gid)
    except PermissionError:
        mode &= 0o1777
    os.chmod(command.path, mode)


def _mkdir(command: Command, cleanup: IO[str], warn: Callable[[str], None]) -> None:
    if os.path.exists(command.path):
        raise InstallError(
            f"The deployment failed because a specified file already exists at this location: {command.path}."
        )
    os.mkdir(command.path)
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
            generate(archive, appspec, file_exists_behavior, install_root, absent=pending).to_json()
    except InstallError:
        if safe:
            raise
        warn(
            "the agent removes the previous install's files before it finds this problem, and so "
            "does this deployment; --safe finds it first and keeps them"
        )
    replay_cleanup(cleanup_file)
    instructions = generate(archive, appspec, file_exists_behavior, install_root)
    with open(os.path.join(instructions_dir, f"{group_id}-install.json"), "w", encoding="utf-8") as handle:
        handle.write(instructions.to_json())
    with open(cleanup_file, "w", encoding="utf-8", errors="surrogateescape") as cleanup:
        execute(instructions, cleanup, warn, safe)
    return instructions
