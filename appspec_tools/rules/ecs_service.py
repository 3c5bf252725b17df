"""Amazon ECS AppSpecs: the one `TargetService`, its task definition, load balancer, network and capacity
providers, and the Lambda hooks. The CodeDeploy service reads these files (there is no agent), so keys
are matched case-insensitively here and their spelling is a warning (ECS001), never an error. The rules
shared with Lambda (ECS001-003, ECS015-021) are registered by `service_keys.register_common_rules`."""

from __future__ import annotations

import re
from typing import Iterator, List, Optional, Tuple

from appspec_tools.nodes import Mapping, Node, Scalar, Sequence, describe
from appspec_tools.platforms import ECS_TYPE
from appspec_tools.reading import field, field_pair, integer_or_digits, is_null, items, stripped
from appspec_tools.rules import ERROR, INFO, WARNING, Context, Finding, did_you_mean, rule
from appspec_tools.rules.placeholders import placeholder
from appspec_tools.rules.service_keys import ANY_KEY, register_common_rules, resources, shown

ON = {"ecs"}
# Patterns are strings, compiled by `re` (and cached) on first use: not at import, every start-up.
TASK_DEFINITION_ARN = r"arn:aws[a-z-]*:ecs:[a-z0-9-]+:\d{12}:task-definition/[\w-]{1,255}:[1-9]\d*\Z"
PLATFORM_VERSION = r"LATEST\Z|\d+\.\d+\.\d+\Z"
IDS = {
    "subnet": r"subnet-[0-9a-f]{8}([0-9a-f]{9})?\Z",
    "sg": r"sg-[0-9a-f]{8}([0-9a-f]{9})?\Z",
}
AWSVPC_KEYS = ("Subnets", "SecurityGroups", "AssignPublicIp")
LIMITS = {"ContainerPort": (1, 65535), "Base": (0, 100000), "Weight": (0, 1000)}
PROPERTIES = {
    "TaskDefinition": None,
    "LoadBalancerInfo": {"ContainerName": None, "ContainerPort": None},
    "PlatformVersion": None,
    "NetworkConfiguration": {"AwsvpcConfiguration": {key: None for key in AWSVPC_KEYS}},
    "CapacityProviderStrategy": [{"Base": None, "CapacityProvider": None, "Weight": None}],
}
SCHEMA = {
    "version": None,
    "Resources": [{"TargetService": {"Type": None, "Properties": PROPERTIES}, ANY_KEY: None}],
    "Hooks": None,
}

ARN = "arn:aws:ecs:us-east-1:111122223333:task-definition/web:7"
HEAD = f"version: 0.0\nResources:\n  - TargetService:\n      Type: {ECS_TYPE}\n      Properties:\n"
LB = "        LoadBalancerInfo:\n          ContainerName: web\n          ContainerPort: 8080\n"
BASE = f"{HEAD}        TaskDefinition: {ARN}\n{LB}"
NETWORK = (
    "        NetworkConfiguration:\n          AwsvpcConfiguration:\n            Subnets: [subnet-0a1b2c3d]\n"
    "            SecurityGroups: [sg-0a1b2c3d]\n            AssignPublicIp: DISABLED\n"
)
STRATEGY = (
    "        CapacityProviderStrategy:\n          - CapacityProvider: FARGATE\n            Base: 1\n"
    "            Weight: 1\n          - CapacityProvider: FARGATE_SPOT\n            Weight: 3\n"
)

register_common_rules(
    "ecs",
    dict(casing="ECS001", hooks_mapping="ECS002", resources="ECS003", unknown_key="ECS015", hooks_shape="ECS016",
         hook_function="ECS017", reserved_event="ECS018", other_event="ECS019", unknown_event="ECS020",
         repeated_event="ECS021", placeholder="ECS022"),
    SCHEMA,
    dict(base=BASE, resource="TargetService", entry="TargetService", target="ECS service",
         resource_doc="the name `TargetService`",
         resources_bad=BASE.replace("\n      ", "\n    "),
         casing_bad=BASE.replace("Resources", "resources").replace("Container", "container"),
         unknown_bad=BASE + "        PlatformVersoin: 1.4.0\n",
         typed="ContainerPort, PlatformVersion, Subnets, SecurityGroups, AssignPublicIp, Base, Weight",
         placeholder_bad=BASE.replace("8080", "${CONTAINER_PORT}") + NETWORK.replace("subnet-0a1b2c3d", "<SUBNET_1>"),
         placeholder_skip="taskdefinition"),
)  # fmt: skip


