"""EC2/On-Premises `permissions`: the agent's parser (`application_specification.rb`, `mode_info.rb`,
`ace_info.rb`, `context_info.rb`, `range_info.rb`) and what Install does with the entries."""

from __future__ import annotations

import math
import re
from typing import FrozenSet, Iterator, List, NamedTuple, Optional, Tuple

from appspec_tools.nodes import Mapping, Node, Scalar, Sequence, describe
from appspec_tools.rules import ERROR, WARNING, Context, Finding, did_you_mean, list_of, rule
from appspec_tools.rules.files import described, shown, target_os, unknown_entry_keys

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
_OCTAL = r"^0[0-7]+$"  # compiled by `re` on first use, not at import


def _section(ctx: Context) -> Optional[Node]:
    return ctx.doc.get("permissions")


def _entries(ctx: Context) -> List[Mapping]:
    """The permission entries the Linux parser reads (on Windows, PERM001 says it all)."""
    if target_os(ctx) == "windows":
        return []
    return [e for e in list_of(_section(ctx)) if isinstance(e, Mapping)]


def _given(node: Optional[Node]) -> bool:
    return node is not None and not (isinstance(node, Scalar) and node.tag == "null")


def _text(node: Optional[Node]) -> Optional[str]:
    return node.value if isinstance(node, Scalar) and node.tag == "str" else None


def ruby_to_s(node: Node) -> Optional[str]:
    """What Ruby's `value.to_s` gives for a scalar the agent loaded (None for lists and mappings)."""
    if not isinstance(node, Scalar):
        return None
    value = node.value
    if node.tag == "bool":
        return "true" if value else "false"
    if node.tag == "float" and isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    return "" if value is None else str(value)


def _types(entry: Mapping) -> Optional[FrozenSet[str]]:
    """The entry's `type` as a set (absent = both), or None when it is not a valid list."""
    node = entry.get("type")
    if not _given(node):
        return BOTH
    values = [_text(item) for item in list_of(node)]
    if not isinstance(node, Sequence) or any(v not in TYPES for v in values):
        return None
    return frozenset(v for v in values if v)


@rule(
    "PERM001",
    ERROR,
    "`permissions` with `os: windows`",
    hint="remove the permissions section; set Windows ACLs from a hook script (icacls) instead",
    platforms={"ec2"},
    bad="version: 0.0\nos: windows\npermissions:\n  - object: C:\\app\n    mode: 644",
    good="version: 0.0\nos: windows\nfiles:\n  - source: \\\n    destination: C:\\app",
)
def permissions_on_windows(ctx: Context) -> Iterator[Finding]:
    """The agent accepts permission entries only with `os: linux`: "the application specification file
    specifies file permissions, but the deployment is targeting one or more Windows Server
    instances". An empty `permissions:` is fine."""
    node = _section(ctx)
    if target_os(ctx) == "windows" and _given(node) and not (isinstance(node, Sequence) and not node.items):
        yield Finding(
            ctx.doc.key_node("permissions"), "permissions are supported only with os: linux, not windows"
        )


@rule(
    "PERM002",
    ERROR,
    "`permissions` is not a list",
    hint="write `permissions:` as a list of `- object: …` entries",
    platforms={"ec2"},
    bad="version: 0.0\nos: linux\npermissions:\n  object: /opt/app\n  mode: 755",
    good="version: 0.0\nos: linux\npermissions:\n  - object: /opt/app\n    mode: 755",
)
def section_not_a_list(ctx: Context) -> Iterator[Finding]:
    """The agent loops over `permissions` expecting a list of mappings; a mapping or a string crashes
    it with a Ruby NoMethodError. Left empty (null) it means no permissions."""
    node = _section(ctx)
    if _given(node) and not isinstance(node, Sequence):
        yield Finding(node, f"`permissions` is {describe(node)}, not a list of entries")


@rule(
    "PERM003",
    ERROR,
    "A `permissions` entry is not a mapping",
    hint="each entry is a mapping that starts with `object:`",
    platforms={"ec2"},
    bad="version: 0.0\nos: linux\npermissions:\n  - /opt/app",
    good="version: 0.0\nos: linux\npermissions:\n  - object: /opt/app",
)
def entry_not_a_mapping(ctx: Context) -> Iterator[Finding]:
    """The agent calls `has_key?('object')` on each entry; a string or a list crashes it."""
    if target_os(ctx) == "windows":
        return
    for entry in list_of(_section(ctx)):
        if not isinstance(entry, Mapping):
            yield Finding(entry, f"permissions entry is {described(entry)}, not a mapping")


