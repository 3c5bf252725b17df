"""The EC2/On-Premises `permissions` entries as the agent's Linux parser reads them, shared by the
`ec2_permission*` rule modules."""

from __future__ import annotations

from typing import FrozenSet, List, Optional

from appspec_tools.nodes import Mapping, Node, Sequence
from appspec_tools.reading import is_null, items, string
from appspec_tools.rules import Context
from appspec_tools.rules.ec2_files import target_os

PERMISSION_KEYS = ("object", "pattern", "except", "owner", "group", "mode", "acls", "context", "type")
# fmt: off
PERMISSION_KEY_ALIASES = {
    "user": "owner", "uid": "owner", "gid": "group", "chmod": "mode", "permission": "mode", "perms": "mode",
    "permissions": "mode", "acl": "acls", "exclude": "except", "excludes": "except", "exceptions": "except",
    "types": "type", "file_type": "type", "selinux": "context", "path": "object", "target": "object",
    "file": "object", "dir": "object", "directory": "object",
}
# fmt: on
CONTEXT_KEYS = ("name", "type", "range")
TYPES = ("file", "directory")
BOTH: FrozenSet[str] = frozenset(TYPES)


def section(ctx: Context) -> Optional[Node]:
    return ctx.doc.get("permissions")


def entries(ctx: Context) -> List[Mapping]:
    """The permission entries the Linux parser reads (on Windows, PERM001 says it all)."""
    if target_os(ctx) == "windows":
        return []
    return [e for e in items(section(ctx)) if isinstance(e, Mapping)]


def entry_types(entry: Mapping) -> Optional[FrozenSet[str]]:
    """The entry's `type` as a set (absent = both), or None when it is not a valid list."""
    node = entry.get("type")
    if is_null(node):
        return BOTH
    values = [string(item) for item in items(node)]
    if not isinstance(node, Sequence) or any(v not in TYPES for v in values):
        return None
    return frozenset(v for v in values if v)


def context_of(entry: Mapping) -> Optional[Node]:
    """The entry's SELinux `context`, None when absent or null."""
    node = entry.get("context")
    return None if is_null(node) else node