def _targets(ctx: Context) -> List[Tuple[Node, Mapping]]:
    """(key, value) of every `TargetService` of `Resources` that is a mapping."""
    return [
        (key_node, value)
        for name, key_node, value in resources(ctx)
        if str(name).lower() == "targetservice" and isinstance(value, Mapping)
    ]


def _section(ctx: Context, *path: str) -> Iterator[Tuple[Node, Node]]:
    """(key, value) of a non-null setting under every TargetService's Properties, e.g. ("PlatformVersion",)."""
    for _, target in _targets(ctx):
        node: Optional[Node] = field(target, "Properties")
        pair = None
        for name in path:
            pair = field_pair(node, name)
            node = pair[1] if pair else None
        if pair is not None and not is_null(pair[1]):
            yield pair


@rule(
    "ECS004",
    ERROR,
    "TargetService `Type` is not `AWS::ECS::Service`",
    platforms=ON,
    hint="set `Type: AWS::ECS::Service`",
    bad=BASE.replace(ECS_TYPE, "AWS::ECS::TaskSet"),
    good=BASE,
)
def target_type(ctx: Context) -> Iterator[Finding]:
    """The only resource type of an ECS AppSpec is `AWS::ECS::Service`."""
    for key, target in _targets(ctx):
        pair = field_pair(target, "Type")
        if pair is None or is_null(pair[1]):
            yield Finding(pair[0] if pair else key, f"TargetService has no Type: it must be {ECS_TYPE}")
        elif stripped(pair[1]) != ECS_TYPE:
            yield Finding(pair[1], f"TargetService Type is {shown(pair[1])}: it must be {ECS_TYPE}")


def _required(anchor: Node, parent: Optional[Node], name: str, where: str) -> Iterator[Finding]:
    pair = field_pair(parent, name)
    if pair is None:
        yield Finding(anchor, f"{where} has no {name}")
    elif is_null(pair[1]) or stripped(pair[1]) == "":
        yield Finding(pair[0], f"{name} is empty")


@rule(
    "ECS005",
    ERROR,
    "Required property missing or empty",
    platforms=ON,
    hint="give Properties with TaskDefinition and LoadBalancerInfo (ContainerName and ContainerPort)",
    bad=f"{HEAD}        TaskDefinition: {ARN}\n        LoadBalancerInfo:\n          ContainerName: web\n",
    good=BASE,
)
def required(ctx: Context) -> Iterator[Finding]:
    """`TaskDefinition`, `LoadBalancerInfo.ContainerName` and `LoadBalancerInfo.ContainerPort` are required:
    CodeDeploy creates the replacement task set from that task definition and routes the load balancer's
    target groups to that container and port."""
    for key, target in _targets(ctx):
        yield from _required(key, target, "Properties", "TargetService")
        pair = field_pair(target, "Properties")
        if pair is not None and isinstance(pair[1], Mapping):
            yield from _required(pair[0], pair[1], "TaskDefinition", "Properties")
            yield from _required(pair[0], pair[1], "LoadBalancerInfo", "Properties")
    for key, info in _section(ctx, "LoadBalancerInfo"):
        if isinstance(info, Mapping):
            yield from _required(key, info, "ContainerName", "LoadBalancerInfo")
            yield from _required(key, info, "ContainerPort", "LoadBalancerInfo")


