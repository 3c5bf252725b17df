"""The document itself: its shape, `version`, `os`, `file_exists_behavior` and top-level keys."""

from __future__ import annotations

from typing import Iterator, Optional

from appspec_tools.agent_names import FILE_EXISTS_BEHAVIORS
from appspec_tools.nodes import Mapping, Node, Scalar, describe
from appspec_tools.reading import is_null
from appspec_tools.rules import ERROR, WARNING, Context, Finding, did_you_mean, rule, unknown_keys

EC2_TOP_KEYS = ("version", "os", "files", "permissions", "hooks", "file_exists_behavior")


def version_node(ctx: Context) -> Optional[Node]:
    doc = ctx.doc
    if ctx.platform == "ec2":
        return doc.get("version")
    for key, _, value in doc.items():  # the service is lenient about key case on ECS and Lambda
        if isinstance(key, str) and key.lower() == "version":
            return value
    return None


@rule(
    "TOP001",
    ERROR,
    "The document is not a mapping",
    hint="an AppSpec is a mapping of keys such as `version: 0.0` and `os: linux`",
    bad="- version: 0.0\n- os: linux",
    good="version: 0.0\nos: linux",
)
def not_a_mapping(ctx: Context) -> Iterator[Finding]:
    """The top level must be a mapping (key: value pairs); a list or a bare value is not an AppSpec."""
    if not isinstance(ctx.root, Mapping):
        yield Finding(ctx.root, f"the AppSpec is {describe(ctx.root)}, not a mapping of keys")


@rule(
    "TOP002",
    ERROR,
    "`version` is missing",
    hint="add `version: 0.0` as the first line",
    bad="os: linux",
    good="version: 0.0\nos: linux",
)
def version_missing(ctx: Context) -> Iterator[Finding]:
    """Every AppSpec needs `version: 0.0`; the agent rejects a file without it."""
    if isinstance(ctx.root, Mapping) and version_node(ctx) is None:
        yield Finding((1, 1), "`version` is missing")


@rule(
    "TOP003",
    ERROR,
    'Quoted `version: "0.0"` on EC2/On-Premises',
    hint="write `version: 0.0` without quotes; the agent compares it with the number 0.0",
    platforms={"ec2"},
    bad='version: "0.0"\nos: linux',
    good="version: 0.0\nos: linux",
)
def version_quoted(ctx: Context) -> Iterator[Finding]:
    """The agent checks `[0.0].include?(version)`: the string "0.0" is not the number 0.0, so a quoted
    version is rejected on EC2/On-Premises, even though the agent's own error message asks for
    "0.0" in quotes. (ECS and Lambda AppSpecs are read by the service, which accepts both.)"""
    node = version_node(ctx)
    if isinstance(node, Scalar) and node.tag == "str" and node.value.strip() in ("0.0", "0"):
        yield Finding(node, f'version is the string "{node.value}": the agent accepts only the number 0.0')


@rule(
    "TOP004",
    ERROR,
    "`version` is not 0.0",
    hint="set `version: 0.0`, the only version CodeDeploy supports",
    bad="version: 1.0\nos: linux",
    good="version: 0.0\nos: linux",
)
def version_value(ctx: Context) -> Iterator[Finding]:
    """0.0 is the only AppSpec version; any other value is rejected."""
    node = version_node(ctx)
    if node is None:
        return
    if isinstance(node, Scalar):
        if node.tag in ("int", "float") and node.value == 0:
            return
        if node.tag == "str" and node.value.strip() in ("0.0", "0"):
            return  # TOP003 on EC2; the service accepts the string on ECS and Lambda
    shown = node.text if isinstance(node, Scalar) else describe(node)
    yield Finding(node, f"invalid version value ({shown}): the only valid value is 0.0")