@rule(
    "PERM004",
    ERROR,
    "A permission has no `object`",
    hint="add `object:` — the installed file or directory the entry applies to",
    platforms={"ec2"},
    bad="version: 0.0\nos: linux\npermissions:\n  - owner: app",
    good="version: 0.0\nos: linux\npermissions:\n  - object: /opt/app\n    owner: app",
)
def object_missing(ctx: Context) -> Iterator[Finding]:
    """ "A permission listed in the application specification file has no object value": `object` is
    required and must not be null or blank."""
    for entry in _entries(ctx):
        node = entry.get("object")
        if not _given(node) or (isinstance(node, Scalar) and not (ruby_to_s(node) or "").strip()):
            yield Finding(entry if node is None else node, "permission has no object value")


@rule(
    "PERM005",
    WARNING,
    "`object` is not an absolute path",
    hint="use the absolute path the files were installed to, e.g. `/opt/app`",
    platforms={"ec2"},
    bad="version: 0.0\nos: linux\npermissions:\n  - object: opt/app\n    owner: app",
    good="version: 0.0\nos: linux\npermissions:\n  - object: /opt/app\n    owner: app",
)
def object_not_absolute(ctx: Context) -> Iterator[Finding]:
    """Permissions apply only to paths this deployment installed, compared as absolute paths; a
    relative `object` is resolved against the agent's working directory and matches nothing."""
    for entry in _entries(ctx):
        node = entry.get("object")
        if node is None or not _given(node):
            continue
        if not isinstance(node, Scalar):
            yield Finding(node, f"object is {describe(node)}, not a path")
            continue
        value = (ruby_to_s(node) or "").strip()
        if value and not value.startswith("/"):
            yield Finding(node, f"object '{value}' is not an absolute path: it matches no installed file")


@rule(
    "PERM006",
    WARNING,
    "Unknown key in a permission",
    hint="permission keys: object, pattern, except, owner, group, mode, acls, context, type",
    platforms={"ec2"},
    bad="version: 0.0\nos: linux\npermissions:\n  - object: /opt/app\n    user: app",
    good="version: 0.0\nos: linux\npermissions:\n  - object: /opt/app\n    owner: app",
)
def unknown_permission_keys(ctx: Context) -> Iterator[Finding]:
    """The agent reads only the keys it knows, so `user: app` (instead of `owner`) or `acl:` silently
    does nothing. Unknown keys inside `context` (such as `role`) are ignored too."""
    for entry in _entries(ctx):
        for key_node, message in unknown_entry_keys(
            entry, PERMISSION_KEYS, "a permission", PERMISSION_KEY_ALIASES
        ):
            yield Finding(key_node, message)
        context = entry.get("context")
        if isinstance(context, Mapping):
            for key_node, message in unknown_entry_keys(context, CONTEXT_KEYS, "context", {}):
                if not (isinstance(key_node, Scalar) and key_node.value == "user"):  # PERM016's
                    yield Finding(key_node, message)


@rule(
    "PERM007",
    ERROR,
    "`owner`, `group`, `pattern` or an `except` entry is not a string",
    hint='write user and group names, not ids, and quote values: `owner: "app"`, `pattern: "*.sh"`',
    platforms={"ec2"},
    bad="version: 0.0\nos: linux\npermissions:\n  - object: /opt/app\n    owner: 1000",
    good="version: 0.0\nos: linux\npermissions:\n  - object: /opt/app\n    owner: app",
)
def not_a_string(ctx: Context) -> Iterator[Finding]:
    """The agent looks owners and groups up by name (`Etc.getpwnam`), which fails on a number such as a
    uid, and matches `pattern`/`except` character by character, which fails on anything but a string."""
    for entry in _entries(ctx):
        for key in ("owner", "group", "pattern"):
            node = entry.get(key)
            if _given(node) and _text(node) is None:
                yield Finding(node, f"{key} is {described(node)}, not a name")
        for item in list_of(entry.get("except")):
            if _text(item) is None:
                yield Finding(item, f"except entry is {described(item)}, not a name pattern")