@rule(
    "ECS006",
    ERROR,
    "A section has the wrong type",
    platforms=ON,
    hint="write Properties, LoadBalancerInfo, NetworkConfiguration and AwsvpcConfiguration as mappings "
    "and CapacityProviderStrategy as a list",
    bad=f"{HEAD}        TaskDefinition: {ARN}\n        LoadBalancerInfo:\n"
    "          - ContainerName: web\n            ContainerPort: 8080\n",
    good=BASE,
)
def section_types(ctx: Context) -> Iterator[Finding]:
    """The sections of `Properties` have fixed shapes. `LoadBalancerInfo` in particular is a mapping: the
    list form a maintainer once suggested fails with "The input AppSpec file is a not well-formed yaml"
    (awsdocs/aws-codedeploy-user-guide PR #14)."""
    for _, target in _targets(ctx):
        node = field(target, "Properties")
        if not is_null(node) and not isinstance(node, Mapping):
            yield Finding(node, f"Properties is {describe(node)}, not a mapping")
    for path in (
        ("LoadBalancerInfo",),
        ("NetworkConfiguration",),
        ("NetworkConfiguration", "AwsvpcConfiguration"),
    ):
        for _, node in _section(ctx, *path):
            if isinstance(node, Sequence) and path == ("LoadBalancerInfo",):
                message = 'LoadBalancerInfo is a list: CodeDeploy rejects it ("not a well-formed yaml")'
                yield Finding(node, f"{message}; write ContainerName and ContainerPort as a mapping")
            elif not isinstance(node, Mapping):
                yield Finding(node, f"{path[-1]} is {describe(node)}, not a mapping")
    for _, node in _section(ctx, "CapacityProviderStrategy"):
        if not isinstance(node, Sequence):
            yield Finding(node, f"CapacityProviderStrategy is {describe(node)}, not a list of providers")
    for _, node in _section(ctx, "LoadBalancerInfo", "ContainerName"):
        if not isinstance(node, Scalar):
            yield Finding(node, f"ContainerName is {describe(node)}, not a container name")


@rule(
    "ECS007",
    ERROR,
    "TaskDefinition is an ARN of something else, or not a string",
    platforms=ON,
    hint="use the ARN: arn:aws:ecs:REGION:ACCOUNT:task-definition/FAMILY:REVISION",
    bad=BASE.replace(ARN, "arn:aws:ecs:us-east-1:111122223333:service/prod/web"),
    good=BASE,
)
def task_definition_arn(ctx: Context) -> Iterator[Finding]:
    """The reference gives the task definition by its ARN,
    `arn:aws:ecs:REGION:ACCOUNT:task-definition/FAMILY:REVISION`. A value written as an ARN but not of a
    task definition (a service or cluster ARN, no revision, a short account id), or a list or mapping,
    is meant as written and fails the deployment. Any other string is ECS009's."""
    for _, node in _section(ctx, "TaskDefinition"):
        value = stripped(node)
        if placeholder(ctx, node) is not None:
            continue  # ECS009's
        if value is None:
            yield Finding(node, f"TaskDefinition is {describe(node)}, not a task definition ARN")
        elif value.startswith("arn:") and not re.match(TASK_DEFINITION_ARN, value):
            yield Finding(node, f"TaskDefinition '{value}' is not a task definition ARN{_arn_problem(value)}")


def _arn_problem(value: str) -> str:
    parts = value.split(":", 5)
    if len(parts) < 6:
        return ""
    if parts[2] != "ecs":
        return f" (it is an ARN of '{parts[2]}', not of ecs)"
    if not parts[5].startswith("task-definition/"):
        return f" (it names a '{parts[5].split('/')[0]}', not a task-definition)"
    if not re.fullmatch(r"\d{12}", parts[4]):
        return f" (account '{parts[4]}' is not 12 digits)"
    return " (the :REVISION is missing)" if ":" not in parts[5] else ""


@rule(
    "ECS009",
    INFO,
    "TaskDefinition is not an ARN: a pipeline fills it in",
    platforms=ON,
    hint="deploy through aws-actions/amazon-ecs-deploy-task-definition (GitHub Actions), which writes the "
    "ARN of the task definition it registers, or CodePipeline's Amazon ECS (Blue/Green) action, which "
    "fills <TASK_DEFINITION>; given to CodeDeploy as written, use the task definition's ARN",
    bad=BASE.replace(ARN, "<TASK_DEFINITION>"),
    good=BASE,
)
def task_definition_filled_in(ctx: Context) -> Iterator[Finding]:
    """Pipelines own this value. The GitHub Action `aws-actions/amazon-ecs-deploy-task-definition`
    (with `codedeploy-appspec`) replaces `TaskDefinition` with the ARN it registers, whatever the file
    says (a path such as `task-definition.json`, a family name, a placeholder), and CodePipeline's
    `CodeDeployToECS` action replaces `<TASK_DEFINITION>`. So a path, a name, `family:revision` or a
    placeholder is advice, not an error; only a file given to CodeDeploy directly needs the ARN (ECS
    itself also takes `family:revision`, but the user guide documents only the ARN)."""
    for _, node in _section(ctx, "TaskDefinition"):
        filled = placeholder(ctx, node)
        value = stripped(node)
        if filled is not None:
            what = f"is the placeholder '{filled}'"
        elif value and not value.startswith("arn:"):
            what = f"'{value}' is not an ARN"
        else:
            continue
        yield Finding(
            node, f"TaskDefinition {what}: deployable where a pipeline writes the task definition ARN"
        )


