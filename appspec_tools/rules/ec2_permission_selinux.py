"""EC2/On-Premises `permissions` SELinux contexts: `context_info.rb` and `range_info.rb`."""

from __future__ import annotations

from typing import Iterator, Optional

from appspec_tools.nodes import Mapping, describe
from appspec_tools.reading import RangeError, RangeOrderError, is_null, selinux_range, string
from appspec_tools.rules import ERROR, WARNING, Context, Finding, rule
from appspec_tools.rules.ec2_files import described, file_copies
from appspec_tools.rules.ec2_permission_overlap import scope_of
from appspec_tools.rules.permission_entries import context_of, entries


def range_problem(text: str) -> Optional[str]:
    """What `range_info.rb` says of a range (reading.selinux_range), None when it accepts it."""
    try:
        selinux_range(text)
    except RangeOrderError:
        return f"SELinux range ({text}) has its high sensitivity below the low one"
    except RangeError as exc:
        return str(exc)
    return None


@rule(
    "PERM015",
    ERROR,
    "`context` is not a mapping with a `type`",
    hint="write `context:` as a mapping with `type:` and `range:` (and optionally `name:`)",
    platforms={"ec2"},
    bad="version: 0.0\nos: linux\npermissions:\n  - object: /var/www\n    context:\n      name: unconfined_u",
    good="version: 0.0\nos: linux\npermissions:\n  - object: /var/www\n    context:\n"
    "      type: httpd_sys_content_t\n      range: s0",
)
def context_without_type(ctx: Context) -> Iterator[Finding]:
    """`context_info.rb` requires the SELinux `type` ("specifies an invalid context type"); a context
    that is a string or a list is rejected or crashes the agent."""
    for entry in entries(ctx):
        node = context_of(entry)
        if node is None:
            continue
        if not isinstance(node, Mapping):
            yield Finding(node, f"context is {described(node)}, not a mapping with a type")
        elif is_null(node.get("type")):
            yield Finding(node, "invalid context: it has no type")


@rule(
    "PERM016",
    WARNING,
    "`context.user` is ignored: the agent reads `name`",
    hint="rename `user:` to `name:` inside `context`",
    platforms={"ec2"},
    bad="version: 0.0\nos: linux\npermissions:\n  - object: /var/www\n    context:\n      user: system_u\n"
    "      type: httpd_sys_content_t\n      range: s0",
    good="version: 0.0\nos: linux\npermissions:\n  - object: /var/www\n    context:\n      name: system_u\n"
    "      type: httpd_sys_content_t\n      range: s0",
)
def context_user_ignored(ctx: Context) -> Iterator[Finding]:
    """The user guide documents `context.user`, but `context_info.rb` takes the SELinux user from
    `name`, so `user` is silently ignored and the file gets the default SELinux user."""
    for entry in entries(ctx):
        node = context_of(entry)
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
    for entry in entries(ctx):
        node = context_of(entry)
        value = node.get("range") if isinstance(node, Mapping) else None
        if value is None or is_null(value):
            continue
        text = string(value)
        problem = range_problem(text) if text is not None else f"range is {describe(value)}, not a string"
        if problem:
            yield Finding(value, problem)


@rule(
    "PERM021",
    ERROR,
    "`context` without a `range` crashes the agent at Install",
    hint="add the range, e.g. `range: s0` (the level of a targeted policy's files)",
    platforms={"ec2"},
    bad="version: 0.0\nos: linux\nfiles:\n  - source: site\n    destination: /var/www\npermissions:\n"
    "  - object: /var/www\n    context:\n      type: httpd_sys_content_t",
    good="version: 0.0\nos: linux\nfiles:\n  - source: site\n    destination: /var/www\npermissions:\n"
    "  - object: /var/www\n    context:\n      type: httpd_sys_content_t\n      range: s0",
)
def context_without_range(ctx: Context) -> Iterator[Finding]:
    """The parser accepts a context without `range`, but Install writes every instruction to
    `<group>-install.json` first, and the SELinux one reads `@context.range.get_range`: with no range
    that is ``undefined method `get_range' for nil:NilClass`` (`install_instruction.rb`, ChangeContextCommand
    `to_h`). The deployment fails at Install after the previous install's files were removed and before
    anything is copied, whatever the host's SELinux. Reported where the entry's object is at, under or
    above a `files` destination, so that it reaches what this deployment installs."""
    destinations = [copy.destination for copy in file_copies(ctx)]
    for entry in entries(ctx):
        node, scope = context_of(entry), scope_of(entry)
        if not isinstance(node, Mapping) or is_null(node.get("type")) or not is_null(node.get("range")):
            continue
        if scope is not None and any(_nested(scope.object, path) for path in destinations):
            yield Finding(
                node,
                "context has no range: the agent's Install crashes on it (undefined method `get_range' for nil) "
                "after removing the previous install's files",
            )


def _nested(one: str, other: str) -> bool:
    """One path is the other or one of its folders."""
    one, other = one.rstrip("/") or "/", other.rstrip("/") or "/"
    return one == other or other.startswith(one.rstrip("/") + "/") or one.startswith(other.rstrip("/") + "/")
