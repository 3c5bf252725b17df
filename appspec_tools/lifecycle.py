"""CodeDeploy's lifecycle vocabulary per compute platform (user guide, hooks reference)."""

from __future__ import annotations

from typing import Dict, Tuple

PLATFORMS = ("ec2", "ecs", "lambda")
PLATFORM_NAMES = {"ec2": "EC2/On-Premises", "ecs": "Amazon ECS", "lambda": "AWS Lambda"}

# In-place order with a load balancer; without one the six traffic events are left out.
EC2_ORDER: Tuple[str, ...] = (
    "BeforeBlockTraffic",
    "BlockTraffic",
    "AfterBlockTraffic",
    "ApplicationStop",
    "DownloadBundle",
    "BeforeInstall",
    "Install",
    "AfterInstall",
    "ApplicationStart",
    "ValidateService",
    "BeforeAllowTraffic",
    "AllowTraffic",
    "AfterAllowTraffic",
)
EC2_RESERVED = frozenset({"Start", "DownloadBundle", "Install", "BlockTraffic", "AllowTraffic", "End"})
EC2_SCRIPTABLE: Tuple[str, ...] = tuple(e for e in EC2_ORDER if e not in EC2_RESERVED)
EC2_TRAFFIC = frozenset(
    {
        "BeforeBlockTraffic",
        "BlockTraffic",
        "AfterBlockTraffic",
        "BeforeAllowTraffic",
        "AllowTraffic",
        "AfterAllowTraffic",
    }
)
# Events whose scripts come from the last successfully installed revision.
EC2_FROM_LAST_INSTALL = frozenset({"ApplicationStop", "BeforeBlockTraffic", "AfterBlockTraffic"})

ECS_ORDER: Tuple[str, ...] = (
    "BeforeInstall",
    "Install",
    "AfterInstall",
    "AllowTestTraffic",
    "AfterAllowTestTraffic",
    "BeforeAllowTraffic",
    "AllowTraffic",
    "AfterAllowTraffic",
)
ECS_RESERVED = frozenset({"Start", "Install", "AllowTestTraffic", "TestTraffic", "AllowTraffic", "End"})
ECS_SCRIPTABLE = tuple(e for e in ECS_ORDER if e not in ECS_RESERVED)

LAMBDA_ORDER: Tuple[str, ...] = ("BeforeAllowTraffic", "AllowTraffic", "AfterAllowTraffic")
LAMBDA_RESERVED = frozenset({"Start", "AllowTraffic", "End"})
LAMBDA_SCRIPTABLE = tuple(e for e in LAMBDA_ORDER if e not in LAMBDA_RESERVED)

SCRIPTABLE: Dict[str, Tuple[str, ...]] = {
    "ec2": EC2_SCRIPTABLE,
    "ecs": ECS_SCRIPTABLE,
    "lambda": LAMBDA_SCRIPTABLE,
}
RESERVED = {"ec2": EC2_RESERVED, "ecs": ECS_RESERVED, "lambda": LAMBDA_RESERVED}

MAX_EVENT_SECONDS = 3600
DEFAULT_SCRIPT_TIMEOUT = 3600
