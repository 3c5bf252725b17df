"""The EC2/On-Premises AppSpec as the agent reads it: files, permissions, hooks."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar, Optional, Tuple

from appspec_tools.model.hooks import HookScript, LifecycleHooks
from appspec_tools.model.values import freeze_lists

DEFAULT_PERMISSION_TYPES: Tuple[str, ...] = ("file", "directory")


@dataclass(frozen=True)
class FileMapping:
    """A `files` entry: copy `source` (relative to the revision root; `/` is all of it) into the
    `destination` directory on the instance."""

    source: str
    destination: str


@dataclass(frozen=True)
class SeLinuxContext:
    """A permission's SELinux `context`. The agent reads the user from `name` (not the documented
    `user`) and requires `type`."""

    name: Optional[str] = None
    type: Optional[str] = None
    range: Optional[str] = None


@dataclass(frozen=True)
class Permission:
    """A `permissions` entry (Linux only), applied to the paths this deployment installed.

    ``mode`` is the value as the agent sees it (Ruby's ``to_s`` of the YAML 1.1 value): an unquoted
    ``0644`` is the integer 420, so the mode is ``"420"``.
    """

    object: str
    pattern: str = "**"
    except_: Tuple[str, ...] = ()
    owner: Optional[str] = None
    group: Optional[str] = None
    mode: Optional[str] = None
    acls: Tuple[str, ...] = ()
    context: Optional[SeLinuxContext] = None
    type: Tuple[str, ...] = DEFAULT_PERMISSION_TYPES

    def __post_init__(self) -> None:
        freeze_lists(self, "except_", "acls", "type")


@dataclass(frozen=True)
class AppSpec:
    """An EC2/On-Premises AppSpec. ``hooks`` maps a lifecycle event name to its scripts, in the order
    written; a mapping or a list of (event, scripts) pairs given to the constructor is converted."""

    platform: ClassVar[str] = "ec2"

    version: str = "0.0"
    os: str = "linux"
    files: Tuple[FileMapping, ...] = ()
    permissions: Tuple[Permission, ...] = ()
    hooks: LifecycleHooks = field(default_factory=LifecycleHooks)
    file_exists_behavior: Optional[str] = None

    def __post_init__(self) -> None:
        freeze_lists(self, "files", "permissions")
        if not isinstance(self.hooks, LifecycleHooks):
            object.__setattr__(self, "hooks", LifecycleHooks(self.hooks))

    def scripts(self, event: str) -> Tuple[HookScript, ...]:
        """The scripts of one lifecycle event, none when the event has no hook."""
        return self.hooks.get(event, ())
