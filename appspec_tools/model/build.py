"""Nodes → typed model. The linter is the validator: by the time a document gets here it has no
errors, but the builder still accepts any shape without crashing, reading each value the way the
agent (EC2/On-Premises, case-sensitive) or the service (ECS and Lambda, lenient on key case and on
the shape of `Hooks`) reads it."""

from __future__ import annotations

from typing import List, Optional, Tuple, Union

from appspec_tools.lifecycle import DEFAULT_SCRIPT_TIMEOUT
from appspec_tools.model.ec2 import DEFAULT_PERMISSION_TYPES, AppSpec, FileMapping, Permission, SeLinuxContext
from appspec_tools.model.ecs import (
    AwsvpcConfiguration,
    CapacityProviderStrategyItem,
    EcsAppSpec,
    TargetService,
)
from appspec_tools.model.hooks import HookFunction, HookScript, LifecycleHooks
from appspec_tools.model.lambda_ import LambdaAppSpec, LambdaFunction
from appspec_tools.nodes import Mapping, Node, Sequence
from appspec_tools.reading import (
    field,
    first_mapping,
    items,
    items_or_lone,
    key_text,
    ruby_to_i,
    ruby_truthy,
    strings,
    text,
    version,
)

AnySpec = Union[AppSpec, EcsAppSpec, LambdaAppSpec]


def _integer(node: Optional[Node], default: int) -> int:
    """The integer the agent gets, 0 where Ruby has none (the linter reports those)."""
    return ruby_to_i(node, default).value or 0


def build(root: Optional[Node], platform: str) -> AnySpec:
    doc = root if isinstance(root, Mapping) else Mapping([], 1, 1)
    if platform == "ecs":
        return build_ecs(doc)
    if platform == "lambda":
        return build_lambda(doc)
    return build_ec2(doc)


# -- EC2/On-Premises: exact keys, like the agent ------------------------------------------------


def build_ec2(doc: Mapping) -> AppSpec:
    files = tuple(
        FileMapping(text(item.get("source")) or "", text(item.get("destination")) or "")
        for item in items(doc.get("files"))
        if isinstance(item, Mapping)
    )
    permissions = tuple(
        _permission(item) for item in items(doc.get("permissions")) if isinstance(item, Mapping)
    )
    return AppSpec(
        version=version(doc.get("version")),
        os=text(doc.get("os")) or "",
        files=files,
        permissions=permissions,
        hooks=_hooks(doc.get("hooks")),
        file_exists_behavior=text(doc.get("file_exists_behavior")),
    )


def _permission(entry: Mapping) -> Permission:
    context = entry.get("context")
    type_node = entry.get("type")
    pattern = text(entry.get("pattern"))
    return Permission(
        object=text(entry.get("object")) or "",
        pattern="**" if pattern is None else pattern,
        except_=strings(entry.get("except")),
        owner=text(entry.get("owner")),
        group=text(entry.get("group")),
        mode=text(entry.get("mode")),
        acls=strings(entry.get("acls")),
        context=(
            SeLinuxContext(text(context.get("name")), text(context.get("type")), text(context.get("range")))
            if isinstance(context, Mapping)
            else None
        ),
        type=strings(type_node) if isinstance(type_node, Sequence) else DEFAULT_PERMISSION_TYPES,
    )


def _hooks(node: Optional[Node]) -> LifecycleHooks:
    if not isinstance(node, Mapping):
        return LifecycleHooks()
    events = []
    for key, _, value in node.items():
        scripts = tuple(
            HookScript(
                location=text(entry.get("location")) or "",
                timeout=_integer(entry.get("timeout"), DEFAULT_SCRIPT_TIMEOUT),
                runas=text(entry.get("runas")),
                sudo=ruby_truthy(entry.get("sudo")),
            )
            for entry in items(value)
            if isinstance(entry, Mapping)
        )
        events.append((key_text(key), scripts))
    return LifecycleHooks(events)  # a duplicate event keeps the last value, as in the agent


# -- ECS and Lambda: keys in any case, Hooks as a list of mappings or one mapping ---------------


def hook_functions(node: Optional[Node]) -> Tuple[HookFunction, ...]:
    """Event → function pairs from a list of single-key mappings or from one mapping. Event names are
    kept as written: a name in another case is not the event, and its hook never runs."""
    entries = [node] if isinstance(node, Mapping) else items(node)
    return tuple(
        HookFunction(key_text(key), text(value) or "")
        for entry in entries
        if isinstance(entry, Mapping)
        for key, _, value in entry.items()
    )


def _resources(doc: Mapping) -> List[Node]:
    return items_or_lone(field(doc, "resources"))


def build_ecs(doc: Mapping) -> EcsAppSpec:
    service = next(
        (
            field(item, "targetservice")
            for item in _resources(doc)
            if isinstance(field(item, "targetservice"), Mapping)
        ),
        None,
    )
    properties = field(service, "properties")
    balancer = first_mapping(field(properties, "loadbalancerinfo"))
    network = field(field(properties, "networkconfiguration"), "awsvpcconfiguration")
    target = TargetService(
        task_definition=text(field(properties, "taskdefinition")) or "",
        container_name=text(field(balancer, "containername")) or "",
        container_port=_integer(field(balancer, "containerport"), 0),
        platform_version=text(field(properties, "platformversion")),
        network=(
            AwsvpcConfiguration(
                subnets=strings(field(network, "subnets")),
                security_groups=strings(field(network, "securitygroups")),
                assign_public_ip=text(field(network, "assignpublicip")),
            )
            if isinstance(network, Mapping)
            else None
        ),
        capacity_provider_strategy=tuple(
            CapacityProviderStrategyItem(
                capacity_provider=text(field(item, "capacityprovider")) or "",
                base=_integer(field(item, "base"), 0),
                weight=_integer(field(item, "weight"), 0),
            )
            for item in items(field(properties, "capacityproviderstrategy"))
            if isinstance(item, Mapping)
        ),
    )
    return EcsAppSpec(
        target_service=target,
        hooks=hook_functions(field(doc, "hooks")),
        version=version(field(doc, "version")),
    )


def build_lambda(doc: Mapping) -> LambdaAppSpec:
    logical_name, resource = "", None
    for item in _resources(doc):
        if isinstance(item, Mapping):
            found = next(((key, value) for key, _, value in item.items() if isinstance(value, Mapping)), None)
            if found:
                logical_name, resource = key_text(found[0]), found[1]
                break
    properties = field(resource, "properties")
    function = LambdaFunction(
        logical_name=logical_name,
        name=text(field(properties, "name")) or "",
        alias=text(field(properties, "alias")) or "",
        current_version=text(field(properties, "currentversion")) or "",
        target_version=text(field(properties, "targetversion")) or "",
    )
    return LambdaAppSpec(
        function=function,
        hooks=hook_functions(field(doc, "hooks")),
        version=version(field(doc, "version")),
    )