@rule(
    "PERM008",
    ERROR,
    "`type`, `except` or `acls` is not a list",
    hint='write a list: `type: [file]`, `except: ["*.log"]`, `acls: ["u:app:rw"]` or `- item` lines',
    platforms={"ec2"},
    bad="version: 0.0\nos: linux\npermissions:\n  - object: /opt/app\n    mode: 644\n    type: file",
    good="version: 0.0\nos: linux\npermissions:\n  - object: /opt/app\n    mode: 644\n    type:\n      - file",
)
def not_a_list(ctx: Context) -> Iterator[Finding]:
    """The agent iterates over `type`, `except` and `acls`; a plain string crashes it with a
    NoMethodError ("undefined method `each'") and the deployment fails — `type: file` is the classic
    (aws/aws-codedeploy-agent#369)."""
    for entry in _entries(ctx):
        for key in ("type", "except", "acls"):
            node = entry.get(key)
            if _given(node) and not isinstance(node, Sequence):
                assert node is not None
                fix = ""
                if isinstance(node, Scalar) and node.tag == "str":
                    import json  # only for this message, not at every start-up

                    item = node.text if re.fullmatch(r"[\w./:-]+", node.text) else json.dumps(node.text)
                    fix = f": write {key}: [{item}]"
                yield Finding(node, f"{key} is {described(node)}, not a list{fix}")


@rule(
    "PERM009",
    WARNING,
    "`pattern` or an `except` entry with a `/` never matches",
    hint="set `object` to the subdirectory and keep patterns to names, e.g. `*.sh`",
    platforms={"ec2"},
    bad='version: 0.0\nos: linux\npermissions:\n  - object: /opt/app\n    pattern: "bin/*.sh"\n    mode: 755',
    good='version: 0.0\nos: linux\npermissions:\n  - object: /opt/app/bin\n    pattern: "*.sh"\n    mode: 755',
)
def glob_with_slash(ctx: Context) -> Iterator[Finding]:
    """Only `pattern: "**"` matches at any depth; every other pattern, and every `except` entry, is
    matched against the names of the object's direct children (`linux_permission_info.rb`), which
    never contain `/` — so the entry silently matches (or excludes) nothing."""
    for entry in _entries(ctx):
        pattern = entry.get("pattern")
        for node in ([pattern] if pattern is not None else []) + list_of(entry.get("except")):
            value = _text(node)
            if value is not None and value != "**" and "/" in value:
                what = "pattern" if node is pattern else "except entry"
                yield Finding(
                    node, f"{what} '{value}' contains '/': it is matched against direct children only"
                )


def _mode_problem(node: Node) -> Optional[str]:
    text = ruby_to_s(node)
    if text is None:
        return f"mode is {describe(node)}, not 1-4 octal digits"
    padded = text.rjust(3, "0")
    yaml_note = ""
    if isinstance(node, Scalar) and node.tag != "str" and node.text != text:
        yaml_note = f"YAML 1.1 reads the unquoted {node.text} as {text}; "
    if len(padded) > 4:
        return f"{yaml_note}permissions mode ({padded}) is longer than four characters"
    bad = next((c for c in padded if c not in "01234567"), None)
    if bad is not None:
        return f"{yaml_note}permissions mode ({padded}) contains an invalid character ({bad})"
    return None


@rule(
    "PERM010",
    ERROR,
    "`mode` is not 1-4 octal digits",
    hint='write the mode quoted or without the leading zero: `mode: "0755"` or `mode: 755`',
    platforms={"ec2"},
    bad="version: 0.0\nos: linux\npermissions:\n  - object: /opt/app\n    mode: 0755",
    good='version: 0.0\nos: linux\npermissions:\n  - object: /opt/app\n    mode: "0755"',
)
def mode_invalid(ctx: Context) -> Iterator[Finding]:
    """`mode_info.rb` takes `mode.to_s`, left-pads it to three characters and accepts at most four
    octal digits; symbolic modes (`u+x`) are not supported. The usual cause is YAML 1.1: an unquoted
    `0755` is the octal number 493, and "493" contains a 9, so the deployment fails."""
    for entry in _entries(ctx):
        node = entry.get("mode")
        if _given(node):
            assert node is not None
            problem = _mode_problem(node)
            if problem:
                yield Finding(node, problem)


@rule(
    "PERM011",
    WARNING,
    "Unquoted leading-zero `mode` is applied as a different mode",
    hint='quote the mode or drop the leading zero: `mode: "0644"` or `mode: 644`',
    platforms={"ec2"},
    bad="version: 0.0\nos: linux\npermissions:\n  - object: /opt/app\n    mode: 0644",
    good='version: 0.0\nos: linux\npermissions:\n  - object: /opt/app\n    mode: "0644"',
)
def mode_changed_by_yaml(ctx: Context) -> Iterator[Finding]:
    """Under YAML 1.1 an unquoted number with a leading zero is octal: `0644` loads as the integer 420,
    the agent turns it back into the text "420" and applies mode 420 (`r---w----`) without a word.
    (`0000` stays 0 and is harmless; values that end up with an 8 or 9 are rejected, see PERM010.)"""
    for entry in _entries(ctx):
        node = entry.get("mode")
        if not (isinstance(node, Scalar) and node.tag == "int" and re.match(_OCTAL, node.text)):
            continue
        if _mode_problem(node) is None and int(node.text, 8) != int(str(node.value), 8):
            yield Finding(
                node,
                f"mode {node.text} is read by YAML 1.1 as the number {node.value} and applied as "
                f"mode {str(node.value).rjust(3, '0')}, not {node.text}",
            )


