"""Keys and hooks of the AppSpecs that the CodeDeploy service reads itself (Amazon ECS, AWS Lambda).

Unlike the agent, the service matches key names case-insensitively (the user guide shows both
`Resources` and `resources`; cdk-ecs-codedeploy emits `awsvpcConfiguration`) and takes `Hooks` either as
the documented list of single-key maps or as one mapping. The lookups here read a document that
leniently; the rules they back warn about the spelling. The key-spelling, `Resources` and hook checks
are the same on both platforms, so :func:`register_common_rules` registers them under each platform's
own rule ids.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable, Dict, FrozenSet, Iterator, List, Optional, Tuple

from appspec_tools.lifecycle import EC2_ORDER, ECS_ORDER, LAMBDA_ORDER, PLATFORM_NAMES, RESERVED, SCRIPTABLE
from appspec_tools.nodes import Mapping, Node, Scalar, Sequence, describe
from appspec_tools.reading import field, field_pair, is_null, items, items_or_lone, stripped
from appspec_tools.rules import ERROR, INFO, WARNING, Context, Finding, declare, did_you_mean
from appspec_tools.rules.placeholders import placeholder, placeholders

# A key schema: a dict of canonical key -> schema of its value; None is a leaf; a one-item list is a list
# of items following that schema; the key "*" stands for any other key.
Schema = Any
ANY_KEY = "*"
EC2_KEYS = ("os", "files", "permissions", "file_exists_behavior")
# Platforms whose user guide pages print every key in lowercase (the Lambda `resources` and `hooks`
# reference pages): that spelling is the guide's own, not a finding.
GUIDE_LOWERCASE = frozenset({"lambda"})
ALL_EVENTS = frozenset(EC2_ORDER + ECS_ORDER + LAMBDA_ORDER).union(*RESERVED.values())
FUNCTION = (  # compiled by `re` on first use, not at import
    r"(arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:function:|\d{12}:function:)?"
    r"[A-Za-z0-9_-]{1,64}(:[A-Za-z0-9$_-]{1,128})?\Z"
)


def shown(node: Optional[Node]) -> str:
    """A value as a message shows it: a string quoted, another scalar as written, else its type."""
    if isinstance(node, Scalar) and node.tag == "str":
        return f"'{node.value}'"
    if isinstance(node, Scalar) and node.tag != "null":
        return node.text or str(node.value)
    return describe(node)


def resources(ctx: Context) -> List[Tuple[Any, Node, Node]]:
    """(name, key, value) of every resource: each key of each `Resources` entry, except `Type` and
    `Properties` written beside the name (see :func:`resources_shape`)."""
    found = []
    for item in items_or_lone(field(ctx.doc, "Resources")):
        if isinstance(item, Mapping):
            found += [(k, kn, v) for k, kn, v in item.items() if not _misplaced(k)]
    return found


def _misplaced(key: Any) -> bool:
    return isinstance(key, str) and key.lower() in ("type", "properties")


def resources_shape(ctx: Context, entry: str, fixed: bool) -> Iterator[Finding]:
    """`Resources` missing, not a list, empty, holding a non-mapping entry, with `Type`/`Properties` not
    indented under the resource's name, with a resource that is not a mapping, or with more than one
    resource. ``entry`` is how a resource entry starts (`TargetService`, `MyFunction`); ``fixed`` when
    that is the only valid name."""
    pair = field_pair(ctx.doc, "Resources")
    listed = pair[1] if pair else None
    if pair is None or is_null(listed):
        yield Finding(
            pair[0] if pair else (1, 1), f"`Resources` is missing: write `Resources:` and `- {entry}:`"
        )
    elif isinstance(listed, Mapping):
        yield Finding(listed, f"Resources is a mapping, not a list: write `- {entry}:`")
    elif not isinstance(listed, Sequence):
        yield Finding(listed, f"Resources is {describe(listed)}, not a list with one `- {entry}:` entry")
    elif not listed.items:
        yield Finding(listed, f"Resources is empty: it needs one `- {entry}:` entry")
    for item in items(listed):
        if not isinstance(item, Mapping):
            yield Finding(
                item, f"Resources entry is {describe(item)}, not `{entry}:` with Type and Properties"
            )
    for item in items_or_lone(listed):
        for key, key_node, _ in item.items() if isinstance(item, Mapping) else []:
            if _misplaced(key):
                yield Finding(key_node, f"{key} is beside the resource's name, not indented under it")
    found = resources(ctx)
    for name, key_node, value in found:
        if fixed and str(name).lower() != entry.lower():
            tip = f"; did you mean '{entry}'?" if did_you_mean(name, [entry], 0.6) else ""
            yield Finding(key_node, f"resource '{name}' is not {entry}, the only resource name here{tip}")
        elif not isinstance(value, Mapping):
            yield Finding(
                key_node, f"resource '{name}' is {describe(value)}, not a mapping with Type and Properties"
            )
    for name, key_node, _ in found[1:]:
        yield Finding(key_node, f"another resource '{name}': a deployment supports only one")


# ---------------------------------------------------------------------------------------------- key spelling


def key_findings(
    node: Optional[Node], schema: Schema, where: str, platform: str
) -> Iterator[Tuple[str, Node, str]]:
    """("case" | "unknown", key node, message) for every key spelled in another case than the reference,
    and every key the reference does not know, at every level of ``schema``. ``where`` is the dotted
    path of ``node`` ("" for the document)."""
    if isinstance(schema, list):
        for item in items_or_lone(node):
            yield from key_findings(item, schema[0], where, platform)
        return
    if not isinstance(schema, dict) or not isinstance(node, Mapping):
        return
    known = [k for k in schema if k != ANY_KEY]
    first: Dict[str, Tuple[str, int]] = {}
    for key, key_node, value in node.items():
        name = key if isinstance(key, str) else str(key)
        canonical = next((k for k in known if k.lower() == name.lower()), None)
        if canonical is None:
            if ANY_KEY in schema:
                yield from key_findings(value, schema[ANY_KEY], _join(where, name), platform)
            else:
                yield "unknown", key_node, _unknown_message(name, known, where, platform)
            continue
        if name != canonical and not (platform in GUIDE_LOWERCASE and name == canonical.lower()):
            yield "case", key_node, f"key '{name}' is written '{canonical}' in the AppSpec reference"
        earlier = first.setdefault(canonical, (name, key_node.line))
        if earlier[0] != name:
            message = f"key '{name}' repeats '{earlier[0]}' (line {earlier[1]}) in another case"
            yield "case", key_node, f"{message}: CodeDeploy reads them as one key"
        yield from key_findings(value, schema[canonical], _join(where, canonical), platform)


def _join(where: str, name: str) -> str:
    return f"{where}.{name}" if where else name


def _unknown_message(name: str, known: List[str], where: str, platform: str) -> str:
    if not where and name in EC2_KEYS:
        return f"'{name}' is an EC2/On-Premises key: {PLATFORM_NAMES[platform]} deployments do not use it"
    guess = did_you_mean(name, known)
    tip = f"; did you mean '{guess}'?" if guess else f" (known keys: {', '.join(known)})"
    return f"unknown key '{name}' in {where or 'the AppSpec'}: CodeDeploy does not use it{tip}"


# ---------------------------------------------------------------------------------------------- hooks


@dataclass(frozen=True)
class HookEntry:
    event: Any
    key: Node
    function: Node
    holder: Mapping  # the mapping the pair sits in: one list entry, or the whole `Hooks` mapping


def hook_entries(ctx: Context) -> List[HookEntry]:
    """Every event-to-function pair of `Hooks`, in either shape the service accepts."""
    entries = []
    for item in items_or_lone(field(ctx.doc, "Hooks")):
        if isinstance(item, Mapping):
            entries += [HookEntry(event, key, value, item) for event, key, value in item.items()]
    return entries


def event_kind(event: Any, platform: str) -> str:
    """'allowed', 'reserved', 'other' (an event of another compute platform) or 'unknown'."""
    if event in SCRIPTABLE[platform]:
        return "allowed"
    if event in RESERVED[platform]:
        return "reserved"
    return "other" if event in ALL_EVENTS else "unknown"


def _hooks_shape(ctx: Context) -> Iterator[Finding]:
    hooks = field(ctx.doc, "Hooks")
    for item in items(hooks):
        if not isinstance(item, Mapping):
            yield Finding(item, f"Hooks entry is {describe(item)}, not `EVENT: FunctionName`")
    if not is_null(hooks) and not isinstance(hooks, (Sequence, Mapping)):
        yield Finding(hooks, f"Hooks is {describe(hooks)}: write a list of `- EVENT: FunctionName` entries")


def _hooks_mapping(ctx: Context) -> Iterator[Finding]:
    pair = field_pair(ctx.doc, "Hooks")
    if pair is not None and isinstance(pair[1], Mapping) and len(pair[1]):
        message = "Hooks is a single mapping of events to functions: accepted, but the reference writes"
        yield Finding(pair[0], f"{message} a list of `- EVENT: FunctionName` entries")
    for item in items(field(ctx.doc, "Hooks")):
        if isinstance(item, Mapping) and len(item) > 1:
            yield Finding(item.pairs[1][0], "one Hooks entry holds several events: write one entry per event")


def _hook_function(ctx: Context) -> Iterator[Finding]:
    for entry in hook_entries(ctx):
        value, event = entry.function, entry.event
        name = stripped(value)
        if placeholder(ctx, value) is not None:
            continue  # the placeholder rule's
        if is_null(value) or name == "":
            yield Finding(entry.key, f"hook {event}: the Lambda function name cannot be null or empty")
        elif isinstance(value, (Sequence, Mapping)):
            what = "scripts (EC2/On-Premises style)" if isinstance(value, Sequence) else "a mapping"
            yield Finding(value, f"hook {event} is {what}: it must name one Lambda function")
        elif name is None or not re.match(FUNCTION, name):
            yield Finding(value, f"hook {event}: {shown(value)} is not a Lambda function name or ARN")


def _events_of(kind: str) -> Callable[[Context], Iterator[Finding]]:
    def check(ctx: Context) -> Iterator[Finding]:
        allowed = ", ".join(SCRIPTABLE[ctx.platform])
        platform = PLATFORM_NAMES[ctx.platform]
        for entry in hook_entries(ctx):
            event = entry.event
            if event_kind(event, ctx.platform) != kind:
                continue
            if kind == "reserved":
                message = f"{event} is run by CodeDeploy itself on {platform}: no hook can be attached"
                yield Finding(entry.key, f"{message} (use one of {allowed})")
            elif kind == "other":
                message = f"{event} is not a lifecycle event of {platform} deployments"
                yield Finding(entry.key, f"{message} (their hooks are {allowed})")
            else:
                guess = did_you_mean(event, SCRIPTABLE[ctx.platform])
                if guess and guess.lower() == str(event).lower():
                    yield Finding(
                        entry.key, f"lifecycle event '{event}' is written '{guess}' in the reference"
                    )
                    continue
                tip = f"; did you mean '{guess}'?" if guess else f" (use one of {allowed})"
                yield Finding(entry.key, f"unknown lifecycle event '{event}': its hook never runs{tip}")

    return check


def _repeated_event(ctx: Context) -> Iterator[Finding]:
    first: Dict[Any, HookEntry] = {}
    for entry in hook_entries(ctx):
        earlier = first.setdefault(entry.event, entry)
        if earlier.holder is not entry.holder:  # a repeat within one mapping is SYN006's duplicate key
            message = f"hook {entry.event} is given again (first at line {earlier.key.line})"
            yield Finding(entry.key, f"{message}: each event runs one hook function")


def _placeholders(skip: FrozenSet[str]) -> Callable[[Context], Iterator[Finding]]:
    def check(ctx: Context) -> Iterator[Finding]:
        for key, node, text in placeholders(ctx, ctx.doc, skip):
            yield Finding(
                node, f"{key} is the placeholder '{text}': it must be filled in before CodeDeploy reads it"
            )

    return check


def _key_rule(kind: str, schema: Schema) -> Callable[[Context], Iterator[Finding]]:
    def check(ctx: Context) -> Iterator[Finding]:
        for found, key_node, message in key_findings(ctx.doc, schema, "", ctx.platform):
            if found == kind:
                yield Finding(key_node, message)

    return check


# ---------------------------------------------------------------------------------------------- registration

# role: (severity, summary, hint, documentation); {name} is the platform, {allowed} its hook events.
COMMON_RULES = {
    "casing": (
        WARNING,
        "Key written in another case than the AppSpec reference",
        "write the key as the reference does (PascalCase, `version` in lowercase)",
        """The CodeDeploy service reads {name} AppSpecs with key names matched case-insensitively: the
        user guide itself shows `resources`/`hooks` and lowercase Lambda properties, and
        cdk-ecs-codedeploy emits `awsvpcConfiguration`. Such files deploy, so this is only a warning, but
        other tools (the AppSpec assistant, SAM, schemas) expect the reference spelling. On Lambda the
        all-lowercase spelling of the guide's reference pages (`resources`, `properties`,
        `currentversion`) is the guide's own form and is not reported. Two keys that differ only in case
        are read as one.""",
    ),
    "hooks_mapping": (
        WARNING,
        "`Hooks` is a mapping, not a list of single-key maps",
        "write each hook as its own list entry, `- EVENT: FunctionName`",
        """The reference writes `Hooks` as a list of single-key maps. The service also accepts one
        mapping of events to functions (cdk-ecs-codedeploy emits that shape and it deploys), so this is
        a warning: validators that follow the reference reject it.""",
    ),
    "resources": (
        ERROR,
        "`Resources` is not a list with one {resource}",
        "write `Resources:` with one `- {entry}:` entry and indent Type and Properties under it",
        """`Resources` is a list with one entry that maps {resource_doc} to its `Type` and `Properties`.
        A deployment updates one {target}: the AppSpec assistant the user guide links to rejects a second
        resource, and a missing `Resources`, a mapping in place of the list, or `Type` and `Properties`
        not indented under the name leave nothing to deploy.""",
    ),
    "unknown_key": (
        WARNING,
        "Unknown key",
        "remove the key or fix its spelling",
        """A key the {name} AppSpec reference does not define is not used, so a misspelled optional
        setting silently falls back to its default. EC2/On-Premises sections (`os`, `files`,
        `permissions`) in a {name} AppSpec are reported here too: they are ignored.""",
    ),
    "hooks_shape": (
        ERROR,
        "`Hooks` is not a list of `EVENT: FunctionName` entries",
        "write `Hooks:` followed by `- EVENT: FunctionName` entries",
        """Each hook names the lifecycle event and the Lambda function CodeDeploy invokes for it; a bare
        string or a number cannot be read as a hook.""",
    ),
    "hook_function": (
        ERROR,
        "Hook without a Lambda function name",
        "give the name or ARN of the Lambda function to invoke, one per event",
        """A {name} hook is one Lambda function, by name or ARN, invoked once per deployment; it must call
        `PutLifecycleEventHookExecutionStatus` within an hour. A null or empty value fails the deployment
        with "The Lambda function name cannot be null or empty" (reported in
        terraform-aws-modules/terraform-aws-lambda#75); a list of scripts copied from an EC2/On-Premises
        AppSpec, or a value no Lambda function can be named (`validate.sh`), cannot be invoked.""",
    ),
    "reserved_event": (
        ERROR,
        "Hook on an event reserved on {name}",
        "attach the function to one of {allowed}",
        """{reserved} are performed by CodeDeploy itself and cannot run a hook; the AppSpec assistant the
        user guide links to rejects them. The function would never be invoked, so the check it was meant
        to do never happens.""",
    ),
    "other_event": (
        ERROR,
        "Hook on an event that {name} deployments do not have",
        "use one of {allowed}",
        """{name} deployments run hooks only at {allowed}. An event of another compute platform
        (`ApplicationStop`, `ValidateService`...) means an AppSpec written for the wrong platform; the
        AppSpec assistant rejects it, and its function would never be invoked.""",
    ),
    "unknown_event": (
        WARNING,
        "Unknown lifecycle event",
        "use one of {allowed} (case-sensitive)",
        """An event name CodeDeploy does not know, usually a misspelling, is never reached, so its function
        silently never runs. Write event names as the reference does: whether the service also matches
        them case-insensitively is undocumented (cdk-ecs-codedeploy capitalises them).""",
    ),
    "repeated_event": (
        WARNING,
        "The same event is hooked twice",
        "keep one function per event; call the second check from the first function",
        """Each lifecycle event runs one hook function once per deployment, so a second entry for the same
        event is at best ignored.""",
    ),
    "placeholder": (
        INFO,
        "A value is a placeholder that a pipeline fills in",
        "fill it in before the deployment (a build step with envsubst or sed, a template engine, "
        "CodePipeline or a GitHub Action); CodeDeploy reads the file as written",
        """Repositories often keep a {name} AppSpec as a template that a build step completes:
        `${{VAR}}`, `{{{{ expression }}}}`, `<NAME>`, a word containing `PLACEHOLDER`, and, where a number
        or an id belongs ({typed}), a bare ALL_CAPS token such as `CONTAINER_PORT`. The rules that check
        a value's form leave such values alone, so a template lints without errors; this advice only
        reminds that the file cannot be deployed as it is.""",
    ),
}


def register_common_rules(
    platform: str, ids: Dict[str, str], schema: Schema, examples: Dict[str, str]
) -> None:
    """Register the rules of :data:`COMMON_RULES` for one platform under ``ids`` (role -> rule id).
    ``examples`` holds `base`, a valid AppSpec without hooks (the hook examples add to it), the words
    `resource`, `resource_doc`, `target`, `entry` and `typed` (the number and id settings) of the
    documentation, the bad examples `resources_bad`, `casing_bad`, `unknown_bad` and `placeholder_bad`,
    and `placeholder_skip`, the keys (lowercase, space-separated) whose placeholders another rule reports."""
    allowed = SCRIPTABLE[platform]
    first, event = allowed[-2:]
    base = examples["base"]
    words = dict(
        examples,
        name=PLATFORM_NAMES[platform],
        allowed=", ".join(allowed),
        reserved=", ".join(sorted(RESERVED[platform])),
    )
    hooks = f"{base}Hooks:\n  - {event}: CheckFunction\n"
    bad = {
        "casing": examples["casing_bad"],
        "resources": examples["resources_bad"],
        "unknown_key": examples["unknown_bad"],
        "hooks_mapping": f"{base}Hooks:\n  {first}: CheckFunction\n  {event}: CheckFunction\n",
        "hooks_shape": f"{base}Hooks:\n  - {event}\n",
        "hook_function": f"{base}Hooks:\n  - {event}:\n",
        "reserved_event": f"{base}Hooks:\n  - AllowTraffic: CheckFunction\n",
        "other_event": f"{base}Hooks:\n  - ValidateService: CheckFunction\n",
        "unknown_event": f"{base}Hooks:\n  - {event[:-1]}: CheckFunction\n",
        "repeated_event": f"{hooks}  - {event}: OtherCheck\n",
        "placeholder": examples["placeholder_bad"],
    }
    good = {role: hooks for role in bad if "hook" in role or "event" in role}
    good["hooks_mapping"] = f"{base}Hooks:\n  - {first}: CheckFunction\n  - {event}: CheckFunction\n"
    checks = {
        "casing": _key_rule("case", schema),
        "hooks_mapping": _hooks_mapping,
        # ECS names its one resource TargetService; a Lambda function's logical name is free.
        "resources": lambda ctx: resources_shape(ctx, examples["entry"], platform == "ecs"),
        "unknown_key": _key_rule("unknown", schema),
        "hooks_shape": _hooks_shape,
        "hook_function": _hook_function,
        "reserved_event": _events_of("reserved"),
        "other_event": _events_of("other"),
        "unknown_event": _events_of("unknown"),
        "repeated_event": _repeated_event,
        "placeholder": _placeholders(frozenset(examples.get("placeholder_skip", "").split())),
    }
    for role, rule_id in ids.items():
        severity, summary, hint, doc = COMMON_RULES[role]
        declare(
            rule_id,
            severity,
            summary.format(**words),
            hint=hint.format(**words),
            doc=doc.format(**words),
            bad=bad[role],
            good=good.get(role, base),
            platforms={platform},
            scope="document",
            check=checks[role],
        )