def _numbers(ctx: Context) -> Iterator[Tuple[str, Node]]:
    """("ContainerPort" | "Base" | "Weight", value) of every number setting given, placeholders aside."""
    found: List[Tuple[str, Optional[Node]]] = [
        ("ContainerPort", node) for _, node in _section(ctx, "LoadBalancerInfo", "ContainerPort")
    ]
    for _, strategy in _section(ctx, "CapacityProviderStrategy"):
        for item in items(strategy):
            found += [
                (name, field(item, name)) for name in ("Base", "Weight") if not is_null(field(item, name))
            ]
    for name, node in found:
        if node is not None and placeholder(ctx, node, name) is None:
            yield name, node


def _out_of_range(name: str, node: Node) -> bool:
    value, _ = integer_or_digits(node)
    low, high = LIMITS[name]
    return stripped(node) != "" and (value is None or not low <= value <= high)


@rule(
    "ECS010",
    ERROR,
    "ContainerPort is not a port number",
    platforms=ON,
    hint="set ContainerPort to the container port the load balancer routes to (1-65535)",
    bad=BASE.replace("ContainerPort: 8080", "ContainerPort: 0"),
    good=BASE,
)
def container_port(ctx: Context) -> Iterator[Finding]:
    """`ContainerPort` is the port of the task definition's container that the target groups route to:
    an integer from 1 to 65535. 0 (which the AppSpec assistant only warns about) or a name matches no port
    mapping, so the replacement task set cannot be registered with the load balancer."""
    for name, node in _numbers(ctx):
        if name == "ContainerPort" and _out_of_range(name, node):
            yield Finding(node, f"ContainerPort is {shown(node)}: it must be a port number from 1 to 65535")


@rule(
    "ECS011",
    WARNING,
    "A number is written as a string",
    platforms=ON,
    hint="write the number without quotes",
    bad=BASE.replace("ContainerPort: 8080", 'ContainerPort: "8080"'),
    good=BASE,
)
def quoted_number(ctx: Context) -> Iterator[Finding]:
    """`ContainerPort`, `Base` and `Weight` are numbers. A quoted string of digits is read by the service
    (pipeline templates write `"${port}"` and deploy), but the reference, schemas and typed generators
    expect a number."""
    for name, node in _numbers(ctx):
        value, quoted = integer_or_digits(node)
        if quoted and not _out_of_range(name, node):
            yield Finding(node, f"{name} is the string {shown(node)}: write the number {value}")


@rule(
    "ECS012",
    ERROR,
    "Invalid PlatformVersion",
    platforms=ON,
    hint="use LATEST or a Fargate platform version such as 1.4.0",
    bad=BASE + "        PlatformVersion: 1.4\n",
    good=BASE + "        PlatformVersion: 1.4.0\n",
)
def platform_version(ctx: Context) -> Iterator[Finding]:
    """`PlatformVersion` is the Fargate platform version of the replacement tasks: `LATEST` or a version
    such as `1.4.0`. An unquoted `1.4` is read as a number and names no platform version."""
    for _, node in _section(ctx, "PlatformVersion"):
        value = stripped(node)
        if placeholder(ctx, node, "PlatformVersion") is not None:
            continue
        if value is None or not re.match(PLATFORM_VERSION, value):
            tip = "; did you mean LATEST?" if value and value.upper() == "LATEST" else ""
            yield Finding(
                node, f"PlatformVersion is {shown(node)}: use LATEST or a version such as 1.4.0{tip}"
            )


def _ids(ctx: Context, node: Optional[Node], name: str, kind: str, limit: int) -> Iterator[Finding]:
    if placeholder(ctx, node, name) is not None:
        return
    if not isinstance(node, Sequence):
        yield Finding(node, f"{name} is {describe(node)}, not a list of {kind}-... ids")
        return
    if not node.items or len(node.items) > limit:
        yield Finding(node, f"{name} lists {len(node.items)} ids: ECS takes 1 to {limit}")
    for item in node.items:
        if placeholder(ctx, item, name) is None and not re.match(IDS[kind], stripped(item) or ""):
            yield Finding(item, f"{name} entry {shown(item)} is not a {kind}-... id")