# fmt: off
_ACL_TYPES = {"u": "user", "user": "user", "g": "group", "group": "group", "m": "mask", "mask": "mask",
              "o": "other", "other": "other"}
# fmt: on


class Ace(NamedTuple):
    default: bool
    type: str
    name: str


def parse_ace(ace: str) -> Tuple[Optional[Ace], str]:
    """An ACL entry as `ace_info.rb` reads it: (entry, "") or (None, the agent's complaint)."""
    invalid = f"invalid acl entry ({ace})"
    parts = ace.split(":")[::-1]
    if not 2 <= len(parts) <= 4:
        return None, invalid
    default, kind, name = len(parts) == 4, "", ""
    if default and parts[3] not in ("d", "default"):
        return None, invalid
    if len(parts) >= 3:
        if parts[2] in ("d", "default"):
            if default:
                return None, invalid
            default = True
        elif parts[2] in _ACL_TYPES:
            kind = _ACL_TYPES[parts[2]]
        else:
            return None, invalid
    if parts[1] in ("m", "mask", "o", "other"):
        if kind:
            name = _ACL_TYPES[parts[1]]
        else:
            kind = _ACL_TYPES[parts[1]]
    else:
        kind, name = kind or "user", parts[1]
    if kind in ("mask", "other") and name:
        return None, invalid
    perms = parts[0]
    if not (len(perms) == 1 and perms in "01234567"):
        bad = next((c for c in perms if c not in "rwx-"), None)
        if bad is not None:
            return None, f"acl entry {ace} contains an invalid character ({bad})"
    return Ace(default, kind, name), ""


def _aces(entry: Mapping) -> Iterator[Tuple[Node, Optional[str], Optional[Ace], str]]:
    for item in list_of(entry.get("acls")):
        value = _text(item)
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
    for entry in _entries(ctx):
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
    for entry in _entries(ctx):
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
    for entry in _entries(ctx):
        types = _types(entry)
        if types is None or "file" not in types:
            continue
        typed = types == frozenset({"file"})
        fix = "remove the d: entries or use type: [directory]" if typed else "add type: [directory]"
        for item, value, ace, _ in _aces(entry):
            if ace and ace.default:
                applies = "applies to files (type: [file])" if typed else "applies to files too"
                yield Finding(item, f"default acl entry {value} {applies}: {fix}", fix if typed else "")
                break


_RANGE_SENSITIVITY = r"^s[0-9]+$"  # compiled by `re` on first use, not at import
_RANGE_CATEGORY = r"^c[0-9]+$"


def range_problem(text: str) -> Optional[str]:
    """`range_info.rb`: `s#[-s#][:c#[.c#](,c#[.c#])*]`, high ≥ low, categories 0-1023, no duplicates."""

    def parts(value: str, sep: str) -> List[str]:
        pieces = value.split(sep, 1)
        if not all(pieces):
            raise ValueError(f"invalid range part {value}")
        return pieces

    def sensitivity(value: str) -> int:
        if not re.match(_RANGE_SENSITIVITY, value):
            raise ValueError(f"invalid sensitivity {value}")
        return int(value[1:])

    def category(value: str) -> int:
        if not re.match(_RANGE_CATEGORY, value) or int(value[1:]) > 1023:
            raise ValueError(f"invalid category {value}")
        return int(value[1:])

    try:
        level, *cats = parts(text, ":")
        low, *high = parts(level, "-")
        bottom = sensitivity(low)
        if high and sensitivity(high[0]) < bottom:
            raise ValueError(f"SELinux range ({text}) has its high sensitivity below the low one")
        numbers: List[int] = []
        pieces = cats[0].split(",") if cats else []
        while pieces and pieces[-1] == "":
            pieces.pop()  # Ruby's split drops trailing empty fields
        for piece in pieces:
            if "." in piece:
                first, last = parts(piece, ".")
                if category(last) < category(first):
                    raise ValueError(f"invalid category range {first}.{last}")
                numbers += range(category(first), category(last) + 1)
            else:
                numbers.append(category(piece))
        if len(set(numbers)) != len(numbers):
            raise ValueError("duplicate categories")
    except ValueError as exc:
        return str(exc)
    return None


