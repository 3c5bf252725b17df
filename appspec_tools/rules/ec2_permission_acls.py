"""EC2/On-Premises `permissions` ACLs: `acls` entries as `ace_info.rb` parses them, and the entries the agent
refuses to apply."""

from __future__ import annotations

from typing import Iterator, NamedTuple, Optional, Tuple

from appspec_tools.nodes import Mapping, Node
from appspec_tools.reading import items, string
from appspec_tools.rules import ERROR, Context, Finding, rule
from appspec_tools.rules.ec2_files import described
from appspec_tools.rules.permission_entries import entries, entry_types

# fmt: off
_ACL_TYPES = {"u": "user", "user": "user", "g": "group", "group": "group", "m": "mask", "mask": "mask",
              "o": "other", "other": "other"}
# fmt: on


class Ace(NamedTuple):
    default: bool
    type: str
    name: str


def ace_structure(ace: str) -> Optional[Ace]:
    """An ACL entry's default flag, type and name as `ace_info.rb` reads them, or None where it says
    "Invalid acl entry" (split on `:` from the right into 2-4 parts; `mask` and `other` take no name)."""
    parts = ace.split(":")[::-1]
    if not 2 <= len(parts) <= 4:
        return None
    default, kind, name = len(parts) == 4, "", ""
    if default and parts[3] not in ("d", "default"):
        return None
    if len(parts) >= 3:
        if parts[2] in ("d", "default"):
            if default:
                return None
            default = True
        elif parts[2] in _ACL_TYPES:
            kind = _ACL_TYPES[parts[2]]
        else:
            return None
    if parts[1] in ("m", "mask", "o", "other"):
        if kind:
            name = _ACL_TYPES[parts[1]]
        else:
            kind = _ACL_TYPES[parts[1]]
    else:
        kind, name = kind or "user", parts[1]
    if kind in ("mask", "other") and name:
        return None
    return Ace(default, kind, name)


def ace_bad_character(ace: str) -> Optional[str]:
    """The first character of the permissions (after the last `:`) that `ace_info.rb` refuses: they are
    one octal digit, or letters from `rwx-`."""
    perms = ace.rsplit(":", 1)[-1]
    if len(perms) == 1 and perms in "01234567":
        return None
    return next((c for c in perms if c not in "rwx-"), None)


def parse_ace(ace: str) -> Tuple[Optional[Ace], str]:
    """An ACL entry as `ace_info.rb` reads it: (entry, "") or (None, the agent's complaint)."""
    parsed = ace_structure(ace)
    if parsed is None:
        return None, f"invalid acl entry ({ace})"
    bad = ace_bad_character(ace)
    if bad is not None:
        return None, f"acl entry {ace} contains an invalid character ({bad})"
    return parsed, ""


def _aces(entry: Mapping) -> Iterator[Tuple[Node, Optional[str], Optional[Ace], str]]:
    for item in items(entry.get("acls")):
        value = string(item)
        ace, problem = parse_ace(value) if value is not None else (None, "")
        yield item, value, ace, problem


@rule(
    "PERM012",
    ERROR,
    "Malformed ACL entry",
    hint="write `[d[efault]:][u[ser]|g[roup]|m[ask]|o[ther]]:[name]:perms`, perms one octal digit or rwx-",
    platforms={"ec2"},
    bad="version: 0.0\nos: linux\npermissions:\n  - object: /opt/app\n    acls:\n      - user:app:read",
    good="version: 0.0\nos: linux\npermissions:\n  - object: /opt/app\n    acls:\n      - user:app:r",
)
def acl_entry_invalid(ctx: Context) -> Iterator[Finding]:
    """Each entry is split on `:` from the right into 2-4 parts: permissions (one octal digit, or
    letters from `rwx-`), name, type (`u|user|g|group|m|mask|o|other`) and an optional `d`/`default`
    prefix; `mask` and `other` take no name. Anything else fails with "Invalid acl entry"."""
    for entry in entries(ctx):
        for item, value, _, problem in _aces(entry):
            if value is None:
                yield Finding(item, f"acl entry is {described(item)}, not a string")
            elif problem:
                yield Finding(item, problem)


@rule(
    "PERM013",
    ERROR,
    "ACL base entry (`u::`, `g::`, `o::`) instead of `mode`",
    hint="set the owner/group/other permissions with `mode:` and keep named entries in `acls`",
    platforms={"ec2"},
    bad="version: 0.0\nos: linux\npermissions:\n  - object: /opt/app\n    acls:\n      - g::rx",
    good="version: 0.0\nos: linux\npermissions:\n  - object: /opt/app\n    mode: 750",
)
def acl_base_entry(ctx: Context) -> Iterator[Finding]:
    """Entries without a name for the owner, group or others are rejected: "Use mode to set the base
    acl entry". Default base entries (`d:u::rwx`) and the mask (`m::rx`) are fine."""
    for entry in entries(ctx):
        for item, value, ace, _ in _aces(entry):
            if ace and not ace.default and ace.type != "mask" and not ace.name:
                yield Finding(item, f"use mode to set the base acl entry ({value})")


@rule(
    "PERM014",
    ERROR,
    "Default ACL entries applied to files",
    hint="add `type: [directory]` to the entry (and put file ACLs in a separate entry with `type: [file]`); "
    "in an entry already typed `[file]`, remove the `d:` entries or use `type: [directory]`",
    platforms={"ec2"},
    bad="version: 0.0\nos: linux\npermissions:\n  - object: /opt/app\n    acls:\n      - d:u:app:rwx",
    good="version: 0.0\nos: linux\npermissions:\n  - object: /opt/app\n    acls:\n      - d:u:app:rwx\n"
    "    type:\n      - directory",
)
def default_acl_on_files(ctx: Context) -> Iterator[Finding]:
    """A default (`d:`) entry can only be set on a directory; the agent fails the deployment as soon as
    it applies one to a file ("the -d parameter has been specified to apply an acl setting to a
    file"). Without `type`, an entry applies to files and directories."""
    for entry in entries(ctx):
        types = entry_types(entry)
        if types is None or "file" not in types:
            continue
        typed = types == frozenset({"file"})
        fix = "remove the d: entries or use type: [directory]" if typed else "add type: [directory]"
        for item, value, ace, _ in _aces(entry):
            if ace and ace.default:
                applies = "applies to files (type: [file])" if typed else "applies to files too"
                yield Finding(item, f"default acl entry {value} {applies}: {fix}", fix if typed else "")
                break
