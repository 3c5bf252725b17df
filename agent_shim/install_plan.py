"""What the Install event will do, generated as `installer.rb` generates it before running anything:
copy and mkdir instructions for `files` (checked against the host as it will be after the previous
install's cleanup), then the permission commands of each installed path. agent_shim/install.py runs them.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field, replace
from typing import Any, Dict, Iterable, List, Optional, Sequence, Set

from agent_shim import selinux


class InstallError(Exception):
    """An Install failure; the message is the agent's."""


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
    inside: str = ""  # with --safe, the revision's real path: no folder symlink may lead out of it
    looping: Set[str] = field(default_factory=set)  # folders a followed symlink leads back to
    notes: List[str] = field(default_factory=list)  # warnings for the deployment

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
    archive: str,
    appspec: Any,
    file_exists_behavior: str,
    install_root: str = "",
    absent: Iterable[str] = (),
    safe: bool = False,
) -> Instructions:
    """Install instructions for an AppSpec, checked against the host's current files (minus `absent`).
    A symlink to a folder is copied as that folder (Ruby's `File.directory?` follows it); `safe` refuses
    one that leads out of the revision, whose host files the agent would copy into the install."""
    instructions = Instructions(absent={os.path.abspath(p) for p in absent})
    instructions.inside = os.path.realpath(archive) if safe else ""
    for original in appspec.files:
        mapping = replace(original, destination=rebase(original.destination, install_root))
        source = (
            os.path.join(archive, mapping.source.lstrip("/\\"))
            if mapping.source not in ("/", "\\")
            else archive
        )
        if os.path.isdir(source):
            _refuse_folder_link_out(instructions, source)
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
        if os.path.isdir(entry_source):  # a symlink to a folder too, as in the agent
            _refuse_folder_link_out(instructions, entry_source)
            _directory_copy(instructions, entry_source, entry_destination, behavior)
        else:
            _normal_copy(instructions, entry_source, entry_destination, behavior)


def _refuse_folder_link_out(instructions: Instructions, folder: str) -> None:
    """A symlink to a folder is followed, as the agent follows it. With --safe, one that leads out of
    the revision or to a folder holding it is refused; without, a loop is followed as the agent does
    (the folder copied into itself until the path is too long for the kernel, 40 levels), with a warning."""
    if not os.path.islink(folder):
        return
    target = os.path.realpath(folder)
    holder = os.path.realpath(os.path.dirname(folder))
    inside = instructions.inside
    if holder == target or holder.startswith(target.rstrip("/") + "/"):
        message = (
            f"the revision's symlink {folder} leads to {target}, a folder that holds it: the agent copies it into "
            "itself until the path is too long"
        )
        if inside:
            raise InstallError(
                f"{message}; --safe refuses it (make it a link to a sibling folder, or remove it)"
            )
        if target not in instructions.looping:
            instructions.looping.add(target)
            instructions.notes.append(
                f"{message} (40 levels), and so does this deployment; --safe refuses it"
            )
    elif inside and target != inside and not target.startswith(inside.rstrip("/") + "/"):
        raise InstallError(
            f"the revision's symlink {folder} leads to the folder {target}, outside the revision: the agent would "
            "copy that folder's files into the install; --safe refuses it (make it a folder in the revision)"
        )


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