def _context(entry: Mapping) -> Optional[Node]:
    node = entry.get("context")
    return node if _given(node) else None


@rule(
    "PERM015",
    ERROR,
    "`context` is not a mapping with a `type`",
    hint="write `context:` as a mapping with at least `type:` (and optionally `name:` and `range:`)",
    platforms={"ec2"},
    bad="version: 0.0\nos: linux\npermissions:\n  - object: /var/www\n    context:\n      name: unconfined_u",
    good="version: 0.0\nos: linux\npermissions:\n  - object: /var/www\n    context:\n"
    "      type: httpd_sys_content_t",
)
def context_without_type(ctx: Context) -> Iterator[Finding]:
    """`context_info.rb` requires the SELinux `type` ("specifies an invalid context type"); a context
    that is a string or a list is rejected or crashes the agent."""
    for entry in _entries(ctx):
        node = _context(entry)
        if node is None:
            continue
        if not isinstance(node, Mapping):
            yield Finding(node, f"context is {described(node)}, not a mapping with a type")
        elif not _given(node.get("type")):
            yield Finding(node, "invalid context: it has no type")


@rule(
    "PERM016",
    WARNING,
    "`context.user` is ignored: the agent reads `name`",
    hint="rename `user:` to `name:` inside `context`",
    platforms={"ec2"},
    bad="version: 0.0\nos: linux\npermissions:\n  - object: /var/www\n    context:\n      user: system_u\n"
    "      type: httpd_sys_content_t",
    good="version: 0.0\nos: linux\npermissions:\n  - object: /var/www\n    context:\n      name: system_u\n"
    "      type: httpd_sys_content_t",
)
def context_user_ignored(ctx: Context) -> Iterator[Finding]:
    """The user guide documents `context.user`, but `context_info.rb` takes the SELinux user from
    `name`, so `user` is silently ignored and the file gets the default SELinux user."""
    for entry in _entries(ctx):
        node = _context(entry)
        if isinstance(node, Mapping) and "user" in node:
            tip = "" if "name" in node else "; write name: instead"
            yield Finding(
                node.key_node("user"),
                f"context user is ignored: the agent reads the SELinux user from name{tip}",
            )


@rule(
    "PERM017",
    ERROR,
    "Invalid SELinux `context.range`",
    hint="write the range as `s0`, `s0-s2` or `s0:c0.c5,c7` (categories c0-c1023, each once)",
    platforms={"ec2"},
    bad="version: 0.0\nos: linux\npermissions:\n  - object: /var/www\n    context:\n"
    "      type: httpd_sys_content_t\n      range: s1-s0",
    good="version: 0.0\nos: linux\npermissions:\n  - object: /var/www\n    context:\n"
    "      type: httpd_sys_content_t\n      range: s0-s1",
)
def context_range_invalid(ctx: Context) -> Iterator[Finding]:
    """`range_info.rb` accepts `s#[-s#][:c#[.c#](,c#[.c#])*]`: the high sensitivity not below the low
    one, categories 0-1023, ranges low to high, no category twice."""
    for entry in _entries(ctx):
        node = _context(entry)
        value = node.get("range") if isinstance(node, Mapping) else None
        if value is None or not _given(value):
            continue
        text = _text(value)
        problem = range_problem(text) if text is not None else f"range is {describe(value)}, not a string"
        if problem:
            yield Finding(value, problem)


@rule(
    "PERM018",
    ERROR,
    "`type` lists something other than `file` or `directory`",
    hint="use `file` and/or `directory`, in lowercase",
    platforms={"ec2"},
    bad="version: 0.0\nos: linux\npermissions:\n  - object: /opt/app\n    mode: 755\n    type: [dir]",
    good="version: 0.0\nos: linux\npermissions:\n  - object: /opt/app\n    mode: 755\n    type: [directory]",
)
def type_value_invalid(ctx: Context) -> Iterator[Finding]:
    """The agent rejects any other object type: "a permission for an object type not supported for
    permissions"."""
    for entry in _entries(ctx):
        for item in list_of(entry.get("type")):
            value = _text(item)
            if value in TYPES:
                continue
            guess = did_you_mean(value, TYPES, cutoff=0.5) or (
                "directory" if isinstance(value, str) and value.lower().startswith("dir") else None
            )
            tip = f"; did you mean {guess}?" if guess else ""
            yield Finding(item, f"object type not supported for permissions ({shown(item)}){tip}")