@rule(
    "TOP005",
    ERROR,
    "`os` is missing",
    hint="add `os: linux` (or `os: windows` for Windows Server instances)",
    platforms={"ec2"},
    bad="version: 0.0\nfiles: []",
    good="version: 0.0\nos: linux\nfiles: []",
)
def os_missing(ctx: Context) -> Iterator[Finding]:
    """EC2/On-Premises AppSpecs must name the instance operating system."""
    if isinstance(ctx.root, Mapping) and "os" not in ctx.doc:
        yield Finding((1, 1), "`os` is missing")


@rule(
    "TOP006",
    ERROR,
    "`os` is not `linux` or `windows`",
    hint="write `os: linux` or `os: windows`, in lowercase",
    platforms={"ec2"},
    bad="version: 0.0\nos: Linux",
    good="version: 0.0\nos: linux",
)
def os_value(ctx: Context) -> Iterator[Finding]:
    """The agent compares `os` exactly with its own platform name, so `Linux`, `ubuntu` or `amazon-linux`
    are rejected as "unsupported operating system"."""
    node = ctx.doc.get("os") if isinstance(ctx.root, Mapping) else None
    if node is None:
        return
    value = node.value if isinstance(node, Scalar) else None
    if value in ("linux", "windows"):
        return
    if isinstance(value, str) and value.strip().lower() in ("linux", "windows"):
        yield Finding(
            node, f"unsupported operating system '{value}': must be lowercase '{value.strip().lower()}'"
        )
    else:
        shown = node.text if isinstance(node, Scalar) else describe(node)
        yield Finding(node, f"unsupported operating system ({shown}): use linux or windows")


@rule(
    "TOP007",
    WARNING,
    "Unknown top-level key",
    hint="remove the key, or fix its spelling; keys are case-sensitive",
    platforms={"ec2"},
    bad="version: 0.0\nos: linux\noverwrite: yes",
    good="version: 0.0\nos: linux\nfile_exists_behavior: OVERWRITE",
)
def unknown_top_keys(ctx: Context) -> Iterator[Finding]:
    """The agent reads only the keys it knows and silently ignores the rest, so a misspelled section or
    the `overwrite: yes` copied from old tutorials does nothing. (`file_exists_behavior: OVERWRITE`
    is the real setting.)"""
    if not isinstance(ctx.root, Mapping):
        return
    for key_node, message in unknown_keys(ctx.doc, EC2_TOP_KEYS, "the AppSpec"):
        if isinstance(key_node, Scalar) and key_node.value == "overwrite":
            message = "unknown key 'overwrite': the agent ignores it; to replace existing files use file_exists_behavior"
            yield Finding(key_node, message, "write `file_exists_behavior: OVERWRITE` instead")
        else:
            yield Finding(key_node, message)


@rule(
    "TOP008",
    ERROR,
    "Invalid `file_exists_behavior`",
    hint="use DISALLOW, OVERWRITE or RETAIN, in capitals",
    platforms={"ec2"},
    bad="version: 0.0\nos: linux\nfile_exists_behavior: overwrite",
    good="version: 0.0\nos: linux\nfile_exists_behavior: OVERWRITE",
)
def file_exists_behavior(ctx: Context) -> Iterator[Finding]:
    """The AppSpec's `file_exists_behavior` must be exactly DISALLOW, OVERWRITE or RETAIN (case-sensitive
    in the file, unlike the deployment option); the AppSpec value wins over the deployment's."""
    node = ctx.doc.get("file_exists_behavior") if isinstance(ctx.root, Mapping) else None
    if is_null(node):
        return
    value = node.value if isinstance(node, Scalar) else None
    if value in FILE_EXISTS_BEHAVIORS:
        return
    guess = did_you_mean(value, FILE_EXISTS_BEHAVIORS) if isinstance(value, str) else None
    shown = node.text if isinstance(node, Scalar) else describe(node)
    tip = f"; did you mean {guess}?" if guess else ""
    yield Finding(node, f"invalid file_exists_behavior ({shown}){tip}")
