"""Deployment configurations (AGENT-FACTS §7): the predefined ones and custom minimum healthy hosts.

Everything here decides; nothing does I/O. What the minimum means for the hosts of a deployment (the
order, the rolling window) is scheduling.py's; its names are re-exported here, where the health values
and the window were defined first.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from agent_shim.fleet.scheduling import (  # noqa: F401 - re-exported: the health values and the window
    CURRENT,
    HEALTHY,
    OLD,
    UNHEALTHY,
    UNKNOWN,
    HostHealth,
    RollingWindow,
    Verdict,
    deployment_order,
    simulate,
)

ONE_AT_A_TIME = "CodeDeployDefault.OneAtATime"
HALF_AT_A_TIME = "CodeDeployDefault.HalfAtATime"
ALL_AT_ONCE = "CodeDeployDefault.AllAtOnce"
HOST_COUNT, FLEET_PERCENT = "HOST_COUNT", "FLEET_PERCENT"
MOST_CONCURRENCY = "MOST_CONCURRENCY"  # what GetDeploymentConfig says of OneAtATime; not settable by users


@dataclass(frozen=True)
class MinimumHealthyHosts:
    type: str  # HOST_COUNT, FLEET_PERCENT (or MOST_CONCURRENCY for OneAtATime)
    value: int

    def minimum(self, total: int) -> int:
        """m for a deployment of `total` hosts; a percentage is rounded up, as CodeDeploy does."""
        if self.type == MOST_CONCURRENCY:  # value hosts at a time: all but `value` stay healthy
            return max(total - self.value, 0)
        if self.type == FLEET_PERCENT:
            return -(-self.value * total // 100)
        return self.value

    def describe(self) -> str:
        if self.type == MOST_CONCURRENCY:
            return f"{self.value} at a time"
        return (
            f"{self.value}%" if self.type == FLEET_PERCENT else f"{self.value} host{'s' * (self.value != 1)}"
        )


@dataclass(frozen=True)
class DeploymentConfig:
    name: str  # a predefined name, or HOST_COUNT:3 / FLEET_PERCENT:75 for a custom minimum
    minimum_healthy_hosts: MinimumHealthyHosts

    def minimum(self, total: int) -> int:
        return self.minimum_healthy_hosts.minimum(total)

    def describe(self, total: int) -> str:
        """`CodeDeployDefault.HalfAtATime: at least 5 of 9 hosts healthy, up to 4 at a time`."""
        m = self.minimum(total)
        if m >= total:
            return (
                f"{self.name}: at least {m} of {total} host{'s' * (total != 1)} healthy leaves none to deploy "
                "to: the deployment fails at once"
            )
        window = total - m
        return f"{self.name}: at least {m} of {total} hosts healthy, up to {window} at a time"


PREDEFINED = {
    ONE_AT_A_TIME: DeploymentConfig(ONE_AT_A_TIME, MinimumHealthyHosts(MOST_CONCURRENCY, 1)),
    HALF_AT_A_TIME: DeploymentConfig(HALF_AT_A_TIME, MinimumHealthyHosts(FLEET_PERCENT, 50)),
    ALL_AT_ONCE: DeploymentConfig(ALL_AT_ONCE, MinimumHealthyHosts(HOST_COUNT, 0)),
}


def deployment_config(value: Any) -> DeploymentConfig:
    """A predefined name, `HOST_COUNT:N` / `FLEET_PERCENT:P`, or `{type, value}`; ValueError otherwise."""
    if value is None:
        return PREDEFINED[ONE_AT_A_TIME]
    if isinstance(value, DeploymentConfig):
        return value
    if isinstance(value, Mapping):
        kind, number = value.get("type"), value.get("value")
    elif isinstance(value, str) and value in PREDEFINED:
        return PREDEFINED[value]
    elif isinstance(value, str) and ":" in value:
        kind, _, text = value.partition(":")
        number = int(text) if text.strip().isdigit() else None
    else:
        known = ", ".join(PREDEFINED)
        raise ValueError(
            f"unknown deployment configuration {value!r}: use {known}, HOST_COUNT:N or FLEET_PERCENT:P"
        )
    if kind not in (HOST_COUNT, FLEET_PERCENT) or not isinstance(number, int) or isinstance(number, bool):
        raise ValueError(
            f"minimum healthy hosts {value!r}: type HOST_COUNT or FLEET_PERCENT with a whole number"
        )
    if number < 0 or (kind == FLEET_PERCENT and number > 100):
        limit = "0 to 100" if kind == FLEET_PERCENT else "0 or more"
        raise ValueError(f"minimum healthy hosts {kind} {number}: the value must be {limit}")
    return DeploymentConfig(f"{kind}:{number}", MinimumHealthyHosts(kind, number))
