"""AWS Lambda AppSpecs: the one function resource (name, alias, current and target version) and the
Lambda hooks. The CodeDeploy service reads these files (there is no agent), so keys are matched
case-insensitively here and their spelling is a warning (LMB001), never an error. The rules shared with
ECS (LMB001-003, LMB009-015) are registered by `service_keys.register_common_rules`."""

from __future__ import annotations

from typing import Iterator, List, Optional, Tuple

from appspec_tools.nodes import Mapping, Node, Scalar, describe
from appspec_tools.platforms import LAMBDA_TYPE
from appspec_tools.reading import field, field_pair, integer_or_digits, is_null, stripped
from appspec_tools.rules import ERROR, WARNING, Context, Finding, rule
from appspec_tools.rules.placeholders import placeholder
from appspec_tools.rules.service_keys import ANY_KEY, register_common_rules, resources, shown

ON = {"lambda"}
PROPERTIES = ("Name", "Alias", "CurrentVersion", "TargetVersion")
VERSIONS = ("CurrentVersion", "TargetVersion")
FUNCTION = {"Type": None, "Properties": {name: None for name in PROPERTIES}}
# Type/Properties beside the function's name are LMB003's to report; their keys are not read here.
SCHEMA = {
    "version": None,
    "Resources": [{"Type": None, "Properties": None, ANY_KEY: FUNCTION}],
    "Hooks": None,
}

HEAD = f"version: 0.0\nResources:\n  - MyFunction:\n      Type: {LAMBDA_TYPE}\n      Properties:\n"
BASE = f'{HEAD}        Name: my-function\n        Alias: live\n        CurrentVersion: "1"\n        TargetVersion: "2"\n'

register_common_rules(
    "lambda",
    dict(casing="LMB001", hooks_mapping="LMB002", resources="LMB003", unknown_key="LMB009", hooks_shape="LMB010",
         hook_function="LMB011", reserved_event="LMB012", other_event="LMB013", unknown_event="LMB014",
         repeated_event="LMB015", placeholder="LMB016"),
    SCHEMA,
    dict(base=BASE, resource="function", entry="MyFunction", target="Lambda function alias",
         resource_doc="a logical name of your choice",
         resources_bad=BASE + BASE[BASE.index("  - MyFunction"):].replace("MyFunction", "OtherFunction"),
         casing_bad=BASE.replace("CurrentVersion", "currentVersion").replace("TargetVersion", "targetVersion"),
         unknown_bad=BASE.replace("Alias:", "Alais:"),
         typed="CurrentVersion, TargetVersion",
         placeholder_bad=BASE.replace('"1"', "${CURRENT_VERSION}").replace('"2"', "TARGET_VERSION_PLACEHOLDER")),
)  # fmt: skip


def _functions(ctx: Context) -> List[Tuple[Node, Mapping]]:
    """(key, value) of every function resource that is a mapping."""
    return [(key_node, value) for _, key_node, value in resources(ctx) if isinstance(value, Mapping)]


def _properties(ctx: Context) -> Iterator[Mapping]:
    for _, function in _functions(ctx):
        properties = field(function, "Properties")
        if isinstance(properties, Mapping):
            yield properties


@rule(
    "LMB004",
    ERROR,
    "Function `Type` is not `AWS::Lambda::Function`",
    platforms=ON,
    hint="set `Type: AWS::Lambda::Function`",
    bad=BASE.replace(LAMBDA_TYPE, "AWS::Lambda::Alias"),
    good=BASE,
)
def function_type(ctx: Context) -> Iterator[Finding]:
    """The only resource type of a Lambda AppSpec is `AWS::Lambda::Function` (SAM's
    `AWS::Serverless::Function` belongs in the template, not in the AppSpec)."""
    for key, function in _functions(ctx):
        pair = field_pair(function, "Type")
        if pair is None or is_null(pair[1]):
            yield Finding(
                pair[0] if pair else key, f"function resource has no Type: it must be {LAMBDA_TYPE}"
            )
        elif stripped(pair[1]) != LAMBDA_TYPE:
            sam = " (the SAM template type)" if stripped(pair[1]) == "AWS::Serverless::Function" else ""
            yield Finding(pair[1], f"function Type is {shown(pair[1])}{sam}: it must be {LAMBDA_TYPE}")


