"""Nodes → typed model. The linter is the validator: by the time a document gets here it has no
errors, but the builder still accepts any shape without crashing, reading each value the way the
agent (EC2/On-Premises, case-sensitive) or the service (ECS and Lambda, lenient on key case and on
the shape of `Hooks`) reads it."""

from __future__ import annotations

import datetime
import math
import re
from typing import Any, List, Optional, Tuple, Union

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
from appspec_tools.nodes import Mapping, Node, Scalar, Sequence

AnySpec = Union[AppSpec, EcsAppSpec, LambdaAppSpec]
_RUBY_TO_I = re.compile(r"\s*([+-]?\d+(?:_\d+)*)")


def build(root: Optional[Node], platform: str) -> AnySpec:
    doc = root if isinstance(root, Mapping) else Mapping([], 1, 1)
    if platform == "ecs":
        return build_ecs(doc)
    if platform == "lambda":
        return build_lambda(doc)
    return build_ec2(doc)


# -- values as Ruby sees them -------------------------------------------------------------------


def ruby_to_s(value: Any) -> str:
    """Ruby's ``to_s`` of a YAML 1.1 value: the agent turns numbers and booleans into text this way."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
        text = repr(value)
        mantissa, _, exponent = text.partition("e")
        if exponent:
            return f"{mantissa if '.' in mantissa else mantissa + '.0'}e{exponent}"
        return text
    if isinstance(value, bytes):
        return value.decode("latin-1")
    if isinstance(value, (datetime.date, datetime.datetime)):
        return str(value)
    return str(value)


def text(node: Optional[Node]) -> Optional[str]:
    """A scalar's value as a string; None when absent, null, or not a scalar."""
    if not isinstance(node, Scalar) or node.tag == "null":
        return None
    return ruby_to_s(node.value)


def ruby_to_i(node: Optional[Node], default: int) -> int:
    """``(value || default).to_i``: "30" is 30, 30.9 is 30, "5m" is 5, "foo" (or a value Ruby cannot
    convert) is 0."""
    if node is None or (isinstance(node, Scalar) and node.tag == "null"):
        return default
    value = node.value if isinstance(node, Scalar) else None
    if isinstance(value, bool) or value is None:
        return 0
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if math.isfinite(value) else 0
    if isinstance(value, str):
        match = _RUBY_TO_I.match(value)
        return int(match.group(1).replace("_", "")) if match else 0
    return 0


def ruby_truthy(node: Optional[Node]) -> bool:
    """Only nil and false are false in Ruby: the string "no" means yes."""
    if node is None:
        return False
    return not (isinstance(node, Scalar) and (node.tag == "null" or node.value is False))


def items(node: Optional[Node]) -> List[Node]:
    return list(node.items) if isinstance(node, Sequence) else []


def strings(node: Optional[Node]) -> Tuple[str, ...]:
    return tuple(value for value in (text(item) for item in items(node)) if value is not None)


def version(node: Optional[Node]) -> str:
    """The only AppSpec version, however it was written (0.0, 0, "0.0"), as the string "0.0"."""
    if isinstance(node, Scalar):
        if node.tag in ("int", "float") and node.value == 0:
            return "0.0"
        if node.tag == "str" and node.value.strip() in ("0.0", "0"):
            return "0.0"
    return text(node) or ""


def key_text(key: Any) -> str:
    return key if isinstance(key, str) else ruby_to_s(key)


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
                timeout=ruby_to_i(entry.get("timeout"), DEFAULT_SCRIPT_TIMEOUT),
                runas=text(entry.get("runas")),
                sudo=ruby_truthy(entry.get("sudo")),
            )
            for entry in items(value)
            if isinstance(entry, Mapping)
        )
        events.append((key_text(key), scripts))
    return LifecycleHooks(events)  # a duplicate event keeps the last value, as in the agent


# -- ECS and Lambda: keys in any case, Hooks as a list of mappings or one mapping ---------------


def get(node: Optional[Node], key: str) -> Optional[Node]:
    """The value of ``key`` compared case-insensitively (the last one wins); None if not a mapping."""
    found = None
    if isinstance(node, Mapping):
        for name, _, value in node.items():
            if isinstance(name, str) and name.lower() == key.lower():
                found = value
    return found


def first_mapping(node: Optional[Node]) -> Optional[Mapping]:
    """A mapping, or the first mapping of a list (`LoadBalancerInfo` is sometimes written as a list)."""
    if isinstance(node, Mapping):
        return node
    return next((item for item in items(node) if isinstance(item, Mapping)), None)


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
    resources = get(doc, "resources")
    return [resources] if isinstance(resources, Mapping) else items(resources)


def build_ecs(doc: Mapping) -> EcsAppSpec:
    service = next(
        (
            get(item, "targetservice")
            for item in _resources(doc)
            if isinstance(get(item, "targetservice"), Mapping)
        ),
        None,
    )
    properties = get(service, "properties")
    balancer = first_mapping(get(properties, "loadbalancerinfo"))
    network = get(get(properties, "networkconfiguration"), "awsvpcconfiguration")
    target = TargetService(
        task_definition=text(get(properties, "taskdefinition")) or "",
        container_name=text(get(balancer, "containername")) or "",
        container_port=ruby_to_i(get(balancer, "containerport"), 0),
        platform_version=text(get(properties, "platformversion")),
        network=(
            AwsvpcConfiguration(
                subnets=strings(get(network, "subnets")),
                security_groups=strings(get(network, "securitygroups")),
                assign_public_ip=text(get(network, "assignpublicip")),
            )
            if isinstance(network, Mapping)
            else None
        ),
        capacity_provider_strategy=tuple(
            CapacityProviderStrategyItem(
                capacity_provider=text(get(item, "capacityprovider")) or "",
                base=ruby_to_i(get(item, "base"), 0),
                weight=ruby_to_i(get(item, "weight"), 0),
            )
            for item in items(get(properties, "capacityproviderstrategy"))
            if isinstance(item, Mapping)
        ),
    )
    return EcsAppSpec(
        target_service=target,
        hooks=hook_functions(get(doc, "hooks")),
        version=version(get(doc, "version")),
    )


def build_lambda(doc: Mapping) -> LambdaAppSpec:
    logical_name, resource = "", None
    for item in _resources(doc):
        if isinstance(item, Mapping):
            found = next(((key, value) for key, _, value in item.items() if isinstance(value, Mapping)), None)
            if found:
                logical_name, resource = key_text(found[0]), found[1]
                break
    properties = get(resource, "properties")
    function = LambdaFunction(
        logical_name=logical_name,
        name=text(get(properties, "name")) or "",
        alias=text(get(properties, "alias")) or "",
        current_version=text(get(properties, "currentversion")) or "",
        target_version=text(get(properties, "targetversion")) or "",
    )
    return LambdaAppSpec(
        function=function,
        hooks=hook_functions(get(doc, "hooks")),
        version=version(get(doc, "version")),
    )
