"""CodeDeploy's scheduling of a deployment's hosts (AGENT-FACTS §7): the order and the rolling window.

Everything here decides; nothing does I/O. `schedule` is the one place that turns a deployment's targets
into what runs when: the hosts in CodeDeploy's order (unhealthy first, then unknown, old and current
revision; hosts serving nothing first of all) and the minimum healthy hosts that bounds the rolling window:

- with H = N − failed − in flight, another host starts only while H − 1 ≥ m;
- if hosts remain, none is in flight and H − 1 < m, the deployment fails and the rest are skipped;
- once every host was attempted, it succeeds iff successes ≥ max(m, 1).

So m ≥ N fails at once, and a failure on the very last host can still succeed (OneAtATime). Hosts that
serve nothing when the deployment starts (`down`: left out of the load balancer by an earlier one) are
not counted in H until they succeed, and starting one costs no capacity: it may start while H ≥ m.
Hosts of the group outside the deployment (a rollback's or a sync's) count as healthy.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import FrozenSet, List, Mapping, Optional, Protocol, Sequence, Tuple

from agent_shim.fleet.contracts import FAILED, STOPPED, SUCCEEDED

HEALTHY, UNHEALTHY = "Healthy", "Unhealthy"
CURRENT, OLD, UNKNOWN = "Current", "Old", "Unknown"
_REVISION_RANK = {UNKNOWN: 0, OLD: 1, CURRENT: 2}


class MinimumRule(Protocol):
    """What scheduling needs of a deployment configuration (`config.DeploymentConfig`)."""

    def minimum(self, total: int) -> int: ...


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

    _down: FrozenSet[str] = field(default=frozenset(), init=False, repr=False)
    _pending_serving: int = field(default=0, init=False, repr=False)  # pending hosts not down: O(1) H

    def __post_init__(self) -> None:
        if len(set(self.hosts)) != len(self.hosts):
            raise ValueError("a host is listed twice")
        self.pending = list(self.hosts)
        self._down = frozenset(self.down)
        self._pending_serving = sum(1 for h in self.pending if h not in self._down)

    @property
    def total(self) -> int:
        return len(self.hosts)

    @property
    def healthy(self) -> int:
        """H: the hosts serving now, those not started yet (unless down) and those that succeeded; without
        down hosts, the hosts neither failed nor taken offline by this deployment."""
        return self._pending_serving + len(self.succeeded)

    def may_start(self) -> bool:
        if not self.pending or self.stopping:
            return False
        cost = 0 if self.pending[0] in self._down else 1  # a host that serves nothing costs nothing
        return self.healthy - cost >= self.minimum

    def start_next(self, limit: Optional[int] = None) -> List[str]:
        """The hosts that start now, in order (at most `limit`, e.g. the free SSH slots)."""
        started: List[str] = []
        while self.may_start() and (limit is None or len(started) < limit):
            host = self.pending.pop(0)
            self._pending_serving -= host not in self._down
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


def serving_order(order: Sequence[str], down: Sequence[str]) -> List[str]:
    """`order` with the hosts that serve nothing first (deploying them costs no capacity), stable."""
    first = [h for h in order if h in down]
    return first + [h for h in order if h not in down]


@dataclass(frozen=True)
class Schedule:
    """A deployment's hosts in the order they may start, its minimum healthy hosts and the hosts that
    serve nothing at its start; `window()` is the rolling window that decides, run after run."""

    order: Tuple[str, ...]
    minimum: int
    down: Tuple[str, ...] = ()

    def window(self) -> RollingWindow:
        return RollingWindow(list(self.order), self.minimum, self.down)

    def first_window(self, limit: int) -> int:
        """How many hosts start at once (at most `limit`) when every host is healthy."""
        return max(0, min(limit, len(self.order) - self.minimum))

    def batches(self, limit: Optional[int] = None) -> List[List[str]]:
        """The batches if every host succeeds: what `appspec fleet plan` shows."""
        return simulate(self.order, self.minimum, limit, self.down)


def schedule(
    targets: Sequence[str],
    health: Mapping[str, HostHealth],
    config: MinimumRule,
    group_size: int,
    down: Sequence[str] = (),
) -> Schedule:
    """The one scheduling rule: `targets` in CodeDeploy's order, the hosts in `down` first, with the
    group's minimum m over `group_size` hosts; the group's hosts left out count as healthy, so the
    deployment's own minimum is m' = max(0, m − untouched)."""
    untouched = group_size - len(targets)
    minimum = max(0, config.minimum(group_size) - untouched)
    order = serving_order(deployment_order(targets, health), down)
    return Schedule(tuple(order), minimum, tuple(h for h in order if h in down))