@rule(
    "LMB005",
    ERROR,
    "Required function property missing or empty",
    platforms=ON,
    hint="give Name, Alias, CurrentVersion and TargetVersion under Properties",
    bad=BASE.replace('        CurrentVersion: "1"\n', ""),
    good=BASE,
)
def required(ctx: Context) -> Iterator[Finding]:
    """`Name`, `Alias`, `CurrentVersion` and `TargetVersion` are all required (the AppSpec assistant
    rejects an empty one): CodeDeploy moves that alias of that function from the current version to the
    target version."""
    for key, function in _functions(ctx):
        pair = field_pair(function, "Properties")
        if pair is None or is_null(pair[1]):
            yield Finding(pair[0] if pair else key, "function resource has no Properties")
            continue
        for name in PROPERTIES if isinstance(pair[1], Mapping) else ():
            found = field_pair(pair[1], name)
            if found is None:
                yield Finding(pair[0], f"Properties has no {name}")
            elif is_null(found[1]) or stripped(found[1]) == "":
                yield Finding(found[0], f"{name} is empty")


@rule(
    "LMB006",
    ERROR,
    "Function property has the wrong type",
    platforms=ON,
    hint="write Properties as a mapping, and Name and Alias as names (an alias name is not all digits)",
    bad=BASE.replace("Alias: live", 'Alias: "2"'),
    good=BASE,
)
def property_types(ctx: Context) -> Iterator[Finding]:
    """`Properties` is a mapping and `Name` and `Alias` are plain names. A Lambda alias name cannot be all
    digits (that is a version) nor `$LATEST`, so such an `Alias` names no alias."""
    for _, function in _functions(ctx):
        node = field(function, "Properties")
        if not is_null(node) and not isinstance(node, Mapping):
            yield Finding(node, f"Properties is {describe(node)}, not a mapping")
    for properties in _properties(ctx):
        for name in ("Name", "Alias"):
            node = field(properties, name)
            if not is_null(node) and not isinstance(node, Scalar):
                yield Finding(node, f"{name} is {describe(node)}, not a name")
        alias = field(properties, "Alias")
        if isinstance(alias, Scalar) and alias.tag in ("str", "int"):
            text = str(alias.value).strip()
            if text.isdigit() or text == "$LATEST":
                yield Finding(alias, f"Alias is {shown(alias)}: that is a version, not an alias name")


def _version(node: Optional[Node]) -> Optional[int]:
    value, _ = integer_or_digits(node)
    return value if value is not None and value > 0 else None


@rule(
    "LMB007",
    ERROR,
    "CurrentVersion or TargetVersion is not a published version number",
    platforms=ON,
    hint="use the number of a published version (`aws lambda publish-version` prints it)",
    bad=BASE.replace('TargetVersion: "2"', "TargetVersion: $LATEST"),
    good=BASE,
)
def versions(ctx: Context) -> Iterator[Finding]:
    """CodeDeploy shifts the alias between two published versions, numbered from 1. `$LATEST` is the
    unpublished code and cannot take part in weighted alias routing; `0`, `1.0` or `v2` name no version."""
    for properties in _properties(ctx):
        for name in VERSIONS:
            node = field(properties, name)
            if is_null(node) or stripped(node) == "" or _version(node) is not None:
                continue
            if placeholder(ctx, node, name) is not None:
                continue  # LMB016's
            if stripped(node) == "$LATEST":
                yield Finding(node, f"{name} is $LATEST: publish a version and use its number")
            else:
                yield Finding(
                    node, f"{name} is {shown(node)}: it must be a published version number (1, 2, ...)"
                )


@rule(
    "LMB008",
    WARNING,
    "CurrentVersion equals TargetVersion",
    platforms=ON,
    hint="set TargetVersion to the newly published version",
    bad=BASE.replace('TargetVersion: "2"', 'TargetVersion: "1"'),
    good=BASE,
)
def same_version(ctx: Context) -> Iterator[Finding]:
    """With the same current and target version there is no traffic to shift. CodeDeploy accepts that
    with an all-at-once configuration but rejects it with canary or linear ones as an invalid AppSpec
    (terraform-aws-modules/terraform-aws-lambda#82, worked around in #85 by skipping such deployments)."""
    for properties in _properties(ctx):
        current, target = (_version(field(properties, name)) for name in VERSIONS)
        if current is not None and current == target:
            message = f"TargetVersion equals CurrentVersion ({current})"
            yield Finding(field(properties, "TargetVersion"), f"{message}: no traffic is shifted")