@rule(
    "ECS013",
    ERROR,
    "Invalid AwsvpcConfiguration",
    platforms=ON,
    hint="give Subnets (subnet-... ids), SecurityGroups (sg-... ids) and AssignPublicIp (ENABLED or "
    "DISABLED) together, or leave NetworkConfiguration out",
    bad=BASE + NETWORK.replace("            AssignPublicIp: DISABLED\n", ""),
    good=BASE + NETWORK,
)
def awsvpc(ctx: Context) -> Iterator[Finding]:
    """ "All or none of the settings under NetworkConfiguration must be specified" (user guide): with none,
    CodeDeploy keeps the service's current network settings; with some, the deployment fails. ECS takes
    ids, not names: `Subnets` is a list of 1 to 16 `subnet-...` ids, `SecurityGroups` a list of 1 to 5
    `sg-...` ids, and `AssignPublicIp` exactly `ENABLED` or `DISABLED` (a YAML `false` is a boolean)."""
    for key, config in _section(ctx, "NetworkConfiguration", "AwsvpcConfiguration"):
        given = [name for name in AWSVPC_KEYS if not is_null(field(config, name))]
        missing = [name for name in AWSVPC_KEYS if name not in given]
        if given and missing:
            message = f"AwsvpcConfiguration sets {' and '.join(given)} but not {' or '.join(missing)}"
            yield Finding(key, f"{message}: give all three or none")
        for name, kind, limit in (("Subnets", "subnet", 16), ("SecurityGroups", "sg", 5)):
            if name in given:
                yield from _ids(ctx, field(config, name), name, kind, limit)
        node = field(config, "AssignPublicIp")
        filled = placeholder(ctx, node, "AssignPublicIp") is not None
        if "AssignPublicIp" in given and not filled and stripped(node) not in ("ENABLED", "DISABLED"):
            guess = did_you_mean(stripped(node), ("ENABLED", "DISABLED"))
            tip = f"; did you mean {guess}?" if guess else ""
            yield Finding(node, f"AssignPublicIp is {shown(node)}: it must be ENABLED or DISABLED{tip}")


@rule(
    "ECS014",
    ERROR,
    "Invalid CapacityProviderStrategy",
    platforms=ON,
    hint="name a CapacityProvider in each entry, keep Base (0-100000) to one entry, and give at least one "
    "entry a Weight (0-1000) above 0",
    bad=BASE + STRATEGY.replace("Weight: 3", "Weight: 3\n            Base: 2"),
    good=BASE + STRATEGY,
)
def capacity_provider_strategy(ctx: Context) -> Iterator[Finding]:
    """Each entry names a capacity provider of the cluster and may set `Base` (0 to 100000) and `Weight`
    (0 to 1000), as ECS's `CapacityProviderStrategyItem` requires. ECS allows a `Base` on one provider
    only, and needs a provider with a `Weight` above 0 to place the tasks beyond the base."""
    for key, strategy in _section(ctx, "CapacityProviderStrategy"):
        entries = items(strategy)
        for item in entries:
            if not isinstance(item, Mapping):
                yield Finding(item, f"CapacityProviderStrategy entry is {describe(item)}, not a mapping")
            elif not stripped(field(item, "CapacityProvider")):
                yield Finding(item, "CapacityProviderStrategy entry has no CapacityProvider")
        bases = [field(item, "Base") for item in entries]
        based = [node for node in bases if node is not None and (integer_or_digits(node)[0] or 0) > 0]
        for node in based[1:]:
            yield Finding(node, f"a second provider sets Base (first at line {based[0].line}): only one may")
        weights = [field(item, "Weight") for item in entries]
        filled = any(placeholder(ctx, node, "Weight") is not None for node in weights)
        if entries and not filled and not any((integer_or_digits(node)[0] or 0) > 0 for node in weights):
            yield Finding(key, "no provider in CapacityProviderStrategy has a Weight above 0")
    for name, node in _numbers(ctx):
        low, high = LIMITS[name]
        if name != "ContainerPort" and _out_of_range(name, node):
            yield Finding(node, f"{name} is {shown(node)}: it must be an integer from {low} to {high}")
