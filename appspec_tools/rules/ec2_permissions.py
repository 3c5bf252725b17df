"""EC2/On-Premises `permissions`: the agent's parser (`application_specification.rb`, `mode_info.rb`) for
the entries, their keys, objects, patterns, `type` and `mode`; ACLs and SELinux contexts have modules of
their own."""

from __future__ import annotations

import re
from typing import Iterator, Optional

from appspec_tools.nodes import Mapping, Node, Scalar, Sequence, describe
from appspec_tools.reading import is_null, items, scalar_to_s, string
from appspec_tools.rules import ERROR, WARNING, Context, Finding, did_you_mean, rule
from appspec_tools.rules.ec2_files import described, shown, target_os, unknown_entry_keys
from appspec_tools.rules.permission_entries import (
    CONTEXT_KEYS,
    PERMISSION_KEY_ALIASES,
    PERMISSION_KEYS,
    TYPES,
    entries,
    section,
)

_OCTAL = r"^0[0-7]+$"  # compiled by `re` on first use, not at import


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
    node = section(ctx)
    if (
        target_os(ctx) == "windows"
        and not is_null(node)
        and not (isinstance(node, Sequence) and not node.items)
    ):
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
    node = section(ctx)
    if not is_null(node) and not isinstance(node, Sequence):
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
    for entry in items(section(ctx)):
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
    for entry in entries(ctx):
        node = entry.get("object")
        if is_null(node) or (isinstance(node, Scalar) and not (scalar_to_s(node) or "").strip()):
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
    for entry in entries(ctx):
        node = entry.get("object")
        if node is None or is_null(node):
            continue
        if not isinstance(node, Scalar):
            yield Finding(node, f"object is {describe(node)}, not a path")
            continue
        value = (scalar_to_s(node) or "").strip()
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
    for entry in entries(ctx):
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
    for entry in entries(ctx):
        for key in ("owner", "group", "pattern"):
            node = entry.get(key)
            if not is_null(node) and string(node) is None:
                yield Finding(node, f"{key} is {described(node)}, not a name")
        for item in items(entry.get("except")):
            if string(item) is None:
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
    for entry in entries(ctx):
        for key in ("type", "except", "acls"):
            node = entry.get(key)
            if not is_null(node) and not isinstance(node, Sequence):
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
    for entry in entries(ctx):
        pattern = entry.get("pattern")
        for node in ([pattern] if pattern is not None else []) + items(entry.get("except")):
            value = string(node)
            if value is not None and value != "**" and "/" in value:
                what = "pattern" if node is pattern else "except entry"
                yield Finding(
                    node, f"{what} '{value}' contains '/': it is matched against direct children only"
                )


def _mode_problem(node: Node) -> Optional[str]:
    text = scalar_to_s(node)
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
    for entry in entries(ctx):
        node = entry.get("mode")
        if not is_null(node):
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
    for entry in entries(ctx):
        node = entry.get("mode")
        if not (isinstance(node, Scalar) and node.tag == "int" and re.match(_OCTAL, node.text)):
            continue
        if _mode_problem(node) is None and int(node.text, 8) != int(str(node.value), 8):
            yield Finding(
                node,
                f"mode {node.text} is read by YAML 1.1 as the number {node.value} and applied as "
                f"mode {str(node.value).rjust(3, '0')}, not {node.text}",
            )


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
    for entry in entries(ctx):
        for item in items(entry.get("type")):
            value = string(item)
            if value in TYPES:
                continue
            guess = did_you_mean(value, TYPES, cutoff=0.5) or (
                "directory" if isinstance(value, str) and value.lower().startswith("dir") else None
            )
            tip = f"; did you mean {guess}?" if guess else ""
            yield Finding(item, f"object type not supported for permissions ({shown(item)}){tip}")
