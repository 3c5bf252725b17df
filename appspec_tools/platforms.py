"""Which compute platform an AppSpec is for, read from its content."""

from __future__ import annotations

from typing import Optional

from appspec_tools.nodes import Mapping, Node, Scalar, Sequence, walk

ECS_TYPE = "AWS::ECS::Service"
LAMBDA_TYPE = "AWS::Lambda::Function"


def detect_platform(root: Optional[Node]) -> str:
    """`os`/`files`/`hooks` mean EC2/On-Premises; `Resources` holding an ECS service or a Lambda function
    mean ECS or Lambda. A resource's `Type` decides; its name (`TargetService`) and its property keys
    count only when no `Type` names either. Keys are compared case-insensitively, as the service does."""
    if not isinstance(root, Mapping):
        return "ec2"
    keys = {key.lower() for key, _, _ in root.items() if isinstance(key, str)}
    resources = next((v for k, _, v in root.items() if isinstance(k, str) and k.lower() == "resources"), None)
    if resources is None or ("os" in keys and "resources" not in keys):
        return "ec2"
    types, keys_seen = set(), set()
    for node in walk(resources):
        if isinstance(node, Mapping):
            for key, _, value in node.items():
                if not isinstance(key, str):
                    continue
                keys_seen.add(key.lower())
                if key.lower() == "type" and isinstance(value, Scalar):
                    types.add(str(value.value))
    if ECS_TYPE in types:
        return "ecs"
    if LAMBDA_TYPE in types:
        return "lambda"
    if keys_seen & {"targetservice", "taskdefinition", "loadbalancerinfo"}:
        return "ecs"
    if keys_seen & {"currentversion", "targetversion", "alias"}:
        return "lambda"
    if isinstance(resources, Sequence) and "os" in keys:
        return "ec2"
    return "lambda" if any("lambda" in t.lower() for t in types) else "ecs"
