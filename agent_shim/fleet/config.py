"""Deployment configurations and CodeDeploy's minimum-healthy-hosts scheduling (AGENT-FACTS §7).

Everything here decides; nothing does I/O. `deployment_order` puts the hosts in CodeDeploy's order
(unhealthy first, then unknown, old and current revision) and `RollingWindow` is the rolling window the
controller asks "which hosts may start now?" and "is it over, and how?":

- with H = N − failed − in flight, another host starts only while H − 1 ≥ m;
- if hosts remain, none is in flight and H − 1 < m, the deployment fails and the rest are skipped;
- once every host was attempted, it succeeds iff successes ≥ max(m, 1).

So m ≥ N fails at once, and a failure on the very last host can still succeed (OneAtATime). Hosts that
serve nothing when the deployment starts (`down`: left out of the load balancer by an earlier one) are
not counted in H until they succeed, and starting one costs no capacity: it may start while H ≥ m.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, List, Mapping, Optional, Sequence

from agent_shim.fleet.contracts import FAILED, STOPPED, SUCCEEDED

ONE_AT_A_TIME = "CodeDeployDefault.OneAtATime"
HALF_AT_A_TIME = "CodeDeployDefault.HalfAtATime"
ALL_AT_ONCE = "CodeDeployDefault.AllAtOnce"
HOST_COUNT, FLEET_PERCENT = "HOST_COUNT", "FLEET_PERCENT"
MOST_CONCURRENCY = "MOST_CONCURRENCY"  # what GetDeploymentConfig says of OneAtATime; not settable by users

HEALTHY, UNHEALTHY = "Healthy", "Unhealthy"
CURRENT, OLD, UNKNOWN = "Current", "Old", "Unknown"
_REVISION_RANK = {UNKNOWN: 0, OLD: 1, CURRENT: 2}


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


# Order -------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class HostHealth:
    """CodeDeploy's two health values; a never-deployed host is Unhealthy with an Unknown revision."""

    instance: str = UNHEALTHY
    revision: str = UNKNOWN


def deployment_order(hosts: Sequence[str], health: Mapping[str, HostHealth]) -> List[str]:
    """Unhealthy hosts first, then Unknown, Old and Current revision; the group file's order otherwise."""

    def key(host: str) -> tuple:
        state = health.get(host, HostHealth())
        return (state.instance != UNHEALTHY, _REVISION_RANK.get(state.revision, 0))

    return sorted(hosts, key=key)


# The rolling window ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Verdict:
    status: str  # Succeeded, Failed, Stopped
    message: str


@dataclass
class RollingWindow:
    """The state of one deployment's scheduling. `start_next` says which hosts may start now (and counts
    them in flight), `finished` records a host's end, `stop` ends it early; `verdict` is None until the
    deployment is over. Hosts never started when it is over are `skipped`."""

    hosts: Sequence[str]  # in deployment order
    minimum: int
    down: Sequence[str] = ()  # hosts serving nothing at the start (out of the load balancer)
    pending: List[str] = field(init=False)
    in_flight: List[str] = field(default_factory=list, init=False)
    succeeded: List[str] = field(default_factory=list, init=False)
    failed: List[str] = field(default_factory=list, init=False)
    stopping: bool = field(default=False, init=False)

    def __post_init__(self) -> None:
        if len(set(self.hosts)) != len(self.hosts):
            raise ValueError("a host is listed twice")
        self.pending = list(self.hosts)

    @property
    def total(self) -> int:
        return len(self.hosts)

    @property
    def healthy(self) -> int:
        """H: the hosts serving now, those not started yet (unless down) and those that succeeded; without
        down hosts, the hosts neither failed nor taken offline by this deployment."""
        return sum(1 for h in self.pending if h not in self.down) + len(self.succeeded)

    def may_start(self) -> bool:
        if not self.pending or self.stopping:
            return False
        cost = 0 if self.pending[0] in self.down else 1  # a host that serves nothing costs nothing
        return self.healthy - cost >= self.minimum

    def start_next(self, limit: Optional[int] = None) -> List[str]:
        """The hosts that start now, in order (at most `limit`, e.g. the free SSH slots)."""
        started: List[str] = []
        while self.may_start() and (limit is None or len(started) < limit):
            host = self.pending.pop(0)
            self.in_flight.append(host)
            started.append(host)
        return started

    def finished(self, host: str, succeeded: bool) -> None:
        if host not in self.in_flight:
            raise ValueError(f"{host} is not in flight")
        self.in_flight.remove(host)
        (self.succeeded if succeeded else self.failed).append(host)

    def stop(self) -> None:
        """No host starts any more; the ones in flight finish."""
        self.stopping = True

    @property
    def skipped(self) -> List[str]:
        return list(self.pending) if self.verdict is not None else []

    @property
    def verdict(self) -> Optional[Verdict]:
        if self.in_flight:
            return None
        done, m, n = len(self.succeeded), self.minimum, self.total
        if self.stopping and self.pending:
            return Verdict(
                STOPPED, f"stopped: {done} of {n} hosts succeeded, {len(self.pending)} not attempted"
            )
        if not self.pending:
            need = max(m, 1)
            if done >= need:
                return Verdict(SUCCEEDED, f"{done} of {n} host{'s' * (n != 1)} succeeded")
            return Verdict(
                FAILED,
                f"{done} of {n} host{'s' * (n != 1)} succeeded; at least {need} must (minimum healthy {m})",
            )
        if not self.may_start():
            if not self.failed and not self.succeeded:
                return Verdict(
                    FAILED,
                    f"the minimum of {m} healthy host{'s' * (m != 1)} leaves none of the {n} to deploy to: "
                    "CodeDeploy fails such a deployment at once",
                )
            return Verdict(
                FAILED,
                f"{len(self.failed)} host{'s' * (len(self.failed) != 1)} failed: one more host offline would leave "
                f"fewer than {m} healthy; {len(self.pending)} not attempted",
            )
        return None


def simulate(
    hosts: Sequence[str], minimum: int, limit: Optional[int] = None, down: Sequence[str] = ()
) -> List[List[str]]:
    """The batches of a deployment in which every host succeeds and the hosts of a batch end together:
    what `appspec fleet plan` shows."""
    window = RollingWindow(hosts, minimum, down)
    batches: List[List[str]] = []
    while window.verdict is None:
        batch = window.start_next(limit)
        if not batch:
            break
        batches.append(batch)
        for host in batch:
            window.finished(host, True)
    return batches
